"""The baseline for the bank's overhead: one task's program hard-wired as plain
Keras layers (Conv2D, DepthwiseConv2D, BatchNormalization), no bank, no mixing.

``copy_from_composed`` loads a composed task's weights into it, which is how the
tests prove that the bank computes exactly these blocks.
"""

import keras
import numpy as np

from compose.core.normalization import BN_MOMENTUM, EPSILON


def _bn(name=None):
    return keras.layers.BatchNormalization(momentum=BN_MOMENTUM, epsilon=EPSILON, name=name)


def _layers(block, channels, expansion=6):
    """The family's residual branch as Keras layers, in the family's site order."""
    if block == "inverted_bottleneck":
        hidden = channels * expansion
        return [
            keras.layers.Conv2D(hidden, 1, use_bias=False),
            _bn(),
            keras.layers.ReLU(),
            keras.layers.DepthwiseConv2D(3, padding="same", use_bias=False),
            _bn(),
            keras.layers.ReLU(),
            keras.layers.Conv2D(channels, 1, use_bias=False),
            _bn(),
        ]
    if block == "basic_residual":
        return [
            _bn(),
            keras.layers.ReLU(),
            keras.layers.Conv2D(channels, 3, padding="same", use_bias=False),
            _bn(),
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
    x = keras.layers.Rescaling(1.0 / 255)(inputs)
    x = keras.layers.Resizing(2 * resolution, 2 * resolution)(x)
    x = keras.layers.Conv2D(
        channels, 3, strides=2, padding="same", use_bias=False, name="stem_conv"
    )(x)
    x = keras.layers.ReLU()(_bn("stem_norm")(x))
    for layer in range(depth):
        x = StaticResidual(block, channels, name=f"block_{layer}")(x)
    x = keras.layers.ReLU()(_bn("head_norm")(x))
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(spec.num_classes, name="head_logits")(x)
    return keras.Model(inputs, outputs)


def copy_from_composed(static, composed, task):
    """Loads ``task``'s stem, head, program blocks and normalisation into ``static``."""
    path = composed.path(task)
    norm = path.norm

    def statistics(site, row, block=None):
        if site in composed.bank.gamma:  # block placement: the block's scale and offset
            scale = [np.asarray(composed.bank.gamma[site])[block]]
            scale.append(np.asarray(composed.bank.beta[site])[block])
        else:
            scale = [np.asarray(norm.gamma[site])[row], np.asarray(norm.beta[site])[row]]
        moving = [
            np.asarray(norm.moving_mean[site])[row],
            np.asarray(norm.moving_variance[site])[row],
        ]
        return scale + moving

    static.get_layer("stem_conv").set_weights(path.stem.conv.get_weights())
    static.get_layer("stem_norm").set_weights(statistics("stem", 0))
    static.get_layer("head_norm").set_weights(statistics("head", 0))
    static.get_layer("head_logits").set_weights(path.head.logits.get_weights())
    kernels = composed.bank.kernels
    for layer, index in enumerate(composed.program(task)):
        block = static.get_layer(f"block_{layer}")
        convs = [
            part
            for part in block.branch
            if isinstance(part, keras.layers.Conv2D | keras.layers.DepthwiseConv2D)
        ]
        for conv, kernel in zip(convs, kernels, strict=True):
            conv.set_weights([np.asarray(kernel)[index]])
        norms = [part for part in block.branch if isinstance(part, keras.layers.BatchNormalization)]
        for part, site in zip(norms, composed.bank.norm_sites, strict=True):
            part.set_weights(statistics(site, layer, index))
