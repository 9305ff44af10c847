import io
import pickle

import numpy as np
import pytest
import tensorflow_datasets as tfds

import tasks
from compose.errors import InvalidInputError
from tasks import DATA_DIR, Task, get_task, load_task_data, register_task
from tasks.builders import load_pickled_array


def test_registry_suggests_close_names():
    with pytest.raises(
        LookupError, match="unknown task 'fashion_mnst'. Did you mean fashion_mnist"
    ):
        get_task("fashion_mnst")


def test_re_registering_a_different_task_is_refused():
    with pytest.raises(ValueError, match="a different task named 'usps' is already registered"):
        register_task(Task("usps", dataset="usps", image_shape=(28, 28, 1), num_classes=10))


def test_catalog_dataset_loads_through_tfds_mock_data():
    task = get_task("tfds_mnist")
    with tfds.testing.mock_data(num_examples=12):
        train, test = load_task_data.__wrapped__(task, None, None)
    assert train.images.shape == (12, 28, 28, 1) and train.images.dtype == np.uint8
    assert test.labels.dtype == np.int32 and test.labels.max() < 10


def test_unprepared_catalog_dataset_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="'tfds_cifar10'.*not prepared.*never downloads"):
        load_task_data.__wrapped__(get_task("tfds_cifar10"), None, str(tmp_path))


def write_npz(path, **arrays):
    np.savez(path, **arrays)
    return path


def synthetic_usps(directory, n=20, shape=(16, 16)):
    rng = np.random.default_rng(0)
    write_npz(
        directory / "usps.npz",
        x_train=rng.integers(0, 256, (n, *shape), dtype=np.uint8),
        y_train=rng.integers(0, 10, n, dtype=np.uint8),
        x_test=rng.integers(0, 256, (n // 2, *shape), dtype=np.uint8),
        y_test=rng.integers(0, 10, n // 2, dtype=np.uint8),
    )


def test_local_builder_prepares_from_data_dir(tmp_path):
    synthetic_usps(tmp_path)
    train, test = load_task_data.__wrapped__(
        get_task("usps"), str(tmp_path), str(tmp_path / "tfds")
    )
    assert train.images.shape == (20, 16, 16, 1) and len(test) == 10
    source = np.load(tmp_path / "usps.npz")

    def pairs(images, labels):  # TFDS shuffles on disk: compare the multisets of examples
        return sorted(
            (image.tobytes(), int(label)) for image, label in zip(images, labels, strict=True)
        )

    assert pairs(train.images[..., 0], train.labels) == pairs(source["x_train"], source["y_train"])


def test_missing_data_dir_flag(tmp_path):
    with pytest.raises(FileNotFoundError, match="task 'usps' reads its files from --data_dir"):
        load_task_data.__wrapped__(get_task("usps"), None, str(tmp_path))


def test_missing_data_directory(tmp_path):
    with pytest.raises(
        FileNotFoundError, match=f"data directory {tmp_path}/nowhere does not exist"
    ):
        load_task_data.__wrapped__(get_task("usps"), str(tmp_path / "nowhere"), str(tmp_path))


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="usps.npz not found; set --data_dir"):
        load_task_data.__wrapped__(get_task("usps"), str(tmp_path), str(tmp_path / "tfds"))


def test_unreadable_file(tmp_path):
    (tmp_path / "usps.npz").write_bytes(b"not an archive")
    with pytest.raises(OSError, match="usps: cannot read .*usps.npz"):
        load_task_data.__wrapped__(get_task("usps"), str(tmp_path), str(tmp_path / "tfds"))
    assert not (tmp_path / "tfds" / "usps" / "1.0.0").exists(), "no half-prepared dataset"


def test_wrong_image_shape_in_source(tmp_path):
    synthetic_usps(tmp_path, shape=(28, 28))
    with pytest.raises(ValueError, match="cannot reshape|size"):
        load_task_data.__wrapped__(get_task("usps"), str(tmp_path), str(tmp_path / "tfds"))


def test_task_shape_mismatch_is_reported(tmp_path):
    synthetic_usps(tmp_path)
    task = Task(
        "usps_as_28", dataset="usps", image_shape=(28, 28, 1), num_classes=10, manual_dir=DATA_DIR
    )
    with pytest.raises(ValueError, match="task 'usps_as_28': the data hold uint8 images of shape"):
        load_task_data.__wrapped__(task, str(tmp_path), str(tmp_path / "tfds"))


def test_adding_a_task_takes_a_few_lines(tmp_path):
    synthetic_usps(tmp_path)
    inverted = register_task(
        Task(
            "usps_inverted",
            dataset="usps",
            image_shape=(16, 16, 1),
            num_classes=10,
            manual_dir=DATA_DIR,
            preprocess=lambda images: 255 - images,
        )
    )
    plain, _ = load_task_data.__wrapped__(get_task("usps"), str(tmp_path), str(tmp_path / "t"))
    flipped, _ = load_task_data.__wrapped__(inverted, str(tmp_path), str(tmp_path / "t"))
    np.testing.assert_array_equal(flipped.images, 255 - plain.images)


@pytest.mark.parametrize(
    "name, train, test, shape",
    [
        ("fashion_mnist", 60000, 10000, (28, 28, 1)),
        ("uci_digits", 1438, 359, (8, 8, 1)),
        ("animal_silhouettes", 8000, 2000, (28, 28, 1)),
        ("mnist_partial", 17435, 10000, (28, 28, 1)),
        ("usps", 7291, 2007, (16, 16, 1)),
        ("cifar10_partial", 5085, 1017, (32, 32, 3)),
    ],
)
def test_real_sources_load_with_their_documented_sizes(name, train, test, shape, request):
    task = get_task(name)
    # Only the shared sources need the shared folder; the installed ones never read it.
    data_dir = request.getfixturevalue("shared_data_dir") if task.reads_data_dir else None
    train_split, test_split = load_task_data(task, data_dir, tasks.default_tfds_dir())
    assert (len(train_split), len(test_split)) == (train, test)
    assert train_split.images.shape[1:] == shape
    assert np.bincount(test_split.labels, minlength=10).min() > 0, "every class in the test split"


class _RunsCode:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_package_pickles_are_read_as_numpy_arrays_only(capsys):
    array = np.arange(12, dtype=np.uint8).reshape(3, 4)
    np.testing.assert_array_equal(
        load_pickled_array(io.BytesIO(pickle.dumps(array)), "data.gz"), array
    )
    with pytest.raises(InvalidInputError, match=r"data.gz: refusing builtins.print"):
        load_pickled_array(io.BytesIO(pickle.dumps(_RunsCode())), "data.gz")
    assert "must never run" not in capsys.readouterr().out
    with pytest.raises(InvalidInputError, match="expected a pickled NumPy array, got list"):
        load_pickled_array(io.BytesIO(pickle.dumps([1, 2])), "data.gz")
