"""Image-classification datasets: finding them, reading local formats, tf.data pipelines.

Sources are tried in order: ``--data PATH``; the folder in ``$ZOO_DATA_DIR``; a
system location (Debian's ``dataset-fashion-mnist`` package); the Keras download
cache, which downloads for users who are online. Local formats:

- ``.npz`` holding ``x_train``, ``y_train``, ``x_test``, ``y_test``;
- the four IDX files ``{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]``;
- CIFAR's python batches (``data_batch_1`` ... ``test_batch``), as Keras caches them;
- image folders ``train/<class>/*`` and ``test/<class>/*``, in a directory or a ``.zip``.

Readers return uint8 arrays of shape (N, H, W, C) and integer labels. Decoded image
folders are cached as ``.npz`` under ``$ZOO_CACHE_DIR`` (default ``~/.cache/zoo``).
"""

import concurrent.futures
import dataclasses
import gzip
import hashlib
import io
import os
import pathlib
import pickle
import zipfile

import numpy as np

from zoo import errors

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    """What the zoo knows about a dataset: its shape, classes and where it may live."""

    name: str
    shape: tuple
    class_names: tuple
    keras_name: str
    local_names: tuple
    keras_cache: tuple
    system_dirs: tuple = ()
    how_to_get: str = ""


DATASETS = {
    "mnist": DatasetInfo(
        name="mnist",
        shape=(28, 28, 1),
        class_names=tuple(str(digit) for digit in range(10)),
        keras_name="mnist",
        local_names=("mnist.npz", "mnist"),
        keras_cache=("mnist.npz",),
        how_to_get="pass --data PATH to mnist.npz (x_train/y_train/x_test/y_test), an IDX folder or image folders",
    ),
    "fashion_mnist": DatasetInfo(
        name="fashion_mnist",
        shape=(28, 28, 1),
        class_names=(
            "t-shirt/top", "trouser", "pullover", "dress", "coat",
            "sandal", "shirt", "sneaker", "bag", "ankle boot",
        ),
        keras_name="fashion_mnist",
        local_names=("fashion_mnist.npz", "fashion-mnist.npz", "fashion-mnist", "fashion_mnist"),
        keras_cache=("fashion-mnist",),
        system_dirs=("/usr/share/datasets/fashion-mnist",),
        how_to_get="apt-get install dataset-fashion-mnist, or pass --data PATH to its IDX files or an .npz",
    ),
    "cifar10": DatasetInfo(
        name="cifar10",
        shape=(32, 32, 3),
        class_names=(
            "airplane", "automobile", "bird", "cat", "deer",
            "dog", "frog", "horse", "ship", "truck",
        ),
        keras_name="cifar10",
        local_names=("cifar10.npz", "cifar10-jpg.zip", "cifar10.zip", "cifar10", "cifar-10-batches-py"),
        keras_cache=("cifar-10-batches-py",),
        how_to_get="pass --data PATH to cifar10.npz, CIFAR's python batches, or train/ and test/ image folders "
                   "(or their .zip)",
    ),
    # Unlabelled faces for the generative models (zoo.faces reads them); Keras has no copy.
    "celeba": DatasetInfo(
        name="celeba",
        shape=(64, 64, 3),
        class_names=(),
        keras_name="",
        local_names=("img_align_celeba.zip", "img_align_celeba", "celeba-subset.zip", "celeba"),
        keras_cache=(),
        how_to_get="pass --data PATH to CelebA's img_align_celeba.zip (or the folder), "
                   "or any folder or .zip of face images",
    ),
}


@dataclasses.dataclass
class Arrays:
    """A dataset in memory: uint8 images (N, H, W, C) and int64 labels."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple
    source: str


@dataclasses.dataclass
class Splits:
    """What an entry trains on: batched tf.data pipelines plus the facts about them.

    ``test_arrays`` keeps the test set in memory for evaluators that need the raw
    images (test-time flips, galleries of mistakes); ``info`` goes into the run's files;
    ``callbacks`` join the fit (for example an augmentation that starts at some epoch).
    """

    train: object
    val: object
    test: object
    steps_per_epoch: int
    info: dict
    test_arrays: tuple = None
    callbacks: tuple = ()  # Keras callbacks the pipeline needs during fit (augmentation schedules)


def info_of(name):
    """The :class:`DatasetInfo` of ``name``, or a ZooError listing the known ones."""
    try:
        return DATASETS[name]
    except KeyError:
        raise errors.ZooError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}") from None


# ----------------------------------------------------------------------------- finding


def keras_home():
    """Keras' cache folder (``$KERAS_HOME/datasets`` or ``~/.keras/datasets``)."""
    return pathlib.Path(os.environ.get("KERAS_HOME", pathlib.Path.home() / ".keras")) / "datasets"


def locate(name, path=None):
    """Find the files of dataset ``name``.

    Args:
        name: a key of :data:`DATASETS`.
        path: the user's ``--data`` argument, if any; it wins and must exist.

    Returns:
        A path to read with :func:`read`, or None when only a Keras download is left.

    Raises:
        DataError: ``path`` does not exist.
    """
    info = info_of(name)
    if path is not None:
        path = pathlib.Path(path).expanduser()
        if not path.exists():
            raise errors.DataError(f"--data {path} does not exist ({info.how_to_get})")
        return path
    folders = []
    if os.environ.get("ZOO_DATA_DIR"):
        folders.append(pathlib.Path(os.environ["ZOO_DATA_DIR"]).expanduser())
    for folder in folders:
        for local_name in info.local_names:
            if (folder / local_name).exists():
                return folder / local_name
    for system_dir in info.system_dirs:
        if pathlib.Path(system_dir).is_dir():
            return pathlib.Path(system_dir)
    for cached in info.keras_cache:
        if (keras_home() / cached).exists():
            return keras_home() / cached
    return None


def looked_at(name):
    """A short description of every place :func:`locate` tried, for error messages."""
    info = info_of(name)
    places = ["--data (not given)"]
    data_dir = os.environ.get("ZOO_DATA_DIR")
    if data_dir:
        places.append(f"$ZOO_DATA_DIR={data_dir} ({'|'.join(info.local_names)})")
    else:
        places.append("$ZOO_DATA_DIR (not set)")
    places.extend(info.system_dirs)
    places.append(f"the Keras cache {keras_home()}")
    return ", ".join(places)


def load(name, path=None):
    """Load dataset ``name`` into memory from the first source that has it.

    Args:
        name: a key of :data:`DATASETS`.
        path: an explicit ``--data`` path (file or folder).

    Returns:
        :class:`Arrays`.

    Raises:
        DataError: nothing found, or the data is corrupt or of the wrong shape; the
            message says what was looked for and how to get it.

    Example:
        >>> arrays = load("mnist", "../shared/datasets/mnist.npz")  # doctest: +SKIP
        >>> arrays.x_train.shape
        (60000, 28, 28, 1)
    """
    info = info_of(name)
    found = locate(name, path)
    if found is None:
        return _download(info)
    return read(found, info)


def _download(info):
    """Ask ``keras.datasets`` (downloads into the Keras cache when online)."""
    import keras

    loader = getattr(keras.datasets, info.keras_name)
    try:
        (x_train, y_train), (x_test, y_test) = loader.load_data()
    except Exception as error:  # Keras raises plain Exception subclasses for network failures.
        reason = errors.one_line(error, 120)
        raise errors.DataError(
            f"no {info.name} data found: looked at {looked_at(info.name)}, and the download failed "
            f"({reason}); {info.how_to_get}"
        ) from None
    return _checked(info, x_train, y_train, x_test, y_test, source=f"keras.datasets.{info.keras_name}")


# ----------------------------------------------------------------------------- reading


def read(path, info):
    """Read ``path`` in whichever local format it is in (see the module docstring)."""
    path = pathlib.Path(path)
    try:
        if path.is_file():
            suffix = path.suffix.lower()
            if suffix == ".npz":
                return _read_npz(path, info)
            if suffix == ".zip":
                return _read_image_folders(path, info)
            if suffix == ".npy":
                raise errors.DataError(
                    f"{path}: a single .npy file; expected an .npz with x_train/y_train/x_test/y_test"
                )
            raise errors.DataError(f"{path}: unknown data format; {info.how_to_get}")
        if path.is_dir():
            names = {child.name for child in path.iterdir()}
            if any("idx3-ubyte" in child for child in names):
                return _read_idx(path, info)
            if "data_batch_1" in names:
                return _read_cifar_batches(path, info)
            if {"train", "test"} <= names:
                return _read_image_folders(path, info)
            for local_name in info.local_names:
                if local_name in names:
                    return read(path / local_name, info)
            raise errors.DataError(
                f"{path} holds no {info.name} data (no .npz, IDX files, CIFAR batches or train/ and test/ folders); "
                f"{info.how_to_get}"
            )
        raise errors.DataError(f"{path} is neither a file nor a folder")
    except errors.DataError:
        raise
    except (OSError, EOFError, ValueError, KeyError, zipfile.BadZipFile, pickle.UnpicklingError) as error:
        detail = errors.one_line(error, limit=None)
        raise errors.DataError(f"corrupt or unreadable {info.name} data at {path}: {detail}") from None


def _checked(info, x_train, y_train, x_test, y_test, source, class_names=None):
    """Bring arrays to (N, H, W, C) uint8 and int64 labels, checking shapes and ranges."""
    arrays = []
    for split, images, labels in (("train", x_train, y_train), ("test", x_test, y_test)):
        images = np.asarray(images)
        labels = np.asarray(labels).reshape(-1).astype(np.int64)
        if images.ndim == 3 and info.shape[2] == 1:
            images = images[..., None]
        if images.ndim != 4 or tuple(images.shape[1:]) != tuple(info.shape):
            raise errors.DataError(
                f"{source}: {split} images have shape {images.shape[1:]}, {info.name} needs {info.shape}"
            )
        if len(images) != len(labels):
            raise errors.DataError(f"{source}: {len(images)} {split} images but {len(labels)} labels")
        if len(labels) == 0:
            raise errors.DataError(f"{source}: the {split} split is empty")
        if labels.min() < 0 or labels.max() >= len(info.class_names):
            raise errors.DataError(
                f"{source}: {split} labels range {labels.min()}..{labels.max()}, "
                f"expected 0..{len(info.class_names) - 1}"
            )
        if images.dtype != np.uint8:
            if images.max() <= 1.0:
                images = images * 255.0
            images = np.clip(np.rint(images), 0, 255).astype(np.uint8)
        arrays.extend([images, labels])
    return Arrays(*arrays, class_names=tuple(class_names or info.class_names), source=str(source))


def _read_npz(path, info):
    with np.load(path, allow_pickle=False) as data:
        missing = {"x_train", "y_train", "x_test", "y_test"} - set(data.files)
        if missing:
            raise errors.DataError(f"{path} lacks {', '.join(sorted(missing))}; expected x_train/y_train/x_test/y_test")
        return _checked(info, data["x_train"], data["y_train"], data["x_test"], data["y_test"], source=path)


def _parse_idx(raw, source):
    """Parse one IDX file (magic: two zero bytes, a type code, the number of dimensions)."""
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise errors.DataError(f"{source} is not an unsigned-byte IDX file")
    dims = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims))
    offset = 4 + 4 * dims
    expected = int(np.prod(shape))
    if len(raw) - offset != expected:
        raise errors.DataError(f"{source} is truncated: {len(raw) - offset} bytes of data, expected {expected}")
    return np.frombuffer(raw, dtype=np.uint8, offset=offset).reshape(shape)


def _read_idx(folder, info):
    def find(stem):
        for candidate in (f"{stem}", f"{stem}.gz"):
            if (folder / candidate).exists():
                return folder / candidate
        raise errors.DataError(f"{folder} lacks {stem}[.gz]; IDX data needs the four *-ubyte files")

    parts = []
    for stem in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                 "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        file = find(stem)
        raw = gzip.decompress(file.read_bytes()) if file.suffix == ".gz" else file.read_bytes()
        parts.append(_parse_idx(raw, file))
    return _checked(info, *parts, source=folder)


def _read_cifar_batches(folder, info):
    def batch(name):
        with open(folder / name, "rb") as file:
            data = pickle.load(file, encoding="bytes")
        images = np.asarray(data[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
        return images, np.asarray(data[b"labels"])

    train = [batch(f"data_batch_{index}") for index in range(1, 6)]
    x_test, y_test = batch("test_batch")
    x_train = np.concatenate([images for images, _ in train])
    y_train = np.concatenate([labels for _, labels in train])
    return _checked(info, x_train, y_train, x_test, y_test, source=folder)


def cache_dir():
    """Where decoded image folders are cached (``$ZOO_CACHE_DIR`` or ``~/.cache/zoo``)."""
    return pathlib.Path(os.environ.get("ZOO_CACHE_DIR", pathlib.Path.home() / ".cache" / "zoo"))


class _Tree:
    """A read-only view of a directory or a zip file, listing and reading files."""

    def __init__(self, path):
        self.path = path
        self.zip = zipfile.ZipFile(path) if path.is_file() else None
        if self.zip is not None:
            self.files = [name for name in self.zip.namelist() if not name.endswith("/")]
        else:
            self.files = [str(file.relative_to(path)) for file in path.rglob("*") if file.is_file()]

    def read(self, name):
        if self.zip is not None:
            return self.zip.read(name)
        return (self.path / name).read_bytes()


def _read_image_folders(path, info):
    """Read ``train/<class>/*`` and ``test/<class>/*`` (optionally under one top folder)."""
    stat = path.stat()
    key = hashlib.sha256(f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{info.name}".encode()).hexdigest()[:20]
    cached = cache_dir() / f"{info.name}-{key}.npz"
    if cached.exists():
        try:
            return _read_npz(cached, info)
        except errors.DataError:
            cached.unlink(missing_ok=True)

    tree = _Tree(path)
    images = [name for name in tree.files if name.lower().endswith(IMAGE_SUFFIXES)]
    splits = {"train": [], "test": []}
    for name in images:
        parts = name.split("/")
        for depth in range(len(parts) - 2):
            if parts[depth] in splits and len(parts) - depth == 3:
                splits[parts[depth]].append((parts[depth + 1], name))
                break
    if not splits["train"] or not splits["test"]:
        raise errors.DataError(f"{path}: no images under train/<class>/ and test/<class>/")
    folders = sorted({label for label, _ in splits["train"]})
    # The canonical class order when the folder names are the dataset's classes; sorted otherwise.
    if set(folders) <= set(info.class_names):
        class_names = info.class_names
    else:
        class_names = tuple(folders)
    if len(class_names) != len(info.class_names):
        raise errors.DataError(f"{path}: {len(folders)} class folders, {info.name} has {len(info.class_names)}")
    index = {label: position for position, label in enumerate(class_names)}

    mode = "L" if info.shape[2] == 1 else "RGB"
    size = (info.shape[1], info.shape[0])

    result = []
    for split in ("train", "test"):
        members = sorted(splits[split], key=lambda pair: pair[1])
        unknown = {label for label, _ in members} - set(index)
        if unknown:
            raise errors.DataError(f"{path}: {split}/ has class folders not in train/: {', '.join(sorted(unknown))}")
        # Pillow releases the GIL while decoding, so threads help; reads stay serial
        # because a zip file is not safe to read from several threads.
        blobs = [tree.read(name) for _, name in members]
        with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
            pixels = list(pool.map(lambda blob: _decode_blob(blob, mode, size), blobs))
        stacked = np.stack(pixels)
        if info.shape[2] == 1:
            stacked = stacked[..., None]
        result.extend([stacked, np.array([index[label] for label, _ in members])])
    arrays = _checked(info, *result, source=path, class_names=class_names)
    _write_cache(cached, arrays)
    return dataclasses.replace(arrays, source=str(path))


def _decode_blob(blob, mode, size):
    from PIL import Image

    with Image.open(io.BytesIO(blob)) as image:
        image = image.convert(mode)
        if image.size != size:
            image = image.resize(size, Image.BILINEAR)
        return np.asarray(image, dtype=np.uint8)


def _write_cache(target, arrays):
    """Write the decoded arrays next to nothing else; a temporary name, then rename."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_suffix(".partial.npz")
        np.savez(temporary, x_train=arrays.x_train, y_train=arrays.y_train, x_test=arrays.x_test, y_test=arrays.y_test)
        os.replace(temporary, target)
    except OSError:
        pass  # The cache is an optimisation; a read-only home must not stop training.


# ----------------------------------------------------------------------------- pipelines


def validation_split(count, fraction=0.1, seed=0):
    """Indices of a fixed train/validation split of ``count`` training examples.

    The split seed is fixed (not the training seed) so that runs with different
    seeds are scored on the same validation images.
    """
    order = np.random.default_rng(seed).permutation(count)
    size = max(1, int(round(count * fraction)))
    return np.sort(order[size:]), np.sort(order[:size])


def random_subset(indices, count, seed):
    """``count`` of ``indices`` drawn at random with a fixed seed, in ascending order.

    Not the first ``count``: files stored class by class (CIFAR-10's JPEG folders,
    any image-folder dataset) would otherwise give a training subset of a few
    classes only.
    """
    if count >= len(indices):
        return indices
    return np.sort(np.random.default_rng(seed).choice(indices, size=count, replace=False))


def classification_splits(arrays, batch_size, seed=42, augment=None, limit=None, val_fraction=0.1):
    """Batched tf.data pipelines for an image classifier.

    Images stay uint8 until the batch is formed (so the cache is small), then become
    float32 in [0, 255]: the models rescale inside their graph, so the exported model
    takes the same pixels. Labels are one-hot float32 (label smoothing needs them).

    Args:
        arrays: :class:`Arrays`.
        batch_size: examples per training step.
        seed: shuffling seed.
        augment: optional ``augment(images, labels) -> (images, labels)`` on float
            batches, applied to training batches only (never part of the exported model).
        limit: keep only ``limit`` training examples (and ``limit // 4`` validation
            examples), a fixed random subset (quick runs, tests).
        val_fraction: share of the training set held out for validation.

    Returns:
        :class:`Splits`.
    """
    import tensorflow as tf

    num_classes = len(arrays.class_names)
    train_index, val_index = validation_split(len(arrays.x_train), val_fraction)
    if limit:
        train_index = random_subset(train_index, limit, seed=1)
        val_index = random_subset(val_index, max(1, limit // 4), seed=2)

    def to_float(images, labels):
        return tf.cast(images, tf.float32), tf.one_hot(labels, num_classes)

    def pipeline(images, labels, training):
        dataset = tf.data.Dataset.from_tensor_slices((images, labels)).cache()
        if training:
            dataset = dataset.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
        dataset = dataset.batch(batch_size, drop_remainder=training and len(images) >= batch_size)
        dataset = dataset.map(to_float, num_parallel_calls=tf.data.AUTOTUNE)
        if training and augment is not None:
            dataset = dataset.map(augment, num_parallel_calls=tf.data.AUTOTUNE)
        return dataset.prefetch(tf.data.AUTOTUNE)

    x_train, y_train = arrays.x_train[train_index], arrays.y_train[train_index]
    train = pipeline(x_train, y_train, training=True)
    val = pipeline(arrays.x_train[val_index], arrays.y_train[val_index], training=False)
    test = pipeline(arrays.x_test, arrays.y_test, training=False)
    steps = len(x_train) // batch_size if len(x_train) >= batch_size else 1
    info = {
        "source": arrays.source,
        "train": int(len(train_index)),
        "val": int(len(val_index)),
        "test": int(len(arrays.x_test)),
        "class_names": list(arrays.class_names),
    }
    return Splits(train, val, test, steps, info, test_arrays=(arrays.x_test, arrays.y_test))
