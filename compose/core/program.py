"""Programs: a task's sequence of block indices into the bank.

A program is plain data.  In the model it is stored padded to the maximum
depth with :data:`IDENTITY` (a layer that passes its input through), so one
traced step serves every program of that maximum length.
"""

from collections.abc import Sequence

import numpy as np

from compose.errors import InvalidInputError

IDENTITY = -1
"""Padding index: the layer is skipped (identity)."""


class ProgramError(InvalidInputError):
    """A program that cannot run on the bank it was given to."""


def validate_program(
    task: str, program: Sequence[int], bank_size: int, max_depth: int
) -> list[int]:
    """Checks ``program`` for ``task`` and returns it as a list of ints.

    Raises:
      ProgramError: naming the task, the offending position and what was expected.
    """
    if isinstance(program, (str, bytes)) or not isinstance(program, Sequence | np.ndarray):
        raise ProgramError(
            f"task {task!r}: a program must be a sequence of block indices, "
            f"got {type(program).__name__}"
        )
    program = list(program)
    if not program:
        raise ProgramError(
            f"task {task!r}: the program is empty; it needs at least one block index"
        )
    if len(program) > max_depth:
        raise ProgramError(
            f"task {task!r}: the program has {len(program)} blocks "
            f"but the model's maximum depth is {max_depth}"
        )
    checked = []
    for position, index in enumerate(program):
        if isinstance(index, bool) or not isinstance(index, int | np.integer):
            raise ProgramError(
                f"task {task!r}: position {position} holds {index!r}; "
                "block indices must be integers"
            )
        if not 0 <= index < bank_size:
            raise ProgramError(
                f"task {task!r}: block index {index} at position {position} is out of range "
                f"for a bank of {bank_size} blocks (valid: 0..{bank_size - 1})"
            )
        checked.append(int(index))
    return checked


def pad_program(program: Sequence[int], max_depth: int) -> np.ndarray:
    """The int32 row stored in the model: the program then IDENTITY padding."""
    row = np.full([max_depth], IDENTITY, dtype=np.int32)
    row[: len(program)] = program
    return row


def unpad_program(row) -> list[int]:
    """Inverse of :func:`pad_program`."""
    return [int(index) for index in np.asarray(row) if index != IDENTITY]


def format_program(program: Sequence[int]) -> str:
    """Text rendering, e.g. ``0 -> 2 -> 2 -> 1``."""
    return " -> ".join(str(index) for index in program)


def logits_near(program: Sequence[int], depth: int, bank_size: int, logit: float) -> np.ndarray:
    """``[depth, bank_size]`` mixture logits with ``logit`` on ``program``'s block
    at each of its layers and 0 elsewhere: a learned program that starts near
    ``program`` (softmax weight ``e^logit / (e^logit + K - 1)``)."""
    logits = np.zeros((depth, bank_size), np.float32)
    logits[np.arange(len(program)), list(program)] = logit
    return logits


def entries_read(program, bases) -> set[int]:
    """The bank entries ``program`` reads: its own and, through ``bases``
    (``{derived entry: its base}``), every entry they derive from."""
    read = set()
    for entry in program:
        read.add(entry)
        while entry in bases:
            entry = bases[entry]
            read.add(entry)
    return read
