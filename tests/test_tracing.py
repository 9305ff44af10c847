"""Traced functions die with their model and trainer (compose.tracing)."""

import numpy as np
import pytest
import tensorflow as tf

from compose import ComposedModel, TaskSpec
from compose.tracing import live_graph_count, per_model_function
from compose.training import Supervised, Trainer, build_optimizer
from tasks import Split

SPEC = TaskSpec("bars", (6, 6, 1), 2)


def tiny_model(seed=0):
    return ComposedModel([SPEC], bank_size=2, depth=2, channels=4, resolution=3, seed=seed)


def train_fresh_model(release, seed):
    """Builds and trains a new model for 4 steps; nothing of it is kept."""
    model = tiny_model(seed)
    rng = np.random.default_rng(seed)
    split = Split(rng.integers(0, 255, (16, 6, 6, 1)).astype(np.uint8), rng.integers(0, 2, 16))
    trainer = Trainer(
        model,
        build_optimizer("adam", 1e-2, model.trainable_variables),
        tf.distribute.get_strategy(),
        {"bars": split},
        [Supervised("bars")],
        batch_size=8,
        steps_per_loop=2,
        jit_compile=False,
    )
    trainer.release_traced_gradients = release
    trainer.train(4, verbose=False)


@pytest.mark.parametrize("release, leaked_per_model", [(True, 0), (False, 1)])
def test_a_trained_loop_graph_dies_with_its_trainer_only_when_released(release, leaked_per_model):
    train_fresh_model(release, seed=0)  # first use: TF's own one-off graphs
    before = live_graph_count()
    for seed in (1, 2):
        train_fresh_model(release, seed)
    # TF keeps each loop's graph (one per model) unless its custom gradient is dropped.
    assert live_graph_count() - before == 2 * leaked_per_model


def test_per_model_function_traces_once_per_model_and_frees_with_it():
    calls = []

    def forward(model, images):
        calls.append(model)  # runs once per trace
        return model.call_task("bars", images, training=False)

    run = per_model_function(forward)
    images = tf.zeros((2, 6, 6, 1), tf.uint8)
    model = tiny_model()
    first = run(model, images)
    np.testing.assert_array_equal(run(model, images), first)  # the same trace, reused
    assert len(calls) == 1
    before = live_graph_count()
    del model, calls[:], first
    assert live_graph_count() == before - 1  # the model's trace went with it
    module_level = tf.function(forward)
    other = tiny_model(seed=1)
    module_level(other, images)
    del other
    assert live_graph_count() == before  # a shared tf.function keeps a dead model's trace
