"""Keeping traced functions from pinning dead models' graphs in memory.

Growing a system builds a fresh model per candidate, so every function traced
for one model must die with it.  Two things kept them alive; both were
measured by ``benchmarks.training_memory``.

**Functions of a model argument.**  A module-level ``tf.function`` taking the
model as an argument traces once per model and keeps every trace in its cache
after the model is gone.  :func:`per_model_function` gives each model its own
``tf.function``, held only as long as the model.

**The optimizer's custom gradient.**  Keras 3's TensorFlow optimizer
all-reduces gradients through ``ReplicaContext.all_reduce``, which wraps them
in ``tf.custom_gradient``.  In a traced function that registers a
``CustomGradient-<n>`` entry in TensorFlow's global gradient registry, and the
entry's closure holds the step's tensors (tensorflow/tensorflow#97697, still
in TF 2.21).  So every traced training loop (its forward and backward graph)
stays alive for the rest of the process, whatever becomes of its model and
trainer.  The entries are only read while the step's own gradient is built,
inside the trace, so dropping the ones a call added once it returns frees the
graph with its trainer and changes no result.
"""

import contextlib
import gc
import weakref

import tensorflow as tf
from tensorflow.python.framework import ops  # the registry has no public handle

_CUSTOM_GRADIENT_PREFIX = "CustomGradient-"


def _gradient_registry() -> dict | None:
    """TensorFlow's ``{op type: gradient}`` registry; None if this TF has none."""
    registry = getattr(ops, "_gradient_registry", None)
    return getattr(registry, "_registry", None)


@contextlib.contextmanager
def released_custom_gradients(release=True):
    """Drops the ``tf.custom_gradient`` entries registered inside the block
    (see the module docstring).  ``release=False`` keeps them: the leak, for
    measuring it."""
    registry = _gradient_registry()
    before = set(registry) if registry is not None and release else None
    try:
        yield
    finally:
        if before is not None:
            for name in set(registry) - before:
                if name.startswith(_CUSTOM_GRADIENT_PREFIX):
                    del registry[name]


def per_model_function(python_function, **function_options):
    """``python_function(model, *args)`` run by a ``tf.function`` of each model
    (see the module docstring); ``function_options`` go to ``tf.function``."""
    functions = weakref.WeakKeyDictionary()

    def call(model, *args):
        if model not in functions:
            functions[model] = tf.function(python_function, **function_options)
        return functions[model](model, *args)

    return call


def live_graph_count() -> int:
    """Traced graphs alive in this process, after collecting what is dead:
    what a leak of traces shows as (tests and ``benchmarks.training_memory``)."""
    gc.collect()  # a dead model's weak-key entries go in this pass,
    gc.collect()  # the functions and graphs they held in this one
    return sum(type(o).__name__ == "FuncGraph" for o in gc.get_objects())
