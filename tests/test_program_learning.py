"""Uniform single-path training and the standing of kept programs."""

import dataclasses

import numpy as np
import pytest

from compose.config import ExperimentConfig, validate
from compose.errors import InvalidInputError
from compose.plots import program_figure
from compose.search import ProgramScorer
from compose.search.standing import program_standing, single_changes
from compose.training.experiment import programs_report, run_experiment
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
    assert search["searched_validation_accuracy"] >= search["argmax_validation_accuracy"]
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
    config = tiny_config(program_learning="uniform")
    with pytest.raises(InvalidInputError, match="program_search must name a search"):
        validate(config)


def test_the_programs_figure_draws_the_standing_row(uniform_run):
    _, result = uniform_run
    figure = program_figure(programs_report(result["model"]), result["metrics"]["discretisation"])
    titles = [axis.get_title() for axis in figure.axes]
    assert len(figure.axes) == 2 + 1  # mixture, program, standing
    assert titles[-1].startswith("kept above ")
