"""Program learning: search rounds, uniform single-path training, and the
standing of kept programs."""

import copy
import dataclasses

import numpy as np
import pytest

from compose import ComposedModel, TaskSpec
from compose.config import ExperimentConfig, validate
from compose.core.program import validate_program
from compose.errors import InvalidInputError
from compose.plots import program_figure
from compose.recipes.joint import programs_report, run_experiment
from compose.search import ProgramScorer, rounds
from compose.search.standing import program_standing, single_changes
from tasks import get_task, load_task_data

VALIDATION = 200


def tiny_config(**train) -> ExperimentConfig:
    config = ExperimentConfig(tasks=["uci_digits"])
    config.model = dataclasses.replace(config.model, bank_size=3, depth=3, channels=8, resolution=4)
    config.train = dataclasses.replace(
        config.train, steps=30, validation_examples=VALIDATION, **train
    )
    return config


@pytest.fixture(scope="module")
def uniform_run():
    config = tiny_config(
        program_learning="uniform",
        learning_fraction=0.5,
        program_search="local",
        search_budget=12,
        standing_candidates=10,
    )
    return config, run_experiment(config, model_dir=None, verbose=False)


def validation_split():
    train, _ = load_task_data(get_task("uci_digits"))
    return train.split_off(VALIDATION)[1]


def test_uniform_learning_never_moves_the_logits_and_searches_from_the_initial_program(
    uniform_run,
):
    _, result = uniform_run
    model, metrics = result["model"], result["metrics"]
    np.testing.assert_array_equal(np.asarray(model.path("uci_digits").mixture_logits), 0.0)
    record = metrics["discretisation"]["uci_digits"]
    assert record["search"]["strategy"] == "local"
    assert 1 <= record["search"]["evaluations"] <= 12
    search = record["search"]
    assert search["best_accuracy"] >= search["start_accuracy"]
    assert model.selection("uci_digits") == "hard"


def test_the_kept_programs_standing_is_recorded_as_scored(uniform_run):
    _, result = uniform_run
    standing = result["metrics"]["discretisation"]["uci_digits"]["standing"]
    assert len(standing["random_accuracies"]) == 10
    assert len(standing["change_accuracies"]) == 3 * 2  # depth x (K - 1)
    below = sum(score < standing["kept_accuracy"] for score in standing["random_accuracies"])
    assert standing["percentile"] == pytest.approx(100.0 * below / 10)
    assert standing["better_changes"] == sum(
        score > standing["kept_accuracy"] for score in standing["change_accuracies"]
    )
    assert standing["examples"] == VALIDATION


def test_program_standing_scores_what_a_scorer_scores(uniform_run):
    _, result = uniform_run
    model = result["model"]
    split = validation_split()
    standing = program_standing(model, "uci_digits", split, random_count=4, seed=3)
    program = model.program("uci_digits")
    scorer = ProgramScorer(model, "uci_digits", split)
    assert standing["kept_accuracy"] == scorer.accuracy([program])[0]
    changes = single_changes(program, model.bank_size)
    assert standing["change_accuracies"] == scorer.accuracy(changes)
    again = program_standing(model, "uci_digits", split, random_count=4, seed=3)
    assert again.pop("seconds") >= 0 and standing.pop("seconds") >= 0
    assert again == standing


def test_single_changes_are_every_one_position_change():
    changes = single_changes([0, 2], 3)
    assert changes == [[1, 2], [2, 2], [0, 0], [0, 1]]


def test_uniform_learning_without_a_search_is_refused():
    config = tiny_config(program_learning="uniform", program_search="argmax")
    with pytest.raises(InvalidInputError, match="program_search must name a search"):
        validate(config)


def test_the_programs_figure_draws_the_standing_row(uniform_run):
    _, result = uniform_run
    figure = program_figure(programs_report(result["model"]), result["metrics"]["discretisation"])
    titles = [axis.get_title() for axis in figure.axes]
    assert len(figure.axes) == 2 + 1  # mixture, program, standing
    assert titles[-1].startswith("kept above ")


def test_round_steps_spread_over_the_phase_on_loop_boundaries():
    assert rounds.round_steps(150, 4, 10) == [40, 80, 110, 150]
    assert rounds.round_steps(20, 3, 10) == [10, 20]  # a short phase has fewer
    assert rounds.round_steps(5, 4, 10) == [5]


TARGET = [2, 1, 0]


class TargetScorer:
    """Scores a program by the share of its positions equal to TARGET's."""

    candidates_per_call = 4

    def __init__(self, model, task, split):
        self.model = model

    def accuracy(self, programs):
        return [float(np.mean(np.array(p) == TARGET)) for p in programs]


class FlatScorer(TargetScorer):
    def accuracy(self, programs):
        return [0.5 for _ in programs]


def rounds_over(scorer, monkeypatch):
    monkeypatch.setattr(rounds, "ProgramScorer", scorer)
    model = ComposedModel(
        [TaskSpec("digits", (8, 8, 1), 10)],
        bank_size=3,
        depth=3,
        channels=8,
        resolution=4,
        programs={"digits": [0, 0, 0]},
    )
    images = np.random.default_rng(0).integers(0, 256, (64, 8, 8, 1), np.uint8)
    searched = rounds.SearchRounds(
        model, {"digits": None}, {"digits": images}, "local", budget=30, seed=0, steps=[10, 20]
    )
    return model, searched


def test_a_search_round_keeps_a_change_only_when_it_scores_higher(monkeypatch):
    model, searched = rounds_over(TargetScorer, monkeypatch)
    searched(5)  # not a round step
    assert searched.log["digits"] == []
    searched(10)
    first = searched.log["digits"][-1]
    assert first["changed"] and first["best_accuracy"] == 1.0
    assert first["start_accuracy"] == pytest.approx(1 / 3)  # [0, 0, 0] has the last right
    assert model.program("digits") == TARGET == first["program"]
    validate_program("digits", model.program("digits"), 3, 3)
    searched(20)  # nothing scores higher than the target: the program stays
    second = searched.log["digits"][-1]
    assert not second["changed"] and model.program("digits") == TARGET


def test_a_search_round_keeps_the_program_on_ties(monkeypatch):
    model, searched = rounds_over(FlatScorer, monkeypatch)
    searched(10)
    assert not searched.log["digits"][-1]["changed"]
    assert model.program("digits") == [0, 0, 0]


def test_a_resumed_run_forgets_the_rounds_its_checkpoint_predates(monkeypatch):
    _, searched = rounds_over(TargetScorer, monkeypatch)
    searched(10)
    searched(20)
    searched.forget_from(20)
    assert [record["step"] for record in searched.log["digits"]] == [10]


@pytest.fixture(scope="module")
def search_run():
    config = tiny_config(
        program_learning="search",
        learning_fraction=0.5,
        program_search="local",
        search_budget=7,
        search_rounds=2,
        standing_candidates=10,
        initial_programs="random",
    )
    return config, run_experiment(config, model_dir=None, verbose=False)


def test_search_learning_runs_its_rounds_and_records_them(search_run):
    config, result = search_run
    model, metrics = result["model"], result["metrics"]
    entry = metrics["discretisation"]["uci_digits"]
    assert [record["step"] for record in entry["rounds"]] == [10, 15]
    for record in entry["rounds"]:
        assert record["changed"] == (record["best_accuracy"] > record["start_accuracy"])
        assert (record["program"] != record["start"]) == record["changed"]
        assert 1 <= record["evaluations"] <= 7
    assert entry["program"] == entry["rounds"][-1]["program"] == model.program("uci_digits")
    assert model.selection("uci_digits") == "hard"
    # the standing is scored on the validation examples, not the search's
    assert entry["standing"]["examples"] == VALIDATION
    # the search examples train after the learning phase: nothing is lost
    train, _ = load_task_data(get_task("uci_digits"))
    assert metrics["tasks"]["uci_digits"]["train_examples"] == len(train) - VALIDATION


def test_the_programs_figure_draws_the_last_search_round(search_run):
    _, result = search_run
    discretisation = copy.deepcopy(result["metrics"]["discretisation"])
    del discretisation["uci_digits"]["standing"]  # the default run records no standing
    figure = program_figure(programs_report(result["model"]), discretisation)
    last = discretisation["uci_digits"]["rounds"][-1]
    assert len(figure.axes) == 1 + 1  # program, last round
    assert figure.axes[-1].get_title() == f"step 15: best of {len(last['candidate_accuracies'])}"
    kept_line = figure.axes[-1].lines[0].get_xdata()[0]
    assert kept_line == max(last["candidate_accuracies"])
