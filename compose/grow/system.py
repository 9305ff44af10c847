"""One system grown over a stream of tasks, muNet style, resumable after a kill at any point.

:func:`grow_system` adds the tasks one at a time to a trained model.  Each
task is evolved over the frozen system (:mod:`compose.grow.evolve`): its
first generation comes from the cheap choices that exist (the closed-form
search, the closest tasks' programs, head-only, gated, full clones), its
candidates train and are scored on examples held out of its training split
(``validation_examples``, at most a fifth of it), and the best by
``accuracy * s ** (charged / root)`` joins the system.  The gated deltas it
opened then become bank entries of their own
(:func:`compose.grow.continual.adopt_gated_deltas`), which later tasks can run
as they run its clones.  Its parts are then
frozen: a later task may run its clones and adapted blocks but trains none of them, so every
earlier task's outputs stay bit-identical (checked after every addition on
fixed random images of every earlier task's shape; ``old_task_max_abs_diff``).

The output directory holds, after each task:

``model.keras``
  the system so far, every task served by it (``compose.export`` reads it);
  written atomically, it is what a rerun resumes from.
``tasks/<name>.json``
  the task's record: its genome, the program it runs in the system (its
  genome's, with its adopted deltas' derived entries in their blocks'
  place), the lineage of the kept candidate, every candidate, held-out and
  test accuracy, parameters charged and added, the system's parameters,
  seconds (written before the model, so every task of the model has its record).
``grow.json``
  the root, the options, the stream and every record so far.

A run killed at any point and run again with the same arguments continues
after the last task in ``model.keras``; the task it was in starts again from
the same state and seeds, so the end result is the same (op determinism is
switched on).
"""

import dataclasses
import os
import time

import keras
import numpy as np
import tensorflow as tf

from compose.config import GrowOptions
from compose.errors import InvalidInputError
from compose.files import read_json, save_model_atomically, write_json
from compose.grow.continual import adopt_gated_deltas
from compose.grow.evolve import evolve_task, first_generation
from compose.seeds import derive_seed
from compose.training.evaluate import evaluate

PROBE_IMAGES = 32
"""Random images per earlier task on which its outputs must not change."""


def system_parameter_count(model) -> int:
    """Values the system holds: every bank entry (clones in full, derived
    entries their deltas' factors) and every task's own (stem, normalisation,
    head, open gates)."""
    own = sum(report["own_params"] for report in model.parameter_report().values())
    return model.bank.parameter_count() + own


def check_stream(model, tasks, grown_tasks=()) -> None:
    """Raises InvalidInputError when the root's programs are not fixed, or
    ``tasks`` is empty, repeats a task or names one the system already has
    (``grown_tasks``, added by this output directory's earlier run, are
    resumed instead)."""
    if not tasks:
        raise InvalidInputError("grow: give at least one task to add (--tasks)")
    learned = [t for t in model.task_names if model.selection(t) != "hard"]
    if learned:
        raise InvalidInputError(
            f"grow: tasks {learned} of the system still learn their programs; only a model "
            "with fixed programs (as compose.train leaves it) can grow"
        )
    repeated = sorted({t for t in tasks if tasks.count(t) > 1})
    if repeated:
        raise InvalidInputError(f"grow: tasks {repeated} are listed more than once")
    present = [t for t in tasks if t in model.task_names and t not in grown_tasks]
    if present:
        raise InvalidInputError(
            f"grow: tasks {present} are already in the system ({', '.join(model.task_names)})"
        )


def split_for_growth(train, options, task, batch_size):
    """``(train, validation)``: the validation examples held out of ``train``.

    Raises:
      InvalidInputError: the rest cannot fill a batch.
    """
    held = min(options.validation_examples, len(train) // 5)
    if held < 1 or len(train) - held < batch_size:
        raise InvalidInputError(
            f"task {task!r}: {len(train)} training examples cannot give a validation split "
            f"and a batch of {batch_size}"
        )
    return train.split_off(held)


def grow_system(root, root_dir, stream, output_dir, options=None, verbose=True) -> list[dict]:
    """Adds every task of ``stream`` to ``root``, one at a time; returns the records.

    Args:
      root: the trained :class:`compose.ComposedModel` (hard programs); not modified.
      root_dir: where ``root`` came from (recorded; a rerun must name the same).
      stream: ``[(task, train Split, test Split)]`` in order, the data loaded
        and checked by the caller (nothing is written before that).
      output_dir: see the module docstring; a directory an earlier run of the
        same root, stream and options wrote is continued.
      options: :class:`GrowOptions`.
      verbose: progress lines.

    Raises:
      InvalidInputError: ``output_dir`` holds a run of another root, stream
        or options, or a stream task is already in the root.
    """
    options = options or GrowOptions()
    tf.config.experimental.enable_op_determinism()
    names = [task.name for task, _, _ in stream]
    plan = check_growth_dir(root_dir, names, output_dir, options)
    summary_path = os.path.join(output_dir, "grow.json")
    model_path = os.path.join(output_dir, "model.keras")
    model, done = root, []
    if os.path.exists(model_path):
        model = keras.models.load_model(model_path)
        done = [t for t in model.task_names if t not in root.task_names]
    check_stream(root, names, grown_tasks=done)
    if done != names[: len(done)]:
        raise InvalidInputError(f"{model_path} holds tasks {done}, not a prefix of {names}")
    os.makedirs(os.path.join(output_dir, "tasks"), exist_ok=True)
    records = [read_json(_record_path(output_dir, t), "task record") for t in done]
    write_json(summary_path, {**plan, "tasks": records})
    if done and verbose:
        print(f"resuming after {len(done)} tasks: {', '.join(done)}", flush=True)
    root_params = system_parameter_count(root)
    for index, (task, train, test) in enumerate(stream[len(done) :], start=len(done)):
        if verbose:
            print(f"[{index + 1}/{len(stream)}] {task.name}", flush=True)
        model, record = add_evolved_task(model, task, train, test, options, verbose)
        record.update(index=index, system_params_ratio=record["system_params"] / root_params)
        write_json(_record_path(output_dir, task.name), record)
        save_model_atomically(model, model_path)
        records.append(record)
        write_json(summary_path, {**plan, "tasks": records})
    return records


def check_growth_dir(root_dir, tasks, output_dir, options) -> dict:
    """The run's plan (root, stream, options); raises InvalidInputError when
    ``output_dir`` holds the growth of another plan (a rerun of the same
    plan continues it)."""
    plan = {"root": os.path.abspath(root_dir), "stream": list(tasks), "options": options.to_json()}
    summary_path = os.path.join(output_dir, "grow.json")
    if os.path.exists(summary_path):
        earlier = read_json(summary_path, "grow summary")
        different = [key for key, value in plan.items() if earlier.get(key) != value]
        if different:
            raise InvalidInputError(
                f"{output_dir} holds a growth of another {' and '.join(different)}; give "
                "another --output_dir"
            )
    return plan


def _record_path(output_dir, task):
    return os.path.join(output_dir, "tasks", f"{task}.json")


def add_evolved_task(model, task, train, test, options, verbose=True):
    """``(model plus task, its record)``: ``task`` evolved over ``model``'s frozen system."""
    started = time.time()
    evolve = dataclasses.replace(
        options.evolve, seed=derive_seed(options.evolve.seed, "grow", task.name)
    )
    train, validation = split_for_growth(train, options, task.name, evolve.batch_size)
    probes = _probe_images(model)
    before = _outputs(model, probes)
    starts, first = first_generation(model, task.spec, train, validation, evolve, verbose)
    evolved, best, log = evolve_task(model, task.spec, train, validation, starts, evolve, verbose)
    own_clones = range(model.bank_size, evolved.bank_size)
    grown = adopt_gated_deltas(evolved, task.name, own_entries=own_clones)
    after = _outputs(grown, probes)
    held_out = {task.name: validation.images[:PROBE_IMAGES]}
    adoption_diff = _outputs(grown, held_out)[task.name] - _outputs(evolved, held_out)[task.name]
    test_accuracy = evaluate(grown, {task.name: test})[task.name]["accuracy"]
    system_params = system_parameter_count(grown)
    record = {
        "task": task.name,
        "description": task.description,
        "genome": best.genome.to_json(),
        "program": grown.program(task.name),
        "lineage": _lineage(log, best),
        "validation_accuracy": best.accuracy,
        "test_accuracy": test_accuracy,
        "charged_params": best.charged_params,
        "added_params": system_params - system_parameter_count(model),
        "derived_entries": sorted(set(grown.bank.derived) - set(model.bank.derived)),
        "adoption_max_abs_diff": float(np.max(np.abs(adoption_diff))),
        "lineage_steps": best.lineage_steps,
        "system_params": system_params,
        "old_task_max_abs_diff": max(
            (float(np.max(np.abs(after[t] - before[t]))) for t in before), default=0.0
        ),
        "train_examples": len(train),
        "validation_examples": len(validation),
        "first_generation": first,
        "candidates": [candidate.to_json() for candidate in log],
        "seconds": round(time.time() - started, 1),
    }
    if verbose:
        print(
            f"  kept {best.genome.to_json()}: validation {best.accuracy:.4f}, test "
            f"{test_accuracy:.4f}, {record['added_params']} parameters added, old tasks' max "
            f"change {record['old_task_max_abs_diff']}, {record['seconds']}s",
            flush=True,
        )
    return grown, record


def _lineage(log, candidate) -> list[dict]:
    """The kept candidate's ancestry, its first-generation start first."""
    chain = []
    while candidate is not None:
        chain.append({"order": candidate.order, "mutation": candidate.mutation})
        candidate = None if candidate.parent is None else log[candidate.parent]
    return chain[::-1]


def _probe_images(model) -> dict[str, np.ndarray]:
    """Fixed random uint8 images of every task's shape."""
    rng = np.random.default_rng(0)
    return {
        task: rng.integers(0, 256, (PROBE_IMAGES, *model.path(task).spec.image_shape), np.uint8)
        for task in model.task_names
    }


def _outputs(model, images) -> dict[str, np.ndarray]:
    return {
        task: np.asarray(model.call_task(task, tf.constant(x), training=False))
        for task, x in images.items()
    }
