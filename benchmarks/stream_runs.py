"""A stream benchmark's seeds (``seed<N>/run.json``), their medians and the
figure's curves; flag-free.

``benchmarks.stream`` grows seeds and prints these medians; a seed grown by
another run (another session, another machine) joins them through
:func:`earlier_run`, so the three seeds of a headline need not come from one
run of 4-6 hours.
"""

import itertools
import statistics

from absl import app

from compose.files import read_json

METHODS = ("evolved", "evolved_small", "finetune", "head", "independent")

ROOT_KEYS = ("tasks", "model", "train")
"""Config sections a work dir's root must share with this run's to be reused
(:func:`compose.files.check_resumable`): its systems and baselines grew from it."""


GROWN_KEYS = (
    "task",
    "test_accuracy",
    "validation_accuracy",
    "charged_params",
    "added_params",
    "system_params",
    "seconds",
    "old_task_max_abs_diff",
    "genome",
)
"""What a grown system's row keeps of each task's record, beside its lineage's ``steps``."""


def grown_rows(records) -> list[dict]:
    """A grown system's rows of a run: what each task's record (``compose.grow``'s
    ``tasks/<task>.json``) keeps, with its lineage's steps."""
    return [{"steps": r["lineage_steps"], **{key: r[key] for key in GROWN_KEYS}} for r in records]


def with_system(run, method, records) -> dict:
    """``run`` with the rows of ``method`` (a grown system's) replaced by the
    system that ``records`` describe, grown elsewhere on the same stream."""
    if method not in ("evolved", "evolved_small"):
        raise app.UsageError(f"--method must be evolved or evolved_small, got {method!r}")
    theirs = [row["task"] for row in run["rows"][method]]
    mine = [record["task"] for record in records]
    if mine != theirs:
        raise app.UsageError(f"the grown system's tasks {mine} are not the run's stream {theirs}")
    return {**run, "rows": {**run["rows"], method: grown_rows(records)}}


def earlier_run(path, setup, seeds_here) -> dict:
    """The ``run.json`` of a seed grown by another run, checked to be of the
    same stream and options and not a seed grown here."""
    run = read_json(path, "a stream seed's run.json")
    theirs = run.get("setup", {})
    for key in sorted(setup.keys() | theirs.keys()):  # an option only one of them set too
        if theirs.get(key) != setup.get(key):
            raise app.UsageError(
                f"--with_runs {path}: its {key} is {theirs.get(key)!r}, this "
                f"run's is {setup.get(key)!r}; only seeds of the same stream and options combine"
            )
    if run["seed"] in seeds_here:
        raise app.UsageError(f"--with_runs {path}: seed {run['seed']} is also grown here")
    return run


def summarise(runs, names) -> dict:
    """The headline keys: medians over seeds of each figure (``benchmarks.stream`` names them)."""

    def median(values):
        return round(statistics.median(values), 4)

    def mean_of(run, method, key):
        return statistics.fmean(row[key] for row in run["rows"][method])

    summary = {f"{m}_mean": median([mean_of(r, m, "test_accuracy") for r in runs]) for m in METHODS}
    summary["per_task"] = {
        m: {
            name: median([r["rows"][m][i]["test_accuracy"] for r in runs])
            for i, name in enumerate(names)
        }
        for m in METHODS
    }
    summary["charged_params_per_task"] = {
        m: round(statistics.median(mean_of(r, m, "charged_params") for r in runs)) for m in METHODS
    }
    summary["params_per_task_ratio"] = median(
        [
            mean_of(r, "evolved_small", "charged_params") / mean_of(r, "finetune", "charged_params")
            for r in runs
        ]
    )
    for method, suffix in (("evolved_small", ""), ("evolved", "_s1")):
        added = [
            round(statistics.median(r["rows"][method][i]["added_params"] for r in runs))
            for i in range(len(names))
        ]
        half = len(added) // 2
        summary[f"added_params{suffix}"] = added
        summary[f"added_first_half_mean{suffix}"] = round(statistics.fmean(added[:half] or [0]))
        summary[f"added_second_half_mean{suffix}"] = round(statistics.fmean(added[half:]))
        summary[f"total_params_ratio{suffix}"] = median(
            [r["rows"][method][-1]["system_params"] / r["root_params"] for r in runs]
        )
    summary["finetune_total_params_ratio"] = median(
        [
            (r["root_params"] + sum(row["added_params"] for row in r["rows"]["finetune"]))
            / r["root_params"]
            for r in runs
        ]
    )
    grown = [row for r in runs for m in ("evolved", "evolved_small") for row in r["rows"][m]]
    summary["old_task_max_abs_diff"] = max(row["old_task_max_abs_diff"] for row in grown)
    summary["seconds_per_task"] = max(row["seconds"] for row in grown)
    summary["seconds_per_task_mean"] = round(statistics.fmean(row["seconds"] for row in grown), 1)
    return summary


def system_sizes(run, method) -> list:
    """The parameters held before and after each task of ``run``, over the root's:
    a grown system's own count, or the root beside one copy (or head) per task."""
    rows = run["rows"][method]
    root = run["root_params"]
    if method in ("evolved", "evolved_small"):
        sizes = [row["system_params"] for row in rows]
    else:
        sizes = [
            root + added for added in itertools.accumulate(row["added_params"] for row in rows)
        ]
    return [1.0] + [size / root for size in sizes]


def figure_points(runs, summary) -> dict:
    """What ``benchmarks.stream --plot`` draws, per method: ``dots`` (charged
    parameters, test accuracy) of every task of every seed; ``star`` the
    medians over seeds of the mean charged parameters and of the mean accuracy
    (``summary``, :func:`summarise` of ``runs``); ``sizes`` the median over
    seeds of the system's size over the root's after 0, 1, ... tasks."""
    curves = {method: [system_sizes(run, method) for run in runs] for method in METHODS}
    return {
        method: {
            "dots": [
                (row["charged_params"], row["test_accuracy"])
                for run in runs
                for row in run["rows"][method]
            ],
            "star": (summary["charged_params_per_task"][method], summary[f"{method}_mean"]),
            "sizes": [statistics.median(step) for step in zip(*curves[method], strict=True)],
        }
        for method in METHODS
    }
