import json
import subprocess
import sys

import pytest
from absl import flags
from config_walker import leaf_paths
from conftest import REPO

from compose import train
from compose.cli import COMMON_FLAG_FIELDS as COMMON
from compose.config import ExperimentConfig, override, parse_params_override, validate

BINARIES = ("compose.train", "compose.transfer", "compose.adapt", "compose.search", "compose.grow")
"""The binaries with a config section (compose.export and compose.plots have none)."""


def test_params_override_parses_nested_json_values():
    assert parse_params_override('model.depth=4, train.learning_rate=0.01,tasks=["usps"]') == {
        "model": {"depth": 4},
        "train": {"learning_rate": 0.01},
        "tasks": ["usps"],
    }
    with pytest.raises(ValueError, match="'depth' is not key=value"):
        parse_params_override("depth")


def test_params_override_keeps_json_lists_and_dicts_whole():
    assert parse_params_override('tasks=["usps","uci_digits"],train.programs={"a": [0, 1]}') == {
        "tasks": ["usps", "uci_digits"],
        "train": {"programs": {"a": [0, 1]}},
    }


def test_values_of_the_wrong_type_name_the_field():
    with pytest.raises(ValueError, match="train.steps must be an integer, got 'many'"):
        override(ExperimentConfig(), {"train": {"steps": "many"}})
    with pytest.raises(ValueError, match="grow.evolve.max_clones must be an integer or null"):
        override(ExperimentConfig(), {"grow": {"evolve": {"max_clones": 1.5}}})
    assert (
        override(ExperimentConfig(), {"transfer": {"learning_rate": 1}}).transfer.learning_rate
        == 1.0
    )


def test_a_section_checks_its_values_when_built_or_overridden():
    with pytest.raises(ValueError, match="invalid config: grow.evolve.budget must be >= 1, got 0"):
        override(ExperimentConfig(), {"grow": {"evolve": {"budget": 0}}})
    config = ExperimentConfig()
    config.model.block = "resnext"
    with pytest.raises(ValueError, match="invalid config: model.block must be one of"):
        validate(config)


def test_every_field_of_the_tree_is_set_from_the_command_line_of_its_binary():
    """Each binary, in its own process (each defines its flags), sets every
    field of its sections through --params_override, one at a time, to a
    value other than the default where the type allows (tests/config_walker.py)."""
    walked = {}
    for binary in BINARIES:
        completed = subprocess.run(
            [sys.executable, str(REPO / "tests" / "config_walker.py"), binary],
            capture_output=True,
            text=True,
            cwd=REPO,
            timeout=300,
        )
        assert completed.returncode == 0, completed.stderr[-3000:]
        report = json.loads(completed.stdout.strip().splitlines()[-1])
        for path, entry in report.items():
            assert entry["built"] == entry["given"], (binary, path, entry)
            walked.setdefault(path, []).append(binary)
    per_run = {"transfer.mode", "adapt.objective"}  # the --modes and --objectives lists
    assert set(walked) | per_run == {path for path, _, _ in leaf_paths(ExperimentConfig())}
    assert walked["transfer.race_fraction"] == ["compose.transfer"]
    assert walked["grow.evolve.size_penalty"] == ["compose.grow"]


def test_unknown_key_names_the_full_path():
    with pytest.raises(LookupError, match="unknown config key 'model.width'"):
        override(ExperimentConfig(), {"model": {"width": 3}})


def test_validation_names_the_field():
    config = ExperimentConfig()
    config.model.bank_size = 0
    with pytest.raises(ValueError, match="model.bank_size must be >= 1"):
        validate(config)


def test_override_order_defaults_file_override_flags(tmp_path):
    config_file = tmp_path / "c.json"
    config_file.write_text(
        json.dumps({"model": {"depth": 3, "channels": 5}, "train": {"steps": 7}})
    )
    values = flags.FlagValues()
    for name in flags.FLAGS:
        if name in train.FLAG_FIELDS or name in (
            "config",
            "config_file",
            "params_override",
            *COMMON,
        ):
            values[name] = flags.FLAGS[name]
    values(
        [
            "prog",
            f"--config_file={config_file}",
            "--params_override=model.channels=6,train.steps=8",
            "--steps=9",
        ]
    )
    config = train.experiment_config(values)
    assert (config.model.depth, config.model.channels, config.train.steps) == (3, 6, 9)
    assert config.model.bank_size == ExperimentConfig().model.bank_size


@pytest.mark.parametrize(
    "imports, absent",
    [
        ("compose.config", ("keras", "tensorflow")),
        ("compose.errors", ("keras", "tensorflow")),
        ("tasks", ("keras", "compose.core.model")),
        ("blocks", ("compose.core.model",)),
    ],
)
def test_leaf_modules_load_neither_keras_nor_the_engine(imports, absent):
    """Each in a fresh process: the configuration and the tasks are read and
    checked before the engine is needed.  ``blocks`` loads TensorFlow (and
    with it Keras) for its ops; it must import first without a package-init
    cycle through ``compose``."""
    code = f"import sys, {imports}; print([m for m in {absent!r} if m in sys.modules])"
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert completed.stdout.strip() == "[]"


def test_every_named_config_validates_and_says_how_to_run_it():
    from compose.config import experiments

    assert set(experiments.NAMES) == {"main", "authors", "five_tasks", "stream"}
    for name in experiments.NAMES:
        validate(override(ExperimentConfig(), experiments.named_config(name)))
        module = __import__(f"compose.config.experiments.{name}", fromlist=["get_config"])
        assert f"--config={name}" in module.__doc__ and "Expected" in module.__doc__, name
    main = override(ExperimentConfig(), experiments.named_config("main"))
    assert main == ExperimentConfig()  # the main job is the tree's defaults
