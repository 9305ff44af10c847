r"""A system grown over the task stream (muNet) against fine-tuning, head-only, independent models.

The root is a bank trained on ``tasks.catalog.STREAM_ROOT`` (Fashion-MNIST)
by the ``stream`` named config (``--root_params_override`` changes it).
The stream (``tasks.catalog.TASK_STREAM``, ten tasks: five real, five
derived) is then added one task at a time by
:func:`compose.grow.grow_system`, once at ``s = 1`` and once at
``--small_penalty``.  On the same tasks, from the same root, with the same
training examples and the same held-out validation examples (the last
``min(1000, n / 5)`` of each training split):

``finetune``
  the root's copy per task, every weight the task runs trained (the
  source's blocks cloned; ``compose.grow.task_transfer`` mode ``full``), for as
  many steps as the evolved task's kept lineage at ``s = 1``;
``head``
  the root's program and frozen blocks, the head, stem and their
  normalisation trained (``compose.grow.task_transfer`` mode ``head``), same steps;
``independent``
  a model of the root's shape for the task alone, from scratch, same steps.

Every method starts its head at the closed-form ridge solution except the
independent model, and trains with Adam at the evolution's first learning
rate.  Per task and mean: test accuracy, parameters charged per task (a
shared block divided among its users), parameters added, the system's size
after each task, wall seconds, and the old tasks' largest output change.
The last line is JSON; ``added_params`` and ``total_params_ratio`` are of the
system grown at ``s < 1``, the one muNet sizes (``*_s1`` give ``s = 1``'s).

``--work_dir`` keeps every grown system and every baseline result: the same
command run again (after a kill, or with more ``--seeds``) continues.  Each
finished seed also leaves ``seed<N>/run.json``: its rows, the packages and
processor (``compose.run_log.environment``) and the commit.  A seed takes
1.9-2.4 hours on two Zen-3 cores, so three seeds need not come from one session:
``--first_seed`` picks which seeds this run grows, and ``--with_runs`` adds
the ``run.json`` of seeds grown elsewhere (the same stream and options) to
the medians.

  python -m benchmarks.stream --data_dir=../shared/data --work_dir=runs/stream
  python -m benchmarks.stream --data_dir=../shared/data --seeds=1 --first_seed=1 \
      --with_runs=benchmarks/records/stream/seed0.json
  python -m benchmarks.stream --quick --data_dir=../shared/data
"""

import dataclasses
import json
import os
import subprocess
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402
from absl import app, flags, logging  # noqa: E402

from benchmarks.reference import matmul_gflop_s  # noqa: E402
from benchmarks.stream_runs import (  # noqa: E402
    METHODS,
    ROOT_KEYS,
    earlier_run,
    figure_points,
    grown_rows,
    summarise,
)
from compose.config import (  # noqa: E402
    ExperimentConfig,
    override,
    parse_params_override,
    validate,
)
from compose.config.experiments import named_config  # noqa: E402
from compose.core.model import ComposedModel  # noqa: E402
from compose.errors import UserError  # noqa: E402
from compose.files import check_resumable, read_json, write_config, write_json  # noqa: E402
from compose.grow import EvolveOptions, GrowOptions, grow_system, transfer_task  # noqa: E402
from compose.grow.system import split_for_growth, system_parameter_count  # noqa: E402
from compose.grow.task_transfer import TransferOptions  # noqa: E402
from compose.recipes.joint import run_experiment  # noqa: E402
from compose.run_log import environment  # noqa: E402
from compose.seeds import derive_seed  # noqa: E402
from compose.training import Supervised, Trainer, build_optimizer, evaluate  # noqa: E402
from tasks import default_data_dir, default_tfds_dir, get_task, load_task_data  # noqa: E402
from tasks.catalog import TASK_STREAM  # noqa: E402

flags.DEFINE_bool("quick", False, "Root 300 steps, the first 3 tasks, 4 candidates of 30 steps.")
flags.DEFINE_string("data_dir", None, "Directory of the .npz files (default $COMPOSE_DATA_DIR).")
flags.DEFINE_string("work_dir", None, "Keeps grown systems and results (default: a temp dir).")
flags.DEFINE_integer("seeds", None, "Seeds grown here, medians reported (3; --quick 1).")
flags.DEFINE_integer("first_seed", 0, "The first seed grown here; --seeds count from it.")
flags.DEFINE_list(
    "with_runs",
    [],
    "run.json files of seeds grown by other runs of the same stream and options, added to the "
    "medians (with --seeds=0, only they are summarised).",
)
flags.DEFINE_list("tasks", None, "The stream (default tasks.catalog.TASK_STREAM).")
flags.DEFINE_float(
    "small_penalty",
    0.9,
    "The s < 1 of the second grown system (0.9: at the default model a clone must gain about "
    "1.3%; docs/growing.md measures s = 0.6 too).",
)
flags.DEFINE_integer(
    "small_max_clones",
    None,
    "Clones a task of the s < 1 system may own (default: the model's depth, no cap; 0: it "
    "adapts blocks by gated deltas only, which later tasks run as bank entries).",
    lower_bound=0,
)
flags.DEFINE_string(
    "root_params_override",
    "",
    "Config values of the root, as compose.train's --params_override (e.g. "
    "'model.bank_size=8,train.program_learning=none': a root running eight distinct blocks).",
)
flags.DEFINE_integer("budget", None, "Candidates per task (default EvolveOptions; --quick 4).")
flags.DEFINE_integer("steps", None, "First-generation steps (default EvolveOptions; --quick 30).")
flags.DEFINE_string(
    "plot", None, "Write the accuracy / parameters figure of every seed summarised here (.png)."
)
FLAGS = flags.FLAGS


def main(argv):
    del argv
    logging.set_verbosity(logging.WARNING)
    started = time.time()
    data_dir = FLAGS.data_dir or default_data_dir()
    names = FLAGS.tasks or list(TASK_STREAM[:3] if FLAGS.quick else TASK_STREAM)
    seeds = (1 if FLAGS.quick else 3) if FLAGS.seeds is None else FLAGS.seeds
    work_dir = FLAGS.work_dir or tempfile.mkdtemp(prefix="stream_")
    evolve = EvolveOptions(
        budget=FLAGS.budget or (4 if FLAGS.quick else EvolveOptions.budget),
        steps=FLAGS.steps or (30 if FLAGS.quick else EvolveOptions.steps),
        search_budget=8 if FLAGS.quick else EvolveOptions.search_budget,
    )
    setup = {"tasks": names, "small_penalty": FLAGS.small_penalty, "quick": FLAGS.quick}
    setup["evolve"] = dataclasses.asdict(evolve)
    if FLAGS.root_params_override:  # absent by default, so older seeds' setups still match
        setup["root"] = FLAGS.root_params_override
    if FLAGS.small_max_clones is not None:  # likewise
        setup["small_max_clones"] = FLAGS.small_max_clones
    root = root_config(data_dir, FLAGS.root_params_override)
    seeds_here = range(FLAGS.first_seed, FLAGS.first_seed + seeds)
    earlier = [earlier_run(path, setup, seeds_here) for path in FLAGS.with_runs]
    if not seeds_here and not earlier:
        raise app.UsageError("nothing to summarise: --seeds=0 and no --with_runs")
    runs = []
    if seeds_here:  # summarising --with_runs alone needs no data
        stream = []
        for name in names:
            task = get_task(name)
            train, test = load_task_data(task, data_dir, default_tfds_dir())
            split_for_growth(train, GrowOptions(), name, evolve.batch_size)
            stream.append((task, train, test))
        print(f"stream of {len(stream)} tasks: {', '.join(names)}; work dir {work_dir}", flush=True)
        runs = [run_seed(seed, stream, evolve, root, work_dir, setup) for seed in seeds_here]
    runs = sorted(runs + earlier, key=lambda run: run["seed"])
    summary = summarise(runs, names)
    if FLAGS.plot:
        plot(runs, summary, FLAGS.plot)
    print(json.dumps({"benchmark": "stream", "per_seed": runs}))
    print(
        json.dumps(
            {
                **summary,
                "seeds": [run["seed"] for run in runs],
                **setup,
                "wall_s": round(time.time() - started, 1),
                "matmul_gflop_s": matmul_gflop_s(),
            }
        )
    )


def run_seed(seed, stream, evolve, root_base, work_dir, setup) -> dict:
    """Every method on the whole stream at ``seed``: ``{method: [per-task rows]}``
    and the root's size, also written to ``seed<N>/run.json`` with ``setup``,
    the environment and the commit.  The baselines run right after the ``s = 1``
    system, whose lineages give their steps; the ``s < 1`` system runs last."""
    seed_dir = os.path.join(work_dir, f"seed{seed}")
    os.makedirs(seed_dir, exist_ok=True)
    root_dir = os.path.join(seed_dir, "root")
    root = train_root(seed, root_base, root_dir)

    def grown(method, penalty, system_dir, max_clones=None):
        print(f"seed {seed}: {method} (s = {penalty})", flush=True)
        options = GrowOptions(
            evolve=dataclasses.replace(
                evolve, size_penalty=penalty, seed=seed, max_clones=max_clones
            )
        )
        records = grow_system(root, root_dir, stream, os.path.join(seed_dir, system_dir), options)
        return grown_rows(records)

    rows = {"evolved": grown("evolved", 1.0, "evolved")}
    done_path = os.path.join(seed_dir, "baselines.json")
    done = read_json(done_path, "baseline results") if os.path.exists(done_path) else {}
    for row, (task, train, test) in zip(rows["evolved"], stream, strict=True):
        for method in ("finetune", "head", "independent"):
            key = f"{method}/{task.name}"
            if key not in done:
                print(f"seed {seed}: {method} {task.name}, {row['steps']} steps", flush=True)
                done[key] = run_baseline(
                    method, root, task, train, test, row["steps"], evolve, seed
                )
                write_json(done_path, done)
    for method in ("finetune", "head", "independent"):
        rows[method] = [done[f"{method}/{task.name}"] for task, _, _ in stream]
    # Named by its options, so that another --small_penalty or --small_max_clones grows
    # beside it, not over it.
    small, max_clones = FLAGS.small_penalty, FLAGS.small_max_clones
    small_dir = f"evolved_s{small:g}" + ("" if max_clones is None else f"_c{max_clones}")
    rows["evolved_small"] = grown("evolved_small", small, small_dir, max_clones)
    run = {"seed": seed, "root_params": system_parameter_count(root), "rows": rows}
    run.update(setup=setup, environment=environment(), commit=commit())
    write_json(os.path.join(seed_dir, "run.json"), run)
    return run


def commit() -> str | None:
    """The checkout's commit, so seeds from several runs can be told apart (None: no git)."""
    try:
        return subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=os.path.dirname(os.path.abspath(__file__)),
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def root_config(data_dir, params_override):
    """The root's config: the ``stream`` named config with ``params_override``
    (checked here, before anything trains), reading ``data_dir``."""
    try:
        config = override(ExperimentConfig(), named_config("stream"))
        config = override(config, parse_params_override(params_override))
        config = override(config, {"data_dir": data_dir, "tfds_dir": default_tfds_dir()})
        if FLAGS.quick:
            config = override(config, {"train": {"steps": 300}})
        validate(config)
    except UserError as error:
        raise app.UsageError(f"--root_params_override: {error}") from error
    return config


def train_root(seed, base, root_dir):
    """The bank trained by ``base`` at ``seed``, as ``compose.train`` leaves a
    model dir (config first), so ``compose.grow`` can read it; reused when
    there, if it was trained by the same tasks, model and training (the work
    dir's systems and baselines grew from it)."""
    from compose.training.models import load_trained_model

    config = override(base, {"train": {"seed": seed}})
    try:
        check_resumable(config, root_dir, ROOT_KEYS, "--work_dir")
    except UserError as error:
        raise app.UsageError(str(error)) from error
    if not os.path.exists(os.path.join(root_dir, "metrics.json")):
        print(f"seed {seed}: root on {', '.join(config.tasks)}, {config.train.steps} steps")
        write_config(config, root_dir)
        run_experiment(config, model_dir=root_dir, verbose=False)
    return load_trained_model(root_dir)


def run_baseline(method, root, task, train, test, steps, evolve, seed) -> dict:
    """One baseline on one task: its row (see the module docstring)."""
    started = time.time()
    rest, validation = split_for_growth(train, GrowOptions(), task.name, evolve.batch_size)
    if method == "independent":
        model, params = independent_model(root, task, rest, steps, evolve, seed)
    else:
        options = TransferOptions(
            mode="full" if method == "finetune" else "head",
            steps=steps,
            batch_size=evolve.batch_size,
            learning_rate=evolve.learning_rate,
            search_examples=len(validation),  # transfer holds out the same examples
            seed=derive_seed(seed, method, task.name),
        )
        model, report = transfer_task(
            root, task.spec, train, root.task_names[0], options, verbose=False
        )
        params = report["new_params"]
    return {
        "task": task.name,
        "test_accuracy": evaluate(model, {task.name: test})[task.name]["accuracy"],
        # A copy per task shares nothing: every value it runs is charged to it.
        "charged_params": params if method != "head" else _head_charge(root, model, task.name),
        "added_params": params,
        "steps": steps,
        "seconds": round(time.time() - started, 1),
    }


def _head_charge(root, model, task):
    """Head-only: its own values, and the root's blocks shared with the root's tasks."""
    users = len(root.task_names)
    blocks = len(set(model.program(task)))
    return model.path(task).own_parameter_count() + blocks * root.bank.block_size / (1 + users)


def independent_model(root, task, train, steps, evolve, seed):
    """``(model, parameters)``: the root's shape for ``task`` alone, trained from scratch."""
    shape = root.get_config()  # the root's shape and options, for this task alone
    shape.update(
        tasks=[task.spec],
        programs={task.name: root.program(root.task_names[0])},
        gated_tasks=[],
        gate_ranks={},
        seed=derive_seed(seed, "independent", task.name),
    )
    model = ComposedModel.from_config(shape)
    variables = model.trainable_variables
    Trainer(
        model,
        build_optimizer("adam", evolve.learning_rate, variables),
        tf.distribute.get_strategy(),
        {task.name: train},
        [Supervised(task.name)],
        batch_size=evolve.batch_size,
        seed=seed,
        variables=variables,
    ).train(steps, verbose=False)
    return model, model.parameter_report()[task.name]["total_params"]


def plot(runs, summary, path):
    """Test accuracy against parameters charged per task, per method, and the
    system's size as tasks are added: every seed's tasks as dots, the medians
    over seeds (the headline's) as stars and lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = figure_points(runs, summary)
    seeds = ", ".join(str(run["seed"]) for run in runs)
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for method, drawn in points.items():
        params, accuracies = zip(*drawn["dots"], strict=True)
        left.scatter(params, accuracies, color=_color(method), alpha=0.3, s=14)
        left.scatter(
            *drawn["star"],
            color=_color(method),
            marker="*",
            s=220,
            edgecolors="black",
            label=_label(method),
        )
    left.set_xscale("log")
    left.set_xlabel("parameters charged to the task")
    left.set_ylabel("test accuracy")
    left.set_title(f"every task of seeds {seeds} (dots), median of their means (stars)")
    left.legend(fontsize=8)
    for method in ("evolved", "evolved_small", "finetune", "head"):
        grown = method.startswith("evolved")
        right.plot(
            range(len(points[method]["sizes"])),
            points[method]["sizes"],
            marker="o" if grown else ".",
            color=_color(method),
            label=_label(method),
        )
    right.set_xlabel("tasks added")
    right.set_ylabel("system parameters / root's (median of the seeds)")
    right.set_title("size of the system")
    right.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def _label(method):
    """The method's name, with the s (and clone cap) of the system grown at s < 1."""
    if method != "evolved_small":
        return method
    cap = FLAGS.small_max_clones
    return f"{method}, s = {FLAGS.small_penalty:g}" + ("" if cap is None else f", <= {cap} clones")


def _color(method):
    """One colour per method in both panels."""
    return f"C{METHODS.index(method)}"


if __name__ == "__main__":
    app.run(main)
