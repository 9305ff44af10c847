r"""Shared bank with per-task programs vs independent models vs a shared trunk.

On real data (Fashion-MNIST, MNIST, USPS, UCI digits, CIFAR-10-partial), with
equal training steps and batch per task:

  (a) bank:        K blocks shared by all tasks; programs relaxed for the first
                   30% of steps, then argmax-discretised and trained hard;
  (b) independent: one isometric model per task (its own L blocks), alone;
  (c) shared trunk: one stack of L blocks run by every task (program 0..L-1),
                   per-task stems, heads and normalisation statistics.

  python -m benchmarks.multitask --quick --data_dir=../shared/data
"""

import dataclasses
import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from absl import app, flags, logging  # noqa: E402

from compose.config import ExperimentConfig  # noqa: E402
from compose.experiment import run_experiment  # noqa: E402
from tasks import SHARED_DATA_SUITE, default_data_dir, default_tfds_dir  # noqa: E402

flags.DEFINE_bool("quick", False, "300 steps instead of 1500.")
flags.DEFINE_string("data_dir", None, "Directory of the .npz files (default $COMPOSE_DATA_DIR).")
flags.DEFINE_list("tasks", list(SHARED_DATA_SUITE), "Tasks to train together.")
flags.DEFINE_integer("bank_size", 4, "K for the bank setting.")
flags.DEFINE_integer("depth", 8, "L for every setting.")
flags.DEFINE_integer("steps", None, "Override the number of steps.")
FLAGS = flags.FLAGS


def run(config, **changes):
    """Trains ``config`` with ``changes``; returns accuracy and parameter counts."""
    config = dataclasses.replace(config, **changes)
    result = run_experiment(config, model_dir=None, verbose=False)
    model, metrics = result["model"], result["metrics"]
    report = model.parameter_report()
    blocks = sorted({i for entry in report.values() for i in entry["program"]})
    if any(entry["relaxed"] for entry in report.values()):
        blocks = list(range(model.bank_size))
    own = sum(entry["own_params"] for entry in report.values())
    return {
        "accuracy": {t: round(m["test_accuracy"], 4) for t, m in metrics["tasks"].items()},
        "programs": {t: entry["program"] for t, entry in report.items()},
        "block_params": len(blocks) * model.bank.block_size,
        "task_own_params": own,
        "wall_s": result["wall_s"],
    }


def main(argv):
    del argv
    logging.set_verbosity(logging.WARNING)
    steps = FLAGS.steps or (300 if FLAGS.quick else 1500)
    base = ExperimentConfig(
        tasks=list(FLAGS.tasks),
        data_dir=FLAGS.data_dir or default_data_dir(),
        tfds_dir=default_tfds_dir(),
    )
    base.model.depth = FLAGS.depth
    base.train.steps = steps
    results = {}
    print(f"(a) bank of {FLAGS.bank_size} blocks, per-task programs", flush=True)
    bank = dataclasses.replace(base.model, bank_size=FLAGS.bank_size)
    relaxed = dataclasses.replace(base.train, programs="relaxed")
    results["bank"] = run(base, model=bank, train=relaxed)

    shared = dataclasses.replace(base.train, programs="shared")
    trunk = dataclasses.replace(base.model, bank_size=FLAGS.depth)
    print("(b) one independent model per task", flush=True)
    alone = [run(base, tasks=[task], model=trunk, train=shared) for task in base.tasks]
    results["independent"] = {
        "accuracy": {t: r["accuracy"][t] for t, r in zip(base.tasks, alone, strict=True)},
        "block_params": sum(r["block_params"] for r in alone),
        "task_own_params": sum(r["task_own_params"] for r in alone),
        "wall_s": round(sum(r["wall_s"] for r in alone), 1),
    }
    print("(c) one shared trunk, per-task heads", flush=True)
    results["shared_trunk"] = run(base, model=trunk, train=shared)
    for entry in results.values():
        entry["mean_accuracy"] = round(float(np.mean(list(entry["accuracy"].values()))), 4)
    summary = {
        "benchmark": "multitask",
        "quick": FLAGS.quick,
        "steps": steps,
        "batch_size_per_task": base.train.batch_size,
        "model": dataclasses.asdict(base.model),
        "tasks": base.tasks,
        **results,
        "bank_minus_independent_mean_accuracy": round(
            results["bank"]["mean_accuracy"] - results["independent"]["mean_accuracy"], 4
        ),
        "bank_block_params_over_independent": round(
            results["bank"]["block_params"] / results["independent"]["block_params"], 4
        ),
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    app.run(main)
