"""The joint-training recipe: one experiment from a config, in named stages.

:func:`run_experiment` reads the data and holds examples out
(:func:`load_splits`), builds the model and its trainer
(:func:`build_trainer`), learns the programs and fixes them
(:func:`learn_programs`), trains the fixed programs, scores the result
(:func:`score`) and leaves its artefacts in the model dir
(:func:`write_artefacts`).  A recipe sits above the engine: it may use both
training and search, which do not import each other upward."""

import os
import time
from typing import NamedTuple

import numpy as np
import tensorflow as tf

from compose.config import ExperimentConfig, validate
from compose.core.program import format_program, logits_near, unpad_program, validate_program
from compose.core.statistics import refresh_statistics
from compose.errors import InvalidInputError, MissingFileError, UnknownNameError
from compose.files import read_json, write_json
from compose.plots import write_program_plots
from compose.run_log import append_run_log
from compose.search.rounds import SearchRounds, round_steps
from compose.seeds import derive_seed
from compose.training.distribute import get_strategy
from compose.training.evaluate import evaluate
from compose.training.holdout import hold_out, rejoin
from compose.training.memory import check_fits
from compose.training.models import build_model, read_programs_file, restore_model
from compose.training.objectives import Supervised, mixture_entropy
from compose.training.sampling import task_batch_sizes
from compose.training.schedules import annealer
from compose.training.trainer import Trainer, build_optimizer, trained_variables
from tasks import get_task, load_task_data

PROGRAM_LEARNING = ("search", "sampled", "uniform", "mixed", "none")
"""Values of ``train.program_learning`` (what each does: ``TrainConfig.program_learning``)."""
INITIAL_PROGRAMS = ("cycle", "random")
"""Values of ``train.initial_programs`` (:func:`initial_programs`)."""


def initial_programs(config: ExperimentConfig) -> dict[str, list[int]] | None:
    """Programs to start from: the config's or its programs file's, random
    ones, or None (the model's default, cycling the bank)."""
    if config.train.programs is not None:
        return config.train.programs
    if config.train.programs_file:
        return read_programs_file(config.train.programs_file)
    if config.train.initial_programs == "random":
        rng = np.random.default_rng(derive_seed(config.train.seed, "initial_programs"))
        model = config.model
        return {t: rng.integers(0, model.bank_size, model.depth).tolist() for t in config.tasks}
    return None


def check_runnable(config: ExperimentConfig, model_dir: str | None = None) -> None:
    """Everything about ``config`` that can fail before training, checked before
    anything is written: the tasks are registered, the programs run on the
    bank, every task's data is readable (loaded, and kept for the run) and
    holds a batch, one step's activations fit in the machine's memory, and a
    run to resume in ``model_dir`` has a readable checkpoint.

    Raises:
      UserError: naming the task, program, file or directory at fault.
    """
    if config.data_dir and not os.path.isdir(config.data_dir):
        raise MissingFileError(f"--data_dir {config.data_dir}: no such directory")
    tasks = [get_task(name) for name in config.tasks]
    programs = initial_programs(config) or {}
    unknown = sorted(set(programs) - set(config.tasks))
    if unknown:
        raise UnknownNameError(
            f"programs given for {unknown}, which are not tasks of this run ({config.tasks})"
        )
    for task, program in programs.items():
        validate_program(task, program, config.model.bank_size, config.model.depth)
    for task in tasks:
        split, _ = load_task_data(task, config.data_dir, config.tfds_dir)
        train = hold_out(split, config.train, searches(config.train)).train
        if config.train.batch_size > len(train):
            held = len(split) - len(train)
            raise InvalidInputError(
                f"task {task.name!r}: batch_size {config.train.batch_size} is larger than its "
                f"{len(train)} training examples"
                + (f" ({len(split)} less {held} held out)" if held else "")
            )
    check_fits(config)
    if model_dir and os.path.isdir(os.path.join(model_dir, "checkpoints")):
        restore_model(config, model_dir, verbose=False)


def programs_report(model) -> dict:
    """The programs.json content: program, selection, mixture and parameters per task."""
    parameters = model.parameter_report()
    return {
        "bank_size": model.bank_size,
        "depth": model.depth,
        "programs": {
            task: {
                "program": model.program(task),
                "text": format_program(model.program(task)),
                "selection": model.selection(task),
                "mixture": np.round(model.path(task).current_mixture(), 4).tolist(),
                "parameters": {k: v for k, v in parameters[task].items() if k.endswith("params")},
            }
            for task in model.task_names
        },
    }


def start_learning(model, config) -> None:
    """Makes every task's program learnable as ``train.program_learning`` says:
    logits ``train.initial_logit`` on its current program's blocks (0
    elsewhere), plus ``train.mixture_init_stddev`` noise; ``uniform``: sampled
    from zero logits (which :func:`learned_variables` leaves untrained);
    ``search``: nothing (programs stay hard; :mod:`compose.search.rounds`)."""
    if config.train.program_learning == "search":
        return
    if config.train.program_learning == "uniform":
        for task in model.task_names:
            model.learn_program(task, "sampled", np.zeros((model.depth, model.bank_size)))
        return
    rng = np.random.default_rng(derive_seed(config.train.seed, "initial_logits"))
    for task in model.task_names:
        near = logits_near(
            model.program(task), model.depth, model.bank_size, config.train.initial_logit
        )
        noise = rng.normal(0.0, config.train.mixture_init_stddev, near.shape)
        model.learn_program(task, config.train.program_learning, near + noise)


def learned_variables(model, program_learning: str) -> list:
    """What joint training updates: everything, except the mixture logits
    under ``uniform`` program learning (the draws must stay uniform)."""
    variables = trained_variables(model, model.task_names)
    if program_learning != "uniform":
        return variables
    logits = {id(model.path(task).mixture_logits) for task in model.task_names}
    return [v for v in variables if id(v) not in logits]


def discretise_learned(
    model,
    train_images,
    diagnostic_splits,
    batch_size,
    search=None,
    search_splits=None,
) -> dict:
    """Makes every learned program hard; returns, per task, the accuracy on
    ``diagnostic_splits`` just before and just after, and the mixture it was
    discretised from.

    A sampled program's moving statistics average the blocks it drew while
    learning, so each learned task's statistics are first re-estimated on its
    ``train_images`` for the program its inference runs (its most likely
    blocks; :func:`compose.core.statistics.refresh_statistics`).  Each layer
    then keeps its most likely block (for ``sampled`` programs, exactly what
    inference already ran); with ``search`` (keyword arguments of
    :func:`compose.search.search_program`) a search started there, scored on
    the task's ``search_splits``, then picks the program, whose statistics
    are re-estimated in turn (``search["from_initial"]``: started from the
    program the task had before learning, for logits that never moved).
    """
    learned = [task for task in model.task_names if model.selection(task) != "hard"]
    if not learned:
        return {}
    for task in learned:
        refresh_statistics(model, task, train_images[task])
    splits = {task: diagnostic_splits[task] for task in learned}
    before = evaluate(model, splits, batch_size)
    report = {
        task: {
            "selection": model.selection(task),
            "learned_mixture": np.round(
                _softmax(np.asarray(model.path(task).mixture_logits)), 4
            ).tolist(),
            "argmax_program": model.discretise(task),
        }
        for task in learned
    }
    if search:
        from compose.search import search_program

        options = {key: value for key, value in search.items() if key != "from_initial"}
        for task in learned:
            if search.get("from_initial"):
                options["start"] = unpad_program(np.asarray(model.path(task).program))
            best, log = search_program(model, task, search_splits[task], **options)
            model.set_program(task, list(best.program))
            refresh_statistics(model, task, train_images[task])
            report[task]["search"] = {
                "strategy": search["strategy"],
                "evaluations": len(log),
                "start_accuracy": log[0].accuracy,
                "best_accuracy": best.accuracy,
            }
    after = evaluate(model, splits, batch_size)
    for task in learned:
        report[task].update(
            program=model.program(task),
            diagnostic_examples=len(splits[task]),
            accuracy_before_discretisation=before[task]["accuracy"],
            accuracy_after=after[task]["accuracy"],
            discretisation_gap=before[task]["accuracy"] - after[task]["accuracy"],
        )
    return report


def record_standing(model, report, splits, candidates) -> None:
    """Adds to ``report[task]`` where each task's program stands, now, among
    ``candidates`` random programs and its single-position changes, scored on
    ``splits[task]`` (:func:`compose.search.standing.program_standing`)."""
    from compose.search.standing import program_standing

    for task in report:
        seed = derive_seed(0, "standing", task)
        report[task]["standing"] = program_standing(model, task, splits[task], candidates, seed)


def _softmax(logits):
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def learns_programs(train_config) -> bool:
    """Whether the run has a program-learning phase."""
    return train_config.program_learning != "none" and train_config.learning_fraction > 0


def searches(train_config) -> bool:
    """Whether the run holds search examples out: to score its program
    searches, or the kept programs' standing when no validation examples are
    held out (they score it otherwise, unbiased by the search)."""
    return learns_programs(train_config) and (
        train_config.program_search != "argmax"
        or (train_config.standing_candidates > 0 and not train_config.validation_examples)
    )


def search_rounds(config, model, search_splits, train_images, model_dir, start) -> SearchRounds:
    """The :class:`compose.search.rounds.SearchRounds` of ``config``, with the
    records of rounds before ``start`` read back from ``model_dir`` (a resumed
    run; later ones run again from the checkpoint)."""
    train_config = config.train
    learning_steps = int(round(train_config.learning_fraction * train_config.steps))
    path = model_dir and os.path.join(model_dir, "search_rounds.json")
    log = read_json(path, "search rounds record") if path and tf.io.gfile.exists(path) else None
    rounds = SearchRounds(
        model,
        search_splits,
        train_images,
        strategy=train_config.program_search,
        budget=train_config.search_budget,
        seed=derive_seed(train_config.seed, "program_search"),
        steps=round_steps(learning_steps, train_config.search_rounds, train_config.steps_per_loop),
        log=log,
        record_path=path,
    )
    rounds.forget_from(start)
    return rounds


def search_options(config: ExperimentConfig) -> dict | None:
    """``discretise_learned``'s search arguments from ``config`` (None: argmax)."""
    if config.train.program_search == "argmax":
        return None
    return {
        "strategy": config.train.program_search,
        "budget": config.train.search_budget,
        "seed": derive_seed(config.train.seed, "program_search"),
        "from_initial": config.train.program_learning == "uniform",
    }


class Splits(NamedTuple):
    """Every task's data after :func:`hold_out` (``{task: Split}`` each)."""

    train: dict
    """What trains during the learning phase."""
    test: dict
    validation: dict
    """Scored after training (tasks with ``train.validation_examples``)."""
    search: dict
    """Score the learning phase's program searches."""
    rejoined: dict
    """What trains once programs are fixed: ``train`` with ``search`` put back."""


def load_splits(config: ExperimentConfig) -> Splits:
    """Stage 1: every task's data, with examples held out of its training split."""
    splits = Splits({}, {}, {}, {}, {})
    for name in config.tasks:
        train, test = load_task_data(get_task(name), config.data_dir, config.tfds_dir)
        held = hold_out(train, config.train, searches(config.train))
        splits.train[name], splits.test[name] = held.train, test
        splits.rejoined[name] = rejoin(held.train, held.search)
        if held.validation is not None:
            splits.validation[name] = held.validation
        if held.search is not None:
            splits.search[name] = held.search
    return splits


def build_trainer(config: ExperimentConfig, splits: Splits, model_dir, verbose=True):
    """Stage 2: ``(strategy, trainer)``: the model, its optimizer and the
    joint trainer under ``config.strategy``, checkpointing into ``model_dir``
    (:func:`run_experiment` restores it)."""
    train_config = config.train
    strategy = get_strategy(config.strategy, config.tpu)
    with strategy.scope():
        model = build_model(config, initial_programs(config))
        optimizer = build_optimizer(
            train_config.optimizer,
            train_config.learning_rate,
            model.trainable_variables,
            train_config.lr_schedule,
            train_config.steps,
        )
    objectives = [Supervised(name) for name in model.task_names]
    if learns_programs(train_config) and train_config.mixture_entropy_weight:
        objectives.append(mixture_entropy(model.task_names, train_config.mixture_entropy_weight))
    trainer = Trainer(
        model,
        optimizer,
        strategy,
        splits.train,
        objectives,
        batch_size=train_config.batch_size,
        seed=train_config.seed,
        model_dir=model_dir,
        steps_per_loop=train_config.steps_per_loop,
        checkpoint_every=train_config.checkpoint_every,
        jit_compile=train_config.jit_compile,
        variables=learned_variables(model, train_config.program_learning),
        task_batch_sizes=task_batch_sizes(
            {name: len(train) for name, train in splits.train.items()},
            train_config.batch_size,
            train_config.task_sampling,
            train_config.sampling_temperature,
            strategy.num_replicas_in_sync,
            train_config.min_task_batch,
        ),
    )
    if verbose and train_config.task_sampling != "equal":
        shares = ", ".join(f"{task} {size}" for task, size in trainer.task_batch_sizes.items())
        print(f"examples per step ({train_config.task_sampling} sampling): {shares}")
    return strategy, trainer


def learn_programs(config: ExperimentConfig, trainer, splits: Splits, start, model_dir, verbose):
    """Stage 3: the learning phase (``train.learning_fraction`` of the steps)
    and the fixing of the programs; returns the discretisation record
    (``{}`` when programs are not learned), read back when a resumed run had
    fixed them already."""
    train_config, model = config.train, trainer.model
    learning = learns_programs(train_config)
    learning_steps = int(round(train_config.learning_fraction * train_config.steps))
    if not learning:
        learning_steps = 0
    elif start == 0:
        start_learning(model, config)
    train_images = {name: train.images for name, train in splits.train.items()}
    if learning and train_config.program_learning == "search":
        rounds = search_rounds(config, model, splits.search, train_images, model_dir, start)
        before_loop = rounds
    else:
        rounds = None
        before_loop = annealer(
            model, model.task_names, train_config.final_temperature, learning_steps
        )
    trainer.train(learning_steps, verbose=verbose, before_loop=before_loop)
    discretisation = {}
    fixing = learning and int(trainer.step.numpy()) == learning_steps
    served_mixed = train_config.program_learning == "mixed" and learning_steps >= train_config.steps
    if fixing and rounds is not None:
        rounds.run(learning_steps)
        discretisation = {task: {"rounds": records} for task, records in rounds.log.items()}
        for task, entry in discretisation.items():
            entry["program"] = model.program(task)
    elif fixing and not served_mixed:
        diagnostic = {
            name: test.head(train_config.diagnostic_examples) for name, test in splits.test.items()
        }
        discretisation = discretise_learned(
            model,
            train_images,
            diagnostic,
            train_config.eval_batch_size,
            search_options(config),
            splits.search,
        )
    if discretisation and train_config.standing_candidates:
        record_standing(
            model,
            discretisation,
            splits.validation or splits.search,
            train_config.standing_candidates,
        )
    discretisation_path = model_dir and os.path.join(model_dir, "discretisation.json")
    if discretisation and model_dir:
        write_json(discretisation_path, discretisation)
    elif model_dir and tf.io.gfile.exists(discretisation_path):
        # fixed before an interruption
        discretisation = read_json(discretisation_path, "discretisation record")
    return discretisation


def score(config: ExperimentConfig, model, splits: Splits, step, discretisation):
    """Stage 5: ``(metrics, test results)``.  Only functions of the final
    weights, so a resumed run reports what an uninterrupted one does
    (training curves are in TensorBoard, timing in ``run_log.jsonl``)."""
    eval_batch_size = config.train.eval_batch_size
    test = evaluate(model, splits.test, eval_batch_size)
    validation = splits.validation
    scored_validation = evaluate(model, validation, eval_batch_size) if validation else {}
    metrics = {"step": step, "tasks": {}}
    for name in model.task_names:
        entry = {
            "test_accuracy": test[name]["accuracy"],
            "test_loss": test[name]["loss"],
            "test_examples": len(splits.test[name]),
            "train_examples": len(splits.rejoined[name]),
        }
        if name in scored_validation:
            entry["validation_accuracy"] = scored_validation[name]["accuracy"]
            entry["validation_examples"] = len(validation[name])
        for key in ("accuracy_before_discretisation", "accuracy_after", "discretisation_gap"):
            if key in discretisation.get(name, {}):
                entry[key] = discretisation[name][key]
        metrics["tasks"][name] = entry
    if discretisation:
        metrics["discretisation"] = discretisation
    metrics["mean_test_accuracy"] = float(np.mean([test[n]["accuracy"] for n in model.task_names]))
    if scored_validation:
        metrics["mean_validation_accuracy"] = float(
            np.mean([scored_validation[n]["accuracy"] for n in model.task_names])
        )
    return metrics, test


def write_artefacts(model_dir, run, metrics, programs, test, discretisation) -> None:
    """Stage 6: the run log line, ``programs.json``, ``metrics.json``, the
    test scalars for TensorBoard and ``programs.png``."""
    append_run_log(model_dir, run)
    write_json(os.path.join(model_dir, "programs.json"), programs)
    write_json(os.path.join(model_dir, "metrics.json"), metrics)
    with tf.summary.create_file_writer(os.path.join(model_dir, "eval")).as_default(
        step=metrics["step"]
    ):
        for name, values in test.items():
            for kind, value in values.items():
                tf.summary.scalar(f"{kind}/{name}", value)
    write_program_plots(model_dir, programs, discretisation, metrics["step"])


def run_experiment(config: ExperimentConfig, model_dir: str | None, verbose: bool = True) -> dict:
    """Trains ``config``; returns ``{"metrics", "programs", "model", "wall_s"}``.

    Resumes from the newest checkpoint in ``model_dir``.  Leaves there
    ``checkpoints/``, ``train/`` (TensorBoard), ``programs.json``,
    ``metrics.json`` and a line of ``run_log.jsonl``.  Every random stream
    derives from ``config.train.seed``, so two calls give the same weights.
    """
    validate(config)
    started = time.time()
    if config.train.deterministic:
        tf.config.experimental.enable_op_determinism()
    splits = load_splits(config)
    strategy, trainer = build_trainer(config, splits, model_dir, verbose)
    model = trainer.model
    start = trainer.restore()
    if verbose and start:
        print(f"resumed from step {start} in {model_dir}")
    discretisation = learn_programs(config, trainer, splits, start, model_dir, verbose)
    # Stage 4: the fixed programs train on, the search examples with them.
    trainer.use_inputs(splits.rejoined)
    trainer.train(config.train.steps, verbose=verbose)
    metrics, test = score(config, model, splits, int(trainer.step.numpy()), discretisation)
    programs = programs_report(model)
    wall_s = round(time.time() - started, 1)
    if model_dir:
        run = {
            "seed": config.train.seed,
            "strategy": config.strategy,
            "replicas": strategy.num_replicas_in_sync,
            "deterministic": config.train.deterministic,
            "start_step": start,
            "end_step": metrics["step"],
            "wall_s": wall_s,
        }
        write_artefacts(model_dir, run, metrics, programs, test, discretisation)
    return {"metrics": metrics, "programs": programs, "model": model, "wall_s": wall_s}


def format_table(metrics: dict, programs: dict) -> str:
    """The per-task test-accuracy table printed at the end of a run (with a
    ``val acc`` column when examples were held out of training)."""
    rows = [("task", "test acc", "val acc", "program", "shared", "own")]
    for task, entry in metrics["tasks"].items():
        program = programs["programs"][task]
        rows.append(
            (
                task,
                f"{entry['test_accuracy']:.4f}",
                f"{entry.get('validation_accuracy', 0.0):.4f}",
                program["text"],
                str(program["parameters"]["shared_params"]),
                str(program["parameters"]["own_params"]),
            )
        )
    rows.append(
        (
            "mean",
            f"{metrics['mean_test_accuracy']:.4f}",
            f"{metrics.get('mean_validation_accuracy', 0.0):.4f}",
            "",
            "",
            "",
        )
    )
    if "mean_validation_accuracy" not in metrics:
        rows = [row[:2] + row[3:] for row in rows]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows
    )
