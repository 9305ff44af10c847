import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import random_images

from benchmarks.static_baseline import build_static_model, copy_from_composed
from compose import ComposedModel, ProgramError, TaskSpec

DIGITS = TaskSpec("digits", (8, 8, 1), 10)
PHOTOS = TaskSpec("photos", (12, 12, 3), 5)


def small_model(block="inverted_bottleneck", depth=4, programs=None):
    keras.utils.set_random_seed(1)
    return ComposedModel(
        [DIGITS, PHOTOS],
        block=block,
        bank_size=3,
        depth=depth,
        channels=8,
        resolution=4,
        programs=programs,
    )


def train_a_little(model, steps=3):
    """A few training-mode calls so moving statistics and BN differ from init."""
    for seed in range(steps):
        model(
            {"digits": random_images((8, 8, 1), seed=seed), "photos": random_images((12, 12, 3))},
            training=True,
        )


@pytest.mark.parametrize("block", ["inverted_bottleneck", "basic_residual"])
@pytest.mark.parametrize("program", [[2], [0, 2, 2, 1], [1, 1]])
def test_hard_program_equals_the_blocks_hard_wired_as_keras_layers(block, program):
    model = small_model(block, programs={"digits": program})
    train_a_little(model)
    static = build_static_model(DIGITS, block, len(program), 8, 4)
    copy_from_composed(static, model, "digits")
    images = random_images((8, 8, 1), batch=6, seed=9)
    np.testing.assert_allclose(
        static(images, training=False), model.call_task("digits", images), atol=1e-5
    )


def test_one_hot_mixture_equals_the_hard_program():
    model = small_model(programs={"digits": [2, 0, 1, 1]})
    train_a_little(model)
    images = random_images((8, 8, 1))
    hard = model.call_task("digits", images)
    path = model.path("digits")
    path.mixture_logits.assign(
        np.eye(3)[[2, 0, 1, 1]] * 200.0
    )  # exp(-200) underflows: softmax is one-hot
    model.set_relaxed("digits")
    np.testing.assert_array_equal(path.mixture(), np.eye(3)[[2, 0, 1, 1]])
    np.testing.assert_allclose(model.call_task("digits", images), hard, atol=1e-6)


def test_relaxed_mixture_changes_outputs_and_discretises_to_argmax():
    model = small_model()
    images = random_images((8, 8, 1))
    hard = model.call_task("digits", images)
    model.set_relaxed("digits")
    logits = np.zeros((4, 3), "float32")
    logits[[0, 1, 2, 3], [1, 1, 0, 2]] = 1.0
    model.path("digits").mixture_logits.assign(logits)
    assert not np.allclose(model.call_task("digits", images), hard)
    assert model.discretise("digits") == [1, 1, 0, 2]
    assert not model.is_relaxed("digits")


def test_identity_padding_skips_layers_exactly():
    short = small_model(depth=4, programs={"digits": [1, 2]})
    train_a_little(short)
    static = build_static_model(DIGITS, "inverted_bottleneck", 2, 8, 4)
    copy_from_composed(static, short, "digits")
    images = random_images((8, 8, 1))
    np.testing.assert_allclose(
        short.call_task("digits", images), static(images, training=False), atol=1e-5
    )


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
    for site, value in after_digits.items():
        assert not np.allclose(value[:2], before["digits"][site][:2]), site
        np.testing.assert_array_equal(value[2:], before["digits"][site][2:])
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
    model.set_relaxed("digits")
    assert model.parameter_report()["digits"]["shared_params"] == 3 * block
    assert model.parameter_report()["digits"]["own_params"] == own + 4 * 3


def test_serialisation_round_trip(tmp_path):
    model = small_model(programs={"digits": [2, 0]})
    train_a_little(model)
    model.set_program("photos", [1, 1, 1])
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert loaded.programs() == {"digits": [2, 0], "photos": [1, 1, 1]}
    images = random_images((12, 12, 3))
    np.testing.assert_array_equal(
        loaded.call_task("photos", images), model.call_task("photos", images)
    )
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
    ],
)
def test_bad_input_gets_one_clear_error(action, error, message):
    model = small_model()
    programs = model.programs()
    with pytest.raises(error, match=message):
        action(model)
    assert model.programs() == programs, "a rejected program must not change saved state"


def test_constructor_rejects_bad_tasks():
    with pytest.raises(ValueError, match="repeated: digits"):
        ComposedModel([DIGITS, DIGITS])
    with pytest.raises(LookupError, match="programs given for unknown tasks"):
        ComposedModel([DIGITS], programs={"faces": [0]})
    with pytest.raises(ValueError, match="num_classes must be at least 2"):
        TaskSpec("x", (8, 8, 1), 1)
