"""TFDS builders for the local, offline sources this project trains on.

Every builder reads files already on the machine (``manual_dir``, a Debian
package, or a PyPI package's data) and never downloads.  TFDS writes the
prepared dataset to a temporary directory and renames it when complete, so an
interrupted preparation never leaves a half-written dataset behind.
"""

import gzip
import os
import pickle
import zipfile

import numpy as np
import tensorflow_datasets as tfds

from compose.errors import DamagedFileError, InvalidInputError, MissingFileError

_SPLIT_SEED = 20211129
"""Fixed seed for the train/test split of sources that ship without one."""


class LocalBuilder(tfds.core.GeneratorBasedBuilder):
    """Common shape of a 10-class uint8 image dataset with train and test splits.

    Subclasses set ``IMAGE_SHAPE`` and implement ``_load_arrays(manual_dir)``
    returning ``{split: (images, labels)}``; ``MANUAL_DOWNLOAD_INSTRUCTIONS``
    is None for sources that ship inside an installed package.
    """

    VERSION = tfds.core.Version("1.0.0")
    IMAGE_SHAPE: tuple[int, int, int]
    NUM_CLASSES = 10
    DESCRIPTION = ""

    def _info(self):
        # DatasetInfo directly rather than dataset_info_from_configs, which reads
        # metadata files from the builder's package and so refuses a builder
        # defined in a plain module (a user's my_tasks.py).
        return tfds.core.DatasetInfo(
            builder=self,
            description=self.DESCRIPTION,
            features=tfds.features.FeaturesDict(
                {
                    "image": tfds.features.Image(shape=self.IMAGE_SHAPE),
                    "label": tfds.features.ClassLabel(num_classes=self.NUM_CLASSES),
                }
            ),
            supervised_keys=("image", "label"),
        )

    # TFDS prints "Downloading and preparing dataset Unknown size ..." for
    # every builder; these read local files once and download nothing.
    def _log_download_bytes(self) -> None:
        print(f"preparing {self.name} from local files into {self.data_dir} (once)", flush=True)

    def _log_download_done(self) -> None:
        print(f"prepared {self.name}; later runs read it from {self.data_dir}", flush=True)

    def _split_generators(self, dl_manager):
        manual_dir = str(dl_manager.manual_dir) if self.MANUAL_DOWNLOAD_INSTRUCTIONS else None
        try:
            arrays = self._load_arrays(manual_dir)
        except FileNotFoundError as error:
            if isinstance(error, MissingFileError):
                raise
            raise MissingFileError(
                f"{self.name}: {error.filename or error} not found in {manual_dir}; "
                f"{self.MANUAL_DOWNLOAD_INSTRUCTIONS or 'reinstall the package that provides it'}"
            ) from None
        for split, (images, labels) in arrays.items():
            images = images.reshape((-1, *self.IMAGE_SHAPE))
            if images.dtype != np.uint8 or len(images) != len(labels):
                raise InvalidInputError(
                    f"{self.name}: split {split!r} has {images.dtype} images and "
                    f"{len(images)} images for {len(labels)} labels; expected matching uint8 arrays"
                )
            arrays[split] = (images, labels)
        return {split: self._generate_examples(*arrays[split]) for split in arrays}

    def _generate_examples(self, images, labels):
        for index, (image, label) in enumerate(zip(images, labels, strict=True)):
            yield index, {"image": image, "label": int(label)}

    def _load_arrays(self, manual_dir):
        raise NotImplementedError


def _read_npz(path, name):
    if not os.path.exists(path):
        raise MissingFileError(
            f"{name}: {path} not found; set --data_dir to the directory holding it"
        )
    try:
        with np.load(path) as archive:
            return {
                "train": (archive["x_train"], archive["y_train"]),
                "test": (archive["x_test"], archive["y_test"]),
            }
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
        raise DamagedFileError(
            f"{name}: cannot read {path} ({type(error).__name__}: {error}); expected an .npz "
            "with x_train, y_train, x_test, y_test: copy it again from its source "
            "(docs/data.md gives each file's checksum)"
        ) from error


class NpzBuilder(LocalBuilder):
    """A ``.npz`` archive with ``x_train, y_train, x_test, y_test``."""

    FILE: str
    MANUAL_DOWNLOAD_INSTRUCTIONS = "Point --data_dir at the .npz files (../shared/data/README.md)."

    def _load_arrays(self, manual_dir):
        return _read_npz(os.path.join(manual_dir, self.FILE), self.name)


class MnistPartial(NpzBuilder):
    """MNIST: the first 17,435 official training images, the full test set."""

    name = "mnist_partial"
    FILE = "mnist_partial.npz"
    IMAGE_SHAPE = (28, 28, 1)
    DESCRIPTION = __doc__


class Usps(NpzBuilder):
    """USPS handwritten digits, the standard 7,291 / 2,007 split, 16x16."""

    name = "usps"
    FILE = "usps.npz"
    IMAGE_SHAPE = (16, 16, 1)
    DESCRIPTION = __doc__


class Cifar10Partial(NpzBuilder):
    """CIFAR-10: 5,085 training and 1,017 test images of the official batches."""

    name = "cifar10_partial"
    FILE = "cifar10_partial.npz"
    IMAGE_SHAPE = (32, 32, 3)
    DESCRIPTION = __doc__


def _read_idx(path, magic, name):
    """One gzip IDX file (the MNIST format) as a uint8 array."""
    if not os.path.exists(path):
        raise MissingFileError(
            f"{name}: {path} not found; install the Debian package dataset-fashion-mnist"
        )
    try:
        with gzip.open(path, "rb") as stream:
            data = stream.read()
    except (OSError, EOFError) as error:
        raise DamagedFileError(
            f"{name}: cannot read {path} ({error}); reinstall dataset-fashion-mnist"
        ) from error
    found = int.from_bytes(data[:4], "big")
    if found != magic:
        raise DamagedFileError(
            f"{name}: {path} is not an IDX file (magic {found}, expected {magic}); "
            "reinstall dataset-fashion-mnist"
        )
    header = 16 if magic == 2051 else 8
    return np.frombuffer(data, dtype=np.uint8, offset=header)


class FashionMnistLocal(LocalBuilder):
    """Fashion-MNIST (Zalando, MIT) from the Debian package dataset-fashion-mnist.

    Debian re-compressed the files, so TFDS's own fashion_mnist builder rejects
    their checksums; this builder reads the IDX files directly.
    """

    name = "fashion_mnist_local"
    IMAGE_SHAPE = (28, 28, 1)
    DESCRIPTION = __doc__
    MANUAL_DOWNLOAD_INSTRUCTIONS = "apt-get install dataset-fashion-mnist"

    def _load_arrays(self, manual_dir):
        def split(prefix):
            images = _read_idx(
                os.path.join(manual_dir, f"{prefix}-images-idx3-ubyte.gz"), 2051, self.name
            )
            labels = _read_idx(
                os.path.join(manual_dir, f"{prefix}-labels-idx1-ubyte.gz"), 2049, self.name
            )
            return images, labels

        return {"train": split("train"), "test": split("t10k")}


def _fixed_split(images, labels, test_fraction):
    """A seeded, reproducible train/test split for sources without one."""
    order = np.random.default_rng(_SPLIT_SEED).permutation(len(labels))
    test = int(round(test_fraction * len(labels)))
    return {
        "train": (images[order[test:]], labels[order[test:]]),
        "test": (images[order[:test]], labels[order[:test]]),
    }


class UciDigits(LocalBuilder):
    """UCI optical digits (CC BY 4.0) from scikit-learn: 1,797 8x8 images, 0..16
    scaled to 0..255; a fixed 80/20 split."""

    name = "uci_digits"
    IMAGE_SHAPE = (8, 8, 1)
    DESCRIPTION = __doc__
    MANUAL_DOWNLOAD_INSTRUCTIONS = None

    def _load_arrays(self, manual_dir):
        from sklearn.datasets import load_digits

        digits = load_digits()
        images = np.round(digits.images * (255.0 / 16.0)).astype(np.uint8)
        return _fixed_split(images, digits.target, test_fraction=0.2)


class AnimalSilhouettes(LocalBuilder):
    """Animal silhouettes (MIT) from the PyPI package animal-mnist: 10,000 28x28
    images of 10 animal classes; a fixed 80/20 split."""

    name = "animal_silhouettes"
    IMAGE_SHAPE = (28, 28, 1)
    DESCRIPTION = __doc__
    MANUAL_DOWNLOAD_INSTRUCTIONS = None

    def _load_arrays(self, manual_dir):
        import importlib.util

        spec = importlib.util.find_spec("animal_mnist")
        if spec is None:
            raise MissingFileError(
                f"{self.name}: the package animal-mnist is not installed; "
                f"pip install --no-deps animal-mnist==0.4"
            )
        folder = os.path.join(os.path.dirname(spec.origin), "data", "Animal_MNIST")
        arrays = []
        for file in ("animal_data_version_3.gz", "animal_label_version_3.gz"):
            with gzip.open(os.path.join(folder, file), "rb") as stream:
                arrays.append(load_pickled_array(stream, file))
        images, labels = arrays
        return _fixed_split(images.astype(np.uint8), labels.astype(np.int64), test_fraction=0.2)


NUMPY_PICKLE_GLOBALS = {
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
}
"""What a pickled NumPy array needs to be rebuilt, and all the unpickler admits."""


class _ArrayUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) not in NUMPY_PICKLE_GLOBALS:
            raise pickle.UnpicklingError(f"refusing {module}.{name}: only NumPy arrays are read")
        return super().find_class(module, name)


def load_pickled_array(stream, source: str) -> np.ndarray:
    """The NumPy array pickled in ``stream``; nothing else is ever constructed,
    so a tampered package file cannot run code (plain ``pickle.load`` would).

    Raises:
      InvalidInputError: ``stream`` holds anything but a NumPy array.
    """
    try:
        array = _ArrayUnpickler(stream).load()
    except pickle.UnpicklingError as error:
        raise InvalidInputError(f"{source}: {error}") from None
    if not isinstance(array, np.ndarray):
        raise InvalidInputError(
            f"{source}: expected a pickled NumPy array, got {type(array).__name__}"
        )
    return array


def is_local(dataset: str) -> bool:
    """Whether ``dataset`` names a :class:`LocalBuilder` (ours or any module's),
    which the library prepares from local files; other names are TFDS catalog
    datasets, which must already be prepared (nothing downloads)."""
    try:
        return issubclass(tfds.builder_cls(dataset), LocalBuilder)
    except tfds.core.registered.DatasetNotFoundError:
        return False
