r"""Export size and per-task latency: the SavedModel against the in-process model.

Trains the default suite briefly on real data (or loads ``--model_dir``),
exports it with :func:`compose.serving.export_saved_model`, and times, per
task and batch size (1 and 64, real test images), one call of the loaded
SavedModel's ``serve_<task>`` signature against one call of the library
model (``call_task`` + softmax in a ``tf.function``), interleaved, in the
same process.

  python -m benchmarks.serving --quick
  python -m benchmarks.serving --model_dir=runs/main
"""

import dataclasses
import json
import os
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import app, flags, logging  # noqa: E402

from compose.config import ExperimentConfig  # noqa: E402
from compose.recipes.joint import run_experiment  # noqa: E402
from compose.serving import directory_bytes, export_saved_model, stored_values  # noqa: E402
from compose.training.models import load_trained_model, trained_config  # noqa: E402
from tasks import default_data_dir, default_tfds_dir, get_task, load_task_data  # noqa: E402

flags.DEFINE_bool("quick", False, "Fewer training steps and timed calls.")
flags.DEFINE_string("model_dir", None, "A trained model dir to export (default: train one).")
flags.DEFINE_string("data_dir", None, "Directory of the .npz files (default $COMPOSE_DATA_DIR).")
FLAGS = flags.FLAGS

BATCH_SIZES = (1, 64)


def latencies_ms(functions, images, calls):
    """``{name: [ms per call]}``: ``calls`` calls of each function, interleaved
    so that machine noise falls on both alike, after two warm-up calls each."""
    times = {name: [] for name in functions}
    for _ in range(2):
        for function in functions.values():
            function(images)
    for _ in range(calls):
        for name, function in functions.items():
            start = time.perf_counter()
            np.asarray(function(images)["probabilities"])
            times[name].append(1000 * (time.perf_counter() - start))
    return times


def summary(times):
    return {
        "p50_ms": round(float(np.percentile(times, 50)), 3),
        "p99_ms": round(float(np.percentile(times, 99)), 3),
    }


def trained_model(quick, data_dir):
    """``(model, data_dir)``: ``--model_dir``'s model, or the default suite trained briefly."""
    if FLAGS.model_dir:
        config = trained_config(FLAGS.model_dir)
        model = load_trained_model(FLAGS.model_dir, config)
        return model, config.data_dir or data_dir
    config = ExperimentConfig(data_dir=data_dir, tfds_dir=default_tfds_dir())
    config.train = dataclasses.replace(config.train, steps=60 if quick else 300)
    return run_experiment(config, model_dir=None, verbose=False)["model"], data_dir


def main(argv):
    del argv
    logging.set_verbosity(logging.WARNING)
    calls = 30 if FLAGS.quick else 200
    model, data_dir = trained_model(FLAGS.quick, FLAGS.data_dir or default_data_dir())
    export_dir = tempfile.mkdtemp(prefix="compose-serving-")
    path = export_saved_model(model, export_dir, version=1)
    loaded = tf.saved_model.load(path)

    tasks = {}
    for task in model.task_names:
        _, test = load_task_data(get_task(task), data_dir, default_tfds_dir())

        @tf.function
        def in_process(images, task=task):
            logits = model.call_task(task, images, training=False)
            return {"probabilities": tf.nn.softmax(logits), "logits": logits}

        signature = loaded.signatures[f"serve_{task}"]
        tasks[task] = {}
        for batch in BATCH_SIZES:
            images = tf.constant(test.images[:batch])
            times = latencies_ms(
                {"saved": lambda x, s=signature: s(images=x), "library": in_process},
                images,
                calls,
            )
            saved, library = summary(times["saved"]), summary(times["library"])
            tasks[task][f"batch_{batch}"] = {
                "saved_model": saved,
                "in_process": library,
                "p50_ratio_saved_over_in_process": round(saved["p50_ms"] / library["p50_ms"], 3),
            }
    result = {
        "benchmark": "serving",
        "quick": FLAGS.quick,
        "calls_per_measurement": calls,
        "export_bytes": directory_bytes(path),
        "stored_values": stored_values(path),
        "model_parameters": model.count_params(),
        "stored_over_parameters": round(stored_values(path) / model.count_params(), 4),
        "signatures": sorted(loaded.signatures),
        "tasks": tasks,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    app.run(main)
