"""Training input: one batch of every task per step, a pure function of the step.

Each task's training split is held in memory; the examples of step ``s`` are
drawn (with replacement) by ``stateless_uniform`` seeded with ``(seed, s)``.
So the data a run sees do not depend on when it was interrupted: a resumed
run continues exactly where the checkpoint left it, with no shuffle buffer to
save.  Shapes are static (every batch full), as TPU and XLA require.
"""

import tensorflow as tf


def _sampler(splits, per_replica_batch, seed, pipeline_id):
    tensors = [
        (task, tf.constant(split.images), tf.constant(split.labels))
        for task, split in splits.items()
    ]

    def sample(element):
        batch = {}
        for index, (task, images, labels) in enumerate(tensors):
            stream = tf.constant([seed, 1 + index + 1000 * pipeline_id], tf.int64)
            positions = tf.random.stateless_uniform(
                [per_replica_batch],
                seed=tf.random.experimental.stateless_fold_in(stream, element),
                maxval=tf.shape(labels, out_type=tf.int64)[0],
                dtype=tf.int64,
            )
            batch[task] = (tf.gather(images, positions), tf.gather(labels, positions))
        return batch

    return sample


def make_dataset_fn(splits, global_batch_size, seed, start_step=0):
    """A ``dataset_fn`` for ``strategy.distribute_datasets_from_function``.

    Args:
      splits: ``{task: Split}`` training data.
      global_batch_size: examples of every task per step over all replicas.
      seed: the run's seed.
      start_step: first step to produce (the checkpoint's step when resuming).
    """

    def dataset_fn(context: tf.distribute.InputContext):
        per_replica = context.get_per_replica_batch_size(global_batch_size)
        replicas_per_pipeline = context.num_replicas_in_sync // context.num_input_pipelines
        first = start_step * replicas_per_pipeline
        sample = _sampler(splits, per_replica, seed, context.input_pipeline_id)
        return (
            tf.data.Dataset.range(first, tf.int64.max)
            .map(sample, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
            .prefetch(tf.data.AUTOTUNE)
        )

    return dataset_fn
