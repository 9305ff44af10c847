"""What the engine needs to know of a task: a leaf module (``tasks/`` imports only this)."""

import dataclasses

from compose.errors import InvalidInputError


@dataclasses.dataclass(frozen=True)
class TaskSpec:
    """A classification task as the model sees it (the data side lives in :mod:`tasks`).

    Attributes:
      name: the task's key in the model's inputs, outputs and metrics.
      image_shape: native ``(height, width, channels)`` of its uint8 images.
      num_classes: number of labels.
    """

    name: str
    image_shape: tuple[int, int, int]
    num_classes: int

    def __post_init__(self):
        object.__setattr__(self, "image_shape", tuple(int(d) for d in self.image_shape))
        if len(self.image_shape) != 3 or min(self.image_shape) < 1:
            raise InvalidInputError(
                f"task {self.name!r}: image_shape must be (height, width, channels), "
                f"got {self.image_shape}"
            )
        if self.num_classes < 2:
            raise InvalidInputError(
                f"task {self.name!r}: num_classes must be at least 2, got {self.num_classes}"
            )
