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

from compose.cli import run_binary
from compose.grow.evolve import EvolveOptions
from compose.grow.system import GrowOptions

EVOLVE = EvolveOptions()
FLAGS = flags.FLAGS
flags.DEFINE_string("model_dir", None, "A model dir written by compose.train.", required=True)
flags.DEFINE_list(
    "tasks", None, "New tasks (registered names), added in this order.", required=True
)
flags.DEFINE_string("output_dir", None, "Where the grown system goes (default: MODEL_DIR/grow).")
flags.DEFINE_integer(
    "budget", EVOLVE.budget, "Candidates trained per task (first generation included)."
)
flags.DEFINE_integer(
    "steps", EVOLVE.steps, "Steps of a first-generation candidate (mutations: x0.5, x2)."
)
flags.DEFINE_integer("batch_size", EVOLVE.batch_size, "Batch per step.")
flags.DEFINE_float(
    "size_penalty", EVOLVE.size_penalty, "s in score = accuracy * s^(charged/root); 1: none."
)
flags.DEFINE_integer("max_clones", None, "Clones one task may own (default: the model's depth).")
flags.DEFINE_float("learning_rate", EVOLVE.learning_rate, "First generation's Adam learning rate.")
flags.DEFINE_integer(
    "search_budget", EVOLVE.search_budget, "Programs the closed-form search scores."
)
flags.DEFINE_integer(
    "task_starts", EVOLVE.task_starts, "Closest tasks' programs in the first generation."
)
flags.DEFINE_integer(
    "validation_examples",
    GrowOptions().validation_examples,
    "Held out of each task's training split to score candidates (at most a fifth).",
)
flags.DEFINE_integer("seed", EVOLVE.seed, "Random seed (initialisation, data order, mutations).")
flags.DEFINE_string("data_dir", None, "Directory of .npz sources (default: the model's).")
flags.DEFINE_string("tfds_dir", None, "TFDS directory (default: the model's).")


def main(argv):
    import tensorflow as tf

    from compose.files import check_writable, lock_directory
    from compose.grow.system import check_stream, grow_system, split_for_growth
    from compose.training.models import load_trained_model
    from tasks import get_task, load_task_data

    options = GrowOptions(
        evolve=EvolveOptions(
            budget=FLAGS.budget,
            steps=FLAGS.steps,
            batch_size=FLAGS.batch_size,
            size_penalty=FLAGS.size_penalty,
            max_clones=FLAGS.max_clones,
            learning_rate=FLAGS.learning_rate,
            search_budget=FLAGS.search_budget,
            task_starts=FLAGS.task_starts,
            seed=FLAGS.seed,
        ),
        validation_examples=FLAGS.validation_examples,
    )
    # Every candidate is a new model, so TensorFlow's retracing warnings say nothing.
    tf.get_logger().setLevel("ERROR")
    root, config = load_trained_model(FLAGS.model_dir)
    tasks = [get_task(name) for name in FLAGS.tasks]
    check_stream(root, [task.name for task in tasks])
    stream = []
    for task in tasks:
        train, test = load_task_data(
            task, FLAGS.data_dir or config.data_dir, FLAGS.tfds_dir or config.tfds_dir
        )
        split_for_growth(train, options, task.name, options.evolve.batch_size)
        stream.append((task, train, test))
    output_dir = FLAGS.output_dir or os.path.join(FLAGS.model_dir, "grow")
    check_writable(output_dir, "--output_dir")
    os.makedirs(output_dir, exist_ok=True)
    lock_directory(output_dir)
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
