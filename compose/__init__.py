"""Composition engine: a bank of isometric blocks shared by task programs.

The engine's classes load on first use (:mod:`compose.lazy`): ``import
compose.config`` and ``import compose.errors`` do not load Keras.
"""

from compose.lazy import lazy_attributes

_HOMES = {
    "IDENTITY": "compose.core.program",
    "ProgramError": "compose.core.program",
    "SELECTIONS": "compose.core.task_path",
    "TaskPath": "compose.core.task_path",
    "BlockBank": "compose.core.bank",
    "ComposedModel": "compose.core.model",
    "TaskSpec": "compose.core.spec",
    "refresh_statistics": "compose.core.statistics",
}
__all__ = sorted(_HOMES)
__getattr__, __dir__ = lazy_attributes(__name__, _HOMES)
