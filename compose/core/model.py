"""The composed model: one bank, many task programs."""

import collections
import warnings

import keras
import numpy as np
import tensorflow as tf

from compose.config import ModelConfig
from compose.core.bank import BlockBank
from compose.core.layers import compute_policy
from compose.core.program import IDENTITY, pad_program, validate_program
from compose.core.spec import TaskSpec
from compose.core.task_path import SELECTIONS, TaskPath
from compose.errors import InvalidInputError, UnknownNameError

MODEL_DEFAULTS = ModelConfig()
"""The model options' defaults are the config tree's (one place)."""

TaskOutput = collections.namedtuple("TaskOutput", ["features", "logits", "bank_features"])
"""One task's forward result: the classifier's input ``[B, F]``, its logits,
and the normalised, rectified bank output ``[B, H, W, C]`` the head reads."""

STATISTICS = ("moving", "batch", "refresh", "own")
"""Where a forward pass's normalisation moments come from: ``moving`` (the
task's moving statistics: inference), ``batch`` (the batch's, folded into
the moving statistics: training), ``refresh`` (the batch's, replacing the
moving statistics: :func:`compose.core.statistics.refresh_statistics`),
``own`` (the batch's, nothing stored: scoring candidate programs)."""


@keras.saving.register_keras_serializable(package="compose")
class ComposedModel(keras.Model):
    """A bank of K isometric blocks shared by every task.

    Each task runs ``stem -> bank(program) -> head``.  ``call`` takes a dict of
    image batches keyed by task name and returns a dict of logits, so a joint
    training step is one call; :meth:`call_task` runs a single task.

    With ``fuse_tasks``, tasks whose batches have the same size run the bank
    together: their features are stacked on the channel axis and each bank
    layer runs as one grouped op per kind (see :mod:`blocks.base`), with the
    same results as running them one by one.

    Args (the defaults are :class:`compose.config.ModelConfig`'s):
      tasks: :class:`TaskSpec` (or dict) per task.
      block: block family name (see :mod:`blocks`).
      bank_size: K, blocks in the bank.
      depth: L, the maximum program length.
      channels: C, the bank's width.
      resolution: H = W of the bank's feature maps.
      norm_placement: who owns the bank layers' normalisation scale and
        offset: ``task_layer`` or ``block`` (:mod:`compose.core.normalization`).
      head: the heads' kind, ``linear`` or ``paper`` (:class:`compose.core.layers.Head`).
      programs: optional ``{task: [block indices]}``; default ``0, 1, ..`` cycling the bank.
      gated_tasks: tasks that own gated deltas of the bank's blocks
        (:mod:`compose.core.gates`, the "gated" transfer mode).
      gate_ranks: ``{gated task: rank}`` of the tasks whose deltas are
        low-rank products (:class:`compose.core.gates.BlockGates`); the other
        gated tasks own full deltas.
      derived_entries: ``[entry, base, rank]`` of the bank's derived entries
        (:class:`compose.core.bank.BlockBank`): adapted blocks a grown task
        left behind, stored as its base plus a low-rank delta.
      seed: every initialiser's seed derives from it (:mod:`compose.seeds`),
        so the initial weights depend on nothing else.
      fuse_tasks: run tasks with equal batch sizes through the bank together.
      precision: ``float32`` or ``bfloat16`` compute (variables and
        normalisation statistics stay float32; :data:`compose.core.layers.PRECISIONS`).

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
        block=MODEL_DEFAULTS.block,
        bank_size=MODEL_DEFAULTS.bank_size,
        depth=MODEL_DEFAULTS.depth,
        channels=MODEL_DEFAULTS.channels,
        resolution=MODEL_DEFAULTS.resolution,
        norm_placement=MODEL_DEFAULTS.norm_placement,
        head=MODEL_DEFAULTS.head,
        programs=None,
        gated_tasks=(),
        gate_ranks=None,
        derived_entries=(),
        seed=0,
        fuse_tasks=MODEL_DEFAULTS.fuse_tasks,
        precision=MODEL_DEFAULTS.precision,
        **kwargs,
    ):
        super().__init__(**kwargs)
        specs = [t if isinstance(t, TaskSpec) else TaskSpec(**t) for t in tasks]
        if not specs:
            raise InvalidInputError("a ComposedModel needs at least one task")
        names = [spec.name for spec in specs]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise InvalidInputError(f"task names must be unique; repeated: {', '.join(duplicates)}")
        programs = dict(programs or {})
        unknown = sorted(set(programs) - set(names))
        if unknown:
            raise UnknownNameError(
                f"programs given for unknown tasks {unknown}; the model's tasks are {names}"
            )
        unknown = sorted(set(gated_tasks) - set(names))
        if unknown:
            raise UnknownNameError(f"gated_tasks {unknown} are not tasks of the model ({names})")
        gate_ranks = dict(gate_ranks or {})
        ungated = sorted(set(gate_ranks) - set(gated_tasks))
        if ungated:
            raise InvalidInputError(f"gate_ranks given for {ungated}, which are not gated_tasks")
        bad = {task: rank for task, rank in gate_ranks.items() if rank < 1}
        if bad:
            raise InvalidInputError(f"gate_ranks must be at least 1, got {bad}")
        if depth < 1:
            raise InvalidInputError(f"depth must be at least 1, got {depth}")
        self.block = block
        self.bank_size = bank_size
        self.depth = depth
        self.channels = channels
        self.resolution = resolution
        self.norm_placement = norm_placement
        self.head_kind = head
        self.seed = seed
        self.fuse_tasks = fuse_tasks
        self.precision = precision
        policy = compute_policy(precision)  # ValueError naming the choices
        self.bank = BlockBank(
            block,
            bank_size,
            channels,
            norm_placement,
            seed=seed,
            derived=derived_entries,
            dtype=policy,
            name="bank",
        )
        block_shapes = {name: p.shape for name, p in self.bank.param_specs.items()}
        self.task_paths = [
            TaskPath(
                spec,
                bank_size,
                depth,
                channels,
                resolution,
                self.bank.norm_sites,
                norm_placement=norm_placement,
                head=head,
                program=programs.get(spec.name),
                gate_shapes=block_shapes if spec.name in gated_tasks else None,
                gate_rank=gate_ranks.get(spec.name),
                seed=seed,
                dtype=policy,
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
            raise UnknownNameError(
                f"unknown task {task!r}; the model has tasks: {', '.join(self.task_names)}"
            ) from None

    # -- forward ---------------------------------------------------------------

    def call(self, inputs, training=False, sample_step=None):
        if not isinstance(inputs, dict):
            raise TypeError(
                "ComposedModel expects a dict {task name: images}; "
                f"got {type(inputs).__name__} (use call_task for a single task)"
            )
        outputs = self.forward(inputs, training, sample_step)
        return {task: output.logits for task, output in outputs.items()}

    def call_task(self, task, images, training=False):
        """Logits of ``task`` for raw ``[B, H, W, C]`` images of its native shape."""
        return self.forward({task: images}, training)[task].logits

    def features(self, task, images, training=False):
        """``[B, F]``: what ``task``'s classifier reads (the late features that
        domain adaptation compares)."""
        return self.forward({task: images}, training)[task].features

    def forward(self, inputs, training=False, sample_step=None, statistics=None, programs=None):
        """``{task: TaskOutput}`` for ``{task: images}``.

        Args:
          inputs: ``{task: [B, H, W, C] uint8 images}``.
          training: dropout on, ``sampled`` programs drawn (with a
            ``sample_step``), and by default batch statistics.
          sample_step: an int scalar seeding this pass's program draws and dropout.
          statistics: how normalisation gets its moments (:data:`STATISTICS`);
            default ``batch`` in training, ``moving`` otherwise.
          programs: ``{task: [depth] int32}`` IDENTITY-padded programs that
            replace those tasks' own for this pass (scoring candidates).
        """
        statistics = statistics or ("batch" if training else "moving")
        if statistics not in STATISTICS:
            raise InvalidInputError(f"statistics must be one of {STATISTICS}, got {statistics!r}")
        programs = programs or {}
        groups = [[task] for task in inputs]
        if self.fuse_tasks and len(inputs) > 1:
            sizes = {task: images.shape[0] for task, images in inputs.items()}
            if None not in sizes.values() and len(set(sizes.values())) == 1:
                groups = [list(inputs)]
            else:
                # Said aloud: this fallback once hid that training never fused.
                warnings.warn(
                    f"fuse_tasks is on but the batch sizes {sizes} are not all equal and "
                    "known when traced, so the tasks run one by one",
                    RuntimeWarning,
                    stacklevel=2,
                )
        outputs = {}
        for group in groups:
            outputs.update(
                self._run_group(
                    [self.path(task) for task in group],
                    [inputs[task] for task in group],
                    [programs.get(task) for task in group],
                    training,
                    sample_step,
                    statistics,
                )
            )
        return outputs

    def _run_group(self, paths, images, programs, training, sample_step, statistics):
        for path, batch in zip(paths, images, strict=True):
            expected = path.spec.image_shape
            if tuple(batch.shape[1:]) != expected:
                raise InvalidInputError(
                    f"task {path.spec.name!r}: expected images of shape "
                    f"[batch, {', '.join(map(str, expected))}], got {list(batch.shape)}"
                )
        norm = _GroupNormalization(self.bank, paths, statistics)
        x = _concat([path.stem(batch) for path, batch in zip(paths, images, strict=True)])
        x = tf.nn.relu(norm("stem", 0, x))
        mixtures, active = [], []
        for path, program in zip(paths, programs, strict=True):
            if program is None:
                mixtures.append(path(sample_step, training=training))
                active.append(path.active())
            else:
                mixtures.append(tf.one_hot(program, self.bank_size))
                active.append(tf.cast(tf.not_equal(program, IDENTITY), tf.float32))
        mixtures = tf.stack(mixtures, axis=1)  # [L, T, K]
        active = tf.stack(active, axis=1)  # [L, T]
        kernels = self.bank.entry_kernels()  # derived entries built once a pass
        for layer in range(self.depth):
            mix = mixtures[layer]
            deltas = [path.kernel_deltas(mix[t]) for t, path in enumerate(paths)]
            params = self.bank(mix, deltas=deltas, kernels=kernels)
            branch = self.bank.family.apply(
                x, params, lambda site, h, layer=layer, mix=mix: norm(site, layer, h, mix)
            )
            mask = tf.repeat(active[layer], self.channels) if len(paths) > 1 else active[layer, 0]
            x = x + tf.cast(mask, x.dtype) * branch
        x = tf.nn.relu(norm("head", 0, x))
        norm.commit(active)
        outputs = {}
        per_task = tf.split(x, len(paths), axis=-1) if len(paths) > 1 else [x]
        for path, bank_features in zip(paths, per_task, strict=True):
            features, logits = path.head(bank_features, training=training, sample_step=sample_step)
            outputs[path.spec.name] = TaskOutput(features, logits, bank_features)
        return outputs

    # -- programs --------------------------------------------------------------

    def program(self, task: str) -> list[int]:
        """The hard program of ``task`` (its most likely blocks while learned)."""
        return self.path(task).current_program()

    def programs(self) -> dict[str, list[int]]:
        return {task: self.program(task) for task in self.task_names}

    def set_program(self, task: str, program) -> None:
        """Gives ``task`` a hard program; no retrace, any length up to ``depth``."""
        path = self.path(task)
        checked = validate_program(task, program, self.bank_size, self.depth)
        path.program.assign(pad_program(checked, self.depth))
        path.selection.assign(0)

    def learn_program(self, task: str, selection="sampled", logits=None) -> None:
        """Makes ``task``'s program learnable: ``sampled`` (hard forward passes)
        or ``mixed`` (weight mixing); the layers that run stay those of its
        current program.  ``logits`` ``[depth, K]``, if given, start it."""
        if selection not in SELECTIONS[1:]:
            raise InvalidInputError(
                f"task {task!r}: a learned program is 'sampled' or 'mixed', got {selection!r}"
            )
        path = self.path(task)
        if logits is not None:
            path.mixture_logits.assign(np.asarray(logits, np.float32))
        path.selection.assign(SELECTIONS.index(selection))

    def selection(self, task: str) -> str:
        """``hard``, ``sampled`` or ``mixed`` (:data:`compose.core.task_path.SELECTIONS`)."""
        return self.path(task).selection_name()

    def discretise(self, task: str) -> list[int]:
        """Makes a learned program hard: each running layer keeps its most likely block."""
        program = self.program(task)
        self.set_program(task, program)
        return program

    # -- reporting -------------------------------------------------------------

    def parameter_report(self) -> dict[str, dict]:
        """Per task: bank entries used and parameters shared vs owned.

        ``shared_params`` counts the values of the distinct bank entries the
        task's program reads (all K for mixed programs), a derived entry's
        bases included (:meth:`BlockBank.entries_used`); ``own_params`` counts
        the trainable parameters no other task uses.
        """
        report = {}
        for task in self.task_names:
            path = self.path(task)
            mixed = self.selection(task) == "mixed"
            entries = range(self.bank_size) if mixed else self.bank.entries_used(self.program(task))
            shared = sum(self.bank.entry_size(entry) for entry in entries)
            own = path.own_parameter_count()
            report[task] = {
                "program": self.program(task),
                "selection": self.selection(task),
                "bank_blocks_used": len(entries),
                "shared_params": shared,
                "own_params": own,
                "total_params": shared + own,
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
            norm_placement=self.norm_placement,
            head=self.head_kind,
            programs=self.programs(),
            gated_tasks=[path.spec.name for path in self.task_paths if path.gates is not None],
            gate_ranks={
                path.spec.name: path.gates.rank
                for path in self.task_paths
                if path.gates is not None and path.gates.rank is not None
            },
            derived_entries=self.bank.get_config()["derived"],
            seed=self.seed,
            fuse_tasks=self.fuse_tasks,
            precision=self.precision,
        )
        return config


def _concat(features):
    return features[0] if len(features) == 1 else tf.concat(features, axis=-1)


class _GroupNormalization:
    """The normalisation of one forward pass of T tasks stacked on channels.

    Each task's :class:`TaskNormalization` normalises its own channels (with,
    under ``block`` placement, the bank's mixed scale and offset).  With batch
    statistics it records the moments of every site and row, which
    :meth:`commit` folds into (``batch``) or writes over (``refresh``) each
    task's moving statistics once per pass.
    """

    def __init__(self, bank, paths, statistics):
        self.bank = bank
        self.paths = paths
        self.statistics = statistics
        self.moments = [collections.defaultdict(dict) for _ in paths]

    def __call__(self, site, row, h, mix=None):
        tasks = len(self.paths)
        parts = tf.split(h, tasks, axis=-1) if tasks > 1 else [h]
        scales = offsets = [None] * tasks
        if site in self.bank.gamma:
            scale, offset = self.bank.mixed_scale_offset(site, mix)
            scales, offsets = tf.split(scale, tasks), tf.split(offset, tasks)
        moving = self.statistics == "moving"
        outputs = []
        for index, path in enumerate(self.paths):
            y, mean, variance = path.norm(
                parts[index],
                site=site,
                row=row,
                moving=moving,
                scale=scales[index],
                offset=offsets[index],
            )
            if not moving:
                self.moments[index][site][row] = (mean, variance)
            outputs.append(y)
        return _concat(outputs)

    def commit(self, active):
        """Stores the recorded moments in each task's statistics (``batch``:
        folded in with the momentum; ``refresh``: replacing them); bank rows
        whose layer does not run (``active`` ``[L, T]`` is 0) keep theirs."""
        if self.statistics not in ("batch", "refresh"):
            return
        momentum = 0.0 if self.statistics == "refresh" else None
        for index, path in enumerate(self.paths):
            for site, rows in self.moments[index].items():
                means, variances = (tf.stack([rows[r][i] for r in sorted(rows)]) for i in (0, 1))
                row_active = active[:, index] if site not in ("stem", "head") else None
                path.norm.update(site, means, variances, row_active, momentum)
