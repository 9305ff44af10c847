"""Per-task normalisation of every bank layer.

The Compositional Models paper keeps batch-norm moving statistics per task: a
block shared by tasks with different input statistics must not average them.
Here each task also owns the scale and offset, so a task can re-normalise a
frozen bank (the "program + normalisation" transfer mode).  Batch moments are
synchronised across replicas, so distributed training and the exported model
agree.
"""

import keras
import tensorflow as tf
from keras import ops

BN_MOMENTUM = 0.9
"""Moving-statistics momentum of every normalisation layer.  Keras's 0.99 lags
badly in the short runs this project makes on CPUs (hundreds of steps)."""


def fused_batch_norm(h, scale, offset, epsilon):
    """``[B, H, W, C]`` normalised by its own per-channel moments, then scaled."""
    y, _, _ = tf.compat.v1.nn.fused_batch_norm(
        h, scale, offset, epsilon=epsilon, data_format="NHWC", is_training=True
    )
    return y


@keras.saving.register_keras_serializable(package="compose")
class TaskNormalization(keras.layers.Layer):
    """Batch normalisation for one task: weights ``[L, channels]`` per site.

    Args:
      sites: normalisation sites of the block family, name -> channels.
      depth: L, the model's maximum program length.
      momentum: of the moving statistics.
      epsilon: added to the variance.
    """

    def __init__(self, sites, depth, momentum=BN_MOMENTUM, epsilon=1e-3, **kwargs):
        super().__init__(**kwargs)
        self.sites = dict(sites)
        self.depth = depth
        self.momentum = momentum
        self.epsilon = epsilon

    def build(self, input_shape=None):
        def weight(site, kind, initializer, trainable):
            return self.add_weight(
                name=f"{site}_{kind}",
                shape=(self.depth, self.sites[site]),
                initializer=initializer,
                trainable=trainable,
                aggregation="none" if trainable else "mean",
            )

        self.gamma = {s: weight(s, "gamma", "ones", True) for s in self.sites}
        self.beta = {s: weight(s, "beta", "zeros", True) for s in self.sites}
        self.moving_mean = {s: weight(s, "moving_mean", "zeros", False) for s in self.sites}
        self.moving_variance = {s: weight(s, "moving_variance", "ones", False) for s in self.sites}
        self.built = True

    def normalize(self, site, layer, h, training, batch_moments):
        """Normalises ``h`` at ``site`` of ``layer``.

        In training, batch moments are used and recorded in ``batch_moments``
        (keyed ``(site, layer)``) for :meth:`update_moving_statistics`.
        """
        if training:
            mean, variance = ops.moments(h, axes=[0, 1, 2], synchronized=True)
            batch_moments[site, layer] = (mean, variance)
        else:
            mean = self.moving_mean[site][layer]
            variance = self.moving_variance[site][layer]
        return ops.batch_normalization(
            h,
            mean,
            variance,
            axis=-1,
            offset=self.beta[site][layer],
            scale=self.gamma[site][layer],
            epsilon=self.epsilon,
        )

    def normalize_with_own_moments(self, site, layer, h):
        """Normalises ``h`` by its own moments, changing no state.

        For scoring a program the moving statistics do not describe (see
        :mod:`compose.search.scoring`).  One fused kernel: several times
        cheaper on CPU than separate moments and normalisation.
        """
        return fused_batch_norm(h, self.gamma[site][layer], self.beta[site][layer], self.epsilon)

    def update_moving_statistics(self, batch_moments, active):
        """Folds one step's batch moments into the moving statistics.

        Layers the program does not run (``active == 0``) keep their statistics.
        """
        keep = ops.expand_dims(1.0 - active, -1) + ops.expand_dims(active, -1) * self.momentum
        for site in self.sites:
            means, variances = zip(
                *(batch_moments[site, layer] for layer in range(self.depth)), strict=True
            )
            for moving, batch in (
                (self.moving_mean[site], ops.stack(means)),
                (self.moving_variance[site], ops.stack(variances)),
            ):
                moving.assign(keep * moving + (1.0 - keep) * batch)

    def get_config(self):
        config = super().get_config()
        config.update(
            sites=self.sites, depth=self.depth, momentum=self.momentum, epsilon=self.epsilon
        )
        return config
