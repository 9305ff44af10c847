"""Domain adaptation: the target starts as an exact source copy, only its program changes."""

import json
import math

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import random_images, run_module, train_tiny_model_dir
from test_continual import logits, trained_two_task_model

from compose import TaskSpec
from compose.adapt import (
    OBJECTIVES,
    AdaptOptions,
    AdversarialAlignment,
    EntropyMinimisation,
    MomentMatching,
    adapt_domain,
    copy_source_task,
    refresh_statistics,
)

TARGET = TaskSpec("bars_shifted", (8, 8, 1), 2)


def target_images(n=128):
    """Brighter, larger images than the source's: a shifted domain."""
    return np.random.default_rng(3).integers(80, 256, (n, 8, 8, 1)).astype(np.uint8)


def test_the_source_only_copy_computes_exactly_what_the_source_does():
    old = trained_two_task_model()
    grown = copy_source_task(old, TaskSpec("bars_copy", (6, 6, 1), 2), "bars")
    images = tf.constant(random_images((6, 6, 1), 16))
    np.testing.assert_array_equal(
        grown.call_task("bars_copy", images).numpy(), old.call_task("bars", images).numpy()
    )
    assert grown.program("bars_copy") == old.program("bars")


@pytest.mark.parametrize(
    "spec, message",
    [
        (TaskSpec("rgb", (6, 6, 3), 2), "has 3 image channels, source 'bars' has 1"),
        (TaskSpec("five", (6, 6, 1), 5), "has 5 classes, source 'bars' has 2"),
    ],
)
def test_targets_that_cannot_share_the_source_stem_or_head_are_refused(spec, message):
    with pytest.raises(ValueError, match=message):
        copy_source_task(trained_two_task_model(), spec, "bars")


@pytest.mark.parametrize("objective", OBJECTIVES)
def test_adaptation_changes_only_the_target_program_and_statistics(objective):
    old = trained_two_task_model()
    inputs = {"bars": random_images((6, 6, 1), 16), "dots": random_images((5, 5, 3), 16)}
    before = logits(old, inputs)
    source_images = random_images((6, 6, 1), 128, seed=1)
    options = AdaptOptions(objective=objective, steps=12, batch_size=16, statistics_batches=3)
    adapted, report = adapt_domain(
        old, TARGET, target_images(), "bars", source_images, options, verbose=False
    )
    after = logits(adapted, inputs)
    for task in before:
        np.testing.assert_array_equal(after[task], before[task])
    for kernel, old_kernel in zip(adapted.bank.kernels, old.bank.kernels, strict=True):
        np.testing.assert_array_equal(np.asarray(kernel), np.asarray(old_kernel))
    target, source = adapted.path(TARGET.name), old.path("bars")
    for part in ("stem", "head"):  # trained weights stay the source's
        for value, source_value in zip(
            getattr(target, part).trainable_variables,
            getattr(source, part).trainable_variables,
            strict=True,
        ):
            np.testing.assert_array_equal(np.asarray(value), np.asarray(source_value))
    assert not adapted.is_relaxed(TARGET.name)
    assert report["program"] == adapted.program(TARGET.name)
    assert len(report["program"]) == len(report["source_program"]) == 3
    assert report["program"] == np.argmax(report["relaxed_mixture"], axis=1).tolist()


def test_train_stem_adapts_the_stem_too():
    old = trained_two_task_model()
    options = AdaptOptions(steps=5, batch_size=16, statistics_batches=1, train_stem=True)
    adapted, _ = adapt_domain(
        old, TARGET, target_images(), "bars", random_images((6, 6, 1), 64), options, False
    )
    conv = adapted.path(TARGET.name).stem.trainable_variables[0]
    assert (
        np.abs(np.asarray(conv) - np.asarray(old.path("bars").stem.trainable_variables[0])).max()
        > 0
    )


def test_refresh_statistics_moves_only_the_task_statistics_to_its_images():
    old = trained_two_task_model()
    grown = copy_source_task(old, TaskSpec("bars_copy", (6, 6, 1), 2), "bars")
    constant = np.full((32, 6, 6, 1), 200, np.uint8)
    trainable = [np.asarray(v).copy() for v in grown.trainable_variables]
    refresh_statistics(grown, "bars_copy", constant, batches=90, batch_size=8)
    for value, previous in zip(grown.trainable_variables, trainable, strict=True):
        np.testing.assert_array_equal(np.asarray(value), previous)
    stem_norm = grown.path("bars_copy").stem.layers[3]
    conv = grown.path("bars_copy").stem.layers[:3]
    features = tf.constant(constant[:1])
    for layer in conv:
        features = layer(features)
    expected_mean = tf.reduce_mean(features, axis=[0, 1, 2]).numpy()
    # 90 updates at momentum 0.9 leave 0.9^90 = 0.01% of the old value.
    np.testing.assert_allclose(np.asarray(stem_norm.moving_mean), expected_mean, atol=1e-3)
    source_norm = old.path("bars").stem.layers[3]
    assert np.abs(np.asarray(source_norm.moving_mean) - expected_mean).max() > 1e-2


def test_objective_losses_have_their_exact_values():
    rng = np.random.default_rng(0)
    features = tf.constant(rng.normal(size=(64, 4)), tf.float32)
    assert float(MomentMatching().loss(features, features)) == pytest.approx(0.0, abs=1e-6)
    shifted = features + tf.constant([1.0, 0.0, 0.0, 2.0])
    assert float(MomentMatching().loss(shifted, features)) == pytest.approx(5.0, rel=1e-5)
    uniform = keras.layers.Dense(3, kernel_initializer="zeros")
    uniform.build((None, 4))
    entropy = EntropyMinimisation(uniform).loss(features, None)
    assert float(entropy) == pytest.approx(math.log(3), rel=1e-6)


def test_the_discriminator_learns_to_tell_the_domains_apart():
    rng = np.random.default_rng(0)
    source = tf.constant(rng.normal(0.0, 1.0, (64, 4)), tf.float32)
    target = tf.constant(rng.normal(2.0, 1.0, (64, 4)), tf.float32)
    alignment = AdversarialAlignment(channels=4, learning_rate=1e-2, seed=0)
    fooled_before = float(alignment.loss(target, source))
    for _ in range(100):
        alignment.update(target, source)
    # The target now reads as "target": calling it "source" costs far more.
    assert float(alignment.loss(target, source)) > fooled_before + 1.0


def test_bad_options_are_refused_with_the_field_named():
    with pytest.raises(ValueError, match="adapt: objective must be one of moments"):
        AdaptOptions(objective="mmd")
    with pytest.raises(ValueError, match="adapt: batch_size must be >= 2"):
        AdaptOptions(batch_size=1)


def test_adapt_binary_on_real_digits_reports_baselines_and_objectives(tmp_path, shared_data_dir):
    train_tiny_model_dir(tmp_path, ["uci_digits", "mnist_partial_shear"], shared_data_dir)
    adapted = run_module(
        "compose.adapt",
        f"--model_dir={tmp_path}",
        "--target=usps",
        "--source_task=mnist_partial_shear",
        "--objectives=entropy,adversarial",
        "--steps=10",
        "--train_stem",
    )
    assert adapted.returncode == 0, adapted.stderr[-3000:]
    assert "usps as mnist_partial_shear" in adapted.stdout
    report = json.loads((tmp_path / "adapt" / "usps" / "adapt.json").read_text())
    assert report["source_task"] == "mnist_partial_shear"
    assert 0.0 < report["source_only"] <= 1.0 and 0.0 < report["target_statistics"] <= 1.0
    assert sorted(report["objectives"]) == ["adversarial", "entropy"]
    for entry in report["objectives"].values():
        assert len(entry["program"]) == 3 and 0.0 < entry["test_accuracy"] <= 1.0
    loaded = keras.models.load_model(tmp_path / "adapt" / "usps" / "entropy" / "model.keras")
    assert loaded.task_names == ["uci_digits", "mnist_partial_shear", "usps"]
