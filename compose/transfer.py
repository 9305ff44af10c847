r"""Learns a new task over the frozen bank of a trained model dir, in one or more modes.

For every mode (head, program, program_norm, gated, full; see
:mod:`compose.grow.task_transfer`) the new task starts from ``--source_task`` and
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

from absl import flags

from compose.cli import build_config, define_field_flags, run_binary
from compose.config.checks import check_choices
from compose.grow.task_transfer import MODES

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
    from compose.recipes.new_task import run_transfer
    from compose.training.models import trained_config

    check_choices("modes", FLAGS.modes, MODES)  # before the model dir is read
    config = build_config(
        FLAGS,
        SECTIONS,
        FLAG_FIELDS,
        base=trained_config(FLAGS.model_dir),
        set_by_flags=SET_BY_FLAGS,
    )
    run_transfer(
        config, FLAGS.model_dir, FLAGS.task, FLAGS.source_task, FLAGS.modes, FLAGS.output_dir
    )


def run():
    """Console-script entry point."""
    run_binary(main)


if __name__ == "__main__":
    run()
