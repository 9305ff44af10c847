import numpy as np
import pytest

from compose.core.program import (
    IDENTITY,
    ProgramError,
    format_program,
    pad_program,
    unpad_program,
    validate_program,
)


def test_valid_program_comes_back_as_ints():
    assert validate_program("t", np.array([3, 0, 3]), bank_size=4, max_depth=4) == [3, 0, 3]


@pytest.mark.parametrize(
    "program, message",
    [
        ([], "task 'usps': the program is empty"),
        ([0, 4], "task 'usps': block index 4 at position 1 is out of range for a bank of 4 blocks"),
        ([-1], "block index -1 at position 0 is out of range"),
        ([0, 1, 2, 3, 0], "the program has 5 blocks but the model's maximum depth is 4"),
        ([0, 1.5], "position 1 holds 1.5; block indices must be integers"),
        ([True], "position 0 holds True"),
        ("012", "a program must be a sequence of block indices, got str"),
    ],
)
def test_bad_programs_name_task_and_position(program, message):
    with pytest.raises(ProgramError, match=message.replace("(", r"\(")):
        validate_program("usps", program, bank_size=4, max_depth=4)


def test_padding_round_trip():
    row = pad_program([2, 1], max_depth=4)
    assert row.dtype == np.int32
    assert row.tolist() == [2, 1, IDENTITY, IDENTITY]
    assert unpad_program(row) == [2, 1]
    assert format_program([2, 1]) == "2 -> 1"
