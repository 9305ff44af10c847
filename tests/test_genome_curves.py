"""benchmarks.genome_curves: the kinds of first-generation start, trained alone, against clones."""

import pytest
from test_continual import new_task_split, trained_two_task_model

from benchmarks.genome_kinds import against_baseline, parse_ranks, start_kinds
from compose import TaskSpec
from compose.config import EvolveOptions
from compose.errors import InvalidInputError
from compose.grow.evolve import evolve_task

NEW = TaskSpec("halves", (7, 7, 1), 2)


def test_every_kind_runs_the_root_program_and_only_clones_add_blocks():
    model = trained_two_task_model()  # bars, the root task, runs [0, 1, 1] over 3 blocks
    kinds = start_kinds(model, [1, None], steps=4, learning_rate=1e-3)
    assert list(kinds) == ["head", "gated r1", "gated full", "cloned"]
    assert all(s.stem_from == "bars" and s.genome.steps == 4 for s in kinds.values())
    assert kinds["head"].genome.program == (0, 1, 1) and not kinds["head"].genome.gated
    assert [kinds[k].genome.gate_rank for k in ("gated r1", "gated full")] == [1, None]
    assert kinds["cloned"].genome.program == (3, 4, 4)
    assert kinds["cloned"].genome.clones == ((0, 0), (1, 1))

    train, validation = new_task_split(), new_task_split(32)
    added = {
        kind: evolve_task(
            model, NEW, train, validation, [start], EvolveOptions(budget=1, steps=4), False
        )[1].added_params
        for kind, start in kinds.items()
    }
    assert added["cloned"] == added["head"] + 2 * model.bank.block_size
    assert added["head"] < added["gated r1"] < added["gated full"]


def test_each_kind_is_measured_against_the_clones_at_the_same_steps():
    rows = [
        {"head": {"accuracy": 0.5, "score": 0.48}, "cloned": {"accuracy": 0.9, "score": 0.85}},
        {"head": {"accuracy": 0.7, "score": 0.66}, "cloned": {"accuracy": 0.8, "score": 0.75}},
    ]
    assert against_baseline(rows) == {"head": {"accuracy": -0.25, "score": -0.23}}


def test_ranks_are_gate_ranks_or_full():
    assert parse_ranks(["4", "full"]) == [4, None]
    with pytest.raises(InvalidInputError, match=r"--ranks: \['3'\] are not gate ranks"):
        parse_ranks(["3", "8"])
