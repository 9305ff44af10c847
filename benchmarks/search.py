r"""Program search against exhaustive enumeration, on a bank trained on real data.

A bank small enough to enumerate (K = 4 blocks, depth 4) is trained jointly on
real tasks (sampled, then hard programs).  For one target task, every program
of length 1..4 (340; 256 of length 4) is scored on a validation half of its
test split by :class:`compose.search.ProgramScorer`.  Then each strategy,
from random length-4 starts (several seeds), searches length-4 programs with
10% of the 256 evaluations; its best is compared with the exhaustive best.
The strategies read the exhaustive scores (the scorer is deterministic), so
they cost no extra model time; the relaxed strategy also trains the target's
mixture logits on its training split (the bank and its weights frozen) and
has the argmax programs it passes through scored the same way.  Finally the size-penalised score for
s in {1.0, 0.9, 0.7, 0.3} over programs of any length: the exhaustive best
and the default strategy's find.  Last, a new task (Fashion-MNIST) is added
over the frozen bank with one cloned block and trained alone; the old tasks'
logits before and after give ``old_task_max_abs_diff``; the same task's
architecture is also evolved (``compose.grow.evolve``: clone and
learning-rate mutations, candidates trained): 8 candidates of a quarter of
those steps each, every candidate continuing from its parent's weights.

  python -m benchmarks.search --quick --data_dir=../shared/data
"""

import dataclasses
import itertools
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import app, flags, logging  # noqa: E402

from compose.config import ExperimentConfig  # noqa: E402
from compose.grow.continual import add_task  # noqa: E402
from compose.grow.evolve import EvolveOptions, Genome, Start, evolve_task  # noqa: E402
from compose.recipes.joint import run_experiment  # noqa: E402
from compose.search import (  # noqa: E402
    ALL_STRATEGIES,
    DEFAULT_STRATEGY,
    ProgramScorer,
    RelaxedOptions,
    SearchSpace,
    relaxed_search,
    run_strategy,
    task_objective,
)
from compose.training import Supervised, Trainer, build_optimizer, evaluate  # noqa: E402
from tasks import Split, default_data_dir, default_tfds_dir, get_task, load_task_data  # noqa: E402

flags.DEFINE_bool("quick", False, "Fewer training steps and seeds.")
flags.DEFINE_string("data_dir", None, "Directory of the .npz files (default $COMPOSE_DATA_DIR).")
flags.DEFINE_list("tasks", ["usps", "uci_digits", "mnist_partial"], "Tasks training the bank.")
flags.DEFINE_string("target", "usps", "The task whose program is searched.")
FLAGS = flags.FLAGS

BANK_SIZE, DEPTH = 4, 4
NEW_TASK = "fashion_mnist"
"""Added after the search, over the frozen bank plus one clone."""
SIZE_PENALTIES = (1.0, 0.9, 0.7, 0.3)


def train_bank(steps, data_dir):
    config = ExperimentConfig(tasks=list(FLAGS.tasks), data_dir=data_dir)
    config.tfds_dir = default_tfds_dir()
    config.model = dataclasses.replace(
        config.model, bank_size=BANK_SIZE, depth=DEPTH, channels=16, resolution=8
    )
    config.train = dataclasses.replace(config.train, steps=steps)
    return run_experiment(config, model_dir=None, verbose=False)["model"]


def forward_img_s(model, task, images, repeats=5):
    """Inference images/s of the task's own program on ``images`` (median)."""
    forward = tf.function(lambda x: model.call_task(task, x, training=False))
    images = tf.constant(images)
    forward(images)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        forward(images).numpy()
        times.append(time.perf_counter() - start)
    return len(images) / float(np.median(times))


def objective_over(table, model, task, budget, size_penalty):
    """``task``'s objective reading accuracies from the exhaustive ``table``."""
    return task_objective(
        model, task, lambda programs: [table[tuple(p)] for p in programs], budget, size_penalty
    )


def add_task_without_forgetting(model, program, steps, data_dir):
    """Adds ``NEW_TASK`` running ``program`` with its last block cloned, trains
    it alone over the frozen bank, and measures how far the old tasks moved."""
    new = get_task(NEW_TASK)
    old_inputs = {
        task: load_task_data(get_task(task), data_dir, default_tfds_dir())[1].images[:500]
        for task in model.task_names
    }
    before = {t: model.call_task(t, tf.constant(x)).numpy() for t, x in old_inputs.items()}
    grown = add_task(model, new.spec, list(program[:-1]) + [model.bank_size], clones=[program[-1]])
    train, test = load_task_data(new, data_dir, default_tfds_dir())
    trainer = Trainer(
        grown,
        build_optimizer("adam", 2e-3, grown.trainable_variables),
        tf.distribute.get_strategy(),
        {NEW_TASK: train},
        [Supervised(NEW_TASK)],
        batch_size=32,
        frozen_blocks=range(model.bank_size),
    )
    trainer.train(steps, verbose=False)
    after = {t: grown.call_task(t, tf.constant(x)).numpy() for t, x in old_inputs.items()}
    own = grown.parameter_report()[NEW_TASK]["own_params"]
    evolved = evolve_new_task(model, program, steps, data_dir)
    return {
        "new_task": NEW_TASK,
        "program": grown.program(NEW_TASK),
        "clones": {str(model.bank_size): int(program[-1])},
        "steps": steps,
        "test_accuracy": round(evaluate(grown, {NEW_TASK: test})[NEW_TASK]["accuracy"], 4),
        "new_params": own + grown.bank.block_size,
        "old_task_max_abs_diff": float(max(np.abs(after[t] - before[t]).max() for t in old_inputs)),
        "evolved": evolved,
    }


def evolve_new_task(model, program, steps, data_dir):
    """``NEW_TASK``'s architecture evolved over the frozen bank (muNet, with
    every muNet mutation) from ``program``, candidates scored on
    1,000 training examples held out."""
    new = get_task(NEW_TASK)
    train, test = load_task_data(new, data_dir, default_tfds_dir())
    train, validation = train.split_off(1000)
    options = EvolveOptions(budget=8, steps=max(steps // 4, 10), size_penalty=0.9)
    started = time.perf_counter()
    root = Genome(tuple(program), learning_rate=options.learning_rate, steps=options.steps)
    best_model, best, log = evolve_task(
        model, new.spec, train, validation, [Start(root, "root")], options, verbose=False
    )
    return {
        "candidates": len(log),
        "steps_per_candidate": options.steps,
        "size_penalty": options.size_penalty,
        "best_program": list(best.genome.program),
        "best_clones": [parent for _, parent in best.genome.clones],
        "best_learning_rate": best.genome.learning_rate,
        "best_validation_accuracy": round(best.accuracy, 4),
        "best_charged_params": round(best.charged_params),
        "best_lineage_steps": best.lineage_steps,
        "test_accuracy": round(evaluate(best_model, {NEW_TASK: test})[NEW_TASK]["accuracy"], 4),
        "mutations": [c.mutation for c in log],
        "wall_s": round(time.perf_counter() - started, 1),
    }


def main(argv):
    del argv
    logging.set_verbosity(logging.WARNING)
    data_dir = FLAGS.data_dir or default_data_dir()
    seeds = range(3 if FLAGS.quick else 10)
    model = train_bank(300 if FLAGS.quick else 1000, data_dir)
    target = FLAGS.target
    train, test = load_task_data(get_task(target), data_dir, default_tfds_dir())
    half = len(test) // 2
    validation = Split(test.images[:half], test.labels[:half])
    holdout = Split(test.images[half:], test.labels[half:])

    scorer = ProgramScorer(model, target, validation, candidates_per_call=8)
    programs = [
        list(p)
        for length in range(1, DEPTH + 1)
        for p in itertools.product(range(BANK_SIZE), repeat=length)
    ]
    scorer.accuracy(programs[:8])  # trace and warm up outside the timing
    scorer.seconds, scorer.evaluations = 0.0, 0
    table = dict(zip(map(tuple, programs), scorer.accuracy(programs), strict=True))
    candidates_per_s = scorer.evaluations / scorer.seconds
    forward = forward_img_s(model, target, validation.images)

    full_length = {p: a for p, a in table.items() if len(p) == DEPTH}
    exhaustive_best = max(full_length.values())
    budget = len(full_length) // 10
    space = SearchSpace(BANK_SIZE, DEPTH, min_length=DEPTH)
    relaxed = RelaxedOptions(steps=100 if FLAGS.quick else 300)
    strategies = {}
    for name in ALL_STRATEGIES:
        found, used = [], []
        for seed in seeds:
            start = np.random.default_rng(1000 + seed).integers(0, BANK_SIZE, DEPTH).tolist()
            objective = objective_over(full_length, model, target, budget, 1.0)
            if name == "relaxed":  # trains the logits on the target's training split
                best = relaxed_search(model, target, train, objective, start, seed, relaxed)
            else:
                best = run_strategy(name, objective, space, start, seed=seed)
            found.append(best.accuracy)
            used.append(len(objective.log))
        strategies[name] = {
            "found_best": round(float(np.median(found)), 4),
            "found_best_per_seed": [round(f, 4) for f in found],
            "within_half_point": sum(exhaustive_best - f <= 0.005 for f in found) / len(found),
            "evaluations_used": int(np.median(used)),
        }

    trade_off = []
    any_length = SearchSpace(BANK_SIZE, DEPTH, min_length=1)
    for s in SIZE_PENALTIES:
        exhaustive = objective_over(table, model, target, len(table), s)
        exhaustive.evaluate(list(table))
        best = exhaustive.best()
        objective = objective_over(table, model, target, len(table) // 10, s)
        found = run_strategy(DEFAULT_STRATEGY, objective, any_length, model.program(target))
        trade_off.append(
            {
                "size_penalty": s,
                "exhaustive": {
                    "program": list(best.program),
                    "accuracy": round(best.accuracy, 4),
                    "charged_params": round(best.charged_params),
                    "score": round(best.score, 4),
                },
                DEFAULT_STRATEGY: {
                    "program": list(found.program),
                    "accuracy": round(found.accuracy, 4),
                    "charged_params": round(found.charged_params),
                    "score": round(found.score, 4),
                    "evaluations_used": len(objective.log),
                },
            }
        )

    best_program = max(full_length, key=full_length.get)
    holdout_scorer = ProgramScorer(model, target, holdout, candidates_per_call=8)
    trained, searched = holdout_scorer.accuracy([model.program(target), list(best_program)])
    continual = add_task_without_forgetting(
        model, best_program, 150 if FLAGS.quick else 500, data_dir
    )
    result = {
        "benchmark": "search",
        "quick": FLAGS.quick,
        "tasks": list(FLAGS.tasks),
        "target": target,
        "bank_size": BANK_SIZE,
        "depth": DEPTH,
        "validation_examples": len(validation),
        "trained_program": model.program(target),
        "trained_program_validation_accuracy": round(table[tuple(model.program(target))], 4),
        "exhaustive_best": round(exhaustive_best, 4),
        "exhaustive_best_program": list(best_program),
        "exhaustive_evaluations": len(full_length),
        "holdout_accuracy": {"trained_program": trained, "exhaustive_best": searched},
        "budget": budget,
        "seeds": len(seeds),
        "default_strategy": DEFAULT_STRATEGY,
        "found_best": strategies[DEFAULT_STRATEGY]["found_best"],
        "evaluations_used": strategies[DEFAULT_STRATEGY]["evaluations_used"],
        "strategies": strategies,
        "relaxed_options": dataclasses.asdict(relaxed),
        "candidates_per_s": round(candidates_per_s, 2),
        "forward_img_s": round(forward, 1),
        "candidate_img_s_over_forward_img_s": round(candidates_per_s * half / forward, 3),
        "traces": scorer.traces,
        "old_task_max_abs_diff": continual["old_task_max_abs_diff"],
        "continual": continual,
        "size_penalty_trade_off": trade_off,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    app.run(main)
