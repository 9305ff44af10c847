"""What every absl binary of the project does first."""

from absl import app, flags, logging


def start_binary(argv) -> None:
    """Refuses stray positional arguments (a mistyped flag usually) and, unless
    ``--verbosity`` was given, keeps TF's info logs out of the progress output."""
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    if not flags.FLAGS["verbosity"].present:
        logging.set_verbosity(logging.WARNING)
