"""Every Python block in README.md and docs/ runs as written, each in a fresh
process, in a directory where ``runs/main`` holds a (tiny) main-job model dir."""

import os
import re
import subprocess
import sys

import pytest
from conftest import REPO, run_module

DOCUMENTS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
SNIPPETS = [
    pytest.param(block, id=f"{document.name}:{number}")
    for document in DOCUMENTS
    for number, block in enumerate(
        re.findall(r"```python\n(.*?)```", document.read_text(), flags=re.S), start=1
    )
]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A directory with ``runs/main``: the main job's tasks, bank size and depth (the
    snippets' programs index it), narrow and small features, few steps."""
    directory = tmp_path_factory.mktemp("docs")
    trained = run_module(
        "compose.train",
        f"--model_dir={directory / 'runs' / 'main'}",
        "--steps=20",
        "--channels=8",
        "--resolution=4",
    )
    assert trained.returncode == 0, trained.stderr[-3000:]
    return directory


def test_there_are_snippets():
    assert len(SNIPPETS) >= 8


@pytest.mark.parametrize("snippet", SNIPPETS)
def test_snippet_runs(snippet, workdir):
    ran = subprocess.run(
        [sys.executable, "-c", snippet],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    assert ran.returncode == 0, ran.stderr[-3000:]
