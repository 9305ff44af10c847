r"""Depth by block reuse: longer programs over the same bank against shorter ones.

The Compositional Models paper reports that running the bank's blocks more
than once (a program longer than the number of distinct blocks) raises
accuracy at no cost in block parameters.  Each task trains alone on real data
with a bank of K = 4 blocks and a fixed program:

  short:          0 1 2 3            (each block once)
  long, cycled:   0 1 2 3 0 1 2 3    (the sequence twice)
  long, doubled:  0 0 1 1 2 2 3 3    (each block twice in a row)

Equal steps and batch; the block parameters are the same four blocks; the
task's own parameters grow only by the per-layer normalisation of the extra
layers (reported).

  python -m benchmarks.reuse --quick --data_dir=../shared/data
"""

import dataclasses
import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags, logging  # noqa: E402

from compose.config import ExperimentConfig  # noqa: E402
from compose.recipes.joint import run_experiment  # noqa: E402
from tasks import default_data_dir, default_tfds_dir  # noqa: E402

flags.DEFINE_bool("quick", False, "300 steps instead of 1500.")
flags.DEFINE_string("data_dir", None, "Directory of the .npz files (default $COMPOSE_DATA_DIR).")
flags.DEFINE_list("tasks", ["cifar10_partial", "fashion_mnist"], "Tasks, each trained alone.")
FLAGS = flags.FLAGS

PROGRAMS = {
    "short": [0, 1, 2, 3],
    "long_cycled": [0, 1, 2, 3, 0, 1, 2, 3],
    "long_doubled": [0, 0, 1, 1, 2, 2, 3, 3],
}


def main(argv):
    del argv
    logging.set_verbosity(logging.WARNING)
    steps = 300 if FLAGS.quick else 1500
    results = {}
    for task in FLAGS.tasks:
        results[task] = {}
        for name, program in PROGRAMS.items():
            config = ExperimentConfig(tasks=[task], data_dir=FLAGS.data_dir or default_data_dir())
            config.tfds_dir = default_tfds_dir()
            config.model = dataclasses.replace(config.model, bank_size=4, depth=len(program))
            config.train = dataclasses.replace(
                config.train, steps=steps, program_learning="none", programs={task: program}
            )
            print(f"{task}: {name} {program}", flush=True)
            run = run_experiment(config, model_dir=None, verbose=False)
            report = run["model"].parameter_report()[task]
            results[task][name] = {
                "program": program,
                "test_accuracy": round(run["metrics"]["tasks"][task]["test_accuracy"], 4),
                "block_params": report["shared_params"],
                "own_params": report["own_params"],
                "wall_s": run["wall_s"],
            }
        short = results[task]["short"]["test_accuracy"]
        for name in ("long_cycled", "long_doubled"):
            results[task][name]["minus_short"] = round(
                results[task][name]["test_accuracy"] - short, 4
            )
    print(
        json.dumps(
            {
                "benchmark": "reuse",
                "quick": FLAGS.quick,
                "steps": steps,
                "bank_size": 4,
                "batch_size": ExperimentConfig().train.batch_size,
                "results": results,
            }
        )
    )


if __name__ == "__main__":
    app.run(main)
