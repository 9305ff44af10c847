"""Every layer that computes through ``call()`` passes the shared layer test."""

import numpy as np
import pytest
import tensorflow as tf
from layer_test import run_layer_test

from compose import ComposedModel, TaskSpec
from compose.core.layers import HEADS, Head, Stem


def test_stem():
    images = np.random.default_rng(0).integers(0, 256, (3, 11, 9, 1), np.uint8)
    computing = run_layer_test(
        Stem,
        {"channels": 8, "resolution": 4, "seed": 3, "precision": "float32"},
        tf.constant(images),
        (3, 4, 4, 8),
        bfloat16_output="bfloat16",
    )
    assert [layer.name for layer in computing] == ["conv"]


@pytest.mark.parametrize("kind", HEADS)
def test_head(kind):
    features = tf.random.stateless_normal([3, 4, 4, 8], seed=[1, 2])
    computing = run_layer_test(
        Head,
        {"num_classes": 5, "kind": kind, "seed": 3, "precision": "float32"},
        features,
        (3, 5),
    )
    assert [layer.name for layer in computing] == (["mix", "fc"] if kind == "paper" else [])


def test_the_model_precision_reaches_every_task_head():
    """``model.precision=bfloat16``: the heads' hidden layers compute in bfloat16."""
    model = ComposedModel(
        [TaskSpec("digits", (8, 8, 1), 10)],
        bank_size=2,
        depth=2,
        channels=8,
        resolution=4,
        head="paper",
        precision="bfloat16",
    )
    head = model.path("digits").head
    assert head.precision == "bfloat16"
    assert [layer.compute_dtype for layer in head.hidden] == ["bfloat16", "bfloat16"]
