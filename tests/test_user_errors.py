"""Bad input to every binary: one ``error:`` line naming what is wrong, exit status 2,
no traceback, and the model dir byte-identical before and after."""

import concurrent.futures
import hashlib
import json

import pytest
from conftest import TINY_MODEL_FLAGS, run_module

CASES = {
    # name: (binary, arguments ({model} is the trained model dir, {tmp} a scratch dir),
    #        what the one error line must say)
    "unknown task": (
        "compose.train",
        ["--tasks=uci_digits,digitz", "--model_dir={tmp}/new"],
        "unknown task 'digitz'",
    ),
    "bad model field": (
        "compose.train",
        ["--depth=0", "--model_dir={tmp}/new"],
        "invalid config: model.depth must be >= 1",
    ),
    "unknown config key": (
        "compose.train",
        ["--params_override=model.width=3", "--model_dir={tmp}/new"],
        "unknown config key 'model.width'",
    ),
    "override not key=value": (
        "compose.train",
        ["--params_override=depth", "--model_dir={tmp}/new"],
        "params_override item 'depth' is not key=value",
    ),
    "missing programs file": (
        "compose.train",
        ["--programs_file={tmp}/none.json", "--program_learning=none", "--model_dir={tmp}/new"],
        "programs file {tmp}/none.json: no such file",
    ),
    "programs file not JSON": (
        "compose.train",
        ["--programs_file={tmp}/bad.json", "--program_learning=none", "--model_dir={tmp}/new"],
        "programs file {tmp}/bad.json, line 2 column 1: not JSON",
    ),
    "program index out of range": (
        "compose.train",
        [
            "--programs_file={tmp}/index9.json",
            "--program_learning=none",
            "--tasks=uci_digits",
            "--model_dir={tmp}/new",
        ],
        "task 'uci_digits'",
    ),
    "config file not JSON": (
        "compose.train",
        ["--config_file={tmp}/bad.json", "--model_dir={tmp}/new"],
        "--config_file {tmp}/bad.json, line 2 column 1: not JSON",
    ),
    "bad strategy flag": (
        "compose.train",
        ["--strategy=gpu", "--model_dir={tmp}/new"],
        "--strategy",
    ),
    "missing data dir": (
        "compose.train",
        ["--data_dir={tmp}/nonexistent", "--model_dir={tmp}/new"],
        "--data_dir {tmp}/nonexistent: no such directory",
    ),
    "other model in dir": (
        "compose.train",
        ["--model_dir={model}", "--tasks=uci_digits", "--depth=4"],
        "holds a run with model=",
    ),
    "stray argument": (
        "compose.train",
        ["--model_dir={tmp}/new", "steps=3"],
        "unexpected arguments: steps=3",
    ),
    "unwritable model dir": (
        "compose.train",
        ["--model_dir={tmp}/a_file/run"],
        "is not a writable directory",
    ),
    "unknown import": (
        "compose.train",
        ["--import=no_such_module_here", "--model_dir={tmp}/new"],
        "--import=no_such_module_here",
    ),
    "transfer: unknown task": (
        "compose.transfer",
        ["--model_dir={model}", "--task=digitz"],
        "unknown task 'digitz'",
    ),
    "transfer: unknown mode": (
        "compose.transfer",
        ["--model_dir={model}", "--task=usps", "--modes=head,bogus"],
        "unknown --modes ['bogus']",
    ),
    "transfer: unknown source": (
        "compose.transfer",
        ["--model_dir={model}", "--task=uci_digits", "--source_task=nope"],
        "unknown task 'nope'; the model has tasks: uci_digits",
    ),
    "transfer: not a model dir": (
        "compose.transfer",
        ["--model_dir={tmp}", "--task=uci_digits"],
        "{tmp}/config.json not found",
    ),
    "transfer: missing flag": ("compose.transfer", ["--model_dir={model}"], "--task"),
    "adapt: unknown objective": (
        "compose.adapt",
        ["--model_dir={model}", "--target=uci_digits", "--objectives=adversarial"],
        "unknown --objectives ['adversarial']",
    ),
    "adapt: unknown target": (
        "compose.adapt",
        ["--model_dir={model}", "--target=nope"],
        "unknown task 'nope'",
    ),
    "search: unknown task": (
        "compose.search",
        ["--model_dir={model}", "--tasks=uspss"],
        "unknown task 'uspss'",
    ),
    "search: unknown strategy": (
        "compose.search",
        ["--model_dir={model}", "--strategy=genetic"],
        "--strategy",
    ),
    "export: unknown task": (
        "compose.export",
        ["--model_dir={model}", "--tasks=nope"],
        "unknown task 'nope'",
    ),
    "plots: not a model dir": (
        "compose.plots",
        ["--model_dir={tmp}/nonexistent"],
        "nonexistent/programs.json: no such file",
    ),
}


def _digest(directory):
    return {
        str(path.relative_to(directory)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    """Every case run once (three at a time) against one trained model dir."""
    model = tmp_path_factory.mktemp("model")
    trained = run_module(
        "compose.train",
        "--tasks=uci_digits",
        f"--model_dir={model}",
        "--steps=20",
        *TINY_MODEL_FLAGS,
    )
    assert trained.returncode == 0, trained.stderr[-3000:]
    tmp = tmp_path_factory.mktemp("scratch")
    (tmp / "bad.json").write_text('{"uci_digits": [0, 1],\n]')
    (tmp / "index9.json").write_text(json.dumps({"uci_digits": [0, 9]}))
    (tmp / "a_file").write_text("not a directory")
    before = _digest(model), _digest(tmp)

    def run(case):
        binary, arguments, expected = CASES[case]
        arguments = [a.format(model=model, tmp=tmp) for a in arguments]
        return run_module(binary, *arguments), expected.format(model=model, tmp=tmp)

    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        results = dict(zip(CASES, pool.map(run, CASES), strict=True))
    return results, before, (_digest(model), _digest(tmp))


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_gives_one_error_line_and_status_2(outcomes, case):
    completed, expected = outcomes[0][case]
    lines = completed.stderr.strip().splitlines()
    assert completed.returncode == 2, completed.stderr[-3000:]
    assert "Traceback" not in completed.stderr, completed.stderr[-3000:]
    assert lines[-1].startswith("error: ") and expected in lines[-1], lines[-1]


def test_no_bad_input_changes_a_file(outcomes):
    _, before, after = outcomes
    assert after == before
