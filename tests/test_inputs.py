import numpy as np
import tensorflow as tf

from compose.training.inputs import make_dataset_fn
from tasks import Split


def splits():
    rng = np.random.default_rng(0)
    return {
        "a": Split(
            rng.integers(0, 256, (50, 4, 4, 1), dtype=np.uint8), np.arange(50, dtype=np.int32)
        ),
        "b": Split(
            rng.integers(0, 256, (9, 2, 2, 3), dtype=np.uint8), np.arange(9, dtype=np.int32)
        ),
    }


def take(dataset_fn, count):
    dataset = dataset_fn(tf.distribute.InputContext())
    return [{t: labels.numpy() for t, (_, labels) in e.items()} for e in dataset.take(count)]


def test_every_step_has_a_full_batch_of_every_task():
    batch = take(make_dataset_fn(splits(), 8, seed=1), 1)[0]
    assert set(batch) == {"a", "b"} and all(len(v) == 8 for v in batch.values())


def test_batches_are_a_pure_function_of_seed_and_step():
    whole = take(make_dataset_fn(splits(), 8, seed=1), 6)
    resumed = take(make_dataset_fn(splits(), 8, seed=1, start_step=4), 2)
    for expected, got in zip(whole[4:], resumed, strict=True):
        for task in expected:
            np.testing.assert_array_equal(expected[task], got[task])
    other_seed = take(make_dataset_fn(splits(), 8, seed=2), 1)[0]
    assert not np.array_equal(other_seed["a"], whole[0]["a"])
    assert not np.array_equal(whole[0]["a"], whole[1]["a"])


def test_replicas_split_the_single_device_batch():
    single = take(make_dataset_fn(splits(), 8, seed=1), 3)
    two_replicas = tf.distribute.InputContext(
        num_input_pipelines=1, input_pipeline_id=0, num_replicas_in_sync=2
    )
    halves = [
        {t: labels.numpy() for t, (_, labels) in e.items()}
        for e in make_dataset_fn(splits(), 8, seed=1)(two_replicas).take(6)
    ]
    for step in range(3):
        for task in ("a", "b"):
            joined = np.concatenate([halves[2 * step][task], halves[2 * step + 1][task]])
            np.testing.assert_array_equal(joined, single[step][task])


def test_batches_have_static_shapes_so_tasks_can_be_fused():
    """The fused forward stacks tasks only when their batch sizes are known
    when tracing; a dynamic batch dimension silently ran tasks one by one."""
    for replicas in (1, 2):
        context = tf.distribute.InputContext(num_replicas_in_sync=replicas)
        spec = make_dataset_fn(splits(), 8, seed=1)(context).element_spec
        per_replica = 8 // replicas
        assert spec["a"][0].shape == (per_replica, 4, 4, 1)
        assert spec["b"][0].shape == (per_replica, 2, 2, 3)
        assert spec["a"][1].shape == (per_replica,)
