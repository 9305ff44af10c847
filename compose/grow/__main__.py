r"""Grows one system over a stream of new tasks, each evolved over the frozen system (muNet).

Every task of ``--tasks`` is added in turn to the model trained in
``--model_dir`` (see :mod:`compose.grow.system`): its first generation is
seeded from the closed-form search, the closest tasks' programs, head-only,
gated and full clones; ``--budget`` candidates train ``--steps`` steps each
from their parent's weights and are scored on ``--validation_examples`` held
out of the task's training split by ``accuracy * s ** (charged / root)``
(``--size_penalty`` is s).  The kept candidate joins the system and is
frozen: earlier tasks' outputs stay bit-identical.  ``OUTPUT_DIR`` (default
``MODEL_DIR/grow``) holds ``model.keras`` (serve it with
``compose.export --model_dir=OUTPUT_DIR``), a record per task under
``tasks/`` and ``grow.json``.  Killed at any point, the same command
continues after the last finished task with the same end result.  The
model dir's own checkpoints are not changed.

  python -m compose.grow --model_dir=runs/main --data_dir=../shared/data \
      --tasks=mnist_partial,usps,cifar10_partial
  python -m compose.grow --model_dir=runs/main --tasks=my_task --import=my_tasks
"""

from absl import flags

from compose.cli import build_config, define_field_flags, run_binary

FLAGS = flags.FLAGS
flags.mark_flag_as_required("model_dir")
flags.DEFINE_list(
    "tasks", None, "New tasks (registered names), added in this order.", required=True
)
flags.DEFINE_string("output_dir", None, "Where the grown system goes (default: MODEL_DIR/grow).")
SECTIONS = ("grow", "data_dir", "tfds_dir")
FLAG_FIELDS = define_field_flags(
    {
        "budget": ("grow.evolve.budget", "Candidates trained per task (first generation included)"),
        "steps": (
            "grow.evolve.steps",
            "Steps of a first-generation candidate (mutations: x0.5, x2)",
        ),
        "batch_size": ("grow.evolve.batch_size", "Batch per step"),
        "size_penalty": ("grow.evolve.size_penalty", "s in score = accuracy * s^(charged/root)"),
        "max_clones": ("grow.evolve.max_clones", "Clones one task may own (null: the depth)"),
        "learning_rate": ("grow.evolve.learning_rate", "First generation's Adam learning rate"),
        "search_budget": ("grow.evolve.search_budget", "Programs the closed-form search scores"),
        "task_starts": (
            "grow.evolve.task_starts",
            "Closest tasks' programs in the first generation",
        ),
        "gate_rank": (
            "grow.evolve.gate_rank",
            "Rank of the first gated candidate's deltas (null: full deltas)",
        ),
        "validation_examples": (
            "grow.validation_examples",
            "Held out of each task's training split to score candidates (at most a fifth)",
        ),
        "seed": ("grow.evolve.seed", "Random seed (initialisation, data order, mutations)"),
    }
)


def main(argv):
    from compose.recipes.growth import run_growth
    from compose.training.models import trained_config

    config = build_config(FLAGS, SECTIONS, FLAG_FIELDS, base=trained_config(FLAGS.model_dir))
    run_growth(config, FLAGS.model_dir, FLAGS.tasks, FLAGS.output_dir)


def run():
    """Console-script entry point."""
    run_binary(main)


if __name__ == "__main__":
    run()
