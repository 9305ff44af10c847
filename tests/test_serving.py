"""SavedModel export: signatures, variables stored once, fresh-process clients."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf
from conftest import random_images, run_module

from compose import ComposedModel, TaskSpec
from compose.serving import export_saved_model, stored_values
from compose.training.models import load_trained_model
from tasks import get_task, load_task_data

SPECS = [TaskSpec("digits", (8, 8, 1), 10), TaskSpec("colours", (6, 6, 3), 3)]


def small_model():
    return ComposedModel(
        SPECS,
        bank_size=3,
        depth=4,
        channels=8,
        resolution=4,
        programs={"digits": [0, 2, 2], "colours": [1, 0, 1, 2]},
    )


def test_every_variable_is_stored_once(tmp_path):
    model = small_model()
    path = export_saved_model(model, str(tmp_path), version=1)
    assert path == str(tmp_path / "1")
    assert stored_values(path) == model.count_params()
    assert model.count_params() == sum(int(np.prod(v.shape)) for v in model.variables)


def test_one_task_export_holds_the_bank_and_that_task_only(tmp_path):
    model = small_model()
    path = export_saved_model(model, str(tmp_path), tasks=["colours"], version=7)
    bank = sum(int(np.prod(v.shape)) for v in model.bank.variables)
    own = sum(int(np.prod(v.shape)) for v in model.path("colours").variables)
    assert stored_values(path) == bank + own
    loaded = tf.saved_model.load(path)
    assert sorted(loaded.signatures) == ["serve_colours", "serving_default"]


def test_signatures_match_the_library_and_reject_wrong_inputs(tmp_path):
    model = small_model()
    loaded = tf.saved_model.load(export_saved_model(model, str(tmp_path), version=1))
    assert sorted(loaded.signatures) == ["serve_colours", "serve_digits", "serving_default"]
    for task in ("digits", "colours"):
        images = random_images(model.path(task).spec.image_shape, batch=5)
        outputs = loaded.signatures[f"serve_{task}"](images=tf.constant(images))
        expected = model.call_task(task, tf.constant(images), training=False).numpy()
        np.testing.assert_allclose(outputs["logits"].numpy(), expected, atol=1e-5)
        np.testing.assert_allclose(outputs["probabilities"].numpy().sum(-1), 1.0, atol=1e-5)
    default = loaded.signatures["serving_default"]
    digits = random_images((8, 8, 1), batch=2)
    np.testing.assert_array_equal(
        default(images=tf.constant(digits))["logits"].numpy(),
        loaded.signatures["serve_digits"](images=tf.constant(digits))["logits"].numpy(),
    )
    with pytest.raises(tf.errors.InvalidArgumentError, match="expected to be a uint8 tensor"):
        loaded.signatures["serve_digits"](images=tf.zeros([2, 8, 8, 1], tf.float32))
    with pytest.raises(
        tf.errors.InvalidArgumentError, match=r"serve_digits: images must be \[batch, 8, 8, 1\]"
    ):
        loaded.signatures["serve_digits"](images=tf.zeros([2, 6, 6, 3], tf.uint8))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"serve_digits: images must be"):
        loaded.signatures["serve_digits"](images=tf.zeros([0, 8, 8, 1], tf.uint8))
    for wrong in ([8, 8, 1], [1, 2, 8, 8, 1]):
        with pytest.raises(tf.errors.InvalidArgumentError, match=r"serve_digits: images must be"):
            loaded.signatures["serve_digits"](images=tf.zeros(wrong, tf.uint8))


def test_versions_are_never_overwritten_and_unknown_tasks_are_named(tmp_path):
    model = small_model()
    export_saved_model(model, str(tmp_path), version=3)
    with pytest.raises(FileExistsError, match="exports never overwrite"):
        export_saved_model(model, str(tmp_path), version=3)
    with pytest.raises(LookupError, match="unknown task 'digitz'"):
        export_saved_model(model, str(tmp_path), tasks=["digitz"], version=4)
    assert sorted(os.listdir(tmp_path)) == ["3"], "no partial version left behind"


@pytest.fixture(scope="module")
def trained_export(tmp_path_factory, shared_data_dir):
    """A model trained by the binary on real data, exported by the export binary."""
    model_dir = tmp_path_factory.mktemp("run")
    trained = run_module(
        "compose.train",
        "--tasks=uci_digits,usps",
        f"--data_dir={shared_data_dir}",
        f"--model_dir={model_dir}",
        "--steps=60",
        "--depth=3",
        "--channels=8",
        "--resolution=4",
    )
    assert trained.returncode == 0, trained.stderr[-3000:]
    exported = run_module("compose.export", f"--model_dir={model_dir}", "--version=5")
    assert exported.returncode == 0, exported.stderr[-3000:]
    version_dir = model_dir / "export" / "5"
    assert f"exported uci_digits, usps to {version_dir}" in exported.stdout
    return model_dir, version_dir, shared_data_dir


def test_export_loads_in_a_fresh_process_without_project_code(trained_export, tmp_path):
    model_dir, version_dir, data_dir = trained_export
    model = load_trained_model(str(model_dir))
    inputs, expected = {}, {}
    for task in model.task_names:
        _, test = load_task_data(get_task(task), data_dir)
        inputs[task] = test.images[:16]
        expected[task] = model.call_task(task, tf.constant(inputs[task]), training=False).numpy()
    np.savez(tmp_path / "inputs.npz", **inputs)
    client = textwrap.dedent(
        f"""
        import json, sys
        class HideProject:  # as on a serving machine: TensorFlow, no project code
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("compose", "blocks", "tasks"):
                    raise ModuleNotFoundError(name)
        sys.meta_path.insert(0, HideProject())
        import numpy as np, tensorflow as tf
        loaded = tf.saved_model.load({str(version_dir)!r})
        inputs = np.load({str(tmp_path / "inputs.npz")!r})
        outputs = {{
            name: signature(images=tf.constant(inputs[name.removeprefix("serve_")]))[
                "logits"].numpy().tolist()
            for name, signature in loaded.signatures.items() if name.startswith("serve_")
        }}
        outputs["default"] = loaded.signatures["serving_default"](
            images=tf.constant(inputs["uci_digits"]))["logits"].numpy().tolist()
        project = [m for m in sys.modules if m.split(".")[0] in ("compose", "blocks", "tasks")]
        print(json.dumps({{"outputs": outputs, "project_modules": project}}))
        """
    )
    result = subprocess.run(
        [sys.executable, "-I", "-c", client],
        cwd=tmp_path,
        env={"PATH": os.environ["PATH"], "TF_CPP_MIN_LOG_LEVEL": "2"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer["project_modules"] == []
    assert sorted(answer["outputs"]) == ["default", "serve_uci_digits", "serve_usps"]
    for task in model.task_names:
        np.testing.assert_allclose(answer["outputs"][f"serve_{task}"], expected[task], atol=1e-4)
    np.testing.assert_allclose(answer["outputs"]["default"], expected["uci_digits"], atol=1e-4)
    assert stored_values(str(version_dir)) == model.count_params()


def test_saved_model_test_accuracy_is_the_training_table(trained_export):
    """One evaluation path: on the whole test split, the SavedModel's argmax
    gives exactly the accuracy compose.train reported for the same weights."""
    model_dir, version_dir, data_dir = trained_export
    reported = json.loads((model_dir / "metrics.json").read_text())["tasks"]
    loaded = tf.saved_model.load(str(version_dir))
    for task, row in reported.items():
        _, test = load_task_data(get_task(task), data_dir)
        logits = loaded.signatures[f"serve_{task}"](images=tf.constant(test.images))["logits"]
        accuracy = float(np.mean(np.argmax(logits.numpy(), axis=-1) == test.labels))
        assert accuracy == row["test_accuracy"], task


def test_saved_model_cli_is_a_second_client(trained_export, tmp_path):
    model_dir, version_dir, data_dir = trained_export
    model = load_trained_model(str(model_dir))
    _, test = load_task_data(get_task("usps"), data_dir)
    np.save(tmp_path / "images.npy", test.images[:4])
    result = subprocess.run(
        [
            "saved_model_cli",
            "run",
            f"--dir={version_dir}",
            "--tag_set=serve",
            "--signature_def=serve_usps",
            f"--inputs=images={tmp_path / 'images.npy'}",
            f"--outdir={tmp_path / 'out'}",
        ],
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    probabilities = np.load(tmp_path / "out" / "probabilities.npy")
    expected = tf.nn.softmax(model.call_task("usps", tf.constant(test.images[:4]))).numpy()
    np.testing.assert_allclose(probabilities, expected, atol=1e-5)
