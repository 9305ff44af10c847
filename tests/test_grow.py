"""compose.grow through the binary: a user's own task grown into a system, a
SIGKILL mid-task and a rerun that ends identical, and one export serving it all."""

import json
import os
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import TINY_MODEL_FLAGS, random_images, run_module

from compose import ComposedModel

USER_MODULE = """
import dataclasses

from tasks import get_task, register_task

register_task(
    dataclasses.replace(
        get_task("uci_digits"),
        name="inverted_uci_digits",
        preprocess=lambda images: 255 - images,
        description="derived: UCI digits, dark strokes on white",
    )
)
"""
STREAM = ("inverted_uci_digits", "animal_silhouettes")
GROW_FLAGS = (
    "--budget=3",
    "--steps=10",
    "--batch_size=16",
    "--search_budget=4",
    "--task_starts=1",
    "--validation_examples=100",
)
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}


def grow_command(root, output_dir):
    return [
        sys.executable,
        "-m",
        "compose.grow",
        f"--model_dir={root}",
        f"--output_dir={output_dir}",
        f"--tasks={','.join(STREAM)}",
        "--import=my_tasks",
        *GROW_FLAGS,
    ]


def finished_tasks(output_dir):
    try:
        return len(json.loads((output_dir / "grow.json").read_text())["tasks"])
    except (FileNotFoundError, json.JSONDecodeError):
        return 0


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A root trained on UCI digits, grown by two tasks once straight through
    and once killed during the second task and run again."""
    work = tmp_path_factory.mktemp("grow")
    (work / "my_tasks.py").write_text(USER_MODULE)
    root = work / "root"
    trained = run_module(
        "compose.train",
        "--tasks=uci_digits",
        f"--model_dir={root}",
        "--steps=20",
        *TINY_MODEL_FLAGS,
    )
    assert trained.returncode == 0, trained.stderr[-3000:]

    def grow(output_dir):
        done = subprocess.run(
            grow_command(root, output_dir),
            cwd=work,
            env=ENV,
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        return done

    whole = grow(work / "whole")
    process = subprocess.Popen(
        grow_command(root, work / "killed"),
        cwd=work,
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 600
    while finished_tasks(work / "killed") < 1 and time.time() < deadline:
        time.sleep(0.1)
    assert process.poll() is None, "the run ended before it could be killed in its second task"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert finished_tasks(work / "killed") == 1
    resumed = grow(work / "killed")
    return work, whole, resumed


def records(output_dir):
    """The records of ``grow.json`` without their wall times."""
    tasks = json.loads((output_dir / "grow.json").read_text())["tasks"]
    for record in tasks:
        del record["seconds"], record["first_generation"]["search_s"]
    return tasks


def test_a_run_killed_during_a_task_ends_as_one_that_was_not(runs):
    work, _, resumed = runs
    assert "resuming after 1 tasks: inverted_uci_digits" in resumed.stdout
    assert records(work / "killed") == records(work / "whole")
    whole = keras.models.load_model(work / "whole" / "model.keras")
    killed = keras.models.load_model(work / "killed" / "model.keras")
    assert isinstance(killed, ComposedModel)
    assert killed.task_names == whole.task_names == ["uci_digits", *STREAM]
    for mine, theirs in zip(killed.weights, whole.weights, strict=True):
        np.testing.assert_array_equal(mine, theirs)


def test_every_task_is_recorded_and_no_earlier_task_changes(runs):
    work, _, _ = runs
    tasks = records(work / "whole")
    assert [r["task"] for r in tasks] == list(STREAM)
    model = keras.models.load_model(work / "whole" / "model.keras")
    for index, record in enumerate(tasks):
        assert record["index"] == index and record["old_task_max_abs_diff"] == 0.0
        program = model.program(record["task"])
        assert record["program"] == program and record["adoption_max_abs_diff"] < 1e-5
        adopted = {entry: model.bank.derived[entry][0] for entry in record["derived_entries"]}
        assert [adopted.get(entry, entry) for entry in program] == record["genome"]["program"]
        assert 1 <= len(record["candidates"]) <= 3 and record["lineage"][-1]["order"] in range(3)
        assert record["added_params"] > 0 and 0.0 <= record["test_accuracy"] <= 1.0
        assert (
            json.loads((work / "whole" / "tasks" / f"{record['task']}.json").read_text())["task"]
            == record["task"]
        )
    assert tasks[-1]["system_params"] > tasks[0]["system_params"]


def test_one_export_serves_every_task_of_the_grown_system(runs):
    work, _, _ = runs
    exported = run_module("compose.export", f"--model_dir={work / 'whole'}", "--version=1")
    assert exported.returncode == 0, exported.stderr[-3000:]
    model = keras.models.load_model(work / "whole" / "model.keras")
    loaded = tf.saved_model.load(str(work / "whole" / "export" / "1"))
    for task in model.task_names:
        images = random_images(model.path(task).spec.image_shape, 16, seed=3)
        expected = model.call_task(task, tf.constant(images), training=False).numpy()
        served = loaded.signatures[f"serve_{task}"](images=tf.constant(images))["logits"]
        np.testing.assert_allclose(served.numpy(), expected, atol=1e-5)
