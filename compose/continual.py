"""Adding a task to a trained model without touching what earlier tasks use.

:func:`add_task` returns a new model: the old tasks and their programs, the
old bank blocks, plus the new task and any clones of old blocks appended to
the bank (owned by the new task, initialised from their parents).  Train it
with ``JointTrainer(..., train_tasks=[new], frozen_blocks=range(old K))``: the
old tasks' own variables are not trained and the old blocks get no gradient,
so the old tasks' predictions stay bit-identical (a one-hot mixture over the
grown bank adds exact zeros).
"""

import numpy as np

from compose.model import ComposedModel
from compose.training import model_variables


def add_task(model, spec, program, clones=(), gated=False, seed=None) -> ComposedModel:
    """``model`` plus the task ``spec`` running ``program``.

    Args:
      model: a trained :class:`ComposedModel`; not modified.
      spec: the new task's :class:`TaskSpec`.
      program: its block indices; ``K + i`` names the i-th clone.
      clones: parent block of each clone, appended to the bank in order.
      gated: the new task gets gated deltas of the bank's blocks
        (:mod:`compose.gates`).
      seed: initialises the new task's stem and head (default: ``model.seed``).

    Raises:
      ValueError: a task of that name exists, an old task is still relaxed
        (its mixture over a grown bank would change), or a parent is not a
        block of the bank.
    """
    if spec.name in model.task_names:
        raise ValueError(f"the model already has a task {spec.name!r}")
    relaxed = [task for task in model.task_names if model.is_relaxed(task)]
    if relaxed:
        raise ValueError(
            f"tasks {relaxed} are still relaxed; discretise them before adding a task "
            "(a softmax over a grown bank would change their outputs)"
        )
    clones = [int(parent) for parent in clones]
    bad = [parent for parent in clones if not 0 <= parent < model.bank_size]
    if bad:
        raise ValueError(
            f"clone parents {bad} are not blocks of the bank (0..{model.bank_size - 1})"
        )
    grown = ComposedModel(
        [model.path(task).spec for task in model.task_names] + [spec],
        block=model.block,
        bank_size=model.bank_size + len(clones),
        depth=model.depth,
        channels=model.channels,
        resolution=model.resolution,
        programs={**model.programs(), spec.name: list(program)},
        gated_tasks=[t for t in model.task_names if model.path(t).gates is not None]
        + ([spec.name] if gated else []),
        seed=model.seed if seed is None else seed,
    )
    targets = model_variables(grown)
    for key, source in model_variables(model).items():
        values = np.asarray(source)
        if key.startswith("model.bank."):
            values = np.concatenate([values, values[clones]]) if clones else values
        elif key.endswith(".mixture_logits"):  # unused by hard programs; keep the old columns
            values = np.pad(values, [(0, 0), (0, len(clones))])
        elif "_gates." in key:  # an old task's gates: closed, zero deltas on the clones
            values = np.pad(values, [(0, len(clones))] + [(0, 0)] * (values.ndim - 1))
        targets[key].assign(values)
    return grown


def copy_task_weights(source, target, parts=("stem", "norm", "head")) -> None:
    """Copies the ``parts`` of one :class:`TaskPath` into another (a new task
    starting from a source task); the shapes must agree."""
    for part in parts:
        for value, variable in zip(
            getattr(source, part).variables, getattr(target, part).variables, strict=True
        ):
            variable.assign(value)
