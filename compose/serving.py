"""SavedModel export: one serving signature per task, every variable stored once.

A ``tf.Module`` holds the variables the signatures read and one
``tf.function`` per task (the TF Model Garden export pattern).  Keras'
``model.export`` would store every variable twice.  The SavedModel needs only
TensorFlow to load: no project code, no Keras.

Each ``serve_<task>`` signature takes raw ``uint8`` images of the task's
native shape, ``[batch, H, W, C]``, and returns ``probabilities`` and
``logits``, ``[batch, num_classes]``; ``serving_default`` is the first
exported task's signature.  Exports go to a new timestamped version
directory, as TF Serving expects, written under a temporary name and renamed
into place when complete.
"""

import os
import time

import numpy as np
import tensorflow as tf

from compose.errors import ExistingOutputError

SIGNATURE_PREFIX = "serve_"


class ServingModule(tf.Module):
    """The serving functions of ``tasks`` of a trained :class:`ComposedModel`.

    Only the variables the functions read are tracked, so a one-task export
    holds the bank and that task's own variables, nothing of other tasks.
    """

    def __init__(self, model, tasks=None):
        super().__init__(name="composed_serving")
        tasks = list(tasks or model.task_names)
        for task in tasks:
            model.path(task)  # LookupError naming the model's tasks
        self.task_names = tasks
        self._functions = {task: self._serving_function(model, task) for task in tasks}
        read = {}
        for function in self._functions.values():
            for variable in function.get_concrete_function().variables:
                read[id(variable)] = variable
        self.served_variables = list(read.values())

    @staticmethod
    def _serving_function(model, task):
        spec = model.path(task).spec
        expected = f"[batch, {', '.join(map(str, spec.image_shape))}]"

        # The input's shape is left open (unknown rank) so that the check runs on
        # what a client sent: with a declared shape, a loaded signature still runs
        # the graph on a wrong rank, which then fails deep in the model.  The
        # shape is compared only when the rank is right (a cond, not control
        # dependencies, which the graph optimiser may reorder).
        @tf.function(input_signature=[tf.TensorSpec(None, tf.uint8, name="images")])
        def serve(images):
            shape = tf.shape(images)
            valid = tf.cond(
                tf.equal(tf.size(shape), len(spec.image_shape) + 1),
                lambda: tf.reduce_all(tf.equal(shape[1:], spec.image_shape)) & (shape[0] > 0),
                lambda: tf.constant(False),
            )
            message = f"serve_{task}: images must be {expected} with batch >= 1; got shape"
            with tf.control_dependencies([tf.debugging.Assert(valid, [message, shape])]):
                images = tf.ensure_shape(images, [None, *spec.image_shape])
                logits = model.call_task(task, images, training=False)
            return {"probabilities": tf.nn.softmax(logits), "logits": logits}

        return serve

    def signatures(self) -> dict:
        """``serve_<task>`` for every task, plus ``serving_default``."""
        signatures = {
            SIGNATURE_PREFIX + task: function.get_concrete_function()
            for task, function in self._functions.items()
        }
        signatures["serving_default"] = signatures[SIGNATURE_PREFIX + self.task_names[0]]
        return signatures


def export_saved_model(model, export_dir: str, tasks=None, version: int | None = None) -> str:
    """Writes a SavedModel of ``tasks`` (default: all) to ``export_dir/<version>``.

    Args:
      model: a trained :class:`compose.ComposedModel`.
      export_dir: the model's base directory for TF Serving.
      tasks: task names to serve; the first one is ``serving_default``.
      version: the version directory's number; default: the current Unix time.

    Returns:
      The version directory written.

    Raises:
      FileExistsError: when that version already exists (nothing is overwritten).
    """
    version = int(time.time()) if version is None else version
    final = os.path.join(export_dir, str(version))
    if tf.io.gfile.exists(final):
        raise ExistingOutputError(f"{final} exists; exports never overwrite a version")
    module = ServingModule(model, tasks)
    temporary = os.path.join(export_dir, f".tmp-{version}-{os.getpid()}")
    tf.io.gfile.makedirs(export_dir)
    tf.saved_model.save(module, temporary, signatures=module.signatures())
    tf.io.gfile.rename(temporary, final)
    return final


def stored_values(saved_model_dir: str) -> int:
    """How many numbers the SavedModel's variables checkpoint holds."""
    reader = tf.train.load_checkpoint(os.path.join(saved_model_dir, "variables", "variables"))
    shapes = reader.get_variable_to_shape_map()
    return sum(int(np.prod(shape)) for name, shape in shapes.items() if "OBJECT_GRAPH" not in name)


def directory_bytes(path: str) -> int:
    """Total size of the files under ``path``."""
    return sum(
        tf.io.gfile.stat(os.path.join(root, name)).length
        for root, _, names in tf.io.gfile.walk(path)
        for name in names
    )
