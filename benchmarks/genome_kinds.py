"""The kinds of first-generation start :mod:`benchmarks.genome_curves` trains, and
its comparison against the cloned start (flag-free, so tests import it)."""

import statistics

from compose.errors import InvalidInputError
from compose.grow.evolve import GATE_RANKS, Genome, Start, full_clones

BASELINE = "cloned"


def start_kinds(model, ranks, steps, learning_rate) -> dict:
    """``{kind: Start}``: the root task's program as each kind of first-generation
    start, with the root's stem: ``head`` (nothing of the system trained),
    ``gated r<rank>`` (rank None: ``gated full``) and ``cloned`` (every block)."""
    root = model.task_names[0]
    program = tuple(model.program(root))

    def start(kind, genome_program, **changes):
        genome = Genome(genome_program, learning_rate=learning_rate, steps=steps, **changes)
        return kind, Start(genome, kind, root)

    cloned_program, clones = full_clones(program, model.bank_size)
    return dict(
        [
            start("head", program),
            *[
                start(
                    f"gated r{rank}" if rank else "gated full", program, gated=True, gate_rank=rank
                )
                for rank in ranks
            ],
            start(BASELINE, cloned_program, clones=clones),
        ]
    )


def against_baseline(rows) -> dict:
    """``{kind: {accuracy, score}}``: each kind's mean over ``rows`` (one per
    task and step count, ``{kind: {accuracy, score, ...}}``) minus the baseline's."""
    kinds = [kind for kind in rows[0] if kind != BASELINE]
    return {
        kind: {
            key: round(statistics.fmean(row[kind][key] - row[BASELINE][key] for row in rows), 4)
            for key in ("accuracy", "score")
        }
        for kind in kinds
    }


def parse_ranks(values) -> list:
    """``--ranks`` as :data:`compose.grow.evolve.GATE_RANKS` values ('full': None)."""
    names = {str(rank or "full"): rank for rank in GATE_RANKS}
    unknown = [value for value in values if value not in names]
    if unknown:
        raise InvalidInputError(
            f"--ranks: {unknown} are not gate ranks; choose from {', '.join(names)}"
        )
    return [names[value] for value in values]
