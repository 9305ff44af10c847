"""Growing one system over a stream of new tasks, each evolved over the frozen system (muNet).

What ``compose.grow`` runs: every task is added in turn to the model trained in
the model dir by :func:`compose.grow.system.grow_system`.  ``OUTPUT_DIR``
(default ``MODEL_DIR/grow``) holds ``model.keras``, a record per task under
``tasks/`` and ``grow.json``; killed at any point, the same call continues
after the last finished task with the same end result.  The model dir's own
checkpoints are not changed.
"""

import os

import tensorflow as tf

from compose.config import ExperimentConfig
from compose.files import check_writable, lock_directory, write_config
from compose.grow.system import check_growth_dir, check_stream, grow_system, split_for_growth
from compose.training.models import load_trained_model
from tasks import get_task, load_task_data


def run_growth(
    config: ExperimentConfig, model_dir: str, task_names, output_dir: str | None = None
) -> list[dict]:
    """Adds ``task_names`` in order under ``config.grow``; returns one record per task.

    The stream, every task's data and the output dir (a run of the same
    stream and options, or a new dir) are checked before anything is written.
    """
    options = config.grow
    # Every candidate is a new model, so TensorFlow's retracing warnings say nothing.
    tf.get_logger().setLevel("ERROR")
    root = load_trained_model(model_dir, config)
    tasks = [get_task(name) for name in task_names]
    check_stream(root, [task.name for task in tasks])
    stream = []
    for task in tasks:
        train, test = load_task_data(task, config.data_dir, config.tfds_dir)
        split_for_growth(train, options, task.name, options.evolve.batch_size)
        stream.append((task, train, test))
    output_dir = output_dir or os.path.join(model_dir, "grow")
    check_writable(output_dir, "--output_dir")
    check_growth_dir(model_dir, [task.name for task in tasks], output_dir, options)
    os.makedirs(output_dir, exist_ok=True)
    lock_directory(output_dir)
    write_config(config, output_dir)
    records = grow_system(root, model_dir, stream, output_dir, options)
    for record in records:
        print(
            f"{record['task']}: test {record['test_accuracy']:.4f}, added "
            f"{record['added_params']}, system {record['system_params']}, {record['seconds']}s"
        )
    print(f"wrote {output_dir}/model.keras, grow.json and tasks/")
    return records
