"""Transfer to a new task over a frozen bank.

The new task is added to a trained model (:func:`compose.grow.continual.add_task`)
starting from a *source* task: its program, its stem (when the image
channels match) and its normalisation are copied; the head starts fresh
(the program modes may end on another task's stem and program, below).
The stem, the task's input adapter, trains in every mode (during
development a frozen Fashion-MNIST stem held MNIST at 0.37 where training it
gave 0.65).  The bank's blocks and every other task stay bit-identical in
all modes.  Every mode trains on the same examples: ``search_examples`` are
held out of the training split first, and only the program modes read them
(to choose the program).  In every mode the task's statistics are then
re-estimated on its training images (the new domain's), so modes differ only
in what they choose and train.  The head's classifier starts at the ridge
solution on the training features (``closed_form_head``), so a short run
starts where the closed-form score judged the program.

``head``
  the source's program; the head (and stem) train.
``program``
  a new program chosen by discrete search on the closed-form score
  (:class:`compose.search.ClosedFormScorer`, a ridge probe per candidate on
  the held-out examples, no head needed): starting from every task's program
  and ``random_starts`` random ones, then ``strategy`` search within
  ``search_budget`` candidates.  Then a race: that program through the
  source's stem, and every task's own program through its own stem (when
  the image channels match), each train ``race_fraction`` of the steps; the
  one most accurate on the held-out examples trains on to ``steps`` (the
  others' steps are extra work).  A stem trained with its program is worth
  more than the probe, which judges frozen features, can see.
``program_norm``
  as ``program``, plus the task's normalisation scale and offset (of every
  bank layer under ``task_layer`` placement; under ``block`` placement the
  bank's blocks own those, and only the stem's and head's train).
``gated``
  TAPS gated specialisation (:mod:`compose.core.gates`) of the source
  program's blocks, with the normalisation and the head.  The gate scores
  train for ``gate_fraction`` of the steps; the rest trains with the gates
  fixed, so no gate flips under a head that has not seen it flip.
``full``
  full fine-tuning: the source program's blocks are cloned into the bank as
  the task's own and everything the task runs trains.

>>> grown, report = transfer_task(model, spec, train, source_task="fashion_mnist",
...                               options=TransferOptions(mode="program"))
"""

import time

import numpy as np
import tensorflow as tf

from compose.config import TransferOptions
from compose.core.statistics import refresh_statistics
from compose.grow.continual import add_task
from compose.grow.evolve import stem_copies
from compose.search import ClosedFormScorer, fit_classifier, search_from_starts
from compose.training.evaluate import evaluate
from compose.training.objectives import Supervised, gate_sparsity
from compose.training.trainer import Trainer, build_optimizer

MODES = ("head", "program", "program_norm", "gated", "full")
PROGRAM_MODES = ("program", "program_norm")


def transfer_task(model, spec, train, source_task, options=None, strategy=None, verbose=True):
    """Learns the new task ``spec`` on ``train`` over ``model``'s frozen bank.

    Args:
      model: a trained :class:`compose.ComposedModel` with hard programs; not
        modified.
      spec: the new task's :class:`compose.TaskSpec`.
      train: its training :class:`tasks.Split`.
      source_task: the task of ``model`` to start from.
      options: :class:`TransferOptions`.
      strategy: a ``tf.distribute`` strategy (default: the current one).
      verbose: progress output.

    Returns:
      ``(grown model, report)``; the report gives the program (and, in the
      program modes, the source's, whether it changed, the candidates scored,
      the search's seconds and the race), the values the task added to the
      system (``new_params``) and the wall time.

    Raises:
      LookupError: ``source_task`` is not a task of ``model``.
      ValueError: as :func:`compose.grow.continual.add_task`.
    """
    options = options or TransferOptions()
    started = time.time()
    strategy = strategy or tf.distribute.get_strategy()
    source_program = model.program(source_task)  # LookupError naming the model's tasks
    held_out_count = min(options.search_examples, len(train) // 5)
    train, held_out = train.split_off(held_out_count)
    report = {"mode": options.mode, "source_task": source_task}
    stem_task, program = source_task, source_program
    if options.mode in PROGRAM_MODES:
        searched = _added(model, spec, source_task, source_program, options, strategy)
        report.update(choose_program(searched, spec.name, train, held_out, model, options, verbose))
        program = searched.program(spec.name)
    finalists = [(stem_task, program)]
    race_steps = int(round(options.race_fraction * options.steps))
    if options.mode in PROGRAM_MODES and race_steps:
        finalists += [(task, model.program(task)) for task in model.task_names]
        finalists = list({(t, tuple(p)): (t, p) for t, p in finalists}.values())
    if len(finalists) == 1:
        run = _ready(model, spec, train, stem_task, program, options, strategy)
    else:
        run, stem_task, race = _race(
            model, spec, train, held_out, finalists, race_steps, options, strategy, verbose
        )
        report.update(race=race, race_steps=race_steps)
    grown, trainer, variables, closed_form = run
    path = grown.path(spec.name)
    stem_from = "the source" if stem_task == source_task else stem_task
    report["stem"] = (
        f"from {stem_from}"
        if stem_copies(model, stem_task, spec)
        else f"new ({stem_from}'s image channels differ)"
    )
    if options.closed_form_head:
        report["closed_form_head_accuracy"] = closed_form
    if options.mode == "gated":
        gate_steps = int(round(options.gate_fraction * options.steps))
        trainer.train(gate_steps, verbose=verbose)
        scores = {id(path.gates.scores)}
        kept = [v for v in variables if id(v) not in scores]
        trainer.train(options.steps, verbose=verbose, variables=kept)
        report["open_gates"] = path.gates.open_blocks(grown.program(spec.name))
    else:
        trainer.train(options.steps, verbose=verbose)
    final_program = grown.program(spec.name)
    report.update(
        program=final_program,
        # full mode runs clones of the source's blocks: the same program, its own copies
        program_changed=options.mode in PROGRAM_MODES and final_program != source_program,
        new_params=new_parameter_count(
            grown, spec.name, variables, _clones(source_program, options)
        ),
        steps=options.steps,
        train_examples=len(train),
        wall_s=round(time.time() - started, 1),
    )
    return grown, report


def _race(model, spec, train, held_out, finalists, steps, options, strategy, verbose):
    """Trains each ``(stem task, program)`` finalist ``steps`` steps (see
    :func:`_ready`); returns ``(the run most accurate on held_out, its stem
    task, every finalist's accuracy)``, holding one losing run at a time."""
    best, race = None, []
    for task, program in finalists:
        run = _ready(model, spec, train, task, program, options, strategy)
        grown, trainer, _, _ = run
        trainer.train(steps, verbose=False)
        accuracy = evaluate(grown, {spec.name: held_out})[spec.name]["accuracy"]
        race.append({"stem_from": task, "program": list(program), "accuracy": accuracy})
        if verbose:
            print(f"  race: {task}'s stem, program {list(program)}: {accuracy:.4f}", flush=True)
        if best is None or accuracy > best[0]:
            best = (accuracy, run, task)
    return best[1], best[2], race


def _clones(program, options):
    """Full mode's parents of the clones: the program's distinct blocks."""
    return list(dict.fromkeys(program)) if options.mode == "full" else []


def _added(model, spec, stem_task, program, options, strategy):
    """``model`` plus ``spec`` running ``program`` (full mode: clones of its
    blocks), its stem (when the image channels match) and normalisation
    copied from ``stem_task``."""
    clones = _clones(program, options)
    if clones:
        program = [model.bank_size + clones.index(block) for block in program]
    with strategy.scope():
        grown = add_task(
            model, spec, program, clones, gated=options.mode == "gated", seed=options.seed
        )
    parts = ("stem", "norm") if stem_copies(model, stem_task, spec) else ("norm",)
    grown.path(spec.name).copy_from(model.path(stem_task), parts)
    return grown


def _ready(model, spec, train, stem_task, program, options, strategy):
    """``(grown, trainer, trained variables, closed-form classifier's accuracy
    on its fit images or None)``: :func:`_added` with the task's statistics
    re-estimated on ``train`` and its classifier fitted in closed form
    (``options.closed_form_head``)."""
    grown = _added(model, spec, stem_task, program, options, strategy)
    refresh_statistics(grown, spec.name, train.images, seed=options.seed)
    closed_form = None
    if options.closed_form_head:
        closed_form = fit_classifier(grown, spec.name, train.head(options.fit_examples))
    variables = _trained_variables(grown, spec.name, options.mode)
    with strategy.scope():
        optimizer = build_optimizer("adam", options.learning_rate, variables)
    objectives = [Supervised(spec.name)]
    if options.mode == "gated":
        objectives.append(gate_sparsity(spec.name, options.gate_sparsity))
    trainer = Trainer(
        grown,
        optimizer,
        strategy,
        {spec.name: train},
        objectives,
        batch_size=options.batch_size,
        seed=options.seed,
        variables=variables,
        frozen_blocks=range(model.bank_size) if options.mode == "full" else (),
    )
    return grown, trainer, variables, closed_form


def choose_program(grown, task, train, held_out, model, options, verbose=True) -> dict:
    """Sets ``task``'s program in ``grown`` to the best closed-form candidate
    (see the module docstring); returns what the search did."""
    started = time.time()
    source_program = grown.program(task)
    scorer = ClosedFormScorer(grown, task, train.head(options.fit_examples), held_out)
    best, log = search_from_starts(grown, task, scorer, options, "transfer")
    grown.set_program(task, list(best.program))
    source_score = next(c.accuracy for c in log if list(c.program) == source_program)
    if verbose:
        print(
            f"  program {list(best.program)} (closed-form {best.accuracy:.4f}; source's "
            f"{source_program}: {source_score:.4f}), {len(log)} candidates in "
            f"{time.time() - started:.1f}s",
            flush=True,
        )
    return {
        "source_program": source_program,
        "program_changed": list(best.program) != source_program,
        "closed_form_accuracy": best.accuracy,
        "source_closed_form_accuracy": source_score,
        "candidates_scored": len(log),
        "search_s": round(time.time() - started, 1),
    }


def _trained_variables(model, task, mode):
    """The variables ``mode`` trains, the bank's weights first (full mode)."""
    path = model.path(task)
    variables = list(model.bank.trainable_variables) if mode == "full" else []
    variables += path.stem.trainable_variables
    norm = path.norm
    sites = norm.scaled if mode in ("program_norm", "gated", "full") else ["stem", "head"]
    variables += [norm.gamma[site] for site in sites] + [norm.beta[site] for site in sites]
    if mode == "gated":
        variables += path.gates.trainable_variables
    return variables + path.head.trainable_variables


def new_parameter_count(model, task, variables, clones) -> int:
    """Values the new task added that no other task had: the ``variables`` it
    trained, counting of the bank only the cloned blocks, and of the gates
    only the scores and the open deltas of blocks it runs."""
    path = model.path(task)
    skipped = {id(v) for v in model.bank.trainable_variables}
    count = len(clones) * model.bank.block_size
    if path.gates is not None:
        skipped |= {id(v) for v in path.gates.variables}
        count += path.gates.parameter_count(model.program(task))
    return count + sum(int(np.prod(v.shape)) for v in variables if id(v) not in skipped)
