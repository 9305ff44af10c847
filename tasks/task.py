"""Task definitions and the registry that names them."""

import dataclasses
import difflib
from collections.abc import Callable

import numpy as np

from compose.core.spec import TaskSpec
from compose.errors import InvalidInputError, MissingFileError, UnknownNameError

DATA_DIR = "{data_dir}"
"""``Task.manual_dir`` placeholder for the user's ``--data_dir``."""


@dataclasses.dataclass(frozen=True)
class Task:
    """A classification task: where its data comes from and what it looks like.

    Attributes:
      name: registry key, also the key of the task's outputs and metrics.
      dataset: TFDS builder name; a catalog name (``mnist``) must already be
        prepared in the TFDS directory, a builder of :mod:`tasks.builders` is
        prepared from local files on first use.
      image_shape: native ``(height, width, channels)`` of the uint8 images.
      num_classes: number of labels.
      manual_dir: where a local builder reads its source files; ``DATA_DIR``
        stands for the user's ``--data_dir``; None for none.
      train_split, test_split: TFDS split names.
      preprocess: optional function applied once to a loaded split's uint8
        images ``[N, H, W, C] -> [N, H, W, C]`` (crops, colour changes, ...).
      description: one line for listings and docs.
    """

    name: str
    dataset: str
    image_shape: tuple[int, int, int]
    num_classes: int
    manual_dir: str | None = None
    train_split: str = "train"
    test_split: str = "test"
    preprocess: Callable[[np.ndarray], np.ndarray] | None = None
    description: str = ""

    @property
    def spec(self) -> TaskSpec:
        """What the model needs of this task."""
        return TaskSpec(self.name, self.image_shape, self.num_classes)

    @property
    def reads_data_dir(self) -> bool:
        """Whether the task's files come from ``--data_dir`` (not an installed package)."""
        return self.manual_dir is not None and DATA_DIR in self.manual_dir

    def resolve_manual_dir(self, data_dir: str | None) -> str | None:
        """The directory the builder reads, with ``DATA_DIR`` filled in."""
        if self.manual_dir is None or DATA_DIR not in self.manual_dir:
            return self.manual_dir
        if not data_dir:
            raise MissingFileError(
                f"task {self.name!r} reads its files from --data_dir (or the environment "
                f"variable COMPOSE_DATA_DIR), which is not set; point it at the directory "
                f"holding the task's files (for the shared data: ../shared/data)"
            )
        return self.manual_dir.replace(DATA_DIR, data_dir)


_REGISTRY: dict[str, Task] = {}


def register_task(task: Task) -> Task:
    """Adds ``task`` to the registry; re-registering a name is an error."""
    if task.name in _REGISTRY and _REGISTRY[task.name] != task:
        raise InvalidInputError(f"a different task named {task.name!r} is already registered")
    _REGISTRY[task.name] = task
    return task


def get_task(name: str) -> Task:
    """The registered task called ``name``, or a LookupError that suggests names."""
    try:
        return _REGISTRY[name]
    except KeyError:
        close = difflib.get_close_matches(name, _REGISTRY, n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise UnknownNameError(
            f"unknown task {name!r}.{hint} Registered tasks: {', '.join(sorted(_REGISTRY))}"
        ) from None


def registered_tasks() -> dict[str, Task]:
    return dict(_REGISTRY)
