"""The run log: what reproducing a run needs, one JSON line per invocation.

``metrics.json`` holds only functions of the final weights, so a resumed run
writes the same file as an uninterrupted one.  Everything else about an
invocation (when, how long, on which processor, with which packages, strategy
and seed) goes to ``run_log.jsonl`` beside it.  A result is bit-identical for
the same command, package versions and processor kind; the log says which
those were (docs/reproducibility.md).
"""

import datetime
import importlib.metadata
import json
import os
import platform
import sys

import tensorflow as tf

from compose.files import write_atomically

PACKAGES = ("tensorflow", "tensorflow-cpu", "keras", "tensorflow-datasets", "numpy", "absl-py")


def processor() -> dict:
    """The processor kind: model name and the vector extensions TF's kernels pick from."""
    name, flags = platform.processor() or platform.machine(), set()
    try:
        with open("/proc/cpuinfo") as stream:
            for line in stream:
                key, _, value = line.partition(":")
                if key.strip() == "model name":
                    name = value.strip()
                elif key.strip() == "flags":
                    flags = set(value.split())
                    break
    except OSError:
        pass
    extensions = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "fma")
    return {
        "name": name,
        "cores": os.cpu_count(),
        "extensions": [e for e in extensions if e in flags],
    }


def environment() -> dict:
    """Python, package versions and processor of this process."""
    versions = {}
    for package in PACKAGES:
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            continue
    return {
        "python": platform.python_version(),
        "packages": versions,
        "processor": processor(),
        "gpus": [d.name for d in tf.config.list_logical_devices("GPU")],
    }


def append_run_log(model_dir: str, record: dict) -> None:
    """Adds ``record`` (with the time, command line and :func:`environment`) as
    one line of ``model_dir/run_log.jsonl``, rewriting the file atomically."""
    path = os.path.join(model_dir, "run_log.jsonl")
    previous = ""
    if tf.io.gfile.exists(path):
        with tf.io.gfile.GFile(path) as stream:
            previous = stream.read()
    line = {
        "finished": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": sys.argv,
        **record,
        "environment": environment(),
    }
    write_atomically(path, previous + json.dumps(line, sort_keys=True) + "\n")
