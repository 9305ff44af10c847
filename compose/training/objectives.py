"""What training minimises: each objective owns its losses and metrics; one trainer runs them.

The pattern of the TF Model Garden's multitask trainer: :class:`Trainer`
runs one forward pass of every task an objective needs in training mode,
then asks each objective for its named losses (summed into the step's loss)
and metrics (averaged over each loop of steps).

Losses are per replica and scaled for the global batch (gradients are summed
over replicas); metrics are per-replica shares that sum to the global value.
"""

import tensorflow as tf


class Objective:
    """One term of what a trainer minimises.

    Attributes:
      forward_tasks: tasks the trainer runs in training mode for it.
      input_tasks: tasks whose batches it reads.
    """

    forward_tasks: tuple[str, ...] = ()
    input_tasks: tuple[str, ...] = ()

    def metric_names(self) -> list[str]:
        """The names of :meth:`losses` and :meth:`metrics`, known before tracing."""
        raise NotImplementedError

    def losses(self, model, outputs, batch, global_batch_size) -> dict:
        """``{name: scalar}`` added to the step's loss."""
        raise NotImplementedError

    def metrics(self, outputs, batch, global_batch_size) -> dict:
        """``{name: scalar}`` reported, not minimised."""
        return {}


class Supervised(Objective):
    """Cross-entropy of ``task``'s logits against its labels; reports accuracy."""

    def __init__(self, task):
        self.task = task
        self.forward_tasks = self.input_tasks = (task,)

    def metric_names(self):
        return [f"loss/{self.task}", f"accuracy/{self.task}"]

    def losses(self, model, outputs, batch, global_batch_size):
        labels = batch[self.task][1]
        per_example = tf.nn.sparse_softmax_cross_entropy_with_logits(
            labels, outputs[self.task].logits
        )
        return {
            f"loss/{self.task}": tf.nn.compute_average_loss(
                per_example, global_batch_size=global_batch_size
            )
        }

    def metrics(self, outputs, batch, global_batch_size):
        labels = batch[self.task][1]
        predicted = tf.argmax(outputs[self.task].logits, -1, output_type=labels.dtype)
        correct = tf.reduce_sum(tf.cast(tf.equal(predicted, labels), tf.float32))
        # The task's own global batch, which a sampler may make differ from
        # ``global_batch_size`` (compose.training.sampling).
        replicas = tf.distribute.get_replica_context().num_replicas_in_sync
        examples = tf.cast(tf.shape(labels)[0] * replicas, tf.float32)
        return {f"accuracy/{self.task}": correct / examples}


class Regularizer(Objective):
    """``weight * value(model)``, added once per global batch (e.g. the gate
    sparsity of gated transfer, the mixture entropy of learned programs)."""

    def __init__(self, name, weight, value):
        self.name = name
        self.weight = weight
        self.value = value

    def metric_names(self):
        return [self.name]

    def losses(self, model, outputs, batch, global_batch_size):
        return {self.name: tf.nn.scale_regularization_loss(self.weight * self.value(model))}


def gate_sparsity(task, weight) -> Regularizer:
    """TAPS: ``weight * sum |score|`` of ``task``'s gates."""
    return Regularizer(f"gate_sparsity/{task}", weight, lambda m: m.path(task).gates.sparsity())


def mixture_entropy(tasks, weight) -> Regularizer:
    """``weight`` times the summed mean entropy of ``tasks``' learned programs
    (pushes every layer toward one block)."""
    return Regularizer(
        "mixture_entropy", weight, lambda m: tf.add_n([m.path(t).mixture_entropy() for t in tasks])
    )


class FeatureMoments(Objective):
    """Unsupervised: the squared distance between the mean and standard
    deviation of ``target``'s late features (training mode) and those of
    ``source``'s (inference mode, no state change)."""

    def __init__(self, target, source):
        self.target, self.source = target, source
        self.forward_tasks = (target,)
        self.input_tasks = (target, source)

    def metric_names(self):
        return [f"moments/{self.target}"]

    def losses(self, model, outputs, batch, global_batch_size):
        reference = model.features(self.source, batch[self.source][0], training=False)
        distance = moment_distance(outputs[self.target].features, tf.stop_gradient(reference))
        return {f"moments/{self.target}": tf.nn.scale_regularization_loss(distance)}


class PredictionEntropy(Objective):
    """Unsupervised: the mean entropy of ``target``'s predicted class distribution."""

    def __init__(self, target):
        self.target = target
        self.forward_tasks = self.input_tasks = (target,)

    def metric_names(self):
        return [f"entropy/{self.target}"]

    def losses(self, model, outputs, batch, global_batch_size):
        per_example = prediction_entropy(outputs[self.target].logits)
        return {
            f"entropy/{self.target}": tf.nn.compute_average_loss(
                per_example, global_batch_size=global_batch_size
            )
        }


def moment_distance(features, reference):
    """``|mean - mean'|^2 + |std - std'|^2`` over the feature axis of ``[B, F]`` batches."""
    mean, variance = tf.nn.moments(features, axes=[0])
    reference_mean, reference_variance = tf.nn.moments(reference, axes=[0])
    return tf.reduce_sum(tf.square(mean - reference_mean)) + tf.reduce_sum(
        tf.square(tf.sqrt(variance + 1e-6) - tf.sqrt(reference_variance + 1e-6))
    )


def prediction_entropy(logits):
    """``[B]`` entropy of each example's predicted class distribution."""
    log_p = tf.nn.log_softmax(logits, axis=-1)
    return -tf.reduce_sum(tf.exp(log_p) * log_p, axis=-1)
