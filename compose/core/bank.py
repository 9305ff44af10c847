"""The shared bank: K interchangeable blocks stored as stacked weights."""

import keras
import numpy as np
import tensorflow as tf

import blocks
from compose.core.normalization import PLACEMENTS
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

    Example:
      >>> bank = BlockBank("inverted_bottleneck", 4, channels=16, norm_placement="task_layer")
      >>> bank.build()
      >>> bank.block_size
      3936
    """

    def __init__(self, block, bank_size, channels, norm_placement, seed=0, **kwargs):
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

    def build(self, input_shape=None):
        self.kernels = [
            self.add_weight(
                name=name,
                shape=(self.bank_size, *spec.shape),
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
                    shape=(self.bank_size, width),
                    initializer="ones",
                    autocast=False,
                )
                self.beta[site] = self.add_weight(
                    name=f"{site}_beta",
                    shape=(self.bank_size, width),
                    initializer="zeros",
                    autocast=False,
                )
        self.built = True

    @property
    def block_size(self) -> int:
        """Parameters in one block (with its scales and offsets under ``block`` placement)."""
        scales = 2 * sum(self.norm_sites.values()) if self.norm_placement == "block" else 0
        return self.family.block_size(self.channels) + scales

    def call(self, mix, deltas=None):
        """Every parameter of one layer for T tasks, as the family's ``apply`` takes them.

        Args:
          mix: ``[T, K]`` weight of each block for each task.
          deltas: per task, None or its own change of each kernel, already
            mixed (what its :class:`compose.core.gates.BlockGates` returns).

        Returns:
          ``{name: kernel}``, the T tasks' kernels concatenated along the
          parameter's ``stack_axis`` (plain kernels for one task), in the
          compute dtype.
        """
        params = {}
        for index, (name, spec) in enumerate(self.param_specs.items()):
            weights = tf.tensordot(mix, self.kernels[index], axes=1)
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
            tf.reshape(tf.matmul(mix, self.gamma[site]), [-1]),
            tf.reshape(tf.matmul(mix, self.beta[site]), [-1]),
        )

    def copy_blocks_from(self, other, clones=()):
        """Takes ``other``'s blocks, then copies of its blocks ``clones``, in
        order (this bank has ``other.bank_size + len(clones)`` blocks)."""
        rows = list(range(other.bank_size)) + [int(c) for c in clones]
        if len(rows) != self.bank_size:
            raise InvalidInputError(
                f"a bank of {self.bank_size} blocks cannot take {other.bank_size} blocks "
                f"and {len(clones)} clones"
            )
        for mine, theirs in zip(self.weights, other.weights, strict=True):
            mine.assign(np.asarray(theirs)[rows])

    def get_config(self):
        config = super().get_config()
        config.update(
            block=self.block,
            bank_size=self.bank_size,
            channels=self.channels,
            norm_placement=self.norm_placement,
            seed=self.seed,
        )
        return config
