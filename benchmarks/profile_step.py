r"""Where the time of one joint training step goes, by kind of work.

Runs the joint step of :mod:`benchmarks.joint_step` at a shape under the TF
profiler (``tf.profiler.experimental``), reads the trace it writes (an
``XSpace`` protobuf: every op executed, on which thread, from when to when)
and sums op time per kind:

  convolution      1x1 and 3x3 convolutions and matmuls of the blocks, stems, heads
  depthwise        depthwise convolutions
  normalisation    batch normalisation (fused kernels, moments, their gradients)
  weight_mixing    a layer's block weights from the mixture (``Tensordot``)
  optimizer        the optimizer's update (Adam slots, assignments)
  input            the input pipeline's ops
  other            element-wise ops, reshapes, concatenations, bookkeeping

plus the op count per step and ``op_time_over_wall``: summed op time over
wall time x threads, so the rest is executor overhead and idle threads.

  python -m benchmarks.profile_step --shape=main --variant=fused
"""

import collections
import glob
import json
import os
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402
from absl import app, flags  # noqa: E402
from tensorflow.tsl.profiler.protobuf import xplane_pb2  # noqa: E402

from benchmarks.joint_step import BATCH, SHAPES, make_trainer  # noqa: E402
from compose import TaskSpec  # noqa: E402

flags.DEFINE_enum("shape", "main", list(SHAPES), "The shape of benchmarks.joint_step.")
flags.DEFINE_enum("variant", "fused", ["per_task", "fused", "bf16_fused"], "The step profiled.")
flags.DEFINE_integer("steps", 20, "Steps profiled.")
FLAGS = flags.FLAGS

KINDS = ("convolution", "depthwise", "normalisation", "weight_mixing", "optimizer", "input")


def kind_of(name, op_type):
    """The kind of work an op ``name:type`` does (see the module docstring)."""
    lowered = name.lower()
    if "iterator" in op_type.lower() or op_type in ("GeneratorDataset", "MapDataset"):
        return "input"
    if "Tensordot" in name:
        return "weight_mixing"
    if "adam" in lowered or "rmsprop" in lowered or op_type.startswith("ResourceApply"):
        return "optimizer"
    if "Depthwise" in op_type:
        return "depthwise"
    if "Conv2D" in op_type or "MatMul" in op_type:
        return "convolution"
    if "BatchNorm" in op_type or "moments" in lowered or "batchnorm" in lowered:
        return "normalisation"
    return "other"


def profile(trainer, steps):
    """``{kind: seconds}``, ops executed and wall seconds of ``steps`` steps."""
    logdir = tempfile.mkdtemp(prefix="profile_step_")
    tf.profiler.experimental.start(logdir)
    start = time.perf_counter()
    trainer.train(int(trainer.step.numpy()) + steps, verbose=False)
    wall = time.perf_counter() - start
    tf.profiler.experimental.stop()
    space = xplane_pb2.XSpace()
    with open(glob.glob(os.path.join(logdir, "plugins/profile/*/*.xplane.pb"))[0], "rb") as f:
        space.ParseFromString(f.read())
    seconds, ops, threads = collections.Counter(), 0, set()
    for plane in space.planes:
        metadata = plane.event_metadata
        for line in plane.lines:
            for event in line.events:
                name = metadata[event.metadata_id].name
                # Ops are "name:Type".  Bookkeeping has no colon; the events
                # that enclose ops have a space ("EagerLocalExecute:
                # __inference_...") or are C++ scopes ("ExecutorState::Process",
                # "KernelAndDeviceFunc::Run"): counting them would count every
                # op's time twice.
                if ":" not in name or " " in name or "::" in name:
                    continue
                op_name, op_type = name.rsplit(":", 1)
                seconds[kind_of(op_name, op_type)] += event.duration_ps * 1e-12
                ops += 1
                threads.add(line.id)
    return seconds, ops, wall, len(threads)


def main(argv):
    del argv
    config = SHAPES[FLAGS.shape]
    specs = [TaskSpec(task, image_shape, 10) for task, image_shape in config["tasks"]]
    options = {"fuse_tasks": FLAGS.variant != "per_task"}
    if FLAGS.variant == "bf16_fused":
        options["precision"] = "bfloat16"
    _, trainer = make_trainer(specs, config["model"], BATCH, 10, **options)
    trainer.train(20, verbose=False)  # trace and warm up
    seconds, ops, wall, threads = profile(trainer, FLAGS.steps)
    total = sum(seconds.values())
    print(
        json.dumps(
            {
                "benchmark": "profile_step",
                "shape": FLAGS.shape,
                "variant": FLAGS.variant,
                "step_ms": round(1e3 * wall / FLAGS.steps, 2),
                "ops_per_step": round(ops / FLAGS.steps),
                "op_ms_per_step": {
                    kind: round(1e3 * seconds[kind] / FLAGS.steps, 2) for kind in (*KINDS, "other")
                },
                "share_of_op_time": {
                    kind: round(seconds[kind] / total, 3) for kind in (*KINDS, "other")
                },
                "threads_with_ops": threads,
                "op_time_over_wall": round(total / (wall * max(threads, 1)), 3),
            }
        )
    )


if __name__ == "__main__":
    app.run(main)
