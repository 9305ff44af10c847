"""Adapting a trained model dir to an unlabelled target domain by choosing the order of its blocks.

What ``compose.adapt`` runs: the target starts as a copy of a source task;
its training images, without labels, score candidate programs under each
objective (:func:`compose.grow.domain_adaptation.adapt_domain`).  The target's test
labels are read only to report accuracy: of the source-only copy, of the copy
with target normalisation statistics (AdaBN, no program change), and of every
objective.  Writes ``OUTPUT_DIR/adapt.json`` (a run replaces the objectives it
ran and keeps those of earlier runs) and ``OUTPUT_DIR/<objective>/model.keras``;
the model dir's own checkpoints are not changed.
"""

import dataclasses
import os

from compose.config import ExperimentConfig
from compose.config.checks import check_choices
from compose.core.program import format_program
from compose.core.statistics import refresh_statistics
from compose.files import (
    check_writable,
    earlier_entries,
    save_model_atomically,
    write_config,
    write_json,
)
from compose.grow.domain_adaptation import OBJECTIVES, adapt_domain, copy_source_task
from compose.training.evaluate import evaluate
from compose.training.models import load_trained_model
from tasks import get_task, load_task_data


def run_adaptation(
    config: ExperimentConfig,
    model_dir: str,
    target_name: str,
    source_task: str | None = None,
    objectives=OBJECTIVES,
    output_dir: str | None = None,
) -> dict:
    """Adapts ``target_name`` from ``source_task`` (default: the model's first
    task) under every objective of ``objectives`` with ``config.adapt``;
    returns what ``adapt.json`` holds (the baselines and ``{objective: report}``).

    Everything is checked (objectives, tasks, data, output dir) before anything
    is written; ``output_dir`` defaults to ``MODEL_DIR/adapt/TARGET``.
    """
    check_choices("objectives", objectives, OBJECTIVES)
    model = load_trained_model(model_dir, config)
    source_task = source_task or model.task_names[0]
    model.path(source_task)  # LookupError naming the model's tasks
    data_dir, tfds_dir = config.data_dir, config.tfds_dir
    target = get_task(target_name)
    target_train, target_test = load_task_data(target, data_dir, tfds_dir)
    source_train, _ = load_task_data(get_task(source_task), data_dir, tfds_dir)
    unlabelled = target_train.images
    copy = copy_source_task(model, target.spec, source_task)  # errors on mismatched tasks
    output_dir = output_dir or os.path.join(model_dir, "adapt", target.name)
    check_writable(output_dir, "--output_dir")
    report_path = os.path.join(output_dir, "adapt.json")
    identity = {"target": target.name, "source_task": source_task}
    results = earlier_entries(report_path, identity, "objectives")
    write_config(config, output_dir)

    def test_accuracy(adapted):
        return evaluate(adapted, {target.name: target_test})[target.name]["accuracy"]

    baselines = {"source_only": test_accuracy(copy)}
    refresh_statistics(copy, target.name, unlabelled, seed=config.adapt.seed)
    baselines["target_statistics"] = test_accuracy(copy)
    print(
        f"{target.name} as {source_task} {format_program(model.program(source_task))}: "
        f"source only {baselines['source_only']:.4f}, with target statistics "
        f"{baselines['target_statistics']:.4f} (target labels used only to evaluate)",
        flush=True,
    )
    for objective in objectives:
        options = dataclasses.replace(config.adapt, objective=objective)
        print(f"{objective}: up to {options.search_budget} candidate programs", flush=True)
        adapted, report = adapt_domain(
            model, target.spec, unlabelled, source_task, source_train.images, options
        )
        report["test_accuracy"] = test_accuracy(adapted)
        print(
            f"  test accuracy {report['test_accuracy']:.4f}, program "
            f"{format_program(report['program'])}"
            f"{' (changed)' if report['program_changed'] else ''}, {report['wall_s']}s",
            flush=True,
        )
        save_model_atomically(adapted, os.path.join(output_dir, objective, "model.keras"))
        results[objective] = report
        write_json(report_path, {**identity, **baselines, "objectives": results})
    print(f"wrote {report_path} and a model.keras per objective")
    return {**identity, **baselines, "objectives": results}
