"""Shared fixtures: tiny generated datasets in every local format, and the slow flag.

Tests never read ../shared or the network: every dataset here is generated.
"""

import gzip
import os
import pathlib
import subprocess
import sys
import zipfile

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# Keep test runs away from the user's caches and data.
os.environ.pop("ZOO_DATA_DIR", None)

ROOT = pathlib.Path(__file__).resolve().parents[1]


def pytest_addoption(parser):
    parser.addoption("--run-slow", action="store_true", default=False, help="run tests marked slow (real training)")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--run-slow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --run-slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _isolated_caches(tmp_path_factory, monkeypatch):
    cache = tmp_path_factory.getbasetemp() / "zoo-cache"
    monkeypatch.setenv("ZOO_CACHE_DIR", str(cache))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path_factory.getbasetemp() / "keras-home"))
    monkeypatch.delenv("ZOO_DATA_DIR", raising=False)


def make_images(count, shape, seed):
    """Images whose class is readable: class k has a bright square at position k."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, count)
    images = rng.integers(0, 40, (count, *shape)).astype(np.uint8)
    height = shape[0]
    cell = height // 4
    for index, label in enumerate(labels):
        row, column = divmod(int(label), 4)
        images[index, row * cell:(row + 1) * cell, column * cell:(column + 1) * cell] = 230
    return images, labels.astype(np.uint8)


@pytest.fixture(scope="session")
def mnist_npz(tmp_path_factory):
    """A 600/200 MNIST-shaped .npz (28x28 grayscale, 10 classes)."""
    path = tmp_path_factory.mktemp("data") / "mnist.npz"
    x_train, y_train = make_images(600, (28, 28), 0)
    x_test, y_test = make_images(200, (28, 28), 1)
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return path


@pytest.fixture(scope="session")
def cifar_npz(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "cifar10.npz"
    x_train, y_train = make_images(400, (32, 32, 3), 2)
    x_test, y_test = make_images(100, (32, 32, 3), 3)
    np.savez(path, x_train=x_train, y_train=y_train[:, None], x_test=x_test, y_test=y_test[:, None])
    return path


@pytest.fixture(scope="session")
def classifier_export(mnist_npz, tmp_path_factory):
    """The tiny ``mnist_cnn`` trained on ``mnist_npz`` and exported (tests/serve_models.py)."""
    import serve_models

    return serve_models.build_classifier(tmp_path_factory.mktemp("classifier"), mnist_npz)


def write_idx(path, array, compress):
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(size).to_bytes(4, "big") for size in array.shape)
    raw = header + array.astype(np.uint8).tobytes()
    if compress:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(raw))
    else:
        path.write_bytes(raw)
    return path


@pytest.fixture(scope="session", params=[True, False], ids=["gz", "raw"])
def idx_folder(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp("idx")
    x_train, y_train = make_images(300, (28, 28), 4)
    x_test, y_test = make_images(100, (28, 28), 5)
    for stem, array in (
        ("train-images-idx3-ubyte", x_train), ("train-labels-idx1-ubyte", y_train),
        ("t10k-images-idx3-ubyte", x_test), ("t10k-labels-idx1-ubyte", y_test),
    ):
        write_idx(folder / stem, array, request.param)
    return folder


CIFAR_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


@pytest.fixture(scope="session")
def image_folders(tmp_path_factory):
    """CIFAR-shaped train/<class>/*.png and test/<class>/*.jpg, as a folder and as a zip."""
    from PIL import Image

    root = tmp_path_factory.mktemp("folders") / "cifar"
    for split, count, seed in (("train", 60, 6), ("test", 20, 7)):
        images, labels = make_images(count, (32, 32, 3), seed)
        for index, (image, label) in enumerate(zip(images, labels)):
            folder = root / split / CIFAR_CLASSES[label]
            folder.mkdir(parents=True, exist_ok=True)
            suffix = "png" if split == "train" else "jpg"
            Image.fromarray(image).save(folder / f"{index:04d}.{suffix}")
    archive = root.parent / "cifar.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for file in sorted(root.rglob("*")):
            if file.is_file():
                zipped.write(file, "cifar10/" + str(file.relative_to(root)))
    return root, archive


def run_zoo(*args, env=None, cwd=None, timeout=600):
    """Run the real ``zoo`` command in a subprocess; return the CompletedProcess."""
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "zoo.cli", *map(str, args)], capture_output=True, text=True, env=full_env,
        timeout=timeout, cwd=cwd,
    )


def assert_one_line_error(result, *fragments, code=2):
    """The user sees one line starting with ``Error:``, no traceback, and exit ``code``."""
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: "), lines[0]
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
