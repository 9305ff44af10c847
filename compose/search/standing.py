"""Where a kept program stands among the others the bank could run at that moment.

A kept program's held-out accuracy says nothing alone: it is learned only if
it scores above the programs a search could have kept instead, over the bank
*as it is when the program is fixed* (over the final bank the kept program
always wins, because the bank has co-adapted to it).  The comparison is
against ``random_count`` uniformly drawn programs of the same depth and every
program one position away, all scored the same way (:class:`ProgramScorer`,
each normalised with the held-out batch's own moments).
"""

import numpy as np

from compose.search.scoring import ProgramScorer


def single_changes(program, bank_size) -> list[list[int]]:
    """Every program that differs from ``program`` at exactly one position."""
    return [
        program[:i] + [block] + program[i + 1 :]
        for i in range(len(program))
        for block in range(bank_size)
        if block != program[i]
    ]


def program_standing(model, task, split, random_count=100, seed=0, scorer=None) -> dict:
    """The held-out accuracy of ``task``'s current program against
    ``random_count`` random programs and all its single-position changes.

    Returns a JSON-ready dict: ``kept`` (the program and its accuracy),
    ``random_accuracies`` and ``change_accuracies`` (lists), ``percentile``
    (the share of random programs scoring strictly below the kept one, in
    percent) and ``better_changes`` (how many one-position changes score
    strictly higher: 0 for a local optimum).
    """
    scorer = scorer or ProgramScorer(model, task, split)
    program = model.program(task)
    rng = np.random.default_rng(seed)
    drawn = [rng.integers(0, model.bank_size, len(program)).tolist() for _ in range(random_count)]
    changes = single_changes(program, model.bank_size)
    scores = scorer.accuracy([program, *drawn, *changes])
    kept = scores[0]
    random_scores, change_scores = scores[1 : 1 + len(drawn)], scores[1 + len(drawn) :]
    return {
        "program": program,
        "kept_accuracy": kept,
        "random_accuracies": random_scores,
        "change_accuracies": change_scores,
        "percentile": 100.0 * float(np.mean(np.array(random_scores) < kept)) if drawn else None,
        "better_changes": int(sum(score > kept for score in change_scores)),
        "examples": len(split),
        "seconds": round(scorer.seconds, 2),
    }
