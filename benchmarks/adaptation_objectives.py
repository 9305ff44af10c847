r"""Unsupervised multi-source domain adaptation to USPS by choosing the order of a frozen bank.

A bank is trained jointly on labelled digit domains: MNIST-partial, UCI
digits and two derived domains (MNIST-partial with MNIST-C style shear and
scale; see tasks/derived.py).  The unlabelled target, USPS, starts as a copy
of one source task.  Baselines from the same bank:

  source_only        the source task copied to the target, unchanged;
  target_statistics  the same with its normalisation statistics re-estimated
                     on target images (AdaBN); no program change.

Then, for every objective of :mod:`compose.grow.domain_adaptation`, the target's program
is chosen by discrete search scored without labels ("order only": nothing
else changes but the statistics), and, with ``--stem_steps``, the stem also
trains on the objective ("order+stem").  USPS labels are read only to
evaluate; ``order_only`` is the default objective's result.

  python -m benchmarks.adaptation_objectives --quick --data_dir=../shared/data
"""

import dataclasses
import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags, logging  # noqa: E402

from compose.config import ExperimentConfig  # noqa: E402
from compose.core.statistics import refresh_statistics  # noqa: E402
from compose.grow.domain_adaptation import OBJECTIVES, AdaptOptions, adapt_domain, copy_source_task  # noqa: E402
from compose.recipes.joint import run_experiment  # noqa: E402
from compose.training.evaluate import evaluate  # noqa: E402
from tasks import default_data_dir, default_tfds_dir, get_task, load_task_data  # noqa: E402
from tasks.catalog import DIGIT_SOURCES  # noqa: E402

flags.DEFINE_bool("quick", False, "300 bank steps and a 30-candidate search (1500 and 120).")
flags.DEFINE_string("data_dir", None, "Directory of the .npz files (default $COMPOSE_DATA_DIR).")
flags.DEFINE_list("sources", list(DIGIT_SOURCES), "Labelled source domains of the bank.")
flags.DEFINE_string("source_task", "mnist_partial", "The source the target starts as.")
flags.DEFINE_string("target", "usps", "The unlabelled target domain.")
flags.DEFINE_integer("stem_steps", 200, "Steps of the order+stem variant (0: skip it).")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    logging.set_verbosity(logging.WARNING)
    data_dir = FLAGS.data_dir or default_data_dir()
    config = ExperimentConfig(tasks=FLAGS.sources, data_dir=data_dir, tfds_dir=default_tfds_dir())
    config.train = dataclasses.replace(config.train, steps=300 if FLAGS.quick else 1500)
    options = AdaptOptions(search_budget=30 if FLAGS.quick else 120)
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
        refresh_statistics(copy, target.name, unlabelled)
        row["target_statistics"] = accuracy(copy)
        print(f"{target.name} as {source}: {json.dumps(row)}", flush=True)
        baselines[source] = row
    chosen = baselines[FLAGS.source_task]
    source_train, _ = load_task_data(get_task(FLAGS.source_task), data_dir, config.tfds_dir)
    variants = [("order_only", 0)] + (
        [("order+stem", FLAGS.stem_steps)] if FLAGS.stem_steps else []
    )
    results = {}
    for objective in OBJECTIVES:
        for name, stem_steps in variants:
            run_options = dataclasses.replace(options, objective=objective, stem_steps=stem_steps)
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
                "program_changed": report["program_changed"],
                "score": round(report["score"], 4),
                "source_score": round(report["source_score"], 4),
                "candidates_scored": report["candidates_scored"],
                "wall_s": report["wall_s"],
            }
            row["minus_target_statistics"] = round(
                row["test_accuracy"] - chosen["target_statistics"], 4
            )
            print(f"{objective} {name}: {json.dumps(row)}", flush=True)
            results[f"{objective} {name}"] = row
    default = results[f"{options.objective} order_only"]
    print(
        json.dumps(
            {
                "benchmark": "adapt",
                "quick": FLAGS.quick,
                "target": target.name,
                "bank_tasks": config.tasks,
                "bank_steps": config.train.steps,
                "bank_programs": model.programs(),
                "source_task": FLAGS.source_task,
                "options": {
                    k: v
                    for k, v in dataclasses.asdict(options).items()
                    if k not in ("objective", "stem_steps")
                },
                "objective": options.objective,
                "source_only": chosen["source_only"],
                "target_statistics": chosen["target_statistics"],
                "order_only": default["test_accuracy"],
                "order_only_program_changed": default["program_changed"],
                "baselines": baselines,
                "results": results,
            }
        )
    )


if __name__ == "__main__":
    app.run(main)
