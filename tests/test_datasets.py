"""Every local data format is read from small generated fixtures; bad data is a one-line error."""

import zipfile

import numpy as np
import pytest

from conftest import CIFAR_CLASSES, assert_one_line_error, make_images, run_zoo
from zoo import datasets, errors


def test_npz(mnist_npz):
    arrays = datasets.load("mnist", mnist_npz)
    assert arrays.x_train.shape == (600, 28, 28, 1) and arrays.x_train.dtype == np.uint8
    assert arrays.y_test.shape == (200,) and arrays.y_test.dtype == np.int64
    expected = np.load(mnist_npz)
    np.testing.assert_array_equal(arrays.x_train[..., 0], expected["x_train"])


def test_npz_with_column_labels(cifar_npz):
    arrays = datasets.load("cifar10", cifar_npz)
    assert arrays.x_train.shape == (400, 32, 32, 3) and arrays.y_train.shape == (400,)


def test_idx_files(idx_folder):
    arrays = datasets.load("fashion_mnist", idx_folder)
    assert arrays.x_train.shape == (300, 28, 28, 1) and arrays.x_test.shape == (100, 28, 28, 1)
    images, labels = make_images(300, (28, 28), 4)
    np.testing.assert_array_equal(arrays.x_train[..., 0], images)
    np.testing.assert_array_equal(arrays.y_train, labels)


@pytest.mark.parametrize("as_zip", [False, True], ids=["folder", "zip"])
def test_image_folders(image_folders, as_zip):
    folder, archive = image_folders
    arrays = datasets.load("cifar10", archive if as_zip else folder)
    assert arrays.x_train.shape == (60, 32, 32, 3) and arrays.x_test.shape == (20, 32, 32, 3)
    assert arrays.class_names == CIFAR_CLASSES
    images, labels = make_images(60, (32, 32, 3), 6)
    # Files are read in sorted order; compare as multisets of (label, pixels) via the PNG-exact train split.
    order = sorted(range(60), key=lambda index: (CIFAR_CLASSES[labels[index]], f"{index:04d}"))
    np.testing.assert_array_equal(arrays.x_train, images[order])
    np.testing.assert_array_equal(arrays.y_train, labels[order])


def test_image_folders_are_cached(image_folders):
    folder, _ = image_folders
    datasets.load("cifar10", folder)
    assert list(datasets.cache_dir().glob("cifar10-*.npz"))
    again = datasets.load("cifar10", folder)
    assert again.x_train.shape == (60, 32, 32, 3)


def test_data_dir_environment_variable(mnist_npz, monkeypatch):
    monkeypatch.setenv("ZOO_DATA_DIR", str(mnist_npz.parent))
    assert datasets.locate("mnist") == mnist_npz
    assert datasets.load("mnist").x_train.shape[0] == 600


def test_explicit_path_wins_over_environment(mnist_npz, idx_folder, monkeypatch):
    monkeypatch.setenv("ZOO_DATA_DIR", str(mnist_npz.parent))
    assert datasets.load("mnist", idx_folder).x_train.shape[0] == 300


def test_validation_split_is_disjoint_and_fixed():
    train, val = datasets.validation_split(1000, 0.1)
    assert len(val) == 100 and len(train) == 900 and not set(train) & set(val)
    again_train, again_val = datasets.validation_split(1000, 0.1)
    np.testing.assert_array_equal(val, again_val)


def test_pipelines_batch_and_one_hot(mnist_npz):
    arrays = datasets.load("mnist", mnist_npz)
    splits = datasets.classification_splits(arrays, batch_size=32)
    images, labels = next(iter(splits.train))
    assert images.shape == (32, 28, 28, 1) and images.dtype.name == "float32"
    assert labels.shape == (32, 10)
    assert splits.info["train"] + splits.info["val"] == 600 and splits.info["test"] == 200
    assert sum(int(batch[0].shape[0]) for batch in splits.test) == 200


@pytest.mark.parametrize(
    "make_bad, fragment",
    [
        (lambda path: path.write_bytes(b"this is not a zip"), "corrupt"),
        (lambda path: np.savez(path, x_train=np.zeros((2, 28, 28))), "lacks"),
        (lambda path: np.savez(path, x_train=np.zeros((2, 5, 5)), y_train=np.zeros(2), x_test=np.zeros((2, 5, 5)),
                               y_test=np.zeros(2)), "shape"),
        (lambda path: np.savez(path, x_train=np.zeros((2, 28, 28)), y_train=np.array([0, 12]),
                               x_test=np.zeros((1, 28, 28)), y_test=np.zeros(1)), "labels range"),
    ],
    ids=["not-npz", "missing-keys", "wrong-shape", "bad-labels"],
)
def test_bad_npz(tmp_path, make_bad, fragment):
    path = tmp_path / "mnist.npz"
    make_bad(path)
    with pytest.raises(errors.DataError, match=fragment):
        datasets.load("mnist", path)


def test_truncated_idx(idx_folder, tmp_path):
    for file in idx_folder.iterdir():
        (tmp_path / file.name).write_bytes(file.read_bytes())
    victim = next(tmp_path.glob("train-images*"))
    raw = victim.read_bytes()
    victim.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(errors.DataError):
        datasets.load("mnist", tmp_path)


def test_empty_folder_and_missing_path(tmp_path):
    with pytest.raises(errors.DataError, match="holds no mnist data"):
        datasets.load("mnist", tmp_path)
    with pytest.raises(errors.DataError, match="does not exist"):
        datasets.load("mnist", tmp_path / "nothing.npz")


def test_zip_without_splits(tmp_path):
    archive = tmp_path / "x.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("readme.txt", "hello")
    with pytest.raises(errors.DataError, match="train/<class>"):
        datasets.load("cifar10", archive)


def test_cli_bad_data_is_one_line(tmp_path):
    bad = tmp_path / "mnist.npz"
    bad.write_bytes(b"garbage")
    assert_one_line_error(run_zoo("train", "mnist_mlp", "--data", bad, "--epochs", "1"), "corrupt")


def test_cli_missing_data_says_where_it_looked(tmp_path):
    # No --data, no $ZOO_DATA_DIR, an empty Keras cache and no network: the download fails.
    result = run_zoo("train", "mnist_mlp", "--epochs", "1", env={"KERAS_HOME": str(tmp_path), "HTTPS_PROXY": "http://127.0.0.1:9"})
    assert_one_line_error(result, "no mnist data found", "ZOO_DATA_DIR", "--data")


def test_limit_draws_from_every_class_of_a_class_sorted_dataset():
    """Image folders load class by class; --limit must not keep the first few classes."""
    labels = np.repeat(np.arange(10), 100)  # sorted, as CIFAR-10's JPEG folders load
    arrays = datasets.Arrays(
        x_train=np.zeros((1000, 4, 4, 1), np.uint8), y_train=labels, x_test=np.zeros((10, 4, 4, 1), np.uint8),
        y_test=np.arange(10), class_names=tuple(str(index) for index in range(10)), source="sorted",
    )
    splits = datasets.classification_splits(arrays, batch_size=50, limit=200)
    seen = np.concatenate([batch[1].numpy().argmax(axis=1) for batch in splits.train])
    assert len(seen) == 200 and set(seen) == set(range(10))
    seen_val = np.concatenate([batch[1].numpy().argmax(axis=1) for batch in splits.val])
    assert len(seen_val) == 50 and len(set(seen_val)) >= 8
    again = datasets.classification_splits(arrays, batch_size=50, limit=200)
    assert sorted(np.concatenate([batch[1].numpy().argmax(axis=1) for batch in again.train])) == sorted(seen)
