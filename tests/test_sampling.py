"""Task sampling: how a joint step's examples are shared among tasks of different sizes."""

import numpy as np
import pytest
import tensorflow as tf

from compose.config import ExperimentConfig, override, validate
from compose.training.inputs import make_dataset_fn
from compose.training.sampling import task_batch_sizes
from tasks import Split

SIZES = {"big": 60000, "mid": 1438, "small": 1000}  # Fashion-MNIST, UCI digits and a small one


def test_equal_gives_every_task_the_batch():
    assert task_batch_sizes(SIZES, 32, "equal") == {"big": 32, "mid": 32, "small": 32}


@pytest.mark.parametrize(
    "sampler, temperature, replicas, minimum, expected",
    [
        ("proportional", 2.0, 1, 1, {"big": 90, "mid": 3, "small": 2}),
        ("proportional", 2.0, 1, 8, {"big": 77, "mid": 10, "small": 9}),
        ("proportional", 2.0, 2, 8, {"big": 78, "mid": 10, "small": 10}),
        ("temperature", 2.0, 1, 1, {"big": 73, "mid": 12, "small": 10}),
        ("temperature", 2.0, 2, 1, {"big": 72, "mid": 12, "small": 12}),
        ("temperature", 1.0, 1, 1, {"big": 90, "mid": 3, "small": 2}),
        ("temperature", 1e9, 1, 8, {"big": 32, "mid": 32, "small": 32}),
    ],
)
def test_shares_follow_the_sampler_above_the_minimum_in_multiples_of_the_replicas(
    sampler, temperature, replicas, minimum, expected
):
    """96 examples a step: ``minimum`` each (rounded up to the replicas), the
    rest shared as ``size ** (1 / T)`` (proportional: T = 1), rounded to
    multiples of the replicas."""
    assert task_batch_sizes(SIZES, 32, sampler, temperature, replicas, minimum) == expected


@pytest.mark.parametrize("sampler", ["equal", "proportional", "temperature"])
@pytest.mark.parametrize("replicas", [1, 2])
def test_examples_seen_over_many_steps_match_the_sampler(sampler, replicas):
    """Over 50 steps each task's share of the examples read is the sampler's
    ideal share ``size ** (1 / T) / sum`` within what the one-example-per-
    replica floor of every task and the rounding to multiples of the
    replicas move it: ``(floor * (tasks - 1) + replicas) / examples a step``."""
    rng = np.random.default_rng(0)
    splits = {
        task: Split(rng.integers(0, 256, (size // 100, 2, 2, 1), np.uint8), np.zeros(size // 100))
        for task, size in SIZES.items()
    }
    sizes = {task: len(split) for task, split in splits.items()}
    shares = task_batch_sizes(sizes, 32, sampler, 2.0, replicas, minimum=1)
    context = tf.distribute.InputContext(num_replicas_in_sync=replicas)
    seen = dict.fromkeys(sizes, 0)
    for batch in make_dataset_fn(splits, shares, seed=3)(context).take(50 * replicas):
        for task, (images, _) in batch.items():
            seen[task] += int(images.shape[0])
    power = {"equal": 0.0, "proportional": 1.0, "temperature": 0.5}[sampler]
    ideal = {task: size**power for task, size in sizes.items()}
    for task in sizes:
        share = seen[task] / sum(seen.values())
        margin = (replicas * (len(sizes) - 1) + replicas) / sum(shares.values())
        if sampler == "equal":
            margin = 0.0
        assert abs(share - ideal[task] / sum(ideal.values())) <= margin + 1e-12
    assert sum(seen.values()) == 50 * sum(shares.values())


def test_the_minimum_fits_in_the_batch():
    config = override(ExperimentConfig(), {"train": {"min_task_batch": 33}})
    with pytest.raises(ValueError, match=r"train.min_task_batch must be in \[1, train.batch_size"):
        validate(config)


def test_fused_tasks_need_the_equal_sampler():
    config = override(
        ExperimentConfig(),
        {"train": {"task_sampling": "proportional"}, "model": {"fuse_tasks": True}},
    )
    with pytest.raises(ValueError, match="model.fuse_tasks needs equal batches of every task"):
        validate(config)
