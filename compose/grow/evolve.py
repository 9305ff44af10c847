"""muNet evolution of a new task over a frozen system: candidates are trained, not only scored.

A candidate is a :class:`Genome`: the task's program (indices into every
block the system holds, earlier tasks' clones and derived entries included),
the clones it owns
(new trainable bank entries initialised from a frozen block), whether it owns
TAPS gated deltas of the blocks (:mod:`compose.core.gates`) and their rank
(low-rank deltas open a block for a fraction of a clone's values), and two
hyper-parameters: its learning rate and its training steps.  Each candidate is
built with :func:`compose.grow.continual.add_task`, inherits its parent's
trained weights (the task's stem, normalisation and head, its gates, and the
clones they share), trains alone over the frozen system, and is scored on a
validation split held out of the task's training split:
``accuracy * s ** (charged / base)`` as in
:class:`compose.search.strategies.SearchObjective`, a clone charged in full, a
shared block divided among the tasks using it, open gated deltas charged to
the task.

The first generation (:func:`first_generation`) is seeded from the cheap
choices that already exist: the closed-form search's best program, the
programs of the tasks whose programs the closed-form probe ranks highest
(each through its own task's stem), the closest task's program with the head
and stem only trained, with TAPS gates (of ``EvolveOptions.gate_rank``), and
with every block cloned (full fine-tuning inside the system).  Mutations
(muNet): replace an index, insert a layer, remove a layer, clone the block of
a layer into a new entry owned by the task, open or drop the gates, move the
learning rate or the steps to a neighbouring value, or the gated deltas' rank
to a neighbouring one (the child's deltas start as the truncated SVD of its
parent's).  Parents are taken best-first, each accepted with probability
``0.5 ** children_so_far``.  Earlier tasks are untouched: the
system's blocks are frozen in every candidate.
"""

import dataclasses
import itertools
import time

import numpy as np
import tensorflow as tf

from compose.config import EvolveOptions
from compose.core.statistics import refresh_statistics
from compose.errors import InvalidInputError
from compose.grow.continual import add_task
from compose.search import ClosedFormScorer, fit_classifier, search_program, task_objective
from compose.search.strategies import STALE_ROUNDS, SearchSpace, pick_parent
from compose.seeds import derive_seed
from compose.training.evaluate import evaluate
from compose.training.objectives import Supervised, gate_sparsity
from compose.training.trainer import Trainer, build_optimizer, trained_variables

LEARNING_RATES = (5e-4, 1e-3, 2e-3, 5e-3, 1e-2)
"""The learning-rate grid; a mutation moves one step along it."""

GATE_RANKS = (1, 2, 4, 8, None)
"""The gated deltas' rank grid (None: full deltas, TAPS); a mutation moves one step along it."""


@dataclasses.dataclass(frozen=True)
class Genome:
    """One candidate architecture of the new task.

    ``program`` indices below the system's bank size name frozen entries;
    ``bank_size + i`` names ``clones[i]``, a ``(clone id, parent block)`` pair.
    """

    program: tuple[int, ...]
    clones: tuple[tuple[int, int], ...] = ()
    learning_rate: float = 2e-3
    steps: int = 100
    """Training steps of this candidate, on top of its parent's."""
    gated: bool = False
    """The task owns TAPS gated deltas of every bank block."""
    gate_rank: int | None = None
    """The rank of the gated deltas, now or once a mutation opens them (None: full deltas)."""

    def to_json(self) -> dict:
        return {
            "program": list(self.program),
            "clones": [list(clone) for clone in self.clones],
            "learning_rate": self.learning_rate,
            "steps": self.steps,
            "gated": self.gated,
            "gate_rank": self.gate_rank,
        }


@dataclasses.dataclass(frozen=True)
class Start:
    """A first-generation candidate: a genome, what it was seeded from, and
    the task whose stem and normalisation it starts with (None: fresh)."""

    genome: Genome
    origin: str
    stem_from: str | None = None


@dataclasses.dataclass(frozen=True)
class Evolved:
    """One trained and scored candidate."""

    genome: Genome
    accuracy: float
    charged_params: float
    added_params: int
    """Values the task adds to the system: its own (stem, normalisation,
    head, open gates) and its clones."""
    score: float
    order: int
    parent: int | None
    mutation: str
    lineage_steps: int
    """Steps its weights trained along its lineage, its own included."""

    def to_json(self) -> dict:
        fields = dataclasses.asdict(self)
        fields["genome"] = self.genome.to_json()
        return fields


def mutate(genome, bank_size, max_depth, max_clones, step_choices, rng, next_clone_id):
    """A child of ``genome`` by one random muNet mutation: ``(child, kind)``.

    Replace, insert and remove are :class:`SearchSpace`'s, over the system's
    blocks and the genome's clones; clone, gates, learning-rate and steps
    moves are added.
    """
    program, clones = list(genome.program), list(genome.clones)
    space = SearchSpace(bank_size + len(clones), max_depth)
    shared_layers = [i for i, block in enumerate(program) if block < bank_size]
    kinds = space.mutation_kinds(program) + ["learning_rate", "gates"]
    if genome.gated:
        kinds.append("gate_rank")
    if len(step_choices) > 1:
        kinds.append("steps")
    if len(clones) < max_clones and shared_layers:
        kinds.append("clone")
    kind = kinds[int(rng.integers(len(kinds)))]
    changes = {}
    if kind == "clone":
        position = shared_layers[int(rng.integers(len(shared_layers)))]
        clones.append((next_clone_id, program[position]))
        program[position] = bank_size + len(clones) - 1
    elif kind == "learning_rate":
        changes["learning_rate"] = _neighbour(LEARNING_RATES, genome.learning_rate, rng)
    elif kind == "steps":
        changes["steps"] = _neighbour(step_choices, genome.steps, rng)
    elif kind == "gates":
        changes["gated"] = not genome.gated
    elif kind == "gate_rank":
        changes["gate_rank"] = _neighbour(GATE_RANKS, genome.gate_rank, rng)
    else:
        program = space.apply(program, kind, rng)
    child = dataclasses.replace(genome, program=tuple(program), clones=tuple(clones), **changes)
    return _without_unused_clones(child, bank_size), kind


def _neighbour(grid, value, rng):
    """A value next to ``value`` in ``grid`` (the nearest one when it is off the grid)."""
    on_grid = value in grid
    index = grid.index(value) if on_grid else int(np.argmin([abs(g - value) for g in grid]))
    neighbours = [i for i in (index - 1, index + 1) if 0 <= i < len(grid)]
    return grid[int(rng.choice(neighbours))]


def _without_unused_clones(genome, bank_size):
    """Drops clones no layer runs any more, renumbering the others."""
    used = sorted({b - bank_size for b in genome.program if b >= bank_size})
    renumber = {bank_size + old: bank_size + new for new, old in enumerate(used)}
    return dataclasses.replace(
        genome,
        program=tuple(renumber.get(b, b) for b in genome.program),
        clones=tuple(genome.clones[old] for old in used),
    )


def full_clones(program, bank_size, first_clone_id=0) -> tuple[tuple[int, ...], tuple]:
    """``(program, clones)`` running a clone of every distinct block of ``program``."""
    parents = list(dict.fromkeys(program))
    clones = tuple((first_clone_id + i, parent) for i, parent in enumerate(parents))
    return tuple(bank_size + parents.index(block) for block in program), clones


def _inheritable(model, task):
    """The task's stem, normalisation and head variables: not its program."""
    path = model.path(task)
    return path.stem.variables + path.norm.variables + path.head.variables


def stem_copies(model, stem_task, spec) -> bool:
    """Whether ``stem_task``'s stem can be copied to ``spec``: same image channels."""
    return model.path(stem_task).spec.image_shape[-1] == spec.image_shape[-1]


class _Trained:
    """The weights a candidate leaves to its children."""

    def __init__(self, model, task, genome, bank_size):
        path = model.path(task)
        self.own = [np.array(v) for v in _inheritable(model, task)]
        self.gates = path.gates.snapshot() if genome.gated else None
        self.clone_rows = {clone_id: bank_size + i for i, (clone_id, _) in enumerate(genome.clones)}
        self.clones = {
            clone_id: [
                np.array(weight)[model.bank.stored_row(bank_size + i)]
                for weight in model.bank.stored_weights()
            ]
            for i, (clone_id, _) in enumerate(genome.clones)
        }

    def give_to(self, model, task, genome, bank_size):
        """Copies these weights into a child: its own, its gates when both
        have them (a row per bank entry, following the clones it kept; at
        another rank, the parent's deltas refactored), and every clone it kept."""
        for variable, value in zip(_inheritable(model, task), self.own, strict=True):
            variable.assign(value)
        if genome.gated and self.gates is not None:
            # Gates have a row per bank entry: the system's blocks, then the
            # genome's clones, which the child may have dropped, kept or added.
            rows = {block: block for block in range(bank_size)}
            for i, (clone_id, _) in enumerate(genome.clones):
                if clone_id in self.clone_rows:
                    rows[bank_size + i] = self.clone_rows[clone_id]
            model.path(task).gates.restore(self.gates, rows)
        for index, weight in enumerate(model.bank.stored_weights()):
            values = np.array(weight)
            for i, (clone_id, _) in enumerate(genome.clones):
                if clone_id in self.clones:
                    values[model.bank.stored_row(bank_size + i)] = self.clones[clone_id][index]
            weight.assign(values)


def first_generation(model, spec, train, validation, options=None, verbose=True):
    """The seeds of ``spec``'s evolution over ``model``: ``(starts, report)``.

    Every task's program is scored by the closed-form probe
    (:class:`compose.search.ClosedFormScorer`, fitted on ``train``, scored on
    ``validation``, through the first task's stem), then a local search
    spends the rest of ``options.search_budget``.  The starts: the closest
    task's program (the one the probe scores highest) with its stem, so only
    the stem, normalisation and head train; the search's best; the next
    ``task_starts - 1`` tasks' programs, each with its task's stem; the
    closest program with TAPS gates; and with every block cloned.  The
    report gives the probe's score of every task's program and the search's
    best.
    """
    options = options or EvolveOptions()
    started = time.time()
    root = model.task_names[0]
    probe = _seeded(model, spec, Genome(tuple(model.program(root))), root, train, options.seed)
    programs = {task: tuple(model.program(task)) for task in model.task_names}
    best, log = search_program(
        probe,
        spec.name,
        None,
        budget=options.search_budget,
        size_penalty=options.size_penalty,
        seed=derive_seed(options.seed, "evolve_search", spec.name),
        starts=[list(p) for p in programs.values()],
        scorer=ClosedFormScorer(probe, spec.name, train.head(options.fit_examples), validation),
    )
    scored = {candidate.program: candidate.accuracy for candidate in log}
    ranked = sorted(model.task_names, key=lambda t: -scored.get(programs[t], -1.0))
    closest = ranked[0]

    def genome(program, **changes):
        return Genome(
            tuple(program),
            learning_rate=options.learning_rate,
            steps=options.steps,
            gate_rank=options.gate_rank,  # what a gates mutation opens
            **changes,
        )

    program, clones = full_clones(programs[closest], model.bank_size)
    max_clones = model.depth if options.max_clones is None else options.max_clones
    starts = [
        Start(genome(programs[closest]), f"{closest}'s program", closest),
        Start(genome(best.program), "closed-form search", root),
        *[Start(genome(programs[t]), f"{t}'s program", t) for t in ranked[1 : options.task_starts]],
        Start(genome(programs[closest], gated=True), f"{closest}'s program, gated", closest),
    ]
    if len(clones) <= max_clones:
        starts.append(
            Start(genome(program, clones=clones), f"{closest}'s program, cloned", closest)
        )
    unique = []  # the first of starts that share a genome and a stem
    for start in starts:
        if all((start.genome, start.stem_from) != (u.genome, u.stem_from) for u in unique):
            unique.append(start)
    report = {
        "closed_form_accuracy": {
            t: round(scored[programs[t]], 4) for t in ranked if programs[t] in scored
        },
        "closed_form_best": {"program": list(best.program), "accuracy": round(best.accuracy, 4)},
        "closest_task": closest,
        "search_s": round(time.time() - started, 1),
    }
    if verbose:
        print(
            f"  closed-form: closest task {closest}, search's best {list(best.program)} "
            f"({best.accuracy:.4f}), {len(log)} programs in {report['search_s']}s",
            flush=True,
        )
    return unique[: options.budget], report


def _with_genome(model, spec, genome, seed):
    """``model`` plus ``spec`` running ``genome``: its program, clones and gates."""
    return add_task(
        model,
        spec,
        genome.program,
        [parent for _, parent in genome.clones],
        gated=genome.gated,
        gate_rank=genome.gate_rank,
        seed=seed,
    )


def _seeded(model, spec, genome, stem_from, train, seed):
    """``model`` plus ``spec`` running ``genome`` with ``stem_from``'s stem (when
    the image channels match) and normalisation (None: new ones), statistics
    re-estimated on ``train``'s images."""
    grown = _with_genome(model, spec, genome, seed)
    if stem_from is not None:
        parts = ("stem", "norm") if stem_copies(model, stem_from, spec) else ("norm",)
        grown.path(spec.name).copy_from(model.path(stem_from), parts)
    refresh_statistics(grown, spec.name, train.images, seed=seed)
    return grown


def evolve_task(model, spec, train, validation, starts, options=None, verbose=True):
    """Evolves the architecture of the new task ``spec`` over ``model``'s frozen system.

    Args:
      model: a trained :class:`compose.ComposedModel` with hard programs; not modified.
      spec: the new task's :class:`compose.TaskSpec`.
      train, validation: its :class:`tasks.Split`s (validation scores candidates).
      starts: the first generation, :class:`Start` s (see :func:`first_generation`).
      options: :class:`EvolveOptions`.
      verbose: one line per candidate.

    Returns:
      ``(best candidate's model, best Evolved, log of every Evolved)``.
    """
    options = options or EvolveOptions()
    if not starts:
        raise InvalidInputError(f"evolve {spec.name!r}: give at least one start")
    rng = np.random.default_rng(options.seed)
    bank_size = model.bank_size
    max_clones = model.depth if options.max_clones is None else options.max_clones
    used_ids = [clone_id for s in starts for clone_id, _ in s.genome.clones]
    clone_ids = itertools.count(max(used_ids, default=-1) + 1)
    log, weights, children = [], [], []
    best = {"candidate": None, "model": None}  # only the best model is kept alive

    def train_and_score(genome, parent, mutation, stem_from=None):
        seed = options.seed + len(log)
        if parent is None:
            grown = _seeded(model, spec, genome, stem_from, train, seed)
            fit_classifier(grown, spec.name, train.head(options.fit_examples))
        else:
            grown = _with_genome(model, spec, genome, seed)
            weights[parent].give_to(grown, spec.name, genome, bank_size)
        _train(grown, spec.name, genome, train, options, seed, bank_size)
        accuracy = evaluate(grown, {spec.name: validation})[spec.name]["accuracy"]
        # The objective only prices programs here; accuracies come from training.
        objective = task_objective(grown, spec.name, None, 1, options.size_penalty)
        candidate = Evolved(
            genome,
            accuracy,
            objective.charged_params(genome.program),
            grown.path(spec.name).own_parameter_count()
            + len(genome.clones) * grown.bank.block_size,
            objective.score(genome.program, accuracy),
            len(log),
            parent,
            mutation,
            genome.steps + (0 if parent is None else log[parent].lineage_steps),
        )
        log.append(candidate)
        weights.append(_Trained(grown, spec.name, genome, bank_size))
        children.append(0)
        if best["candidate"] is None or candidate.score > best["candidate"].score:
            best.update(candidate=candidate, model=grown)
        if verbose:
            print(
                f"  candidate {candidate.order}: {mutation} -> program {list(genome.program)}, "
                f"{len(genome.clones)} clones{', gated' if genome.gated else ''}, lr "
                f"{genome.learning_rate:g}, {genome.steps} steps: accuracy {accuracy:.4f}, "
                f"score {candidate.score:.4f}",
                flush=True,
            )

    started = time.time()
    for start in starts[: options.budget]:
        train_and_score(start.genome, None, start.origin, start.stem_from)
    seen, stale = {s.genome for s in starts}, 0
    while len(log) < options.budget and stale < STALE_ROUNDS:
        parent = log[pick_parent([(c.order, c.score, c.order) for c in log], children, rng)]
        children[parent.order] += 1
        child, kind = mutate(
            parent.genome,
            bank_size,
            model.depth,
            max_clones,
            options.step_choices(),
            rng,
            next(clone_ids),
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


def _train(grown, task, genome, train, options, seed, bank_size):
    """Trains ``task``'s variables and clones ``genome.steps`` steps over the
    frozen blocks; a gated genome learns its gate scores over the first half,
    then trains on with them fixed (so no gate flips under a head that has
    not seen it flip)."""
    variables = trained_variables(grown, [task])
    objectives = [Supervised(task)]
    if genome.gated:
        objectives.append(gate_sparsity(task, options.gate_sparsity))
    trainer = Trainer(
        grown,
        build_optimizer("adam", genome.learning_rate, variables),
        tf.distribute.get_strategy(),
        {task: train},
        objectives,
        batch_size=options.batch_size,
        seed=seed,
        variables=variables,
        frozen_blocks=range(bank_size),
    )
    if genome.gated:
        trainer.train(genome.steps // 2, verbose=False)
        scores = id(grown.path(task).gates.scores)
        kept = [v for v in variables if id(v) != scores]
        trainer.train(genome.steps, verbose=False, variables=kept)
    else:
        trainer.train(genome.steps, verbose=False)
