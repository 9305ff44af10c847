"""Writing artefacts so that a reader (or a crash) never sees half a file."""

import fcntl
import json
import os

import tensorflow as tf

from compose.errors import InvalidInputError, MissingFileError


def write_atomically(path: str, content: str | bytes) -> None:
    """Writes ``content`` to a temporary file, then renames it over ``path``."""
    temporary = f"{path}.tmp-{os.getpid()}"
    with tf.io.gfile.GFile(temporary, "wb" if isinstance(content, bytes) else "w") as stream:
        stream.write(content)
    tf.io.gfile.rename(temporary, path, overwrite=True)


def write_json(path: str, value) -> None:
    """``value`` as indented, key-sorted JSON, written atomically."""
    write_atomically(path, json.dumps(value, indent=2, sort_keys=True) + "\n")


def save_model_atomically(model, path: str) -> None:
    """``model.save(path)`` through a temporary name renamed into place when
    complete (the directory is made if need be)."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    temporary = f"{path}.tmp-{os.getpid()}.keras"
    model.save(temporary)
    os.replace(temporary, path)


def read_json(path: str, what: str):
    """The JSON value in ``path``; ``what`` names the input in errors (e.g. ``--config_file``).

    Raises:
      MissingFileError: no such file.
      InvalidInputError: not JSON, naming the file, line and column.
    """
    if not tf.io.gfile.exists(path):
        raise MissingFileError(f"{what} {path}: no such file")
    with tf.io.gfile.GFile(path) as stream:
        text = stream.read()
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidInputError(
            f"{what} {path}, line {error.lineno} column {error.colno}: not JSON ({error.msg})"
        ) from None


def check_writable(directory: str, what: str) -> None:
    """Raises InvalidInputError unless ``directory`` exists and is writable, or can be created."""
    existing = os.path.abspath(directory)
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing) or not os.access(existing, os.W_OK | os.X_OK):
        raise InvalidInputError(f"{what} {directory}: {existing} is not a writable directory")


_held_locks = []


def lock_directory(directory: str) -> None:
    """Makes this process the only writer of ``directory`` until it exits.

    An advisory lock on ``directory/.lock``; a second process asking for the
    same directory gets an InvalidInputError instead of interleaving writes.
    """
    stream = open(os.path.join(directory, ".lock"), "a")  # noqa: SIM115 (held until exit)
    try:
        fcntl.flock(stream, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        stream.close()
        raise InvalidInputError(
            f"{directory} is in use by another process (it holds {directory}/.lock); "
            "wait for it to finish or use another directory"
        ) from None
    _held_locks.append(stream)


def earlier_entries(path: str, identity: dict, section: str) -> dict:
    """The ``section`` entries of the report an earlier run wrote at ``path``
    for the same ``identity`` (e.g. ``{"task": "usps"}``), so that a run adds
    its entries to them instead of dropping them; ``{}`` when there is none.

    Raises:
      InvalidInputError: the report is of something else (or not a report).
    """
    if not tf.io.gfile.exists(path):
        return {}
    earlier = read_json(path, "earlier report")
    if not isinstance(earlier, dict) or not isinstance(earlier.get(section), dict):
        raise InvalidInputError(f"{path}: not a report with {section!r}; give another directory")
    for key, value in identity.items():
        if earlier.get(key) != value:
            raise InvalidInputError(
                f"{path} reports {key} {earlier.get(key)!r}, not {value!r}; give another "
                "output directory"
            )
    return earlier[section]


RESUMABLE_KEYS = ("tasks", "model")
"""Config sections a resumed run must share with the run in its model dir."""


def check_resumable(config, directory: str, keys=RESUMABLE_KEYS, flag="--model_dir") -> None:
    """Refuses a ``directory`` whose ``config.json`` (:func:`write_config`)
    holds a run that differs from ``config`` in the sections ``keys``."""
    config_path = os.path.join(directory, "config.json")
    if not os.path.exists(config_path):
        return
    previous = read_json(config_path, "model dir config")
    current = config.to_dict()
    for key in keys:
        if previous.get(key) != current[key]:
            raise InvalidInputError(
                f"{config_path} holds a run with {key}={previous.get(key)}, but this run has "
                f"{key}={current[key]}; use a new {flag} (resuming would mix models)"
            )


def write_config(config, directory: str) -> None:
    """Writes an ``ExperimentConfig`` as ``directory/config.json`` (atomically);
    call it only after every check of the run has passed."""
    os.makedirs(directory, exist_ok=True)
    write_json(os.path.join(directory, "config.json"), config.to_dict())
