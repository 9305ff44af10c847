"""muNet evolution of a new task: mutations, inheritance, training, and no forgetting."""

import numpy as np
import pytest
from conftest import random_images
from test_continual import logits, new_task_split, trained_two_task_model

from compose import TaskSpec
from compose.grow.evolve import (
    LEARNING_RATES,
    EvolveOptions,
    Genome,
    evolve_task,
    mutate,
)


def test_mutations_stay_valid_and_drop_clones_no_layer_runs():
    rng = np.random.default_rng(0)
    genome, kinds = Genome((0, 1, 2), (), 2e-3), set()
    for clone_id in range(600):
        genome, kind = mutate(
            genome, bank_size=3, max_depth=4, max_clones=2, rng=rng, next_clone_id=clone_id
        )
        kinds.add(kind)
        assert 1 <= len(genome.program) <= 4 and len(genome.clones) <= 2
        assert all(0 <= b < 3 + len(genome.clones) for b in genome.program)
        assert sorted({b for b in genome.program if b >= 3}) == list(
            range(3, 3 + len(genome.clones))
        ), "every clone is run by some layer"
        assert all(0 <= parent < 3 for _, parent in genome.clones)
        assert genome.learning_rate in LEARNING_RATES
    assert kinds == {"replace", "insert", "remove", "clone", "learning_rate"}


def test_a_clone_mutation_gives_the_layer_a_new_entry_of_the_same_block():
    rng = np.random.default_rng(1)
    for _ in range(50):
        child, kind = mutate(Genome((2, 2), (), 1e-3), 3, 2, 1, rng, next_clone_id=7)
        if kind == "clone":
            assert child.clones == ((7, 2),) and sorted(child.program) == [2, 3]
            return
    pytest.fail("no clone mutation in 50 draws")


def test_evolution_trains_candidates_keeps_old_tasks_and_charges_clones_in_full():
    old = trained_two_task_model()
    inputs = {"bars": random_images((6, 6, 1), 16), "dots": random_images((5, 5, 3), 16)}
    before = logits(old, inputs)
    spec = TaskSpec("halves", (7, 7, 1), 2)
    options = EvolveOptions(budget=6, steps=15, batch_size=16, max_clones=1, seed=3)
    best_model, best, log = evolve_task(
        old, spec, new_task_split(), new_task_split(32), [0, 1], options, verbose=False
    )
    assert 2 <= len(log) <= 6 and log[0].mutation == "root" and log[0].parent is None
    assert all(c.parent is not None and c.parent < c.order for c in log[1:])
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
