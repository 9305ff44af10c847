"""The baseline for the bank's overhead: one task's program hard-wired as plain
Keras layers (Conv2D, DepthwiseConv2D, BatchNormalization), no bank, no mixing.

``copy_from_composed`` loads a composed task's weights into it, which is how the
tests prove that the bank computes exactly these blocks.
"""

import keras
from keras import ops

from compose.normalization import BN_MOMENTUM
from compose.task_path import build_head, build_stem


def _layers(block, channels, expansion=6):
    """The family's residual branch as Keras layers, in the family's site order."""

    def bn(**kwargs):
        return keras.layers.BatchNormalization(momentum=BN_MOMENTUM, **kwargs)

    if block == "inverted_bottleneck":
        hidden = channels * expansion
        return [
            keras.layers.Conv2D(hidden, 1, use_bias=False),
            bn(epsilon=1e-3),
            keras.layers.ReLU(),
            keras.layers.DepthwiseConv2D(3, padding="same", use_bias=False),
            bn(epsilon=1e-3),
            keras.layers.ReLU(),
            keras.layers.Conv2D(channels, 1, use_bias=False),
            bn(epsilon=1e-3),
        ]
    if block == "basic_residual":
        return [
            bn(epsilon=1e-3),
            keras.layers.ReLU(),
            keras.layers.Conv2D(channels, 3, padding="same", use_bias=False),
            bn(epsilon=1e-3),
            keras.layers.ReLU(),
            keras.layers.Conv2D(channels, 3, padding="same", use_bias=False),
        ]
    raise LookupError(f"no hard-wired form of block family {block!r}")


class StaticResidual(keras.layers.Layer):
    """``x + branch(x)`` with the branch as ordinary Keras layers."""

    def __init__(self, block, channels, **kwargs):
        super().__init__(**kwargs)
        self.branch = _layers(block, channels)

    def build(self, input_shape):
        shape = input_shape
        for layer in self.branch:
            layer.build(shape)
            shape = layer.compute_output_shape(shape)

    def call(self, x, training=False):
        h = x
        for layer in self.branch:
            h = layer(h, training=training)
        return x + h


def build_static_model(spec, block, depth, channels, resolution):
    """A plain Keras model: stem, ``depth`` hard-wired blocks, head."""
    inputs = keras.Input(spec.image_shape, dtype="uint8")
    x = build_stem(channels, resolution, name="stem")(inputs)
    for layer in range(depth):
        x = StaticResidual(block, channels, name=f"block_{layer}")(x)
    outputs = build_head(spec.num_classes, name="head")(x)
    return keras.Model(inputs, outputs)


def copy_from_composed(static, composed, task):
    """Loads ``task``'s stem, head, program blocks and normalisation into ``static``."""
    path = composed.path(task)
    static.get_layer("stem").set_weights(path.stem.get_weights())
    static.get_layer("head").set_weights(path.head.get_weights())
    kernels = composed.bank.kernels
    for layer, index in enumerate(composed.program(task)):
        block = static.get_layer(f"block_{layer}")
        convs = [
            part
            for part in block.branch
            if isinstance(part, keras.layers.Conv2D | keras.layers.DepthwiseConv2D)
        ]
        for conv, kernel in zip(convs, kernels, strict=True):
            conv.set_weights([ops.convert_to_numpy(kernel[index])])
        norms = [part for part in block.branch if isinstance(part, keras.layers.BatchNormalization)]
        for norm, site in zip(norms, path.norm.sites, strict=True):
            norm.set_weights(
                [
                    ops.convert_to_numpy(w[site][layer])
                    for w in (
                        path.norm.gamma,
                        path.norm.beta,
                        path.norm.moving_mean,
                        path.norm.moving_variance,
                    )
                ]
            )
