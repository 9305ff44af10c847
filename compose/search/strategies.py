"""Discrete program search: random, local (coordinate descent), evolutionary.

Every strategy proposes programs and reads their scores from an
:class:`SearchObjective`; none touches the model.  The objective counts each distinct
program once against the budget, scores a strategy's proposals in batches
(one scorer call per ``candidates_per_call`` programs) and logs every
candidate.
"""

import contextlib
import dataclasses
from collections.abc import Callable

import numpy as np

from compose.core.program import entries_read
from compose.errors import InvalidInputError, UnknownNameError


@dataclasses.dataclass(frozen=True)
class Candidate:
    """One scored program."""

    program: tuple[int, ...]
    accuracy: float
    charged_params: float
    score: float
    order: int
    """Position in the evaluation sequence (0 = first program scored)."""


class BudgetExhaustedError(Exception):
    """Raised inside a strategy when the objective has no evaluations left."""


class SearchObjective:
    """Size-penalised validation score of programs of one task, with a budget.

    ``score = accuracy * size_penalty ** (charged_params / base_params)``, as in
    muNet.  ``charged_params`` are the task's own parameters plus, for every
    distinct bank entry the program reads (a derived entry's bases included),
    the entry's parameters divided among the tasks reading it (this one and
    ``other_users[entry]`` others).
    ``base_params`` are what the task would own alone: its own parameters plus
    one unshared block per layer of the model's depth.  ``size_penalty = 1``
    scores accuracy alone.

    Args:
      accuracy_fn: programs -> validation accuracies (a ProgramScorer's).
      block_params: parameters of one bank block.
      own_params: the task's own parameters (stem, normalisation, head).
      depth: the model's maximum depth.
      budget: distinct programs that may be scored.
      size_penalty: ``s`` in (0, 1].
      other_users: ``{entry: other tasks reading it}``.
      entry_params: ``{entry: parameters}`` of the entries whose size is not
        ``block_params`` (derived entries: a delta's factors).
      bases: ``{derived entry: the entry it derives from}``.
    """

    def __init__(
        self,
        accuracy_fn: Callable[[list[list[int]]], list[float]],
        block_params: int,
        own_params: int,
        depth: int,
        budget: int,
        size_penalty: float = 1.0,
        other_users: dict[int, int] | None = None,
        entry_params: dict[int, int] | None = None,
        bases: dict[int, int] | None = None,
    ):
        if not 0.0 < size_penalty <= 1.0:
            raise InvalidInputError(f"size_penalty must be in (0, 1], got {size_penalty}")
        if budget < 1:
            raise InvalidInputError(f"budget must be at least 1 evaluation, got {budget}")
        self.accuracy_fn = accuracy_fn
        self.block_params = block_params
        self.own_params = own_params
        self.base_params = own_params + depth * block_params
        self.budget = budget
        self.size_penalty = size_penalty
        self.other_users = dict(other_users or {})
        self.entry_params = dict(entry_params or {})
        self.bases = dict(bases or {})
        self.log: list[Candidate] = []
        self._seen: dict[tuple[int, ...], Candidate] = {}

    @property
    def remaining(self) -> int:
        return self.budget - len(self.log)

    def charged_params(self, program) -> float:
        shared = sum(
            self.entry_params.get(entry, self.block_params) / (1 + self.other_users.get(entry, 0))
            for entry in entries_read(program, self.bases)
        )
        return self.own_params + shared

    def score(self, program, accuracy) -> float:
        """``accuracy * size_penalty ** (charged / base)`` of ``program``."""
        return accuracy * self.size_penalty ** (self.charged_params(program) / self.base_params)

    def evaluate(self, programs) -> list[Candidate]:
        """Candidates for ``programs``; new ones are scored in one batch.

        Raises:
          BudgetExhaustedError: when the new programs do not fit in the budget
            (those that fit are scored and logged first).
        """
        keys = [tuple(int(i) for i in p) for p in programs]
        new = list(dict.fromkeys(k for k in keys if k not in self._seen))
        fits = new[: max(self.remaining, 0)]
        if fits:
            for key, accuracy in zip(fits, self.accuracy_fn([list(k) for k in fits]), strict=True):
                candidate = Candidate(
                    program=key,
                    accuracy=accuracy,
                    charged_params=self.charged_params(key),
                    score=self.score(key, accuracy),
                    order=len(self.log),
                )
                self._seen[key] = candidate
                self.log.append(candidate)
        if len(fits) < len(new):
            raise BudgetExhaustedError
        return [self._seen[k] for k in keys]

    def best(self) -> Candidate:
        return max(self.log, key=lambda c: (c.score, -c.order))


@dataclasses.dataclass(frozen=True)
class SearchSpace:
    """Programs of ``min_length..max_length`` indices into a bank of ``bank_size``."""

    bank_size: int
    max_length: int
    min_length: int = 1

    def __post_init__(self):
        if not 1 <= self.min_length <= self.max_length:
            raise InvalidInputError(
                f"min_length {self.min_length}: programs here are 1..{self.max_length} "
                "blocks long (the model's depth)"
            )

    def random_program(self, rng) -> list[int]:
        length = int(rng.integers(self.min_length, self.max_length + 1))
        return rng.integers(0, self.bank_size, length).tolist()

    def mutation_kinds(self, program) -> list[str]:
        """The muNet mutations ``program`` allows: replace, insert, remove."""
        kinds = ["replace"] if self.bank_size > 1 else []
        if len(program) < self.max_length:
            kinds.append("insert")
        if len(program) > self.min_length:
            kinds.append("remove")
        return kinds

    def apply(self, program, kind, rng) -> list[int]:
        """``program`` with one ``kind`` mutation at a random place."""
        program = list(program)
        if kind == "replace":
            position = int(rng.integers(len(program)))
            choices = [b for b in range(self.bank_size) if b != program[position]]
            program[position] = choices[int(rng.integers(len(choices)))]
        elif kind == "insert":
            program.insert(int(rng.integers(len(program) + 1)), int(rng.integers(self.bank_size)))
        else:
            del program[int(rng.integers(len(program)))]
        return program

    def mutate(self, program, rng) -> list[int]:
        """One muNet mutation: replace an index, insert a layer or remove one."""
        kinds = self.mutation_kinds(program)
        return self.apply(program, kinds[int(rng.integers(len(kinds)))], rng)


STALE_ROUNDS = 50
"""Rounds without a new program after which a sampling strategy gives up
(the space, or the part of it the strategy reaches, is exhausted)."""


def _until_stale(objective, propose):
    """Scores ``propose()`` batches until the budget ends or nothing new comes."""
    stale = 0
    while stale < STALE_ROUNDS:
        scored = len(objective.log)
        propose()
        stale = stale + 1 if len(objective.log) == scored else 0


def random_search(objective, space, start, rng, batch):
    """Uniformly random programs (the baseline), after the start program."""
    objective.evaluate([start])
    _until_stale(
        objective,
        lambda: objective.evaluate([space.random_program(rng) for _ in range(batch)]),
    )


def local_search(objective, space, start, rng, batch):
    """Coordinate descent: at each layer in turn try every other block, keep
    the best; sweep until a sweep improves nothing."""
    del rng, batch  # deterministic; one layer's alternatives form a batch
    current = objective.evaluate([start])[0]
    improved = True
    while improved:
        improved = False
        for position in range(len(current.program)):
            alternatives = []
            for block in range(space.bank_size):
                program = list(current.program)
                program[position] = block
                alternatives.append(program)
            best = max(objective.evaluate(alternatives), key=lambda c: c.score)
            if best.score > current.score:
                current, improved = best, True


def pick_parent(population, children, rng):
    """muNet's parent selection: walk ``population`` best score first (earliest
    first among equals) and accept each with probability
    ``0.5 ** children[key]``; the best if none is accepted.  ``population``
    holds ``(key, score, order)`` triples."""
    ranked = sorted(population, key=lambda c: (-c[1], c[2]))
    return next((c for c in ranked if rng.random() < 0.5 ** children[c[0]]), ranked[0])[0]


def evolutionary_search(objective, space, start, rng, batch):
    """muNet's loop: a batch of mutated children of :func:`pick_parent` per round."""
    population = objective.evaluate([start])
    children = {population[0].program: 0}

    def one_round():
        ranked = [(c.program, c.score, c.order) for c in population]
        proposals = []
        for _ in range(batch):
            parent = pick_parent(ranked, children, rng)
            children[parent] += 1
            proposals.append(space.mutate(parent, rng))
        for candidate in objective.evaluate(proposals):
            if candidate.program not in children:
                children[candidate.program] = 0
                population.append(candidate)

    _until_stale(objective, one_round)


STRATEGIES = {
    "evolutionary": evolutionary_search,
    "local": local_search,
    "random": random_search,
}


def run_strategy(name, objective, space, start, seed=0, batch=8) -> Candidate:
    """Runs strategy ``name`` until its budget is spent (or it converges);
    returns the best candidate (the full log is ``objective.log``)."""
    try:
        strategy = STRATEGIES[name]
    except KeyError:
        raise UnknownNameError(
            f"unknown search strategy {name!r}; choose one of: {', '.join(STRATEGIES)}"
        ) from None
    rng = np.random.default_rng(seed)
    with contextlib.suppress(BudgetExhaustedError):
        strategy(objective, space, list(start), rng, batch)
    return objective.best()
