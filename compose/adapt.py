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

import dataclasses
import os

from absl import flags

from compose.cli import build_config, define_field_flags, run_binary, write_config
from compose.errors import InvalidInputError
from compose.grow.adapt import OBJECTIVES

FLAGS = flags.FLAGS
flags.mark_flag_as_required("model_dir")
flags.DEFINE_string("target", None, "The target domain (a registered task name).", required=True)
flags.DEFINE_string("source_task", None, "Task the target starts as (default: the model's first).")
flags.DEFINE_list("objectives", list(OBJECTIVES), f"Objectives, each run separately: {OBJECTIVES}.")
flags.DEFINE_string("output_dir", None, "Where results go (default: MODEL_DIR/adapt/TARGET).")
SECTIONS = ("adapt", "data_dir", "tfds_dir")
SET_BY_FLAGS = {"adapt.objective": "--objectives"}
"""Set once per run of the list flag; not a config value here."""
FLAG_FIELDS = define_field_flags(
    {
        "search_budget": ("adapt.search_budget", "Candidate programs scored"),
        "stem_steps": ("adapt.stem_steps", "Then train the target's stem this many steps"),
        "seed": ("adapt.seed", "Random seed (search, batches)"),
    }
)


def main(argv):
    from compose.core.program import format_program
    from compose.core.statistics import refresh_statistics
    from compose.files import check_writable, earlier_entries, save_model_atomically, write_json
    from compose.grow.adapt import adapt_domain, copy_source_task
    from compose.training.evaluate import evaluate
    from compose.training.models import load_trained_model, trained_config
    from tasks import get_task, load_task_data

    unknown = sorted(set(FLAGS.objectives) - set(OBJECTIVES))
    if unknown:
        raise InvalidInputError(
            f"unknown --objectives {unknown}; choose from {', '.join(OBJECTIVES)}"
        )
    config = build_config(
        FLAGS,
        SECTIONS,
        FLAG_FIELDS,
        base=trained_config(FLAGS.model_dir),
        set_by_flags=SET_BY_FLAGS,
    )
    model = load_trained_model(FLAGS.model_dir, config)
    source_task = FLAGS.source_task or model.task_names[0]
    model.path(source_task)  # LookupError naming the model's tasks
    data_dir, tfds_dir = config.data_dir, config.tfds_dir
    target = get_task(FLAGS.target)
    target_train, target_test = load_task_data(target, data_dir, tfds_dir)
    source_train, _ = load_task_data(get_task(source_task), data_dir, tfds_dir)
    unlabelled = target_train.images
    copy = copy_source_task(model, target.spec, source_task)  # errors on mismatched tasks
    output_dir = FLAGS.output_dir or os.path.join(FLAGS.model_dir, "adapt", target.name)
    check_writable(output_dir, "--output_dir")
    report_path = os.path.join(output_dir, "adapt.json")
    identity = {"target": target.name, "source_task": source_task}
    results = earlier_entries(report_path, identity, "objectives")
    write_config(config, output_dir)

    def test_accuracy(adapted):
        return evaluate(adapted, {target.name: target_test})[target.name]["accuracy"]

    baselines = {"source_only": test_accuracy(copy)}
    refresh_statistics(copy, target.name, unlabelled, seed=config.adapt.seed)
    baselines["target_statistics"] = test_accuracy(copy)
    print(
        f"{target.name} as {source_task} {format_program(model.program(source_task))}: "
        f"source only {baselines['source_only']:.4f}, with target statistics "
        f"{baselines['target_statistics']:.4f} (target labels used only to evaluate)",
        flush=True,
    )
    for objective in FLAGS.objectives:
        options = dataclasses.replace(config.adapt, objective=objective)
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
