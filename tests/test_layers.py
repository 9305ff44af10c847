"""Every layer of the engine passes the shared layer test (``layer_test.py``)."""

import numpy as np
import pytest
import tensorflow as tf
from layer_test import run_layer_test

from compose import ComposedModel, TaskSpec
from compose.core.bank import BlockBank
from compose.core.gates import BlockGates
from compose.core.layers import HEADS, Head, Stem
from compose.core.normalization import TaskNormalization
from compose.core.task_path import TaskPath

CHANNELS = 8
BLOCK_SHAPES = {"expand": (1, 1, 8, 48), "depthwise": (3, 3, 48, 1), "project": (1, 1, 48, 8)}
"""One inverted-bottleneck block of 8 channels (expansion 6)."""


def test_stem():
    images = np.random.default_rng(0).integers(0, 256, (3, 11, 9, 1), np.uint8)
    computing = run_layer_test(
        Stem,
        {"channels": CHANNELS, "resolution": 4, "seed": 3},
        (tf.constant(images),),
        (3, 4, 4, CHANNELS),
        bfloat16_output="bfloat16",
    )
    assert [layer.name for layer in computing] == ["conv"]


@pytest.mark.parametrize("kind", HEADS)
def test_head(kind):
    features = tf.random.stateless_normal([3, 4, 4, CHANNELS], seed=[1, 2])
    width = {"linear": CHANNELS, "grid": 5 * CHANNELS, "paper": 256}[kind]
    computing = run_layer_test(
        Head,
        {"num_classes": 5, "kind": kind, "seed": 3},
        (features,),
        ((3, width), (3, 5)),
        call_kwargs={"training": True, "sample_step": tf.constant(4)},
    )
    assert [layer.name for layer in computing] == (["mix", "fc"] if kind == "paper" else [])


@pytest.mark.parametrize("placement", ["task_layer", "block"])
def test_block_bank(placement):
    mix = tf.constant([[0.2, 0.3, 0.5], [1.0, 0.0, 0.0]])
    run_layer_test(
        BlockBank,
        {
            "block": "inverted_bottleneck",
            "bank_size": 3,
            "channels": CHANNELS,
            "norm_placement": placement,
            "seed": 1,
        },
        (mix,),
        # Two tasks' kernels side by side on each parameter's stack axis.
        {"expand": (1, 1, 8, 96), "depthwise": (3, 3, 96, 1), "project": (1, 1, 48, 16)},
        bfloat16_output="bfloat16",
    )


def test_block_bank_adds_each_tasks_gated_deltas_to_its_own_kernels():
    bank = BlockBank("inverted_bottleneck", 2, CHANNELS, "task_layer", seed=1)
    bank.build()
    mix = tf.constant([[1.0, 0.0], [0.0, 1.0]])
    deltas = [None, [tf.ones(shape) for shape in BLOCK_SHAPES.values()]]
    plain, gated = bank(mix), bank(mix, deltas=deltas)
    np.testing.assert_array_equal(gated["expand"][..., :48], plain["expand"][..., :48])
    np.testing.assert_allclose(gated["expand"][..., 48:], plain["expand"][..., 48:] + 1.0)


def test_block_gates():
    run_layer_test(
        BlockGates,
        {"param_shapes": BLOCK_SHAPES, "bank_size": 3, "threshold": 0.1},
        (tf.constant([0.0, 1.0, 0.0]),),
        list(BLOCK_SHAPES.values()),
        bfloat16_compute="float32",
    )


@pytest.mark.parametrize("moving", [False, True])
def test_task_normalization(moving):
    features = tf.random.stateless_normal([3, 4, 4, CHANNELS], seed=[1, 2])
    run_layer_test(
        TaskNormalization,
        {"sites": {"stem": (1, CHANNELS), "project": (4, CHANNELS)}, "scaled": ["project"]},
        (features,),
        ((3, 4, 4, CHANNELS), (CHANNELS,), (CHANNELS,)),
        call_kwargs={"site": "project", "row": 2, "moving": moving},
        bfloat16_compute="float32",
    )


def test_task_normalization_takes_the_scale_and_offset_of_sites_it_does_not_own():
    norm = TaskNormalization({"expand": (2, 4)}, scaled=[])
    features = tf.random.stateless_normal([5, 2, 2, 4], seed=[3, 4])
    y, mean, variance = norm(
        features, site="expand", row=1, scale=tf.fill([4], 2.0), offset=tf.ones([4])
    )
    expected = 2.0 * (features - mean) / tf.sqrt(variance + 1e-3) + 1.0
    np.testing.assert_allclose(y, expected, atol=1e-5)


@pytest.mark.parametrize("head", HEADS)
def test_task_path(head):
    computing = run_layer_test(
        TaskPath,
        {
            "spec": {"name": "digits", "image_shape": (8, 8, 1), "num_classes": 10},
            "bank_size": 3,
            "depth": 4,
            "channels": CHANNELS,
            "resolution": 4,
            "norm_sites": {"expand": 48, "depthwise": 48, "project": 8},
            "norm_placement": "task_layer",
            "head": head,
            "program": [2, 0, 1],
            "gate_shapes": BLOCK_SHAPES,
            "seed": 5,
        },
        (tf.constant(7),),
        (4, 3),
        call_kwargs={"training": True},
    )
    hidden = ["mix", "fc"] if head == "paper" else []
    assert sorted(layer.name for layer in computing) == sorted(["conv", *hidden])


def test_the_model_precision_reaches_every_layer_as_a_dtype_policy():
    """``model.precision=bfloat16``: the stems, the bank and the heads' hidden
    layers compute in bfloat16; normalisation and gates stay float32."""
    model = ComposedModel(
        [TaskSpec("digits", (8, 8, 1), 10)],
        bank_size=2,
        depth=2,
        channels=CHANNELS,
        resolution=4,
        head="paper",
        gated_tasks=["digits"],
        precision="bfloat16",
    )
    path = model.path("digits")
    policies = {
        layer.name: layer.dtype_policy.name
        for layer in (model.bank, path, path.stem, path.stem.conv, path.head, *path.head.hidden)
    }
    assert set(policies.values()) == {"mixed_bfloat16"}, policies
    assert path.norm.dtype_policy.name == path.gates.dtype_policy.name == "float32"
    assert path.head.logits.dtype_policy.name == "float32"
