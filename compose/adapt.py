r"""Adapts a trained model dir to an unlabelled target domain by choosing the order of its blocks.

The target (a registered task) starts as a copy of ``--source_task``; its
training images, without labels, score candidate programs under each
objective (moments, entropy; see :mod:`compose.grow.adapt`).  The target's
test labels are read only to report accuracy: for the source-only copy, for
the copy with target normalisation statistics (AdaBN, no program change), and
for every objective.  Writes ``OUTPUT_DIR/adapt.json`` (one entry per
objective: a run replaces those it ran and keeps the others of earlier runs)
and ``OUTPUT_DIR/<objective>/model.keras`` (servable with
``compose.export --model_dir=OUTPUT_DIR/<objective>``); the model dir's own
checkpoints are not changed.

  python -m compose.adapt --model_dir=runs/digits --target=usps \
      --source_task=mnist_partial --data_dir=../shared/data
"""

import os

from absl import flags

from compose.cli import run_binary
from compose.errors import InvalidInputError
from compose.grow.adapt import OBJECTIVES, AdaptOptions

DEFAULTS = AdaptOptions()
FLAGS = flags.FLAGS
flags.DEFINE_string("model_dir", None, "A model dir written by compose.train.", required=True)
flags.DEFINE_string("target", None, "The target domain (a registered task name).", required=True)
flags.DEFINE_string("source_task", None, "Task the target starts as (default: the model's first).")
flags.DEFINE_list("objectives", list(OBJECTIVES), f"Objectives, each run separately: {OBJECTIVES}.")
flags.DEFINE_integer("search_budget", DEFAULTS.search_budget, "Candidate programs scored.")
flags.DEFINE_integer(
    "stem_steps", DEFAULTS.stem_steps, "Then train the target's stem this many steps (0: none)."
)
flags.DEFINE_integer("seed", DEFAULTS.seed, "Random seed (search, batches).")
flags.DEFINE_string("data_dir", None, "Directory of .npz sources (default: the model's).")
flags.DEFINE_string("tfds_dir", None, "TFDS directory (default: the model's).")
flags.DEFINE_string("output_dir", None, "Where results go (default: MODEL_DIR/adapt/TARGET).")


def main(argv):
    from compose.core.program import format_program
    from compose.core.statistics import refresh_statistics
    from compose.files import check_writable, earlier_entries, save_model_atomically, write_json
    from compose.grow.adapt import adapt_domain, copy_source_task
    from compose.training.evaluate import evaluate
    from compose.training.models import load_trained_model
    from tasks import get_task, load_task_data

    unknown = sorted(set(FLAGS.objectives) - set(OBJECTIVES))
    if unknown:
        raise InvalidInputError(
            f"unknown --objectives {unknown}; choose from {', '.join(OBJECTIVES)}"
        )
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
    refresh_statistics(copy, target.name, unlabelled, seed=FLAGS.seed)
    baselines["target_statistics"] = test_accuracy(copy)
    print(
        f"{target.name} as {source_task} {format_program(model.program(source_task))}: "
        f"source only {baselines['source_only']:.4f}, with target statistics "
        f"{baselines['target_statistics']:.4f} (target labels used only to evaluate)",
        flush=True,
    )
    output_dir = FLAGS.output_dir or os.path.join(FLAGS.model_dir, "adapt", target.name)
    check_writable(output_dir, "--output_dir")
    report_path = os.path.join(output_dir, "adapt.json")
    identity = {"target": target.name, "source_task": source_task}
    results = earlier_entries(report_path, identity, "objectives")
    for objective in FLAGS.objectives:
        options = AdaptOptions(
            objective=objective,
            search_budget=FLAGS.search_budget,
            stem_steps=FLAGS.stem_steps,
            seed=FLAGS.seed,
        )
        print(f"{objective}: up to {options.search_budget} candidate programs", flush=True)
        adapted, report = adapt_domain(
            model, target.spec, unlabelled, source_task, source_train.images, options
        )
        report["test_accuracy"] = test_accuracy(adapted)
        print(
            f"  test accuracy {report['test_accuracy']:.4f}, program "
            f"{format_program(report['program'])}"
            f"{' (changed)' if report['program_changed'] else ''}, {report['wall_s']}s",
            flush=True,
        )
        objective_dir = os.path.join(output_dir, objective)
        os.makedirs(objective_dir, exist_ok=True)
        save_model_atomically(adapted, os.path.join(objective_dir, "model.keras"))
        results[objective] = report
        write_json(report_path, {**identity, **baselines, "objectives": results})
    print(f"wrote {report_path} and a model.keras per objective")


def run():
    """Console-script entry point."""
    run_binary(main)


if __name__ == "__main__":
    run()
