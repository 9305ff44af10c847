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
from absl import logging

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


def model_variables(model) -> dict[str, tf.Variable]:
    """Every variable of ``model`` keyed by its layer path, without the model's
    own auto-numbered name, so two instances of one architecture agree."""
    return {
        "model." + variable.path.split("/", 1)[1].replace("/", "."): variable
        for variable in model.variables
    }


def checkpoint_of(model, optimizer, step) -> tf.train.Checkpoint:
    """A checkpoint holding every model and optimizer variable under a stable key.

    ``tf.train.Checkpoint(model=keras3_model)`` silently skips variables held
    in Keras 3's tracked lists and dicts (the bank's kernels, the task paths)
    and the optimizer's slots, so each variable is named explicitly: model
    variables by :func:`model_variables`, optimizer variables by position
    (fixed by ``build_optimizer``).
    """
    values = {"step": step, **model_variables(model)}
    for index, variable in enumerate(optimizer.variables):
        values[f"optimizer.{index}"] = variable
    return tf.train.Checkpoint(**values)


def restore_newest_readable(checkpoint, paths) -> str | None:
    """Restores the newest of ``paths`` (oldest first) that reads completely.

    A checkpoint whose files are truncated, corrupted or missing is reported
    and skipped for the one before it, so a crash while a checkpoint was
    being written costs only the steps since the previous one.

    Returns:
      The restored path, or None when ``paths`` is empty.

    Raises:
      RuntimeError: when none of ``paths`` can be read.
    """
    failures = []
    for path in reversed(paths):
        try:
            checkpoint.restore(path).assert_existing_objects_matched()
        except Exception as error:  # readers raise many types; every one is reported
            reason = f"{type(error).__name__}: {str(error).strip().splitlines()[0]}"
            failures.append(f"{path}: {reason}")
            logging.warning("checkpoint %s is unreadable (%s); trying the one before", path, reason)
            continue
        if failures:
            print(f"skipped unreadable checkpoint(s): {'; '.join(failures)}; resumed from {path}")
        return path
    if failures:
        raise RuntimeError(
            "no readable checkpoint: " + "; ".join(failures) + " (delete the checkpoints "
            "directory to start again)"
        )
    return None


def use_xla_by_default(strategy) -> bool:
    """XLA for single-replica GPU training, as Keras decides for ``fit``.

    Not on CPU, where XLA is several times slower for depthwise convolutions;
    not under multi-replica strategies, where Keras also turns it off; TPU
    steps are compiled by the TPU strategy anyway.
    """
    on_gpu = bool(tf.config.list_logical_devices("GPU"))
    tpu = isinstance(strategy, tf.distribute.TPUStrategy)
    return on_gpu and not tpu and strategy.num_replicas_in_sync == 1


class JointTrainer:
    """Runs joint training steps under a strategy, with checkpoints and summaries.

    Args:
      model: a :class:`compose.ComposedModel` built in ``strategy.scope()``.
      optimizer: built in the same scope on ``model.trainable_variables``.
      strategy: the ``tf.distribute`` strategy.
      train_splits: ``{task: tasks.Split}`` of every task that trains.
      batch_size: global batch of every task.
      seed: selects the training examples of every step.
      model_dir: checkpoints go to ``model_dir/checkpoints``, TensorBoard
        scalars to ``model_dir/train``; None keeps nothing.
      steps_per_loop: steps per ``tf.function`` call (fewer host round trips).
      checkpoint_every: steps between checkpoints.
      jit_compile: compile each replica's step with XLA; None picks
        :func:`use_xla_by_default`.
      train_tasks: the tasks that train (default: all); the others' own
        variables are neither run nor updated.
      frozen_blocks: bank blocks whose gradient is zeroed.  With an optimizer
        that has not yet stepped (Adam, RMSprop, SGD+momentum), a gradient that
        was always zero moves nothing: those blocks stay bit-identical.
      variables: the variables to train (default: the bank's kernels, then
        every trained task's variables); the optimizer must be built on them.
        With ``frozen_blocks`` they must start with the bank's kernels.
      regularization: a function returning a scalar added to the loss (once
        per global batch): the mixture entropy penalty
        (:func:`compose.relaxation.mixture_entropy_penalty`), the gate
        sparsity of gated transfer.
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
        jit_compile=None,
        train_tasks=None,
        frozen_blocks=(),
        variables=None,
        regularization=None,
    ):
        train_tasks = list(train_tasks or model.task_names)
        for task in train_tasks:
            model.path(task)  # LookupError naming the model's tasks
        missing = sorted(set(train_tasks) - set(train_splits))
        if missing:
            raise ValueError(f"no training data given for tasks {missing}")
        frozen = sorted(set(frozen_blocks))
        if frozen and not 0 <= frozen[0] <= frozen[-1] < model.bank_size:
            raise ValueError(f"frozen_blocks {frozen} are not all in 0..{model.bank_size - 1}")
        self.model = model
        self.optimizer = optimizer
        self.strategy = strategy
        self.train_splits = {task: train_splits[task] for task in train_tasks}
        if variables is None:
            # The bank's kernels first, so gradients[i] belongs to kernels[i].
            variables = list(model.bank.kernels)
            for task in train_tasks:
                variables += model.path(task).trainable_variables
        kernels = model.bank.kernels
        if frozen and [id(v) for v in variables[: len(kernels)]] != [id(k) for k in kernels]:
            raise ValueError("with frozen_blocks, variables must start with the bank's kernels")
        self.trainable = list(variables)
        self.regularization = regularization
        self._bank_gradient_mask = np.ones(model.bank_size, np.float32)
        self._bank_gradient_mask[frozen] = 0.0
        self.batch_size = batch_size
        self.seed = seed
        self.steps_per_loop = steps_per_loop
        self.jit_compile = use_xla_by_default(strategy) if jit_compile is None else jit_compile
        self._replica_step = (
            tf.function(self._step_fn, jit_compile=True) if self.jit_compile else self._step_fn
        )
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
        """Restores the newest readable checkpoint, if any; returns the step reached."""
        if self.manager is not None:
            restore_newest_readable(self.manager.checkpoint, self.manager.checkpoints)
        return int(self.step.numpy())

    def _step_fn(self, batch):
        variables = self.trainable
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
            if self.regularization is not None:
                # Added on every replica, so scaled like a regularisation loss.
                total += tf.nn.scale_regularization_loss(self.regularization())
        gradients = tape.gradient(total, variables)
        if not self._bank_gradient_mask.all():
            mask = tf.constant(self._bank_gradient_mask)
            for index, kernel in enumerate(self.model.bank.kernels):
                shape = [-1] + [1] * (kernel.shape.rank - 1)
                gradients[index] = gradients[index] * tf.reshape(mask, shape)
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
            per_replica = self.strategy.run(self._replica_step, args=(next(iterator),))
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

    def train(self, until_step: int, verbose: bool = True, before_loop=None) -> dict:
        """Trains from the current step to ``until_step``; returns the last metrics.

        ``before_loop(step)``, if given, runs before every ``steps_per_loop``
        steps (to anneal a schedule held in variables).
        """
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
            if before_loop is not None:
                before_loop(step)
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


def evaluate(model, test_splits, batch_size=500) -> dict[str, dict[str, float]]:
    """Test accuracy and mean cross-entropy of every task (inference mode).

    Each task gets its own function and the last batch is zero-padded to
    ``batch_size``, so every task traces exactly once.
    """
    results = {}
    for task, split in test_splits.items():

        @tf.function
        def correct_and_loss(images, labels, task=task):
            logits = model.call_task(task, images, training=False)
            correct = tf.equal(tf.argmax(logits, -1, output_type=labels.dtype), labels)
            loss = keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True)
            return correct, loss

        correct, loss = 0, 0.0
        for start in range(0, len(split), batch_size):
            count = min(batch_size, len(split) - start)
            padded = [
                np.pad(
                    array[start : start + count],
                    [(0, batch_size - count)] + [(0, 0)] * (array.ndim - 1),
                )
                for array in (split.images, split.labels)
            ]
            hits, losses = correct_and_loss(*map(tf.constant, padded))
            correct += int(np.sum(hits.numpy()[:count]))
            loss += float(np.sum(losses.numpy()[:count], dtype=np.float64))
        results[task] = {"accuracy": correct / len(split), "loss": loss / len(split)}
    return results
