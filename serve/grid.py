"""Latent vectors, interpolation, image grids and atomic PNG writing, for the generators.

numpy and Pillow only. The names and behaviour follow ``zoo.imagegrid`` (the faces
issue's module, not yet on this branch): ``latent_samples``, ``lerp``, ``slerp``,
``interpolate``, ``to_uint8``, ``tile``, ``write_png``. Once both are merged this
module can re-export that one.

Seeds: face ``i`` of ``zoo generate-faces --seed S`` is row ``i`` of
``latent_samples(count, D, seed=S)``, and ``zoo interpolate --seeds A B`` starts at
``latent_samples(1, D, seed=A)[0]``, so an interpolation from seed A starts at the
first face of ``generate-faces --seed A``.
"""

import os
import pathlib

import numpy as np

INTERPOLATIONS = ("linear", "spherical")


def latent_samples(count, latent_dim, seed=0):
    """``count`` latent vectors from the standard normal prior N(0, I), reproducibly.

    Args:
        count: how many vectors.
        latent_dim: their length.
        seed: the numpy ``default_rng`` seed.

    Returns:
        float32 array (count, latent_dim).

    Example:
        >>> latent_samples(2, 3, seed=1).shape
        (2, 3)
    """
    if count < 1 or latent_dim < 1:
        raise ValueError(f"count and latent_dim must be positive; received {count} and {latent_dim}")
    return np.random.default_rng(seed).standard_normal((count, latent_dim)).astype(np.float32)


def lerp(start, end, steps):
    """Linear interpolation from ``start`` to ``end`` in ``steps`` points, both ends included.

    Example:
        >>> lerp(np.zeros(2), np.ones(2), 3).tolist()
        [[0.0, 0.0], [0.5, 0.5], [1.0, 1.0]]
    """
    start, end = np.asarray(start, np.float64), np.asarray(end, np.float64)
    if steps < 2:
        raise ValueError(f"steps must be at least 2; received {steps}")
    fractions = np.linspace(0.0, 1.0, steps)[:, None]
    return ((1 - fractions) * start + fractions * end).astype(np.float32)


def slerp(start, end, steps):
    """Spherical interpolation from ``start`` to ``end`` in ``steps`` points, ends included.

    Under a Gaussian prior almost all the mass lies near the sphere of radius
    sqrt(D); linear midpoints fall inside it (their norm shrinks by up to
    1/sqrt(2)), where the generator has rarely been. Slerp follows the great circle
    between the two directions and interpolates the norms linearly (White,
    "Sampling generative networks", 2016). Nearly parallel or zero vectors fall back
    to linear interpolation.

    Example:
        >>> np.round(slerp(np.array([1.0, 0.0]), np.array([0.0, 1.0]), 3)[1], 4).tolist()
        [0.7071, 0.7071]
    """
    start, end = np.asarray(start, np.float64), np.asarray(end, np.float64)
    if steps < 2:
        raise ValueError(f"steps must be at least 2; received {steps}")
    start_norm, end_norm = np.linalg.norm(start), np.linalg.norm(end)
    if start_norm == 0 or end_norm == 0:
        return lerp(start, end, steps)
    angle = np.arccos(np.clip(np.dot(start / start_norm, end / end_norm), -1.0, 1.0))
    if np.sin(angle) < 1e-6:
        return lerp(start, end, steps)
    fractions = np.linspace(0.0, 1.0, steps)[:, None]
    directions = (np.sin((1 - fractions) * angle) * start / start_norm
                  + np.sin(fractions * angle) * end / end_norm) / np.sin(angle)
    norms = (1 - fractions) * start_norm + fractions * end_norm
    return (directions * norms).astype(np.float32)


def interpolate(start, end, steps, kind="linear"):
    """Interpolate between two latent vectors; ``kind`` is ``linear`` or ``spherical``."""
    if kind == "linear":
        return lerp(start, end, steps)
    if kind == "spherical":
        return slerp(start, end, steps)
    raise ValueError(f"kind must be one of {', '.join(INTERPOLATIONS)}; received {kind!r}")


def to_uint8(images):
    """Images in [0, 1] (any float dtype) or uint8 to uint8, rounding and clipping.

    Example:
        >>> to_uint8(np.array([0.0, 0.5, 1.2])).tolist()
        [0, 128, 255]
    """
    images = np.asarray(images)
    if images.dtype == np.uint8:
        return images
    return np.clip(np.rint(images.astype(np.float32) * 255.0), 0, 255).astype(np.uint8)


def grid_shape(count, columns=None):
    """``(rows, columns)`` of a grid of ``count`` images: the smallest square by default."""
    if columns is None:
        columns = int(np.ceil(np.sqrt(count)))
    columns = max(1, min(columns, count))
    return -(-count // columns), columns


def tile(images, columns=None, padding=2, background=255):
    """Tile a batch of images into one picture, row by row.

    Args:
        images: (N, H, W, C) or (N, H, W), floats in [0, 1] or uint8.
        columns: images per row; the smallest square that holds them if None.
        padding: pixels of background between the images and around them.
        background: the grey level (0..255) of the padding.

    Returns:
        uint8 array (rows * (H + padding) + padding, columns * (W + padding) + padding, C).

    Example:
        >>> tile(np.zeros((6, 8, 8, 3)), columns=3, padding=1).shape
        (19, 28, 3)
    """
    images = to_uint8(images)
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4 or len(images) == 0:
        raise ValueError(f"images must be a non-empty batch (N, H, W[, C]); received shape {images.shape}")
    count, height, width, channels = images.shape
    rows, columns = grid_shape(count, columns)
    canvas = np.full(
        (rows * (height + padding) + padding, columns * (width + padding) + padding, channels), background, np.uint8,
    )
    for index, image in enumerate(images):
        row, column = divmod(index, columns)
        top, left = padding + row * (height + padding), padding + column * (width + padding)
        canvas[top:top + height, left:left + width] = image
    return canvas


def write_png(path, picture):
    """Write a picture as PNG through a temporary file and a rename, so that no reader
    ever sees half a file and a failure leaves any older file in place.

    Args:
        path: the PNG to write; its parent folders are created.
        picture: (H, W), (H, W, 1) or (H, W, 3) floats in [0, 1] or uint8.

    Returns:
        the path, as a :class:`pathlib.Path`.
    """
    from PIL import Image

    path = pathlib.Path(path)
    picture = to_uint8(picture)
    if picture.ndim == 3 and picture.shape[-1] == 1:
        picture = picture[..., 0]
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.partial-{os.getpid()}")
    try:
        Image.fromarray(picture).save(temporary, format="PNG")
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path
