"""Learning a new task over the frozen bank of a trained model dir, in one or more modes.

What ``compose.transfer`` runs: for every mode (:data:`compose.grow.task_transfer.MODES`)
the new task starts from a source task and trains alone
(:func:`compose.grow.task_transfer.transfer_task`); its report, with the test
accuracy, goes into ``OUTPUT_DIR/transfer.json`` (rewritten after each mode; a
run replaces the modes it ran and keeps those of earlier runs) and the grown
model into ``OUTPUT_DIR/<mode>/model.keras``.  The model dir's own checkpoints
are not changed.
"""

import dataclasses
import os

from compose.config import ExperimentConfig
from compose.config.checks import check_choices
from compose.core.program import format_program
from compose.files import (
    check_writable,
    earlier_entries,
    save_model_atomically,
    write_config,
    write_json,
)
from compose.grow.task_transfer import MODES, transfer_task
from compose.training.evaluate import evaluate
from compose.training.models import load_trained_model
from tasks import get_task, load_task_data


def run_transfer(
    config: ExperimentConfig,
    model_dir: str,
    task_name: str,
    source_task: str | None = None,
    modes=MODES,
    output_dir: str | None = None,
) -> dict:
    """Learns ``task_name`` from ``source_task`` (default: the model's first
    task) in every mode of ``modes`` under ``config.transfer``; returns
    ``{mode: report}`` of every mode in the report file.

    Everything is checked (modes, tasks, data, output dir) before anything is
    written; ``output_dir`` defaults to ``MODEL_DIR/transfer/TASK``.
    """
    check_choices("modes", modes, MODES)
    model = load_trained_model(model_dir, config)
    task = get_task(task_name)
    source_task = source_task or model.task_names[0]
    model.path(source_task)  # LookupError naming the model's tasks
    train, test = load_task_data(task, config.data_dir, config.tfds_dir)
    output_dir = output_dir or os.path.join(model_dir, "transfer", task.name)
    check_writable(output_dir, "--output_dir")
    report_path = os.path.join(output_dir, "transfer.json")
    results = earlier_entries(report_path, {"task": task.name}, "modes")
    write_config(config, output_dir)
    for mode in modes:
        options = dataclasses.replace(config.transfer, mode=mode)
        print(f"{task.name} from {source_task}: {mode}, {options.steps} steps", flush=True)
        grown, report = transfer_task(model, task.spec, train, source_task, options)
        report["test_accuracy"] = evaluate(grown, {task.name: test})[task.name]["accuracy"]
        print(
            f"  test accuracy {report['test_accuracy']:.4f}, new parameters "
            f"{report['new_params']}, program {format_program(report['program'])}"
            f"{' (changed)' if report['program_changed'] else ''}, stem {report['stem']}, "
            f"{report['wall_s']}s",
            flush=True,
        )
        save_model_atomically(grown, os.path.join(output_dir, mode, "model.keras"))
        results[mode] = report
        write_json(report_path, {"task": task.name, "modes": results})
    print(f"wrote {report_path} and a model.keras per mode")
    return results
