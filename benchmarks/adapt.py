r"""Unsupervised multi-source domain adaptation to USPS by re-ordering a frozen bank.

A bank is trained jointly on labelled digit domains: MNIST-partial, UCI
digits and two derived domains (MNIST-partial with MNIST-C style shear and
scale; see tasks/derived.py).  The unlabelled target, USPS, starts as a copy
of one source task; then, for every objective of :mod:`compose.adapt`, only
its program changes ("program"), or its program and stem ("program+stem").
USPS labels are read only to evaluate.  Baselines from the same bank:

  source_only        the source task copied to the target, unchanged;
  target_statistics  the same with its normalisation statistics re-estimated
                     on target images (AdaBN); no program change.

  python -m benchmarks.adapt --quick --data_dir=../shared/data
"""

import dataclasses
import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags, logging  # noqa: E402

from compose.adapt import (  # noqa: E402
    OBJECTIVES,
    AdaptOptions,
    adapt_domain,
    copy_source_task,
    refresh_statistics,
)
from compose.config import ExperimentConfig  # noqa: E402
from compose.experiment import run_experiment  # noqa: E402
from compose.training import evaluate  # noqa: E402
from tasks import default_data_dir, default_tfds_dir, get_task, load_task_data  # noqa: E402
from tasks.catalog import DIGIT_SOURCES  # noqa: E402

flags.DEFINE_bool("quick", False, "300 bank steps and 100 adaptation steps (1500 and 400).")
flags.DEFINE_string("data_dir", None, "Directory of the .npz files (default $COMPOSE_DATA_DIR).")
flags.DEFINE_list("sources", list(DIGIT_SOURCES), "Labelled source domains of the bank.")
flags.DEFINE_string("source_task", "mnist_partial", "The source the target starts as.")
flags.DEFINE_string("target", "usps", "The unlabelled target domain.")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    logging.set_verbosity(logging.WARNING)
    data_dir = FLAGS.data_dir or default_data_dir()
    config = ExperimentConfig(tasks=FLAGS.sources, data_dir=data_dir, tfds_dir=default_tfds_dir())
    config.train = dataclasses.replace(config.train, steps=300 if FLAGS.quick else 1500)
    options = AdaptOptions(steps=100 if FLAGS.quick else 400)
    print(f"training the bank on {', '.join(config.tasks)}, {config.train.steps} steps", flush=True)
    model = run_experiment(config, model_dir=None, verbose=False)["model"]
    target = get_task(FLAGS.target)
    target_train, target_test = load_task_data(target, data_dir, config.tfds_dir)
    unlabelled = target_train.images

    def accuracy(adapted):
        return round(evaluate(adapted, {target.name: target_test})[target.name]["accuracy"], 4)

    baselines = {}
    for source in config.tasks:
        copy = copy_source_task(model, target.spec, source)
        row = {"program": model.program(source), "source_only": accuracy(copy)}
        refresh_statistics(
            copy, target.name, unlabelled, options.statistics_batches, options.batch_size
        )
        row["target_statistics"] = accuracy(copy)
        print(f"{target.name} as {source}: {json.dumps(row)}", flush=True)
        baselines[source] = row
    chosen = baselines[FLAGS.source_task]
    source_train, _ = load_task_data(get_task(FLAGS.source_task), data_dir, config.tfds_dir)
    results = {}
    for objective in OBJECTIVES:
        for name, train_stem in (("program", False), ("program+stem", True)):
            run_options = dataclasses.replace(options, objective=objective, train_stem=train_stem)
            adapted, report = adapt_domain(
                model,
                target.spec,
                unlabelled,
                FLAGS.source_task,
                source_train.images,
                run_options,
                verbose=False,
            )
            row = {
                "test_accuracy": accuracy(adapted),
                "program": report["program"],
                "program_changed": report["program"] != report["source_program"],
                "wall_s": report["wall_s"],
            }
            row["minus_source_only"] = round(row["test_accuracy"] - chosen["source_only"], 4)
            row["minus_target_statistics"] = round(
                row["test_accuracy"] - chosen["target_statistics"], 4
            )
            print(f"{objective} {name}: {json.dumps(row)}", flush=True)
            results[f"{objective} {name}"] = row
    print(
        json.dumps(
            {
                "benchmark": "adapt",
                "quick": FLAGS.quick,
                "target": target.name,
                "bank_tasks": config.tasks,
                "bank_steps": config.train.steps,
                "source_task": FLAGS.source_task,
                "options": {
                    k: v
                    for k, v in dataclasses.asdict(options).items()
                    if k not in ("objective", "train_stem")
                },
                "baselines": baselines,
                "source_only": chosen["source_only"],
                "target_statistics": chosen["target_statistics"],
                "results": results,
            }
        )
    )


if __name__ == "__main__":
    app.run(main)
