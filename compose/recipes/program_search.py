"""Searching the programs of a trained model dir's tasks over its frozen bank.

What ``compose.search`` runs: for each task, :func:`compose.search.search_program`
under ``config.search`` from the task's current program, scored on examples
held out of its training split; test sets give only the reported accuracies.
Writes ``MODEL_DIR/search/programs.json`` (the best program of each task) and
``candidates.jsonl`` (every program scored); the model dir's own checkpoints
are not changed.
"""

import dataclasses
import json
import os

from compose.config import ExperimentConfig
from compose.core.program import format_program
from compose.files import check_writable, write_atomically, write_config, write_json
from compose.search import SearchSpace, search_program
from compose.training.evaluate import evaluate, evaluate_program
from compose.training.holdout import hold_out
from compose.training.models import load_trained_model
from tasks import get_task, load_task_data


def run_search(config: ExperimentConfig, model_dir: str, tasks=None) -> dict:
    """Searches a program for each of ``tasks`` (default: every task of the
    model); returns ``{task: report}``, as ``programs.json`` holds it.

    Tasks, search space, data and the output dir are checked before anything
    is written."""
    options = config.search
    model = load_trained_model(model_dir, config)
    out_dir = os.path.join(model_dir, "search")
    tasks = tasks or model.task_names
    for task in tasks:
        model.path(task)  # UnknownNameError naming the model's tasks
    SearchSpace(model.bank_size, model.depth, options.min_length)  # its errors before writing
    # Every task's data is read (and its errors raised) before anything is written.
    data = {t: load_task_data(get_task(t), config.data_dir, config.tfds_dir) for t in tasks}
    check_writable(out_dir, "--model_dir")
    write_config(config, out_dir)
    report, lines = {}, []
    for task in tasks:
        train, test = data[task]
        held = hold_out(train, config.train, searching=True)
        train, validation = held.train, held.search if held.validation is None else held.validation
        print(
            f"{task}: {options.strategy} search, budget {options.budget}, from "
            f"{format_program(model.program(task))}",
            flush=True,
        )
        best, log = search_program(
            model,
            task,
            validation,
            strategy=options.strategy,
            budget=options.budget,
            size_penalty=options.size_penalty,
            seed=options.seed,
            min_length=options.min_length,
            train=train,
            relaxed_options=options.relaxed,
        )
        # Test accuracies as compose.train reports them (one evaluation path):
        # the model's own statistics for its program, re-estimated ones for another.
        start_test = evaluate(model, {task: test}, config.train.eval_batch_size)[task]["accuracy"]
        best_test = evaluate_program(
            model, task, best.program, train.images, test, config.train.eval_batch_size
        )["accuracy"]
        print(
            f"  best {format_program(best.program)}: validation {best.accuracy:.4f} "
            f"(start {log[0].accuracy:.4f}), test {best_test:.4f} "
            f"(start {start_test:.4f}), {len(log)} programs scored",
            flush=True,
        )
        report[task] = {
            "program": list(best.program),
            "text": format_program(best.program),
            "validation_accuracy": best.accuracy,
            "test_accuracy": best_test,
            "start_program": list(log[0].program),
            "start_validation_accuracy": log[0].accuracy,
            "start_test_accuracy": start_test,
            "charged_params": best.charged_params,
            "score": best.score,
            "evaluations": len(log),
        }
        lines += [json.dumps({"task": task, **dataclasses.asdict(c)}) for c in log]
    settings = dataclasses.asdict(options)
    write_json(os.path.join(out_dir, "programs.json"), {"search": settings, "programs": report})
    write_atomically(os.path.join(out_dir, "candidates.jsonl"), "\n".join(lines) + "\n")
    print(f"wrote {out_dir}/programs.json and candidates.jsonl")
    return report
