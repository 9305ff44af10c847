r"""The Compositional Models paper's own configuration, trained by this framework.

MNIST-partial + USPS + Fashion-MNIST jointly; isometric 16x16x40, L = 16
MobileNetV2 blocks, a bank of K = 4; 500 steps of batch 32 per task; RMSprop
at 2e-3; the authors' head (1x1 convolution to 128, pool, 256, dropout 0.2,
dense); full test sets.  On these machines the authors' public code reaches
MNIST 0.942, USPS 0.896, Fashion-MNIST 0.725 (mean 0.854) at 81-84 images/s
(../shared/DESIGN.md §6).

Two ways of learning the programs, each over ``--seeds`` seeds (medians):

  ``sampled``  every forward pass runs a hard program (straight-through
               Gumbel-softmax) for the first 10% of the steps, then the most
               likely blocks stay (the default before ``search``; kept here
               so the figures in docs/results.md stay reproducible);
  ``mixed``    the paper's method: each layer runs the softmax mixture of the
               blocks' weights for all 500 steps, and is served as mixtures.

``--precision=bfloat16`` computes in bfloat16 (variables and normalisation
statistics float32), for CPUs with bf16 instructions and TPUs.

``img_s`` is training images per second over the whole run (all tasks),
median over seeds; ``matmul_gflop_s`` a same-run fp32 2048x2048 matmul rate,
so the speed can be compared across processors.

  python -m benchmarks.paper_config --data_dir=../shared/data
"""

import json
import os
import statistics

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from absl import app, flags, logging  # noqa: E402

from benchmarks.reference import matmul_gflop_s  # noqa: E402
from compose.config import ExperimentConfig, override  # noqa: E402
from compose.config.experiments import named_config  # noqa: E402
from compose.core.layers import PRECISIONS  # noqa: E402
from compose.recipes.joint import run_experiment  # noqa: E402
from compose.run_log import processor  # noqa: E402
from tasks import default_data_dir, default_tfds_dir  # noqa: E402

flags.DEFINE_bool("quick", False, "150 steps and one seed.")
flags.DEFINE_string("data_dir", None, "Directory of the .npz files (default $COMPOSE_DATA_DIR).")
flags.DEFINE_integer("seeds", None, "Seeds per variant (3; --quick 1).")
flags.DEFINE_integer(
    "first_seed", 0, "Run seeds first_seed, first_seed + 1, ... (to split a long run in parts)."
)
flags.DEFINE_list("variants", ["sampled", "mixed"], "Program learning of each variant.")
flags.DEFINE_enum("precision", "float32", list(PRECISIONS), "Compute precision (model.precision).")
FLAGS = flags.FLAGS

TASKS = named_config("authors")["tasks"]
AUTHORS_CODE = {"mnist_partial": 0.942, "usps": 0.896, "fashion_mnist": 0.725, "mean": 0.854}


def paper_config(steps, seed, learning) -> ExperimentConfig:
    """The named config ``authors`` with this run's steps, seed, way of
    learning programs and precision."""
    authors = override(ExperimentConfig(), named_config("authors"))
    return override(
        authors,
        {
            "data_dir": FLAGS.data_dir or default_data_dir(),
            "tfds_dir": default_tfds_dir(),
            "model": {"precision": FLAGS.precision},
            "train": {
                "steps": steps,
                "seed": seed,
                "program_learning": learning,
                "learning_fraction": 1.0 if learning == "mixed" else 0.1,
            },
        },
    )


def main(argv):
    del argv
    logging.set_verbosity(logging.WARNING)
    steps = 150 if FLAGS.quick else 500
    seeds = FLAGS.seeds or (1 if FLAGS.quick else 3)
    reference = matmul_gflop_s()
    variants = {}
    for learning in FLAGS.variants:
        runs = []
        for seed in range(FLAGS.first_seed, FLAGS.first_seed + seeds):
            config = paper_config(steps, seed, learning)
            print(f"{learning} seed {seed}: training {steps} steps...", flush=True)
            result = run_experiment(config, model_dir=None, verbose=False)
            images = steps * config.train.batch_size * len(TASKS)
            accuracy = {t: m["test_accuracy"] for t, m in result["metrics"]["tasks"].items()}
            runs.append(
                {
                    "tasks": accuracy,
                    "mean": float(np.mean(list(accuracy.values()))),
                    "img_s": images / result["wall_s"],
                    "programs": result["model"].programs(),
                    "discretisation_gap": {
                        t: m.get("discretisation_gap")
                        for t, m in result["metrics"]["tasks"].items()
                    },
                }
            )
            print(f"{learning} seed {seed}: {json.dumps(runs[-1])}", flush=True)
        variants[learning] = {
            "tasks": {
                task: {
                    "test_accuracy": round(statistics.median(r["tasks"][task] for r in runs), 4),
                    "seeds": [round(r["tasks"][task], 4) for r in runs],
                }
                for task in TASKS
            },
            "mean": round(statistics.median(r["mean"] for r in runs), 4),
            "mean_seeds": [round(r["mean"], 4) for r in runs],
            "img_s": round(statistics.median(r["img_s"] for r in runs), 1),
            f"programs_seed_{FLAGS.first_seed}": runs[0]["programs"],
            f"discretisation_gap_seed_{FLAGS.first_seed}": runs[0]["discretisation_gap"],
        }
    main_variant = variants[FLAGS.variants[0]]
    print(
        json.dumps(
            {
                "benchmark": "paper_config",
                "quick": FLAGS.quick,
                "steps": steps,
                "seeds": seeds,
                "first_seed": FLAGS.first_seed,
                "processor": processor(),
                "matmul_gflop_s": round(reference, 1),
                "variant": FLAGS.variants[0],
                "precision": FLAGS.precision,
                "tasks": main_variant["tasks"],
                "mean": main_variant["mean"],
                "img_s": main_variant["img_s"],
                "img_s_per_matmul_gflop_s": round(main_variant["img_s"] / reference, 4),
                "authors_code": AUTHORS_CODE,
                "variants": variants,
            }
        )
    )


if __name__ == "__main__":
    app.run(main)
