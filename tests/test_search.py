"""Program search: the objective, the strategies, and the one-trace scorer."""

import itertools

import numpy as np
import pytest
import tensorflow as tf

from compose import ComposedModel, TaskSpec
from compose.core.program import ProgramError, pad_program
from compose.search import (
    ClosedFormScorer,
    ProgramScorer,
    RelaxedOptions,
    fit_classifier,
    search_program,
)
from compose.search.strategies import (
    STRATEGIES,
    SearchObjective,
    SearchSpace,
    run_strategy,
)
from tasks import Split


def planted_accuracy(target):
    """A landscape with one best program: the share of positions matching ``target``."""

    def accuracy(programs):
        return [
            sum(a == b for a, b in zip(p, target, strict=False)) / len(target)
            - 0.01 * abs(len(p) - len(target))
            for p in programs
        ]

    return accuracy


def objective(budget, size_penalty=1.0, other_users=None, target=(3, 1, 2, 0)):
    return SearchObjective(
        planted_accuracy(list(target)),
        block_params=100,
        own_params=50,
        depth=4,
        budget=budget,
        size_penalty=size_penalty,
        other_users=other_users,
    )


def test_score_charges_shared_blocks_divided_among_their_users():
    task = objective(10, size_penalty=0.5, other_users={0: 1, 2: 3})
    # own 50 + block 0 shared with 1 other (50) + block 2 with 3 others (25) + block 1 alone
    assert task.charged_params([0, 2, 2, 1]) == 50 + 50 + 25 + 100
    assert task.base_params == 50 + 4 * 100
    (candidate,) = task.evaluate([[0, 2, 2, 1]])
    assert candidate.score == pytest.approx(candidate.accuracy * 0.5 ** (225 / 450))
    assert objective(10).evaluate([[0, 2, 2, 1]])[0].score == candidate.accuracy


def test_budget_counts_distinct_programs_and_stops_the_strategy():
    task = objective(3)
    task.evaluate([[0], [0], [1]])
    assert task.remaining == 1
    assert [c.program for c in task.log] == [(0,), (1,)]
    best = run_strategy("random", task, SearchSpace(4, 4), start=[0, 0], seed=1)
    assert len(task.log) == 3 and best in task.log


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_every_strategy_respects_the_budget_and_returns_its_best(name):
    task = objective(30)
    best = run_strategy(name, task, SearchSpace(4, 4, min_length=4), start=[0, 0, 0, 0], seed=0)
    assert len(task.log) <= 30
    assert best.score == max(c.score for c in task.log)
    assert all(len(c.program) == 4 for c in task.log), "min_length=4 keeps the length"


def test_local_and_evolutionary_search_beat_random_search_on_a_planted_landscape():
    space = SearchSpace(4, 4, min_length=4)
    found = {name: [] for name in STRATEGIES}
    for seed, name in itertools.product(range(5), STRATEGIES):
        start = np.random.default_rng(100 + seed).integers(0, 4, 4).tolist()
        found[name].append(run_strategy(name, objective(26), space, start, seed=seed).accuracy)
    assert np.mean(found["local"]) == 1.0  # coordinate descent solves a separable landscape
    assert np.mean(found["evolutionary"]) > np.mean(found["random"])


def test_mutations_stay_in_the_space():
    space = SearchSpace(bank_size=3, max_length=4, min_length=2)
    rng = np.random.default_rng(0)
    program = [0, 1]
    lengths = set()
    for _ in range(300):
        program = space.mutate(program, rng)
        lengths.add(len(program))
        assert 2 <= len(program) <= 4 and all(0 <= b < 3 for b in program)
    assert lengths == {2, 3, 4}


def test_unknown_strategy_and_bad_penalty_are_named():
    with pytest.raises(LookupError, match="unknown search strategy 'genetic'"):
        run_strategy("genetic", objective(5), SearchSpace(4, 4), [0])
    with pytest.raises(ValueError, match=r"size_penalty must be in \(0, 1\]"):
        objective(5, size_penalty=0.0)


# -- the scorer on a real (small) model -------------------------------------------------


def small_model_and_split():
    model = ComposedModel(
        [TaskSpec("a", (8, 8, 1), 3), TaskSpec("b", (8, 8, 1), 3)],
        bank_size=3,
        depth=3,
        channels=8,
        resolution=4,
        programs={"a": [0, 1, 2], "b": [2, 2]},
    )
    rng = np.random.default_rng(0)
    split = Split(
        rng.integers(0, 256, (40, 8, 8, 1)).astype(np.uint8),
        rng.integers(0, 3, 40).astype(np.int32),
    )
    return model, split


def test_scorer_scores_any_program_with_one_trace_and_changes_nothing():
    model, split = small_model_and_split()
    before = [np.array(v) for v in model.variables]
    scorer = ProgramScorer(model, "a", split, candidates_per_call=4)
    programs = [list(p) for length in (1, 2, 3) for p in itertools.product(range(3), repeat=length)]
    scores = scorer.accuracy(programs)
    assert scorer.traces == 1 and scorer.evaluations == len(programs) == 39
    assert all(0.0 <= s <= 1.0 for s in scores)
    for expected, variable in zip(before, model.variables, strict=True):
        np.testing.assert_array_equal(np.array(variable), expected)
    assert model.program("a") == [0, 1, 2]
    with pytest.raises(ProgramError, match="block index 3 at position 0 is out of range"):
        scorer.accuracy([[3]])


def test_scorer_agrees_with_the_model_run_on_the_same_program():
    """A candidate's score is the model's accuracy with that program, normalised
    with the validation batch's own moments."""
    model, split = small_model_and_split()
    scorer = ProgramScorer(model, "a", split, candidates_per_call=2)
    for program in ([2, 0], [1, 1, 1]):
        model.set_program("a", program)
        logits = model.forward({"a": tf.constant(split.images)}, statistics="own")["a"].logits
        predicted = np.argmax(logits.numpy(), -1)
        assert scorer.accuracy([program]) == [pytest.approx(np.mean(predicted == split.labels))]


def test_closed_form_score_equals_a_reference_least_squares_fit():
    """The probe: standardised pooled features, ridge onto one-hot labels solved
    by numpy here, scored on the held-out rows."""
    model, split = small_model_and_split()
    fit, held_out = Split(split.images[:30], split.labels[:30]), split.split_off(10)[1]
    scorer = ClosedFormScorer(model, "a", fit, held_out, ridge=0.1, grid=2)
    for program in ([2, 0], [1, 1, 1]):
        model.set_program("a", program)
        features = scorer.features(tf.constant(pad_program(program, model.depth))).numpy()
        x, x_held = features[:30], features[30:]
        mean, std = x.mean(0), x.std(0) + 1e-6
        design = np.c_[(x - mean) / std, np.ones(30)]
        held = np.c_[(x_held - mean) / std, np.ones(len(x_held))]
        penalty = np.diag([0.1 * 30] * (design.shape[1] - 1) + [0.0])
        weights = np.linalg.solve(design.T @ design + penalty, design.T @ np.eye(3)[fit.labels])
        expected = np.mean(np.argmax(held @ weights, -1) == held_out.labels)
        assert scorer.accuracy([program]) == [pytest.approx(expected)]
        assert features.shape == (40, 8 + 4 * 8)
    assert scorer.traces == 1


def test_fit_classifier_sets_the_ridge_solution_scaled_and_leaves_the_rest():
    """The model's own predictions after the fit are the ridge probe's on the
    head's features (accuracy returned exactly), better than chance on a
    split it can fit, and nothing but the classifier changes."""
    model, split = small_model_and_split()
    classifier = model.path("a").head.logits
    others = [v for v in model.variables if v is not classifier.kernel and v is not classifier.bias]
    before = [np.array(v) for v in others]
    accuracy = fit_classifier(model, "a", split, ridge=1e-3, batch_size=16)
    predicted = np.argmax(model.call_task("a", tf.constant(split.images)).numpy(), -1)
    assert accuracy == pytest.approx(np.mean(predicted == split.labels))
    assert accuracy > 0.6  # 40 examples, 3 classes, 8 + 1 features: well above 1/3
    for expected, variable in zip(before, others, strict=True):
        np.testing.assert_array_equal(np.array(variable), expected)


def test_search_from_several_starts_begins_at_the_best_of_them():
    model, split = small_model_and_split()
    table = {}

    class Planted(ProgramScorer):
        def accuracy(self, programs):
            return [table.setdefault(tuple(p), float(p == [2, 2, 1])) for p in programs]

    best, log = search_program(
        model,
        "a",
        None,
        budget=20,
        starts=[[0, 0, 0], [2, 2, 1], [1, 0, 2]],
        scorer=Planted(model, "a", split),
    )
    assert [c.program for c in log[:3]] == [(0, 0, 0), (2, 2, 1), (1, 0, 2)]
    assert best.program == (2, 2, 1)
    assert all(
        c.program[:2] == (2, 2) or c.program[1:] == (2, 1) or c.program[::2] == (2, 1)
        for c in log[3:]
    ), "local moves around the best start"


def test_search_program_returns_the_best_logged_candidate():
    model, split = small_model_and_split()
    best, log = search_program(model, "a", split, strategy="local", budget=12, min_length=3)
    assert len(log) <= 12 and log[0].program == (0, 1, 2)
    assert best == max(log, key=lambda c: (c.score, -c.order))
    assert model.program("a") == [0, 1, 2], "search only reads the model"


def test_relaxed_search_trains_logits_scores_argmaxes_and_restores_the_model():
    model, split = small_model_and_split()
    before = [np.array(v) for v in model.variables]
    options = RelaxedOptions(steps=40, score_every=5, batch_size=8, learning_rate=0.1)
    best, log = search_program(
        model, "a", split, strategy="relaxed", budget=6, train=split, relaxed_options=options
    )
    assert 1 <= len(log) <= 6 and log[0].program == (0, 1, 2)
    assert all(len(c.program) == 3 for c in log)
    assert best == max(log, key=lambda c: (c.score, -c.order))
    for expected, variable in zip(before, model.variables, strict=True):
        np.testing.assert_array_equal(np.array(variable), expected)
    assert model.selection("a") == "hard" and model.program("a") == [0, 1, 2]


def test_relaxed_search_that_cannot_move_scores_only_its_start():
    model, split = small_model_and_split()
    frozen = RelaxedOptions(steps=20, score_every=5, batch_size=8, learning_rate=1e-9)
    _, log = search_program(
        model, "a", split, strategy="relaxed", budget=6, train=split, relaxed_options=frozen
    )
    assert [c.program for c in log] == [(0, 1, 2)]
    with pytest.raises(ValueError, match="task 'a': the relaxed strategy trains"):
        search_program(model, "a", split, strategy="relaxed")
