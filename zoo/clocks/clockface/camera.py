"""Camera defects at output resolution: blur, lighting, sensor noise, JPEG artefacts.

None of them moves a pixel, so the clock's keypoints stay where they were drawn.
"""

import functools
import io
import math

import numpy as np
from PIL import Image, ImageFilter


@functools.lru_cache(maxsize=16)
def _unit_grid(size):
    """Pixel-centre coordinates in [-1, 1] and their squared radius, float32 (size, size)."""
    axis = (np.arange(size, dtype=np.float32) + 0.5) / size * 2.0 - 1.0
    y, x = np.meshgrid(axis, axis, indexing="ij")
    return x, y, x * x + y * y


@functools.lru_cache(maxsize=1)
def _noise_bank():
    """A fixed 1024 x 1024 field of standard normal noise (4 MB).

    Sensor noise is taken as random crops of this field, much cheaper than
    drawing fresh normals for every image.
    """
    return np.random.default_rng(20240611).standard_normal((1024, 1024), dtype=np.float32)


def _noise_patch(stream, shape):
    """Standard normal noise of ``shape`` ((H, W) or (H, W, C)) from the bank."""
    bank = _noise_bank()
    height, width = shape[0], shape[1]
    channels = shape[2] if len(shape) == 3 else 1
    if height * channels > bank.shape[0] or width > bank.shape[1]:
        return stream.generator.standard_normal(shape, dtype=np.float32)
    top = stream.integers(bank.shape[0] - height * channels + 1)
    left = stream.integers(bank.shape[1] - width + 1)
    patch = bank[top : top + height * channels, left : left + width]
    if channels > 1:
        patch = patch.reshape(channels, height, width).transpose(1, 2, 0)
    if stream.random() < 0.5:
        patch = patch[:, ::-1]
    return patch


def apply(image, style, stream):
    """Blur, lighting, sensor noise and JPEG artefacts at output resolution.

    Works on 'L' or 'RGB' images and returns a uint8 array of the same mode.
    The lighting field is smooth, so applying it after the blur looks the
    same as before it and lets lighting and noise share one numpy pass.
    """
    size = image.size[0]
    if style.blur_radius > 0:
        # A box blur: close to a defocused lens (a disc) and cheaper than
        # PIL's Gaussian, which is three box passes.
        image = image.filter(ImageFilter.BoxBlur(style.blur_radius * size / 150.0))
    lit = style.lighting_strength > 0 or style.vignette > 0 or style.gain != 1.0
    if lit or style.noise_sigma > 0:
        pixels = np.asarray(image, dtype=np.float32)
        if lit:
            x, y, radius_squared = _unit_grid(size)
            angle = math.radians(style.lighting_direction_degrees)
            gain = style.gain
            field = (
                np.float32(gain * 0.5 * style.lighting_strength * math.cos(angle)) * x
                + np.float32(gain * 0.5 * style.lighting_strength * math.sin(angle)) * y
                - np.float32(gain * 0.5 * style.vignette) * radius_squared
                + np.float32(gain)
            )
            pixels = pixels * (field[..., None] if pixels.ndim == 3 else field)
        if style.noise_sigma > 0:
            pixels += _noise_patch(stream, pixels.shape) * np.float32(style.noise_sigma)
        image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    if style.jpeg_quality > 0:
        image = jpeg_round_trip(image, style.jpeg_quality)
    return np.asarray(image, dtype=np.uint8)


def jpeg_round_trip(image, quality):
    """``image`` saved as a JPEG of ``quality`` and decoded again, in its own mode."""
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=int(quality))
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        return decoded.convert(image.mode)
