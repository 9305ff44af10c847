"""Same command, same result: nothing earlier in the process moves a run's outcome."""

import json
import random

import keras
import numpy as np
import tensorflow as tf
from conftest import TINY_MODEL_FLAGS, run_module

from compose.config import ExperimentConfig
from compose.recipes.joint import format_table, run_experiment
from compose.training.evaluate import evaluate
from tasks import get_task, load_task_data


def checkpoint_values(model_dir):
    """Every value of the newest checkpoint in ``model_dir``, by name."""
    reader = tf.train.load_checkpoint(str(model_dir / "checkpoints"))
    return {
        name: reader.get_tensor(name)
        for name in reader.get_variable_to_shape_map()
        if "OBJECT_GRAPH" not in name
    }


def test_a_run_ends_the_same_whether_its_data_was_prepared_before_or_in_the_process(tmp_path):
    tfds_dir = tmp_path / "tfds"
    tfds_dir.mkdir()
    runs = []
    for name in ("prepares_the_data", "finds_it_prepared"):
        result = run_module(
            "compose.train",
            "--tasks=uci_digits",
            "--steps=30",
            f"--model_dir={tmp_path / name}",
            *TINY_MODEL_FLAGS,
            env_extra={"COMPOSE_TFDS_DIR": str(tfds_dir)},
        )
        assert result.returncode == 0, result.stderr[-3000:]
        runs.append(tmp_path / name)
    first, second = runs
    for artefact in ("programs.json", "metrics.json"):
        assert json.loads((first / artefact).read_text()) == json.loads(
            (second / artefact).read_text()
        ), artefact
    values, again = checkpoint_values(first), checkpoint_values(second)
    assert values.keys() == again.keys()
    for name, value in values.items():
        np.testing.assert_array_equal(value, again[name], err_msg=name)
    log = [json.loads(line) for line in (first / "run_log.jsonl").read_text().splitlines()]
    assert log[-1]["seed"] == 0 and log[-1]["end_step"] == 30
    assert "tensorflow-cpu" in log[-1]["environment"]["packages"] or (
        "tensorflow" in log[-1]["environment"]["packages"]
    )
    assert "wall_s" not in json.loads((first / "metrics.json").read_text())


def test_two_training_calls_in_one_process_give_the_same_weights():
    config = ExperimentConfig(tasks=["uci_digits"])
    config.model.bank_size, config.model.depth = 3, 3
    config.model.channels, config.model.resolution = 8, 4
    config.train.steps = 20
    weights = []
    for disturbance in (1, 2):
        # What a user's own code (or data preparation) may do to global random state.
        random.seed(disturbance)
        np.random.seed(disturbance)
        keras.utils.set_random_seed(disturbance)
        keras.random.normal([3])
        model = run_experiment(config, model_dir=None, verbose=False)["model"]
        weights.append([np.array(v) for v in model.variables])
    for first, second in zip(*weights, strict=True):
        np.testing.assert_array_equal(first, second)


def test_held_out_validation_examples_are_left_out_of_training_and_scored():
    config = ExperimentConfig(tasks=["uci_digits"])
    config.model.bank_size, config.model.depth = 3, 3
    config.model.channels, config.model.resolution = 8, 4
    config.train.steps = 20
    config.train.validation_examples = 200
    result = run_experiment(config, model_dir=None, verbose=False)
    metrics = result["metrics"]
    train, _ = load_task_data(get_task("uci_digits"), config.data_dir, config.tfds_dir)
    rest, validation = train.split_off(200)
    entry = metrics["tasks"]["uci_digits"]
    assert entry["train_examples"] == len(rest) == len(train) - 200
    assert entry["validation_examples"] == 200
    splits = {"uci_digits": validation}
    expected = evaluate(result["model"], splits, config.train.eval_batch_size)["uci_digits"][
        "accuracy"
    ]
    assert entry["validation_accuracy"] == expected
    assert metrics["mean_validation_accuracy"] == expected
    assert "val acc" in format_table(metrics, result["programs"]).splitlines()[0]
