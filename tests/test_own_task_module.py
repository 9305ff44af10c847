"""docs/adding_a_task.md, word for word, in a directory outside the repository:
its code blocks make the data and the task module, and its commands train and
transfer the new task through the binaries with ``--import``."""

import pathlib
import re
import shlex
import subprocess
import sys

from conftest import REPO, TINY_MODEL_FLAGS

DOC = REPO / "docs" / "adding_a_task.md"
QUICK = ("--steps=20", *TINY_MODEL_FLAGS)
"""Appended to the documented commands so that they train in seconds."""


def blocks(language):
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(), flags=re.S)


def run(command, cwd):
    return subprocess.run(
        command,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        env={"PATH": "/usr/bin:/bin", "TF_CPP_MIN_LOG_LEVEL": "2", "HOME": str(cwd)},
    )


def test_the_documented_recipe_trains_and_transfers_a_task_from_an_outside_module(tmp_path):
    assert not tmp_path.is_relative_to(REPO)
    make_data, task_module = blocks("python")[:2]
    made = run([sys.executable, "-c", make_data], tmp_path)
    assert made.returncode == 0, made.stderr[-3000:]
    (tmp_path / "my_tasks.py").write_text(task_module)
    commands = [
        shlex.split(line.replace("\\\n", " "))
        for line in re.split(r"(?<!\\)\n", blocks("bash")[0].strip())
    ]
    assert [c[:3] for c in commands] == [
        ["python", "-m", "compose.train"],
        ["python", "-m", "compose.transfer"],
    ]
    # The transfer command reads the main job's model dir: a tiny stand-in.
    main_job = run(
        [
            sys.executable,
            "-m",
            "compose.train",
            "--tasks=uci_digits",
            "--model_dir=runs/main",
            *QUICK,
        ],
        tmp_path,
    )
    assert main_job.returncode == 0, main_job.stderr[-3000:]

    trained = run([sys.executable, *commands[0][1:], *QUICK], tmp_path)
    assert trained.returncode == 0, trained.stderr[-3000:]
    assert "inverted_digits" in trained.stdout and (tmp_path / "runs/mine/metrics.json").exists()
    transferred = run(
        [
            sys.executable,
            *commands[1][1:],
            "--modes=head,program",
            "--steps=20",
            "--search_budget=4",
        ],
        tmp_path,
    )
    assert transferred.returncode == 0, transferred.stderr[-3000:]
    report = tmp_path / "runs/main/transfer/inverted_digits/transfer.json"
    assert report.exists(), transferred.stdout
    # The TFDS data went to $HOME's default directory, not into the repository.
    assert not list(pathlib.Path(REPO).glob("**/inverted_digits*"))


def test_a_missing_source_file_is_one_line_naming_it(tmp_path):
    (tmp_path / "my_tasks.py").write_text(blocks("python")[1])
    (tmp_path / "data").mkdir()
    failed = run(
        [
            sys.executable,
            "-m",
            "compose.train",
            "--import=my_tasks",
            "--data_dir=data",
            "--tasks=inverted_digits",
            "--model_dir=runs/mine",
            *QUICK,
        ],
        tmp_path,
    )
    assert failed.returncode == 2, failed.stderr[-3000:]
    last = failed.stderr.strip().splitlines()[-1]
    assert last.startswith("error: task 'inverted_digits':") and "data" in last, last
    assert "Put digits.npz" in last and not (tmp_path / "runs").exists()
