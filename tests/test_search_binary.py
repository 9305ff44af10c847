"""End to end: train on real data, then search every task's program with the binary."""

import json

from conftest import run_module


def test_search_binary_writes_programs_and_a_candidate_log(tmp_path, shared_data_dir):
    trained = run_module(
        "compose.train",
        "--tasks=uci_digits,usps",
        f"--data_dir={shared_data_dir}",
        f"--model_dir={tmp_path}",
        "--steps=60",
        "--depth=3",
        "--bank_size=3",
        "--channels=8",
        "--resolution=4",
        "--program_learning=sampled",
        "--program_search=local",
        "--params_override=train.search_budget=8,train.search_validation_examples=300",
    )
    assert trained.returncode == 0, trained.stderr[-3000:]
    final_programs = json.loads((tmp_path / "programs.json").read_text())["programs"]
    for task, entry in json.loads((tmp_path / "metrics.json").read_text())[
        "discretisation"
    ].items():  # searched from the argmax program on 300 held-out training examples
        assert entry["search"]["strategy"] == "local"
        assert 1 <= entry["search"]["evaluations"] <= 8
        assert entry["search"]["best_accuracy"] >= entry["search"]["start_accuracy"]
        assert len(entry["argmax_program"]) == 3
        assert entry["program"] == final_programs[task]["program"]
    checkpoint_index = (tmp_path / "checkpoints" / "checkpoint").read_text()

    searched = run_module(
        "compose.search", f"--model_dir={tmp_path}", "--strategy=local", "--budget=12"
    )
    assert searched.returncode == 0, searched.stderr[-3000:]
    assert "uci_digits: local search, budget 12" in searched.stdout
    report = json.loads((tmp_path / "search" / "programs.json").read_text())
    assert report["search"]["strategy"] == "local" and sorted(report["programs"]) == [
        "uci_digits",
        "usps",
    ]
    candidates = [
        json.loads(line)
        for line in (tmp_path / "search" / "candidates.jsonl").read_text().splitlines()
    ]
    for task, entry in report["programs"].items():
        mine = [c for c in candidates if c["task"] == task]
        assert 1 <= len(mine) == entry["evaluations"] <= 12
        assert entry["score"] == max(c["score"] for c in mine)
        assert mine[0]["program"] == entry["start_program"]
        assert entry["validation_accuracy"] >= entry["start_validation_accuracy"]
        # one evaluation path: the start program's test accuracy is compose.train's
        trained_test = json.loads((tmp_path / "metrics.json").read_text())["tasks"][task]
        assert entry["start_test_accuracy"] == trained_test["test_accuracy"]
    assert (tmp_path / "checkpoints" / "checkpoint").read_text() == checkpoint_index

    retrained = run_module(
        "compose.train",
        "--tasks=uci_digits,usps",
        f"--data_dir={shared_data_dir}",
        f"--model_dir={tmp_path / 'again'}",
        "--steps=10",
        "--depth=3",
        "--bank_size=3",
        "--channels=8",
        "--resolution=4",
        f"--programs_file={tmp_path / 'search' / 'programs.json'}",
        "--program_learning=none",
    )
    assert retrained.returncode == 0, retrained.stderr[-3000:]
    programs = json.loads((tmp_path / "again" / "programs.json").read_text())["programs"]
    assert programs["usps"]["program"] == report["programs"]["usps"]["program"]

    unknown = run_module("compose.search", f"--model_dir={tmp_path}", "--tasks=uspss")
    assert unknown.returncode != 0 and "unknown task 'uspss'" in unknown.stderr
