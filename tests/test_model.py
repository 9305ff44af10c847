import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import random_images

from benchmarks.static_baseline import build_static_model, copy_from_composed
from compose import ComposedModel, ProgramError, TaskSpec, refresh_statistics

DIGITS = TaskSpec("digits", (8, 8, 1), 10)
PHOTOS = TaskSpec("photos", (12, 12, 3), 5)
SHAPES = [DIGITS, PHOTOS, TaskSpec("letters", (8, 8, 1), 4)]


def small_model(block="inverted_bottleneck", depth=4, programs=None, **kwargs):
    kwargs.setdefault("norm_placement", "task_layer")  # the bank's blocks hold no scales
    return ComposedModel(
        [DIGITS, PHOTOS],
        block=block,
        bank_size=3,
        depth=depth,
        channels=8,
        resolution=4,
        programs=programs,
        seed=1,
        **kwargs,
    )


def train_a_little(model, steps=3):
    """A few training-mode calls so moving statistics differ from their init."""
    for seed in range(steps):
        model(
            {"digits": random_images((8, 8, 1), seed=seed), "photos": random_images((12, 12, 3))},
            training=True,
        )


@pytest.mark.parametrize("placement", ["task_layer", "block"])
@pytest.mark.parametrize("block", ["inverted_bottleneck", "basic_residual"])
@pytest.mark.parametrize("program", [[2], [0, 2, 2, 1], [1, 1]])
def test_hard_program_equals_the_blocks_hard_wired_as_keras_layers(block, program, placement):
    model = small_model(block, programs={"digits": program}, norm_placement=placement)
    for weight in model.bank.weights:  # scales and offsets away from 1 and 0
        weight.assign(weight + np.random.default_rng(3).normal(0, 0.1, weight.shape))
    train_a_little(model)
    static = build_static_model(DIGITS, block, len(program), 8, 4)
    copy_from_composed(static, model, "digits")
    images = random_images((8, 8, 1), batch=6, seed=9)
    np.testing.assert_allclose(
        static(images, training=False), model.call_task("digits", images), atol=1e-5
    )


def test_a_one_hot_mixture_equals_the_hard_program():
    model = small_model(programs={"digits": [2, 0, 1, 1]})
    train_a_little(model)
    images = random_images((8, 8, 1))
    hard = model.call_task("digits", images)
    # exp(-200) underflows: the softmax is exactly one-hot.
    model.learn_program("digits", "mixed", np.eye(3)[[2, 0, 1, 1]] * 200.0)
    np.testing.assert_array_equal(model.path("digits")(None), np.eye(3)[[2, 0, 1, 1]])
    np.testing.assert_allclose(model.call_task("digits", images), hard, atol=1e-6)


def test_mixed_programs_mix_weights_and_discretise_to_their_argmax():
    model = small_model()
    images = random_images((8, 8, 1))
    hard = model.call_task("digits", images)
    logits = np.zeros((4, 3), "float32")
    logits[[0, 1, 2, 3], [1, 1, 0, 2]] = 1.0
    model.learn_program("digits", "mixed", logits)
    mixed = model.call_task("digits", images)
    assert not np.allclose(mixed, hard)
    assert model.selection("digits") == "mixed"
    assert model.discretise("digits") == [1, 1, 0, 2]
    assert model.selection("digits") == "hard"
    assert not np.allclose(model.call_task("digits", images), mixed)


def test_sampled_programs_run_hard_programs_and_discretising_changes_nothing():
    model = small_model(programs={"digits": [0, 1, 2]})
    train_a_little(model)
    logits = np.random.default_rng(0).normal(size=(4, 3)).astype("float32")
    model.learn_program("digits", "sampled", logits)
    images = random_images((8, 8, 1), batch=6)
    # Inference runs the most likely block of each of the 3 running layers.
    inference = model.call_task("digits", images).numpy()
    argmax = np.argmax(logits[:3], axis=-1).tolist()
    assert model.program("digits") == argmax
    assert model.discretise("digits") == argmax
    np.testing.assert_array_equal(model.call_task("digits", images).numpy(), inference)

    # Training draws one hard program per step (seeded by the step), exactly
    # that program's forward pass; the softmax's gradient reaches the logits.
    model.learn_program("digits", "sampled")
    path = model.path("digits")
    draws = set()
    for step in range(12):
        mixture = path(tf.constant(step), training=True).numpy()
        assert set(np.unique(mixture[:3])) <= {0.0, 1.0} and (mixture[:3].sum(-1) == 1).all()
        np.testing.assert_array_equal(mixture[3], 0.0)  # the padded layer stays off
        draws.add(tuple(np.argmax(mixture[:3], -1)))
    assert len(draws) > 3, "draws vary with the step"
    np.testing.assert_array_equal(
        path(tf.constant(5), training=True),
        path(tf.constant(5), training=True),
    )
    with tf.GradientTape() as tape:
        sampled = model.forward({"digits": images}, training=True, sample_step=tf.constant(7))
        loss = tf.reduce_sum(sampled["digits"].logits ** 2)
    assert float(tf.reduce_max(tf.abs(tape.gradient(loss, path.mixture_logits)))) > 0
    drawn = np.argmax(path(tf.constant(7), training=True).numpy()[:3], -1)
    state = [np.array(v) for v in model.variables]
    model.set_program("digits", drawn.tolist())
    hard = model.forward({"digits": images}, training=True)["digits"].logits
    np.testing.assert_array_equal(hard.numpy(), sampled["digits"].logits.numpy())
    for variable, value in zip(model.variables, state, strict=True):
        variable.assign(value)


def test_identity_padding_skips_layers_exactly():
    short = small_model(depth=4, programs={"digits": [1, 2]})
    train_a_little(short)
    static = build_static_model(DIGITS, "inverted_bottleneck", 2, 8, 4)
    copy_from_composed(static, short, "digits")
    images = random_images((8, 8, 1))
    np.testing.assert_allclose(
        short.call_task("digits", images), static(images, training=False), atol=1e-5
    )


@pytest.mark.parametrize("placement", ["task_layer", "block"])
@pytest.mark.parametrize("head", ["linear", "grid", "paper"])
def test_fused_tasks_match_running_them_one_by_one(placement, head):
    kwargs = dict(bank_size=3, depth=4, channels=8, resolution=4, seed=2)
    kwargs.update(norm_placement=placement, head=head, programs={"digits": [0, 1]})
    models = [ComposedModel(SHAPES, fuse_tasks=fuse, **kwargs) for fuse in (False, True)]
    logits = np.random.default_rng(1).normal(size=(4, 3))
    for model in models:
        model.learn_program("letters", "sampled", logits)
    images = {s.name: random_images(s.image_shape, batch=6, seed=i) for i, s in enumerate(SHAPES)}
    results = []
    for model in models:
        with tf.GradientTape() as tape:
            outputs = model(images, training=True, sample_step=tf.constant(4))
            loss = tf.add_n([tf.reduce_sum(o**2) for o in outputs.values()])
        results.append((outputs, tape.gradient(loss, model.trainable_variables)))
    (separate, separate_grads), (fused, fused_grads) = results
    for task in separate:
        np.testing.assert_allclose(fused[task], separate[task], rtol=1e-5, atol=1e-6)
    for expected, got in zip(separate_grads, fused_grads, strict=True):
        scale = float(np.abs(expected).max()) or 1.0
        np.testing.assert_allclose(got / scale, expected / scale, atol=1e-5)
    for expected, got in zip(*(m.non_trainable_weights for m in models), strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    for task, batch in images.items():
        np.testing.assert_allclose(
            models[1].call_task(task, batch), models[0].call_task(task, batch), atol=1e-5
        )


def test_fusing_tasks_whose_batch_sizes_differ_warns_and_runs_them_one_by_one():
    model = ComposedModel(SHAPES, fuse_tasks=True, bank_size=3, depth=2, channels=8, resolution=4)
    images = {s.name: random_images(s.image_shape, batch=4 + i) for i, s in enumerate(SHAPES)}
    with pytest.warns(RuntimeWarning, match="batch sizes .* tasks run one by one"):
        outputs = model(images)
    assert {task: logits.shape[0] for task, logits in outputs.items()} == {
        s.name: 4 + i for i, s in enumerate(SHAPES)
    }


def test_block_normalisation_travels_with_its_block():
    """Under ``block`` placement a re-ordered program, its statistics refreshed,
    is exactly the re-ordered blocks with their own scales and offsets."""
    model = small_model(programs={"digits": [0, 1, 2]}, norm_placement="block")
    for weight in model.bank.weights:
        weight.assign(weight + np.random.default_rng(5).normal(0, 0.2, weight.shape))
    images = random_images((8, 8, 1), batch=16, seed=4)
    model.set_program("digits", [2, 0, 1])
    refresh_statistics(model, "digits", images)
    static = build_static_model(DIGITS, "inverted_bottleneck", 3, 8, 4)
    copy_from_composed(static, model, "digits")  # block k's scale and offset for layer k
    np.testing.assert_allclose(
        model.call_task("digits", images), static(images, training=True), atol=1e-4
    )


def test_refreshed_statistics_are_the_moments_of_the_images():
    model = small_model(programs={"digits": [2, 1]})
    train_a_little(model)
    images = random_images((8, 8, 1), batch=32, seed=8)
    photos = [np.array(v) for v in model.path("photos").variables]
    trainable = [np.array(v) for v in model.trainable_variables]
    refresh_statistics(model, "digits", images)
    own = model.forward({"digits": tf.constant(images)}, statistics="own")["digits"].logits
    np.testing.assert_allclose(model.call_task("digits", images), own, atol=1e-4)
    for variable, value in zip(model.path("photos").variables, photos, strict=True):
        np.testing.assert_array_equal(variable, value)
    for variable, value in zip(model.trainable_variables, trainable, strict=True):
        np.testing.assert_array_equal(variable, value)


def test_changing_programs_never_retraces():
    model = small_model()

    @tf.function
    def forward(images):
        return model.call_task("digits", images, training=True)

    images = tf.constant(random_images((8, 8, 1)))
    rng = np.random.default_rng(0)
    outputs = set()
    for _ in range(20):
        program = rng.integers(0, 3, rng.integers(1, 5)).tolist()
        model.set_program("digits", program)
        outputs.add(float(tf.reduce_sum(forward(images))))
    model.learn_program("digits", "sampled")
    forward(images)
    assert forward.experimental_get_tracing_count() == 1
    assert len(outputs) > 1


def test_moving_statistics_are_per_task_and_skip_unused_layers():
    model = small_model(programs={"digits": [0, 1]})
    before = {
        task: {s: v.numpy().copy() for s, v in model.path(task).norm.moving_mean.items()}
        for task in ("digits", "photos")
    }
    model({"digits": random_images((8, 8, 1))}, training=True)
    after_digits = model.path("digits").norm.moving_mean
    for site in ("expand", "depthwise", "project"):
        assert not np.allclose(after_digits[site][:2], before["digits"][site][:2]), site
        np.testing.assert_array_equal(after_digits[site][2:], before["digits"][site][2:])
    for site in ("stem", "head"):
        assert not np.allclose(after_digits[site], before["digits"][site]), site
    for site, value in model.path("photos").norm.moving_mean.items():
        np.testing.assert_array_equal(value, before["photos"][site])


def test_parameter_report_counts_distinct_shared_blocks():
    model = small_model(programs={"digits": [2, 2, 2], "photos": [0, 1, 2, 0]})
    block = model.bank.block_size
    report = model.parameter_report()
    assert report["digits"]["bank_blocks_used"] == 1
    assert report["digits"]["shared_params"] == block
    assert report["photos"]["shared_params"] == 3 * block
    path = model.path("digits")
    own_layers = (path.stem, path.norm, path.head)
    own = sum(int(np.prod(v.shape)) for layer in own_layers for v in layer.trainable_variables)
    assert report["digits"]["own_params"] == own
    model.learn_program("digits", "mixed")
    assert model.parameter_report()["digits"]["shared_params"] == 3 * block
    assert model.parameter_report()["digits"]["own_params"] == own + 4 * 3
    blocks = small_model(norm_placement="block").bank
    widths = sum(blocks.norm_sites.values())
    assert blocks.block_size == model.bank.block_size + 2 * widths


def test_grid_head_reads_global_and_cell_means_of_the_bank_output():
    """The grid head's classifier input: the linear head's global means, then
    the means of each 2x2 cell of the 4x4 bank output (cell-major)."""
    linear, grid = (
        small_model(programs={"digits": [2, 0]}, head=kind) for kind in ("linear", "grid")
    )
    images = random_images((8, 8, 1))
    bank_features = grid.forward({"digits": images})["digits"].bank_features.numpy()
    features = grid.features("digits", images).numpy()
    channels = bank_features.shape[-1]
    assert features.shape == (len(images), 5 * channels)
    np.testing.assert_allclose(features[:, :channels], linear.features("digits", images), 1e-6)
    cells = bank_features.reshape(len(images), 2, 2, 2, 2, channels).mean(axis=(2, 4))
    np.testing.assert_allclose(features[:, channels:], cells.reshape(len(images), -1), 1e-5)


def test_serialisation_round_trip(tmp_path):
    model = small_model(programs={"digits": [2, 0]}, head="paper", norm_placement="block")
    train_a_little(model)
    model.set_program("photos", [1, 1, 1])
    model.learn_program("digits", "sampled", np.eye(3)[[1, 2, 0, 0]])
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert loaded.programs() == {"digits": [1, 2], "photos": [1, 1, 1]}
    assert loaded.selection("digits") == "sampled"
    for task, shape in (("photos", (12, 12, 3)), ("digits", (8, 8, 1))):
        images = random_images(shape)
        np.testing.assert_array_equal(loaded.call_task(task, images), model.call_task(task, images))
    clone = ComposedModel.from_config(model.get_config())
    assert clone.programs() == model.programs()


@pytest.mark.parametrize(
    "action, error, message",
    [
        (
            lambda m: m.set_program("digits", [0, 3]),
            ProgramError,
            "task 'digits': block index 3 at position 1",
        ),
        (
            lambda m: m.set_program("digits", []),
            ProgramError,
            "task 'digits': the program is empty",
        ),
        (lambda m: m.set_program("digits", [0] * 5), ProgramError, "maximum depth is 4"),
        (
            lambda m: m.set_program("faces", [0]),
            LookupError,
            "unknown task 'faces'; the model has tasks: digits, photos",
        ),
        (
            lambda m: m.call_task("digits", random_images((28, 28, 1))),
            ValueError,
            r"task 'digits': expected images of shape \[batch, 8, 8, 1\], got \[4, 28, 28, 1\]",
        ),
        (lambda m: m(random_images((8, 8, 1))), TypeError, "expects a dict"),
        (
            lambda m: m.learn_program("digits", "soft"),
            ValueError,
            "task 'digits': a learned program is 'sampled' or 'mixed', got 'soft'",
        ),
    ],
)
def test_bad_input_gets_one_clear_error(action, error, message):
    model = small_model()
    programs = model.programs()
    with pytest.raises(error, match=message):
        action(model)
    assert model.programs() == programs, "a rejected program must not change saved state"


def test_constructor_rejects_bad_tasks_and_options():
    with pytest.raises(ValueError, match="repeated: digits"):
        ComposedModel([DIGITS, DIGITS])
    with pytest.raises(LookupError, match="programs given for unknown tasks"):
        ComposedModel([DIGITS], programs={"faces": [0]})
    with pytest.raises(ValueError, match="num_classes must be at least 2"):
        TaskSpec("x", (8, 8, 1), 1)
    with pytest.raises(ValueError, match="unknown norm_placement 'layer'; choose one of"):
        ComposedModel([DIGITS], norm_placement="layer")
    with pytest.raises(ValueError, match="unknown head 'mlp'; choose one of: linear, grid, paper"):
        ComposedModel([DIGITS], head="mlp")


def test_bfloat16_computes_in_bfloat16_and_keeps_float32_state():
    kwargs = dict(bank_size=3, depth=4, channels=8, resolution=4, seed=2, fuse_tasks=True)
    wide = ComposedModel(SHAPES, head="paper", **kwargs)
    narrow = ComposedModel(SHAPES, head="paper", precision="bfloat16", **kwargs)
    assert {str(v.dtype) for v in narrow.weights} == {"float32", "int32"}
    images = {s.name: random_images(s.image_shape, batch=6, seed=i) for i, s in enumerate(SHAPES)}
    bank_output = narrow.forward(images)["digits"].bank_features  # inference: no state change
    assert bank_output.dtype == tf.bfloat16
    for training in (True, False):
        expected, got = wide(images, training=training), narrow(images, training=training)
        for task in expected:
            assert got[task].dtype == tf.float32
            # bfloat16 keeps 8 bits of mantissa: about 2-3 significant digits.
            np.testing.assert_allclose(got[task], expected[task], atol=0.01)
    with pytest.raises(ValueError, match="unknown precision 'float16'"):
        ComposedModel([DIGITS], precision="float16")
