"""Adding a task to a trained model without touching what earlier tasks use.

:func:`add_task` returns a new model: the old tasks and their programs, the
old bank blocks, plus the new task and any clones of old blocks appended to
the bank (owned by the new task, initialised from their parents).  Train it
with ``Trainer(..., [Supervised(new)], frozen_blocks=range(old K))``: the
old tasks' own variables are not trained and the old blocks get no gradient,
so the old tasks' predictions stay bit-identical (a one-hot mixture over the
grown bank adds exact zeros).  Weights move through explicit copy methods
(:meth:`BlockBank.copy_blocks_from`, :meth:`TaskPath.copy_from`).

:func:`adopt_gated_deltas` ends a gated task's turn: the deltas it opened
become parts of the bank that later tasks can run.
"""

import numpy as np

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


def adopt_gated_deltas(model, task, own_entries=()) -> ComposedModel:
    """``model`` with ``task``'s open gated deltas moved into the bank and its gates gone.

    A delta the task opened on an entry of ``own_entries`` (its own clones) is
    added to that clone.  One on any other entry its program runs becomes a
    new *derived* entry, that entry plus the delta's factors
    (:class:`compose.core.bank.BlockBank`), which the program then runs in
    its place.  The task computes the same kernels (a derived entry's
    product is formed alone, not batched with the other blocks', so its
    outputs may move by float rounding); every other task's are bit-identical.
    What changes is who may use the adapted blocks: gates belong to one task,
    a derived entry is a block any later task can run, charged its delta's
    values divided among the tasks that run it.

    Args:
      model: a :class:`ComposedModel`; not modified.
      task: one of its tasks; without gates ``model`` is returned.
      own_entries: bank entries only ``task`` runs and may change (its clones).
    """
    path = model.path(task)
    if path.gates is None:
        return model
    program = model.program(task)
    opened = path.gates.open_blocks(program)
    own = set(own_entries)
    merged = [entry for entry in opened if entry in own]
    new_entries = {
        base: model.bank_size + i for i, base in enumerate(e for e in opened if e not in merged)
    }
    config = model.get_config()
    adopted = ComposedModel.from_config(
        {
            **config,
            "bank_size": model.bank_size + len(new_entries),
            "programs": {**config["programs"], task: [new_entries.get(b, b) for b in program]},
            "gated_tasks": [t for t in config["gated_tasks"] if t != task],
            "gate_ranks": {t: r for t, r in config["gate_ranks"].items() if t != task},
            "derived_entries": [
                *config["derived_entries"],
                *([entry, base, path.gates.rank] for base, entry in new_entries.items()),
            ],
        }
    )
    adopted.bank.copy_blocks_from(model.bank)
    for base, entry in new_entries.items():
        for factors, gate_factors in zip(
            adopted.bank.deltas[entry], path.gates.factors, strict=True
        ):
            for variable, gate_variable in zip(factors, gate_factors, strict=True):
                variable.assign(np.asarray(gate_variable)[base])
    if merged:
        for kernel, delta in zip(adopted.bank.kernels, path.gates.full_deltas(), strict=True):
            values = np.array(kernel)
            for entry in merged:
                values[adopted.bank.stored_row(entry)] += delta[entry]
            kernel.assign(values)
    for name in model.task_names:
        old = model.path(name)
        parts = ("stem", "norm", "head")
        if name != task:
            parts += ("program",) + (("gates",) if old.gates else ())
        adopted.path(name).copy_from(old, parts)
    return adopted
