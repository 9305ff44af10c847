r"""Adapts a trained model dir to an unlabelled target domain by changing only its program.

The target (a registered task) starts as a copy of ``--source_task``; its
training images, without labels, drive each objective (moments, adversarial,
entropy; see :mod:`compose.adapt`).  The target's test labels are read only
to report accuracy, for the source-only copy, for the copy with target
normalisation statistics (no program change), and for every objective.
Writes ``OUTPUT_DIR/adapt.json`` and ``OUTPUT_DIR/<objective>/model.keras``
(servable with ``compose.export --model_dir=OUTPUT_DIR/<objective>``); the
model dir's own checkpoints are not changed.

  python -m compose.adapt --model_dir=runs/digits --target=usps \
      --source_task=mnist_partial --data_dir=../shared/data
"""

import os

from absl import app, flags

from compose.adapt import OBJECTIVES, AdaptOptions
from compose.cli import start_binary

DEFAULTS = AdaptOptions()
FLAGS = flags.FLAGS
flags.DEFINE_string("model_dir", None, "A model dir written by compose.train.", required=True)
flags.DEFINE_string("target", None, "The target domain (a registered task name).", required=True)
flags.DEFINE_string("source_task", None, "Task the target starts as (default: the model's first).")
flags.DEFINE_list("objectives", list(OBJECTIVES), f"Objectives, each run separately: {OBJECTIVES}.")
flags.DEFINE_integer("steps", DEFAULTS.steps, "Adaptation steps per objective.")
flags.DEFINE_integer("batch_size", DEFAULTS.batch_size, "Target (and source) batch per step.")
flags.DEFINE_float("learning_rate", DEFAULTS.learning_rate, "Adam learning rate.")
flags.DEFINE_float(
    "source_logit",
    DEFAULTS.source_logit,
    "Initial mixture logit of the source's blocks (0: uniform).",
)
flags.DEFINE_bool("train_stem", DEFAULTS.train_stem, "Also adapt the target's stem.")
flags.DEFINE_integer("seed", DEFAULTS.seed, "Random seed (batches, discriminator).")
flags.DEFINE_string("data_dir", None, "Directory of .npz sources (default: the model's).")
flags.DEFINE_string("tfds_dir", None, "TFDS directory (default: the model's).")
flags.DEFINE_string("output_dir", None, "Where results go (default: MODEL_DIR/adapt/TARGET).")


def main(argv):
    start_binary(argv)
    from compose.adapt import adapt_domain, copy_source_task, refresh_statistics
    from compose.experiment import load_trained_model
    from compose.files import save_model_atomically, write_json
    from compose.program import format_program
    from compose.training import evaluate
    from tasks import get_task, load_task_data

    unknown = sorted(set(FLAGS.objectives) - set(OBJECTIVES))
    if unknown:
        raise app.UsageError(f"unknown --objectives {unknown}; choose from {', '.join(OBJECTIVES)}")
    model, config = load_trained_model(FLAGS.model_dir)
    source_task = FLAGS.source_task or model.task_names[0]
    model.path(source_task)  # LookupError naming the model's tasks
    data_dir, tfds_dir = FLAGS.data_dir or config.data_dir, FLAGS.tfds_dir or config.tfds_dir
    target = get_task(FLAGS.target)
    target_train, target_test = load_task_data(target, data_dir, tfds_dir)
    source_train, _ = load_task_data(get_task(source_task), data_dir, tfds_dir)
    unlabelled = target_train.images

    def test_accuracy(adapted):
        return evaluate(adapted, {target.name: target_test})[target.name]["accuracy"]

    copy = copy_source_task(model, target.spec, source_task)
    baselines = {"source_only": test_accuracy(copy)}
    refresh_statistics(copy, target.name, unlabelled, DEFAULTS.statistics_batches, FLAGS.batch_size)
    baselines["target_statistics"] = test_accuracy(copy)
    print(
        f"{target.name} as {source_task} {format_program(model.program(source_task))}: "
        f"source only {baselines['source_only']:.4f}, with target statistics "
        f"{baselines['target_statistics']:.4f} (target labels used only to evaluate)",
        flush=True,
    )
    output_dir = FLAGS.output_dir or os.path.join(FLAGS.model_dir, "adapt", target.name)
    results = {}
    for objective in FLAGS.objectives:
        options = AdaptOptions(
            objective=objective,
            steps=FLAGS.steps,
            batch_size=FLAGS.batch_size,
            learning_rate=FLAGS.learning_rate,
            source_logit=FLAGS.source_logit,
            train_stem=FLAGS.train_stem,
            seed=FLAGS.seed,
        )
        print(f"{objective}: {options.steps} steps", flush=True)
        adapted, report = adapt_domain(
            model, target.spec, unlabelled, source_task, source_train.images, options
        )
        report["test_accuracy"] = test_accuracy(adapted)
        print(
            f"  test accuracy {report['test_accuracy']:.4f}, program "
            f"{format_program(report['program'])}, {report['wall_s']}s",
            flush=True,
        )
        objective_dir = os.path.join(output_dir, objective)
        os.makedirs(objective_dir, exist_ok=True)
        save_model_atomically(adapted, os.path.join(objective_dir, "model.keras"))
        results[objective] = report
    write_json(
        os.path.join(output_dir, "adapt.json"),
        {"target": target.name, "source_task": source_task, **baselines, "objectives": results},
    )
    print(f"wrote {output_dir}/adapt.json and a model.keras per objective")


def run():
    """Console-script entry point."""
    app.run(main)


if __name__ == "__main__":
    run()
