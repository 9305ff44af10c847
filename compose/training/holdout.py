"""Examples held out of a task's training split: to validate settings, and to score searches."""

from typing import NamedTuple

import numpy as np

from tasks import Split


class HeldOut(NamedTuple):
    """A task's training split after :func:`hold_out`."""

    train: Split
    """What trains (during the learning phase; ``search`` joins it after)."""
    validation: Split | None
    """The last ``validation_examples``: scored after training, never trained on."""
    search: Split | None
    """The examples that score the learning phase's program searches."""


def hold_out(train, train_config, searching: bool) -> HeldOut:
    """Holds the last ``validation_examples`` of a task's training
    :class:`tasks.Split` out (at most a fifth), then, when the run searches
    programs, the last ``search_validation_examples`` of the rest (at most a
    fifth of it).  Separate splits, so that a validation accuracy is never
    the one a search maximised."""
    validation = search = None
    if train_config.validation_examples:
        train, validation = train.split_off(min(train_config.validation_examples, len(train) // 5))
    if searching:
        train, search = train.split_off(
            min(train_config.search_validation_examples, len(train) // 5)
        )
    return HeldOut(train, validation, search)


def rejoin(train, search):
    """``train`` with the ``search`` examples held out of its end put back."""
    if search is None:
        return train
    return Split(
        np.concatenate([train.images, search.images]),
        np.concatenate([train.labels, search.labels]),
    )
