"""Bad input to every binary: one ``error:`` line naming what is wrong, exit status 2,
no traceback, and the model dir byte-identical before and after."""

import concurrent.futures
import hashlib
import json
import re
import shutil

import pytest
from conftest import REPO, TINY_MODEL_FLAGS, run_module

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
        "invalid config: strategy must be one of off, one_device",
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
    "train: bad block override": (
        "compose.train",
        ["--params_override=model.block=resnext", "--model_dir={tmp}/new"],
        "invalid config: model.block must be one of basic_residual, inverted_bottleneck",
    ),
    "train: config file value of the wrong type": (
        "compose.train",
        ["--config_file={tmp}/steps_word.json", "--model_dir={tmp}/new"],
        "invalid config: train.steps must be an integer, got 'many'",
    ),
    "transfer: bad override": (
        "compose.transfer",
        ["--model_dir={model}", "--task=usps", "--params_override=transfer.race_fraction=1"],
        "invalid config: transfer.race_fraction must be in [0, 1)",
    ),
    "transfer: an experiment field": (
        "compose.transfer",
        ["--model_dir={model}", "--task=usps", "--params_override=model.depth=4"],
        "--params_override sets model, but this binary takes only transfer, data_dir, tfds_dir",
    ),
    "transfer: mode as a config value": (
        "compose.transfer",
        ["--model_dir={model}", "--task=usps", "--params_override=transfer.mode=head"],
        "transfer.mode is set per run by --modes",
    ),
    "adapt: config file bad value": (
        "compose.adapt",
        ["--model_dir={model}", "--target=uci_digits", "--config_file={tmp}/adapt_bad.json"],
        "invalid config: adapt.scored_images must be >= 2, got 1",
    ),
    "search: bad relaxed override": (
        "compose.search",
        ["--model_dir={model}", "--params_override=search.relaxed.steps=0"],
        "invalid config: search.relaxed.steps must be >= 1, got 0",
    ),
    "grow: config file bad learning rate": (
        "compose.grow",
        ["--model_dir={model}", "--tasks=animal_silhouettes", "--config_file={tmp}/grow_bad.json"],
        "invalid config: grow.evolve.learning_rate must be one of",
    ),
    "export: config values": (
        "compose.export",
        ["--model_dir={model}", "--params_override=train.steps=3"],
        "--params_override sets train, but this binary has no config",
    ),
    "plots: config values": (
        "compose.plots",
        ["--model_dir={model}", "--config_file={tmp}/steps_word.json"],
        "--config_file sets train, but this binary has no config",
    ),
    "unknown named config": (
        "compose.train",
        ["--config=biggest", "--model_dir={tmp}/new"],
        "unknown --config 'biggest'; named configs: authors, five_tasks, main, stream",
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
        "invalid config: search.strategy must be one of evolutionary, local, random, relaxed",
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
    "plots: programs.json of another shape": (
        "compose.plots",
        ["--model_dir={tmp}/odd_run"],
        "odd_run/programs.json: expected",
    ),
    "unknown block family in an override": (
        "compose.train",
        ["--params_override=model.block=resnext", "--model_dir={tmp}/new"],
        "invalid config: model.block must be one of basic_residual, inverted_bottleneck",
    ),
    "unknown strategy in an override": (
        "compose.train",
        ["--params_override=strategy=gpu", "--model_dir={tmp}/new"],
        "invalid config: strategy must be one of off,",
    ),
    "missing programs file with learning on": (
        "compose.train",
        ["--programs_file={tmp}/none.json", "--model_dir={tmp}/new"],
        "programs file {tmp}/none.json: no such file",
    ),
    "batch larger than a task": (
        "compose.train",
        ["--tasks=uci_digits", "--batch_size=100000000", "--model_dir={tmp}/new"],
        "task 'uci_digits': batch_size 100000000 is larger than its 1151 training examples "
        "(1438 less 287 held out)",
    ),
    "activations beyond the machine's memory": (
        "compose.train",
        [
            "--tasks=uci_digits",
            "--batch_size=1000",
            "--params_override=model.channels=2048,model.resolution=16",
            "--model_dir={tmp}/new",
        ],
        "batch_size 1000 needs at least 421.9 GiB of activations per step",
    ),
    "import that raises": (
        "compose.train",
        ["--import=tests.raising_module", "--model_dir={tmp}/new"],
        "--import=tests.raising_module raised RuntimeError: this module fails on import",
    ),
    "garbage npz archive": (
        "compose.train",
        [
            "--tasks=usps",
            "--data_dir={tmp}/garbage_data",
            "--tfds_dir={tfds}",
            "--model_dir={tmp}/new",
        ],
        "cannot read {tmp}/garbage_data/usps.npz",
    ),
    "train: every checkpoint unreadable": (
        "compose.train",
        ["--model_dir={damaged}", "--tasks=uci_digits", "--steps=40", *TINY_MODEL_FLAGS],
        "no readable checkpoint: {damaged}/checkpoints/ckpt-20",
    ),
    "transfer: every checkpoint unreadable": (
        "compose.transfer",
        ["--model_dir={damaged}", "--task=uci_digits"],
        "no readable checkpoint: {damaged}/checkpoints/ckpt-20",
    ),
    "grow: unknown task": (
        "compose.grow",
        ["--model_dir={model}", "--tasks=animal_silhouettes,digitz"],
        "unknown task 'digitz'",
    ),
    "grow: a task already in the system": (
        "compose.grow",
        ["--model_dir={model}", "--tasks=animal_silhouettes,uci_digits"],
        "grow: tasks ['uci_digits'] are already in the system (uci_digits)",
    ),
    "grow: size penalty above 1": (
        "compose.grow",
        ["--model_dir={model}", "--tasks=animal_silhouettes", "--size_penalty=1.5"],
        "invalid config: grow.evolve.size_penalty must be in (0, 1], got 1.5",
    ),
    "grow: a budget of 0": (
        "compose.grow",
        ["--model_dir={model}", "--tasks=animal_silhouettes", "--budget=0"],
        "invalid config: grow.evolve.budget must be >= 1, got 0",
    ),
    "grow: a model dir that is not a trained model": (
        "compose.grow",
        ["--model_dir={tmp}", "--tasks=animal_silhouettes"],
        "{tmp}/config.json not found: --model_dir must be a directory written by compose.train",
    ),
    "search: min_length above the depth": (
        "compose.search",
        ["--model_dir={model}", "--min_length=99"],
        "min_length 99: programs here are 1..3 blocks long",
    ),
    "export: version below 0": (
        "compose.export",
        ["--model_dir={model}", "--version=-3"],
        "--version",
    ),
    "export: export dir under a file": (
        "compose.export",
        ["--model_dir={model}", "--export_dir={tmp}/a_file/export"],
        "is not a writable directory",
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
    damaged = tmp_path_factory.mktemp("damaged")
    shutil.copytree(model, damaged, dirs_exist_ok=True)
    for index in (damaged / "checkpoints").glob("ckpt-*.index"):
        index.write_bytes(b"garbage")
    tmp = tmp_path_factory.mktemp("scratch")
    (tmp / "bad.json").write_text('{"uci_digits": [0, 1],\n]')
    (tmp / "index9.json").write_text(json.dumps({"uci_digits": [0, 9]}))
    (tmp / "steps_word.json").write_text(json.dumps({"train": {"steps": "many"}}))
    (tmp / "adapt_bad.json").write_text(json.dumps({"adapt": {"scored_images": 1}}))
    (tmp / "grow_bad.json").write_text(json.dumps({"grow": {"evolve": {"learning_rate": 0.3}}}))
    (tmp / "a_file").write_text("not a directory")
    (tmp / "garbage_data").mkdir()
    (tmp / "garbage_data" / "usps.npz").write_bytes(b"PK\x03\x04 cut short")
    (tmp / "odd_run").mkdir()
    (tmp / "odd_run" / "programs.json").write_text("[1, 2]")
    (tmp / "odd_run" / "metrics.json").write_text('{"step": 1}')
    tfds = tmp_path_factory.mktemp("tfds")  # nothing prepared: the archive is read
    dirs = {"model": model, "damaged": damaged, "tmp": tmp}
    before = {name: _digest(path) for name, path in dirs.items()}

    def run(case):
        binary, arguments, expected = CASES[case]
        arguments = [a.format(**dirs, tfds=tfds) for a in arguments]
        return run_module(binary, *arguments), expected.format(**dirs)

    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        results = dict(zip(CASES, pool.map(run, CASES), strict=True))
    return results, before, {name: _digest(path) for name, path in dirs.items()}


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


def test_every_binary_is_in_the_matrix():
    """Each console script of pyproject.toml has bad-input cases above."""
    text = (REPO / "pyproject.toml").read_text()
    scripts = re.search(r"\[project\.scripts\]\n(.*?)\n\n", text, flags=re.S).group(1)
    binaries = {
        line.split('"')[1].split(":")[0].removesuffix(".__main__") for line in scripts.splitlines()
    }
    assert binaries == {binary for binary, _, _ in CASES.values()}
