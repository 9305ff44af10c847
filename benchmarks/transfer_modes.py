r"""Transfer to new tasks over a frozen bank: accuracy, new parameters and programs per mode.

A bank is trained jointly on the default suite (Fashion-MNIST, UCI digits,
animal silhouettes) as the main job does; each target task is then learned
from a source task in every mode of :mod:`compose.grow.task_transfer` (head,
program, program_norm, gated, full), with the same steps, batch, learning
rate and training examples.  ``program`` chooses its program by closed-form
search, then a short race of finalists (``TransferOptions.race_fraction``),
both judged on examples held out of the target's training split; test sets
give only the final numbers.  ``new_params`` counts the values the target added
(``compose.grow.task_transfer.new_parameter_count``); ``program_changed`` says
whether the chosen program differs from the source's.

  python -m benchmarks.transfer_modes --quick --data_dir=../shared/data
"""

import dataclasses
import json
import os
import statistics

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags, logging  # noqa: E402

from compose.config import ExperimentConfig  # noqa: E402
from compose.grow.task_transfer import MODES, TransferOptions, transfer_task  # noqa: E402
from compose.recipes.joint import run_experiment  # noqa: E402
from compose.training.evaluate import evaluate  # noqa: E402
from tasks import default_data_dir, default_tfds_dir, get_task, load_task_data  # noqa: E402

flags.DEFINE_bool("quick", False, "300 bank steps, 150 transfer steps, one seed.")
flags.DEFINE_string("data_dir", None, "Directory of the .npz files (default $COMPOSE_DATA_DIR).")
flags.DEFINE_list("targets", ["mnist_partial", "cifar10_partial"], "New tasks.")
flags.DEFINE_string("source_task", "fashion_mnist", "Task of the bank every target starts from.")
flags.DEFINE_integer("seeds", None, "Transfer runs per mode, medians reported (3; --quick 1).")
flags.DEFINE_list("modes", list(MODES), "Modes to run.")
flags.DEFINE_string("head", None, "Head kind of every task (default: the main job's).")
flags.DEFINE_bool(
    "closed_form_head", True, "Start each classifier at the ridge solution (else at random)."
)
FLAGS = flags.FLAGS


def main(argv):
    del argv
    logging.set_verbosity(logging.WARNING)
    data_dir = FLAGS.data_dir or default_data_dir()
    config = ExperimentConfig(data_dir=data_dir, tfds_dir=default_tfds_dir())
    config.train = dataclasses.replace(config.train, steps=300 if FLAGS.quick else 1500)
    if FLAGS.head:
        config.model = dataclasses.replace(config.model, head=FLAGS.head)
    transfer_steps = 150 if FLAGS.quick else 600
    seeds = FLAGS.seeds or (1 if FLAGS.quick else 3)
    print(f"training the bank on {', '.join(config.tasks)}, {config.train.steps} steps", flush=True)
    bank = run_experiment(config, model_dir=None, verbose=False)
    model = bank["model"]
    results = {}
    for target in FLAGS.targets:
        task = get_task(target)
        train, test = load_task_data(task, data_dir, config.tfds_dir)
        results[target] = {}
        for mode in FLAGS.modes:
            runs = []
            for seed in range(seeds):
                options = TransferOptions(
                    mode=mode,
                    steps=transfer_steps,
                    closed_form_head=FLAGS.closed_form_head,
                    seed=seed,
                )
                grown, report = transfer_task(
                    model, task.spec, train, FLAGS.source_task, options, verbose=False
                )
                accuracy = evaluate(grown, {target: test})[target]["accuracy"]
                runs.append({"accuracy": accuracy, **report})
            row = {
                "accuracy": round(statistics.median(r["accuracy"] for r in runs), 4),
                "seed_accuracies": [round(r["accuracy"], 4) for r in runs],
                "new_params": runs[0]["new_params"],
                "program_changed": any(r["program_changed"] for r in runs),
                "programs": [r["program"] for r in runs],
                "stems": [r["stem"] for r in runs],
                "wall_s": statistics.median(r["wall_s"] for r in runs),
            }
            for key in (
                "race_steps",
                "candidates_scored",
                "search_s",
                "closed_form_accuracy",
                "closed_form_head_accuracy",
            ):
                if key in runs[0]:
                    row[key] = statistics.median(r[key] for r in runs)
            if mode == "gated":
                row["open_gates"] = runs[0]["open_gates"]
            print(f"{target} {mode}: {json.dumps(row)}", flush=True)
            results[target][mode] = row
        if "full" in results[target]:
            full = results[target]["full"]
            for row in results[target].values():
                row["fraction_of_full_accuracy"] = round(row["accuracy"] / full["accuracy"], 4)
                row["fraction_of_full_params"] = round(row["new_params"] / full["new_params"], 4)
        if {"program", "head"} <= set(results[target]):
            results[target]["program_minus_head"] = round(
                results[target]["program"]["accuracy"] - results[target]["head"]["accuracy"], 4
            )
    print(
        json.dumps(
            {
                "benchmark": "transfer",
                "quick": FLAGS.quick,
                "bank_tasks": config.tasks,
                "bank_steps": config.train.steps,
                "bank_programs": model.programs(),
                "norm_placement": config.model.norm_placement,
                "head": config.model.head,
                "source_task": FLAGS.source_task,
                "source_program": model.program(FLAGS.source_task),
                "transfer_steps": transfer_steps,
                "seeds": seeds,
                "options": {
                    k: v
                    for k, v in dataclasses.asdict(
                        TransferOptions(
                            steps=transfer_steps, closed_form_head=FLAGS.closed_form_head
                        )
                    ).items()
                    if k not in ("mode", "seed")
                },
                "targets": results,
            }
        )
    )


if __name__ == "__main__":
    app.run(main)
