"""muNet evolution of a new task over a frozen bank: candidates are trained, not only scored.

A candidate is a :class:`Genome`: the task's program, the clones it owns
(new trainable bank entries initialised from a frozen block) and its learning
rate.  Each candidate is built with :func:`compose.grow.continual.add_task`,
inherits its parent's trained weights (the task's stem, normalisation and
head, and the clones they share), trains alone for a few steps over the
frozen bank, and is scored on a validation split:
``accuracy * s ** (charged / base)`` as in :class:`Objective`, a clone charged
in full, a shared block divided among the tasks using it.

Mutations (muNet): replace an index, insert a layer, remove a layer, clone
the block of a layer into a new entry owned by the task, move the learning
rate to a neighbouring value.  Parents are taken best-first, each accepted
with probability ``0.5 ** children_so_far``.  Earlier tasks are untouched:
the bank's old blocks are frozen in every candidate.
"""

import dataclasses
import itertools
import time

import numpy as np
import tensorflow as tf

from compose.errors import InvalidInputError
from compose.grow.continual import add_task
from compose.search import task_objective
from compose.search.strategies import STALE_ROUNDS, SearchSpace, pick_parent
from compose.training.evaluate import evaluate
from compose.training.objectives import Supervised
from compose.training.trainer import Trainer, build_optimizer, trained_variables

LEARNING_RATES = (5e-4, 1e-3, 2e-3, 5e-3, 1e-2)
"""The learning-rate grid; a mutation moves one step along it."""


@dataclasses.dataclass(frozen=True)
class Genome:
    """One candidate architecture of the new task.

    ``program`` indices below the bank size name frozen shared blocks;
    ``bank_size + i`` names ``clones[i]``, a ``(clone id, parent block)`` pair.
    """

    program: tuple[int, ...]
    clones: tuple[tuple[int, int], ...]
    learning_rate: float


@dataclasses.dataclass(frozen=True)
class Evolved:
    """One trained and scored candidate."""

    genome: Genome
    accuracy: float
    charged_params: float
    score: float
    order: int
    parent: int | None
    mutation: str


@dataclasses.dataclass(frozen=True)
class EvolveOptions:
    budget: int = 16
    """Candidates trained, the root included."""
    steps: int = 100
    """Training steps of every candidate (on top of its parent's)."""
    batch_size: int = 32
    size_penalty: float = 1.0
    max_clones: int = 2
    learning_rate: float = 2e-3
    """The root's learning rate (a value of :data:`LEARNING_RATES`)."""
    seed: int = 0

    def __post_init__(self):
        if self.learning_rate not in LEARNING_RATES:
            raise InvalidInputError(f"evolve: learning_rate must be one of {LEARNING_RATES}")
        if self.budget < 1 or self.steps < 1 or self.max_clones < 0:
            raise InvalidInputError("evolve: budget and steps must be >= 1, max_clones >= 0")


def mutate(genome, bank_size, max_depth, max_clones, rng, next_clone_id):
    """A child of ``genome`` by one random muNet mutation: ``(child, kind)``.

    Replace, insert and remove are :class:`SearchSpace`'s, over the shared
    blocks and the genome's clones; clone and learning-rate moves are added.
    """
    program, clones = list(genome.program), list(genome.clones)
    space = SearchSpace(bank_size + len(clones), max_depth)
    shared_layers = [i for i, block in enumerate(program) if block < bank_size]
    kinds = space.mutation_kinds(program) + ["learning_rate"]
    if len(clones) < max_clones and shared_layers:
        kinds.append("clone")
    kind = kinds[int(rng.integers(len(kinds)))]
    learning_rate = genome.learning_rate
    if kind == "clone":
        position = shared_layers[int(rng.integers(len(shared_layers)))]
        clones.append((next_clone_id, program[position]))
        program[position] = bank_size + len(clones) - 1
    elif kind == "learning_rate":
        index = LEARNING_RATES.index(learning_rate)
        neighbours = [i for i in (index - 1, index + 1) if 0 <= i < len(LEARNING_RATES)]
        learning_rate = LEARNING_RATES[int(rng.choice(neighbours))]
    else:
        program = space.apply(program, kind, rng)
    child = Genome(tuple(program), tuple(clones), learning_rate)
    return _without_unused_clones(child, bank_size), kind


def _without_unused_clones(genome, bank_size):
    """Drops clones no layer runs any more, renumbering the others."""
    used = sorted({b - bank_size for b in genome.program if b >= bank_size})
    renumber = {bank_size + old: bank_size + new for new, old in enumerate(used)}
    return Genome(
        tuple(renumber.get(b, b) for b in genome.program),
        tuple(genome.clones[old] for old in used),
        genome.learning_rate,
    )


def _inheritable(model, task):
    """The task's stem, normalisation and head variables (not its program)."""
    path = model.path(task)
    return path.stem.variables + path.norm.variables + path.head.variables


class _Trained:
    """The weights a candidate leaves to its children."""

    def __init__(self, model, task, genome, bank_size):
        self.own = [np.array(v) for v in _inheritable(model, task)]
        self.clones = {
            clone_id: [np.array(kernel)[bank_size + i] for kernel in model.bank.weights]
            for i, (clone_id, _) in enumerate(genome.clones)
        }

    def give_to(self, model, task, genome, bank_size):
        """Copies these weights into a child: its own, and every clone it kept."""
        for variable, value in zip(_inheritable(model, task), self.own, strict=True):
            variable.assign(value)
        for kernel_index, kernel in enumerate(model.bank.weights):
            values = np.array(kernel)
            for i, (clone_id, _) in enumerate(genome.clones):
                if clone_id in self.clones:
                    values[bank_size + i] = self.clones[clone_id][kernel_index]
            kernel.assign(values)


def evolve_task(model, spec, train, validation, start_program, options=None, verbose=True):
    """Evolves the architecture of the new task ``spec`` over ``model``'s frozen bank.

    Args:
      model: a trained :class:`compose.ComposedModel` with hard programs; not modified.
      spec: the new task's :class:`compose.TaskSpec`.
      train, validation: its :class:`tasks.Split`s (validation scores candidates).
      start_program: the root candidate's program (shared blocks only).
      options: :class:`EvolveOptions`.
      verbose: one line per candidate.

    Returns:
      ``(best candidate's model, best Evolved, log of every Evolved)``.
    """
    options = options or EvolveOptions()
    rng = np.random.default_rng(options.seed)
    bank_size = model.bank_size
    clone_ids = itertools.count()
    log, weights, children = [], [], []
    best = {"candidate": None, "model": None}  # only the best model is kept alive

    def train_and_score(genome, parent, mutation):
        seed = options.seed + len(log)
        grown = add_task(model, spec, genome.program, [p for _, p in genome.clones], seed=seed)
        if parent is not None:
            weights[parent].give_to(grown, spec.name, genome, bank_size)
        variables = trained_variables(grown, [spec.name])
        Trainer(
            grown,
            build_optimizer("adam", genome.learning_rate, variables),
            tf.distribute.get_strategy(),
            {spec.name: train},
            [Supervised(spec.name)],
            batch_size=options.batch_size,
            seed=seed,
            variables=variables,
            frozen_blocks=range(bank_size),
        ).train(options.steps, verbose=False)
        accuracy = evaluate(grown, {spec.name: validation})[spec.name]["accuracy"]
        # The objective only prices programs here; accuracies come from training.
        objective = task_objective(grown, spec.name, None, 1, options.size_penalty)
        candidate = Evolved(
            genome,
            accuracy,
            objective.charged_params(genome.program),
            objective.score(genome.program, accuracy),
            len(log),
            parent,
            mutation,
        )
        log.append(candidate)
        weights.append(_Trained(grown, spec.name, genome, bank_size))
        children.append(0)
        if best["candidate"] is None or candidate.score > best["candidate"].score:
            best.update(candidate=candidate, model=grown)
        if verbose:
            print(
                f"  candidate {candidate.order}: {mutation} -> program {list(genome.program)}, "
                f"{len(genome.clones)} clones, lr {genome.learning_rate:g}: accuracy "
                f"{accuracy:.4f}, score {candidate.score:.4f}",
                flush=True,
            )

    started = time.time()
    root = Genome(tuple(int(b) for b in start_program), (), options.learning_rate)
    train_and_score(root, None, "root")
    seen, stale = {root}, 0
    while len(log) < options.budget and stale < STALE_ROUNDS:
        parent = log[pick_parent([(c.order, c.score, c.order) for c in log], children, rng)]
        children[parent.order] += 1
        child, kind = mutate(
            parent.genome, bank_size, model.depth, options.max_clones, rng, next(clone_ids)
        )
        if child in seen:
            stale += 1
            continue
        seen.add(child)
        stale = 0
        train_and_score(child, parent.order, kind)
    if verbose:
        print(f"  evolved {len(log)} candidates in {time.time() - started:.0f}s", flush=True)
    return best["model"], best["candidate"], log
