"""Writing artefacts so that a reader (or a crash) never sees half a file."""

import json
import os

import tensorflow as tf


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
    """``model.save(path)`` through a temporary name renamed into place when complete."""
    temporary = f"{path}.tmp-{os.getpid()}.keras"
    model.save(temporary)
    os.replace(temporary, path)
