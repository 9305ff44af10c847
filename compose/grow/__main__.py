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

import os

from absl import flags

from compose.cli import build_config, define_field_flags, run_binary, write_config

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
        "validation_examples": (
            "grow.validation_examples",
            "Held out of each task's training split to score candidates (at most a fifth)",
        ),
        "seed": ("grow.evolve.seed", "Random seed (initialisation, data order, mutations)"),
    }
)


def main(argv):
    import tensorflow as tf

    from compose.files import check_writable, lock_directory
    from compose.grow.system import check_growth_dir, check_stream, grow_system, split_for_growth
    from compose.training.models import load_trained_model, trained_config
    from tasks import get_task, load_task_data

    config = build_config(FLAGS, SECTIONS, FLAG_FIELDS, base=trained_config(FLAGS.model_dir))
    options = config.grow
    # Every candidate is a new model, so TensorFlow's retracing warnings say nothing.
    tf.get_logger().setLevel("ERROR")
    root = load_trained_model(FLAGS.model_dir, config)
    tasks = [get_task(name) for name in FLAGS.tasks]
    check_stream(root, [task.name for task in tasks])
    stream = []
    for task in tasks:
        train, test = load_task_data(task, config.data_dir, config.tfds_dir)
        split_for_growth(train, options, task.name, options.evolve.batch_size)
        stream.append((task, train, test))
    output_dir = FLAGS.output_dir or os.path.join(FLAGS.model_dir, "grow")
    check_writable(output_dir, "--output_dir")
    check_growth_dir(FLAGS.model_dir, [task.name for task in tasks], output_dir, options)
    os.makedirs(output_dir, exist_ok=True)
    lock_directory(output_dir)
    write_config(config, output_dir)
    records = grow_system(root, FLAGS.model_dir, stream, output_dir, options)
    for record in records:
        print(
            f"{record['task']}: test {record['test_accuracy']:.4f}, added "
            f"{record['added_params']}, system {record['system_params']}, {record['seconds']}s"
        )
    print(f"wrote {output_dir}/model.keras, grow.json and tasks/")


def run():
    """Console-script entry point."""
    run_binary(main)


if __name__ == "__main__":
    run()
