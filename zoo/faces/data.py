"""CelebA faces for the generative models: loading, the face crop, the fixed split.

:func:`load_faces` reads CelebA's ``img_align_celeba/`` as a folder or inside
CelebA's own ``img_align_celeba.zip``, or any folder (or zip) of images: it crops
each image to the face, resizes it to ``image_size`` (64 by default) and caches the
decoded uint8 array as ``.npz`` under :func:`zoo.datasets.cache_dir`. Aligned CelebA
images are 178x218 with the eyes a little above the middle; the face box is the
usual central 140x140 square, rows 40 to 180 (from the hairline to the chin, most
of the neck out); images of another size but CelebA's shape (the subset's 89x109
half-resolution faces) are cropped proportionally, and any other image to its
central square. A tenth of the faces (at most ``MAX_TEST``) are held out, always
the same ones, to score the models.
"""

import concurrent.futures
import dataclasses
import hashlib
import io
import os
import pathlib

import numpy as np

from zoo import datasets, errors

# Aligned CelebA images are 178 wide and 218 high; the face box in those pixels.
CELEBA_SIZE = (178, 218)
CELEBA_FACE_BOX = (19, 40, 140, 140)  # left, top, width, height
CROPS = ("auto", "celeba", "center", "none")
TEST_FRACTION = 0.1
MAX_TEST = 2000


@dataclasses.dataclass
class Faces:
    """Decoded faces: uint8 (N, S, S, 3), the member names they came from, the source."""

    images: np.ndarray
    names: tuple
    source: str
    crop: str


@dataclasses.dataclass
class FaceSplits(datasets.Splits):
    """:class:`zoo.datasets.Splits` plus ``reference``: real training faces, disjoint
    from the test faces and as many, the floor of the distances."""

    reference: np.ndarray = None


def face_box(width, height, crop="auto"):
    """The crop box of an image of ``width`` x ``height`` pixels.

    Args:
        width: the image's width.
        height: the image's height.
        crop: ``celeba`` (the face box of aligned CelebA, scaled to the image),
            ``center`` (the central square), ``none`` (the whole image), or ``auto``
            (``celeba`` for images of CelebA's 178:218 shape, ``center`` otherwise).

    Returns:
        (left, top, right, bottom) floats, Pillow's box convention.

    Example:
        >>> face_box(178, 218)
        (19.0, 40.0, 159.0, 180.0)
        >>> face_box(89, 109)
        (9.5, 20.0, 79.5, 90.0)
    """
    if crop not in CROPS:
        raise errors.ZooError(f"crop must be one of {', '.join(CROPS)}; received {crop!r}")
    if crop == "auto":
        celeba_ratio = CELEBA_SIZE[0] / CELEBA_SIZE[1]
        crop = "celeba" if abs(width / height - celeba_ratio) < 0.02 else "center"
    if crop == "celeba":
        scale_x, scale_y = width / CELEBA_SIZE[0], height / CELEBA_SIZE[1]
        left, top, box_width, box_height = CELEBA_FACE_BOX
        return (left * scale_x, top * scale_y, (left + box_width) * scale_x, (top + box_height) * scale_y)
    if crop == "center":
        side = min(width, height)
        left, top = (width - side) / 2, (height - side) / 2
        return (float(left), float(top), float(left + side), float(top + side))
    return (0.0, 0.0, float(width), float(height))


def _decode_face(blob, name, image_size, crop):
    from PIL import Image

    try:
        with Image.open(io.BytesIO(blob)) as image:
            image = image.convert("RGB")
            box = face_box(image.width, image.height, crop)
            # Pillow's resize low-pass filters when it shrinks, so 140 -> 64 does not alias.
            resized = image.resize((image_size, image_size), Image.BILINEAR, box=box)
            return np.asarray(resized, dtype=np.uint8)
    except (OSError, ValueError, Image.DecompressionBombError) as error:
        raise errors.DataError(f"cannot decode {name}: {errors.one_line(error, 120)}") from None


def _face_members(path):
    """The image files of a folder or zip, preferring CelebA's ``img_align_celeba``."""
    if path.is_dir():
        if (path / "img_align_celeba").is_dir():
            return _face_members(path / "img_align_celeba")
        if (path / "img_align_celeba.zip").is_file():
            return _face_members(path / "img_align_celeba.zip")
    tree = datasets._Tree(path)
    names = sorted(name for name in tree.files if name.lower().endswith(datasets.IMAGE_SUFFIXES)
                   and not pathlib.PurePosixPath(name).name.startswith("."))
    if not names:
        raise errors.DataError(f"{path} holds no images (expected img_align_celeba/*.jpg, in a folder or a zip)")
    return tree, names


def load_faces(path=None, image_size=64, crop="auto"):
    """Load, crop and resize a folder or zip of faces, decoding it only once.

    Args:
        path: CelebA's ``img_align_celeba`` folder, its ``img_align_celeba.zip``, a folder
            holding either, or any folder/zip of images; None looks in
            ``$ZOO_DATA_DIR`` (``celeba-subset.zip``, ``img_align_celeba.zip``, ...).
        image_size: the side of the square output images.
        crop: see :func:`face_box`.

    Returns:
        :class:`Faces`, images in file-name order.

    Raises:
        DataError: no data found; the path is not a folder or zip of images; an image
            cannot be decoded.

    Example:
        >>> faces = load_faces("../shared/datasets/celeba-subset.zip")  # doctest: +SKIP
        >>> faces.images.shape
        (15723, 64, 64, 3)
    """
    if not isinstance(image_size, int) or image_size < 8:
        raise errors.ZooError(f"image_size must be an integer of at least 8; received {image_size!r}")
    face_box(178, 218, crop)  # validates crop
    found = datasets.locate("celeba", path)
    if found is None:
        info = datasets.info_of("celeba")
        raise errors.DataError(f"no face data found: looked at {datasets.looked_at('celeba')}; {info.how_to_get}")
    found = found.resolve()
    if not (found.is_dir() or found.suffix.lower() == ".zip"):
        raise errors.DataError(f"{found}: expected a folder or a .zip of images, e.g. img_align_celeba.zip")
    stat = found.stat()
    key_text = f"{found}|{stat.st_size}|{stat.st_mtime_ns}|{crop}|{image_size}|{CELEBA_FACE_BOX}"
    cached = datasets.cache_dir() / f"faces-{hashlib.sha256(key_text.encode()).hexdigest()[:20]}.npz"
    if cached.exists():
        try:
            with np.load(cached, allow_pickle=False) as data:
                return Faces(data["images"], tuple(data["names"].tolist()), str(found), crop)
        except (OSError, ValueError, KeyError):
            cached.unlink(missing_ok=True)  # A damaged cache is rebuilt, never trusted.
    try:
        tree, names = _face_members(found)
        blobs = [tree.read(name) for name in names]
    except (OSError, KeyError, ValueError, EOFError, datasets.zipfile.BadZipFile) as error:
        detail = errors.one_line(error, limit=None)
        raise errors.DataError(f"corrupt or unreadable face data at {found}: {detail}") from None
    # Pillow releases the GIL while decoding; zip reads above stay serial (not thread-safe).
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        images = np.stack(list(pool.map(lambda item: _decode_face(item[0], item[1], image_size, crop),
                                        zip(blobs, names))))
    faces = Faces(images, tuple(names), str(found), crop)
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        temporary = cached.with_suffix(".partial.npz")
        np.savez(temporary, images=images, names=np.array(names))
        os.replace(temporary, cached)
    except OSError:
        pass  # The cache is an optimisation; a read-only home must not stop training.
    return faces


def split_indices(count, test_fraction=TEST_FRACTION, max_test=MAX_TEST):
    """Fixed train/test indices of ``count`` faces: a seeded permutation, so every run
    and every seed is scored on the same held-out faces.

    Example:
        >>> train, test = split_indices(100)
        >>> len(train), len(test)
        (90, 10)
    """
    if count < 2:
        raise errors.DataError(f"need at least 2 face images; found {count}")
    test_count = min(max_test, max(1, int(round(count * test_fraction))))
    order = np.random.default_rng(0).permutation(count)
    return np.sort(order[test_count:]), np.sort(order[:test_count])


def training_split(count, limit=None):
    """The training and test indices :func:`face_splits` uses, without TensorFlow (the
    neighbour check searches exactly the faces a model trained on).

    Args:
        count: faces loaded.
        limit: ``--limit``: the first ``limit`` training faces only, and at most
            ``limit // 4`` test faces, so that the floor keeps a disjoint real sample.

    Raises:
        DataError: fewer than 2 training faces.

    Example:
        >>> train, test = training_split(100, limit=20)
        >>> len(train), len(test)
        (20, 5)
    """
    train_index, test_index = split_indices(count)
    if limit:
        train_index = train_index[:limit]
        test_index = test_index[: max(2, min(len(test_index), limit // 4))]
    if len(train_index) < 2:
        raise errors.DataError(f"need at least 2 training faces; have {len(train_index)} (raise --limit?)")
    return train_index, test_index


def face_splits(faces, batch_size, value_range=(0.0, 1.0), seed=42, limit=None, validation=True, flip=False):
    """Batched tf.data pipelines of faces scaled to ``value_range``.

    Args:
        faces: :class:`Faces`.
        batch_size: real images per training step.
        value_range: (low, high) the model wants: (0, 1) for a sigmoid decoder,
            (-1, 1) for a tanh generator.
        seed: shuffling seed.
        limit: train on the first ``limit`` training faces only; the test set shrinks
            to at most ``limit // 4`` so that the floor keeps a disjoint real sample.
        validation: also return the test faces as a validation pipeline (the VAE's
            held-out ELBO); a GAN has no validation loss.
        flip: mirror each training face left to right with probability 1/2 (a face's
            mirror image is a face: twice the faces for a GAN that would memorise them).

    Returns:
        :class:`FaceSplits`; ``test_arrays`` is ``(uint8 test faces, None)``.
    """
    import tensorflow as tf

    train_index, test_index = training_split(len(faces.images), limit)
    low, high = value_range
    scale = (high - low) / 255.0

    def to_range(images):
        return tf.cast(images, tf.float32) * scale + low

    def mirrored(images):
        return tf.image.random_flip_left_right(to_range(images), seed=seed)

    def pipeline(images, training):
        dataset = tf.data.Dataset.from_tensor_slices(images).cache()
        if training:
            dataset = dataset.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
        dataset = dataset.batch(batch_size, drop_remainder=training and len(images) >= batch_size)
        scaled = mirrored if training and flip else to_range
        return dataset.map(scaled, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)

    x_train, x_test = faces.images[train_index], faces.images[test_index]
    reference_index = np.random.default_rng(1).permutation(len(x_train))[: len(x_test)]
    info = {
        "source": faces.source,
        "train": int(len(x_train)),
        "test": int(len(x_test)),
        "image_size": int(faces.images.shape[1]),
        "crop": faces.crop,
        "value_range": [float(low), float(high)],
    }
    return FaceSplits(
        train=pipeline(x_train, True),
        val=pipeline(x_test, False) if validation else None,
        test=pipeline(x_test, False),
        steps_per_epoch=max(1, len(x_train) // batch_size),
        info=info,
        test_arrays=(x_test, None),
        reference=x_train[np.sort(reference_index)],
    )


def face_data(entry, config, path=None, seed=42, limit=None, value_range=(0.0, 1.0), validation=True):
    """The registry's data hook: faces at the entry's size, scaled to its range."""
    faces = load_faces(path, image_size=config["image_size"], crop=config["crop"])
    return face_splits(faces, config["batch_size"], value_range, seed=seed, limit=limit, validation=validation,
                       flip=config.get("flip", False))
