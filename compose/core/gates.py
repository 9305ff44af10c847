"""Gated specialisation of shared blocks (TAPS, Wallingford et al., 2022).

A task with gates runs every bank block ``k`` as ``W_k + g_k * delta_k``:
``delta_k`` is the task's own weight change (initialised to zero, so a new
task starts exactly on the shared block) and ``g_k = [score_k >= threshold]``
switches it on.  The hard gate's gradient is passed straight through to the
score, and an L1 penalty on the scores turns off the deltas that do not pay
for themselves, so most blocks stay shared and only a few are specialised.
"""

import keras
import numpy as np
import tensorflow as tf
from keras import ops

GATE_INIT = 0.15
"""Initial score of every gate: on, a little above the threshold (TAPS)."""
GATE_THRESHOLD = 0.1


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
    """

    def __init__(self, param_shapes, bank_size, threshold=GATE_THRESHOLD, **kwargs):
        kwargs["dtype"] = "float32"
        super().__init__(**kwargs)
        self.param_shapes = {name: tuple(shape) for name, shape in param_shapes.items()}
        self.bank_size = bank_size
        self.threshold = threshold

    def build(self, input_shape=None):
        self.deltas = [
            self.add_weight(
                name=f"{name}_delta", shape=(self.bank_size, *shape), initializer="zeros"
            )
            for name, shape in self.param_shapes.items()
        ]
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
        return [
            ops.tensordot(mix, delta * ops.reshape(gates, [-1] + [1] * (len(delta.shape) - 1)), 1)
            for delta in self.deltas
        ]

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
        delta_size = sum(int(np.prod(shape)) for shape in self.param_shapes.values())
        return self.bank_size + len(self.open_blocks(program)) * delta_size

    def copy_from(self, other):
        """Takes ``other``'s deltas and scores; blocks this bank has beyond
        ``other``'s get zero deltas and closed gates (score 0)."""
        for mine, theirs in zip(self.weights, other.weights, strict=True):
            values = np.zeros(mine.shape, np.float32)
            values[: other.bank_size] = np.asarray(theirs)
            mine.assign(values)

    def get_config(self):
        config = super().get_config()
        config.update(
            param_shapes=self.param_shapes, bank_size=self.bank_size, threshold=self.threshold
        )
        return config
