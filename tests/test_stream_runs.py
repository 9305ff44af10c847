"""benchmarks.stream_runs combines seeds grown by separate runs into one set of
medians, and the figure draws those medians; a stream work dir's root is
reused only for the tasks, model and training that made it."""

import pytest
from absl import app

from benchmarks.stream_runs import (
    METHODS,
    ROOT_KEYS,
    earlier_run,
    figure_points,
    summarise,
    with_system,
)
from compose.config import ExperimentConfig, override
from compose.errors import InvalidInputError
from compose.files import check_resumable, write_config, write_json

SETUP = {"tasks": ["a", "b"], "small_penalty": 0.9, "quick": False, "evolve": {"budget": 10}}


def _run(seed, accuracy):
    """A seed's run.json: every method scores ``accuracy`` on task a and
    ``accuracy + 0.1`` on task b; the grown systems add 10 values a task."""
    rows = {}
    for method in METHODS:
        rows[method] = [
            {
                "task": task,
                "test_accuracy": accuracy + 0.1 * i,
                "charged_params": 100 if method == "finetune" else 40,
                "added_params": 10,
                "system_params": 1000 + 10 * (i + 1),
                "seconds": 5.0 * (seed + 1),
                "old_task_max_abs_diff": 0.0,
            }
            for i, task in enumerate(SETUP["tasks"])
        ]
    return {"seed": seed, "root_params": 1000, "rows": rows, "setup": SETUP}


def test_a_seed_grown_elsewhere_joins_the_medians(tmp_path):
    path = str(tmp_path / "run.json")
    write_json(path, _run(2, 0.5))
    runs = [_run(0, 0.7), _run(1, 0.6), earlier_run(path, SETUP, range(0, 2))]
    summary = summarise(runs, SETUP["tasks"])
    # Seed means 0.75, 0.65 and 0.55: the median is seed 1's.
    assert summary["evolved_mean"] == 0.65
    assert summary["per_task"]["finetune"] == {"a": 0.6, "b": 0.7}
    assert summary["params_per_task_ratio"] == 0.4
    assert summary["total_params_ratio"] == 1.02
    assert summary["seconds_per_task"] == 15.0


def test_a_seed_of_another_setup_or_grown_here_is_refused(tmp_path):
    path = str(tmp_path / "run.json")
    write_json(path, _run(0, 0.5))
    with pytest.raises(app.UsageError, match=r"its small_penalty is 0\.9, this run's is 0\.6"):
        earlier_run(path, {**SETUP, "small_penalty": 0.6}, range(1, 2))
    with pytest.raises(
        app.UsageError, match=r"its root is None, this run's is 'model.bank_size=8'"
    ):
        earlier_run(path, {**SETUP, "root": "model.bank_size=8"}, range(1, 2))
    with pytest.raises(app.UsageError, match=r"its quick is False, this run's is None"):
        earlier_run(path, {k: v for k, v in SETUP.items() if k != "quick"}, range(1, 2))
    with pytest.raises(app.UsageError, match="seed 0 is also grown here"):
        earlier_run(path, SETUP, range(0, 1))


def test_the_figure_draws_every_seeds_tasks_and_the_medians_of_the_seeds():
    runs = [_run(0, 0.7), _run(1, 0.6), _run(2, 0.5)]
    runs[2]["rows"]["evolved"][1]["system_params"] = 2000  # one seed's system doubles
    runs[0]["rows"]["head"][0]["added_params"] = 500  # one seed's first head is large
    points = figure_points(runs, summarise(runs, SETUP["tasks"]))
    assert len(points["finetune"]["dots"]) == 6  # two tasks of three seeds
    assert points["finetune"]["dots"][0] == (100, 0.7)
    # The star is the summary's: median over seeds of the means (0.75, 0.65, 0.55).
    assert points["finetune"]["star"] == (100, 0.65)
    assert points["evolved_small"]["star"] == (40, 0.65)
    # Sizes over the root (1000) before and after each task, medians of the seeds.
    assert points["evolved"]["sizes"] == [1.0, 1.01, 1.02]
    assert points["head"]["sizes"] == [1.0, 1.01, 1.02]
    assert points["finetune"]["sizes"] == [1.0, 1.01, 1.02]


def test_a_root_is_reused_wherever_its_data_is(tmp_path):
    trained = override(ExperimentConfig(), {"data_dir": "/a", "train": {"seed": 2}})
    write_config(trained, str(tmp_path))
    again = override(trained, {"data_dir": "../shared/data", "tfds_dir": "/b"})
    check_resumable(again, str(tmp_path), ROOT_KEYS, "--work_dir")


def test_a_root_of_another_config_is_refused(tmp_path):
    trained = override(ExperimentConfig(), {"train": {"seed": 2}})
    write_config(trained, str(tmp_path))
    for change in ({"model": {"bank_size": 8}}, {"train": {"program_learning": "none"}}):
        wanted = override(trained, change)
        section = next(iter(change))
        with pytest.raises(InvalidInputError, match=rf"holds a run with {section}=.*--work_dir"):
            check_resumable(wanted, str(tmp_path), ROOT_KEYS, "--work_dir")


def _record(task, accuracy, added):
    """A compose.grow task record, as ``tasks/<task>.json`` holds it."""
    return {
        "task": task,
        "test_accuracy": accuracy,
        "validation_accuracy": accuracy,
        "charged_params": 20,
        "added_params": added,
        "system_params": 1000 + added,
        "seconds": 1.0,
        "old_task_max_abs_diff": 0.0,
        "genome": {"program": [0]},
        "lineage_steps": 300,
        "program": [4],
    }


def test_a_system_grown_elsewhere_replaces_its_method_in_a_seed():
    run = _run(0, 0.7)
    replaced = with_system(run, "evolved_small", [_record("a", 0.9, 5), _record("b", 0.8, 15)])
    assert replaced["rows"]["finetune"] == run["rows"]["finetune"]
    kept = {k: v for k, v in _record("b", 0.8, 15).items() if k not in ("lineage_steps", "program")}
    assert replaced["rows"]["evolved_small"][1] == {"steps": 300, **kept}
    summary = summarise([replaced], SETUP["tasks"])
    assert summary["evolved_small_mean"] == 0.85 and summary["evolved_mean"] == 0.75
    assert summary["params_per_task_ratio"] == 0.2 and summary["added_params"] == [5, 15]
    assert summary["total_params_ratio"] == 1.015
    with pytest.raises(app.UsageError, match=r"tasks \['b', 'a'\] are not the run's stream"):
        with_system(run, "evolved_small", [_record("b", 0.9, 5), _record("a", 0.8, 15)])
    with pytest.raises(app.UsageError, match="--method must be evolved or evolved_small"):
        with_system(run, "finetune", [])
