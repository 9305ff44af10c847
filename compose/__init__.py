"""Composition engine: a bank of isometric blocks shared by task programs."""

from compose.core import (
    IDENTITY,
    SELECTIONS,
    BlockBank,
    ComposedModel,
    ProgramError,
    TaskPath,
    TaskSpec,
    refresh_statistics,
)

__all__ = [
    "IDENTITY",
    "SELECTIONS",
    "BlockBank",
    "ComposedModel",
    "ProgramError",
    "TaskPath",
    "TaskSpec",
    "refresh_statistics",
]
