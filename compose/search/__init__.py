"""Program search over a trained bank: score candidates, keep the best.

>>> best, log = search_program(model, "usps", validation, strategy="local", budget=25)
>>> best, log = search_program(model, "usps", validation, strategy="relaxed", train=train)
>>> best, log = search_program(model, "new", None, scorer=ClosedFormScorer(model, "new", fit, held))
"""

import contextlib

import numpy as np

from compose.errors import InvalidInputError
from compose.search.closed_form import ClosedFormScorer, fit_classifier
from compose.search.relaxed import RelaxedOptions, relaxed_search
from compose.search.scoring import ProgramScorer
from compose.search.strategies import (
    STRATEGIES,
    BudgetExhaustedError,
    Candidate,
    SearchObjective,
    SearchSpace,
    run_strategy,
)
from compose.seeds import derive_seed

ALL_STRATEGIES = (*STRATEGIES, "relaxed")
"""The discrete strategies, which only score, and ``relaxed``, which trains
mixture logits on a training split (:mod:`compose.search.relaxed`)."""

DEFAULT_STRATEGY = "local"
"""Coordinate descent: on the measured landscapes (docs/search.md) it comes
closest to the exhaustive best within a small budget."""


def other_users(model, task) -> dict[int, int]:
    """``{entry: number of the model's other tasks whose programs read it}``
    (a derived entry's bases included)."""
    users: dict[int, int] = {}
    for other in model.task_names:
        if other != task:
            for entry in model.bank.entries_used(model.program(other)):
                users[entry] = users.get(entry, 0) + 1
    return users


def task_objective(model, task, accuracy_fn, budget, size_penalty=1.0) -> SearchObjective:
    """The muNet objective of ``task`` in ``model``: its own parameters, the
    bank's block size, and the other tasks' use of every block."""
    return SearchObjective(
        accuracy_fn,
        block_params=model.bank.block_size,
        own_params=model.parameter_report()[task]["own_params"],
        depth=model.depth,
        budget=budget,
        size_penalty=size_penalty,
        other_users=other_users(model, task),
        entry_params={entry: model.bank.entry_size(entry) for entry in model.bank.derived},
        bases=model.bank.bases,
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
    starts=None,
    min_length=1,
    candidates_per_call=8,
    scorer=None,
    train=None,
    relaxed_options=None,
):
    """Searches ``task``'s program over ``model``'s frozen bank.

    Args:
      model: a trained :class:`compose.ComposedModel`; not modified.
      task: the task whose program is searched.
      validation: the :class:`tasks.Split` that scores programs by the
        task's head (unused when ``scorer`` is given).
      strategy: one of :data:`ALL_STRATEGIES`.
      budget: distinct programs that may be scored.
      size_penalty: ``s`` of the muNet score (1: accuracy only).
      seed: the strategy's random seed.
      start: first program (default: the task's current program).
      starts: programs scored first (one batch); the strategy then starts
        from the best of them (instead of ``start``).
      min_length: shortest program allowed (``model.depth``: fixed length).
      candidates_per_call: programs scored per call.
      scorer: a :class:`ProgramScorer` to reuse (its traces carry over), or
        another scorer such as :class:`ClosedFormScorer`.
      train: the training :class:`tasks.Split` (``relaxed`` only).
      relaxed_options: :class:`RelaxedOptions` (``relaxed`` only, default
        ``RelaxedOptions()``; the program keeps the start's length).

    Returns:
      ``(best Candidate, log of every Candidate in evaluation order)``.

    Raises:
      ValueError: ``relaxed`` without a training split.
    """
    if strategy == "relaxed" and train is None:
        raise InvalidInputError(
            f"task {task!r}: the relaxed strategy trains; give it a train split"
        )
    scorer = scorer or ProgramScorer(model, task, validation, candidates_per_call)
    objective = task_objective(model, task, scorer.accuracy, budget, size_penalty)
    start = model.program(task) if start is None else start
    if starts:
        with contextlib.suppress(BudgetExhaustedError):
            objective.evaluate(starts)
        start = list(objective.best().program)
    if strategy == "relaxed":
        options = relaxed_options or RelaxedOptions()
        best = relaxed_search(model, task, train, objective, start, seed, options)
    else:
        space = SearchSpace(model.bank_size, model.depth, min_length)
        best = run_strategy(strategy, objective, space, start, seed, scorer.candidates_per_call)
    return best, objective.log


def search_from_starts(model, task, scorer, options, purpose, first=()):
    """``search_program`` of ``task`` by ``scorer``, started from the best of
    ``first``, every task's program and ``options.random_starts`` random ones
    (of the task's program length): how transfer and adaptation choose a new
    task's program.  ``options`` has ``strategy``, ``search_budget``,
    ``random_starts`` and ``seed``; ``purpose`` (``"transfer"``, ``"adapt"``)
    names the random streams, so each use draws its own."""
    rng = np.random.default_rng(derive_seed(options.seed, f"{purpose}_starts", task))
    starts = [model.program(t) for t in model.task_names if t != task]
    starts += [
        rng.integers(0, model.bank_size, len(model.program(task))).tolist()
        for _ in range(options.random_starts)
    ]
    return search_program(
        model,
        task,
        None,
        strategy=options.strategy,
        budget=options.search_budget,
        seed=derive_seed(options.seed, f"{purpose}_search", task),
        starts=[*first, *starts],
        scorer=scorer,
    )


__all__ = [
    "ALL_STRATEGIES",
    "ClosedFormScorer",
    "fit_classifier",
    "search_from_starts",
    "DEFAULT_STRATEGY",
    "STRATEGIES",
    "Candidate",
    "other_users",
    "SearchObjective",
    "ProgramScorer",
    "RelaxedOptions",
    "SearchSpace",
    "relaxed_search",
    "run_strategy",
    "search_program",
    "task_objective",
]
