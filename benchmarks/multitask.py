r"""A shared bank with learned programs vs independent models vs a shared trunk.

On real data (Fashion-MNIST, MNIST, USPS, UCI digits, CIFAR-10-partial), with
equal training steps and batch per task, depth L = 8 everywhere:

  (a) bank, K = 4 and K = 8: blocks shared by all tasks, programs learned
      (the default: ``search`` rounds over the first 20% of the steps, then
      fixed; docs/results.md's figures were measured with the earlier
      default, ``sampled`` hard programs for 10% of the steps);
      both hold at most 1/T of (b)'s block parameters;
  (b) independent: one isometric model per task (its own L blocks), alone;
  (c) shared trunk: one stack of L blocks run by every task (program 0..L-1),
      per-task stems, heads and normalisation.

Accuracies are on the full test sets, one seed per setting (``--seeds`` for
more: medians).  ``discretisation_gap`` is each bank task's accuracy on a
fixed test subset just before its learned program is discretised minus just
after.

  python -m benchmarks.multitask --quick --data_dir=../shared/data
"""

import dataclasses
import json
import os
import statistics

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from absl import app, flags, logging  # noqa: E402

from compose.config import ExperimentConfig  # noqa: E402
from compose.recipes.joint import run_experiment  # noqa: E402
from tasks import SHARED_DATA_SUITE, default_data_dir, default_tfds_dir  # noqa: E402

flags.DEFINE_bool("quick", False, "300 steps instead of 1500.")
flags.DEFINE_string("data_dir", None, "Directory of the .npz files (default $COMPOSE_DATA_DIR).")
flags.DEFINE_list("tasks", list(SHARED_DATA_SUITE), "Tasks to train together.")
flags.DEFINE_integer("depth", 8, "L for every setting.")
flags.DEFINE_integer("steps", None, "Override the number of steps.")
flags.DEFINE_integer("seeds", 1, "Seeds per setting (medians reported).")
FLAGS = flags.FLAGS


def run(config, seeds, **changes):
    """Trains ``config`` with ``changes`` for each seed; returns per-task median
    accuracies, block parameters and discretisation gaps."""
    runs = []
    for seed in range(seeds):
        seeded = dataclasses.replace(config, **changes)
        seeded.train = dataclasses.replace(seeded.train, seed=seed)
        result = run_experiment(seeded, model_dir=None, verbose=False)
        runs.append(result)
    model = runs[0]["model"]
    blocks = {i for entry in model.parameter_report().values() for i in entry["program"]}
    tasks = runs[0]["metrics"]["tasks"]
    return {
        "accuracy": {
            task: round(
                statistics.median(r["metrics"]["tasks"][task]["test_accuracy"] for r in runs), 4
            )
            for task in tasks
        },
        "programs": model.programs(),
        "block_params": len(blocks) * model.bank.block_size,
        "bank_params": model.bank_size * model.bank.block_size,
        "discretisation_gap": {
            task: max(r["metrics"]["tasks"][task].get("discretisation_gap", 0.0) for r in runs)
            for task in tasks
        },
        "wall_s": round(sum(r["wall_s"] for r in runs), 1),
    }


def mean(entry):
    return round(float(np.mean(list(entry["accuracy"].values()))), 4)


def main(argv):
    del argv
    logging.set_verbosity(logging.WARNING)
    steps = FLAGS.steps or (300 if FLAGS.quick else 1500)
    base = ExperimentConfig(
        tasks=list(FLAGS.tasks),
        data_dir=FLAGS.data_dir or default_data_dir(),
        tfds_dir=default_tfds_dir(),
    )
    base.model = dataclasses.replace(base.model, depth=FLAGS.depth)
    base.train = dataclasses.replace(base.train, steps=steps)
    fixed = dataclasses.replace(base.train, program_learning="none")
    trunk = dataclasses.replace(base.model, bank_size=FLAGS.depth)
    results = {}
    for bank_size in (4, 8):
        print(f"(a) bank of {bank_size} blocks, learned programs", flush=True)
        results[f"bank_k{bank_size}"] = run(
            base, FLAGS.seeds, model=dataclasses.replace(base.model, bank_size=bank_size)
        )
    print("(b) one independent model per task", flush=True)
    alone = {
        task: run(base, FLAGS.seeds, tasks=[task], model=trunk, train=fixed) for task in base.tasks
    }
    results["independent"] = {
        "accuracy": {task: r["accuracy"][task] for task, r in alone.items()},
        "block_params": sum(r["block_params"] for r in alone.values()),
        "wall_s": round(sum(r["wall_s"] for r in alone.values()), 1),
    }
    print("(c) one shared trunk, per-task heads", flush=True)
    results["shared_trunk"] = run(base, FLAGS.seeds, model=trunk, train=fixed)
    independent_blocks = results["independent"]["block_params"]
    for entry in results.values():
        entry["mean_accuracy"] = mean(entry)
    print(
        json.dumps(
            {
                "benchmark": "multitask",
                "quick": FLAGS.quick,
                "steps": steps,
                "seeds": FLAGS.seeds,
                "batch_size_per_task": base.train.batch_size,
                "model": dataclasses.asdict(base.model),
                "train": {
                    k: v
                    for k, v in dataclasses.asdict(base.train).items()
                    if k in ("program_learning", "learning_fraction", "final_temperature")
                },
                "tasks": base.tasks,
                "bank_mean": results["bank_k4"]["mean_accuracy"],
                "bank_k8_mean": results["bank_k8"]["mean_accuracy"],
                "independent_mean": results["independent"]["mean_accuracy"],
                "shared_trunk_mean": results["shared_trunk"]["mean_accuracy"],
                "bank_block_params_ratio": round(
                    results["bank_k4"]["bank_params"] / independent_blocks, 4
                ),
                "bank_k8_block_params_ratio": round(
                    results["bank_k8"]["bank_params"] / independent_blocks, 4
                ),
                "discretisation_gap_max": max(
                    gap
                    for name in ("bank_k4", "bank_k8")
                    for gap in results[name]["discretisation_gap"].values()
                ),
                **results,
            }
        )
    )


if __name__ == "__main__":
    app.run(main)
