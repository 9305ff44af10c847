"""Program search over a trained bank: score candidates, keep the best.

>>> best, log = search_program(model, "usps", validation, strategy="local", budget=25)
"""

from compose.search.scoring import ProgramScorer
from compose.search.strategies import (
    STRATEGIES,
    Candidate,
    Objective,
    SearchSpace,
    run_strategy,
)

DEFAULT_STRATEGY = "local"
"""Coordinate descent: on the measured landscapes (docs/search.md) it comes
closest to the exhaustive best within a small budget."""


def other_users(model, task) -> dict[int, int]:
    """``{block: number of the model's other tasks whose programs use it}``."""
    users: dict[int, int] = {}
    for other in model.task_names:
        if other != task:
            for block in set(model.program(other)):
                users[block] = users.get(block, 0) + 1
    return users


def task_objective(model, task, accuracy_fn, budget, size_penalty=1.0) -> Objective:
    """The muNet objective of ``task`` in ``model``: its own parameters, the
    bank's block size, and the other tasks' use of every block."""
    return Objective(
        accuracy_fn,
        block_params=model.bank.block_size,
        own_params=model.parameter_report()[task]["own_params"],
        depth=model.depth,
        budget=budget,
        size_penalty=size_penalty,
        other_users=other_users(model, task),
    )


def search_program(
    model,
    task,
    validation,
    strategy=DEFAULT_STRATEGY,
    budget=100,
    size_penalty=1.0,
    seed=0,
    start=None,
    min_length=1,
    candidates_per_call=8,
    scorer=None,
):
    """Searches ``task``'s program over ``model``'s frozen bank.

    Args:
      model: a trained :class:`compose.ComposedModel`; not modified.
      task: the task whose program is searched.
      validation: the :class:`tasks.Split` that scores programs.
      strategy: one of :data:`STRATEGIES`.
      budget: distinct programs that may be scored.
      size_penalty: ``s`` of the muNet score (1: accuracy only).
      seed: the strategy's random seed.
      start: first program (default: the task's current program).
      min_length: shortest program allowed (``model.depth``: fixed length).
      candidates_per_call: programs scored per call.
      scorer: a :class:`ProgramScorer` to reuse (its traces carry over).

    Returns:
      ``(best Candidate, log of every Candidate in evaluation order)``.
    """
    scorer = scorer or ProgramScorer(model, task, validation, candidates_per_call)
    objective = task_objective(model, task, scorer.accuracy, budget, size_penalty)
    space = SearchSpace(model.bank_size, model.depth, min_length)
    start = model.program(task) if start is None else start
    best = run_strategy(strategy, objective, space, start, seed, scorer.candidates_per_call)
    return best, objective.log


__all__ = [
    "DEFAULT_STRATEGY",
    "STRATEGIES",
    "Candidate",
    "other_users",
    "Objective",
    "ProgramScorer",
    "SearchSpace",
    "run_strategy",
    "search_program",
    "task_objective",
]
