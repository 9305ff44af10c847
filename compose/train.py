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

import os
import sys

from absl import flags

from compose.cli import run_binary
from compose.config import ExperimentConfig, override, parse_params_override, validate
from compose.errors import InvalidInputError
from compose.files import read_json
from compose.training.distribute import STRATEGIES
from tasks import default_data_dir, default_tfds_dir

FLAGS = flags.FLAGS
flags.DEFINE_string("model_dir", "runs/main", "Where checkpoints, config and results go.")
flags.DEFINE_string("config_file", None, "A JSON experiment config.")
flags.DEFINE_string("params_override", "", "Overrides, e.g. 'model.depth=4,train.steps=100'.")
flags.DEFINE_list("tasks", None, "Registered task names (default: the built-in suite).")
flags.DEFINE_string("data_dir", None, "Directory of the .npz sources (default: $COMPOSE_DATA_DIR).")
flags.DEFINE_string(
    "tfds_dir", None, "TFDS directory for prepared data (default: $COMPOSE_TFDS_DIR)."
)
flags.DEFINE_integer("steps", None, "Training steps.")
flags.DEFINE_integer("batch_size", None, "Global batch of every task per step.")
flags.DEFINE_float("learning_rate", None, "Learning rate.")
flags.DEFINE_string(
    "program_learning", None, "search | sampled | uniform | mixed | none: how programs are learned."
)
flags.DEFINE_string(
    "programs_file", None, 'Start from these programs: {"task": [indices]} or a programs.json.'
)
flags.DEFINE_string(
    "program_search", None, "local | evolutionary | random | argmax: how programs are searched."
)
flags.DEFINE_string("norm_placement", None, "task_layer | block: who owns norm scale/offset.")
flags.DEFINE_integer("bank_size", None, "K, blocks in the bank.")
flags.DEFINE_integer("depth", None, "L, the maximum program length.")
flags.DEFINE_integer("channels", None, "C, the width of every block.")
flags.DEFINE_integer("resolution", None, "H = W of the bank's feature maps.")
flags.DEFINE_string("block", None, "Block family: inverted_bottleneck | basic_residual.")
flags.DEFINE_enum("strategy", None, STRATEGIES, "Distribution strategy.")
flags.DEFINE_string("tpu", None, "TPU address for --strategy=tpu.")
flags.DEFINE_integer("seed", None, "Random seed (initialisation and data order).")

_FLAG_FIELDS = {
    "tasks": "tasks",
    "data_dir": "data_dir",
    "tfds_dir": "tfds_dir",
    "strategy": "strategy",
    "tpu": "tpu",
    "steps": "train.steps",
    "batch_size": "train.batch_size",
    "learning_rate": "train.learning_rate",
    "program_learning": "train.program_learning",
    "programs_file": "train.programs_file",
    "norm_placement": "model.norm_placement",
    "program_search": "train.program_search",
    "seed": "train.seed",
    "bank_size": "model.bank_size",
    "depth": "model.depth",
    "channels": "model.channels",
    "resolution": "model.resolution",
    "block": "model.block",
}

RESUMABLE_KEYS = ("tasks", "model")
"""Config sections a resumed run must share with the run in its model dir."""


def build_config(flag_values) -> ExperimentConfig:
    """Defaults, then the config file, then --params_override, then flags."""
    config = ExperimentConfig()
    config.data_dir = default_data_dir()
    config.tfds_dir = default_tfds_dir()
    if flag_values.config_file:
        override(config, read_json(flag_values.config_file, "--config_file"))
    override(config, parse_params_override(flag_values.params_override))
    for flag, field in _FLAG_FIELDS.items():
        value = flag_values[flag].value
        if value is not None:
            *parents, leaf = field.split(".")
            node = {leaf: value}
            for parent in reversed(parents):
                node = {parent: node}
            override(config, node)
    if config.train.programs_file:  # its own errors first, then how it combines
        from compose.training.models import read_programs_file

        read_programs_file(config.train.programs_file)
    validate(config)
    return config


def check_resumable(config: ExperimentConfig, config_path: str) -> None:
    """Refuses a model dir that holds a run of a different model or tasks."""
    if not os.path.exists(config_path):
        return
    previous = read_json(config_path, "model dir config")
    current = config.to_dict()
    for key in RESUMABLE_KEYS:
        if previous.get(key) != current[key]:
            raise InvalidInputError(
                f"{config_path} holds a run with {key}={previous.get(key)}, but this run has "
                f"{key}={current[key]}; use a new --model_dir (resuming would mix models)"
            )


def main(argv):
    from compose.files import check_writable, lock_directory, write_json
    from compose.training.experiment import check_runnable, format_table, run_experiment

    config = build_config(FLAGS)
    model_dir = FLAGS.model_dir
    config_path = os.path.join(model_dir, "config.json")
    check_resumable(config, config_path)
    check_writable(model_dir, "--model_dir")
    check_runnable(config, model_dir)
    os.makedirs(model_dir, exist_ok=True)
    lock_directory(model_dir)
    write_json(config_path, config.to_dict())
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
