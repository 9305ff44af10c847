"""Shared test set-up: quiet TF, two logical CPUs, small models, the shared data."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pathlib  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402
import tensorflow_datasets as tfds  # noqa: E402

_cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(_cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
tfds.disable_progress_bar()

REPO = pathlib.Path(__file__).resolve().parents[1]
SHARED_DATA = os.environ.get("COMPOSE_DATA_DIR") or str(REPO.parent / "shared" / "data")


def run_module(module, *args, env_extra=None):
    """``python -m module args`` from the repository, as a user runs a binary."""
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=REPO,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(env_extra or {})},
        capture_output=True,
        text=True,
        timeout=600,
    )


TINY_MODEL_FLAGS = ("--depth=3", "--bank_size=3", "--channels=8", "--resolution=4")
"""A model small enough that the binaries' end-to-end tests train in seconds."""


def train_tiny_model_dir(model_dir, tasks, data_dir, steps=40):
    """Runs ``compose.train`` on real ``tasks`` into ``model_dir`` with a tiny model."""
    trained = run_module(
        "compose.train",
        f"--tasks={','.join(tasks)}",
        f"--data_dir={data_dir}",
        f"--model_dir={model_dir}",
        f"--steps={steps}",
        *TINY_MODEL_FLAGS,
    )
    assert trained.returncode == 0, trained.stderr[-3000:]


@pytest.fixture(scope="session")
def shared_data_dir():
    """The shared real ``.npz`` data (docs/data.md): ``$COMPOSE_DATA_DIR`` or ../shared/data.

    A clone without it skips the tests that read it, naming what is missing;
    CI sets ``COMPOSE_REQUIRE_SHARED_DATA=1``, which turns those skips into
    failures so that every real-data test runs there.
    """
    if os.path.exists(os.path.join(SHARED_DATA, "usps.npz")):
        return SHARED_DATA
    message = (
        f"needs the shared real data (mnist_partial.npz, usps.npz, cifar10_partial.npz; "
        f"docs/data.md) at {SHARED_DATA}; set COMPOSE_DATA_DIR"
    )
    if os.environ.get("COMPOSE_REQUIRE_SHARED_DATA") == "1":
        pytest.fail(message)
    pytest.skip(message)


def random_images(shape, batch=4, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (batch, *shape), dtype=np.uint8)
