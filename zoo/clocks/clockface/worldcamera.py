"""World-profile camera defects: defocus, motion blur, exposure, colour casts, noise, JPEG, low resolution.

They run in colour at the render resolution, as in a camera (JPEG's colour
subsampling, chroma noise and white balance only exist in colour), and the
grey picture is taken at the end. None of them moves a pixel, and the final
upsampling of low-resolution renders scales the picture exactly, so the
keypoints follow by the same scale.
"""

import math

import numpy as np
from PIL import Image, ImageFilter

from zoo.clocks.clockface import camera


def _motion_blur(pixels, length, degrees):
    """Average of copies shifted along a line: the smear of a moving camera."""
    steps = max(2, int(round(length)) + 1)
    angle = math.radians(degrees)
    offsets = np.linspace(-0.5, 0.5, steps)[:, None] * length * np.array([math.cos(angle), math.sin(angle)])
    offsets = np.round(offsets).astype(int)
    pad = int(np.abs(offsets).max()) + 1
    padded = np.pad(pixels, ((pad, pad), (pad, pad), (0, 0)), mode="edge")
    height, width = pixels.shape[:2]
    total = np.zeros(pixels.shape, dtype=np.float32)
    for dx, dy in offsets:
        total += padded[pad + dy: pad + dy + height, pad + dx: pad + dx + width]
    return total / np.float32(len(offsets))


def apply(image, style, stream, size):
    """Camera defects on an RGB render, returning a grey uint8 (size, size) array.

    Args:
        image: RGB PIL image at the render resolution.
        style: the :class:`~zoo.clocks.clockface.worldstyle.WorldStyle`.
        stream: the clock's random stream (noise positions).
        size: output size; a smaller render is upsampled to it.
    """
    render_size = image.size[0]
    scale = render_size / 150.0
    if style.blur_radius > 0:
        image = image.filter(ImageFilter.GaussianBlur(style.blur_radius * scale))
    pixels = np.asarray(image, dtype=np.float32)
    if style.motion_length > 0:
        pixels = _motion_blur(pixels, style.motion_length * scale, style.motion_degrees)
    gain = np.float32(style.gain) * np.asarray(style.cast, dtype=np.float32)
    if style.lighting_strength > 0 or style.vignette > 0:
        x, y, radius_squared = camera._unit_grid(render_size)
        angle = math.radians(style.lighting_degrees)
        field = (np.float32(0.5 * style.lighting_strength * math.cos(angle)) * x
                 + np.float32(0.5 * style.lighting_strength * math.sin(angle)) * y
                 - np.float32(0.5 * style.vignette) * radius_squared + np.float32(1.0))
        pixels = pixels * field[..., None]
    pixels = pixels * gain
    if style.gamma != 1.0:
        pixels = np.float32(255.0) * (np.clip(pixels, 0.0, 255.0) / np.float32(255.0)) ** np.float32(style.gamma)
    if style.noise_sigma > 0:
        grey_noise = camera._noise_patch(stream, pixels.shape[:2])
        noise = grey_noise[..., None] * np.float32(style.noise_sigma)
        if style.chroma_noise > 0:
            noise = noise + (camera._noise_patch(stream, pixels.shape)
                             * np.float32(style.noise_sigma * style.chroma_noise))
        pixels = pixels + noise
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    if style.jpeg_quality > 0:
        image = camera.jpeg_round_trip(image, style.jpeg_quality)
    grey = image.convert("L")
    if render_size != size:
        grey = grey.resize((size, size), Image.Resampling.BICUBIC if stream.random() < 0.5 else
                           Image.Resampling.BILINEAR)
    return np.asarray(grey, dtype=np.uint8)
