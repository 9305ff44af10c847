"""What every absl binary of the project shares: its common flags, how its
configuration is built and checked, ``--import``, and one-line errors.

Every binary is configured the same way (:func:`build_config`): the tree of
:mod:`compose.config` starts at its defaults (or, for a binary that acts on a
trained model, at the model dir's ``config.json``), then the binary's
sections of a named ``--config``, then ``--config_file``, then
``--params_override``, then the binary's own flags, each flag a name for one
field of the tree; the result is validated as a whole.  A binary sets
only its own sections: the experiment's come from the model dir.

:func:`run_binary` replaces ``app.run``.  A :class:`compose.errors.UserError`
(a bad flag value, an unknown task, a bad program, a missing file, bad JSON)
is printed as ``error: <message>`` and the process exits with status 2; the
traceback is shown only with ``--verbosity=1`` or ``COMPOSE_TRACEBACK=1``.
Any other exception is a bug and keeps its traceback.
"""

import dataclasses
import importlib
import os
import sys
import typing

from absl import app, flags, logging

from compose.config import ExperimentConfig, override, parse_params_override, validate
from compose.config.experiments import named_config
from compose.config.overrides import is_union, set_path
from compose.errors import InvalidInputError, UserError
from compose.files import read_json

USER_ERROR_STATUS = 2

flags.DEFINE_multi_string(
    "import",
    [],
    "A module to import first (repeatable), e.g. one that registers your own tasks.",
)
flags.DEFINE_string(
    "model_dir",
    None,
    "The model dir: compose.train writes it (default runs/main); the other binaries read "
    "the trained model in it.",
)
flags.DEFINE_string(
    "config",
    None,
    "A named experiment config (compose/config/experiments: main, authors, five_tasks, "
    "stream); this binary takes its own sections of it.",
)
flags.DEFINE_string(
    "config_file", None, "A JSON file of config values: a nested dict of the tree's sections."
)
flags.DEFINE_string(
    "params_override", "", "Config values as dotted keys, e.g. 'train.steps=100,model.depth=4'."
)
flags.DEFINE_string(
    "data_dir",
    None,
    "Directory of the .npz sources (data_dir; default: the model dir's, else $COMPOSE_DATA_DIR).",
)
flags.DEFINE_string(
    "tfds_dir",
    None,
    "TFDS directory for prepared data (tfds_dir; default: the model dir's, else "
    "$COMPOSE_TFDS_DIR).",
)

COMMON_FLAG_FIELDS = {"data_dir": "data_dir", "tfds_dir": "tfds_dir"}
"""The common flags that name a field of the tree, for every binary."""


def define_field_flags(fields: dict[str, tuple[str, str]]) -> dict[str, str]:
    """Defines a flag per ``{flag: (field path, help)}``, typed as the field is
    and defaulting to None (unset: the field keeps its configured value);
    returns ``{flag: field path}`` for :func:`build_config`."""
    for flag, (path, help_text) in fields.items():
        annotation, default = _field(path)
        kinds = typing.get_args(annotation) if is_union(annotation) else (annotation,)
        kind = next(k for k in kinds if k is not type(None))
        kind = typing.get_origin(kind) or kind
        define = {
            bool: flags.DEFINE_bool,
            int: flags.DEFINE_integer,
            float: flags.DEFINE_float,
            str: flags.DEFINE_string,
            list: flags.DEFINE_list,
        }[kind]
        define(flag, None, f"{help_text} ({path}; default {default!r}).")
    return {flag: path for flag, (path, _) in fields.items()}


def build_config(
    flag_values, sections, flag_fields, base=None, set_by_flags=None
) -> ExperimentConfig:
    """The binary's config: ``base`` (default: the tree's defaults), then the
    binary's sections of the named ``--config``, then ``--config_file``, then
    ``--params_override``, then every flag of ``flag_fields`` (and
    :data:`COMMON_FLAG_FIELDS`) that was given; validated.

    Args:
      sections: the top-level keys this binary may set; any other key in the
        file or the overrides is an error saying where it comes from instead.
      set_by_flags: ``{field path: flag}`` of fields a binary sets per run
        from a list flag (``transfer.mode`` from ``--modes``); giving them
        as config values is an error naming the flag.
    """
    config = base or ExperimentConfig()
    layers = []
    if flag_values.config:
        named = named_config(flag_values.config)
        mine = {key: value for key, value in named.items() if key in sections}
        layers.append(("--config", mine if sections else named))
    if flag_values.config_file:
        layers.append(("--config_file", read_json(flag_values.config_file, "--config_file")))
    layers.append(("--params_override", parse_params_override(flag_values.params_override)))
    given = {}
    for flag, path in {**COMMON_FLAG_FIELDS, **flag_fields}.items():
        if flag_values[flag].value is not None:
            set_path(given, path, flag_values[flag].value)
    layers.append(("flags", given))
    for source, values in layers:
        _check_sections(values, sections, source)
        for path, flag in (set_by_flags or {}).items():
            if _has_path(values, path):
                raise InvalidInputError(f"{source}: {path} is set per run by {flag}; give {flag}")
        config = override(config, values)
    validate(config)
    return config


def _field(path: str):
    """``(annotation, default)`` of the tree's field at dotted ``path``."""
    node = ExperimentConfig
    *parents, leaf = path.split(".")
    for parent in parents:
        node = {f.name: f for f in dataclasses.fields(node)}[parent].type
    field = {f.name: f for f in dataclasses.fields(node)}[leaf]
    if field.default is not dataclasses.MISSING:
        return field.type, field.default
    return field.type, field.default_factory()


def _has_path(values: dict, path: str) -> bool:
    for key in path.split("."):
        if not isinstance(values, dict) or key not in values:
            return False
        values = values[key]
    return True


def _check_sections(values: dict, sections, source: str) -> None:
    others = sorted(set(values) - set(sections))
    if others and not sections:
        raise InvalidInputError(f"{source} sets {', '.join(others)}, but this binary has no config")
    if others:
        experiment = {"tasks", "model", "train", "strategy", "tpu"} - set(sections)
        hint = (
            "; the experiment's come from --model_dir's config.json"
            if experiment & set(others)
            else "; the others belong to other binaries"
        )
        raise InvalidInputError(
            f"{source} sets {', '.join(others)}, but this binary takes only "
            f"{', '.join(sections)}{hint}"
        )


def run_binary(main) -> None:
    """``app.run(main)`` with the project's flag parsing, imports and error style."""
    app.run(lambda argv: _run_main(main, argv), flags_parser=_parse_flags)


def _parse_flags(argv):
    try:
        return flags.FLAGS(argv)
    except flags.Error as error:
        _exit_with(str(error))


def _run_main(main, argv):
    try:
        if len(argv) > 1:
            raise InvalidInputError(
                f"unexpected arguments: {' '.join(argv[1:])} (flags are --name=value)"
            )
        if not flags.FLAGS["verbosity"].present:
            logging.set_verbosity(logging.WARNING)
        import_user_modules(flags.FLAGS["import"].value)
        return main(argv)
    except UserError as error:
        if _show_traceback():
            raise
        _exit_with(str(error))


def import_user_modules(names) -> None:
    """Imports each module of ``--import`` (the working directory is on the path)."""
    if names and "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError as error:
            raise InvalidInputError(f"--import={name}: {error}") from error
        except Exception as error:  # the user's module failed; say so in one line
            raise InvalidInputError(
                f"--import={name} raised {type(error).__name__}: {error} "
                "(--verbosity=1 shows the traceback)"
            ) from error


def _show_traceback() -> bool:
    verbosity = flags.FLAGS["verbosity"]
    return os.environ.get("COMPOSE_TRACEBACK") == "1" or (
        verbosity.present and verbosity.value >= 1
    )


def _exit_with(message: str):
    print(f"error: {message}", file=sys.stderr, flush=True)
    sys.exit(USER_ERROR_STATUS)
