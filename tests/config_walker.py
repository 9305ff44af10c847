"""Run as ``python tests/config_walker.py BINARY``: sets every field of the
binary's config sections from its command line (``--params_override``), one at
a time, and prints ``{field path: what the built config holds}`` as JSON.

A subprocess per binary, because each binary defines its flags in the process
that imports it (and several share flag names)."""

import dataclasses
import importlib
import json
import sys
import typing

from absl import flags

from compose.cli import build_config
from compose.config import ExperimentConfig


def leaf_paths(node, prefix=""):
    for field in dataclasses.fields(node):
        value = getattr(node, field.name)
        if dataclasses.is_dataclass(value):
            yield from leaf_paths(value, f"{prefix}{field.name}.")
        else:
            yield f"{prefix}{field.name}", value, field.type


def changed(value, annotation):
    """Another valid value of the field's type (None: keep the default)."""
    kinds = typing.get_args(annotation) or (annotation,)
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return 2 * value if value else 1  # doubling stays on grids such as gate_rank's
    if isinstance(value, float):
        return value / 2 if value else 0.5
    if value is None and int in kinds:
        return 1
    if value is None and str in kinds:
        return "elsewhere"
    return None


def main(binary):
    try:
        module = importlib.import_module(f"{binary}.__main__")
    except ModuleNotFoundError:
        module = importlib.import_module(binary)
    argv = ["walker", "--model_dir=unused", "--task=t", "--target=t", "--tasks=t"]
    flags.FLAGS(argv, known_only=True)
    sections = module.SECTIONS
    reserved = getattr(module, "SET_BY_FLAGS", {})
    report = {}
    for path, default, annotation in leaf_paths(ExperimentConfig()):
        if path.split(".")[0] not in sections or path in reserved:
            continue
        value = changed(default, annotation)
        value = default if value is None else value
        flags.FLAGS.params_override = f"{path}={json.dumps(value)}"
        config = build_config(flags.FLAGS, sections, {}, set_by_flags=reserved)
        node = config
        for key in path.split("."):
            node = getattr(node, key)
        report[path] = {"given": value, "built": node}
    print(json.dumps(report))


if __name__ == "__main__":
    main(sys.argv[1])
