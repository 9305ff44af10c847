"""benchmarks.stream reuses a work dir's root only if the same config trained it."""

import json

import pytest
from absl import app

from benchmarks.stream import _check_same_root
from compose.config import ExperimentConfig, override


def _stored(config):
    """``config`` as the root's ``config.json`` gives it back."""
    return json.loads(json.dumps(config.to_dict()))


def test_a_root_is_reused_wherever_its_data_is():
    trained = override(ExperimentConfig(), {"data_dir": "/a", "train": {"seed": 2}})
    again = override(trained, {"data_dir": "../shared/data", "tfds_dir": "/b"})
    _check_same_root(_stored(trained), again.to_dict(), "work/seed2/root")


def test_a_root_of_another_config_is_refused():
    trained = override(ExperimentConfig(), {"train": {"seed": 2}})
    wanted = override(trained, {"model": {"bank_size": 8}})
    with pytest.raises(
        app.UsageError, match=r"work/seed2/root holds a root trained with other model"
    ):
        _check_same_root(_stored(trained), wanted.to_dict(), "work/seed2/root")
