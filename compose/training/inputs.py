"""Training input: a batch of every task per step, a pure function of the step.

Each task's training split is held in memory.  The global batch of step ``s``
is drawn (with replacement) by ``stateless_uniform`` seeded with
``(seed, task, s)``, and each replica takes its slice of it.  So the examples a
step sees depend neither on the number of replicas nor on when the run was
interrupted: a resumed run continues exactly where its checkpoint left it,
with no shuffle buffer to save.  Shapes are static, as TPU and XLA require.
"""

import tensorflow as tf


def make_dataset_fn(splits, global_batch_size, seed, start_step=0):
    """A ``dataset_fn`` for ``strategy.distribute_datasets_from_function``.

    Element ``e`` of input pipeline ``p`` feeds step ``start_step + e // r`` on
    replica ``p * r + e % r``, ``r`` being the replicas one pipeline feeds (the
    strategy hands consecutive elements to a pipeline's replicas in turn).

    Args:
      splits: ``{task: Split}`` training data.
      global_batch_size: examples of every task per step over all replicas,
        or ``{task: examples}`` (:mod:`compose.training.sampling`).
      seed: the run's seed.
      start_step: first step to produce (the checkpoint's step when resuming).
    """

    if isinstance(global_batch_size, int):
        global_batch_size = {task: global_batch_size for task in splits}

    def dataset_fn(context: tf.distribute.InputContext):
        replicas_per_pipeline = context.num_replicas_in_sync // context.num_input_pipelines
        tensors = [
            (
                task,
                tf.constant(split.images),
                tf.constant(split.labels),
                global_batch_size[task],
                context.get_per_replica_batch_size(global_batch_size[task]),
            )
            for task, split in splits.items()
        ]

        def sample(element):
            step = start_step + element // replicas_per_pipeline
            replica = context.input_pipeline_id * replicas_per_pipeline
            replica += element % replicas_per_pipeline
            batch = {}
            for index, (task, images, labels, size, per_replica) in enumerate(tensors):
                positions = tf.random.stateless_uniform(
                    [size],
                    seed=tf.random.experimental.stateless_fold_in(
                        tf.constant([seed, index], tf.int64), step
                    ),
                    maxval=tf.shape(labels, out_type=tf.int64)[0],
                    dtype=tf.int64,
                )
                # tf.slice with a static size keeps the batch dimension known
                # (a slice with tensor bounds would not, and the fused forward
                # needs equal static batch sizes to stack the tasks).
                mine = tf.slice(
                    positions, [replica * per_replica], tf.constant([per_replica], tf.int64)
                )
                batch[task] = (tf.gather(images, mine), tf.gather(labels, mine))
            return batch

        return (
            tf.data.Dataset.range(tf.int64.max)
            .map(sample, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
            .prefetch(tf.data.AUTOTUNE)
        )

    return dataset_fn
