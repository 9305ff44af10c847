"""benchmarks.penalty_sweep re-ranks a grown system's candidates under another s."""

import pytest

from benchmarks.penalty_sweep import rerank
from compose.errors import InvalidInputError


def _candidate(accuracy, exponent, added, penalty):
    return {
        "accuracy": accuracy,
        "score": accuracy * penalty**exponent,
        "added_params": added,
    }


def _summary(penalty):
    """Two tasks over a root of 1,000 values: each has a small candidate and
    a cloned one that is 0.03 more accurate at 1.5 times the size exponent."""
    tasks = [
        {
            "system_params": 1000 + 500,
            "added_params": 500,
            "candidates": [
                _candidate(0.90, 0.5, 10, penalty),
                _candidate(0.93, 2.0, 500, penalty),
            ],
        },
        {
            "system_params": 1000 + 500 + 10,
            "added_params": 10,
            "candidates": [
                _candidate(0.80, 0.5, 10, penalty),
                _candidate(0.83, 2.0, 400, penalty),
            ],
        },
    ]
    return {"options": {"evolve": {"size_penalty": penalty}}, "tasks": tasks}


def test_the_run_s_keeps_the_best_scores_and_a_smaller_s_the_small_candidates():
    summary = _summary(0.99)
    # At the run's s = 0.99 the clones win: 0.93 * 0.99**2 > 0.90 * 0.99**0.5.
    assert rerank(summary, 0.99) == {"total_params_ratio": 1.9, "validation_mean": 0.88}
    # At s = 0.9 neither clone is worth it: 0.93 * 0.81 < 0.90 * 0.9487.
    assert rerank(summary, 0.9) == {"total_params_ratio": 1.02, "validation_mean": 0.85}


def test_a_run_at_s_1_has_no_size_to_re_rank():
    with pytest.raises(InvalidInputError, match="grown at s = 1"):
        rerank(_summary(1.0), 0.9)
