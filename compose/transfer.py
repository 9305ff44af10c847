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

import os

from absl import flags

from compose.cli import run_binary
from compose.errors import InvalidInputError
from compose.grow.transfer import MODES, TransferOptions

DEFAULTS = TransferOptions()
FLAGS = flags.FLAGS
flags.DEFINE_string("model_dir", None, "A model dir written by compose.train.", required=True)
flags.DEFINE_string("task", None, "The new task (a registered task name).", required=True)
flags.DEFINE_string("source_task", None, "Task to start from (default: the model's first).")
flags.DEFINE_list("modes", list(MODES), f"Transfer modes, each run separately: {MODES}.")
flags.DEFINE_integer("steps", DEFAULTS.steps, "Training steps per mode.")
flags.DEFINE_integer("batch_size", DEFAULTS.batch_size, "Batch per step.")
flags.DEFINE_float("learning_rate", DEFAULTS.learning_rate, "Adam learning rate.")
flags.DEFINE_integer(
    "search_budget", DEFAULTS.search_budget, "Program modes: candidate programs scored."
)
flags.DEFINE_float(
    "race_fraction",
    DEFAULTS.race_fraction,
    "Program modes: share of steps each finalist trains before the best on held-out "
    "examples goes on (0: keep the closed-form choice).",
)
flags.DEFINE_float("gate_sparsity", DEFAULTS.gate_sparsity, "Gated mode: L1 weight on gates.")
flags.DEFINE_bool(
    "closed_form_head",
    DEFAULTS.closed_form_head,
    "Start the classifier at the ridge solution on the training features (else random).",
)
flags.DEFINE_integer("seed", DEFAULTS.seed, "Random seed (initialisation, data order, search).")
flags.DEFINE_string("data_dir", None, "Directory of .npz sources (default: the model's).")
flags.DEFINE_string("tfds_dir", None, "TFDS directory (default: the model's).")
flags.DEFINE_string("output_dir", None, "Where results go (default: MODEL_DIR/transfer/TASK).")


def main(argv):
    from compose.core.program import format_program
    from compose.files import check_writable, earlier_entries, save_model_atomically, write_json
    from compose.grow.transfer import transfer_task
    from compose.training.evaluate import evaluate
    from compose.training.models import load_trained_model
    from tasks import get_task, load_task_data

    unknown = sorted(set(FLAGS.modes) - set(MODES))
    if unknown:
        raise InvalidInputError(f"unknown --modes {unknown}; choose from {', '.join(MODES)}")
    model, config = load_trained_model(FLAGS.model_dir)
    task = get_task(FLAGS.task)
    source_task = FLAGS.source_task or model.task_names[0]
    model.path(source_task)  # LookupError naming the model's tasks
    train, test = load_task_data(
        task, FLAGS.data_dir or config.data_dir, FLAGS.tfds_dir or config.tfds_dir
    )
    output_dir = FLAGS.output_dir or os.path.join(FLAGS.model_dir, "transfer", task.name)
    check_writable(output_dir, "--output_dir")
    report_path = os.path.join(output_dir, "transfer.json")
    results = earlier_entries(report_path, {"task": task.name}, "modes")
    for mode in FLAGS.modes:
        options = TransferOptions(
            mode=mode,
            steps=FLAGS.steps,
            batch_size=FLAGS.batch_size,
            learning_rate=FLAGS.learning_rate,
            search_budget=FLAGS.search_budget,
            race_fraction=FLAGS.race_fraction,
            gate_sparsity=FLAGS.gate_sparsity,
            closed_form_head=FLAGS.closed_form_head,
            seed=FLAGS.seed,
        )
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
