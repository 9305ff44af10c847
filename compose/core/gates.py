"""Gated specialisation of shared blocks (TAPS, Wallingford et al., 2022).

A task with gates runs every bank block ``k`` as ``W_k + g_k * delta_k``:
``delta_k`` is the task's own weight change (initialised to zero, so a new
task starts exactly on the shared block) and ``g_k = [score_k >= threshold]``
switches it on.  The hard gate's gradient is passed straight through to the
score, and an L1 penalty on the scores turns off the deltas that do not pay
for themselves, so most blocks stay shared and only a few are specialised.

A full delta costs as many values as a clone of the block.  With ``rank``
each kernel's delta is a low-rank product ``left @ right`` (LoRA, Hu et al.,
2021) of its matrix view, ``right`` starting at zero so the delta does too:
at rank 4 a block of the default bank opens for 2,596 values instead of
14,016, which is what lets a size-penalised evolution adapt blocks where it
would otherwise share them unchanged or pay for clones.
"""

import dataclasses
import math

import keras
import numpy as np
import tensorflow as tf
from keras import ops

GATE_INIT = 0.15
"""Initial score of every gate: on, a little above the threshold (TAPS)."""
GATE_THRESHOLD = 0.1


def low_rank_split(shape, rank):
    """``(rows, cols)``: the matrix view of a kernel of ``shape`` whose rank-``rank``
    factors are smallest (a split between two of its axes), or None where they
    would not be smaller than the kernel itself (a full delta is then used)."""
    splits = [(math.prod(shape[:i]), math.prod(shape[i:])) for i in range(1, len(shape))]
    if rank is None or not splits:
        return None
    rows, cols = min(splits, key=sum)
    return (rows, cols) if rank * (rows + cols) < math.prod(shape) else None


def delta_factor_shapes(shape, rank) -> list[tuple[int, ...]]:
    """The factors storing one block's delta of a kernel of ``shape``:
    ``[left, right]`` of its matrix view at ``rank``, or ``[shape]`` (a full
    delta) where low-rank factors would not be smaller."""
    split = low_rank_split(shape, rank)
    if split is None:
        return [tuple(shape)]
    rows, cols = split
    return [(rows, rank), (rank, cols)]


def delta_size(shapes, rank) -> int:
    """Values one block's delta costs, kernels of ``shapes`` at ``rank``
    (:func:`delta_factor_shapes`)."""
    return sum(math.prod(factor) for shape in shapes for factor in delta_factor_shapes(shape, rank))


def delta_from_factors(factors, shape):
    """One delta of ``shape`` (or ``[N, *shape]`` for factors ``[N, ...]``)
    from its factors: the full delta itself, or ``left @ right`` reshaped."""
    if len(factors) == 1:
        return factors[0]
    product = ops.matmul(*factors)
    return ops.reshape(product, (*product.shape[:-2], *shape))


@dataclasses.dataclass(frozen=True)
class GateValues:
    """A snapshot of one task's gates: their rank, their weights (factors in
    order), their ``[K]`` scores and the full deltas the factors make."""

    rank: int | None
    factors: list
    scores: np.ndarray
    deltas: list


@keras.saving.register_keras_serializable(package="compose")
class BlockGates(keras.layers.Layer):
    """One task's weight deltas ``[K, ...]`` per block parameter and ``[K]`` gate scores.

    A call takes the task's mixture over the K blocks at one layer (``[K]``)
    and returns the gated deltas mixed the same way, one per block parameter,
    which the bank adds to its mixed kernels (float32, as the bank mixes).

    Args:
      param_shapes: shape of each parameter of one block, in the bank's order.
      bank_size: K, the blocks that can be specialised.
      threshold: a delta is used where its score is at least this.
      rank: None, full deltas (TAPS); else each kernel's delta is a product of
        rank-``rank`` factors (:func:`low_rank_split`), ``left`` drawn with
        ``seed``, ``right`` zero.
      seed: the ``left`` factors' initialiser seed.
    """

    def __init__(
        self, param_shapes, bank_size, threshold=GATE_THRESHOLD, rank=None, seed=0, **kwargs
    ):
        kwargs["dtype"] = "float32"
        super().__init__(**kwargs)
        self.param_shapes = {name: tuple(shape) for name, shape in param_shapes.items()}
        self.bank_size = bank_size
        self.threshold = threshold
        self.rank = rank
        self.seed = seed
        self.splits = {
            name: low_rank_split(shape, rank) for name, shape in self.param_shapes.items()
        }

    def build(self, input_shape=None):
        self.factors = []  # per parameter: (delta,) or (left, right)
        for index, (name, shape) in enumerate(self.param_shapes.items()):
            split = self.splits[name]
            if split is None:
                parts = [("delta", (self.bank_size, *shape), "zeros")]
            else:
                rows, cols = split
                left = keras.initializers.RandomNormal(
                    stddev=1 / math.sqrt(self.rank), seed=self.seed + index
                )
                parts = [
                    ("left", (self.bank_size, rows, self.rank), left),
                    ("right", (self.bank_size, self.rank, cols), "zeros"),
                ]
            self.factors.append(
                tuple(
                    self.add_weight(name=f"{name}_{part}", shape=part_shape, initializer=init)
                    for part, part_shape, init in parts
                )
            )
        self.scores = self.add_weight(
            name="scores",
            shape=(self.bank_size,),
            initializer=keras.initializers.Constant(GATE_INIT),
        )
        self.built = True

    def gates(self):
        """``[K]`` 1.0 where a block's delta is on; gradient straight to the scores."""
        on = ops.cast(ops.greater_equal(self.scores, self.threshold), self.scores.dtype)
        return self.scores + tf.stop_gradient(on - self.scores)

    def call(self, mix):
        """``mix`` ``[K]`` -> the mixed gated deltas, one per block parameter
        (in the bank's order)."""
        gates = self.gates()
        deltas = self._deltas()
        return [
            ops.tensordot(mix, delta * ops.reshape(gates, [-1] + [1] * (len(delta.shape) - 1)), 1)
            for delta in deltas
        ]

    def _deltas(self):
        """Every block's delta of every parameter, ``[K, *shape]`` each."""
        return [
            delta_from_factors(factors, shape)
            for factors, shape in zip(self.factors, self.param_shapes.values(), strict=True)
        ]

    def full_deltas(self) -> list[np.ndarray]:
        """The deltas as values, ``[K, *shape]`` per parameter, whatever the rank."""
        return [ops.convert_to_numpy(delta) for delta in self._deltas()]

    def snapshot(self) -> "GateValues":
        """These gates' values, to :meth:`restore` into another task's gates."""
        return GateValues(
            self.rank,
            [np.array(v) for factors in self.factors for v in factors],
            np.array(self.scores),
            self.full_deltas(),
        )

    def restore(self, values, rows) -> None:
        """Takes ``values`` (a :meth:`snapshot`) row by row: ``rows`` maps a
        bank entry of these gates to the snapshot's entry it inherits.  Other
        entries keep their initial factors (a zero delta) with a closed gate
        (score 0).  At another rank the inherited deltas are refactored
        (:meth:`assign_deltas`)."""

        def inherited(initial, source):
            result = np.array(initial, np.float32)
            for mine, theirs in rows.items():
                result[mine] = source[theirs]
            return result

        scores = inherited(np.zeros(self.scores.shape), values.scores)
        if values.rank == self.rank:
            variables = [v for factors in self.factors for v in factors]
            for variable, source in zip(variables, values.factors, strict=True):
                variable.assign(inherited(variable, source))
            self.scores.assign(scores)
        else:
            shape = (self.bank_size,)
            deltas = [inherited(np.zeros(shape + d.shape[1:]), d) for d in values.deltas]
            self.assign_deltas(deltas, scores)

    def assign_deltas(self, deltas, scores) -> None:
        """Takes full ``deltas`` (as :meth:`full_deltas` gives) and ``scores``,
        ``[K]`` each.  At a rank, each block's delta is factored by its truncated
        SVD (exact when the delta's rank is at most this one's); directions
        with nothing to carry (singular values below 1e-5 of the largest) keep
        this layer's initial ``left`` so they can still learn."""
        for factors, delta, split in zip(self.factors, deltas, self.splits.values(), strict=True):
            if split is None:
                factors[0].assign(delta)
                continue
            left, right = np.array(factors[0]), np.zeros(factors[1].shape, np.float32)
            for block in range(self.bank_size):
                u, sigma, vt = np.linalg.svd(np.reshape(delta[block], split), full_matrices=False)
                for j in np.flatnonzero(sigma[: self.rank] > 1e-5 * sigma[0]):
                    left[block, :, j] = u[:, j] * np.sqrt(sigma[j])
                    right[block, j] = np.sqrt(sigma[j]) * vt[j]
            factors[0].assign(left)
            factors[1].assign(right)
        self.scores.assign(scores)

    def sparsity(self):
        """``sum |score|``: the L1 penalty that switches gates off."""
        return ops.sum(ops.abs(self.scores))

    def open_blocks(self, program=None) -> list[int]:
        """Blocks whose delta is on, among those ``program`` runs (default: all)."""
        scores = ops.convert_to_numpy(self.scores)
        blocks = range(self.bank_size) if program is None else set(program)
        return sorted(k for k in blocks if scores[k] >= self.threshold)

    def parameter_count(self, program) -> int:
        """Values ``program`` needs: the scores and its open deltas (closed or
        unused deltas are zero or never read, so a stored model can drop them)."""
        return self.bank_size + len(self.open_blocks(program)) * self.delta_size

    @property
    def delta_size(self) -> int:
        """Values one block's open delta costs: its kernels in full, or their factors."""
        return delta_size(self.param_shapes.values(), self.rank)

    def copy_from(self, other):
        """Takes ``other``'s deltas and scores; blocks this bank has beyond
        ``other``'s keep a zero delta and a closed gate (:meth:`restore`)."""
        self.restore(other.snapshot(), {block: block for block in range(other.bank_size)})

    def get_config(self):
        config = super().get_config()
        config.update(
            param_shapes=self.param_shapes,
            bank_size=self.bank_size,
            threshold=self.threshold,
            rank=self.rank,
            seed=self.seed,
        )
        return config
