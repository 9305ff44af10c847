"""End to end: the training binary on real data, in a subprocess, as a user runs it."""

import json

import pytest
from conftest import run_module

from compose.training.models import load_trained_model


def train(*args, env_extra=None):
    return run_module("compose.train", *args, env_extra=env_extra)


def test_trains_real_tasks_writes_artefacts_and_resumes(tmp_path, shared_data_dir):
    args = [
        "--tasks=uci_digits,usps",
        f"--data_dir={shared_data_dir}",
        f"--model_dir={tmp_path}",
        "--steps=200",
        "--depth=4",
        "--channels=16",
        "--resolution=8",
        "--params_override=train.program_learning=sampled,train.program_search=argmax,"
        "train.learning_fraction=0.25,train.checkpoint_every=100,train.final_temperature=0.5,"
        "train.mixture_entropy_weight=0.01,"
        "train.mixture_init_stddev=2.0,train.lr_schedule=constant",
    ]  # constant: cosine decay halves the learning a 200-step run gets (USPS 0.53 vs 0.80)
    first = train(*args)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "uci_digits" in first.stdout and "mean" in first.stdout
    for name in (
        "config.json",
        "programs.json",
        "metrics.json",
        "programs.png",
        "checkpoints/checkpoint",
    ):
        assert (tmp_path / name).exists(), name
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["step"] == 200
    # Real data, 200 steps: far above the 10% of chance on both digit tasks.
    assert metrics["tasks"]["uci_digits"]["test_accuracy"] > 0.6, metrics
    assert metrics["tasks"]["usps"]["test_accuracy"] > 0.6, metrics
    programs = json.loads((tmp_path / "programs.json").read_text())["programs"]
    assert all(entry["selection"] == "hard" for entry in programs.values())
    assert all(len(entry["program"]) == 4 for entry in programs.values())
    for task, entry in metrics["discretisation"].items():  # sampled for 50 steps, then argmax
        assert entry["program"] == programs[task]["program"]
        assert 0.0 < entry["accuracy_after"] <= 1.0
        # Sampled programs run hard forward passes: discretising changes nothing.
        assert metrics["tasks"][task]["discretisation_gap"] == 0.0
        assert entry["accuracy_before_discretisation"] == entry["accuracy_after"]
        # Random initial logits (std 2): far from uniform mixtures (max weight 0.25).
        assert max(max(row) for row in entry["learned_mixture"]) > 0.5
    model = load_trained_model(str(tmp_path))
    # Annealed before each 10-step loop: the last relaxed loop started at step 40 of 50.
    assert float(model.path("usps").temperature.numpy()) == pytest.approx(0.5 ** (40 / 50))
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["model"]["depth"] == 4 and config["train"]["learning_fraction"] == 0.25

    again = train(
        *args[:-1],
        "--steps=220",
        "--params_override=train.program_learning=sampled,train.program_search=argmax,"
        "train.learning_fraction=0.25",
    )
    assert again.returncode == 0, again.stderr[-3000:]
    assert "resumed from step 200" in again.stdout
    assert json.loads((tmp_path / "metrics.json").read_text())["step"] == 220
    resumed_programs = json.loads((tmp_path / "programs.json").read_text())["programs"]
    assert {t: e["program"] for t, e in resumed_programs.items()} == {
        t: e["program"] for t, e in programs.items()
    }, "hard programs survive the resume"

    clash = train(*args[:3], "--depth=5")
    assert clash.returncode != 0
    assert "holds a run with model=" in clash.stderr and "use a new --model_dir" in clash.stderr


def test_bad_inputs_fail_with_one_clear_message(tmp_path):
    unknown = train("--tasks=fashion_mnst", f"--model_dir={tmp_path / 'a'}", "--steps=1")
    assert unknown.returncode != 0
    assert "unknown task 'fashion_mnst'. Did you mean fashion_mnist" in unknown.stderr

    no_dir = train(
        "--tasks=usps",
        f"--model_dir={tmp_path / 'b'}",
        "--steps=1",
        env_extra={"COMPOSE_DATA_DIR": ""},
    )
    assert no_dir.returncode != 0
    assert "task 'usps' reads its files from --data_dir" in no_dir.stderr

    programs_file = tmp_path / "programs.json"
    programs_file.write_text('{"uci_digits": [0, 9]}')
    bad_program = train(
        "--tasks=uci_digits",
        f"--model_dir={tmp_path / 'c'}",
        "--steps=1",
        "--depth=2",
        f"--programs_file={programs_file}",
        "--program_learning=none",
    )
    assert bad_program.returncode != 0
    assert "task 'uci_digits': block index 9 at position 1 is out of range" in bad_program.stderr
