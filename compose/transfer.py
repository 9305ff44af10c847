r"""Learns a new task over the frozen bank of a trained model dir, in one or more modes.

For every mode (head, program, program_norm, gated, full; see
:mod:`compose.grow.transfer`) the new task starts from ``--source_task`` and
trains alone; its test accuracy, the number of parameters it added and (in
the program modes) the program chosen by closed-form search are printed, and
``OUTPUT_DIR/<mode>/model.keras`` holds the grown model (all old tasks plus
the new one; ``compose.export --model_dir=OUTPUT_DIR/<mode>`` serves it).
``OUTPUT_DIR/transfer.json`` collects the reports, one per mode: a run
replaces the modes it ran and keeps the others of earlier runs (it is
rewritten after each mode).  The model dir's own checkpoints are not changed.

  python -m compose.transfer --model_dir=runs/main --task=mnist_partial \
      --data_dir=../shared/data --source_task=fashion_mnist --modes=head,program
"""

import dataclasses
import os

from absl import flags

from compose.cli import build_config, define_field_flags, run_binary, write_config
from compose.errors import InvalidInputError
from compose.grow.transfer import MODES

FLAGS = flags.FLAGS
flags.mark_flag_as_required("model_dir")
flags.DEFINE_string("task", None, "The new task (a registered task name).", required=True)
flags.DEFINE_string("source_task", None, "Task to start from (default: the model's first).")
flags.DEFINE_list("modes", list(MODES), f"Transfer modes, each run separately: {MODES}.")
flags.DEFINE_string("output_dir", None, "Where results go (default: MODEL_DIR/transfer/TASK).")
SECTIONS = ("transfer", "data_dir", "tfds_dir")
SET_BY_FLAGS = {"transfer.mode": "--modes"}
"""Set once per run of the list flag; not a config value here."""
FLAG_FIELDS = define_field_flags(
    {
        "steps": ("transfer.steps", "Training steps per mode"),
        "batch_size": ("transfer.batch_size", "Batch per step"),
        "learning_rate": ("transfer.learning_rate", "Adam learning rate"),
        "search_budget": ("transfer.search_budget", "Program modes: candidate programs scored"),
        "race_fraction": (
            "transfer.race_fraction",
            "Program modes: share of steps each finalist trains before the best on held-out "
            "examples goes on (0: keep the closed-form choice)",
        ),
        "gate_sparsity": ("transfer.gate_sparsity", "Gated mode: L1 weight on gates"),
        "closed_form_head": (
            "transfer.closed_form_head",
            "Start the classifier at the ridge solution on the training features",
        ),
        "seed": ("transfer.seed", "Random seed (initialisation, data order, search)"),
    }
)


def main(argv):
    from compose.core.program import format_program
    from compose.files import check_writable, earlier_entries, save_model_atomically, write_json
    from compose.grow.transfer import transfer_task
    from compose.training.evaluate import evaluate
    from compose.training.models import load_trained_model, trained_config
    from tasks import get_task, load_task_data

    unknown = sorted(set(FLAGS.modes) - set(MODES))
    if unknown:
        raise InvalidInputError(f"unknown --modes {unknown}; choose from {', '.join(MODES)}")
    config = build_config(
        FLAGS,
        SECTIONS,
        FLAG_FIELDS,
        base=trained_config(FLAGS.model_dir),
        set_by_flags=SET_BY_FLAGS,
    )
    model = load_trained_model(FLAGS.model_dir, config)
    task = get_task(FLAGS.task)
    source_task = FLAGS.source_task or model.task_names[0]
    model.path(source_task)  # LookupError naming the model's tasks
    train, test = load_task_data(task, config.data_dir, config.tfds_dir)
    output_dir = FLAGS.output_dir or os.path.join(FLAGS.model_dir, "transfer", task.name)
    check_writable(output_dir, "--output_dir")
    report_path = os.path.join(output_dir, "transfer.json")
    results = earlier_entries(report_path, {"task": task.name}, "modes")
    write_config(config, output_dir)
    for mode in FLAGS.modes:
        options = dataclasses.replace(config.transfer, mode=mode)
        print(f"{task.name} from {source_task}: {mode}, {options.steps} steps", flush=True)
        grown, report = transfer_task(model, task.spec, train, source_task, options)
        report["test_accuracy"] = evaluate(grown, {task.name: test})[task.name]["accuracy"]
        print(
            f"  test accuracy {report['test_accuracy']:.4f}, new parameters "
            f"{report['new_params']}, program {format_program(report['program'])}"
            f"{' (changed)' if report['program_changed'] else ''}, stem {report['stem']}, "
            f"{report['wall_s']}s",
            flush=True,
        )
        mode_dir = os.path.join(output_dir, mode)
        os.makedirs(mode_dir, exist_ok=True)
        save_model_atomically(grown, os.path.join(mode_dir, "model.keras"))
        results[mode] = report
        write_json(report_path, {"task": task.name, "modes": results})
    print(f"wrote {report_path} and a model.keras per mode")


def run():
    """Console-script entry point."""
    run_binary(main)


if __name__ == "__main__":
    run()
