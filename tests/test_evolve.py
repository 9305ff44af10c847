"""muNet evolution of a new task: mutations, the first generation, inheritance, no forgetting."""

import dataclasses

import numpy as np
import pytest
from conftest import random_images
from test_continual import logits, new_task_split, trained_two_task_model

from compose import TaskSpec
from compose.core.gates import GATE_INIT
from compose.grow.continual import add_task
from compose.grow.evolve import (
    GATE_RANKS,
    LEARNING_RATES,
    EvolveOptions,
    Genome,
    Start,
    _Trained,
    evolve_task,
    first_generation,
    full_clones,
    mutate,
)

NEW = TaskSpec("halves", (7, 7, 1), 2)


def test_mutations_stay_valid_and_drop_clones_no_layer_runs():
    rng = np.random.default_rng(0)
    genome, kinds = Genome((0, 1, 2), (), 2e-3, steps=20), set()
    for clone_id in range(600):
        genome, kind = mutate(genome, 3, 4, 2, (10, 20, 40), rng, next_clone_id=clone_id)
        kinds.add(kind)
        assert 1 <= len(genome.program) <= 4 and len(genome.clones) <= 2
        assert all(0 <= b < 3 + len(genome.clones) for b in genome.program)
        assert sorted({b for b in genome.program if b >= 3}) == list(
            range(3, 3 + len(genome.clones))
        ), "every clone is run by some layer"
        assert all(0 <= parent < 3 for _, parent in genome.clones)
        assert genome.learning_rate in LEARNING_RATES and genome.steps in (10, 20, 40)
        assert genome.gate_rank in GATE_RANKS
    assert kinds == {
        "replace",
        "insert",
        "remove",
        "clone",
        "learning_rate",
        "steps",
        "gates",
        "gate_rank",
    }


def test_a_clone_mutation_gives_the_layer_a_new_entry_of_the_same_block():
    rng = np.random.default_rng(1)
    for _ in range(50):
        child, kind = mutate(Genome((2, 2), (), 1e-3), 3, 2, 1, (100,), rng, next_clone_id=7)
        if kind == "clone":
            assert child.clones == ((7, 2),) and sorted(child.program) == [2, 3]
            return
    pytest.fail("no clone mutation in 50 draws")


def test_full_clones_give_every_distinct_block_its_own_entry():
    assert full_clones((1, 0, 1), bank_size=5) == ((5, 6, 5), ((0, 1), (1, 0)))


@pytest.mark.parametrize(
    "bad", [{"budget": 0}, {"size_penalty": 0.0}, {"size_penalty": 1.5}, {"gate_rank": 3}]
)
def test_options_name_the_bad_value(bad):
    field = next(iter(bad))
    with pytest.raises(ValueError, match=f"invalid config: grow.evolve.{field} must be"):
        EvolveOptions(**bad)


def test_the_first_generation_seeds_programs_head_only_gated_and_clones():
    old = trained_two_task_model()  # bars runs [0, 1, 1], dots [2, 0]
    train, validation = new_task_split(), new_task_split(32)
    options = EvolveOptions(search_budget=6, task_starts=2, steps=10, fit_examples=40)
    starts, report = first_generation(old, NEW, train, validation, options, verbose=False)
    closest = report["closest_task"]
    assert set(report["closed_form_accuracy"]) == {"bars", "dots"}
    assert closest == max(report["closed_form_accuracy"], key=report["closed_form_accuracy"].get)
    program = tuple(old.program(closest))
    genomes = {(s.origin, s.stem_from): s.genome for s in starts}
    assert genomes[(f"{closest}'s program", closest)] == Genome(program, steps=10, gate_rank=4)
    gated = genomes[(f"{closest}'s program, gated", closest)]
    assert gated.gated and gated.gate_rank == options.gate_rank == 4
    cloned = genomes[(f"{closest}'s program, cloned", closest)]
    assert (cloned.program, cloned.clones) == full_clones(program, old.bank_size)
    other = "dots" if closest == "bars" else "bars"
    assert genomes[(f"{other}'s program", other)].program == tuple(old.program(other))
    assert len({(s.genome, s.stem_from) for s in starts}) == len(starts)


def test_evolution_trains_candidates_keeps_old_tasks_and_charges_clones_in_full():
    old = trained_two_task_model()
    inputs = {"bars": random_images((6, 6, 1), 16), "dots": random_images((5, 5, 3), 16)}
    before = logits(old, inputs)
    options = EvolveOptions(budget=7, steps=16, batch_size=16, max_clones=1, seed=3)
    starts = [
        Start(Genome((0, 1), steps=16), "root", "bars"),
        Start(Genome((0, 1), steps=16, gated=True, gate_rank=2), "gated", "bars"),
    ]
    best_model, best, log = evolve_task(
        old, NEW, new_task_split(), new_task_split(32), starts, options, verbose=False
    )
    assert 3 <= len(log) <= 7 and [c.mutation for c in log[:2]] == ["root", "gated"]
    assert all(c.parent is not None and c.parent < c.order for c in log[2:])
    for c in log[2:]:
        assert c.lineage_steps == c.genome.steps + log[c.parent].lineage_steps
    assert best == max(log, key=lambda c: (c.score, -c.order))
    assert best_model.program("halves") == list(best.genome.program)
    after = logits(best_model, inputs)
    for task in before:
        np.testing.assert_array_equal(after[task], before[task])
    for weight, old_weight in zip(best_model.bank.weights, old.bank.weights, strict=True):
        np.testing.assert_array_equal(np.asarray(weight)[: old.bank_size], np.asarray(old_weight))
    block = old.bank.block_size
    own = best_model.parameter_report()["halves"]["own_params"]
    users = {0: 2, 1: 1, 2: 1}  # other tasks running each block: bars 0, 1; dots 2, 0
    expected = own + sum(
        block / (1 + users[b]) if b < 3 else block for b in set(best.genome.program)
    )
    assert best.charged_params == pytest.approx(expected)
    assert best.added_params == own + len(best.genome.clones) * block


def trained_alone(old, genome):
    """``old`` plus the new task running ``genome``, trained 16 steps (a budget of 1)."""
    options = EvolveOptions(budget=1, steps=16, batch_size=16, seed=2)
    trained, _, _ = evolve_task(
        old,
        NEW,
        new_task_split(),
        new_task_split(32),
        [Start(genome, "p", "bars")],
        options,
        verbose=False,
    )
    return trained


def test_a_child_inherits_its_parents_head_gates_and_the_clones_it_keeps():
    old = trained_two_task_model()
    parent = Genome((0, 3), clones=((5, 1),), steps=16, gated=True)
    trained = trained_alone(old, parent)
    assert not np.allclose(trained.path("halves").gates.scores, GATE_INIT), "scores trained"
    weights = _Trained(trained, "halves", parent, old.bank_size)
    for child in (
        dataclasses.replace(parent, learning_rate=5e-4),  # gated, keeps clone 5
        Genome((3, 3), clones=((5, 1),)),  # no gates, keeps clone 5
    ):
        grown = add_task(old, NEW, child.program, [1], gated=child.gated, seed=9)
        weights.give_to(grown, "halves", child, old.bank_size)
        for part in ("stem", "norm", "head") + (("gates",) if child.gated else ()):
            mine = getattr(grown.path("halves"), part).weights
            for value, expected in zip(
                mine, getattr(trained.path("halves"), part).weights, strict=True
            ):
                np.testing.assert_array_equal(value, expected)
        for kernel, expected in zip(grown.bank.weights, trained.bank.weights, strict=True):
            np.testing.assert_array_equal(np.asarray(kernel)[3], np.asarray(expected)[3])


def test_a_child_with_another_clone_keeps_its_parents_gates_per_bank_entry():
    old = trained_two_task_model()  # bank of 3: a gate row per block, then per clone
    parent = Genome((0, 3), clones=((5, 1),), steps=16, gated=True)
    trained = trained_alone(old, parent)
    child = Genome((4, 3), clones=((8, 2), (5, 1)), gated=True)  # a new clone first
    grown = add_task(old, NEW, child.program, [2, 1], gated=True, seed=9)
    _Trained(trained, "halves", parent, old.bank_size).give_to(grown, "halves", child, 3)
    for mine, theirs in zip(
        grown.path("halves").gates.weights, trained.path("halves").gates.weights, strict=True
    ):
        mine, theirs = np.asarray(mine), np.asarray(theirs)
        np.testing.assert_array_equal(mine[:3], theirs[:3])
        np.testing.assert_array_equal(mine[4], theirs[3])  # clone 5 moved to the second row
        np.testing.assert_array_equal(mine[3], np.zeros_like(mine[3]))  # the new clone: closed


def test_a_child_at_another_rank_starts_from_its_parents_deltas():
    """A rank mutation refactors the parent's trained deltas: exactly where the
    child's rank holds them, the child's spare directions left as initialised
    (a zero right factor, a random left one) so they can still learn."""
    old = trained_two_task_model()
    parent = Genome((0, 1), steps=16, gated=True, gate_rank=1)
    trained = trained_alone(old, parent)
    expected = trained.path("halves").gates.full_deltas()
    assert all(np.abs(delta).max() > 1e-4 for delta in expected), "deltas trained"
    weights = _Trained(trained, "halves", parent, old.bank_size)
    for rank in (2, None):
        child = dataclasses.replace(parent, gate_rank=rank)
        grown = add_task(old, NEW, child.program, gated=True, gate_rank=rank, seed=9)
        gates = grown.path("halves").gates
        initial_left = np.array(gates.factors[0][0])
        weights.give_to(grown, "halves", child, old.bank_size)
        for delta, parent_delta in zip(gates.full_deltas(), expected, strict=True):
            np.testing.assert_allclose(delta, parent_delta, atol=1e-6)
        np.testing.assert_array_equal(gates.scores, trained.path("halves").gates.scores)
        if rank == 2:  # the expand kernel, 4 x 24, is factored at rank 2
            left = np.asarray(gates.factors[0][0])
            np.testing.assert_array_equal(left[..., 1], initial_left[..., 1])
            assert not np.array_equal(left[..., 0], initial_left[..., 0])
