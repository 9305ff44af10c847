"""A task's input adapter (stem) and classifier (head), as Keras layers.

Their normalisation is not inside them: it belongs to the task's
:class:`compose.core.normalization.TaskNormalization` (sites ``stem`` and
``head``), so every statistic of a task is re-estimated by one pass.
"""

import keras
import numpy as np
import tensorflow as tf

from compose.errors import InvalidInputError

HEADS = ("linear", "grid", "paper")
GRID_CELLS = 2
"""The ``grid`` head pools over ``GRID_CELLS x GRID_CELLS`` cells besides globally."""
PRECISIONS = ("float32", "bfloat16")
"""Compute precision: variables and normalisation statistics stay float32
either way; ``bfloat16`` computes convolutions and dense layers in bfloat16
(Keras' ``mixed_bfloat16`` policy), the natural choice on TPU and on CPUs
with bfloat16 instructions.  It reaches the layers as their Keras dtype
policy (:func:`compute_policy`)."""


def compute_policy(precision):
    """The Keras dtype policy of ``precision``: the ``dtype`` of every layer
    that computes in it (stems, heads' hidden layers, the bank's kernels)."""
    if precision not in PRECISIONS:
        raise InvalidInputError(
            f"unknown precision {precision!r}; choose one of: {', '.join(PRECISIONS)}"
        )
    return "mixed_bfloat16" if precision == "bfloat16" else "float32"


@keras.saving.register_keras_serializable(package="compose")
class Stem(keras.layers.Layer):
    """Raw uint8 images of any size to ``[resolution, resolution, channels]``
    (before the task's ``stem`` normalisation and ReLU).

    Images are scaled to [0, 1], resized to twice the bank's resolution and
    reduced by a strided 3x3 convolution, as in the isometric networks of the
    paper (a strided stem into 16x16xC).

    Args:
      channels, resolution: the bank's width and feature-map size.
      seed: the convolution's initialiser seed.
      dtype: the dtype policy the convolution computes in
        (:func:`compute_policy`); scaling and resizing stay float32.
    """

    def __init__(self, channels, resolution, seed=0, **kwargs):
        super().__init__(**kwargs)
        self.channels = channels
        self.resolution = resolution
        self.seed = seed
        self.rescale = keras.layers.Rescaling(1.0 / 255, dtype="float32", name="rescale")
        self.resize = keras.layers.Resizing(
            2 * resolution, 2 * resolution, dtype="float32", name="resize"
        )
        self.conv = keras.layers.Conv2D(
            channels,
            3,
            strides=2,
            padding="same",
            use_bias=False,
            kernel_initializer=keras.initializers.GlorotUniform(seed=seed),
            dtype=self.dtype_policy,
            name="conv",
        )

    def build(self, input_shape):
        self.conv.build((None, 2 * self.resolution, 2 * self.resolution, input_shape[-1]))
        self.built = True

    def call(self, images):
        return self.conv(self.resize(self.rescale(images)))

    def get_config(self):
        config = super().get_config()
        config.update(channels=self.channels, resolution=self.resolution, seed=self.seed)
        return config


def pooled_features(features, grid=1):
    """``[N, H, W, C]`` -> ``[N, C]`` global means, plus ``[N, grid*grid*C]``
    means over a ``grid x grid`` of cells when ``grid > 1``."""
    pooled = [tf.reduce_mean(features, axis=[1, 2])]
    if grid > 1:
        rows = area_weights(features.shape[1], grid)
        columns = area_weights(features.shape[2], grid)
        cells = tf.einsum("nhwc,ih,jw->nijc", features, rows, columns)
        pooled.append(tf.reshape(cells, [tf.shape(cells)[0], -1]))
    return tf.concat(pooled, axis=-1)


def area_weights(size, cells):
    """``[cells, size]``: the share of each of ``size`` pixels in each of
    ``cells`` equal cells, over the cell's area (rows sum to 1).  As a matrix
    product it is area resizing, with a gradient (TF's ``ResizeArea`` has none)."""
    edges = np.linspace(0.0, size, cells + 1)
    pixels = np.arange(size)
    overlap = np.clip(
        np.minimum(edges[1:, None], pixels[None, :] + 1) - np.maximum(edges[:-1, None], pixels),
        0.0,
        None,
    )
    return tf.constant(overlap / (size / cells), tf.float32)


@keras.saving.register_keras_serializable(package="compose")
class Head(keras.layers.Layer):
    """Normalised, rectified bank features ``[B, H, W, C]`` to class logits.

    ``linear``: global average pooling, then a dense layer.  ``grid``: the
    global average and the averages of a 2x2 grid of cells (5C features, what
    the closed-form program score reads: :mod:`compose.search.closed_form`),
    then a dense layer; where a feature sits stays visible to the classifier,
    so a program is judged and then served on the same features.  ``paper``: the
    authors' head, a 1x1 convolution to 128 with ReLU, pooling, a dense layer
    of 256 with ReLU, dropout 0.2, then the dense classifier.

    A call returns ``(features, logits)``: the features ``[B, F]`` are what
    the classifier reads (the late features that domain adaptation compares).

    Args:
      num_classes: outputs.
      kind: one of :data:`HEADS`.
      seed: initialisers' and dropout's seed.
      dtype: the dtype policy the hidden layers compute in
        (:func:`compute_policy`); features and logits are float32.
    """

    def __init__(self, num_classes, kind="linear", seed=0, **kwargs):
        super().__init__(**kwargs)
        if kind not in HEADS:
            raise InvalidInputError(f"unknown head {kind!r}; choose one of: {', '.join(HEADS)}")
        self.num_classes = num_classes
        self.kind = kind
        self.seed = seed
        policy = self.dtype_policy

        def init(offset):
            return keras.initializers.GlorotUniform(seed=seed + offset)

        self.hidden = []
        if kind == "paper":
            self.hidden = [
                keras.layers.Dense(
                    width, "relu", kernel_initializer=init(i + 1), dtype=policy, name=name
                )
                for i, (width, name) in enumerate(((128, "mix"), (256, "fc")))
            ]
        self.dropout = 0.2 if kind == "paper" else 0.0
        self.logits = keras.layers.Dense(
            num_classes, kernel_initializer=init(0), dtype="float32", name="logits"
        )

    def build(self, input_shape):
        width = input_shape[-1] * (1 + GRID_CELLS**2 if self.kind == "grid" else 1)
        for layer in self.hidden:
            layer.build((None, width))
            width = layer.units
        self.logits.build((None, width))
        self.built = True

    def call(self, x, training=False, sample_step=None):
        """``(features, logits)`` of bank features ``x``.  Dropout (paper head)
        runs only in training with a ``sample_step``, seeded by it."""
        if self.kind == "paper":
            x = self.hidden[0](x)  # a 1x1 convolution: the dense layer on the channel axis
        x = pooled_features(tf.cast(x, tf.float32), GRID_CELLS if self.kind == "grid" else 1)
        for layer in self.hidden[1:]:
            x = layer(x)
        if self.dropout and training and sample_step is not None:
            seed = tf.stack([tf.constant(self.seed, tf.int64), tf.cast(sample_step, tf.int64)])
            x = tf.nn.experimental.stateless_dropout(x, self.dropout, seed=seed)
        features = tf.cast(x, tf.float32)
        return features, self.logits(features)

    def get_config(self):
        config = super().get_config()
        config.update(num_classes=self.num_classes, kind=self.kind, seed=self.seed)
        return config
