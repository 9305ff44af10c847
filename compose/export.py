r"""Exports a trained model dir as a SavedModel for TF Serving.

One signature per task (``serve_<task>``) plus ``serving_default``; raw uint8
images in, ``probabilities`` and ``logits`` out; each variable stored once;
a new timestamped version directory under ``--export_dir``.

  python -m compose.export --model_dir=runs/main
  python -m compose.export --model_dir=runs/main --export_dir=/serving/compose \
      --tasks=fashion_mnist
  python -m compose.export --model_dir=runs/main/transfer/mnist_partial/program
  saved_model_cli show --dir=runs/main/export/<version> --all
"""

import os

from absl import flags

from compose.cli import build_config, run_binary

FLAGS = flags.FLAGS
flags.mark_flag_as_required("model_dir")
flags.DEFINE_string(
    "export_dir", None, "Base directory of the versions (default: MODEL_DIR/export)."
)
flags.DEFINE_list("tasks", None, "Tasks to export (default: all); the first is serving_default.")
flags.DEFINE_integer(
    "version", None, "Version directory number (default: the Unix time).", lower_bound=0
)


def main(argv):
    import keras

    from compose.files import check_writable
    from compose.serving import directory_bytes, export_saved_model, stored_values
    from compose.training.models import load_trained_model

    build_config(FLAGS, sections=(), flag_fields={})  # no config values: say so if given
    export_dir = FLAGS.export_dir or os.path.join(FLAGS.model_dir, "export")
    check_writable(export_dir, "--export_dir")
    keras_file = os.path.join(FLAGS.model_dir, "model.keras")
    if os.path.exists(keras_file):
        model = keras.models.load_model(keras_file)
    else:
        model = load_trained_model(FLAGS.model_dir)
    path = export_saved_model(model, export_dir, tasks=FLAGS.tasks, version=FLAGS.version)
    tasks = FLAGS.tasks or model.task_names
    print(f"exported {', '.join(tasks)} to {path}")
    print(
        f"signatures: serving_default (= serve_{tasks[0]}), "
        + ", ".join(f"serve_{t}" for t in tasks)
    )
    print(f"stored values: {stored_values(path)}; model parameters: {model.count_params()}")
    print(f"size: {directory_bytes(path)} bytes")


def run():
    """Console-script entry point."""
    run_binary(main)


if __name__ == "__main__":
    run()
