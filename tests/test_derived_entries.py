"""Derived bank entries: an adapted block kept as its base plus a frozen low-rank delta.

A grown task's opened gated deltas become such entries
(:func:`compose.grow.continual.adopt_gated_deltas`), so later tasks can run
them, charged the delta's values rather than a clone's.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import random_images

from compose import ComposedModel, TaskSpec
from compose.core.bank import BlockBank
from compose.core.gates import delta_factor_shapes
from compose.grow.continual import add_task, adopt_gated_deltas
from compose.grow.system import system_parameter_count
from compose.search import task_objective
from compose.serving import export_saved_model
from compose.training import Supervised, Trainer, build_optimizer
from tasks import Split

CHANNELS = 8


def randomise(variables, seed, scale=0.1):
    rng = np.random.default_rng(seed)
    for variable in variables:
        variable.assign(rng.normal(0, scale, variable.shape).astype(np.float32))


def product(factors, shape):
    """A delta from its factors, in NumPy."""
    values = [np.asarray(f) for f in factors]
    return values[0] if len(values) == 1 else np.reshape(values[0] @ values[1], shape)


def test_a_derived_entry_runs_its_base_plus_its_delta_and_shares_its_scales():
    bank = BlockBank("inverted_bottleneck", 4, CHANNELS, "block", derived=[[3, 2, 1], [2, 0, 2]])
    bank.build()
    randomise(bank.weights, seed=0)
    assert bank.stored_entries == [0, 1] and bank.kernels[0].shape[0] == 2
    kernels = [np.asarray(k) for k in bank.entry_kernels()]
    for index, (kernel, spec) in enumerate(zip(kernels, bank.param_specs.values(), strict=True)):
        stored = np.asarray(bank.kernels[index])
        np.testing.assert_array_equal(kernel[:2], stored)
        entry2 = stored[0] + product(bank.deltas[2][index], spec.shape)
        np.testing.assert_allclose(kernel[2], entry2, rtol=1e-6, atol=1e-7)
        entry3 = entry2 + product(bank.deltas[3][index], spec.shape)
        np.testing.assert_allclose(kernel[3], entry3, rtol=1e-6, atol=1e-7)
    scale, offset = bank.mixed_scale_offset("expand", tf.constant([[0.0, 0.0, 0.0, 1.0]]))
    np.testing.assert_array_equal(scale, np.asarray(bank.gamma["expand"])[0])
    np.testing.assert_array_equal(offset, np.asarray(bank.beta["expand"])[0])

    assert bank.entries_used([3, 1]) == {0, 1, 2, 3} and bank.stored_base(3) == 0
    sizes = {
        rank: sum(
            int(np.prod(shape))
            for spec in bank.param_specs.values()
            for shape in delta_factor_shapes(spec.shape, rank)
        )
        for rank in (1, 2)
    }
    assert [bank.entry_size(e) for e in range(4)] == [bank.block_size] * 2 + [sizes[2], sizes[1]]
    assert bank.parameter_count() == 2 * bank.block_size + sizes[1] + sizes[2]
    assert not any(w.trainable for factors in bank.deltas.values() for f in factors for w in f)
    copy = BlockBank.from_config(bank.get_config())
    copy.build()
    assert copy.derived == {2: (0, 2), 3: (2, 1)}


@pytest.mark.parametrize(
    ("derived", "message"),
    [
        ([[1, 1, 2]], "entry 1 of base 1: each entry is given once, within 0..3, after its base"),
        ([[4, 0, 2]], "entry 4 of base 0"),
        ([[2, 0, 2], [2, 1, 2]], "entry 2 of base 1"),
        ([[2, 0, 0]], "derived entry 2: rank must be at least 1, got 0"),
    ],
)
def test_bad_derived_entries_are_named(derived, message):
    with pytest.raises(ValueError, match=message):
        BlockBank("inverted_bottleneck", 4, CHANNELS, "block", derived=derived)


@pytest.fixture(scope="module")
def adopted():
    """``(gated model, adopted model, images)``: task ``b`` opened gated deltas
    on root block 0 and on its own clone 3 (entry 2 is open but not run)."""
    root = ComposedModel(
        [TaskSpec("a", (8, 8, 1), 3)],
        bank_size=3,
        depth=3,
        channels=CHANNELS,
        resolution=4,
        programs={"a": [0, 1, 2]},
    )
    randomise(root.trainable_variables, seed=1)
    gated = add_task(root, TaskSpec("b", (8, 8, 1), 4), [0, 3, 1], [2], True, gate_rank=2, seed=3)
    randomise([v for f in gated.path("b").gates.factors for v in f], seed=2)
    gated.path("b").gates.scores.assign([0.2, 0.0, 0.3, 0.2])
    images = {t: random_images((8, 8, 1), 8, seed=i) for i, t in enumerate(("a", "b"))}
    return gated, adopt_gated_deltas(gated, "b", own_entries=[3]), images


def logits(model, images):
    return {t: model.call_task(t, tf.constant(x)).numpy() for t, x in images.items()}


def test_adopted_deltas_become_bank_entries_and_no_task_changes(adopted, tmp_path):
    gated, model, images = adopted
    assert model.path("b").gates is None and model.get_config()["gated_tasks"] == []
    assert model.bank.derived == {4: (0, 2)} and model.program("b") == [4, 3, 1]
    before, after = logits(gated, images), logits(model, images)
    np.testing.assert_array_equal(after["a"], before["a"])
    np.testing.assert_allclose(after["b"], before["b"], rtol=1e-6, atol=1e-6)
    deltas = gated.path("b").gates.full_deltas()
    for kernel, old, delta in zip(model.bank.kernels, gated.bank.kernels, deltas, strict=True):
        np.testing.assert_array_equal(np.asarray(kernel)[:3], np.asarray(old)[:3])
        np.testing.assert_array_equal(np.asarray(kernel)[3], np.asarray(old)[3] + delta[3])
    # The task's scores and two open deltas leave it: the one on block 0 joins
    # the bank at its own size, the one merged into its clone costs nothing.
    delta_size = gated.path("b").gates.delta_size
    assert model.bank.entry_size(4) == delta_size
    saved = gated.bank_size + delta_size
    assert system_parameter_count(model) == system_parameter_count(gated) - saved
    model.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras")
    assert loaded.bank.derived == {4: (0, 2)}
    for task, expected in logits(model, images).items():
        np.testing.assert_array_equal(logits(loaded, images)[task], expected)


def test_a_later_task_runs_an_adapted_block_pays_its_share_and_changes_nothing(adopted, tmp_path):
    _, model, images = adopted
    grown = add_task(model, TaskSpec("c", (7, 7, 1), 2), [4, 5], clones=[4], seed=5)
    objective = task_objective(grown, "c", None, 1, 0.9)
    own = objective.own_params
    # Entry 4 is b's (and c's); its base, block 0, is a's and b's (and c's).
    assert (
        objective.charged_params([4])
        == own + grown.bank.entry_size(4) / 2 + grown.bank.block_size / 3
    )
    assert objective.charged_params([5]) == own + grown.bank.block_size
    for kernel, clone in zip(grown.bank.entry_kernels(), grown.bank.entry_values(5), strict=False):
        np.testing.assert_array_equal(np.asarray(kernel)[4], clone)

    rng = np.random.default_rng(0)
    split = Split(rng.integers(0, 256, (32, 7, 7, 1), np.uint8), rng.integers(0, 2, 32, np.int32))
    frozen = [np.asarray(v).copy() for v in grown.bank.weights]
    Trainer(
        grown,
        build_optimizer("adam", 1e-2, grown.trainable_variables),
        tf.distribute.get_strategy(),
        {"c": split},
        [Supervised("c")],
        batch_size=16,
        frozen_blocks=range(model.bank_size),
    ).train(5, verbose=False)
    after = logits(grown, images)
    for task, expected in logits(model, images).items():
        np.testing.assert_array_equal(after[task], expected)
    clone_row = grown.bank.stored_row(5)
    for weight, old in zip(grown.bank.weights, frozen, strict=True):
        rows = [r for r in range(len(old)) if r != clone_row] if weight.trainable else slice(None)
        np.testing.assert_array_equal(np.asarray(weight)[rows], old[rows])
    assert not np.array_equal(np.asarray(grown.bank.kernels[0])[clone_row], frozen[0][clone_row])

    loaded = tf.saved_model.load(export_saved_model(grown, str(tmp_path), version=1))
    images["c"] = random_images((7, 7, 1), 8, seed=4)
    for task, expected in logits(grown, images).items():
        served = loaded.signatures[f"serve_{task}"](images=tf.constant(images[task]))["logits"]
        np.testing.assert_allclose(served.numpy(), expected, atol=1e-5)
