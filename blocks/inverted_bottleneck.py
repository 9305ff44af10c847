"""MobileNetV2 inverted bottleneck, the block of the Compositional Models paper."""

import tensorflow as tf

from blocks import ops
from blocks.base import BlockFamily, ParamSpec


class InvertedBottleneck(BlockFamily):
    """1x1 expand (x6), BN, ReLU; 3x3 depthwise, BN, ReLU; 1x1 project, BN.

    The bank adds the result to the input with no activation after the add,
    as in MobileNetV2 and the authors' isometric network.
    """

    name = "inverted_bottleneck"

    def __init__(self, expansion: int = 6):
        self.expansion = expansion

    def param_specs(self, channels):
        hidden = channels * self.expansion
        return {
            "expand": ParamSpec((1, 1, channels, hidden), fan_in=channels),
            "depthwise": ParamSpec((3, 3, hidden, 1), fan_in=9, stack_axis=-2),
            "project": ParamSpec((1, 1, hidden, channels), fan_in=hidden),
        }

    def norm_sites(self, channels):
        hidden = channels * self.expansion
        return {"expand": hidden, "depthwise": hidden, "project": channels}

    def apply(self, x, params, normalize):
        h = tf.nn.relu(normalize("expand", ops.conv(x, params["expand"])))
        h = tf.nn.relu(normalize("depthwise", ops.depthwise(h, params["depthwise"])))
        return normalize("project", ops.conv(h, params["project"]))
