"""The model a config describes, programs files, and loading a trained model dir."""

import dataclasses
import os

import tensorflow as tf

from compose.config import ExperimentConfig
from compose.core.model import ComposedModel
from compose.errors import InvalidInputError, MissingFileError
from compose.files import read_json
from compose.training.checkpoints import checkpoint_of, checkpoint_paths, restore_newest_readable
from tasks import get_task


def build_model(config: ExperimentConfig, programs=None) -> ComposedModel:
    """The model ``config`` describes (built in the current strategy's scope)."""
    return ComposedModel(
        [get_task(name).spec for name in config.tasks],
        **dataclasses.asdict(config.model),
        programs=programs,
        seed=config.train.seed,
    )


def read_programs_file(path: str) -> dict[str, list[int]]:
    """``{task: [indices]}`` from a JSON file of that form or a run's ``programs.json``.

    Raises:
      FileNotFoundError: no such file.
      ValueError: not JSON of either form (naming the file).
    """
    programs = read_json(path, "programs file")
    if isinstance(programs, dict) and "programs" in programs:  # a programs.json of a run
        programs = {task: entry["program"] for task, entry in programs["programs"].items()}
    if not isinstance(programs, dict):
        raise InvalidInputError(f'programs file {path}: expected {{"task": [block indices], ...}}')
    return programs


def trained_config(model_dir: str) -> ExperimentConfig:
    """The config of the run in ``model_dir``, as compose.train wrote it.

    Raises:
      MissingFileError: when ``model_dir`` holds no config.
    """
    config_path = os.path.join(model_dir, "config.json")
    if not tf.io.gfile.exists(config_path):
        raise MissingFileError(
            f"{config_path} not found: --model_dir must be a directory written by compose.train"
        )
    return ExperimentConfig.from_dict(read_json(config_path, "model config"))


def load_trained_model(model_dir: str, config: ExperimentConfig | None = None) -> ComposedModel:
    """The model trained in ``model_dir``: its newest readable checkpoint (model
    variables only; the optimizer's are not read) in the model ``config``
    describes (default: :func:`trained_config`).

    Raises:
      MissingFileError: when ``model_dir`` holds no config or no checkpoint.
    """
    model = restore_model(config or trained_config(model_dir), model_dir)
    if model is None:
        raise MissingFileError(f"no checkpoint in {model_dir}/checkpoints: train first")
    return model


def restore_model(config: ExperimentConfig, model_dir: str, verbose=True) -> ComposedModel | None:
    """``config``'s model with the newest readable checkpoint in ``model_dir``
    restored (model variables only), or None when there is none.

    Raises:
      DamagedFileError: when checkpoints exist but none can be read.
    """
    model = build_model(config)
    manager = tf.train.CheckpointManager(
        checkpoint_of(model), os.path.join(model_dir, "checkpoints"), 1
    )
    paths = checkpoint_paths(manager, verbose)
    if restore_newest_readable(manager.checkpoint, paths, partial=True, verbose=verbose) is None:
        return None
    return model
