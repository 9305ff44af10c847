"""MultiWorkerMirroredStrategy: two worker processes on localhost (TF_CONFIG)."""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import tensorflow as tf
from conftest import REPO
from multi_worker_child import build_and_train

from tasks import get_task, load_task_data


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def test_two_workers_train_in_sync_and_match_one_replica(tmp_path, shared_data_dir):
    data = {}
    for task in ("uci_digits", "usps"):
        train, _ = load_task_data(get_task(task), shared_data_dir)
        data[f"{task}/images"], data[f"{task}/labels"] = train.images[:512], train.labels[:512]
    np.savez(tmp_path / "data.npz", **data)

    workers = [f"localhost:{port}" for port in free_ports(2)]
    processes = []
    for index in range(2):
        tf_config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
        processes.append(
            subprocess.Popen(
                [
                    sys.executable,
                    str(REPO / "tests" / "multi_worker_child.py"),
                    str(tmp_path / "data.npz"),
                    str(tmp_path / f"worker{index}.npz"),
                ],
                cwd=REPO,
                env={**os.environ, "TF_CONFIG": json.dumps(tf_config), "TF_CPP_MIN_LOG_LEVEL": "2"},
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    outputs = [process.communicate(timeout=600) for process in processes]
    for process, (stdout, stderr) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, stderr[-3000:]
        assert "worker done: 2 replicas in sync" in stdout

    first, second = (np.load(tmp_path / f"worker{i}.npz") for i in range(2))
    assert len(first.files) == len(second.files) > 0
    for name in first.files:
        np.testing.assert_array_equal(first[name], second[name], err_msg=name)

    # Each worker computed half of every global batch; one replica computing all
    # of it follows the same path up to float reassociation (as 2 local replicas do).
    single = build_and_train(tf.distribute.get_strategy(), tmp_path / "data.npz")
    for index, variable in enumerate(single.variables):
        np.testing.assert_allclose(first[f"arr_{index}"], np.asarray(variable), atol=2e-3)
    initial = build_and_train(tf.distribute.get_strategy(), tmp_path / "data.npz", steps=0)
    moved = max(
        np.abs(first[f"arr_{i}"] - np.asarray(v)).max() for i, v in enumerate(initial.variables)
    )
    assert moved > 1e-2, "the workers trained (well beyond the tolerance above)"
