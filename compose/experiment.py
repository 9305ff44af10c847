"""One joint-training experiment from a config: data, model, programs, training,
evaluation, and the artefacts left in the model dir."""

import json
import os
import time

import numpy as np
import tensorflow as tf

from compose.config import PROGRAM_MODES, ExperimentConfig
from compose.distribute import get_strategy
from compose.files import write_json
from compose.model import ComposedModel
from compose.plots import write_program_plots
from compose.program import format_program
from compose.relaxation import annealer, mixture_entropy_penalty
from compose.run_log import append_run_log
from compose.training import (
    JointTrainer,
    build_optimizer,
    evaluate,
    model_variables,
    restore_newest_readable,
)
from tasks import get_task, load_task_data


def initial_programs(config: ExperimentConfig) -> dict[str, list[int]] | None:
    """Programs to start from, by ``train.programs`` (None: the model's default)."""
    mode = config.train.programs
    model = config.model
    if mode in ("relaxed", "shared"):
        return None
    if mode == "random":
        rng = np.random.default_rng(config.train.seed)
        return {t: rng.integers(0, model.bank_size, model.depth).tolist() for t in config.tasks}
    text = mode
    if not mode.lstrip().startswith("{"):
        if not tf.io.gfile.exists(mode):
            raise ValueError(
                f"train.programs={mode!r} is neither a mode ({', '.join(PROGRAM_MODES)}), "
                f"a JSON object nor an existing file"
            )
        with tf.io.gfile.GFile(mode) as stream:
            text = stream.read()
    programs = json.loads(text)
    if "programs" in programs:  # a programs.json written by a run
        programs = {task: entry["program"] for task, entry in programs["programs"].items()}
    return programs


def programs_report(model) -> dict:
    """The programs.json content: hard program, mixture and parameters per task."""
    parameters = model.parameter_report()
    return {
        "bank_size": model.bank_size,
        "depth": model.depth,
        "programs": {
            task: {
                "program": model.program(task),
                "text": format_program(model.program(task)),
                "relaxed": model.is_relaxed(task),
                "mixture": np.round(model.path(task).current_mixture(), 4).tolist(),
                "parameters": {k: v for k, v in parameters[task].items() if k.endswith("params")},
            }
            for task in model.task_names
        },
    }


def build_model(config: ExperimentConfig, programs=None) -> ComposedModel:
    """The model ``config`` describes (in the current strategy's scope)."""
    return ComposedModel(
        [get_task(name).spec for name in config.tasks],
        block=config.model.block,
        bank_size=config.model.bank_size,
        depth=config.model.depth,
        channels=config.model.channels,
        resolution=config.model.resolution,
        programs=programs,
        seed=config.train.seed,
    )


def load_trained_model(model_dir: str) -> tuple[ComposedModel, ExperimentConfig]:
    """The model trained in ``model_dir``: its config and newest readable checkpoint.

    Raises:
      FileNotFoundError: when ``model_dir`` holds no config or no checkpoint.
    """
    config_path = os.path.join(model_dir, "config.json")
    if not tf.io.gfile.exists(config_path):
        raise FileNotFoundError(
            f"{config_path} not found: --model_dir must be a directory written by compose.train"
        )
    with tf.io.gfile.GFile(config_path) as stream:
        config = ExperimentConfig.from_dict(json.load(stream))
    model = build_model(config)
    checkpoint = tf.train.Checkpoint(**model_variables(model))
    manager = tf.train.CheckpointManager(checkpoint, os.path.join(model_dir, "checkpoints"), 1)
    if restore_newest_readable(checkpoint, manager.checkpoints) is None:
        raise FileNotFoundError(f"no checkpoint in {model_dir}/checkpoints: train first")
    return model, config


def discretise_relaxed(model, test_splits, batch_size, search=None, validation=None) -> dict:
    """Makes every relaxed task's program hard; returns, per task, its test
    accuracy just before and just after (the cost of discretising).

    Each relaxed layer keeps its argmax block; with ``search`` (keyword
    arguments of :func:`compose.search.search_program`) a search started from
    the argmax program, scored on the task's ``validation`` split, then picks
    the program.
    """
    relaxed = [task for task in model.task_names if model.is_relaxed(task)]
    if not relaxed:
        return {}
    splits = {task: test_splits[task] for task in relaxed}
    before = evaluate(model, splits, batch_size)
    report = {
        task: {"relaxed_mixture": np.round(model.path(task).current_mixture(), 4).tolist()}
        for task in relaxed
    }
    for task in relaxed:
        report[task]["argmax_program"] = model.discretise(task)
    if search:
        from compose.search import search_program

        for task in relaxed:
            best, log = search_program(model, task, validation[task], **search)
            model.set_program(task, list(best.program))
            report[task]["search"] = {
                "strategy": search["strategy"],
                "evaluations": len(log),
                "argmax_validation_accuracy": log[0].accuracy,
                "searched_validation_accuracy": best.accuracy,
            }
    after = evaluate(model, splits, batch_size)
    for task in relaxed:
        report[task].update(
            program=model.program(task),
            relaxed_test_accuracy=before[task]["accuracy"],
            discretised_test_accuracy=after[task]["accuracy"],
        )
    return report


def search_options(config: ExperimentConfig) -> dict | None:
    """``discretise_relaxed``'s search arguments from ``config`` (None: argmax)."""
    if config.train.program_search == "argmax":
        return None
    return {
        "strategy": config.train.program_search,
        "budget": config.train.search_budget,
        "seed": config.train.seed,
    }


def run_experiment(config: ExperimentConfig, model_dir: str | None, verbose: bool = True) -> dict:
    """Trains ``config``; returns ``{"metrics", "programs", "model", "wall_s"}``.

    Resumes from the newest checkpoint in ``model_dir``.  Leaves there
    ``checkpoints/``, ``train/`` (TensorBoard), ``programs.json``,
    ``metrics.json`` and a line of ``run_log.jsonl``.  Every random stream
    derives from ``config.train.seed``, so two calls give the same weights.
    """
    started = time.time()
    if config.train.deterministic:
        tf.config.experimental.enable_op_determinism()
    data = {
        name: load_task_data(get_task(name), config.data_dir, config.tfds_dir)
        for name in config.tasks
    }
    validation = {}
    if config.train.programs == "relaxed" and config.train.program_search != "argmax":
        for name, (train, test) in data.items():
            held_out = min(config.train.search_validation_examples, len(train) // 5)
            train, validation[name] = train.split_off(held_out)
            data[name] = (train, test)
    strategy = get_strategy(config.strategy, config.tpu)
    with strategy.scope():
        model = build_model(config, initial_programs(config))
        optimizer = build_optimizer(
            config.train.optimizer, config.train.learning_rate, model.trainable_variables
        )
    trainer = JointTrainer(
        model,
        optimizer,
        strategy,
        {name: train for name, (train, _) in data.items()},
        batch_size=config.train.batch_size,
        seed=config.train.seed,
        model_dir=model_dir,
        steps_per_loop=config.train.steps_per_loop,
        checkpoint_every=config.train.checkpoint_every,
        jit_compile=config.train.jit_compile,
        regularization=mixture_entropy_penalty(
            model, model.task_names, config.train.mixture_entropy_weight
        ),
    )
    start = trainer.restore()
    if verbose and start:
        print(f"resumed from step {start} in {model_dir}")
    relaxed_steps = 0
    if config.train.programs == "relaxed":
        relaxed_steps = int(round(config.train.relaxed_fraction * config.train.steps))
        if start == 0:
            rng = np.random.default_rng(config.train.seed)
            for task in model.task_names:
                model.set_relaxed(task)
                if config.train.mixture_init_stddev:
                    logits = model.path(task).mixture_logits
                    noise = rng.normal(0.0, config.train.mixture_init_stddev, logits.shape)
                    logits.assign(noise.astype(np.float32))
    test_splits = {name: test for name, (_, test) in data.items()}

    anneal = annealer(
        model, model.task_names, config.train.relaxed_final_temperature, relaxed_steps
    )
    trainer.train(relaxed_steps, verbose=verbose, before_loop=anneal)
    discretisation = discretise_relaxed(
        model, test_splits, config.train.eval_batch_size, search_options(config), validation
    )
    discretisation_path = model_dir and os.path.join(model_dir, "discretisation.json")
    if discretisation and model_dir:
        write_json(discretisation_path, discretisation)
    elif model_dir and tf.io.gfile.exists(discretisation_path):
        with tf.io.gfile.GFile(discretisation_path) as stream:
            discretisation = json.load(stream)  # discretised before an interruption
    trainer.train(config.train.steps, verbose=verbose)
    test = evaluate(model, test_splits, config.train.eval_batch_size)
    # Only functions of the final weights, so a resumed run reports what an
    # uninterrupted one does (training curves are in TensorBoard).
    metrics = {
        "step": int(trainer.step.numpy()),
        "tasks": {
            name: {
                "test_accuracy": test[name]["accuracy"],
                "test_loss": test[name]["loss"],
                "test_examples": len(data[name][1]),
                "train_examples": len(data[name][0]),
            }
            for name in model.task_names
        },
    }
    if discretisation:
        metrics["discretisation"] = discretisation
    metrics["mean_test_accuracy"] = float(np.mean([test[n]["accuracy"] for n in model.task_names]))
    programs = programs_report(model)
    wall_s = round(time.time() - started, 1)
    if model_dir:
        append_run_log(
            model_dir,
            {
                "seed": config.train.seed,
                "strategy": config.strategy,
                "replicas": strategy.num_replicas_in_sync,
                "deterministic": config.train.deterministic,
                "start_step": start,
                "end_step": metrics["step"],
                "wall_s": wall_s,
            },
        )
        write_json(os.path.join(model_dir, "programs.json"), programs)
        write_json(os.path.join(model_dir, "metrics.json"), metrics)
        with tf.summary.create_file_writer(os.path.join(model_dir, "eval")).as_default(
            step=metrics["step"]
        ):
            for name, values in test.items():
                for kind, value in values.items():
                    tf.summary.scalar(f"{kind}/{name}", value)
        write_program_plots(model_dir, programs, discretisation, metrics["step"])
    return {"metrics": metrics, "programs": programs, "model": model, "wall_s": wall_s}


def format_table(metrics: dict, programs: dict) -> str:
    """The per-task test-accuracy table printed at the end of a run."""
    rows = [("task", "test acc", "program", "shared", "own")]
    for task, entry in metrics["tasks"].items():
        program = programs["programs"][task]
        rows.append(
            (
                task,
                f"{entry['test_accuracy']:.4f}",
                program["text"],
                str(program["parameters"]["shared_params"]),
                str(program["parameters"]["own_params"]),
            )
        )
    rows.append(("mean", f"{metrics['mean_test_accuracy']:.4f}", "", "", ""))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows
    )
