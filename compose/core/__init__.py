"""The model: task specs, programs, the bank, per-task layers and the composed model.

Loaded on first use (:mod:`compose.lazy`), so :mod:`compose.core.spec`, which
:mod:`tasks` imports, does not load Keras.
"""

from compose.lazy import lazy_attributes

_HOMES = {
    "BlockBank": "compose.core.bank",
    "ComposedModel": "compose.core.model",
    "TaskOutput": "compose.core.model",
    "IDENTITY": "compose.core.program",
    "ProgramError": "compose.core.program",
    "format_program": "compose.core.program",
    "TaskSpec": "compose.core.spec",
    "refresh_statistics": "compose.core.statistics",
    "SELECTIONS": "compose.core.task_path",
    "TaskPath": "compose.core.task_path",
}
__all__ = sorted(_HOMES)
__getattr__, __dir__ = lazy_attributes(__name__, _HOMES)
