"""Batch normalisation with per-task statistics.

A block shared by tasks with different input statistics must not average
them: the Compositional Models paper keeps batch-norm moving statistics per
task, and a hard-shared trunk with shared statistics scored MNIST 64.4 against
97.0 with per-task ones (../shared/DESIGN.md §6).  So every task owns the
moving statistics of every normalisation it runs (:class:`TaskNormalization`).

Where the *scale and offset* live is a model option (:data:`PLACEMENTS`):

``task_layer``
  each task owns them at each bank layer: they absorb what the task needs,
  and stay with the layer when the program moves a block.
``block``
  each bank block owns them (the authors' design), so they travel with the
  block; a task keeps only moving statistics per layer, re-estimated from its
  unlabelled images whenever its program changes
  (:func:`compose.core.statistics.refresh_statistics`).

The stem's and the head's normalisation always belong to the task.
"""

import keras
import tensorflow as tf

BN_MOMENTUM = 0.9
"""Moving-statistics momentum.  Keras's 0.99 lags badly in the short runs this
project makes on CPUs (hundreds of steps)."""
EPSILON = 1e-3
PLACEMENTS = ("task_layer", "block")


def batch_normalize(h, scale, offset):
    """Training-mode normalisation of ``h`` ``[B, H, W, D]`` by its per-channel moments.

    Returns ``(y, mean, variance)`` with the variance ``y`` was normalised by
    (the biased one, as Keras keeps), so moving statistics refreshed from a
    batch reproduce that batch's normalisation exactly.  Under several
    replicas the moments are synchronised (so distributed training and the
    exported model agree); with one, TF's fused kernel does it all in one op,
    several times faster than separate moments and normalisation on CPU.
    ``h`` may be bfloat16; scale, offset and moments are float32.
    """
    context = tf.distribute.get_replica_context()
    replicas = context.num_replicas_in_sync if context is not None else 1
    if replicas == 1:
        y, mean, unbiased = tf.compat.v1.nn.fused_batch_norm(
            h, scale, offset, epsilon=EPSILON, data_format="NHWC", is_training=True
        )
        count = tf.cast(tf.size(h) // tf.shape(h)[-1], tf.float32)
        return y, mean, unbiased * (count - 1.0) / count
    wide = tf.cast(h, tf.float32)
    mean, variance = keras.ops.moments(wide, axes=[0, 1, 2], synchronized=True)
    y = tf.nn.batch_normalization(wide, mean, variance, offset, scale, EPSILON)
    return tf.cast(y, h.dtype), mean, variance


def normalize_with(h, mean, variance, scale, offset):
    """Inference-mode normalisation of ``h`` with given (moving) statistics (one fused op)."""
    y, _, _ = tf.compat.v1.nn.fused_batch_norm(
        h,
        scale,
        offset,
        mean=mean,
        variance=variance,
        epsilon=EPSILON,
        data_format="NHWC",
        is_training=False,
    )
    return y


@keras.saving.register_keras_serializable(package="compose")
class TaskNormalization(keras.layers.Layer):
    """One task's normalisation state: per site, ``rows`` rows of statistics.

    A site is a place where the task's features are normalised: ``stem`` and
    ``head`` (one row each) and every site of the block family (one row per
    bank layer).  Each site has moving mean and variance ``[rows, channels]``;
    the sites in ``scaled`` also own a scale and offset of that shape.

    A call normalises the task's features at one row of one site; the
    forward pass folds the batch moments it returns into the moving
    statistics once per pass (:meth:`update`).  Its state is float32 and
    its input keeps its dtype (bfloat16 features are normalised as such).

    Args:
      sites: ``{site: (rows, channels)}``.
      scaled: the sites whose scale and offset the task owns.
      momentum: of the moving statistics.
    """

    def __init__(self, sites, scaled, momentum=BN_MOMENTUM, **kwargs):
        kwargs["dtype"] = "float32"
        super().__init__(autocast=False, **kwargs)
        self.sites = {site: tuple(shape) for site, shape in sites.items()}
        self.scaled = [site for site in self.sites if site in set(scaled)]
        self.momentum = momentum

    def build(self, input_shape=None):
        def weight(site, kind, initializer, trainable):
            return self.add_weight(
                name=f"{site}_{kind}",
                shape=self.sites[site],
                initializer=initializer,
                trainable=trainable,
                aggregation="none" if trainable else "mean",
            )

        self.gamma = {s: weight(s, "gamma", "ones", True) for s in self.scaled}
        self.beta = {s: weight(s, "beta", "zeros", True) for s in self.scaled}
        self.moving_mean = {s: weight(s, "moving_mean", "zeros", False) for s in self.sites}
        self.moving_variance = {s: weight(s, "moving_variance", "ones", False) for s in self.sites}
        self.built = True

    def call(self, h, site, row=0, moving=False, scale=None, offset=None):
        """``h`` ``[B, H, W, channels]`` normalised at ``row`` of ``site``.

        Args:
          h: the task's features.
          site, row: where in the network ``h`` is.
          moving: normalise by the moving statistics (inference) rather than
            by the batch's moments.
          scale, offset: ``[channels]``, for sites whose scale and offset the
            task does not own (the bank's blocks do, ``block`` placement).

        Returns:
          ``(y, mean, variance)``: the result and the moments it was
          normalised by (the batch's, or the moving ones).
        """
        if site in self.gamma:
            scale, offset = self.gamma[site][row], self.beta[site][row]
        if moving:
            mean, variance = self.moving_mean[site][row], self.moving_variance[site][row]
            return normalize_with(h, mean, variance, scale, offset), mean, variance
        return batch_normalize(h, scale, offset)

    def update(self, site, means, variances, active=None, momentum=None):
        """Folds one forward pass's batch moments ``[rows, channels]`` of ``site``
        into its moving statistics; rows where ``active`` is 0 keep theirs.
        ``momentum`` 0 replaces them (a statistics pass)."""
        momentum = self.momentum if momentum is None else momentum
        keep = tf.fill([self.sites[site][0], 1], momentum)
        if active is not None:
            active = tf.expand_dims(active, -1)
            keep = (1.0 - active) + active * keep
        for moving, batch in (
            (self.moving_mean[site], means),
            (self.moving_variance[site], variances),
        ):
            moving.assign(keep * moving + (1.0 - keep) * batch)

    def get_config(self):
        config = super().get_config()
        config.update(sites=self.sites, scaled=self.scaled, momentum=self.momentum)
        return config
