r"""The joint training step: tasks one after another vs fused, against one task alone.

At two shapes, the main job's (8x8x32, L = 8, K = 4, the default suite's
three tasks) and the paper's (16x16x40, L = 16, K = 4, MobileNetV2 blocks,
MNIST/USPS/Fashion-MNIST shapes), each with a batch of 32 per task, the same
:class:`compose.training.Trainer` runs:

  per_task    the T tasks' bank layers one task after another (``fuse_tasks`` off);
  fused       the T tasks stacked on channels, each layer one grouped op per kind;
  single      one task at batch T x B (the floor a fused step can reach);
  bf16_per_task, bf16_fused
              ``per_task`` and ``fused`` computing in bfloat16 (variables and
              statistics float32);
  sampled     ``fused`` while learning programs (straight-through samples), for
              ``relaxed_over_hard`` against the hard-program step.

Repeats interleave the variants so all see the same machine noise; figures are
medians.  Images are synthetic uint8 arrays of the tasks' shapes (speed does
not depend on pixel values).  ``max_rel_diff`` compares fused with per-task
outputs and gradients for the same weights.  ``matmul_gflop_s`` is a same-run
fp32 2048x2048 matmul rate, so rates can be compared across processors.

  python -m benchmarks.joint_step --quick
"""

import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import app, flags  # noqa: E402

from benchmarks.reference import matmul_gflop_s  # noqa: E402
from compose import ComposedModel, TaskSpec  # noqa: E402
from compose.run_log import processor  # noqa: E402
from compose.training import Supervised, Trainer, build_optimizer  # noqa: E402
from tasks import Split  # noqa: E402

flags.DEFINE_bool("quick", False, "Fewer repeats and steps.")
flags.DEFINE_list("shapes", ["main", "paper"], "Shapes to measure.")
FLAGS = flags.FLAGS

BATCH = 32
SHAPES = {
    "main": {
        "model": dict(depth=8, channels=32, resolution=8, bank_size=4),
        "tasks": [
            ("fashion_mnist", (28, 28, 1)),
            ("uci_digits", (8, 8, 1)),
            ("animal_silhouettes", (28, 28, 1)),
        ],
    },
    "paper": {
        "model": dict(depth=16, channels=40, resolution=16, bank_size=4),
        "tasks": [
            ("mnist_partial", (28, 28, 1)),
            ("usps", (16, 16, 1)),
            ("fashion_mnist", (28, 28, 1)),
        ],
    },
}


def synthetic_split(shape, count=512, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (count, *shape), dtype=np.uint8)
    return Split(images, rng.integers(0, 10, count).astype(np.int32))


def make_trainer(specs, shape, batch, steps_per_loop, **model_options):
    model = ComposedModel(specs, seed=0, **shape, **model_options)
    splits = {spec.name: synthetic_split(spec.image_shape) for spec in specs}
    optimizer = build_optimizer("adam", 1e-3, model.trainable_variables)
    trainer = Trainer(
        model,
        optimizer,
        tf.distribute.get_strategy(),
        splits,
        [Supervised(spec.name) for spec in specs],
        batch_size=batch,
        steps_per_loop=steps_per_loop,
    )
    return model, trainer


GRADIENT_FLOOR = 1e-3
"""A gradient's difference is relative to the larger of its own largest entry
and this fraction of the model's largest gradient entry: an offset whose every
consumer is batch-normalised (the projection's, under ``task_layer``
placement) has an exact gradient of zero, so what both paths compute for it
is rounding noise (about 1e-5 where the scales' gradients are 1e-3), and its
own relative difference would measure only the noise."""


def max_rel_diff(specs, shape):
    """Largest relative difference of fused vs per-task outputs and gradients
    (gradients relative as :data:`GRADIENT_FLOOR` says)."""
    images = {
        spec.name: tf.constant(synthetic_split(spec.image_shape, BATCH, i).images)
        for i, spec in enumerate(specs)
    }
    results = []
    for fuse in (False, True):
        model = ComposedModel(specs, seed=0, fuse_tasks=fuse, **shape)
        with tf.GradientTape() as tape:
            outputs = model(images, training=True)
            loss = tf.add_n([tf.reduce_sum(o**2) for o in outputs.values()])
        results.append((outputs, tape.gradient(loss, model.trainable_variables)))
    (separate, separate_grads), (fused, fused_grads) = results
    diffs = [
        float(np.abs(fused[t] - separate[t]).max() / np.abs(separate[t]).max()) for t in separate
    ]
    floor = GRADIENT_FLOOR * max(float(np.abs(e).max()) for e in separate_grads)
    diffs += [
        float(np.abs(g - e).max() / max(np.abs(e).max(), floor))
        for e, g in zip(separate_grads, fused_grads, strict=True)
    ]
    return max(diffs)


def measure(name, steps, repeats):
    config = SHAPES[name]
    shape = config["model"]
    specs = [TaskSpec(task, image_shape, 10) for task, image_shape in config["tasks"]]
    variants = {
        "per_task": make_trainer(specs, shape, BATCH, steps, fuse_tasks=False),
        "fused": make_trainer(specs, shape, BATCH, steps, fuse_tasks=True),
        "single": make_trainer(specs[:1], shape, BATCH * len(specs), steps),
        "bf16_per_task": make_trainer(
            specs, shape, BATCH, steps, fuse_tasks=False, precision="bfloat16"
        ),
        "bf16_fused": make_trainer(
            specs, shape, BATCH, steps, fuse_tasks=True, precision="bfloat16"
        ),
        "sampled": make_trainer(specs, shape, BATCH, steps, fuse_tasks=True),
    }
    sampled_model = variants["sampled"][0]
    for spec in specs:
        sampled_model.learn_program(spec.name, "sampled")
    seconds = {variant: [] for variant in variants}
    for _, trainer in variants.values():  # trace and warm up
        trainer.train(int(trainer.step.numpy()) + steps, verbose=False)
    for _ in range(repeats):
        for variant, (_, trainer) in variants.items():
            start = time.perf_counter()
            trainer.train(int(trainer.step.numpy()) + steps, verbose=False)
            seconds[variant].append((time.perf_counter() - start) / steps)
    step_s = {variant: float(np.median(times)) for variant, times in seconds.items()}
    images = BATCH * len(specs)
    img_s = {variant: images / step_s[variant] for variant in variants}
    return {
        "model": shape,
        "tasks": config["tasks"],
        "batch_per_task": BATCH,
        "step_ms": {variant: round(1e3 * value, 2) for variant, value in step_s.items()},
        "per_task_img_s": round(img_s["per_task"], 1),
        "fused_img_s": round(img_s["fused"], 1),
        "single_task_img_s": round(img_s["single"], 1),
        "bf16_per_task_img_s": round(img_s["bf16_per_task"], 1),
        "bf16_fused_img_s": round(img_s["bf16_fused"], 1),
        "fused_over_per_task": round(step_s["per_task"] / step_s["fused"], 3),
        "fused_step_over_single_step": round(step_s["fused"] / step_s["single"], 3),
        "bf16_over_fp32_per_task": round(step_s["per_task"] / step_s["bf16_per_task"], 3),
        "bf16_over_fp32_fused": round(step_s["fused"] / step_s["bf16_fused"], 3),
        "relaxed_over_hard": round(step_s["sampled"] / step_s["fused"], 3),
        "max_rel_diff": max_rel_diff(specs, shape),
        "traces": {variant: trainer.traces for variant, (_, trainer) in variants.items()},
    }


def main(argv):
    del argv
    steps, repeats = (10, 3) if FLAGS.quick else (20, 7)
    reference = matmul_gflop_s()
    results = {name: measure(name, steps, repeats) for name in FLAGS.shapes}
    for entry in results.values():
        for key in ("per_task_img_s", "fused_img_s", "bf16_per_task_img_s", "bf16_fused_img_s"):
            entry[f"{key}_per_matmul_gflop_s"] = round(entry[key] / reference, 4)
    print(
        json.dumps(
            {
                "benchmark": "joint_step",
                "quick": FLAGS.quick,
                "processor": processor(),
                "matmul_gflop_s": round(reference, 1),
                "steps_per_repeat": steps,
                "repeats": repeats,
                **results,
            }
        )
    )


if __name__ == "__main__":
    app.run(main)
