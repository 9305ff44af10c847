"""Loading a task's splits into memory through TFDS."""

import dataclasses
import functools
import logging
import os

import numpy as np
import tensorflow_datasets as tfds

from compose.errors import InvalidInputError, MissingFileError
from tasks import builders
from tasks.task import Task


class _NotYetPrepared(logging.Filter):
    """Drops TFDS's "Variant folder ... has no dataset_info.json" warning: it
    means only that a dataset is prepared for the first time, which the local
    builders announce themselves."""

    def filter(self, record):
        return not str(record.msg).startswith("Variant folder %s has no")


logging.getLogger("absl").addFilter(_NotYetPrepared())


@dataclasses.dataclass(frozen=True)
class Split:
    """One split of a task held in memory: uint8 images and int32 labels."""

    images: np.ndarray
    labels: np.ndarray

    def __len__(self):
        return len(self.labels)

    def head(self, count: int) -> "Split":
        """The first ``count`` examples (all when there are fewer)."""
        return Split(self.images[:count], self.labels[:count])

    def split_off(self, count: int) -> tuple["Split", "Split"]:
        """``(rest, last count examples)``: a validation set held out of a split."""
        if not 0 < count < len(self):
            raise InvalidInputError(f"cannot hold out {count} of {len(self)} examples")
        cut = len(self) - count
        return (
            Split(self.images[:cut], self.labels[:cut]),
            Split(self.images[cut:], self.labels[cut:]),
        )


def default_data_dir() -> str | None:
    """``COMPOSE_DATA_DIR``: where the ``.npz`` sources live (e.g. ../shared/data)."""
    return os.environ.get("COMPOSE_DATA_DIR") or None


def default_tfds_dir() -> str | None:
    """``COMPOSE_TFDS_DIR``: where TFDS keeps prepared datasets (None: TFDS's default)."""
    return os.environ.get("COMPOSE_TFDS_DIR") or None


@functools.cache
def load_task_data(task: Task, data_dir: str | None = None, tfds_dir: str | None = None):
    """``(train, test)`` :class:`Split`s of ``task``, prepared on first use.

    Raises:
      FileNotFoundError: the data directory or a source file is missing, or a
        catalog dataset is not prepared (nothing is ever downloaded).
      DamagedFileError (an OSError): a source file cannot be read.
      ValueError: the data do not match the task's declared shape or classes.
    """
    manual_dir = task.resolve_manual_dir(data_dir)
    if manual_dir is not None and not os.path.isdir(manual_dir):
        raise MissingFileError(f"task {task.name!r}: data directory {manual_dir} does not exist")
    local = builders.is_local(task.dataset)
    try:
        train, test = tfds.load(
            task.dataset,
            split=[task.train_split, task.test_split],
            data_dir=tfds_dir,
            download=local,
            as_supervised=True,
            download_and_prepare_kwargs={
                "download_config": tfds.download.DownloadConfig(manual_dir=manual_dir)
            },
        )
    except AssertionError as error:  # TFDS's way of saying the files are not there
        if local:
            raise MissingFileError(f"task {task.name!r}: {' '.join(str(error).split())}") from None
        raise MissingFileError(
            f"task {task.name!r}: TFDS dataset {task.dataset!r} is not prepared in "
            f"{tfds_dir or 'the default TFDS directory'} and this project never downloads; "
            f"prepare it on a machine with network access and copy it there ({error})"
        ) from None
    splits = []
    for split in (train, test):
        images, labels = _to_arrays(split)
        if task.preprocess is not None:
            images = task.preprocess(images)
        _check(task, images, labels)
        splits.append(Split(images, labels.astype(np.int32)))
    return tuple(splits)


def _to_arrays(dataset):
    """All ``(image, label)`` pairs of a dataset as two arrays.

    Chunked batching rather than TFDS's ``batch_size=-1``, which aborts the
    process under ``tfds.testing.mock_data``.
    """
    chunks = list(tfds.as_numpy(dataset.batch(4096)))
    return tuple(np.concatenate([chunk[i] for chunk in chunks]) for i in (0, 1))


def _check(task, images, labels):
    if images.dtype != np.uint8 or tuple(images.shape[1:]) != task.image_shape:
        raise InvalidInputError(
            f"task {task.name!r}: the data hold {images.dtype} images of shape "
            f"{tuple(images.shape[1:])}; the task declares uint8 {task.image_shape}"
        )
    if len(labels) and not 0 <= labels.min() <= labels.max() < task.num_classes:
        raise InvalidInputError(
            f"task {task.name!r}: labels span {labels.min()}..{labels.max()}, "
            f"outside 0..{task.num_classes - 1}"
        )
