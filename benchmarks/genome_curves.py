r"""How fast each kind of first-generation start learns a new task, against full clones.

A task's evolution (:mod:`compose.grow.evolve`) trains its first generation
``EvolveOptions.steps`` steps each and extends the best-scoring starts.  This
trains the root task's program as each kind of start the first generation
holds (head, stem and normalisation only; TAPS gated deltas at each of
``--ranks``; every block cloned) alone over ``--model_dir``'s model, for
each of ``--steps``, and prints per task and step count the held-out
accuracy, the values charged (a shared block divided among its users) and
added, and the score ``accuracy * s ** (charged / base)`` at
``--size_penalty``.  The baseline is the cloned start at the same steps
(fine-tuning inside the system, what a gated start saves values against):
the last line gives each kind's mean accuracy and score minus the cloned
one's.  Whether a size-penalised stream should keep clones is read here,
not guessed: if gated starts trained as long as the kept lineages match the
clones' accuracy, the search is what keeps clones; if they stay behind, the
penalty buys size with accuracy.  Only examples held out of each training
split are scored (the stream's split), never a test set.

  python -m benchmarks.genome_curves --model_dir=DIR/seed0/root \
      --data_dir=../shared/data --steps=100,300
"""

import dataclasses
import json
import time

from absl import flags

from benchmarks.genome_kinds import BASELINE, against_baseline, parse_ranks, start_kinds
from compose.cli import run_binary
from compose.config import GrowOptions
from compose.errors import InvalidInputError

flags.DEFINE_list(
    "tasks", ["mnist_partial", "animal_silhouettes", "cifar10_partial"], "New tasks, each alone."
)
flags.DEFINE_list("steps", ["100", "300"], "Training steps of every start (one run per value).")
flags.DEFINE_list("ranks", ["4", "8"], "Ranks of the gated starts ('full': TAPS deltas).")
flags.DEFINE_float("size_penalty", 0.9, "s of the printed scores.")
flags.DEFINE_integer("seed", 0, "Initialisation and data order of every start.")
flags.mark_flag_as_required("model_dir")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    import tensorflow as tf

    from compose.grow.evolve import evolve_task
    from compose.grow.system import split_for_growth
    from compose.run_log import environment
    from compose.training import load_trained_model
    from tasks import default_data_dir, default_tfds_dir, get_task, load_task_data

    ranks = parse_ranks(FLAGS.ranks)
    try:
        steps_list = [int(s) for s in FLAGS.steps]
    except ValueError:
        raise InvalidInputError(f"--steps: {FLAGS.steps} are not all integers") from None
    grow = GrowOptions()
    # Built before anything loads, so the config's own checks name a bad value first.
    options_of = {
        steps: dataclasses.replace(
            grow.evolve, budget=1, steps=steps, size_penalty=FLAGS.size_penalty, seed=FLAGS.seed
        )
        for steps in steps_list
    }
    tasks = [get_task(name) for name in FLAGS.tasks]
    tf.config.experimental.enable_op_determinism()
    model = load_trained_model(FLAGS.model_dir)
    data_dir = FLAGS.data_dir or default_data_dir()
    rows_of = {steps: [] for steps in options_of}
    started = time.time()
    for task in tasks:
        train, _ = load_task_data(task, data_dir, default_tfds_dir())
        train, validation = split_for_growth(train, grow, task.name, grow.evolve.batch_size)
        for steps, options in options_of.items():
            row = {}
            for kind, start in start_kinds(model, ranks, steps, options.learning_rate).items():
                begun = time.time()
                _, trained, _ = evolve_task(
                    model, task.spec, train, validation, [start], options, verbose=False
                )
                row[kind] = {
                    "accuracy": round(trained.accuracy, 4),
                    "score": round(trained.score, 4),
                    "charged_params": round(trained.charged_params),
                    "added_params": trained.added_params,
                    "seconds": round(time.time() - begun, 1),
                }
            rows_of[steps].append(row)
            print(json.dumps({"task": task.name, "steps": steps, "kinds": row}), flush=True)
    summary = {
        "benchmark": "genome_curves",
        "baseline": BASELINE,
        "minus_baseline": {steps: against_baseline(rows) for steps, rows in rows_of.items()},
        "tasks": FLAGS.tasks,
        "size_penalty": FLAGS.size_penalty,
        "model_dir": FLAGS.model_dir,
        "processor": environment()["processor"],
        "wall_s": round(time.time() - started, 1),
    }
    print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    run_binary(main)
