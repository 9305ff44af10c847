"""Transfer to a new task: what each mode trains, what it leaves bit-identical, what it adds."""

import dataclasses
import json

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import random_images, run_module, train_tiny_model_dir
from test_continual import logits, new_task_split, trained_two_task_model

from compose import TaskSpec
from compose.core.gates import GATE_INIT, BlockGates
from compose.grow.task_transfer import MODES, TransferOptions, transfer_task
from compose.training import evaluate

NEW = TaskSpec("halves", (7, 7, 1), 2)


def own_values(model, task):
    path = model.path(task)
    return {
        part: [np.asarray(v).copy() for v in layer.trainable_variables]
        for part, layer in (("stem", path.stem), ("norm", path.norm), ("head", path.head))
    }


@pytest.mark.parametrize("mode", MODES)
def test_every_mode_learns_the_task_and_leaves_the_bank_and_old_tasks_bit_identical(mode):
    old = trained_two_task_model()
    inputs = {"bars": random_images((6, 6, 1), 16), "dots": random_images((5, 5, 3), 16)}
    before = logits(old, inputs)
    options = TransferOptions(mode=mode, steps=60, batch_size=16, learning_rate=1e-2)
    grown, report = transfer_task(old, NEW, new_task_split(), "bars", options, verbose=False)

    after = logits(grown, inputs)
    for task in before:
        np.testing.assert_array_equal(after[task], before[task])
    for weight, old_weight in zip(grown.bank.weights, old.bank.weights, strict=True):
        np.testing.assert_array_equal(np.asarray(weight)[: old.bank_size], np.asarray(old_weight))
    assert evaluate(grown, {"halves": new_task_split()}, batch_size=32)["halves"]["accuracy"] > 0.9
    assert report["mode"] == mode and report["program"] == grown.program("halves")
    assert grown.selection("halves") == "hard"
    assert report["train_examples"] == 64 - 12  # a fifth held out for every mode alike


def test_head_mode_copies_the_source_and_trains_only_stem_and_head():
    old = trained_two_task_model()
    options = TransferOptions(mode="head", steps=20, batch_size=16)
    grown, report = transfer_task(old, NEW, new_task_split(), "bars", options, verbose=False)
    source, new = old.path("bars").norm, grown.path("halves").norm
    for site in ("expand", "depthwise", "project"):  # the bank layers' scales stay the source's
        np.testing.assert_array_equal(new.gamma[site], source.gamma[site])
        np.testing.assert_array_equal(new.beta[site], source.beta[site])
    for site in ("stem", "head"):
        assert not np.array_equal(new.gamma[site], source.gamma[site]), site
    stem = own_values(grown, "halves")["stem"]
    source_stem = own_values(old, "bars")["stem"]
    assert any(np.abs(v - s).max() > 0 for v, s in zip(stem, source_stem, strict=True))
    assert report["program"] == old.program("bars") and report["stem"] == "from the source"
    assert report["program_changed"] is False
    stem_and_head = sum(
        v.size for part in ("stem", "head") for v in own_values(grown, "halves")[part]
    )
    norms = sum(new.gamma[site].shape.num_elements() * 2 for site in ("stem", "head"))
    assert report["new_params"] == stem_and_head + norms


def test_full_mode_clones_the_source_blocks_and_counts_them():
    old = trained_two_task_model()  # bars runs [0, 1, 1]: two distinct blocks
    options = TransferOptions(mode="full", steps=10, batch_size=16)
    grown, report = transfer_task(old, NEW, new_task_split(), "bars", options, verbose=False)
    assert grown.bank_size == 5 and report["program"] == [3, 4, 4]
    own = sum(v.size for values in own_values(grown, "halves").values() for v in values)
    assert report["new_params"] == own + 2 * grown.bank.block_size


def test_program_mode_chooses_the_best_closed_form_candidate_and_reports_the_search():
    old = trained_two_task_model()
    options = TransferOptions(mode="program", steps=20, batch_size=16, search_budget=15)
    grown, report = transfer_task(old, NEW, new_task_split(), "bars", options, verbose=False)
    assert report["source_program"] == [0, 1, 1]
    assert 2 + options.random_starts <= report["candidates_scored"] <= 15
    assert report["closed_form_accuracy"] >= report["source_closed_form_accuracy"]
    assert report["program_changed"] == (report["program"] != [0, 1, 1])
    assert report["search_s"] > 0


def test_program_mode_races_the_finalists_and_keeps_the_best_on_held_out_examples():
    old = trained_two_task_model()
    options = TransferOptions(mode="program", steps=40, batch_size=16, search_budget=10)
    grown, report = transfer_task(old, NEW, new_task_split(), "bars", options, verbose=False)
    race = report["race"]
    assert report["race_steps"] == 10
    pairs = [(entry["stem_from"], entry["program"]) for entry in race]
    assert pairs[0][0] == "bars"  # the closed-form choice, through the source's stem
    assert ("bars", [0, 1, 1]) in pairs and ("dots", [2, 0]) in pairs
    assert len(set(map(str, pairs))) == len(pairs)  # duplicates are raced once
    best = max(race, key=lambda entry: entry["accuracy"])
    assert report["program"] == best["program"] == grown.program("halves")
    stem = {"bars": "from the source", "dots": "new (dots's image channels differ)"}
    assert report["stem"] == stem[best["stem_from"]]

    unraced = dataclasses.replace(options, race_fraction=0.0)
    grown, report = transfer_task(old, NEW, new_task_split(), "bars", unraced, verbose=False)
    assert "race" not in report and report["stem"] == "from the source"


def test_gated_mode_counts_only_open_deltas_of_blocks_it_runs():
    old = trained_two_task_model()
    options = TransferOptions(mode="gated", steps=20, batch_size=16, gate_sparsity=0.0)
    grown, report = transfer_task(old, NEW, new_task_split(), "bars", options, verbose=False)
    assert report["open_gates"] == [0, 1]  # no penalty: the program's gates stay open
    norm_stem_head = sum(v.size for values in own_values(grown, "halves").values() for v in values)
    block = grown.bank.block_size
    assert report["new_params"] == norm_stem_head + grown.bank_size + 2 * block


def test_gates_switch_deltas_and_pass_gradients_straight_to_the_scores():
    gates = BlockGates({"w": (2, 2)}, bank_size=3)
    gates.build()
    np.testing.assert_allclose(np.asarray(gates.scores), [GATE_INIT] * 3)
    gates.factors[0][0].assign(np.ones((3, 2, 2), np.float32))  # full deltas: one factor
    gates.scores.assign([0.2, 0.05, 0.1])
    with tf.GradientTape() as tape:
        # A one-hot mixture runs one block: its gated delta alone.
        deltas = [gates(tf.one_hot(k, 3))[0] for k in range(3)]
        loss = sum((k + 1.0) * tf.reduce_sum(delta) for k, delta in enumerate(deltas))
    np.testing.assert_array_equal([delta.numpy().sum() for delta in deltas], [4.0, 0.0, 4.0])
    # d loss / d score_k = sum(delta_k * weight_k), also for the closed gate 1.
    np.testing.assert_allclose(tape.gradient(loss, gates.scores).numpy(), [4.0, 8.0, 12.0])
    assert gates.open_blocks() == [0, 2]
    assert float(gates.sparsity()) == pytest.approx(0.35)


def test_a_new_gated_task_starts_exactly_on_the_shared_blocks():
    old = trained_two_task_model()
    options = TransferOptions(mode="gated", steps=1, batch_size=16, learning_rate=1e-9)
    grown, _ = transfer_task(old, NEW, new_task_split(), "bars", options, verbose=False)
    path = grown.path("halves")
    images = tf.constant(new_task_split().images[:8])
    with_gates = grown.call_task("halves", images).numpy()
    for (delta,) in path.gates.factors:
        delta.assign(tf.zeros_like(delta) + 1.0)
    path.gates.scores.assign(tf.zeros_like(path.gates.scores))  # all closed
    np.testing.assert_allclose(grown.call_task("halves", images).numpy(), with_gates, atol=1e-4)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"mode": "adapter"}, "mode must be one of head, program"),
        ({"steps": -1}, "steps must be >= 0"),
        ({"gate_fraction": 1.0}, r"gate_fraction must be in \(0, 1\)"),
        ({"search_budget": 0}, "search_budget must be >= 1"),
        ({"gate_sparsity": -1.0}, "gate_sparsity must be >= 0"),
        ({"race_fraction": 1.0}, r"race_fraction must be in \[0, 1\)"),
    ],
)
def test_bad_options_are_refused_with_the_field_named(change, message):
    with pytest.raises(ValueError, match=f"invalid config: transfer.{message}"):
        TransferOptions(**change)


def test_an_unknown_source_task_is_named():
    with pytest.raises(LookupError, match="unknown task 'nope'"):
        transfer_task(trained_two_task_model(), NEW, new_task_split(), "nope", verbose=False)


def test_transfer_binary_on_real_data_writes_reports_and_servable_models(tmp_path, shared_data_dir):
    train_tiny_model_dir(tmp_path, ["uci_digits"], shared_data_dir)
    checkpoint_index = (tmp_path / "checkpoints" / "checkpoint").read_text()

    transferred = run_module(
        "compose.transfer",
        f"--model_dir={tmp_path}",
        "--task=usps",
        "--modes=head,gated",
        "--steps=30",
    )
    assert transferred.returncode == 0, transferred.stderr[-3000:]
    assert "usps from uci_digits: gated, 30 steps" in transferred.stdout
    report = json.loads((tmp_path / "transfer" / "usps" / "transfer.json").read_text())
    assert sorted(report["modes"]) == ["gated", "head"]
    for entry in report["modes"].values():
        assert entry["test_accuracy"] > 0.2  # 10 classes; 30 steps on real USPS
        assert entry["source_task"] == "uci_digits" and entry["stem"] == "from the source"
    assert (tmp_path / "checkpoints" / "checkpoint").read_text() == checkpoint_index
    again = run_module(
        "compose.transfer", f"--model_dir={tmp_path}", "--task=usps", "--modes=head", "--steps=5"
    )
    assert again.returncode == 0, again.stderr[-3000:]
    merged = json.loads((tmp_path / "transfer" / "usps" / "transfer.json").read_text())
    assert merged["modes"]["gated"] == report["modes"]["gated"]  # kept from the first run
    assert merged["modes"]["head"]["steps"] == 5

    gated_dir = tmp_path / "transfer" / "usps" / "gated"
    loaded = keras.models.load_model(gated_dir / "model.keras")
    assert loaded.task_names == ["uci_digits", "usps"] and loaded.path("usps").gates is not None
    exported = run_module("compose.export", f"--model_dir={gated_dir}", "--version=1")
    assert exported.returncode == 0, exported.stderr[-3000:]
    served = tf.saved_model.load(str(gated_dir / "export" / "1"))
    images = tf.constant(random_images((16, 16, 1), 8))
    np.testing.assert_allclose(
        served.signatures["serve_usps"](images=images)["logits"].numpy(),
        loaded.call_task("usps", images).numpy(),
        atol=1e-5,
    )


def test_transfer_binary_refuses_unknown_modes(tmp_path):
    result = run_module(
        "compose.transfer", f"--model_dir={tmp_path}", "--task=usps", "--modes=head,adapter"
    )
    assert result.returncode != 0
    assert "unknown --modes ['adapter']" in result.stderr
