r"""Searches the programs of a trained model dir's tasks over its frozen bank.

Candidates are scored on the last examples of each task's training split
(``train.validation_examples`` of the model's config, else
``train.search_validation_examples``); the bank has not seen them only if the
training run held them out too (``train.validation_examples``).  The best
program's test accuracy is reported beside the starting program's, both
evaluated as ``compose.train`` evaluates (the start program's equals its table;
the best one's with statistics re-estimated for it on the training split); the relaxed
strategy trains mixture logits on the rest of the training split
(:mod:`compose.search.relaxed`).  Writes ``MODEL_DIR/search/programs.json``
(usable as ``compose.train --programs_file=...``) and
``MODEL_DIR/search/candidates.jsonl`` (every candidate: task, program,
accuracy, charged parameters, score).
The model dir's checkpoints are not changed.

  python -m compose.search --model_dir=runs/main --strategy=local --budget=50
  python -m compose.search --model_dir=runs/main --tasks=uci_digits --size_penalty=0.7
  python -m compose.search --model_dir=runs/main --strategy=relaxed --relaxed_steps=300
"""

from absl import flags

from compose.cli import build_config, define_field_flags, run_binary

FLAGS = flags.FLAGS
flags.mark_flag_as_required("model_dir")
flags.DEFINE_list("tasks", None, "Tasks to search (default: all of the model's).")
SECTIONS = ("search", "data_dir", "tfds_dir")
FLAG_FIELDS = define_field_flags(
    {
        "strategy": (
            "search.strategy",
            "Search strategy; relaxed trains mixture logits on the task's training split",
        ),
        "relaxed_steps": ("search.relaxed.steps", "Training steps of the relaxed strategy"),
        "budget": ("search.budget", "Distinct programs scored per task"),
        "size_penalty": ("search.size_penalty", "s in score = accuracy * s^(charged/base)"),
        "min_length": ("search.min_length", "Shortest program (the model's depth: fixed length)"),
        "seed": ("search.seed", "Random seed of the strategy"),
    }
)


def main(argv):
    from compose.recipes.program_search import run_search
    from compose.training.models import trained_config

    config = build_config(FLAGS, SECTIONS, FLAG_FIELDS, base=trained_config(FLAGS.model_dir))
    run_search(config, FLAGS.model_dir, FLAGS.tasks)


def run():
    """Console-script entry point."""
    run_binary(main)


if __name__ == "__main__":
    run()
