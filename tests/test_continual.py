"""Adding a task: old tasks bit-identical, the bank grows only by the new task's clones."""

import numpy as np
import pytest
import tensorflow as tf
from conftest import random_images

from compose import ComposedModel, TaskSpec
from compose.continual import add_task
from compose.training import JointTrainer, build_optimizer, evaluate
from tasks import Split


def trained_two_task_model():
    model = ComposedModel(
        [TaskSpec("bars", (6, 6, 1), 2), TaskSpec("dots", (5, 5, 3), 3)],
        bank_size=3,
        depth=3,
        channels=4,
        resolution=3,
        programs={"bars": [0, 1, 1], "dots": [2, 0]},
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


def test_training_a_new_task_leaves_old_tasks_bit_identical():
    old = trained_two_task_model()
    inputs = {"bars": random_images((6, 6, 1), 16), "dots": random_images((5, 5, 3), 16)}
    before = logits(old, inputs)
    grown = add_task(old, TaskSpec("halves", (7, 7, 1), 2), program=[1, 3, 3], clones=[2])
    assert grown.bank_size == 4 and grown.programs()["bars"] == [0, 1, 1]
    for kernel, old_kernel in zip(grown.bank.kernels, old.bank.kernels, strict=True):
        np.testing.assert_array_equal(np.asarray(kernel)[3], np.asarray(old_kernel)[2])

    trainer = JointTrainer(
        grown,
        build_optimizer("adam", 1e-2, grown.trainable_variables),
        tf.distribute.get_strategy(),
        {"halves": new_task_split()},
        batch_size=16,
        train_tasks=["halves"],
        frozen_blocks=range(old.bank_size),
    )
    trainer.train(60, verbose=False)

    after = logits(grown, inputs)
    for task in before:
        np.testing.assert_array_equal(after[task], before[task])
    for kernel, old_kernel in zip(grown.bank.kernels, old.bank.kernels, strict=True):
        np.testing.assert_array_equal(np.asarray(kernel)[:3], np.asarray(old_kernel))
        assert np.abs(np.asarray(kernel)[3] - np.asarray(old_kernel)[2]).max() > 1e-3, (
            "the clone trains"
        )
    assert evaluate(grown, {"halves": new_task_split()}, batch_size=32)["halves"]["accuracy"] > 0.9


def test_add_task_refuses_what_would_break_old_tasks():
    old = trained_two_task_model()
    with pytest.raises(ValueError, match="already has a task 'bars'"):
        add_task(old, TaskSpec("bars", (6, 6, 1), 2), [0])
    with pytest.raises(ValueError, match=r"clone parents \[5\] are not blocks"):
        add_task(old, TaskSpec("new", (6, 6, 1), 2), [0], clones=[5])
    old.set_relaxed("dots")
    with pytest.raises(ValueError, match=r"tasks \['dots'\] are still relaxed"):
        add_task(old, TaskSpec("new", (6, 6, 1), 2), [0])


def test_trainer_checks_its_task_subset_and_frozen_blocks():
    model = trained_two_task_model()
    optimizer = build_optimizer("adam", 1e-2, model.trainable_variables)
    strategy = tf.distribute.get_strategy()
    with pytest.raises(LookupError, match="unknown task 'nope'"):
        JointTrainer(model, optimizer, strategy, {}, 8, train_tasks=["nope"])
    with pytest.raises(ValueError, match=r"frozen_blocks \[3\] are not all in 0..2"):
        JointTrainer(
            model, optimizer, strategy, {"bars": None}, 8, train_tasks=["bars"], frozen_blocks=[3]
        )
