"""The built-in tasks and suites.

Every task here reads real data that is on the machine: registry packages
(Debian, PyPI) for the default suite, the shared ``.npz`` files through
``--data_dir`` for the rest.  The catalog names (``mnist``, ...) go through
TFDS and must be prepared in the TFDS directory (nothing downloads).
"""

import dataclasses

from tasks.derived import CORRUPTIONS
from tasks.task import DATA_DIR, Task, register_task

FASHION_MNIST_DEBIAN_DIR = "/usr/share/datasets/fashion-mnist"

FASHION_MNIST = register_task(
    Task(
        "fashion_mnist",
        dataset="fashion_mnist_local",
        image_shape=(28, 28, 1),
        num_classes=10,
        manual_dir=FASHION_MNIST_DEBIAN_DIR,
        description="Fashion-MNIST, 60k/10k, from the Debian package dataset-fashion-mnist",
    )
)
UCI_DIGITS = register_task(
    Task(
        "uci_digits",
        dataset="uci_digits",
        image_shape=(8, 8, 1),
        num_classes=10,
        description="UCI optical digits 8x8, 1,438/359, from scikit-learn",
    )
)
ANIMAL_SILHOUETTES = register_task(
    Task(
        "animal_silhouettes",
        dataset="animal_silhouettes",
        image_shape=(28, 28, 1),
        num_classes=10,
        description="animal silhouettes 28x28, 8k/2k, from the PyPI package animal-mnist",
    )
)
MNIST_PARTIAL = register_task(
    Task(
        "mnist_partial",
        dataset="mnist_partial",
        image_shape=(28, 28, 1),
        num_classes=10,
        manual_dir=DATA_DIR,
        description="MNIST, first 17,435 training images and the full test set (--data_dir)",
    )
)
USPS = register_task(
    Task(
        "usps",
        dataset="usps",
        image_shape=(16, 16, 1),
        num_classes=10,
        manual_dir=DATA_DIR,
        description="USPS digits 16x16, 7,291/2,007 (--data_dir)",
    )
)
CIFAR10_PARTIAL = register_task(
    Task(
        "cifar10_partial",
        dataset="cifar10_partial",
        image_shape=(32, 32, 3),
        num_classes=10,
        manual_dir=DATA_DIR,
        description="CIFAR-10, 5,085/1,017 images of the official batches (--data_dir)",
    )
)


def _derived(base: Task, corruption: str) -> Task:
    """``base`` with an MNIST-C style corruption of every image, registered as
    ``<base>_<corruption>``."""
    return register_task(
        dataclasses.replace(
            base,
            name=f"{base.name}_{corruption}",
            preprocess=CORRUPTIONS[corruption],
            description=f"derived: {base.name} with MNIST-C style {corruption} "
            f"({base.description})",
        )
    )


for _corruption in CORRUPTIONS:
    _derived(MNIST_PARTIAL, _corruption)
USPS_SCALE = _derived(USPS, "scale")
ANIMAL_SILHOUETTES_SHEAR = _derived(ANIMAL_SILHOUETTES, "shear")
CIFAR10_PARTIAL_SHOT_NOISE = _derived(CIFAR10_PARTIAL, "shot_noise")

for _name, _shape in (
    ("mnist", (28, 28, 1)),
    ("cifar10", (32, 32, 3)),
    ("svhn_cropped", (32, 32, 3)),
):
    register_task(
        Task(
            f"tfds_{_name}",
            dataset=_name,
            image_shape=_shape,
            num_classes=10,
            description=f"TFDS catalog {_name} (must be prepared in the TFDS directory)",
        )
    )

DEFAULT_SUITE = ("fashion_mnist", "uci_digits", "animal_silhouettes")
"""The main job's tasks: all installed by the set-up command, no --data_dir."""

SHARED_DATA_SUITE = ("fashion_mnist", "mnist_partial", "usps", "uci_digits", "cifar10_partial")
"""The multitask benchmark's tasks (needs --data_dir=../shared/data)."""

DIGIT_SOURCES = ("mnist_partial", "uci_digits", "mnist_partial_shear", "mnist_partial_scale")
"""Labelled digit domains of the domain-adaptation benchmark (USPS the target)."""

STREAM_ROOT = ("fashion_mnist",)
"""The task(s) the growing stream's root bank is trained on."""

TASK_STREAM = (
    "mnist_partial",
    "usps",
    "uci_digits",
    "animal_silhouettes",
    "cifar10_partial",
    "mnist_partial_shear",
    "usps_scale",
    "animal_silhouettes_shear",
    "cifar10_partial_shot_noise",
    "mnist_partial_scale",
)
"""Tasks added one by one to the root (``compose.grow``, ``benchmarks.stream``):
the five real datasets besides the root's first, then five derived domains
of them (docs/growing.md; needs --data_dir)."""
