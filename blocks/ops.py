"""Convolutions that act per group of channels, for tasks stacked on channels.

``conv`` runs a grouped convolution whenever ``x`` has a multiple of the
kernel's input channels (T tasks stacked, each with its own kernel
concatenated along the output axis); ``depthwise`` is per channel by nature.
With one task both are the ordinary convolutions.  TF's CPU kernels (oneDNN)
run grouped convolutions natively; ``keras.ops.conv`` takes a much slower path
for them (measured 6x at 16x16x240), hence ``tf.nn`` here.
"""

import tensorflow as tf


def conv(x, kernel):
    """``[B, H, W, T*C] * [k, k, C, T*D] -> [B, H, W, T*D]``, same padding, stride 1."""
    return tf.nn.conv2d(x, kernel, strides=1, padding="SAME")


def depthwise(x, kernel):
    """``[B, H, W, D] * [k, k, D, 1] -> [B, H, W, D]``, same padding, stride 1."""
    return tf.nn.depthwise_conv2d(x, kernel, strides=[1, 1, 1, 1], padding="SAME")
