import numpy as np
import pytest
import tensorflow as tf

from compose import ComposedModel, TaskSpec
from compose.errors import DamagedFileError
from compose.training import Supervised, Trainer, build_optimizer, evaluate, mixture_entropy
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


def make_trainer(
    strategy=None,
    model_dir=None,
    init_seed=0,
    steps_per_loop=5,
    jit_compile=False,
    mixture_entropy_weight=0.0,
    fuse_tasks=False,
    task_batch_sizes=None,
    optimizer="adam",
):
    strategy = strategy or tf.distribute.get_strategy()
    with strategy.scope():
        model = ComposedModel(
            SPECS,
            bank_size=2,
            depth=2,
            channels=4,
            resolution=3,
            seed=init_seed,
            fuse_tasks=fuse_tasks,
        )
        optimizer = build_optimizer(optimizer, 1e-2, model.trainable_variables)
    names = [spec.name for spec in SPECS]
    objectives = [Supervised(name) for name in names]
    if mixture_entropy_weight:
        objectives.append(mixture_entropy(names, mixture_entropy_weight))
    return Trainer(
        model,
        optimizer,
        strategy,
        learnable_splits(),
        objectives,
        batch_size=8,
        seed=0,
        model_dir=model_dir,
        steps_per_loop=steps_per_loop,
        checkpoint_every=5,
        jit_compile=jit_compile,
        task_batch_sizes=task_batch_sizes,
    )


def weights(model):
    return [np.array(v) for v in model.weights]


def test_joint_training_learns_every_task():
    trainer = make_trainer()
    trainer.train(150, verbose=False)
    results = evaluate(trainer.model, learnable_splits(), batch_size=24)  # 64 = 24 + 24 + 16
    assert results["bars"]["accuracy"] >= 0.9 and results["dots"]["accuracy"] >= 0.9, results
    assert results["bars"]["loss"] < 0.3 and results["dots"]["loss"] < 0.3, results


@pytest.mark.parametrize("task_batch_sizes", [None, {"bars": 12, "dots": 4}])
def test_resume_from_checkpoint_matches_an_uninterrupted_run(tmp_path, task_batch_sizes):
    """For the equal sampler and for unequal shares of a step (a proportional
    or temperature sampler's)."""
    uninterrupted = make_trainer(task_batch_sizes=task_batch_sizes)
    uninterrupted.train(20, verbose=False)

    first = make_trainer(model_dir=str(tmp_path), task_batch_sizes=task_batch_sizes)
    first.train(10, verbose=False)
    resumed = make_trainer(  # a different initialisation, then restored
        model_dir=str(tmp_path), init_seed=99, task_batch_sizes=task_batch_sizes
    )
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
    # The bank's "project" offsets reach only batch-normalised layers, so their
    # gradient is zero up to rounding, and Adam (lr 1e-2) moves them on that
    # noise alone by up to ~1e-3 a step, of either sign: 2e-3 was exceeded
    # (2.1e-3) on such a [bank_size, channels] row.
    for expected, got in zip(weights(single.model), weights(double.model), strict=True):
        np.testing.assert_allclose(got, expected, atol=5e-3)


@pytest.mark.parametrize("replicas", [1, 2])
def test_fused_training_runs_tasks_together_and_follows_per_task_training(replicas, monkeypatch):
    """The trainer's batches have static sizes, so a fused model really runs
    both tasks as one group, one replica or two, and learns what the per-task
    path learns (up to float reassociation)."""
    group_sizes = []
    run_group = ComposedModel._run_group

    def recording(self, paths, *args, **kwargs):
        group_sizes.append(len(paths))
        return run_group(self, paths, *args, **kwargs)

    monkeypatch.setattr(ComposedModel, "_run_group", recording)
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]) if replicas == 2 else None
    per_task = make_trainer(strategy=strategy)
    per_task.train(10, verbose=False)
    assert set(group_sizes) == {1}
    group_sizes.clear()
    fused = make_trainer(strategy=strategy, fuse_tasks=True)
    fused.train(10, verbose=False)
    assert set(group_sizes) == {2}
    for expected, got in zip(weights(per_task.model), weights(fused.model), strict=True):
        np.testing.assert_allclose(got, expected, atol=2e-3)


def test_missing_training_data_is_refused():
    with pytest.raises(ValueError, match=r"no training data given for tasks \['dots'\]"):
        Trainer(
            make_trainer().model,
            None,
            tf.distribute.get_strategy(),
            {"bars": learnable_splits()["bars"]},
            [Supervised("bars"), Supervised("dots")],
            batch_size=8,
        )


def test_step_compiles_with_xla_and_follows_the_uncompiled_step():
    """The TPU proxy: static shapes, no Python-side dynamism in the step."""
    # SGD: its update is linear in the gradient.  Adam divides by the gradient's
    # size, so XLA's reordered float sums on a near-zero gradient moved a weight
    # by 0.004 (Xeon with AMX), which is Adam's conditioning, not the step's.
    plain = make_trainer(optimizer="sgd")
    plain.train(6, verbose=False)
    compiled = make_trainer(jit_compile=True, optimizer="sgd")
    compiled.train(6, verbose=False)
    step = compiled.replica_step()
    assert step.experimental_get_tracing_count() == 1
    batch = {t: (s.images[:8], s.labels[:8]) for t, s in learnable_splits().items()}
    hlo = step.experimental_get_compiler_ir(batch, tf.constant(0, tf.int64))(stage="hlo")
    assert "HloModule" in hlo
    for expected, got in zip(weights(plain.model), weights(compiled.model), strict=True):
        np.testing.assert_allclose(got, expected, atol=1e-4)


def test_xla_is_off_by_default_on_cpu():
    assert make_trainer(jit_compile=None).jit_compile is False


def test_unreadable_newest_checkpoint_falls_back_to_the_previous(tmp_path, capsys):
    trainer = make_trainer(model_dir=str(tmp_path))
    trainer.train(10, verbose=False)
    assert [int(p.rsplit("-", 1)[1]) for p in trainer.manager.checkpoints] == [5, 10]
    newest = trainer.manager.latest_checkpoint
    data_file = tf.io.gfile.glob(newest + ".data-*")[0]
    with open(data_file, "r+b") as stream:  # a write cut short
        stream.truncate(100)

    resumed = make_trainer(model_dir=str(tmp_path), init_seed=99)
    assert resumed.restore() == 5
    assert f"skipped unreadable checkpoint(s): {newest}" in capsys.readouterr().out
    resumed.train(10, verbose=False)
    for expected, got in zip(weights(trainer.model), weights(resumed.model), strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)

    for path in tf.io.gfile.glob(str(tmp_path / "checkpoints" / "ckpt-*.index")):
        with open(path, "wb") as stream:
            stream.write(b"garbage")
    with pytest.raises(DamagedFileError, match="no readable checkpoint: .*ckpt-10"):
        make_trainer(model_dir=str(tmp_path)).restore()


def test_a_garbage_checkpoint_state_file_resumes_from_the_checkpoints_on_disk(tmp_path, capsys):
    trainer = make_trainer(model_dir=str(tmp_path))
    trainer.train(10, verbose=False)
    (tmp_path / "checkpoints" / "checkpoint").write_bytes(b"\x00garbage{")

    resumed = make_trainer(model_dir=str(tmp_path), init_seed=99)
    assert resumed.restore() == 10
    assert "lists no checkpoint (unreadable or missing); using the 2 on disk" in (
        capsys.readouterr().out
    )
    for expected, got in zip(weights(trainer.model), weights(resumed.model), strict=True):
        np.testing.assert_array_equal(got, expected)


def test_entropy_penalty_sharpens_learned_programs():
    entropy = {}
    for weight in (0.0, 1.0):
        trainer = make_trainer(mixture_entropy_weight=weight)
        for spec in SPECS:
            # Uniform mixtures are entropy's stationary point; start just off it.
            trainer.model.learn_program(spec.name, "mixed", [[0.5, -0.5], [-0.5, 0.5]])
        assert float(trainer.model.path("bars").mixture_entropy()) == pytest.approx(
            0.5822, abs=1e-4
        )
        trainer.train(40, verbose=False)
        entropy[weight] = float(trainer.model.path("bars").mixture_entropy())
    assert entropy[1.0] < entropy[0.0] - 0.1, entropy
    trainer.model.set_program("bars", [0, 1])
    assert float(trainer.model.path("bars").mixture_entropy()) == 0.0, "hard programs pay nothing"


def test_activation_estimate_counts_every_kept_tensor_and_refuses_what_cannot_fit(monkeypatch):
    from compose.config import ExperimentConfig
    from compose.errors import InvalidInputError
    from compose.training import memory

    config = ExperimentConfig()  # inverted bottleneck, 32 channels, 8x8, depth 8, 3 tasks
    # 32 block inputs + 2 x (192 + 192 + 32) floats around the normalisations, per pixel.
    per_example = (32 + 2 * 416) * 8 * 8 * 8 * 4
    assert memory.activation_bytes(config) == per_example * 32 * 3
    monkeypatch.setattr(memory, "machine_bytes", lambda: per_example * 32 * 3)
    memory.check_fits(config)  # exactly at the limit fits
    config.train.batch_size = 33
    with pytest.raises(
        InvalidInputError, match="batch_size 33 needs at least .* lower --batch_size"
    ):
        memory.check_fits(config)
