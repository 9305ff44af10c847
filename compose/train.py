r"""Joint training of a bank of isometric blocks on several tasks.

With no flags this is the main job: the default suite (Fashion-MNIST, UCI
digits, animal silhouettes, all installed by the set-up command), programs
searched in two rounds over the first 20% of steps (each task's kept only if
it scores higher on examples held out of its training split), then fixed,
ending with a per-task test-accuracy table.  To choose settings without the test sets,
hold examples out of training and read their accuracy in the table and in
``metrics.json`` (``validation_accuracy``):

  python -m compose.train
  python -m compose.train --params_override=train.validation_examples=1000
  python -m compose.train --tasks=fashion_mnist,usps,mnist_partial \
      --data_dir=../shared/data --model_dir=runs/digits --steps=3000
  python -m compose.train --config_file=my.json --params_override=train.steps=100

Override order: defaults < --config_file < --params_override < flags given.
"""

import dataclasses
import os
import sys

from absl import flags

from compose.cli import build_config, define_field_flags, run_binary
from compose.config import ExperimentConfig
from compose.files import check_resumable, write_config
from tasks import default_data_dir, default_tfds_dir

FLAGS = flags.FLAGS
DEFAULT_MODEL_DIR = "runs/main"
SECTIONS = ("tasks", "model", "train", "data_dir", "tfds_dir", "strategy", "tpu")
"""What compose.train configures: the experiment."""

FLAG_FIELDS = define_field_flags(
    {
        "tasks": ("tasks", "Registered task names"),
        "strategy": ("strategy", "Distribution strategy"),
        "tpu": ("tpu", "TPU address for --strategy=tpu"),
        "steps": ("train.steps", "Training steps"),
        "batch_size": ("train.batch_size", "Global batch of every task per step"),
        "learning_rate": ("train.learning_rate", "Learning rate"),
        "program_learning": ("train.program_learning", "How programs are learned"),
        "programs_file": (
            "train.programs_file",
            'Start from these programs: {"task": [indices]} or a programs.json',
        ),
        "program_search": ("train.program_search", "How programs are searched"),
        "seed": ("train.seed", "Random seed (initialisation and data order)"),
        "norm_placement": ("model.norm_placement", "Who owns norm scale/offset"),
        "bank_size": ("model.bank_size", "K, blocks in the bank"),
        "depth": ("model.depth", "L, the maximum program length"),
        "channels": ("model.channels", "C, the width of every block"),
        "resolution": ("model.resolution", "H = W of the bank's feature maps"),
        "block": ("model.block", "Block family"),
    }
)


def experiment_config(flag_values) -> ExperimentConfig:
    """Defaults (data dirs from the environment), then the config file, then
    --params_override, then flags; validated, the programs file read."""
    base = dataclasses.replace(
        ExperimentConfig(), data_dir=default_data_dir(), tfds_dir=default_tfds_dir()
    )
    config = build_config(flag_values, SECTIONS, FLAG_FIELDS, base=base)
    if config.train.programs_file:  # its own errors, beyond the field's type
        from compose.training.models import read_programs_file

        read_programs_file(config.train.programs_file)
    return config


def main(argv):
    from compose.files import check_writable, lock_directory
    from compose.recipes.joint import check_runnable, format_table, run_experiment

    config = experiment_config(FLAGS)
    model_dir = FLAGS.model_dir or DEFAULT_MODEL_DIR
    check_resumable(config, model_dir)
    check_writable(model_dir, "--model_dir")
    check_runnable(config, model_dir)
    os.makedirs(model_dir, exist_ok=True)
    lock_directory(model_dir)
    write_config(config, model_dir)
    print(f"training {', '.join(config.tasks)} for {config.train.steps} steps into {model_dir}")
    result = run_experiment(config, model_dir)
    print(format_table(result["metrics"], result["programs"]))
    print(f"wrote {model_dir}/{{config,programs,metrics}}.json, programs.png and checkpoints/")
    sys.stdout.flush()


def run():
    """Console-script entry point."""
    run_binary(main)


if __name__ == "__main__":
    run()
