"""One worker of the two-process MultiWorkerMirroredStrategy test.

  TF_CONFIG=... python tests/multi_worker_child.py DATA.npz WEIGHTS_OUT.npz

Trains the model of :func:`build_and_train` on the real data the test saved
and writes the final weights, so the test can compare the workers.
"""

import sys

import numpy as np

from compose.config import ExperimentConfig
from compose.training import Supervised, Trainer, build_model, build_optimizer
from compose.training.distribute import get_strategy
from tasks import Split


def build_and_train(strategy, data_path, steps=8):
    """The small joint-training run every side of the test performs."""
    arrays = np.load(data_path)
    tasks = sorted({key.split("/")[0] for key in arrays.files})
    splits = {t: Split(arrays[f"{t}/images"], arrays[f"{t}/labels"]) for t in tasks}
    config = ExperimentConfig(tasks=tasks)
    config.model.depth, config.model.channels, config.model.resolution = 3, 8, 4
    with strategy.scope():
        model = build_model(config)
        optimizer = build_optimizer("adam", 2e-3, model.trainable_variables)
    objectives = [Supervised(task) for task in tasks]
    trainer = Trainer(model, optimizer, strategy, splits, objectives, 16, steps_per_loop=4)
    trainer.train(steps, verbose=False)
    return model


if __name__ == "__main__":
    strategy = get_strategy("multi_worker_mirrored")  # before any other TF work
    model = build_and_train(strategy, sys.argv[1])
    np.savez(sys.argv[2], *[np.asarray(v) for v in model.variables])
    print(f"worker done: {strategy.num_replicas_in_sync} replicas in sync", flush=True)
