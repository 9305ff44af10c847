"""Two 3x3 convolutions, pre-activation (ResNet v2) ordering."""

import tensorflow as tf

from blocks import ops
from blocks.base import BlockFamily, ParamSpec


class BasicResidual(BlockFamily):
    """BN, ReLU, 3x3 conv; BN, ReLU, 3x3 conv.

    Pre-activation keeps the identity path clean: a layer the program leaves
    unused is exactly the identity, which post-activation ordering (a ReLU
    after the add) would break.
    """

    name = "basic_residual"

    def param_specs(self, channels):
        spec = ParamSpec((3, 3, channels, channels), fan_in=9 * channels)
        return {"conv1": spec, "conv2": spec}

    def norm_sites(self, channels):
        return {"conv1": channels, "conv2": channels}

    def apply(self, x, params, normalize):
        h = ops.conv(tf.nn.relu(normalize("conv1", x)), params["conv1"])
        return ops.conv(tf.nn.relu(normalize("conv2", h)), params["conv2"])
