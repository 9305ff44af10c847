"""Domain adaptation: the target starts as a source copy; only its order and statistics change."""

import json
import math

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import random_images, run_module, train_tiny_model_dir
from test_continual import logits, trained_two_task_model

from compose import TaskSpec
from compose.core.program import pad_program
from compose.grow.domain_adaptation import (
    OBJECTIVES,
    AdaptOptions,
    UnsupervisedScorer,
    adapt_domain,
    copy_source_task,
)
from compose.training.objectives import moment_distance, prediction_entropy

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
    options = AdaptOptions(objective=objective, search_budget=20, scored_images=64)
    adapted, report = adapt_domain(
        old, TARGET, target_images(), "bars", source_images, options, verbose=False
    )
    after = logits(adapted, inputs)
    for task in before:
        np.testing.assert_array_equal(after[task], before[task])
    for weight, old_weight in zip(adapted.bank.weights, old.bank.weights, strict=True):
        np.testing.assert_array_equal(np.asarray(weight), np.asarray(old_weight))
    target, source = adapted.path(TARGET.name), old.path("bars")
    for part in ("stem", "norm", "head"):  # trained weights: all still the source's
        for value, source_value in zip(
            getattr(target, part).trainable_variables,
            getattr(source, part).trainable_variables,
            strict=True,
        ):
            np.testing.assert_array_equal(np.asarray(value), np.asarray(source_value))
    assert adapted.selection(TARGET.name) == "hard"
    assert report["program"] == adapted.program(TARGET.name)
    assert report["source_program"] == [0, 1, 1] and len(report["program"]) == 3
    assert report["score"] >= report["source_score"]
    assert report["program_changed"] == (report["program"] != [0, 1, 1])
    assert report["candidates_scored"] <= 20


def test_stem_steps_adapt_the_stem_too():
    old = trained_two_task_model()
    options = AdaptOptions(search_budget=5, scored_images=32, stem_steps=5, batch_size=16)
    adapted, report = adapt_domain(
        old, TARGET, target_images(), "bars", random_images((6, 6, 1), 64), options, False
    )
    conv = adapted.path(TARGET.name).stem.conv.kernel
    assert np.abs(np.asarray(conv) - np.asarray(old.path("bars").stem.conv.kernel)).max() > 0
    assert report["stem_steps"] == 5


@pytest.mark.parametrize("objective", OBJECTIVES)
def test_a_candidate_scores_its_negated_label_free_loss(objective):
    old = trained_two_task_model()
    grown = copy_source_task(old, TARGET, "bars")
    images = target_images(48)
    reference = grown.features("bars", tf.constant(random_images((6, 6, 1), 40))).numpy()
    scorer = UnsupervisedScorer(grown, TARGET.name, images, objective, reference)
    program = [2, 2, 0]
    output = grown.forward(
        {TARGET.name: tf.constant(images)},
        programs={TARGET.name: tf.constant(pad_program(program, 3))},
        statistics="own",
    )[TARGET.name]
    if objective == "moments":
        expected = -float(moment_distance(output.features, reference))
    else:
        expected = -float(tf.reduce_mean(prediction_entropy(output.logits)))
    assert scorer.accuracy([program]) == [pytest.approx(expected, rel=1e-5)]


def test_objective_losses_have_their_exact_values():
    rng = np.random.default_rng(0)
    features = tf.constant(rng.normal(size=(64, 4)), tf.float32)
    assert float(moment_distance(features, features)) == pytest.approx(0.0, abs=1e-6)
    shifted = features + tf.constant([1.0, 0.0, 0.0, 2.0])
    assert float(moment_distance(shifted, features)) == pytest.approx(5.0, rel=1e-5)
    uniform = prediction_entropy(tf.zeros([5, 3]))
    np.testing.assert_allclose(uniform, [math.log(3)] * 5, rtol=1e-6)


def test_bad_options_are_refused_with_the_field_named():
    with pytest.raises(ValueError, match="invalid config: adapt.objective must be one of moments"):
        AdaptOptions(objective="mmd")
    with pytest.raises(ValueError, match="invalid config: adapt.batch_size must be >= 2"):
        AdaptOptions(batch_size=1)


def test_adapt_binary_on_real_digits_reports_baselines_and_objectives(tmp_path, shared_data_dir):
    train_tiny_model_dir(tmp_path, ["uci_digits", "mnist_partial_shear"], shared_data_dir)
    adapted = run_module(
        "compose.adapt",
        f"--model_dir={tmp_path}",
        "--target=usps",
        "--source_task=mnist_partial_shear",
        "--objectives=entropy,moments",
        "--search_budget=12",
        "--stem_steps=10",
    )
    assert adapted.returncode == 0, adapted.stderr[-3000:]
    assert "usps as mnist_partial_shear" in adapted.stdout
    report = json.loads((tmp_path / "adapt" / "usps" / "adapt.json").read_text())
    assert report["source_task"] == "mnist_partial_shear"
    assert 0.0 < report["source_only"] <= 1.0 and 0.0 < report["target_statistics"] <= 1.0
    assert sorted(report["objectives"]) == ["entropy", "moments"]
    for entry in report["objectives"].values():
        assert len(entry["program"]) == 3 and 0.0 < entry["test_accuracy"] <= 1.0
        assert entry["candidates_scored"] <= 12
    loaded = keras.models.load_model(tmp_path / "adapt" / "usps" / "entropy" / "model.keras")
    assert loaded.task_names == ["uci_digits", "mnist_partial_shear", "usps"]
