r"""Which size penalty ``s`` keeps a grown system within a size, from runs already made.

A grown system's record (``grow.json`` of :func:`compose.grow.grow_system`)
keeps every candidate each task trained, with its held-out accuracy and its
score ``accuracy * s ** (charged / base)``.  When the run's ``s`` is below 1
the score carries each candidate's size exponent ``charged / base``, so the
same candidates can be re-ranked under any other ``s'``: per task the one of
highest ``accuracy * s' ** exponent`` is what ``s'`` would have kept.  This
prints, for every ``s'``, the system's size over the root and its mean
held-out accuracy, and picks the largest ``s'`` whose median size over the
given runs is within ``--max_ratio``.  Only held-out accuracies and parameter
counts are read, never a test figure, so the pick may choose the penalty of
a benchmark's next run.

It is an estimate, and on the stream a poor one: a smaller ``s`` also
steers the search (mutations start from the parents it ranks first), so the
run at ``s'`` trains other candidates.  From the stream's three s = 0.9 runs
it estimated 2.87x, 2.86x and 3.61x for s = 0.6; ``benchmarks.stream
--small_penalty=0.6`` grew 4.82x, 3.57x and 3.09x (docs/growing.md).
Measure a pick before relying on it.

  python -m benchmarks.penalty_sweep \
    --grown=runs/stream/seed0/evolved_s0.9,runs/stream/seed1/evolved_s0.9
"""

import json
import math
import os
import statistics

from absl import flags

from compose.cli import run_binary
from compose.errors import InvalidInputError
from compose.files import read_json

flags.DEFINE_list("grown", None, "Output dirs of grown systems, each grown at one s < 1.")
flags.DEFINE_list("penalties", ["0.9", "0.8", "0.7", "0.6", "0.5", "0.4"], "The s' to re-rank at.")
flags.DEFINE_float("max_ratio", 3.0, "The size aim: the system after the stream over the root.")
flags.mark_flag_as_required("grown")
FLAGS = flags.FLAGS


def rerank(summary, penalty) -> dict:
    """What a system grown as ``summary`` (its ``grow.json``) would keep at ``penalty``.

    Each candidate's size exponent ``charged / base`` is read back from its
    score at the run's ``s``: ``log(score / accuracy) / log(s)``.

    Raises:
      InvalidInputError: the run was grown at ``s = 1``, whose scores carry no size.
    """
    run_penalty = summary["options"]["evolve"]["size_penalty"]
    if not 0.0 < run_penalty < 1.0:
        raise InvalidInputError(
            f"penalty_sweep: the system was grown at s = {run_penalty}; only a run at s < 1 "
            "records the candidates' size in their scores"
        )

    def rescored(candidate):
        if candidate["accuracy"] == 0:
            return 0.0
        exponent = math.log(candidate["score"] / candidate["accuracy"]) / math.log(run_penalty)
        return candidate["accuracy"] * penalty**exponent

    tasks = summary["tasks"]
    root = tasks[0]["system_params"] - tasks[0]["added_params"]
    kept = [max(task["candidates"], key=rescored) for task in tasks]
    return {
        "total_params_ratio": round((root + sum(c["added_params"] for c in kept)) / root, 4),
        "validation_mean": round(statistics.fmean(c["accuracy"] for c in kept), 4),
    }


def main(argv):
    del argv
    penalties = sorted({float(p) for p in FLAGS.penalties}, reverse=True)
    outside = [p for p in penalties if not 0.0 < p <= 1.0]
    if outside:
        raise InvalidInputError(f"--penalties: {outside} are outside (0, 1]")
    summaries = {
        path: read_json(os.path.join(path, "grow.json"), "--grown system's record")
        for path in FLAGS.grown
    }
    rows = []
    for penalty in penalties:
        runs = {path: rerank(summary, penalty) for path, summary in summaries.items()}
        rows.append(
            {
                "s": penalty,
                "median_total_params_ratio": statistics.median(
                    r["total_params_ratio"] for r in runs.values()
                ),
                "median_validation_mean": statistics.median(
                    r["validation_mean"] for r in runs.values()
                ),
                "runs": runs,
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    within = [r["s"] for r in rows if r["median_total_params_ratio"] <= FLAGS.max_ratio]
    print(json.dumps({"max_ratio": FLAGS.max_ratio, "chosen_s": max(within, default=None)}))


if __name__ == "__main__":
    run_binary(main)
