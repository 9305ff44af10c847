"""What every absl binary of the project shares: ``--import``, and one-line errors.

:func:`run_binary` replaces ``app.run``.  A :class:`compose.errors.UserError`
(a bad flag value, an unknown task, a bad program, a missing file, bad JSON)
is printed as ``error: <message>`` and the process exits with status 2; the
traceback is shown only with ``--verbosity=1`` or ``COMPOSE_TRACEBACK=1``.
Any other exception is a bug and keeps its traceback.
"""

import importlib
import os
import sys

from absl import app, flags, logging

from compose.errors import InvalidInputError, UserError

USER_ERROR_STATUS = 2

flags.DEFINE_multi_string(
    "import",
    [],
    "A module to import first (repeatable), e.g. one that registers your own tasks.",
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
