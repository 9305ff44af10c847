"""The shared bank: K interchangeable blocks stored as stacked weights."""

import keras
import numpy as np
import tensorflow as tf

import blocks
from compose.core.gates import delta_factor_shapes, delta_from_factors, delta_size
from compose.core.normalization import PLACEMENTS
from compose.core.program import entries_read
from compose.errors import InvalidInputError
from compose.seeds import derive_seed


def _stack_tasks(weights, axis):
    """``[T, *shape]`` -> ``shape`` with the T copies concatenated along ``axis``."""
    count, *shape = weights.shape
    if count == 1:
        return weights[0]
    axis %= len(shape)
    order = list(range(1, axis + 1)) + [0] + list(range(axis + 1, len(shape) + 1))
    merged = shape[:axis] + [count * shape[axis]] + shape[axis + 1 :]
    return tf.reshape(tf.transpose(weights, order), merged)


@keras.saving.register_keras_serializable(package="compose")
class BlockBank(keras.layers.Layer):
    """K blocks of one isometric family, each parameter kind one ``[K, ...]`` weight.

    An entry of the bank is stored in full (a row of each stacked weight) or,
    as a *derived* entry, as an earlier entry (its base) plus a frozen delta
    of its kernels in low-rank factors (:func:`compose.core.gates.delta_factor_shapes`):
    what a grown task's opened gates leave behind
    (:func:`compose.grow.continual.adopt_gated_deltas`), so that later tasks
    run an adapted block for the price of its delta instead of a clone.  A
    derived entry shares its base's normalisation scale and offset.  Its
    kernels are rebuilt once a forward pass (:meth:`entry_kernels`); a bank
    without derived entries runs its stacked weights as they are.

    A layer of a task selects its block through a mixture vector over the K
    blocks: the block *weights* are mixed (``mix @ w``), then one block runs.
    A one-hot mixture is exactly a hard program (``0 * w`` adds exact zeros);
    a softmax mixture is the paper's weight mixing.  Both take the same code
    path, the gradient reaching the bank is dense (no ``IndexedSlices``), and a
    program held in a variable never causes a retrace.

    A call takes the ``[T, K]`` mixtures of T tasks at one layer and returns
    that layer's kernels; they are mixed in float32 and returned in the
    layer's compute dtype (its ``dtype`` policy, :func:`compose.core.layers.compute_policy`).

    With ``norm_placement="block"`` each block also owns the scale and offset
    of its normalisation sites, ``[K, channels]``, mixed the same way
    (:meth:`mixed_scale_offset`).

    Its shape has no defaults of its own: :class:`compose.ComposedModel`
    passes its own.

    Args:
      block: name of a family in :mod:`blocks`.
      bank_size: K, the number of blocks.
      channels: C, the width every block keeps.
      norm_placement: one of :data:`compose.core.normalization.PLACEMENTS`.
      seed: the run's seed; each kernel's initialiser derives its own from it.
      derived: ``[entry, base, rank]`` per derived entry (rank None: full
        deltas); ``base < entry``.  Their factors are not trainable.

    Example:
      >>> bank = BlockBank("inverted_bottleneck", 4, channels=16, norm_placement="task_layer")
      >>> bank.build()
      >>> bank.block_size
      3936
    """

    def __init__(self, block, bank_size, channels, norm_placement, seed=0, derived=(), **kwargs):
        # Mixtures are not cast to the compute dtype: blocks mix in float32.
        super().__init__(autocast=False, **kwargs)
        if bank_size < 1:
            raise InvalidInputError(f"bank_size must be at least 1, got {bank_size}")
        if channels < 1:
            raise InvalidInputError(f"channels must be at least 1, got {channels}")
        if norm_placement not in PLACEMENTS:
            raise InvalidInputError(
                f"unknown norm_placement {norm_placement!r}; choose one of: {', '.join(PLACEMENTS)}"
            )
        self.block = block
        self.bank_size = bank_size
        self.channels = channels
        self.norm_placement = norm_placement
        self.seed = seed
        self.family = blocks.get_family(block)
        self.param_specs = self.family.param_specs(channels)
        self.norm_sites = self.family.norm_sites(channels)
        self.derived = _checked_derived(derived, bank_size)
        self.bases = {entry: base for entry, (base, _) in self.derived.items()}
        """``{derived entry: the entry it derives from}``."""
        self.stored_entries = [e for e in range(bank_size) if e not in self.derived]
        """The entries stored in full, in the order of the stacked weights' rows."""
        # Every entry's place in [stored rows, derived entries in order].
        places = {e: place for place, e in enumerate([*self.stored_entries, *self.derived])}
        self._order = [places[e] for e in range(bank_size)]
        self._scale_rows = [places[self.stored_base(e)] for e in range(bank_size)]

    def build(self, input_shape=None):
        stored = len(self.stored_entries)
        self.kernels = [
            self.add_weight(
                name=name,
                shape=(stored, *spec.shape),
                initializer=keras.initializers.RandomNormal(
                    stddev=spec.init_stddev, seed=derive_seed(self.seed, "bank", name)
                ),
                autocast=False,
            )
            for name, spec in self.param_specs.items()
        ]
        self.gamma, self.beta = {}, {}
        if self.norm_placement == "block":
            for site, width in self.norm_sites.items():
                self.gamma[site] = self.add_weight(
                    name=f"{site}_gamma",
                    shape=(stored, width),
                    initializer="ones",
                    autocast=False,
                )
                self.beta[site] = self.add_weight(
                    name=f"{site}_beta",
                    shape=(stored, width),
                    initializer="zeros",
                    autocast=False,
                )
        self.deltas = {  # per derived entry, per kernel: its delta's factors
            entry: [
                tuple(
                    self.add_weight(
                        name=f"entry{entry}_{name}_{part}",
                        shape=shape,
                        initializer="zeros",
                        trainable=False,
                        autocast=False,
                    )
                    for part, shape in _named_factors(delta_factor_shapes(spec.shape, rank))
                )
                for name, spec in self.param_specs.items()
            ]
            for entry, (_, rank) in self.derived.items()
        }
        self.built = True

    def stored_base(self, entry) -> int:
        """The stored entry ``entry`` derives from (itself when stored): the
        first of its chain, as every base comes before its entries."""
        return min(self.entries_used([entry]))

    def entries_used(self, program) -> set[int]:
        """The entries ``program`` reads: its own and every base they derive from."""
        return entries_read(program, self.bases)

    def entry_size(self, entry) -> int:
        """Values ``entry`` adds to the bank: a block, or a derived entry's factors."""
        if entry not in self.derived:
            return self.block_size
        return delta_size(
            [spec.shape for spec in self.param_specs.values()], self.derived[entry][1]
        )

    def parameter_count(self) -> int:
        """Values the bank holds: every stored block and every derived entry's factors."""
        return sum(self.entry_size(entry) for entry in range(self.bank_size))

    def entry_kernels(self):
        """Every entry's kernels, ``[K, *shape]`` per parameter: the stacked
        weights themselves when no entry is derived."""
        if not self.derived:
            return list(self.kernels)
        result = []
        for index, spec in enumerate(self.param_specs.values()):
            values = {}  # derived entry -> its kernel, bases before their entries
            for entry, (base, _) in self.derived.items():
                start = values[base] if base in values else self.kernels[index][self._order[base]]
                values[entry] = start + delta_from_factors(self.deltas[entry][index], spec.shape)
            stacked = tf.concat([self.kernels[index], tf.stack(list(values.values()))], axis=0)
            result.append(tf.gather(stacked, self._order))
        return result

    def _entry_scales(self, weights):
        """A ``[K, width]`` scale or offset per entry (derived ones read their base's)."""
        return tf.gather(weights, self._scale_rows) if self.derived else weights

    @property
    def block_size(self) -> int:
        """Parameters in one block (with its scales and offsets under ``block`` placement)."""
        scales = 2 * sum(self.norm_sites.values()) if self.norm_placement == "block" else 0
        return self.family.block_size(self.channels) + scales

    def call(self, mix, deltas=None, kernels=None):
        """Every parameter of one layer for T tasks, as the family's ``apply`` takes them.

        Args:
          mix: ``[T, K]`` weight of each block for each task.
          deltas: per task, None or its own change of each kernel, already
            mixed (what its :class:`compose.core.gates.BlockGates` returns).
          kernels: :meth:`entry_kernels`, when the caller built them once for
            every layer of a pass (default: built here).

        Returns:
          ``{name: kernel}``, the T tasks' kernels concatenated along the
          parameter's ``stack_axis`` (plain kernels for one task), in the
          compute dtype.
        """
        params = {}
        kernels = self.entry_kernels() if kernels is None else kernels
        for index, (name, spec) in enumerate(self.param_specs.items()):
            weights = tf.tensordot(mix, kernels[index], axes=1)
            if deltas is not None and any(d is not None for d in deltas):
                weights += tf.stack(
                    [
                        tf.zeros(spec.shape) if task_deltas is None else task_deltas[index]
                        for task_deltas in deltas
                    ]
                )
            params[name] = tf.cast(_stack_tasks(weights, spec.stack_axis), self.compute_dtype)
        return params

    def mixed_scale_offset(self, site, mix):
        """``block`` placement: site ``site``'s scale and offset for T tasks,
        ``[T * channels]`` each (task-major)."""
        return (
            tf.reshape(tf.matmul(mix, self._entry_scales(self.gamma[site])), [-1]),
            tf.reshape(tf.matmul(mix, self._entry_scales(self.beta[site])), [-1]),
        )

    def stored_weights(self) -> list:
        """The stacked weights, a row per stored entry: kernels, then scales and offsets."""
        return self.kernels + [
            w for site in self.gamma for w in (self.gamma[site], self.beta[site])
        ]

    def stored_row(self, entry) -> int:
        """The row of :meth:`stored_weights` holding the stored entry ``entry``."""
        if entry in self.derived:
            raise InvalidInputError(f"bank entry {entry} is derived, not stored in full")
        return self._order[entry]

    def entry_values(self, entry, kernels=None) -> list[np.ndarray]:
        """``entry``'s values in :meth:`stored_weights`' order (a derived entry's
        kernels with its delta added, its base's scales and offsets);
        ``kernels`` are :meth:`entry_kernels` when the caller has them."""
        kernels = [np.asarray(k[entry]) for k in kernels or self.entry_kernels()]
        row = self._scale_rows[entry]
        return kernels + [np.asarray(w)[row] for w in self.stored_weights()[len(kernels) :]]

    def copy_blocks_from(self, other, clones=()):
        """Takes ``other``'s entries (stored and derived alike), then stored
        copies of its entries ``clones`` as this bank's next stored entries;
        entries after those must be derived ones, whose factors the caller sets."""
        clones = [int(c) for c in clones]
        added = [e for e in range(other.bank_size, self.bank_size) if e not in self.derived]
        same = {e: d for e, d in self.derived.items() if e < other.bank_size} == other.derived
        if not same or added != list(range(other.bank_size, other.bank_size + len(clones))):
            raise InvalidInputError(
                f"a bank of {self.bank_size} entries deriving {self.derived} cannot take the "
                f"{other.bank_size} entries of one deriving {other.derived} and {len(clones)} "
                "clones"
            )
        kernels = other.entry_kernels() if clones else None  # built once for every clone
        copies = [other.entry_values(parent, kernels) for parent in clones]
        for index, (mine, theirs) in enumerate(
            zip(self.stored_weights(), other.stored_weights(), strict=True)
        ):
            values = np.asarray(mine).copy()
            values[: len(other.stored_entries)] = np.asarray(theirs)
            for entry, copy in zip(added, copies, strict=True):
                values[self.stored_row(entry)] = copy[index]
            mine.assign(values)
        for entry, factors in other.deltas.items():
            for mine, theirs in zip(self.deltas[entry], factors, strict=True):
                for variable, value in zip(mine, theirs, strict=True):
                    variable.assign(value)

    def get_config(self):
        config = super().get_config()
        config.update(
            block=self.block,
            bank_size=self.bank_size,
            channels=self.channels,
            norm_placement=self.norm_placement,
            seed=self.seed,
            derived=[[entry, base, rank] for entry, (base, rank) in self.derived.items()],
        )
        return config


def _named_factors(shapes):
    """``(name, shape)`` of a delta's factors: ``delta``, or ``left`` and ``right``."""
    return zip(("delta",) if len(shapes) == 1 else ("left", "right"), shapes, strict=True)


def _checked_derived(derived, bank_size) -> dict[int, tuple[int, int | None]]:
    """``{entry: (base, rank)}`` in entry order; raises InvalidInputError on
    an entry outside the bank, given twice, or not after its base, or a rank below 1."""
    checked = {}
    for entry, base, rank in sorted((int(e), int(b), r) for e, b, r in derived):
        if entry in checked or not 0 <= base < entry < bank_size:
            raise InvalidInputError(
                f"derived entry {entry} of base {base}: each entry is given once, within "
                f"0..{bank_size - 1}, after its base"
            )
        if rank is not None and int(rank) < 1:
            raise InvalidInputError(f"derived entry {entry}: rank must be at least 1, got {rank}")
        checked[entry] = (base, None if rank is None else int(rank))
    return checked
