"""Transfer to a new task over a frozen bank.

The new task is added to a trained model (:func:`compose.continual.add_task`)
starting from a *source* task: its program, its stem (when the image
channels match) and its normalisation are copied; the head starts fresh.
The stem, the task's input adapter, trains in every mode (during
development a frozen Fashion-MNIST stem held MNIST at 0.37 where training it
gave 0.65).  What
else trains depends on the mode; the bank's blocks and every other task stay
bit-identical in all of them.

``head``
  the head (and stem).
``program``
  the program and the head: the paper's "adjust the order of computation".
  The program is relaxed (softmax mixtures over the bank, temperature
  annealed) for ``search_fraction`` of the steps, then discretised by argmax;
  the head trains on through the hard program.
``program_norm``
  as ``program``, plus the task's normalisation scale and offset.
``gated``
  TAPS gated specialisation (:mod:`compose.gates`) of the source program's
  blocks, with the normalisation and the head.  The gate scores train for
  ``search_fraction`` of the steps; the rest trains with the gates fixed, so
  no gate flips under a head that has not seen it flip.
``full``
  full fine-tuning: the source program's blocks are cloned into the bank as
  the task's own and everything the task runs trains.

>>> grown, report = transfer_task(model, spec, train, source_task="fashion_mnist",
...                               options=TransferOptions(mode="program"))
"""

import dataclasses
import time

import numpy as np
import tensorflow as tf

from compose.continual import add_task, copy_task_weights
from compose.relaxation import annealer, relax_near
from compose.training import JointTrainer, build_optimizer

MODES = ("head", "program", "program_norm", "gated", "full")
PROGRAM_MODES = ("program", "program_norm")
SEARCH_MODES = (*PROGRAM_MODES, "gated")
"""Modes that first choose something discrete (a program, open gates)."""


@dataclasses.dataclass(frozen=True)
class TransferOptions:
    """How a new task is learned over a frozen bank."""

    mode: str = "program"
    steps: int = 600
    batch_size: int = 32
    learning_rate: float = 1e-2
    search_fraction: float = 0.5
    """Program and gated modes: the share of steps that learns the relaxed
    program or the gate scores; the rest trains with them fixed."""
    final_temperature: float = 0.05
    """Program modes: mixture temperature at discretisation (from 1.0)."""
    source_logit: float = 2.0
    """Program modes: initial mixture logit of the source program's block at
    each layer, the others 0 (:func:`compose.relaxation.relax_near`); 2.0
    gives it weight 0.71 of 4 blocks.  From uniform logits (0.0) MNIST from
    Fashion-MNIST reached 0.714 against 0.764 (docs/transfer_and_adaptation.md)."""
    gate_sparsity: float = 0.3
    """Gated mode: lambda of the L1 penalty on the gate scores.  With Adam the
    scores move by about the learning rate per step whatever lambda is, so
    lambda sets which gates' loss gradient outweighs the penalty: on
    MNIST from Fashion-MNIST 0.01 kept three gates open, 0.3 one, 0.5 none."""
    seed: int = 0

    def __post_init__(self):
        checks = [
            (self.mode in MODES, f"mode must be one of {', '.join(MODES)}, got {self.mode!r}"),
            (self.steps >= 1, f"steps must be >= 1, got {self.steps}"),
            (self.batch_size >= 1, f"batch_size must be >= 1, got {self.batch_size}"),
            (self.learning_rate > 0, f"learning_rate must be > 0, got {self.learning_rate}"),
            (0 < self.search_fraction < 1, "search_fraction must be in (0, 1)"),
            (self.final_temperature > 0, "final_temperature must be > 0"),
            (self.gate_sparsity >= 0, "gate_sparsity must be >= 0"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(f"transfer: {message}")


def transfer_task(
    model, spec, train, source_task, options=TransferOptions(), strategy=None, verbose=True
):
    """Learns the new task ``spec`` on ``train`` over ``model``'s frozen bank.

    Args:
      model: a trained :class:`compose.ComposedModel` with hard programs; not
        modified.
      spec: the new task's :class:`compose.TaskSpec`.
      train: its training :class:`tasks.Split`.
      source_task: the task of ``model`` to start from.
      options: :class:`TransferOptions`.
      strategy: a ``tf.distribute`` strategy (default: the current one).
      verbose: a progress bar per phase.

    Returns:
      ``(grown model, report)``; the report gives the program, the values
      the task added to the system (``new_params``) and the wall time.

    Raises:
      LookupError: ``source_task`` is not a task of ``model``.
      ValueError: as :func:`compose.continual.add_task`.
    """
    started = time.time()
    strategy = strategy or tf.distribute.get_strategy()
    source = model.path(source_task)
    source_program = model.program(source_task)
    clones, program = [], source_program
    if options.mode == "full":
        clones = list(dict.fromkeys(source_program))
        program = [model.bank_size + clones.index(block) for block in source_program]
    with strategy.scope():
        grown = add_task(
            model, spec, program, clones, gated=options.mode == "gated", seed=options.seed
        )
    path = grown.path(spec.name)
    copy_stem = source.spec.image_shape[-1] == spec.image_shape[-1]
    copy_task_weights(source, path, ("stem", "norm") if copy_stem else ("norm",))

    variables = _trained_variables(grown, spec.name, options.mode)
    report = {
        "mode": options.mode,
        "source_task": source_task,
        "stem": "from the source" if copy_stem else "new (the source's image channels differ)",
    }

    def train_phase(variables, start_step, until_step, **kwargs):
        with strategy.scope():
            optimizer = build_optimizer("adam", options.learning_rate, variables)
        trainer = JointTrainer(
            grown,
            optimizer,
            strategy,
            {spec.name: train},
            batch_size=options.batch_size,
            seed=options.seed,
            train_tasks=[spec.name],
            frozen_blocks=range(model.bank_size) if options.mode == "full" else (),
            variables=variables,
            regularization=kwargs.pop("regularization", None),
        )
        trainer.step.assign(start_step)  # the data stream continues across phases
        trainer.train(until_step, verbose=verbose, **kwargs)

    search_steps = 0
    if options.mode in SEARCH_MODES:
        search_steps = int(round(options.search_fraction * options.steps))
    if options.mode in PROGRAM_MODES:
        relax_near(grown, spec.name, source_program, options.source_logit)
        anneal = annealer(grown, [spec.name], options.final_temperature, search_steps)
        train_phase(variables, 0, search_steps, before_loop=anneal)
        report["relaxed_mixture"] = np.round(path.current_mixture(), 4).tolist()
        grown.discretise(spec.name)
    elif options.mode == "gated":
        penalty = lambda: options.gate_sparsity * path.gates.sparsity()  # noqa: E731
        train_phase(variables, 0, search_steps, regularization=penalty)
    # The program or gates are now fixed: the rest trains through them.
    searched = [path.mixture_logits] + ([path.gates.scores] if path.gates else [])
    kept = [v for v in variables if all(v is not s for s in searched)]
    train_phase(kept, search_steps, options.steps)
    report.update(
        program=grown.program(spec.name),
        new_params=new_parameter_count(grown, spec.name, variables, clones),
        steps=options.steps,
        wall_s=round(time.time() - started, 1),
    )
    if options.mode == "gated":
        report["open_gates"] = path.gates.open_blocks(program)
    return grown, report


def _trained_variables(model, task, mode):
    """The variables ``mode`` trains, the bank's kernels first (full mode)."""
    path = model.path(task)
    variables = list(model.bank.kernels) if mode == "full" else []
    variables += path.stem.trainable_variables
    if mode in ("program_norm", "gated", "full"):
        variables += path.norm.trainable_variables
    if mode in PROGRAM_MODES:
        variables.append(path.mixture_logits)
    if mode == "gated":
        variables += path.gates.trainable_variables
    return variables + path.head.trainable_variables


def new_parameter_count(model, task, variables, clones) -> int:
    """Values the new task added that no other task had: the ``variables`` it
    trained, counting of the bank only the cloned blocks, of the gates only
    the scores and the open deltas of blocks it runs, and no mixture logits
    (discarded at discretisation)."""
    path = model.path(task)
    skipped = {id(v) for v in model.bank.kernels} | {id(path.mixture_logits)}
    count = len(clones) * model.bank.block_size
    if path.gates is not None:
        skipped |= {id(v) for v in path.gates.variables}
        count += path.gates.parameter_count(model.program(task))
    return count + sum(int(np.prod(v.shape)) for v in variables if id(v) not in skipped)
