"""One trainer for every objective: joint training, transfer, adaptation, evolution.

Every step takes a batch of every task the objectives read (of equal size, or
as :mod:`compose.training.sampling` shares them), runs one
forward pass of the tasks they train (all of them together, so the model may
fuse them), sums the objectives' losses and updates the trained variables.
Model and optimizer are built in the strategy's scope; gradients are
all-reduced by SUM, so losses are scaled for the *global* batch.  Checkpoints
(model, optimizer, step) make training resumable: the input stream and the
program samples are functions of the step (:mod:`compose.training.inputs`).
"""

import os

import keras
import numpy as np
import tensorflow as tf

from compose.errors import InvalidInputError
from compose.tracing import released_custom_gradients
from compose.training.checkpoints import checkpoint_of, checkpoint_paths, restore_newest_readable
from compose.training.inputs import make_dataset_fn

OPTIMIZERS = {
    "adam": keras.optimizers.Adam,
    "rmsprop": keras.optimizers.RMSprop,
    "sgd": lambda learning_rate: keras.optimizers.SGD(learning_rate, momentum=0.9),
}


LR_SCHEDULES = ("constant", "cosine")


@keras.saving.register_keras_serializable(package="compose")
class ConstantLearningRate(keras.optimizers.schedules.LearningRateSchedule):
    """The same learning rate at every step, as a schedule (see ``build_optimizer``)."""

    def __init__(self, learning_rate: float):
        self.learning_rate = learning_rate

    def __call__(self, step):
        return keras.ops.convert_to_tensor(self.learning_rate, dtype="float32")

    def get_config(self):
        return {"learning_rate": self.learning_rate}


def build_optimizer(
    name: str, learning_rate: float, variables, schedule="constant", steps=None
) -> keras.optimizers.Optimizer:
    """An optimizer built on ``variables`` up front (a Keras 3 optimizer built
    lazily on one subset would reject another).

    ``schedule`` ``cosine`` decays the learning rate to 0 over ``steps``; it is
    a function of the optimizer's own (checkpointed) step count, so a resumed
    run follows it exactly. Both schedules are schedule objects: a plain float
    would add a ``learning_rate`` variable to the optimizer and shift the
    checkpoint's slot numbering, so a run could not resume under the other one.
    """
    if schedule == "cosine":
        learning_rate = keras.optimizers.schedules.CosineDecay(learning_rate, max(steps, 1))
    elif schedule == "constant":
        learning_rate = ConstantLearningRate(learning_rate)
    else:
        raise InvalidInputError(
            f"unknown schedule {schedule!r}; choose one of: {', '.join(LR_SCHEDULES)}"
        )
    try:
        optimizer = OPTIMIZERS[name](learning_rate=learning_rate)
    except KeyError:
        raise InvalidInputError(
            f"unknown optimizer {name!r}; choose one of: {', '.join(OPTIMIZERS)}"
        ) from None
    optimizer.build(variables)
    return optimizer


def use_xla_by_default(strategy) -> bool:
    """XLA for single-replica GPU training, as Keras decides for ``fit``.

    Not on CPU, where XLA is several times slower for depthwise convolutions;
    not under multi-replica strategies, where Keras also turns it off; TPU
    steps are compiled by the TPU strategy anyway.
    """
    on_gpu = bool(tf.config.list_logical_devices("GPU"))
    tpu = isinstance(strategy, tf.distribute.TPUStrategy)
    return on_gpu and not tpu and strategy.num_replicas_in_sync == 1


def trained_variables(model, tasks, bank=True) -> list:
    """The bank's weights (when ``bank``), then every trainable variable of ``tasks``."""
    variables = list(model.bank.trainable_variables) if bank else []
    for task in tasks:
        variables += model.path(task).trainable_variables
    return variables


class Trainer:
    """Runs training steps of ``objectives`` under a strategy, with checkpoints and summaries.

    Args:
      model: a :class:`compose.ComposedModel` built in ``strategy.scope()``.
      optimizer: built in the same scope on (at least) the trained variables.
      strategy: the ``tf.distribute`` strategy.
      inputs: ``{task: tasks.Split}`` for every task the objectives read.
      objectives: :class:`compose.training.objectives.Objective` s.
      batch_size: global batch of every task; every example's loss is divided
        by it.
      task_batch_sizes: ``{task: global batch}`` when tasks differ
        (:func:`compose.training.sampling.task_batch_sizes`); default
        ``batch_size`` of every task.
      seed: selects the examples of every step (and seeds program samples
        through the model).
      model_dir: checkpoints go to ``model_dir/checkpoints``, TensorBoard
        scalars to ``model_dir/train``; None keeps nothing.
      steps_per_loop: steps per ``tf.function`` call (fewer host round trips);
        metrics are averaged over each loop.
      checkpoint_every: steps between checkpoints.
      jit_compile: compile each replica's step with XLA; None picks
        :func:`use_xla_by_default`.
      variables: what trains (default: :func:`trained_variables` of the tasks
        the objectives run); :meth:`train` can narrow it per call.
      frozen_blocks: bank blocks whose gradient is zeroed.  With an optimizer
        that has not yet stepped (Adam, RMSprop, SGD+momentum), a gradient that
        was always zero moves nothing: those blocks stay bit-identical.
        (A derived entry's delta is never trained; its base follows this.)
    """

    release_traced_gradients = True
    """Free each traced loop's graph with its trainer
    (:mod:`compose.tracing`); False keeps TensorFlow's leak, which
    only ``benchmarks.training_memory`` wants, to measure it."""

    def __init__(
        self,
        model,
        optimizer,
        strategy,
        inputs,
        objectives,
        batch_size,
        seed=0,
        model_dir=None,
        steps_per_loop=10,
        checkpoint_every=250,
        jit_compile=None,
        variables=None,
        frozen_blocks=(),
        task_batch_sizes=None,
    ):
        self.objectives = list(objectives)
        if not self.objectives:
            raise InvalidInputError("a trainer needs at least one objective")
        self.forward_tasks = list(
            dict.fromkeys(t for o in self.objectives for t in o.forward_tasks)
        )
        input_tasks = list(dict.fromkeys(t for o in self.objectives for t in o.input_tasks))
        for task in input_tasks:
            model.path(task)  # LookupError naming the model's tasks
        missing = sorted(set(input_tasks) - set(inputs))
        if missing:
            raise InvalidInputError(f"no training data given for tasks {missing}")
        frozen = sorted(set(frozen_blocks))
        if frozen and not 0 <= frozen[0] <= frozen[-1] < model.bank_size:
            raise InvalidInputError(
                f"frozen_blocks {frozen} are not all in 0..{model.bank_size - 1}"
            )
        self.model = model
        self.optimizer = optimizer
        self.strategy = strategy
        self.inputs = {task: inputs[task] for task in input_tasks}
        self.variables = list(
            trained_variables(model, self.forward_tasks) if variables is None else variables
        )
        block_mask = np.ones(model.bank_size, np.float32)
        block_mask[frozen] = 0.0
        self._block_mask = block_mask[model.bank.stored_entries]  # a row per stored block
        self._bank_ids = {id(v) for v in model.bank.trainable_variables}
        self.batch_size = batch_size
        self.task_batch_sizes = task_batch_sizes
        self.seed = seed
        self.steps_per_loop = steps_per_loop
        self.jit_compile = use_xla_by_default(strategy) if jit_compile is None else jit_compile
        self.metrics = {
            name: keras.metrics.Mean(name=name)
            for objective in self.objectives
            for name in objective.metric_names()
        }
        self._loops, self._steps = {}, {}
        with strategy.scope():
            self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        self.manager = None
        self.writer = None
        if model_dir:
            self.manager = tf.train.CheckpointManager(
                checkpoint_of(model, optimizer, self.step),
                os.path.join(model_dir, "checkpoints"),
                max_to_keep=3,
                step_counter=self.step,
                checkpoint_interval=checkpoint_every,
            )
            self.writer = tf.summary.create_file_writer(os.path.join(model_dir, "train"))

    def use_inputs(self, inputs) -> None:
        """Trains on ``inputs`` (``{task: Split}``, the same tasks) from the next
        :meth:`train` call on; the examples of a step stay a function of the
        step and the inputs, so a resumed run that switches at the same step
        sees the same ones."""
        missing = sorted(set(self.inputs) - set(inputs))
        if missing:
            raise InvalidInputError(f"no training data given for tasks {missing}")
        self.inputs = {task: inputs[task] for task in self.inputs}

    def restore(self) -> int:
        """Restores the newest readable checkpoint, if any; returns the step reached."""
        if self.manager is not None:
            restore_newest_readable(self.manager.checkpoint, checkpoint_paths(self.manager))
        return int(self.step.numpy())

    def _step_fn(self, variables, batch, step):
        with tf.GradientTape() as tape:
            images = {task: batch[task][0] for task in self.forward_tasks}
            outputs = self.model.forward(images, training=True, sample_step=step)
            values = {}
            for objective in self.objectives:
                values.update(objective.losses(self.model, outputs, batch, self.batch_size))
            total = tf.add_n(list(values.values()))
        gradients = tape.gradient(total, variables)
        updates = []
        for variable, gradient in zip(variables, gradients, strict=True):
            if gradient is None:
                continue  # not used by this step's forward pass (e.g. unused logits)
            if id(variable) in self._bank_ids and not self._block_mask.all():
                shape = [-1] + [1] * (variable.shape.rank - 1)
                gradient *= tf.reshape(tf.constant(self._block_mask), shape)
            updates.append((gradient, variable))
        self.optimizer.apply_gradients(updates)
        for objective in self.objectives:
            values.update(objective.metrics(outputs, batch, self.batch_size))
        return values

    def replica_step(self, variables=None):
        """One replica's step training ``variables`` (default: all of the
        trainer's): ``step_fn(batch, step) -> {name: value}``, XLA-compiled
        with ``jit_compile``.  One function per variable set."""
        variables = self.variables if variables is None else list(variables)
        key = tuple(id(v) for v in variables)
        if key not in self._steps:
            step_fn = lambda batch, step: self._step_fn(variables, batch, step)  # noqa: E731
            if self.jit_compile:
                step_fn = tf.function(step_fn, jit_compile=True)
            self._steps[key] = step_fn
        return self._steps[key]

    def _loop_for(self, variables):
        """The compiled loop training ``variables`` (one trace per variable set)."""
        key = tuple(id(v) for v in variables)
        if key not in self._loops:
            step_fn = self.replica_step(variables)

            @tf.function
            def loop(iterator, num_steps):
                for _ in tf.range(num_steps):
                    per_replica = self.strategy.run(
                        step_fn, args=(next(iterator), self.step.read_value())
                    )
                    self.step.assign_add(1)
                    for name, value in per_replica.items():
                        reduced = self.strategy.reduce(tf.distribute.ReduceOp.SUM, value, None)
                        self.metrics[name].update_state(reduced)

            self._loops[key] = loop
        return self._loops[key]

    @property
    def traces(self) -> int:
        """How many times training loops were traced (1 per variable set,
        whatever the programs)."""
        return sum(loop.experimental_get_tracing_count() for loop in self._loops.values())

    def train(self, until_step, verbose=True, before_loop=None, variables=None) -> dict:
        """Trains from the current step to ``until_step``; returns the last loop's
        mean metrics.

        ``before_loop(step)``, if given, runs before every ``steps_per_loop``
        steps (to anneal a schedule held in variables).  ``variables``, if
        given, narrows what trains in this call to a subset of the trainer's.
        """
        start = int(self.step.numpy())
        if start >= until_step:
            return {}
        variables = self.variables if variables is None else list(variables)
        unknown = {id(v) for v in variables} - {id(v) for v in self.variables}
        if unknown:
            raise InvalidInputError(
                "train(variables=...) must be a subset of the trainer's variables"
            )
        loop = self._loop_for(variables)
        dataset = self.strategy.distribute_datasets_from_function(
            make_dataset_fn(
                self.inputs, self.task_batch_sizes or self.batch_size, self.seed, start_step=start
            )
        )
        iterator = iter(dataset)
        progbar = keras.utils.Progbar(
            until_step, verbose=1 if verbose else 0, unit_name="step", stateful_metrics=["loss"]
        )
        progbar.update(start)
        means = {}
        while (step := int(self.step.numpy())) < until_step:
            count = min(self.steps_per_loop, until_step - step)
            if before_loop is not None:
                before_loop(step)
            for metric in self.metrics.values():
                metric.reset_state()
            with released_custom_gradients(self.release_traced_gradients):
                loop(iterator, tf.constant(count))
            means = {name: float(metric.result()) for name, metric in self.metrics.items()}
            step += count
            loss = sum(v for k, v in means.items() if not k.startswith("accuracy/"))
            progbar.update(step, [("loss", loss)])
            self._write_summaries(step, means)
            if self.manager is not None:
                self.manager.save(checkpoint_number=step)
        if self.manager is not None:
            self.manager.save(checkpoint_number=until_step, check_interval=False)
        return means

    def _write_summaries(self, step, means):
        if self.writer is None:
            return
        with self.writer.as_default(step=step):
            for name, value in means.items():
                tf.summary.scalar(name, value)
