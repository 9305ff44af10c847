r"""Memory of a process that trains one fresh model after another, as growing does.

``compose.grow`` trains a new model for every candidate of every task, all in
one process.  TensorFlow keeps each traced training loop's graph alive after
its model and trainer are gone (:mod:`compose.tracing`): a stream of 30
tasks of 10 candidates reached 23 GB and thrashed a 24 GB machine.

This evolves one real task (UCI digits) over a root trained briefly on
Fashion-MNIST, ``--rounds`` times over, each round ``--budget`` candidates,
and reports the process's resident memory after each round, twice:

  released: the trainer drops the traced loop's custom-gradient entries (default);
  kept:     ``Trainer.release_traced_gradients = False``, TensorFlow's leak (baseline).

The released arm runs first, so the kept arm's leak cannot inflate it.  The
figure is the growth per candidate over the rounds after the first (which
holds one-off allocations), with the live ``FuncGraph`` count, which is exact.
``same_accuracies`` says whether every round of both arms trained candidates
of the same validation accuracies: releasing changes no result, and nothing
a round leaves behind changes the next.

  python -m benchmarks.training_memory
  python -m benchmarks.training_memory --quick
"""

import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402
from absl import app, flags, logging  # noqa: E402

from benchmarks.reference import matmul_gflop_s  # noqa: E402
from compose.config import ExperimentConfig, override  # noqa: E402
from compose.config.experiments import named_config  # noqa: E402
from compose.config.tree import EvolveOptions, GrowOptions  # noqa: E402
from compose.grow.evolve import evolve_task, first_generation  # noqa: E402
from compose.grow.system import split_for_growth  # noqa: E402
from compose.recipes.joint import run_experiment  # noqa: E402
from compose.run_log import processor  # noqa: E402
from compose.tracing import live_graph_count  # noqa: E402
from compose.training import Trainer  # noqa: E402
from tasks import default_data_dir, default_tfds_dir, get_task, load_task_data  # noqa: E402

flags.DEFINE_bool("quick", False, "3 rounds of 3 candidates instead of 4 of 5.")
flags.DEFINE_string("data_dir", None, "Directory of the .npz files (default $COMPOSE_DATA_DIR).")
flags.DEFINE_integer("rounds", None, "Evolutions of the task per arm (4; --quick 3).")
flags.DEFINE_integer("budget", None, "Candidates per round (5; --quick 3).")
FLAGS = flags.FLAGS

GROWN_TASK = "uci_digits"


def resident_mb() -> float:
    """This process's resident memory (VmRSS), in MB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise OSError("no VmRSS in /proc/self/status")


def run_arm(release, root, spec, train, validation, options, rounds) -> dict:
    """Evolves ``spec`` ``rounds`` times; memory after each round."""
    Trainer.release_traced_gradients = release
    rss, graphs, accuracies = [], [], []
    for _ in range(rounds):
        starts, _ = first_generation(root, spec, train, validation, options, verbose=False)
        _, _, log = evolve_task(root, spec, train, validation, starts, options, verbose=False)
        accuracies.append([candidate.accuracy for candidate in log])
        graphs.append(live_graph_count())
        rss.append(round(resident_mb(), 1))
        print(f"  {'released' if release else 'kept'}: {rss[-1]} MB, {graphs[-1]} graphs")
    candidates = (rounds - 1) * options.budget
    return {
        "rss_mb": rss,
        "live_graphs": graphs,
        "mb_per_candidate": round((rss[-1] - rss[0]) / candidates, 2),
        "graphs_per_candidate": round((graphs[-1] - graphs[0]) / candidates, 2),
        "accuracies": accuracies,
    }


def main(argv):
    del argv
    logging.set_verbosity(logging.WARNING)
    started = time.time()
    rounds = FLAGS.rounds or (3 if FLAGS.quick else 4)
    budget = FLAGS.budget or (3 if FLAGS.quick else 5)
    if rounds < 2:
        raise app.UsageError("--rounds must be at least 2: growth is measured after the first")
    tf.config.experimental.enable_op_determinism()  # as compose.grow runs
    data_dir = FLAGS.data_dir or default_data_dir()
    config = override(
        override(ExperimentConfig(), named_config("stream")),
        {"data_dir": data_dir, "tfds_dir": default_tfds_dir(), "train": {"steps": 100}},
    )
    print(f"root: {', '.join(config.tasks)}, {config.train.steps} steps", flush=True)
    root = run_experiment(config, model_dir=None, verbose=False)["model"]
    task = get_task(GROWN_TASK)
    train, _ = load_task_data(task, data_dir, default_tfds_dir())
    options = EvolveOptions(budget=budget, steps=30, search_budget=4)
    rest, validation = split_for_growth(train, GrowOptions(), task.name, options.batch_size)
    arms = {}
    for name, release in (("released", True), ("kept", False)):
        print(f"{name}: {rounds} rounds of {budget} candidates on {task.name}", flush=True)
        arms[name] = run_arm(release, root, task.spec, rest, validation, options, rounds)
    released, kept = arms["released"], arms["kept"]
    print(
        json.dumps(
            {
                "benchmark": "training_memory",
                **arms,
                "released_mb_per_candidate": released["mb_per_candidate"],
                "kept_mb_per_candidate": kept["mb_per_candidate"],
                "released_graphs_per_candidate": released["graphs_per_candidate"],
                "kept_graphs_per_candidate": kept["graphs_per_candidate"],
                "same_accuracies": all(
                    round_ == released["accuracies"][0]
                    for arm in arms.values()
                    for round_ in arm["accuracies"]
                ),
                "rounds": rounds,
                "budget": budget,
                "processor": processor(),
                "matmul_gflop_s": matmul_gflop_s(),
                "wall_s": round(time.time() - started, 1),
            }
        )
    )


if __name__ == "__main__":
    app.run(main)
