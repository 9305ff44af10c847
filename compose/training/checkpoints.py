"""Checkpoints: the only place model state is saved to and restored from disk.

``tf.train.Checkpoint(model=keras3_model)`` silently skips variables held in
Keras 3's tracked lists and dicts (the bank's kernels, the task paths) and the
optimizer's slots, so every variable is named explicitly: model variables by
their layer path (:func:`model_variables`), optimizer variables by position.
``tf.train.CheckpointManager`` commits a checkpoint by atomically rewriting
its index file last, so a crash mid-write leaves the previous one readable.
"""

import os
import re

import tensorflow as tf
from absl import logging

from compose.errors import DamagedFileError


def model_variables(model) -> dict[str, tf.Variable]:
    """Every variable of ``model`` keyed by its layer path, without the model's
    own auto-numbered name, so two instances of one architecture agree."""
    return {
        "model." + variable.path.split("/", 1)[1].replace("/", "."): variable
        for variable in model.variables
    }


def checkpoint_of(model, optimizer=None, step=None) -> tf.train.Checkpoint:
    """A checkpoint of every model variable, and of the optimizer's and the
    step when given, each under a stable key."""
    values = model_variables(model)
    if step is not None:
        values["step"] = step
    if optimizer is not None:
        for index, variable in enumerate(optimizer.variables):
            values[f"optimizer.{index}"] = variable
    return tf.train.Checkpoint(**values)


def checkpoint_paths(manager: tf.train.CheckpointManager, verbose=True) -> list[str]:
    """The checkpoints of ``manager``'s directory, oldest first: those its
    state file lists, or, when that file is unreadable (TensorFlow then only
    logs a warning and lists none), every ``ckpt-N`` with an index on disk, so
    that a damaged state file never silently restarts a run from step 0."""
    listed = list(manager.checkpoints)
    pattern = re.compile(r"ckpt-(\d+)\.index$")
    on_disk = (
        sorted(
            (int(found.group(1)), os.path.join(manager.directory, name[: -len(".index")]))
            for name in tf.io.gfile.listdir(manager.directory)
            if (found := pattern.match(name))
        )
        if tf.io.gfile.isdir(manager.directory)
        else []
    )
    if listed or not on_disk:
        return listed
    if verbose:
        state = os.path.join(manager.directory, "checkpoint")
        print(
            f"checkpoint state file {state} lists no checkpoint (unreadable or missing); "
            f"using the {len(on_disk)} on disk"
        )
    return [path for _, path in on_disk]


def restore_newest_readable(checkpoint, paths, partial=False, verbose=True) -> str | None:
    """Restores the newest of ``paths`` (oldest first) that reads completely.

    A checkpoint whose files are truncated, corrupted or missing is reported
    and skipped for the one before it, so a crash while a checkpoint was
    being written costs only the steps since the previous one.  ``partial``
    allows the checkpoint to hold values ``checkpoint`` does not ask for (a
    model restored without its optimizer), silently.  ``verbose`` False
    reports nothing (a check before the run that reports it).

    Returns:
      The restored path, or None when ``paths`` is empty.

    Raises:
      DamagedFileError: when none of ``paths`` can be read.
    """
    failures = []
    for path in reversed(paths):
        try:
            status = checkpoint.restore(path)
            status.assert_existing_objects_matched()
            if partial:
                status.expect_partial()
        except Exception as error:  # readers raise many types; every one is reported
            reason = f"{type(error).__name__}: {str(error).strip().splitlines()[0]}"
            failures.append(f"{path}: {reason}")
            if verbose:
                logging.warning(
                    "checkpoint %s is unreadable (%s); trying the one before", path, reason
                )
            continue
        if failures and verbose:
            print(f"skipped unreadable checkpoint(s): {'; '.join(failures)}; resumed from {path}")
        return path
    if failures:
        raise DamagedFileError(
            "no readable checkpoint: " + "; ".join(failures) + " (delete the checkpoints "
            "directory to start again)"
        )
    return None
