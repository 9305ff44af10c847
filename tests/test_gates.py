"""Low-rank gated deltas: their size, their start on the shared blocks, their
refactoring, a model that keeps its tasks' ranks through a save, and serving."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from test_continual import logits, new_task_split, trained_two_task_model

from compose import TaskSpec
from compose.core.gates import BlockGates, low_rank_split
from compose.core.model import ComposedModel
from compose.errors import InvalidInputError
from compose.grow.continual import add_task
from compose.serving import export_saved_model

NEW = TaskSpec("halves", (7, 7, 1), 2)


@pytest.mark.parametrize(
    "shape, rank, split",
    [
        ((1, 1, 32, 192), 4, (32, 192)),  # a 1x1 convolution: input by output channels
        ((3, 3, 192, 1), 4, (9, 192)),  # a depthwise one: taps by channels
        ((3, 3, 32, 32), 4, (288, 32)),
        ((3, 3, 32, 32), 32, None),  # 32 * (288 + 32) > 9216: the full delta is smaller
        ((32,), 1, None),
        ((1, 1, 4, 24), None, None),
    ],
)
def test_a_kernel_is_factored_along_its_cheapest_split(shape, rank, split):
    assert low_rank_split(shape, rank) == split


def test_an_open_low_rank_delta_costs_its_factors():
    gates = BlockGates({"expand": (1, 1, 32, 192), "bias": (32,)}, bank_size=3, rank=4)
    gates.build()
    assert gates.delta_size == 4 * (32 + 192) + 32
    gates.scores.assign([0.2, 0.0, 0.3])
    assert gates.parameter_count([0, 1]) == 3 + gates.delta_size  # block 1 is closed
    full = BlockGates({"expand": (1, 1, 32, 192), "bias": (32,)}, bank_size=3)
    full.build()
    assert full.delta_size == 32 * 192 + 32


def test_factors_hold_a_delta_of_their_rank_exactly():
    gates = BlockGates({"w": (1, 1, 6, 10)}, bank_size=2, rank=2, seed=3)
    gates.build()
    rng = np.random.default_rng(0)
    delta = np.stack([rng.normal(size=(6, 2)) @ rng.normal(size=(2, 10)) for _ in range(2)])
    delta = delta.reshape(2, 1, 1, 6, 10).astype(np.float32)
    gates.assign_deltas([delta], np.array([0.3, 0.0], np.float32))
    np.testing.assert_allclose(gates.full_deltas()[0], delta, atol=1e-5)
    np.testing.assert_array_equal(gates.scores, np.array([0.3, 0.0], np.float32))
    # Only the open block's delta reaches the mixed kernel.
    np.testing.assert_allclose(gates(tf.constant([1.0, 0.0]))[0], delta[0], atol=1e-5)
    np.testing.assert_array_equal(gates(tf.constant([0.0, 1.0]))[0], np.zeros((1, 1, 6, 10)))


def test_a_low_rank_gated_task_starts_on_the_shared_blocks_and_learns():
    old = trained_two_task_model()
    images = tf.constant(new_task_split().images[:8])
    plain = add_task(old, NEW, [0, 1], seed=9)
    gated = add_task(old, NEW, [0, 1], gated=True, gate_rank=2, seed=9)
    gated.path(NEW.name).copy_from(plain.path(NEW.name))
    np.testing.assert_array_equal(
        gated.call_task(NEW.name, images).numpy(), plain.call_task(NEW.name, images).numpy()
    )
    # The right factors start at zero; the left ones carry the gradient to them.
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(gated.call_task(NEW.name, images) ** 2)
    gates = gated.path(NEW.name).gates
    right = [factors[1] for factors in gates.factors if len(factors) == 2]
    assert right and all(float(tf.reduce_max(tf.abs(g))) > 0 for g in tape.gradient(loss, right))


def test_a_saved_system_keeps_its_tasks_ranks_and_outputs(tmp_path):
    old = trained_two_task_model()
    grown = add_task(old, NEW, [0, 1], gated=True, gate_rank=2, seed=9)
    gates = grown.path(NEW.name).gates
    for factors in gates.factors:  # a trained delta
        factors[-1].assign(factors[-1] + 0.05)
    assert grown.get_config()["gate_ranks"] == {NEW.name: 2}
    path = str(tmp_path / "model.keras")
    grown.save(path)
    loaded = keras.saving.load_model(path)
    inputs = {"bars": new_task_split().images[:4, :6, :6], NEW.name: new_task_split().images[:4]}
    for task, values in logits(grown, inputs).items():
        np.testing.assert_array_equal(logits(loaded, inputs)[task], values)
    assert loaded.path(NEW.name).gates.rank == 2
    # The next task keeps this one's rank, and with it its outputs.
    later = add_task(loaded, TaskSpec("later", (7, 7, 1), 2), [1])
    np.testing.assert_array_equal(logits(later, inputs)[NEW.name], logits(grown, inputs)[NEW.name])


def test_a_low_rank_gated_task_is_served_as_the_library_computes_it(tmp_path):
    grown = add_task(trained_two_task_model(), NEW, [0, 1], gated=True, gate_rank=2, seed=9)
    for factors in grown.path(NEW.name).gates.factors:
        factors[-1].assign(factors[-1] + 0.05)
    loaded = tf.saved_model.load(export_saved_model(grown, str(tmp_path), version=1))
    images = tf.constant(new_task_split().images[:5])
    served = loaded.signatures[f"serve_{NEW.name}"](images=images)["logits"].numpy()
    expected = grown.call_task(NEW.name, images, training=False).numpy()
    np.testing.assert_allclose(served, expected, atol=1e-5)


def test_ranks_must_name_gated_tasks_and_be_positive():
    specs = [TaskSpec("a", (8, 8, 1), 2), TaskSpec("b", (8, 8, 1), 2)]
    shape = {"bank_size": 2, "depth": 2, "channels": 4, "resolution": 4}
    with pytest.raises(InvalidInputError, match=r"gate_ranks given for \['b'\]"):
        ComposedModel(specs, gated_tasks=["a"], gate_ranks={"b": 2}, **shape)
    with pytest.raises(InvalidInputError, match="gate_ranks must be at least 1"):
        ComposedModel(specs, gated_tasks=["a"], gate_ranks={"a": 0}, **shape)
