r"""Cost of composing: the bank engine vs the same blocks hard-wired in Keras.

Trains one task (real Fashion-MNIST batches) with (1) the composed engine,
``Trainer`` over a ``ComposedModel`` whose program sits in a variable,
and (2) a plain Keras model with the same stem, blocks and head.  Repeats
alternate between the two so both see the same machine noise; figures are
medians.  Then the engine trains on 200 distinct random programs and the
number of ``tf.function`` traces is counted.

  python -m benchmarks.overhead --quick
"""

import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import app, flags  # noqa: E402

from benchmarks.static_baseline import build_static_model  # noqa: E402
from compose import ComposedModel  # noqa: E402
from compose.training import Supervised, Trainer, build_optimizer  # noqa: E402
from compose.training.inputs import make_dataset_fn  # noqa: E402
from tasks import default_tfds_dir, get_task, load_task_data  # noqa: E402

flags.DEFINE_bool("quick", False, "Fewer repeats and steps (about a minute).")
flags.DEFINE_integer("channels", 40, "C (the paper uses 40).")
flags.DEFINE_integer("resolution", 16, "H = W (the paper uses 16).")
flags.DEFINE_integer("depth", 8, "Program length L.")
flags.DEFINE_integer("bank_size", 4, "K.")
flags.DEFINE_integer("batch_size", 32, "Images per step.")
flags.DEFINE_integer("programs", 200, "Distinct random programs for the trace count.")
FLAGS = flags.FLAGS

TASK = "fashion_mnist"


def static_trainer(model, optimizer, split, batch_size, steps_per_loop):
    """The hard-wired model trained with the same input, loss and loop as the engine."""
    variables = model.trainable_variables

    @tf.function
    def loop(iterator, num_steps):
        for _ in tf.range(num_steps):
            images, labels = next(iterator)[TASK]
            with tf.GradientTape() as tape:
                logits = model(images, training=True)
                loss = tf.reduce_mean(
                    keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True)
                )
            optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))

    def train(steps):
        context = tf.distribute.InputContext()
        iterator = iter(make_dataset_fn({TASK: split}, batch_size, seed=0)(context))
        loop(iterator, tf.constant(steps))

    return train


def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main(argv):
    del argv
    repeats, steps = (3, 20) if FLAGS.quick else (7, 60)
    task = get_task(TASK)
    train_split, _ = load_task_data(task, None, default_tfds_dir())
    shape = dict(depth=FLAGS.depth, channels=FLAGS.channels, resolution=FLAGS.resolution)
    program = [layer % FLAGS.bank_size for layer in range(FLAGS.depth)]
    composed = ComposedModel(
        [task.spec], bank_size=FLAGS.bank_size, programs={TASK: program}, **shape
    )
    engine = Trainer(
        composed,
        build_optimizer("adam", 1e-3, composed.trainable_variables),
        tf.distribute.get_strategy(),
        {TASK: train_split},
        [Supervised(TASK)],
        batch_size=FLAGS.batch_size,
        steps_per_loop=steps,
    )
    static = build_static_model(task.spec, "inverted_bottleneck", **shape)
    static_train = static_trainer(
        static,
        build_optimizer("adam", 1e-3, static.trainable_variables),
        train_split,
        FLAGS.batch_size,
        steps,
    )

    def composed_train():
        engine.train(int(engine.step.numpy()) + steps, verbose=False)

    composed_train()  # trace and warm up both
    static_train(steps)
    composed_s, static_s = [], []
    for _ in range(repeats):
        composed_s.append(timed(composed_train))
        static_s.append(timed(lambda: static_train(steps)))
    images = steps * FLAGS.batch_size
    composed_img_s = images / float(np.median(composed_s))
    static_img_s = images / float(np.median(static_s))

    rng = np.random.default_rng(0)
    programs = set()
    while len(programs) < FLAGS.programs:
        programs.add(tuple(rng.integers(0, FLAGS.bank_size, FLAGS.depth).tolist()))
    engine.steps_per_loop = 1
    for program in sorted(programs):
        composed.set_program(TASK, list(program))
        engine.train(int(engine.step.numpy()) + 1, verbose=False)

    result = {
        "benchmark": "overhead",
        "quick": FLAGS.quick,
        "config": {**shape, "bank_size": FLAGS.bank_size, "batch_size": FLAGS.batch_size},
        "baseline": "same stem, blocks and head hard-wired as Keras layers, same loop",
        "repeats": repeats,
        "steps_per_repeat": steps,
        "composed_img_s": round(composed_img_s, 1),
        "static_img_s": round(static_img_s, 1),
        "ratio": round(composed_img_s / static_img_s, 3),
        # Each repeat times both back to back; the median of those paired ratios
        # is less sensitive to load that comes and goes on a shared machine.
        "paired_ratio_median": round(
            float(np.median([s / c for c, s in zip(composed_s, static_s, strict=True)])), 3
        ),
        "composed_img_s_runs": [round(images / s, 1) for s in composed_s],
        "static_img_s_runs": [round(images / s, 1) for s in static_s],
        "distinct_programs_trained": len(programs),
        "traces": engine.traces,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    app.run(main)
