"""Faces from a generator's onnxruntime session: latent vectors in, uint8 images out.

The exported generator maps ``z`` (float32, (N, latent_dim)) to NHWC float32 images in
the card's ``output_range`` ([0, 1]); there is no random op in the graph, so the
images depend only on ``z``, drawn here from N(0, I) with numpy and a seed
(:func:`zoo.common.imagegrid.latent_samples`).
"""

import os

import numpy as np

from serve import predict
from zoo.common import imagegrid
from zoo import errors

# The images, the grid and the float batches must fit comfortably in memory: never
# more than this, and never more than half of the memory available now.
MEMORY_CAP_BYTES = 2 * 1024**3
GENERATE_BATCH = 64


def image_shape(model):
    """``(height, width, channels)`` of the generator's output, from its card."""
    decode = model.decode
    name = decode.get("output", "image")
    for output in model.card.get("outputs") or []:
        if output.get("name") == name:
            shape = output.get("shape") or []
            if len(shape) == 4 and all(isinstance(size, int) for size in shape[1:]):
                return tuple(shape[1:])
    raise errors.ZooError(f"the card of {model.name} gives no image shape for output {name!r}")


def latent_dim(model):
    """The length of ``z``, from the card (``decode.latent_dim``, else the input's shape)."""
    value = model.decode.get("latent_dim")
    if isinstance(value, int) and value > 0:
        return value
    shape = (model.card.get("inputs") or [{}])[0].get("shape") or []
    if len(shape) == 2 and isinstance(shape[1], int):
        return shape[1]
    raise errors.ZooError(f"the card of {model.name} gives no latent_dim")


def available_memory():
    """Bytes of memory available now (Linux ``MemAvailable``), or None if unknown."""
    try:
        with open("/proc/meminfo") as file:
            for line in file:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def memory_limit():
    """The most the images and grid may take: :data:`MEMORY_CAP_BYTES`, or half the free memory."""
    free = available_memory()
    return MEMORY_CAP_BYTES if free is None else min(MEMORY_CAP_BYTES, free // 2)


def check_count(count, model, option="--count"):
    """Refuse a count of images that is not positive or would not fit in memory.

    The estimate is the uint8 images plus the grid (about as big again) plus one
    float32 batch: ``count * H * W * C * 2 + batch * H * W * C * 4``.

    Raises:
        ZooError: zero, negative, or over :func:`memory_limit`.
    """
    if count < 1:
        raise errors.ZooError(f"{option} must be at least 1; received {count}")
    height, width, channels = image_shape(model)
    pixels = height * width * channels
    needed = count * pixels * 2 + min(count, GENERATE_BATCH) * pixels * 4 + count * latent_dim(model) * 4
    limit = memory_limit()
    if needed > limit:
        raise errors.ZooError(
            f"{option} {count} needs about {needed / 1e9:.1f} GB for {count} images of {height}x{width}x{channels} "
            f"and their grid, over the {limit / 1e9:.1f} GB allowed here; "
            f"ask for at most {max(1, count * limit // needed)}"
        )


def check_batch(batch_size, model, option="--batch-size"):
    """Refuse a clock-reader batch whose float32 pixels would not fit in memory.

    Raises:
        ZooError: ``batch_size * H * W * C * 4`` bytes, twice (decoded images and
            the batch), over :func:`memory_limit`.
    """
    shape = (model.card.get("inputs") or [{}])[0].get("shape") or []
    pixels = int(np.prod([size for size in shape[1:] if isinstance(size, int)] or [1]))
    needed = batch_size * pixels * 4 * 2
    limit = memory_limit()
    if needed > limit:
        raise errors.ZooError(
            f"{option} {batch_size} needs about {needed / 1e9:.1f} GB of float32 pixels, over the "
            f"{limit / 1e9:.1f} GB allowed here; ask for at most {max(1, batch_size * limit // needed)}"
        )


def to_unit_range(images, decode):
    """Map the generator's output range to [0, 1]."""
    low, high = decode.get("output_range") or (0, 1)
    if (low, high) == (0, 1):
        return images
    return (images - low) / float(high - low)


def generate(session, model, z, batch_size=GENERATE_BATCH, progress=None):
    """Images for latent vectors ``z``, ``batch_size`` rows per session run.

    Args:
        session: the generator's onnxruntime session.
        model: its :class:`serve.models.ServedModel` (card decode kind ``image``).
        z: float32 (N, latent_dim).
        batch_size: rows per run.
        progress: optional callable, called with the rows done after each batch.

    Returns:
        uint8 array (N, H, W, C).

    Example:
        >>> faces = generate(session, model, imagegrid.latent_samples(16, 128, seed=0))  # doctest: +SKIP
        >>> faces.shape
        (16, 64, 64, 3)
    """
    decode = model.decode
    input_name = decode.get("input", "z")
    output_name = decode.get("output", "image")
    height, width, channels = image_shape(model)
    z = np.ascontiguousarray(z, dtype=np.float32)
    result = np.empty((len(z), height, width, channels), np.uint8)
    for start in range(0, len(z), batch_size):
        (images,) = predict.run_session(session, model, [output_name], {input_name: z[start:start + batch_size]})
        result[start:start + len(images)] = imagegrid.to_uint8(to_unit_range(images, decode))
        if progress is not None:
            progress(len(images))
    return result


def write_each(faces, folder, prefix="face"):
    """Write each face as ``folder/<prefix>_<index>.png`` (atomically); return the paths."""
    digits = max(4, len(str(len(faces) - 1)))
    os.makedirs(folder, exist_ok=True)
    return [imagegrid.write_png(os.path.join(folder, f"{prefix}_{index:0{digits}d}.png"), face)
            for index, face in enumerate(faces)]
