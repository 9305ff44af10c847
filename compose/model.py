"""The composed model: one bank, many task programs."""

import keras
import numpy as np
from keras import ops

from compose.bank import BlockBank
from compose.program import pad_program, validate_program
from compose.task_path import TaskPath, TaskSpec


@keras.saving.register_keras_serializable(package="compose")
class ComposedModel(keras.Model):
    """A bank of K isometric blocks shared by every task.

    Each task runs ``stem -> bank(program) -> head``.  ``call`` takes a dict of
    image batches keyed by task name and returns a dict of logits, so a joint
    training step is one call; :meth:`call_task` runs a single task.

    Args:
      tasks: :class:`TaskSpec` (or dict) per task.
      block: block family name (see :mod:`blocks`).
      bank_size: K, blocks in the bank.
      depth: L, the maximum program length.
      channels: C, the bank's width.
      resolution: H = W of the bank's feature maps.
      programs: optional ``{task: [block indices]}``; default ``0, 1, ..`` cycling the bank.
      gated_tasks: tasks that own gated deltas of the bank's blocks
        (:mod:`compose.gates`, the "gated" transfer mode).
      seed: every initialiser's seed derives from it (:mod:`compose.seeds`),
        so the initial weights depend on nothing else.

    Example:
      >>> model = ComposedModel(
      ...     [TaskSpec("digits", (8, 8, 1), 10)], bank_size=4, depth=3,
      ...     channels=8, resolution=4, programs={"digits": [2, 2, 0]})
      >>> model.program("digits")
      [2, 2, 0]
    """

    def __init__(
        self,
        tasks,
        block="inverted_bottleneck",
        bank_size=4,
        depth=8,
        channels=40,
        resolution=16,
        programs=None,
        gated_tasks=(),
        seed=0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        specs = [t if isinstance(t, TaskSpec) else TaskSpec(**t) for t in tasks]
        if not specs:
            raise ValueError("a ComposedModel needs at least one task")
        names = [spec.name for spec in specs]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"task names must be unique; repeated: {', '.join(duplicates)}")
        programs = dict(programs or {})
        unknown = sorted(set(programs) - set(names))
        if unknown:
            raise LookupError(
                f"programs given for unknown tasks {unknown}; the model's tasks are {names}"
            )
        unknown = sorted(set(gated_tasks) - set(names))
        if unknown:
            raise LookupError(f"gated_tasks {unknown} are not tasks of the model ({names})")
        if depth < 1:
            raise ValueError(f"depth must be at least 1, got {depth}")
        self.block = block
        self.bank_size = bank_size
        self.depth = depth
        self.channels = channels
        self.resolution = resolution
        self.seed = seed
        self.bank = BlockBank(block, bank_size, channels, seed=seed, name="bank")
        sites = self.bank.family.norm_sites(channels)
        block_shapes = {n: p.shape for n, p in self.bank.family.param_specs(channels).items()}
        self.task_paths = [
            TaskPath(
                spec,
                bank_size,
                depth,
                channels,
                resolution,
                sites,
                program=programs.get(spec.name),
                gate_shapes=block_shapes if spec.name in gated_tasks else None,
                seed=seed,
                name=f"task_{spec.name}",
            )
            for spec in specs
        ]
        self._path_index = {spec.name: i for i, spec in enumerate(specs)}
        self.build()

    def build(self, input_shape=None):
        self.bank.build()
        for path in self.task_paths:
            path.build()
        self.built = True

    # -- tasks -----------------------------------------------------------------

    @property
    def task_names(self) -> list[str]:
        return [path.spec.name for path in self.task_paths]

    def path(self, task: str) -> TaskPath:
        """The :class:`TaskPath` of ``task``."""
        try:
            return self.task_paths[self._path_index[task]]
        except KeyError:
            raise LookupError(
                f"unknown task {task!r}; the model has tasks: {', '.join(self.task_names)}"
            ) from None

    # -- forward ---------------------------------------------------------------

    def call(self, inputs, training=False):
        if not isinstance(inputs, dict):
            raise TypeError(
                "ComposedModel expects a dict {task name: images}; "
                f"got {type(inputs).__name__} (use call_task for a single task)"
            )
        return {task: self.call_task(task, images, training) for task, images in inputs.items()}

    def call_task(self, task, images, training=False):
        """Logits of ``task`` for raw ``[B, H, W, C]`` images of its native shape."""
        return self.path(task).head(self.bank_features(task, images, training), training=training)

    def pooled_features(self, task, images, training=False):
        """``[B, C]``: what the head's final dense layer reads (its normalised,
        rectified, pooled input), the late features domain adaptation aligns."""
        x = self.bank_features(task, images, training)
        for layer in self.path(task).head.layers[:-1]:
            x = layer(x, training=training)
        return x

    def bank_features(self, task, images, training=False):
        """``[B, resolution, resolution, C]``: ``task``'s images after its stem and program."""
        path = self.path(task)
        expected = path.spec.image_shape
        if tuple(images.shape[1:]) != expected:
            raise ValueError(
                f"task {task!r}: expected images of shape "
                f"[batch, {', '.join(map(str, expected))}], "
                f"got {list(images.shape)}"
            )
        active = path.active()
        batch_moments = {}

        def normalize(site, layer, h):
            return path.norm.normalize(site, layer, h, training, batch_moments)

        x = path.stem(images, training=training)
        x = self.bank.run(x, path.mixture(), active, normalize, path.kernel_deltas())
        if training:
            path.norm.update_moving_statistics(batch_moments, active)
        return x

    # -- programs --------------------------------------------------------------

    def program(self, task: str) -> list[int]:
        """The hard program of ``task`` (its argmax while relaxed)."""
        return self.path(task).current_program()

    def programs(self) -> dict[str, list[int]]:
        return {task: self.program(task) for task in self.task_names}

    def set_program(self, task: str, program) -> None:
        """Gives ``task`` a hard program; no retrace, any length up to ``depth``."""
        path = self.path(task)
        checked = validate_program(task, program, self.bank_size, self.depth)
        path.program.assign(pad_program(checked, self.depth))
        path.relaxed.assign(0.0)

    def set_relaxed(self, task: str, relaxed: bool = True) -> None:
        """Switches ``task`` to (or from) softmax mixtures over the bank."""
        self.path(task).relaxed.assign(1.0 if relaxed else 0.0)

    def is_relaxed(self, task: str) -> bool:
        return bool(ops.convert_to_numpy(self.path(task).relaxed))

    def discretise(self, task: str) -> list[int]:
        """Replaces a relaxed program by the argmax block of each active layer."""
        path = self.path(task)
        logits = ops.convert_to_numpy(path.mixture_logits)
        length = len(self.program(task))
        self.set_program(task, [int(i) for i in np.argmax(logits[:length], axis=-1)])
        return self.program(task)

    # -- reporting -------------------------------------------------------------

    def parameter_report(self) -> dict[str, dict]:
        """Per task: bank blocks used and parameters shared vs owned.

        ``shared_params`` counts the distinct bank blocks the task's program
        touches (all K while relaxed); ``own_params`` counts the trainable
        parameters no other task uses.
        """
        block_size = self.bank.block_size
        report = {}
        for task in self.task_names:
            path = self.path(task)
            relaxed = self.is_relaxed(task)
            used = self.bank_size if relaxed else len(set(self.program(task)))
            own = path.own_parameter_count()
            report[task] = {
                "program": self.program(task),
                "relaxed": relaxed,
                "bank_blocks_used": used,
                "shared_params": used * block_size,
                "own_params": own,
                "total_params": used * block_size + own,
            }
        return report

    def get_config(self):
        config = super().get_config()
        config.update(
            tasks=[path.get_config()["spec"] for path in self.task_paths],
            block=self.block,
            bank_size=self.bank_size,
            depth=self.depth,
            channels=self.channels,
            resolution=self.resolution,
            programs=self.programs(),
            gated_tasks=[path.spec.name for path in self.task_paths if path.gates is not None],
            seed=self.seed,
        )
        return config
