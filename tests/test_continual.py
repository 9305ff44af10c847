"""Adding a task: old tasks bit-identical, the bank grows only by the new task's clones."""

import numpy as np
import pytest
import tensorflow as tf
from conftest import random_images

from compose import ComposedModel, TaskSpec
from compose.grow.continual import add_task
from compose.training import Supervised, Trainer, build_optimizer, evaluate
from tasks import Split


def trained_two_task_model(norm_placement="task_layer"):
    model = ComposedModel(
        [TaskSpec("bars", (6, 6, 1), 2), TaskSpec("dots", (5, 5, 3), 3)],
        bank_size=3,
        depth=3,
        channels=4,
        resolution=3,
        programs={"bars": [0, 1, 1], "dots": [2, 0]},
        norm_placement=norm_placement,
    )
    rng = np.random.default_rng(1)
    for variable in model.trainable_variables:  # "trained": anything but the initial values
        variable.assign(variable + rng.normal(0, 0.1, variable.shape).astype(np.float32))
    return model


def new_task_split(n=64):
    """Bright left half vs bright right half."""
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, n).astype(np.int32)
    images = rng.integers(0, 60, (n, 7, 7, 1)).astype(np.uint8)
    for i, label in enumerate(labels):
        images[i, :, (0 if label == 0 else 4) :][:, :3] += 180
    return Split(images, labels)


def logits(model, inputs):
    return {
        t: model.call_task(t, tf.constant(x), training=False).numpy() for t, x in inputs.items()
    }


@pytest.mark.parametrize("norm_placement", ["task_layer", "block"])
def test_training_a_new_task_leaves_old_tasks_bit_identical(norm_placement):
    old = trained_two_task_model(norm_placement)
    inputs = {"bars": random_images((6, 6, 1), 16), "dots": random_images((5, 5, 3), 16)}
    before = logits(old, inputs)
    grown = add_task(old, TaskSpec("halves", (7, 7, 1), 2), program=[1, 3, 3], clones=[2])
    assert grown.bank_size == 4 and grown.programs()["bars"] == [0, 1, 1]
    for weight, old_weight in zip(grown.bank.weights, old.bank.weights, strict=True):
        np.testing.assert_array_equal(np.asarray(weight)[3], np.asarray(old_weight)[2])

    trainer = Trainer(
        grown,
        build_optimizer("adam", 1e-2, grown.trainable_variables),
        tf.distribute.get_strategy(),
        {"halves": new_task_split()},
        [Supervised("halves")],
        batch_size=16,
        frozen_blocks=range(old.bank_size),
    )
    trainer.train(60, verbose=False)

    after = logits(grown, inputs)
    for task in before:
        np.testing.assert_array_equal(after[task], before[task])
    for weight, old_weight in zip(grown.bank.weights, old.bank.weights, strict=True):
        np.testing.assert_array_equal(np.asarray(weight)[:3], np.asarray(old_weight))
        assert not np.array_equal(np.asarray(weight)[3], np.asarray(old_weight)[2]), (
            "the clone trains"
        )
    assert evaluate(grown, {"halves": new_task_split()}, batch_size=32)["halves"]["accuracy"] > 0.9


def test_add_task_refuses_what_would_break_old_tasks():
    old = trained_two_task_model()
    with pytest.raises(ValueError, match="already has a task 'bars'"):
        add_task(old, TaskSpec("bars", (6, 6, 1), 2), [0])
    with pytest.raises(ValueError, match=r"clone parents \[5\] are not blocks"):
        add_task(old, TaskSpec("new", (6, 6, 1), 2), [0], clones=[5])
    old.learn_program("dots", "sampled")
    with pytest.raises(ValueError, match=r"tasks \['dots'\] still learn their programs"):
        add_task(old, TaskSpec("new", (6, 6, 1), 2), [0])


def test_trainer_checks_its_objectives_and_frozen_blocks():
    model = trained_two_task_model()
    optimizer = build_optimizer("adam", 1e-2, model.trainable_variables)
    strategy = tf.distribute.get_strategy()
    with pytest.raises(LookupError, match="unknown task 'nope'"):
        Trainer(model, optimizer, strategy, {}, [Supervised("nope")], 8)
    with pytest.raises(ValueError, match=r"frozen_blocks \[3\] are not all in 0..2"):
        Trainer(
            model, optimizer, strategy, {"bars": None}, [Supervised("bars")], 8, frozen_blocks=[3]
        )
    with pytest.raises(ValueError, match="a trainer needs at least one objective"):
        Trainer(model, optimizer, strategy, {}, [], 8)
