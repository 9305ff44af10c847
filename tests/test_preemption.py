"""Preemption: SIGKILL the training binary mid-run, run the same command again."""

import json
import os
import re
import signal
import subprocess
import sys
import time

from conftest import REPO

STEPS = 120


UNIFORM_SEARCH = (
    "train.program_learning=uniform,train.program_search=local,train.search_budget=30,"
    "train.learning_fraction=0.3,train.validation_examples=200"
)
"""Single-path training to step 36, then a program search on held-out examples."""

SEARCH_ROUNDS = (
    "train.program_learning=search,train.program_search=local,train.search_budget=10,"
    "train.search_rounds=3,train.learning_fraction=0.3,train.validation_examples=200"
)
"""Hard programs searched at steps 10, 20 and 36, on examples held out for the search."""

SAMPLED = "train.program_learning=sampled,train.program_search=argmax"
"""Straight-through sampled programs to step 24, then each layer's most likely block."""


def command(model_dir, data_dir, override=""):
    return [
        sys.executable,
        "-m",
        "compose.train",
        "--tasks=uci_digits,usps",
        f"--data_dir={data_dir}",
        f"--model_dir={model_dir}",
        f"--steps={STEPS}",
        "--depth=3",
        "--channels=8",
        "--resolution=4",
        # A checkpoint after every 10-step loop; programs learned until step 36.
        "--params_override=train.checkpoint_every=10,train.steps_per_loop=10"
        + (f",{override}" if override else ""),
    ]


ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}


def newest_checkpoint_step(model_dir):
    index = model_dir / "checkpoints" / "checkpoint"
    try:
        found = re.search(r'model_checkpoint_path: "ckpt-(\d+)"', index.read_text())
    except FileNotFoundError:
        return 0
    return int(found.group(1)) if found else 0


def kill_after_checkpoint(model_dir, data_dir, step, override=""):
    """Starts the binary and SIGKILLs it once a checkpoint at or past ``step`` exists."""
    return kill_when(
        model_dir, data_dir, lambda: newest_checkpoint_step(model_dir) >= step, override
    )


def kill_when(model_dir, data_dir, ready, override=""):
    """Starts the binary and SIGKILLs it once ``ready()``; returns the newest
    checkpoint's step."""
    process = subprocess.Popen(
        command(model_dir, data_dir, override),
        cwd=REPO,
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 300
    while not ready():
        assert process.poll() is None, "the run ended before it could be killed"
        assert time.time() < deadline, "no checkpoint appeared"
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    return newest_checkpoint_step(model_dir)


def run_to_end(model_dir, data_dir, override=""):
    result = subprocess.run(
        command(model_dir, data_dir, override),
        cwd=REPO,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def results(model_dir):
    metrics = json.loads((model_dir / "metrics.json").read_text())
    programs = json.loads((model_dir / "programs.json").read_text())["programs"]
    return metrics["tasks"], {task: entry["program"] for task, entry in programs.items()}


def assert_same_end(uninterrupted, preempted):
    """Same programs, and the same accuracies and losses bit for bit."""
    expected_tasks, expected_programs = results(uninterrupted)
    got_tasks, got_programs = results(preempted)
    assert got_programs == expected_programs
    assert got_tasks == expected_tasks


def test_killed_twice_and_rerun_ends_exactly_like_an_uninterrupted_run(tmp_path, shared_data_dir):
    uninterrupted = tmp_path / "uninterrupted"
    run_to_end(uninterrupted, shared_data_dir, SAMPLED)

    preempted = tmp_path / "preempted"
    killed_at = kill_after_checkpoint(preempted, shared_data_dir, 20, SAMPLED)  # sampled
    assert 20 <= killed_at < STEPS and not (preempted / "metrics.json").exists()
    killed_again_at = kill_after_checkpoint(preempted, shared_data_dir, 70, SAMPLED)  # hard
    assert 70 <= killed_again_at < STEPS
    output = run_to_end(preempted, shared_data_dir, SAMPLED)
    assert f"resumed from step {killed_again_at}" in output

    assert_same_end(uninterrupted, preempted)


def test_killed_during_the_program_search_and_rerun_ends_exactly_like_an_uninterrupted_run(
    tmp_path, shared_data_dir
):
    uninterrupted = tmp_path / "uninterrupted"
    run_to_end(uninterrupted, shared_data_dir, UNIFORM_SEARCH)

    preempted = tmp_path / "preempted"
    # The checkpoint at step 36 is written just before the search starts.
    killed_at = kill_after_checkpoint(preempted, shared_data_dir, 36, UNIFORM_SEARCH)
    assert 36 <= killed_at < STEPS and not (preempted / "discretisation.json").exists()
    output = run_to_end(preempted, shared_data_dir, UNIFORM_SEARCH)
    assert f"resumed from step {killed_at}" in output

    assert_same_end(uninterrupted, preempted)


def rounds_recorded(model_dir):
    try:
        log = json.loads((model_dir / "search_rounds.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return set()
    return {record["step"] for records in log.values() for record in records}


def test_killed_between_search_rounds_and_rerun_ends_exactly_like_an_uninterrupted_run(
    tmp_path, shared_data_dir
):
    uninterrupted = tmp_path / "uninterrupted"
    run_to_end(uninterrupted, shared_data_dir, SEARCH_ROUNDS)
    expected_rounds = json.loads((uninterrupted / "search_rounds.json").read_text())
    assert {r["step"] for records in expected_rounds.values() for r in records} == {10, 20, 36}

    preempted = tmp_path / "preempted"
    # Killed once round 20 is recorded: the newest checkpoint predates it or
    # follows it, and either way the rerun must replay from there.
    killed_at = kill_when(
        preempted, shared_data_dir, lambda: 20 in rounds_recorded(preempted), SEARCH_ROUNDS
    )
    assert 20 <= killed_at < STEPS and not (preempted / "metrics.json").exists()
    output = run_to_end(preempted, shared_data_dir, SEARCH_ROUNDS)
    assert f"resumed from step {killed_at}" in output

    assert_same_end(uninterrupted, preempted)
    assert json.loads((preempted / "search_rounds.json").read_text()) == expected_rounds
