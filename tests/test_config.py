import json

import pytest
from absl import flags

from compose import train
from compose.config import ExperimentConfig, override, parse_params_override, validate


def test_params_override_parses_nested_json_values():
    assert parse_params_override('model.depth=4, train.learning_rate=0.01,tasks=["usps"]') == {
        "model": {"depth": 4},
        "train": {"learning_rate": 0.01},
        "tasks": ["usps"],
    }
    with pytest.raises(ValueError, match="'depth' is not key=value"):
        parse_params_override("depth")


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
        if name in train._FLAG_FIELDS or name in ("config_file", "params_override"):
            values[name] = flags.FLAGS[name]
    values(
        [
            "prog",
            f"--config_file={config_file}",
            "--params_override=model.channels=6,train.steps=8",
            "--steps=9",
        ]
    )
    config = train.build_config(values)
    assert (config.model.depth, config.model.channels, config.train.steps) == (3, 6, 9)
    assert config.model.bank_size == ExperimentConfig().model.bank_size
