"""Joint training of the bank, stems, normalisation and heads of all tasks.

Every step takes one batch of every task, sums the per-task mean losses and
updates all trainable variables.  Model and optimizer are built in the
strategy's scope; gradients are all-reduced by SUM, so each task's loss is
averaged over the *global* batch.  Checkpoints (model, optimizer, step) are
written by ``tf.train.CheckpointManager``, which commits a checkpoint by
atomically rewriting its index file last; training resumes from the newest.
"""

import os

import keras
import numpy as np
import tensorflow as tf

from compose.inputs import make_dataset_fn

OPTIMIZERS = {
    "adam": keras.optimizers.Adam,
    "rmsprop": keras.optimizers.RMSprop,
    "sgd": lambda learning_rate: keras.optimizers.SGD(learning_rate, momentum=0.9),
}


def build_optimizer(name: str, learning_rate: float, variables) -> keras.optimizers.Optimizer:
    """An optimizer built on ``variables`` up front (a Keras 3 optimizer built
    lazily on one subset would reject another)."""
    try:
        optimizer = OPTIMIZERS[name](learning_rate=learning_rate)
    except KeyError:
        raise ValueError(
            f"unknown optimizer {name!r}; choose one of: {', '.join(OPTIMIZERS)}"
        ) from None
    optimizer.build(variables)
    return optimizer


def checkpoint_of(model, optimizer, step) -> tf.train.Checkpoint:
    """A checkpoint holding every model and optimizer variable under a stable key.

    ``tf.train.Checkpoint(model=keras3_model)`` silently skips variables held
    in Keras 3's tracked lists and dicts (the bank's kernels, the task paths)
    and the optimizer's slots, so each variable is named explicitly: model
    variables by their layer path (without the model's own, auto-numbered
    name), optimizer variables by position (fixed by ``build_optimizer``).
    """
    values = {"step": step}
    for variable in model.variables:
        values["model." + variable.path.split("/", 1)[1].replace("/", ".")] = variable
    for index, variable in enumerate(optimizer.variables):
        values[f"optimizer.{index}"] = variable
    return tf.train.Checkpoint(**values)


class JointTrainer:
    """Runs joint training steps under a strategy, with checkpoints and summaries.

    Args:
      model: a :class:`compose.ComposedModel` built in ``strategy.scope()``.
      optimizer: built in the same scope on ``model.trainable_variables``.
      strategy: the ``tf.distribute`` strategy.
      train_splits: ``{task: tasks.Split}``; every task of the model trains.
      batch_size: global batch of every task.
      seed: selects the training examples of every step.
      model_dir: checkpoints go to ``model_dir/checkpoints``, TensorBoard
        scalars to ``model_dir/train``; None keeps nothing.
      steps_per_loop: steps per ``tf.function`` call (fewer host round trips).
      checkpoint_every: steps between checkpoints.
    """

    def __init__(
        self,
        model,
        optimizer,
        strategy,
        train_splits,
        batch_size,
        seed=0,
        model_dir=None,
        steps_per_loop=10,
        checkpoint_every=250,
    ):
        missing = sorted(set(model.task_names) - set(train_splits))
        if missing:
            raise ValueError(f"no training data given for tasks {missing}")
        self.model = model
        self.optimizer = optimizer
        self.strategy = strategy
        self.train_splits = {task: train_splits[task] for task in model.task_names}
        self.batch_size = batch_size
        self.seed = seed
        self.steps_per_loop = steps_per_loop
        with strategy.scope():
            self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        self.manager = None
        self.writer = None
        if model_dir:
            checkpoint = checkpoint_of(model, optimizer, self.step)
            self.manager = tf.train.CheckpointManager(
                checkpoint,
                os.path.join(model_dir, "checkpoints"),
                max_to_keep=3,
                step_counter=self.step,
                checkpoint_interval=checkpoint_every,
            )
            self.writer = tf.summary.create_file_writer(os.path.join(model_dir, "train"))

    def restore(self) -> int:
        """Restores the newest checkpoint, if any; returns the step reached."""
        if self.manager is not None and self.manager.latest_checkpoint:
            self.manager.checkpoint.restore(
                self.manager.latest_checkpoint
            ).assert_existing_objects_matched()
        return int(self.step.numpy())

    def _step_fn(self, batch):
        variables = self.model.trainable_variables
        with tf.GradientTape() as tape:
            logits = self.model(
                {task: images for task, (images, _) in batch.items()}, training=True
            )
            losses = {
                task: tf.nn.compute_average_loss(
                    keras.losses.sparse_categorical_crossentropy(
                        labels, logits[task], from_logits=True
                    ),
                    global_batch_size=self.batch_size,
                )
                for task, (_, labels) in batch.items()
            }
            total = tf.add_n(list(losses.values()))
        gradients = tape.gradient(total, variables)
        self.optimizer.apply_gradients(zip(gradients, variables, strict=True))
        metrics = {f"loss/{task}": loss for task, loss in losses.items()}
        for task, (_, labels) in batch.items():
            correct = tf.equal(tf.argmax(logits[task], -1, output_type=labels.dtype), labels)
            metrics[f"accuracy/{task}"] = (
                tf.reduce_sum(tf.cast(correct, tf.float32)) / self.batch_size
            )
        return metrics

    @tf.function
    def _train_loop(self, iterator, num_steps):
        """``num_steps`` steps in one call; returns the last step's metrics."""

        def one_step():
            per_replica = self.strategy.run(self._step_fn, args=(next(iterator),))
            self.step.assign_add(1)
            return {
                name: self.strategy.reduce(tf.distribute.ReduceOp.SUM, value, axis=None)
                for name, value in per_replica.items()
            }

        metrics = one_step()
        for _ in tf.range(num_steps - 1):
            metrics = one_step()
        return metrics

    @property
    def traces(self) -> int:
        """How many times the training loop was traced (1 whatever the programs)."""
        return self._train_loop.experimental_get_tracing_count()

    def train(self, until_step: int, verbose: bool = True) -> dict:
        """Trains from the current step to ``until_step``; returns the last metrics."""
        start = int(self.step.numpy())
        if start >= until_step:
            return {}
        dataset = self.strategy.distribute_datasets_from_function(
            make_dataset_fn(self.train_splits, self.batch_size, self.seed, start_step=start)
        )
        iterator = iter(dataset)
        progbar = keras.utils.Progbar(
            until_step, verbose=1 if verbose else 0, unit_name="step", stateful_metrics=["loss"]
        )
        progbar.update(start)
        metrics = {}
        while (step := int(self.step.numpy())) < until_step:
            count = min(self.steps_per_loop, until_step - step)
            metrics = {
                k: float(v) for k, v in self._train_loop(iterator, tf.constant(count)).items()
            }
            step += count
            progbar.update(
                step, [("loss", sum(v for k, v in metrics.items() if k.startswith("loss/")))]
            )
            self._write_summaries(step, metrics)
            if self.manager is not None:
                self.manager.save(checkpoint_number=step)
        if self.manager is not None:
            self.manager.save(checkpoint_number=until_step, check_interval=False)
        return metrics

    def _write_summaries(self, step, metrics):
        if self.writer is None:
            return
        with self.writer.as_default(step=step):
            for name, value in metrics.items():
                tf.summary.scalar(name, value)


def evaluate(model, test_splits, batch_size=500) -> dict[str, float]:
    """Test accuracy of every task in ``test_splits`` (inference mode)."""

    @tf.function
    def predict(task, images):
        return tf.argmax(
            model.call_task(task, images, training=False), axis=-1, output_type=tf.int32
        )

    accuracy = {}
    for task, split in test_splits.items():
        correct = 0
        for start in range(0, len(split), batch_size):
            images = split.images[start : start + batch_size]
            correct += int(
                np.sum(
                    predict(task, tf.constant(images)).numpy()
                    == split.labels[start : start + batch_size]
                )
            )
        accuracy[task] = correct / len(split)
    return accuracy
