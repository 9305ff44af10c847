r"""Searches the programs of a trained model dir's tasks over its frozen bank.

Candidates are scored on the last examples of each task's training split
(``train.validation_examples`` of the model's config, else
``train.search_validation_examples``); the bank has not seen them only if the
training run held them out too (``train.validation_examples``).  The best
program's test accuracy is reported beside the starting program's, both
evaluated as ``compose.train`` evaluates (the start program's equals its table;
the best one's with statistics re-estimated for it on the training split); the relaxed
strategy trains mixture logits on the rest of the training split
(:mod:`compose.search.relaxed`).  Writes ``MODEL_DIR/search/programs.json``
(usable as ``compose.train --programs_file=...``) and
``MODEL_DIR/search/candidates.jsonl`` (every candidate: task, program,
accuracy, charged parameters, score).
The model dir's checkpoints are not changed.

  python -m compose.search --model_dir=runs/main --strategy=local --budget=50
  python -m compose.search --model_dir=runs/main --tasks=uci_digits --size_penalty=0.7
  python -m compose.search --model_dir=runs/main --strategy=relaxed --relaxed_steps=300
"""

import dataclasses
import json
import os

from absl import flags

from compose.cli import build_config, define_field_flags, run_binary, write_config

FLAGS = flags.FLAGS
flags.mark_flag_as_required("model_dir")
flags.DEFINE_list("tasks", None, "Tasks to search (default: all of the model's).")
SECTIONS = ("search", "data_dir", "tfds_dir")
FLAG_FIELDS = define_field_flags(
    {
        "strategy": (
            "search.strategy",
            "Search strategy; relaxed trains mixture logits on the task's training split",
        ),
        "relaxed_steps": ("search.relaxed.steps", "Training steps of the relaxed strategy"),
        "budget": ("search.budget", "Distinct programs scored per task"),
        "size_penalty": ("search.size_penalty", "s in score = accuracy * s^(charged/base)"),
        "min_length": ("search.min_length", "Shortest program (the model's depth: fixed length)"),
        "seed": ("search.seed", "Random seed of the strategy"),
    }
)


def main(argv):
    from compose.core.program import format_program
    from compose.files import check_writable, write_atomically, write_json
    from compose.search import SearchSpace, search_program
    from compose.training.evaluate import evaluate, evaluate_program
    from compose.training.holdout import hold_out
    from compose.training.models import load_trained_model, trained_config
    from tasks import get_task, load_task_data

    config = build_config(FLAGS, SECTIONS, FLAG_FIELDS, base=trained_config(FLAGS.model_dir))
    options = config.search
    model = load_trained_model(FLAGS.model_dir, config)
    out_dir = os.path.join(FLAGS.model_dir, "search")
    tasks = FLAGS.tasks or model.task_names
    for task in tasks:
        model.path(task)  # UnknownNameError naming the model's tasks
    SearchSpace(model.bank_size, model.depth, options.min_length)  # its errors before writing
    check_writable(out_dir, "--model_dir")
    write_config(config, out_dir)
    report, lines = {}, []
    for task in tasks:
        train, test = load_task_data(get_task(task), config.data_dir, config.tfds_dir)
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
    os.makedirs(out_dir, exist_ok=True)
    write_json(os.path.join(out_dir, "programs.json"), {"search": settings, "programs": report})
    write_atomically(os.path.join(out_dir, "candidates.jsonl"), "\n".join(lines) + "\n")
    print(f"wrote {out_dir}/programs.json and candidates.jsonl")


def run():
    """Console-script entry point."""
    run_binary(main)


if __name__ == "__main__":
    run()
