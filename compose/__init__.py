"""Composition engine: a bank of isometric blocks shared by task programs."""

from compose.bank import BlockBank
from compose.model import ComposedModel
from compose.program import IDENTITY, ProgramError
from compose.task_path import TaskPath, TaskSpec

__all__ = ["IDENTITY", "BlockBank", "ComposedModel", "ProgramError", "TaskPath", "TaskSpec"]
