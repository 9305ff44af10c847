"""Convolutions that act per group of channels, for tasks stacked on channels.

``conv`` treats ``x`` as T groups of the kernel's input channels (T tasks
stacked, each with its own kernel concatenated along the output axis);
``depthwise`` is per channel by nature.  With one task both are the ordinary
convolutions.

TF's grouped convolution has no gradient on CPUs where its oneDNN kernels are
off (TF turns them on only for CPUs with AVX-512 VNNI/bf16 or AMX; on an AVX2
Zen-2: "Gradients for grouped convolutions are not supported on CPU"), so a
grouped convolution runs as one convolution per group.  Not as one batched
matmul for 1x1 kernels: ``einsum('ntc,tcd->ntd')`` and a transposed
``[T, N, C] @ [T, C, D]`` both move the pixels to put the task axis first
(``python -m benchmarks.grouped_conv``: the einsum took 1.9-2.4x this form's
time on a 2-core Zen-2).  One *matmul* per group was faster still in that
benchmark (0.39-0.64x), but not shown faster in whole training steps, which
were measured in separate runs on a noisy machine (docs/performance.md); one
convolution per group keeps a single code path with the one-task case.
``tf.nn`` rather than ``keras.ops.conv``, which took a much slower path for
grouped convolutions (measured 6x at 16x16x240).
"""

import tensorflow as tf


def conv(x, kernel):
    """``[B, H, W, T*C] * [k, k, C, T*D] -> [B, H, W, T*D]``, same padding, stride 1."""
    groups = x.shape[-1] // kernel.shape[2]
    if groups == 1:
        return tf.nn.conv2d(x, kernel, strides=1, padding="SAME")
    return tf.concat(
        [
            tf.nn.conv2d(part, kernel_part, strides=1, padding="SAME")
            for part, kernel_part in zip(
                tf.split(x, groups, axis=-1), tf.split(kernel, groups, axis=-1), strict=True
            )
        ],
        axis=-1,
    )


def depthwise(x, kernel):
    """``[B, H, W, D] * [k, k, D, 1] -> [B, H, W, D]``, same padding, stride 1."""
    return tf.nn.depthwise_conv2d(x, kernel, strides=[1, 1, 1, 1], padding="SAME")
