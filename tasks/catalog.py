"""The built-in tasks and suites.

Every task here reads real data that is on the machine: registry packages
(Debian, PyPI) for the default suite, the shared ``.npz`` files through
``--data_dir`` for the rest.  The catalog names (``mnist``, ...) go through
TFDS and must be prepared in the TFDS directory (nothing downloads).
"""

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
for _corruption, _function in CORRUPTIONS.items():
    register_task(
        Task(
            f"mnist_partial_{_corruption}",
            dataset="mnist_partial",
            image_shape=(28, 28, 1),
            num_classes=10,
            manual_dir=DATA_DIR,
            preprocess=_function,
            description=f"derived: MNIST-partial with MNIST-C style {_corruption} (--data_dir)",
        )
    )
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
