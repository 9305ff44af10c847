r"""Forms of the grouped 1x1 convolution of the fused forward, forward and backward.

T tasks' features stacked on channels, ``[N, T*C]``, each task with its own
``[C, D]`` kernel.  TF's grouped convolution has no gradient on AVX2 CPUs
(see :mod:`blocks.ops`), so the forms compared are:

  einsum          ``einsum('ntc,tcd->ntd')`` over ``[N, T, C]`` (the old form)
  batched_matmul  transpose to ``[T, N, C]``, one ``[T, N, C] @ [T, C, D]``, back
  matmul_per_task split channels, one matmul per task, concatenate
  conv_per_task   :func:`blocks.ops.conv` (one ``conv2d`` per task; the current form)
  one_task        one task's matmul at ``T*N`` rows (the floor, no splitting)

Each figure is the median over repeats of 20 forward+backward passes inside
one ``tf.function``, so per-call overhead is not counted; ``vs_current`` is a
form's time over ``conv_per_task``'s in the same run.

  python -m benchmarks.grouped_conv
"""

import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import app, flags  # noqa: E402

from benchmarks.reference import matmul_gflop_s  # noqa: E402
from blocks import ops  # noqa: E402
from compose.run_log import processor  # noqa: E402

flags.DEFINE_integer("tasks", 3, "T, tasks stacked on channels.")
flags.DEFINE_integer("pixels", 2048, "N, batch x 8 x 8 (main job: 32 x 8 x 8).")
flags.DEFINE_integer("repeats", 7, "Timed repeats per form.")
FLAGS = flags.FLAGS

PASSES = 20


def forms(tasks, channels, outputs):
    """``{name: f(x [N, T*C], kernel [C, T*D]) -> [N, T*D]}``."""

    def einsum(x, kernel):
        pixels = tf.reshape(x, [-1, tasks, channels])
        weights = tf.transpose(tf.reshape(kernel, [channels, tasks, outputs]), [1, 0, 2])
        return tf.reshape(tf.einsum("ntc,tcd->ntd", pixels, weights), [-1, tasks * outputs])

    def batched_matmul(x, kernel):
        pixels = tf.transpose(tf.reshape(x, [-1, tasks, channels]), [1, 0, 2])
        weights = tf.transpose(tf.reshape(kernel, [channels, tasks, outputs]), [1, 0, 2])
        mixed = tf.transpose(tf.matmul(pixels, weights), [1, 0, 2])
        return tf.reshape(mixed, [-1, tasks * outputs])

    def matmul_per_task(x, kernel):
        parts = zip(tf.split(x, tasks, axis=-1), tf.split(kernel, tasks, axis=-1), strict=True)
        return tf.concat([a @ b for a, b in parts], axis=-1)

    def conv_per_task(x, kernel):
        image = tf.reshape(x, [-1, 8, 8, tasks * channels])  # the main job's 8x8 maps
        return tf.reshape(ops.conv(image, kernel[None, None]), [-1, tasks * outputs])

    def one_task(x, kernel):
        return tf.reshape(x, [-1, channels]) @ kernel[:, :outputs]

    return {
        "einsum": einsum,
        "batched_matmul": batched_matmul,
        "matmul_per_task": matmul_per_task,
        "conv_per_task": conv_per_task,
        "one_task": one_task,
    }


def time_form(form, x, kernel, repeats):
    """Median seconds of one forward+backward pass of ``form``."""

    @tf.function
    def passes(x, kernel):
        total = tf.constant(0.0)
        for i in range(PASSES):
            with tf.GradientTape() as tape:
                tape.watch([x, kernel])
                loss = tf.reduce_sum(form(x + float(i), kernel))
            dx, dkernel = tape.gradient(loss, [x, kernel])
            total += dx[0, 0] + dkernel[0, 0]
        return total

    passes(x, kernel).numpy()  # trace and warm up
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        passes(x, kernel).numpy()
        seconds.append((time.perf_counter() - start) / PASSES)
    return float(np.median(seconds))


def main(argv):
    del argv
    tasks = FLAGS.tasks
    results = {}
    for channels, outputs in ((32, 192), (192, 32)):  # the main job's expand and project
        x = tf.random.normal([FLAGS.pixels, tasks * channels])
        kernel = tf.random.normal([channels, tasks * outputs])
        ms = {
            name: 1e3 * time_form(form, x, kernel, FLAGS.repeats)
            for name, form in forms(tasks, channels, outputs).items()
        }
        results[f"{channels}_to_{outputs}"] = {
            "ms": {name: round(value, 3) for name, value in ms.items()},
            "vs_current": {
                name: round(value / ms["conv_per_task"], 2) for name, value in ms.items()
            },
        }
    print(
        json.dumps(
            {
                "benchmark": "grouped_conv",
                "processor": processor(),
                "matmul_gflop_s": round(matmul_gflop_s(), 1),
                "tasks": tasks,
                "pixels": FLAGS.pixels,
                **results,
            }
        )
    )


if __name__ == "__main__":
    app.run(main)
