r"""One system grown by ``compose.grow`` set against a stream seed's other methods.

A change to how tasks grow can be checked on one seed without growing the
whole benchmark again: grow the system over the seed's root with the
benchmark's options (``compose.grow --model_dir=<work dir>/seed<N>/root``,
``--seed=<N>``, the stream in order, ``--size_penalty``), then put it in the
place of the same system in the seed's ``run.json``.  Its baselines
(fine-tuning, head-only, independent) are the run's, trained from the same
root on the same examples; fine-tuning's steps follow the run's ``s = 1``
lineages, which the new system does not change.  Prints a per-task table
(the new system, the one it replaces, fine-tuning) and, last, the
benchmark's summary keys (:func:`benchmarks.stream_runs.summarise`) of the
replaced run, which is one seed.

  python -m benchmarks.stream_system --grown=runs/grown_s0.9 \
      --record=benchmarks/records/stream/seed0.json --method=evolved_small
"""

import json
import os

from absl import app, flags

from benchmarks.stream_runs import summarise, with_system
from compose.files import read_json

flags.DEFINE_string("grown", None, "A compose.grow output dir (its grow.json).")
flags.DEFINE_string("record", None, "A stream seed's run.json (benchmarks/records/stream/...).")
flags.DEFINE_enum(
    "method", "evolved_small", ["evolved", "evolved_small"], "The system replaced: s = 1 or s < 1."
)
flags.mark_flags_as_required(["grown", "record"])
FLAGS = flags.FLAGS


def main(argv):
    del argv
    run = read_json(FLAGS.record, "a stream seed's run.json")
    grown = read_json(os.path.join(FLAGS.grown, "grow.json"), "a grow summary")
    replaced = with_system(run, FLAGS.method, grown["tasks"])
    names = [row["task"] for row in run["rows"]["finetune"]]
    print(f"| task | grown | {FLAGS.method} (record) | fine-tuning |")
    print("|---|---|---|---|")
    for mine, theirs, tuned in zip(
        replaced["rows"][FLAGS.method],
        run["rows"][FLAGS.method],
        run["rows"]["finetune"],
        strict=True,
    ):
        print(
            f"| {mine['task']} | {mine['test_accuracy']:.4f} ({mine['added_params']:,} added) | "
            f"{theirs['test_accuracy']:.4f} ({theirs['added_params']:,}) | "
            f"{tuned['test_accuracy']:.4f} |"
        )
    summary = summarise([replaced], names)
    print(
        json.dumps(
            {
                **summary,
                "seeds": [run["seed"]],
                "replaced": FLAGS.method,
                "grown": os.path.abspath(FLAGS.grown),
                "options": grown["options"],
                "record": FLAGS.record,
            }
        )
    )


def run():
    app.run(main)


if __name__ == "__main__":
    run()
