import keras
import numpy as np
import pytest
import tensorflow as tf

from compose import ComposedModel, TaskSpec
from compose.training import JointTrainer, build_optimizer, evaluate
from tasks import Split

SPECS = [TaskSpec("bars", (6, 6, 1), 2), TaskSpec("dots", (5, 5, 3), 3)]


def learnable_splits(n=64):
    """Labels readable from the pixels: bright vs dark images; which channel is lit."""
    rng = np.random.default_rng(0)
    bar_labels = rng.integers(0, 2, n).astype(np.int32)
    bars = rng.integers(0, 56, (n, 6, 6, 1)) + 200 * bar_labels[:, None, None, None]
    bars = bars.astype(np.uint8)
    dots = rng.integers(0, 40, (n, 5, 5, 3)).astype(np.uint8)
    dot_labels = rng.integers(0, 3, n).astype(np.int32)
    dots[np.arange(n), :, :, dot_labels] += 200
    return {"bars": Split(bars, bar_labels), "dots": Split(dots, dot_labels)}


def make_trainer(strategy=None, model_dir=None, init_seed=0, steps_per_loop=5):
    strategy = strategy or tf.distribute.get_strategy()
    keras.utils.set_random_seed(init_seed)
    with strategy.scope():
        model = ComposedModel(SPECS, bank_size=2, depth=2, channels=4, resolution=3)
        optimizer = build_optimizer("adam", 1e-2, model.trainable_variables)
    trainer = JointTrainer(
        model,
        optimizer,
        strategy,
        learnable_splits(),
        batch_size=8,
        seed=0,
        model_dir=model_dir,
        steps_per_loop=steps_per_loop,
        checkpoint_every=5,
    )
    return trainer


def weights(model):
    return [np.array(v) for v in model.weights]


def test_joint_training_learns_every_task():
    trainer = make_trainer()
    trainer.train(150, verbose=False)
    accuracy = evaluate(trainer.model, learnable_splits(), batch_size=32)
    assert accuracy["bars"] >= 0.9 and accuracy["dots"] >= 0.9, accuracy


def test_resume_from_checkpoint_matches_an_uninterrupted_run(tmp_path):
    uninterrupted = make_trainer()
    uninterrupted.train(20, verbose=False)

    first = make_trainer(model_dir=str(tmp_path))
    first.train(10, verbose=False)
    resumed = make_trainer(model_dir=str(tmp_path), init_seed=99)  # different init, then restored
    assert resumed.restore() == 10
    stored = {name for name, _ in tf.train.list_variables(resumed.manager.latest_checkpoint)}
    stored = {name for name in stored if name.startswith(("model.", "optimizer."))}
    assert len(stored) == len(resumed.model.variables) + len(resumed.optimizer.variables)
    resumed.train(20, verbose=False)
    for expected, got in zip(weights(uninterrupted.model), weights(resumed.model), strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_two_replicas_match_one_replica():
    """Synchronised batch moments and SUM-reduced gradients of a global-batch mean
    make 2 replicas follow 1 replica up to float reassociation."""
    single = make_trainer()
    single.train(10, verbose=False)
    mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    double = make_trainer(strategy=mirrored)
    double.train(10, verbose=False)
    assert double.model.path("bars").norm.moving_mean["project"].aggregation == "mean"
    for expected, got in zip(weights(single.model), weights(double.model), strict=True):
        np.testing.assert_allclose(got, expected, atol=2e-3)


def test_missing_training_data_is_refused():
    with pytest.raises(ValueError, match=r"no training data given for tasks \['dots'\]"):
        JointTrainer(
            make_trainer().model,
            None,
            tf.distribute.get_strategy(),
            {"bars": learnable_splits()["bars"]},
            batch_size=8,
        )
