"""Errors the user can fix by changing what they gave (a flag, a file, a name).

Binaries print these as one line, ``error: <message>``, and exit with status
2 (:func:`compose.cli.run_binary`); any other exception is a bug and keeps its
traceback.  Each also derives from the built-in a library caller would catch
(``ValueError``, ``LookupError``, ``FileNotFoundError``), so code written
against those keeps working.
"""


class UserError(Exception):
    """Input that cannot work; the message says which input and what was expected."""


class InvalidInputError(UserError, ValueError):
    """A value (flag, config field, program, data) that is out of range or malformed."""


class UnknownNameError(UserError, LookupError):
    """A name (task, config key, block family, strategy) that is not registered."""


class MissingFileError(UserError, FileNotFoundError):
    """A file or directory the input names that does not exist or is not ready."""


class ExistingOutputError(UserError, FileExistsError):
    """An output that already exists and is never overwritten (an export version)."""


class DamagedFileError(UserError, OSError):
    """A file that exists but cannot be read as what it should be (truncated,
    corrupted, another format); the message says how to re-create it."""
