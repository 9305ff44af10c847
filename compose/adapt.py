r"""Adapts a trained model dir to an unlabelled target domain by choosing the order of its blocks.

The target (a registered task) starts as a copy of ``--source_task``; its
training images, without labels, score candidate programs under each
objective (moments, entropy; see :mod:`compose.grow.domain_adaptation`).  The target's
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

from absl import flags

from compose.cli import build_config, define_field_flags, run_binary
from compose.config.checks import check_choices
from compose.grow.domain_adaptation import OBJECTIVES

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
    from compose.recipes.new_domain import run_adaptation
    from compose.training.models import trained_config

    check_choices("objectives", FLAGS.objectives, OBJECTIVES)  # before the model dir is read
    config = build_config(
        FLAGS,
        SECTIONS,
        FLAG_FIELDS,
        base=trained_config(FLAGS.model_dir),
        set_by_flags=SET_BY_FLAGS,
    )
    run_adaptation(
        config, FLAGS.model_dir, FLAGS.target, FLAGS.source_task, FLAGS.objectives, FLAGS.output_dir
    )


def run():
    """Console-script entry point."""
    run_binary(main)


if __name__ == "__main__":
    run()
