"""Image grids, latent interpolation and PNG writing for generative models.

This module imports only numpy and Pillow, so that the TensorFlow-free serve
commands can draw the same grids and walk the latent space the same way as
training does. Images are float arrays in [0, 1] or uint8, in NHWC layout.

Example:
    >>> z = latent_samples(16, 128, seed=0)
    >>> images = generate(z)  # any function z -> (16, 64, 64, 3) floats in [0, 1]  # doctest: +SKIP
    >>> write_png("grid.png", tile(images, columns=4))  # doctest: +SKIP
"""

import os
import pathlib

import numpy as np

INTERPOLATIONS = ("linear", "spherical")


def to_uint8(images):
    """Convert images in [0, 1] (any float dtype) or uint8 to uint8, clipping out-of-range values.

    Args:
        images: an array of any shape, float in [0, 1] or uint8.

    Returns:
        A uint8 array of the same shape.

    Example:
        >>> to_uint8(np.array([0.0, 0.5, 1.2])).tolist()
        [0, 128, 255]
    """
    images = np.asarray(images)
    if images.dtype == np.uint8:
        return images
    return np.clip(np.rint(images.astype(np.float64) * 255.0), 0, 255).astype(np.uint8)


def grid_shape(count, columns=None):
    """``(rows, columns)`` of a grid of ``count`` images: the smallest square by default.

    Raises:
        ValueError: ``columns`` < 1.

    Example:
        >>> grid_shape(10), grid_shape(10, columns=20)
        ((3, 4), (1, 10))
    """
    if columns is None:
        columns = int(np.ceil(np.sqrt(count)))
    if columns < 1:
        raise ValueError(f"columns must be at least 1; received {columns}")
    columns = min(columns, count)
    return -(-count // columns), columns


def tile(images, columns=None, padding=2, background=255):
    """Tile a batch of images into one picture, row by row.

    Args:
        images: (N, H, W, C) or (N, H, W) floats in [0, 1] or uint8.
        columns: images per row; the smallest square that holds them if None.
        padding: pixels of background between images and around the border.
        background: the grey level (0..255) of the padding.

    Returns:
        A uint8 array (rows * (H + padding) + padding, columns * (W + padding) + padding, C).

    Raises:
        ValueError: ``images`` is empty or not a batch of images, or ``columns`` < 1.

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
        (rows * (height + padding) + padding, columns * (width + padding) + padding, channels), background, np.uint8
    )
    for index, image in enumerate(images):
        row, column = divmod(index, columns)
        top = padding + row * (height + padding)
        left = padding + column * (width + padding)
        canvas[top:top + height, left:left + width] = image
    return canvas


def side_by_side(originals, reconstructions, columns=8, padding=2):
    """A grid of pairs: each original image with its reconstruction to its right.

    Args:
        originals: (N, H, W, C) images.
        reconstructions: (N, H, W, C) images, same shape.
        columns: pairs per row.
        padding: pixels between images.

    Returns:
        A uint8 picture; pair ``i`` is at row ``i // columns``.
    """
    originals, reconstructions = to_uint8(originals), to_uint8(reconstructions)
    if originals.shape != reconstructions.shape:
        raise ValueError(
            f"originals and reconstructions must have the same shape; received {originals.shape} and "
            f"{reconstructions.shape}"
        )
    pairs = np.stack([originals, reconstructions], axis=1).reshape(-1, *originals.shape[1:])
    return tile(pairs, columns=2 * columns, padding=padding)


def latent_samples(count, latent_dim, seed=0):
    """Draw ``count`` latent vectors from the standard normal prior, reproducibly.

    Example:
        >>> latent_samples(2, 3, seed=1).shape
        (2, 3)
    """
    if count < 1 or latent_dim < 1:
        raise ValueError(f"count and latent_dim must be positive; received {count} and {latent_dim}")
    return np.random.default_rng(seed).standard_normal((count, latent_dim)).astype(np.float32)


def lerp(start, end, steps):
    """Linear interpolation from ``start`` to ``end`` in ``steps`` points, ends included.

    The report's listing 6, vectorised: ``(1 - t) * start + t * end`` for t in
    ``linspace(0, 1, steps)``.

    Example:
        >>> lerp(np.zeros(2), np.ones(2), 3).tolist()
        [[0.0, 0.0], [0.5, 0.5], [1.0, 1.0]]
    """
    start, end = np.asarray(start, np.float64), np.asarray(end, np.float64)
    if steps < 2:
        raise ValueError(f"steps must be at least 2; received {steps}")
    ts = np.linspace(0.0, 1.0, steps)[:, None]
    return ((1 - ts) * start + ts * end).astype(np.float32)


def slerp(start, end, steps):
    """Spherical interpolation from ``start`` to ``end`` in ``steps`` points, ends included.

    Under a Gaussian prior most mass sits near the sphere of radius sqrt(D); linear
    midpoints fall inside it (their norm shrinks by up to 1/sqrt(2)), which
    generators have rarely seen. Slerp follows the great circle between the two
    directions, interpolating the norms linearly (White, "Sampling generative
    networks", 2016). Nearly parallel vectors fall back to linear interpolation.

    Example:
        >>> path = slerp(np.array([1.0, 0.0]), np.array([0.0, 1.0]), 3)
        >>> [round(float(value), 4) for value in path[1]]
        [0.7071, 0.7071]
    """
    start, end = np.asarray(start, np.float64), np.asarray(end, np.float64)
    if steps < 2:
        raise ValueError(f"steps must be at least 2; received {steps}")
    start_norm, end_norm = np.linalg.norm(start), np.linalg.norm(end)
    if start_norm == 0 or end_norm == 0:
        return lerp(start, end, steps)
    cosine = np.clip(np.dot(start / start_norm, end / end_norm), -1.0, 1.0)
    angle = np.arccos(cosine)
    if np.sin(angle) < 1e-6:
        return lerp(start, end, steps)
    ts = np.linspace(0.0, 1.0, steps)[:, None]
    unit_path = (np.sin((1 - ts) * angle) * start / start_norm + np.sin(ts * angle) * end / end_norm) / np.sin(angle)
    norms = (1 - ts) * start_norm + ts * end_norm
    return (unit_path * norms).astype(np.float32)


def interpolate(start, end, steps, kind="linear"):
    """Interpolate between two latent vectors: ``kind`` is ``linear`` or ``spherical``."""
    if kind == "linear":
        return lerp(start, end, steps)
    if kind == "spherical":
        return slerp(start, end, steps)
    raise ValueError(f"kind must be one of {', '.join(INTERPOLATIONS)}; received {kind!r}")


def interpolation_latents(latent_dim, steps=10, pairs=1, seed=0):
    """Latent vectors for interpolation strips: for each of ``pairs`` random pairs of
    endpoints (same seed, same endpoints), a linear row then a spherical row.

    Returns:
        float32 array (pairs * 2 * steps, latent_dim); tile it with ``columns=steps``.

    Example:
        >>> interpolation_latents(8, steps=5, pairs=2).shape
        (20, 8)
    """
    endpoints = latent_samples(2 * pairs, latent_dim, seed)
    rows = []
    for pair in range(pairs):
        start, end = endpoints[2 * pair], endpoints[2 * pair + 1]
        rows.extend([lerp(start, end, steps), slerp(start, end, steps)])
    return np.concatenate(rows)


def png_bytes(picture):
    """A picture ((H, W), (H, W, 1) or (H, W, 3), floats in [0, 1] or uint8) encoded as PNG bytes."""
    import io

    from PIL import Image

    picture = to_uint8(picture)
    if picture.ndim == 3 and picture.shape[-1] == 1:
        picture = picture[..., 0]
    buffer = io.BytesIO()
    Image.fromarray(picture).save(buffer, format="PNG")
    return buffer.getvalue()


def write_png(path, picture):
    """Write a picture as PNG through a temporary file and a rename, so that no reader
    ever sees half a file and a failure leaves any older file in place.

    Args:
        path: the PNG to write; parent folders are created.
        picture: (H, W), (H, W, 1) or (H, W, 3) floats in [0, 1] or uint8.

    Returns:
        The path, as a :class:`pathlib.Path`.
    """
    path = pathlib.Path(path)
    encoded = png_bytes(picture)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        temporary.write_bytes(encoded)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path
