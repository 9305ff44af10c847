"""Convolutions that act per group of channels, for tasks stacked on channels.

``conv`` treats ``x`` as T groups of the kernel's input channels (T tasks
stacked, each with its own kernel concatenated along the output axis);
``depthwise`` is per channel by nature.  With one task both are the ordinary
convolutions.

TF's grouped convolution has no gradient on CPUs where its oneDNN kernels are
off (TF turns them on only for CPUs with AVX-512 VNNI/bf16 or AMX; on an AVX2
Zen-2: "Gradients for grouped convolutions are not supported on CPU"), so a
grouped 1x1 convolution runs as one batched matmul ``[T, N, C] @ [T, C, D]``,
and a larger grouped kernel as one convolution per group.  ``tf.nn`` rather
than ``keras.ops.conv``, which took a much slower path for grouped
convolutions (measured 6x at 16x16x240).
"""

import tensorflow as tf


def conv(x, kernel):
    """``[B, H, W, T*C] * [k, k, C, T*D] -> [B, H, W, T*D]``, same padding, stride 1."""
    groups = x.shape[-1] // kernel.shape[2]
    if groups == 1:
        return tf.nn.conv2d(x, kernel, strides=1, padding="SAME")
    if kernel.shape[0] == kernel.shape[1] == 1:
        return _grouped_pointwise(x, kernel, groups)
    return tf.concat(
        [
            tf.nn.conv2d(part, kernel_part, strides=1, padding="SAME")
            for part, kernel_part in zip(
                tf.split(x, groups, axis=-1), tf.split(kernel, groups, axis=-1), strict=True
            )
        ],
        axis=-1,
    )


def _grouped_pointwise(x, kernel, groups):
    """A grouped 1x1 convolution as ``einsum('ntc,tcd->ntd')`` over the pixels."""
    shape = tf.shape(x)
    channels, outputs = kernel.shape[2], kernel.shape[3] // groups
    pixels = tf.reshape(x, [-1, groups, channels])
    weights = tf.transpose(tf.reshape(kernel, [channels, groups, outputs]), [1, 0, 2])
    mixed = tf.einsum("ntc,tcd->ntd", pixels, weights)
    return tf.reshape(mixed, tf.concat([shape[:-1], [groups * outputs]], axis=0))


def depthwise(x, kernel):
    """``[B, H, W, D] * [k, k, D, 1] -> [B, H, W, D]``, same padding, stride 1."""
    return tf.nn.depthwise_conv2d(x, kernel, strides=[1, 1, 1, 1], padding="SAME")
