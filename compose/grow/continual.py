"""Adding a task to a trained model without touching what earlier tasks use.

:func:`add_task` returns a new model: the old tasks and their programs, the
old bank blocks, plus the new task and any clones of old blocks appended to
the bank (owned by the new task, initialised from their parents).  Train it
with ``Trainer(..., [Supervised(new)], frozen_blocks=range(old K))``: the
old tasks' own variables are not trained and the old blocks get no gradient,
so the old tasks' predictions stay bit-identical (a one-hot mixture over the
grown bank adds exact zeros).  Weights move through explicit copy methods
(:meth:`BlockBank.copy_blocks_from`, :meth:`TaskPath.copy_from`).
"""

from compose.core.model import ComposedModel
from compose.errors import InvalidInputError


def add_task(
    model, spec, program, clones=(), gated=False, gate_rank=None, seed=None
) -> ComposedModel:
    """``model`` plus the task ``spec`` running ``program``.

    Args:
      model: a trained :class:`ComposedModel`; not modified.
      spec: the new task's :class:`TaskSpec`.
      program: its block indices; ``K + i`` names the i-th clone.
      clones: parent block of each clone, appended to the bank in order.
      gated: the new task gets gated deltas of the bank's blocks
        (:mod:`compose.core.gates`).
      gate_rank: with ``gated``, the rank of its deltas (None: full deltas).
      seed: initialises the new task's stem and head (default: ``model.seed``).

    Raises:
      ValueError: a task of that name exists, an old task's program is still
        learned (its mixture over a grown bank would change), or a parent is
        not a block of the bank.
    """
    if spec.name in model.task_names:
        raise InvalidInputError(f"the model already has a task {spec.name!r}")
    learned = [task for task in model.task_names if model.selection(task) != "hard"]
    if learned:
        raise InvalidInputError(
            f"tasks {learned} still learn their programs; discretise them before adding a "
            "task (a softmax over a grown bank would change their outputs)"
        )
    clones = [int(parent) for parent in clones]
    bad = [parent for parent in clones if not 0 <= parent < model.bank_size]
    if bad:
        raise InvalidInputError(
            f"clone parents {bad} are not blocks of the bank (0..{model.bank_size - 1})"
        )
    config = model.get_config()
    grown = ComposedModel.from_config(
        {
            **config,
            "tasks": [*config["tasks"], spec],
            "bank_size": model.bank_size + len(clones),
            "programs": {**config["programs"], spec.name: list(program)},
            "gated_tasks": config["gated_tasks"] + ([spec.name] if gated else []),
            "gate_ranks": {
                **config["gate_ranks"],
                **({spec.name: gate_rank} if gated and gate_rank is not None else {}),
            },
            "seed": model.seed if seed is None else seed,
        }
    )
    grown.bank.copy_blocks_from(model.bank, clones)
    for task in model.task_names:
        old = model.path(task)
        parts = ("stem", "norm", "head", "program") + (("gates",) if old.gates else ())
        grown.path(task).copy_from(old, parts)
    return grown
