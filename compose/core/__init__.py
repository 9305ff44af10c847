"""The model: task specs, programs, the bank, per-task layers and the composed model."""

from compose.core.bank import BlockBank
from compose.core.model import ComposedModel, TaskOutput
from compose.core.program import IDENTITY, ProgramError, format_program
from compose.core.spec import TaskSpec
from compose.core.statistics import refresh_statistics
from compose.core.task_path import SELECTIONS, TaskPath

__all__ = [
    "IDENTITY",
    "SELECTIONS",
    "BlockBank",
    "ComposedModel",
    "ProgramError",
    "TaskOutput",
    "TaskPath",
    "TaskSpec",
    "format_program",
    "refresh_statistics",
]
