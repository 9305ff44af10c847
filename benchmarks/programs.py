r"""Are programs learned?  Learned programs against fixed random and shared ones.

At equal steps and batch, for each seed, on the main suite (K = 4) and on the
5-task shared-data suite (K = 8), depth 8, 1,000 examples of every task held
out of its training split:

  learned  the default, ``search``: hard programs from step 0, searched in
           rounds during the first 20% of the steps (Alet et al. 2018),
           then fixed;
  sampled  the earlier default: straight-through Gumbel-softmax samples
           for 10% of the steps, then each layer's most likely block;
  uniform  single-path one-shot training (Guo et al. 2020): uniformly drawn
           programs for 20% of the steps, then an evolutionary search per
           task on the held-out examples, then training on;
  random   fixed random programs from step 0 (a new draw per seed);
  cycle    one program shared by every task, 0..K-1 repeated (a hard-shared
           trunk through the bank).

Reported: median over seeds of the mean test and validation accuracy (choices
are made on validation; test gives the final number).  For the learned
variants, where each task's kept program stood when it was fixed: its
held-out accuracy against 100 random programs and every single-position
change over the bank as it was then (``percentile``: share of the random
ones below it; ``better_changes``: one-position changes above it).  For fixed
random programs the same standing after ``--probe_step`` steps: whether a
search round there (Alet et al. 2018: keep a move only if held-out accuracy
improves) could accept anything.  ``scoring_over_forward``: candidates scored
per second by :class:`compose.search.ProgramScorer` over bare forward passes
per second, same images, same run.

``--draws=N`` also trains N fixed random program sets at seed 0 and reports
what choosing the best of them on validation would gain.  ``--runs_file``
keeps every finished run, so a long benchmark can be split over several
invocations (one suite or variant at a time) and summarised at the end.

  python -m benchmarks.programs --data_dir=../shared/data
  python -m benchmarks.programs --data_dir=../shared/data --suites=main \
      --variants=learned,sampled,uniform,random,cycle --runs_file=runs.jsonl
  python -m benchmarks.programs --quick  # 1 seed, 300 steps, main suite
"""

import dataclasses
import json
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import app, flags, logging  # noqa: E402

from benchmarks.reference import matmul_gflop_s  # noqa: E402
from compose.config import ExperimentConfig, override, validate  # noqa: E402
from compose.config.experiments import named_config  # noqa: E402
from compose.core.program import pad_program  # noqa: E402
from compose.recipes.joint import initial_programs, run_experiment
from compose.run_log import processor  # noqa: E402
from compose.search import ProgramScorer  # noqa: E402
from compose.search.standing import program_standing  # noqa: E402
from compose.seeds import derive_seed  # noqa: E402
from compose.training import Supervised, Trainer, build_optimizer  # noqa: E402
from compose.training.holdout import hold_out  # noqa: E402
from compose.training.models import build_model  # noqa: E402
from tasks import (  # noqa: E402
    default_data_dir,
    default_tfds_dir,
    get_task,
    load_task_data,
)

flags.DEFINE_bool("quick", False, "One seed, 300 steps, the main suite only.")
flags.DEFINE_string("data_dir", None, "Directory of the .npz files (default $COMPOSE_DATA_DIR).")
flags.DEFINE_integer("seeds", 3, "Seeds per variant (medians reported).")
flags.DEFINE_list("suites", ["main", "five"], "Suites to run: main, five.")
flags.DEFINE_list("variants", ["learned", "random", "cycle"], "Variants to run (see VARIANTS).")
flags.DEFINE_integer("probe_step", 100, "Step at which fixed random programs are probed.")
flags.DEFINE_integer(
    "draws",
    0,
    "Fixed random program sets trained at seed 0 per suite, to see how much choosing among "
    "fully trained program sets (best on validation) could gain over a typical one.",
)
flags.DEFINE_string(
    "runs_file",
    None,
    "A JSONL file every finished run is appended to; runs already in it are read back "
    "instead of run again (a long benchmark split over several invocations).",
)
FLAGS = flags.FLAGS

SUITES = {"main": "main", "five": "five_tasks"}
"""Each suite's named config (:mod:`compose.config.experiments`)."""
VALIDATION_EXAMPLES = 1000
STANDING_CANDIDATES = 100
VARIANTS = {
    "learned": {"standing_candidates": STANDING_CANDIDATES},
    "sampled": {
        "program_learning": "sampled",
        "learning_fraction": 0.1,
        "program_search": "argmax",
        "standing_candidates": STANDING_CANDIDATES,
    },
    "uniform": {
        "program_learning": "uniform",
        "learning_fraction": 0.2,
        "program_search": "evolutionary",
        "search_budget": 100,
        "standing_candidates": STANDING_CANDIDATES,
    },
    "random": {"program_learning": "none", "initial_programs": "random"},
    "cycle": {"program_learning": "none", "initial_programs": "cycle"},
}
"""``train`` fields of each variant over the suite's config; ``learned`` is
the default configuration."""


def suite_config(suite, steps, data_dir) -> ExperimentConfig:
    """The suite's named config with ``steps``, every task holding out
    :data:`VALIDATION_EXAMPLES`."""
    return override(
        override(ExperimentConfig(), named_config(SUITES[suite])),
        {
            "data_dir": data_dir,
            "tfds_dir": default_tfds_dir(),
            "train": {"steps": steps, "validation_examples": VALIDATION_EXAMPLES},
        },
    )


def variant_overrides(config, variant) -> dict:
    """``train`` fields of ``variant``: one of :data:`VARIANTS`, or ``draw<i>``,
    the i-th fixed random program set of the suite (drawn apart from the
    run's seed, so the draws share the seed-0 weights and data order)."""
    if not variant.startswith("draw"):
        return VARIANTS[variant]
    rng = np.random.default_rng(derive_seed(0, "benchmark_draw", int(variant[4:])))
    model = config.model
    programs = {t: rng.integers(0, model.bank_size, model.depth).tolist() for t in config.tasks}
    return {"program_learning": "none", "programs": programs}


def best_of_draws(runs) -> dict:
    """What choosing among fully trained fixed program sets could gain: the
    draws' test means, and the test mean of the one best on validation."""
    best = max(runs, key=lambda r: (r["validation_mean"], -int(r["variant"][4:])))
    return {
        "test_means": [r["test_mean"] for r in runs],
        "validation_means": [r["validation_mean"] for r in runs],
        "median_test_mean": statistics.median(r["test_mean"] for r in runs),
        "chosen": best["variant"],
        "chosen_test_mean": best["test_mean"],
    }


def read_runs(path) -> dict:
    """``{(suite, variant, seed, steps): run}`` of the runs in ``path``."""
    if not path or not os.path.exists(path):
        return {}
    with open(path) as stream:
        runs = [json.loads(line) for line in stream if line.strip()]
    return {(r["suite"], r["variant"], r["seed"], r["steps"]): r for r in runs}


def run_once(config, suite, variant, seed) -> dict:
    """One training run of ``variant``: its test and validation means and,
    for learned programs, where each kept program stood when it was fixed."""
    train = dataclasses.replace(config.train, seed=seed, **variant_overrides(config, variant))
    config = dataclasses.replace(config, train=train)
    validate(config)
    result = run_experiment(config, None, verbose=False)
    metrics = result["metrics"]
    standing = {
        task: {k: v for k, v in entry["standing"].items() if not k.endswith("accuracies")}
        for task, entry in metrics.get("discretisation", {}).items()
        if "standing" in entry
    }
    changes = {
        task: sum(record["changed"] for record in entry["rounds"])
        for task, entry in metrics.get("discretisation", {}).items()
        if "rounds" in entry
    }
    return {
        "suite": suite,
        "variant": variant,
        "seed": seed,
        "steps": config.train.steps,
        "test_mean": round(metrics["mean_test_accuracy"], 4),
        "validation_mean": round(metrics["mean_validation_accuracy"], 4),
        "test": {t: round(e["test_accuracy"], 4) for t, e in metrics["tasks"].items()},
        "validation": {t: round(e["validation_accuracy"], 4) for t, e in metrics["tasks"].items()},
        "programs": result["model"].programs(),
        "standing": standing,
        "round_changes": changes,
        "wall_s": result["wall_s"],
    }


def run_variant(config, suite, variant, seeds, done) -> dict:
    """``variant`` over ``seeds`` (read from ``done`` where run before):
    medians of the per-seed means, and the lowest percentile of a kept program."""
    runs = []
    for seed in range(seeds):
        key = (suite, variant, seed, config.train.steps)
        run = done.get(key) or run_once(config, suite, variant, seed)
        if key not in done and FLAGS.runs_file:
            with open(FLAGS.runs_file, "a") as stream:
                stream.write(json.dumps(run) + "\n")
        runs.append(run)
        print(json.dumps(run), flush=True)
    percentiles = [s["percentile"] for r in runs for s in r["standing"].values()]
    return {
        "test_mean": statistics.median(r["test_mean"] for r in runs),
        "validation_mean": statistics.median(r["validation_mean"] for r in runs),
        "percentile_min": min(percentiles) if percentiles else None,
        "wall_s": statistics.median(r["wall_s"] for r in runs),
        "runs": runs,
    }


def probe_fixed_programs(config, step):
    """The standing of fixed random programs (seed 0) after ``step`` steps of
    joint training, what a search round there would see; the model and the
    validation splits it was scored on."""
    train = dataclasses.replace(config.train, seed=0, **VARIANTS["random"])
    config = dataclasses.replace(config, train=train)
    data, validation = {}, {}
    for name in config.tasks:
        split, _ = load_task_data(get_task(name), config.data_dir, config.tfds_dir)
        held = hold_out(split, train, searching=False)
        data[name], validation[name] = held.train, held.validation
    model = build_model(config, initial_programs(config))
    optimizer = build_optimizer(
        train.optimizer,
        train.learning_rate,
        model.trainable_variables,
        train.lr_schedule,
        train.steps,
    )
    trainer = Trainer(
        model,
        optimizer,
        tf.distribute.get_strategy(),
        data,
        [Supervised(name) for name in model.task_names],
        batch_size=train.batch_size,
        seed=train.seed,
    )
    trainer.train(step, verbose=False)
    report = {}
    for name in model.task_names:
        standing = program_standing(model, name, validation[name], STANDING_CANDIDATES)
        report[name] = {
            "kept_accuracy": round(standing["kept_accuracy"], 4),
            "percentile": standing["percentile"],
            "better_changes": standing["better_changes"],
            "best_change_accuracy": round(max(standing["change_accuracies"]), 4),
            "random_median_accuracy": round(float(np.median(standing["random_accuracies"])), 4),
        }
    return report, model, validation


def scoring_over_forward(model, task, split, candidates=32) -> dict:
    """Candidates per second of :class:`ProgramScorer` over candidates per
    second of bare forward passes (one per program, own moments) over the
    same images, both warmed up first."""
    rng = np.random.default_rng(0)
    programs = [rng.integers(0, model.bank_size, model.depth).tolist() for _ in range(candidates)]
    scorer = ProgramScorer(model, task, split)
    scorer.accuracy(programs[: scorer.candidates_per_call])
    started = time.perf_counter()
    scorer.accuracy(programs)
    scoring_s = time.perf_counter() - started
    images = tf.constant(split.images)
    forward = tf.function(
        lambda program: (
            model.forward({task: images}, programs={task: program}, statistics="own")[task].logits
        )
    )
    padded = [tf.constant(pad_program(p, model.depth), tf.int32) for p in programs]
    forward(padded[0]).numpy()
    started = time.perf_counter()
    for program in padded:
        forward(program).numpy()
    forward_s = time.perf_counter() - started
    return {
        "task": task,
        "images": len(split),
        "candidates": candidates,
        "scoring_candidates_per_s": round(candidates / scoring_s, 2),
        "forward_candidates_per_s": round(candidates / forward_s, 2),
        "scoring_over_forward": round(forward_s / scoring_s, 3),
    }


def main(argv):
    del argv
    logging.set_verbosity(logging.WARNING)
    steps = 300 if FLAGS.quick else 1500
    seeds = 1 if FLAGS.quick else FLAGS.seeds
    suites = ["main"] if FLAGS.quick else FLAGS.suites
    data_dir = FLAGS.data_dir or default_data_dir()
    unknown = sorted(set(FLAGS.variants) - set(VARIANTS)) + sorted(set(suites) - set(SUITES))
    if unknown:
        raise app.UsageError(f"unknown variants or suites {unknown}")
    summary = {
        "benchmark": "programs",
        "quick": FLAGS.quick,
        "steps": steps,
        "seeds": seeds,
        "processor": processor(),
    }
    done = read_runs(FLAGS.runs_file)
    for suite in suites:
        config = suite_config(suite, steps, data_dir)
        results = {}
        for variant in FLAGS.variants:
            print(f"{suite}: {variant}", flush=True)
            results[variant] = run_variant(config, suite, variant, seeds, done)
        entry = {"tasks": config.tasks, "bank_size": config.model.bank_size}
        for variant, result in results.items():
            entry[f"{variant}_mean"] = result["test_mean"]
            entry[f"{variant}_validation_mean"] = result["validation_mean"]
            if result["percentile_min"] is not None:
                entry[f"{variant}_percentile_min"] = result["percentile_min"]
            entry[f"{variant}_wall_s"] = result["wall_s"]
            entry[variant] = result
        if FLAGS.draws:
            draws = [
                run_variant(config, suite, f"draw{i}", 1, done)["runs"][0]
                for i in range(FLAGS.draws)
            ]
            entry["draws"] = best_of_draws(draws)
        if "learned" in results and "random" in results:
            entry["learned_minus_random"] = round(
                results["learned"]["test_mean"] - results["random"]["test_mean"], 4
            )
        entry["fixed_random_probe"], model, validation = probe_fixed_programs(
            config, FLAGS.probe_step
        )
        entry["probe_step"] = FLAGS.probe_step
        print(json.dumps({suite: {"fixed_random_probe": entry["fixed_random_probe"]}}), flush=True)
        if suite == "main":
            task = config.tasks[0]
            summary["scoring"] = scoring_over_forward(model, task, validation[task])
            summary["scoring_over_forward"] = summary["scoring"]["scoring_over_forward"]
            summary["matmul_gflop_s"] = round(matmul_gflop_s(), 1)
            if "learned" in results:
                summary["main_wall_s"] = results["learned"]["wall_s"]
        summary[suite] = entry
    print(json.dumps(summary))


if __name__ == "__main__":
    app.run(main)
