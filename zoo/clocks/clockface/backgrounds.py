"""Photographs and procedural textures behind and around world-profile clocks.

Real clocks hang on walls, sit on shelves and stand on buildings; a reader that
only ever saw flat colours behind a dial learns to find the one round thing
in an empty frame. The world profile puts photographs behind its clocks (and
uses them as textures for cases, occluders and reflections), taken from:

- ``backgrounds``: a folder of images or a ``.zip`` of images (searched
  recursively, by file name order), e.g. CIFAR-10 or CelebA; several, joined
  by ``os.pathsep`` (``cifar10-jpg.zip:wallpapers``), are drawn from equally,
  so a few big photos are not drowned by many small ones;
- else scikit-image's bundled sample photos, when ``skimage`` is importable
  (it is not a dependency);
- else nothing: :func:`procedural` textures stand in (walls, wood, brick,
  tiles, wallpaper, bokeh, sky, shapes).

A source is opened once per process and cached, so worker processes that
render slices each open it once. Which photo a clock gets is drawn from the
clock's own stream, so image ``i`` depends only on the seed, ``i`` and the
background set.
"""

import functools
import hashlib
import io
import math
import os
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from zoo.clocks.clockface import draws, palette

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff")
"""File names read as background photos."""

# scikit-image's bundled photos; its clock photo is left out (a second real
# clock behind the drawn one would be a label nobody set).
_SKIMAGE_SAMPLES = (
    "astronaut", "brick", "camera", "cat", "chelsea", "coffee", "coins", "grass", "gravel",
    "hubble_deep_field", "immunohistochemistry", "moon", "page", "rocket", "text", "colorwheel",
    "horse", "logo", "microaneurysms",
)


def _check_path(backgrounds):
    """The path of a backgrounds argument, or a one-line ValueError."""
    if not isinstance(backgrounds, (str, os.PathLike)) or not str(backgrounds):
        raise ValueError(f"backgrounds must be None or a path to a folder or .zip of images, got {backgrounds!r}")
    path = Path(backgrounds)
    if path.is_dir():
        return path, "folder"
    if path.is_file() and path.suffix.lower() == ".zip":
        return path, "zip"
    if path.is_file():
        raise ValueError(f"backgrounds must be a folder or a .zip of images, got the file {str(path)!r}")
    raise ValueError(f"backgrounds {str(path)!r} does not exist")


class PhotoSource:
    """A numbered set of RGB photos, decoded on demand (a few are cached)."""

    def __init__(self, kind, location, names):
        self.kind = kind
        self.location = location
        self.names = names
        self._archive = None
        self.image = functools.lru_cache(maxsize=64)(self._load)

    def __len__(self):
        return len(self.names)

    def pick(self, stream):
        """A random photo of the set (RGB PIL)."""
        return self.image(stream.integers(len(self)))

    def _load(self, index):
        """Photo ``index`` as an RGB PIL image."""
        name = self.names[index]
        if self.kind == "skimage":
            import skimage.data

            array = np.asarray(getattr(skimage.data, name)())
            if array.ndim == 2:
                array = np.stack([array] * 3, axis=-1)
            if array.dtype != np.uint8:
                array = np.clip(array.astype(np.float64) * (255.0 if array.max() <= 1.0 else 1.0), 0, 255)
            return Image.fromarray(np.ascontiguousarray(array[..., :3]).astype(np.uint8))
        if self.kind == "zip":
            if self._archive is None:
                self._archive = zipfile.ZipFile(self.location)
            data = self._archive.read(name)
        else:
            data = (self.location / name).read_bytes()
        try:
            with Image.open(io.BytesIO(data)) as opened:
                return opened.convert("RGB")
        except (OSError, ValueError):
            # An unreadable file stands for a grey photo rather than stopping a long render.
            return Image.new("RGB", (32, 32), (128, 128, 128))


class PhotoSets:
    """Several :class:`PhotoSource` sets, each drawn from equally, whatever its size."""

    kind = "sets"

    def __init__(self, sets):
        self.sets = tuple(sets)

    def __len__(self):
        return sum(len(photos) for photos in self.sets)

    def pick(self, stream):
        return self.sets[stream.integers(len(self.sets))].pick(stream)


@functools.lru_cache(maxsize=8)
def _open(key):
    """The PhotoSource for a normalised backgrounds key (None: skimage or nothing)."""
    if key is None:
        try:
            import skimage.data  # noqa: F401  (optional: sample photos only)
        except ImportError:
            return None
        names = []
        for name in _SKIMAGE_SAMPLES:
            try:
                getattr(skimage.data, name)()
            except Exception:  # noqa: BLE001 (missing or downloadable samples are skipped)
                continue
            names.append(name)
        return PhotoSource("skimage", None, tuple(names)) if names else None
    if isinstance(key, tuple):
        return PhotoSets(_open(part) for part in key)
    path, kind = _check_path(key)
    if kind == "zip":
        try:
            with zipfile.ZipFile(path) as archive:
                names = sorted(info.filename for info in archive.infolist()
                               if not info.is_dir() and info.filename.lower().endswith(IMAGE_SUFFIXES))
        except zipfile.BadZipFile as error:
            raise ValueError(f"backgrounds {str(path)!r} is not a readable zip: {error}") from None
    else:
        names = sorted(str(file.relative_to(path)) for file in path.rglob("*")
                       if file.is_file() and file.suffix.lower() in IMAGE_SUFFIXES)
    if not names:
        raise ValueError(f"backgrounds {str(path)!r} holds no images ({', '.join(IMAGE_SUFFIXES)})")
    return PhotoSource(kind, path, tuple(names))


def _key(backgrounds):
    """A hashable, normalised form of a backgrounds argument."""
    if backgrounds is None:
        return None
    parts = str(backgrounds).split(os.pathsep) if isinstance(backgrounds, str) else [backgrounds]
    keys = tuple(str(_check_path(part)[0].resolve()) for part in parts)
    return keys[0] if len(keys) == 1 else keys


def source(backgrounds):
    """The :class:`PhotoSource` for ``backgrounds`` (None: no photos at all).

    Raises:
        ValueError: If ``backgrounds`` is not None, an existing folder or a .zip of images.
    """
    return _open(_key(backgrounds))


def check(backgrounds):
    """Validate a backgrounds argument (opening it), returning it unchanged."""
    source(backgrounds)
    return backgrounds


@functools.lru_cache(maxsize=8)
def _digest(key):
    if key is None:
        return "none"
    if isinstance(key, tuple):
        return "+".join(_digest(part) for part in key)
    photos = _open(key)
    digest = hashlib.sha256(photos.kind.encode())
    if photos.kind == "zip":
        names = frozenset(photos.names)
        with zipfile.ZipFile(photos.location) as archive:
            for info in sorted(archive.infolist(), key=lambda item: item.filename):
                if info.filename in names:
                    digest.update(f"{info.filename}\0{info.file_size}\0{info.CRC}\n".encode())
    else:
        for name in photos.names:
            digest.update(f"{name}\0{(photos.location / name).stat().st_size}\n".encode())
    return f"{photos.kind}-{len(photos)}-{digest.hexdigest()[:12]}"


def backgrounds_digest(backgrounds):
    """A short string naming a background set, for cache keys ("none" for None).

    It hashes the image names and sizes (and CRCs in a zip), not the path, so
    a moved copy of the same set keeps its digest.
    """
    return _digest(_key(backgrounds))


def photo_patch(photos, stream, width, height):
    """A random crop of a random photo, resized to ``width`` x ``height`` (RGB PIL)."""
    image = photos.pick(stream)
    photo_width, photo_height = image.size
    aspect = width / height
    # Big photos are cropped down to a tenth of their side (about 100 pixels), small ones
    # (CIFAR-10's 32) to a third at most.
    share = stream.uniform(max(0.1, min(0.35, 100.0 / min(photo_width, photo_height))), 1.0)
    crop_width = max(2.0, min(photo_width, photo_height * aspect) * share)
    crop_height = max(2.0, crop_width / aspect)
    left = stream.uniform(0.0, max(0.0, photo_width - crop_width))
    top = stream.uniform(0.0, max(0.0, photo_height - crop_height))
    patch = image.resize((width, height), Image.Resampling.BILINEAR,
                         box=(left, top, left + crop_width, top + crop_height))
    if stream.random() < 0.5:
        patch = patch.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return patch


PROCEDURAL_KINDS = ("wall", "wood", "brick", "tiles", "stripes", "bokeh", "sky", "shapes", "noise")
"""The procedural textures, used without photos and mixed in with them."""


def _smooth_noise(stream, cells, side):
    """Smooth random field in [-1, 1] of shape (side, side), from a cells x cells grid."""
    grid = stream.generator.uniform(0, 255, (cells, cells)).astype(np.uint8)
    field = np.asarray(Image.fromarray(grid).resize((side, side), Image.Resampling.BICUBIC), dtype=np.float32)
    return field / 127.5 - 1.0


def _mix_array(first, second, amount):
    """Blend two RGB colours by a field of amounts in [0, 1] -> (H, W, 3) float32."""
    first = np.asarray(first, dtype=np.float32)
    second = np.asarray(second, dtype=np.float32)
    return first + (second - first) * amount[..., None]


def wood(stream, side, base=None):
    """Wood grain: distorted stripes in browns (also the mantel and wall-clock cases)."""
    base = base or palette.hsv(stream.uniform(0.04, 0.11), stream.uniform(0.45, 0.85), stream.uniform(0.25, 0.7))
    dark = palette.mix(base, (0, 0, 0), stream.uniform(0.25, 0.55))
    axis = np.linspace(0.0, 1.0, side, dtype=np.float32)
    turn = stream.uniform(-0.3, 0.3)
    across = axis[None, :] + turn * axis[:, None]
    warp = _smooth_noise(stream, int(stream.integers(3, 7)), side) * stream.uniform(0.02, 0.12)
    frequency = stream.uniform(8.0, 30.0)
    grain = 0.5 + 0.5 * np.sin((across + warp) * frequency * 2.0 * math.pi)
    return np.clip(_mix_array(base, dark, grain ** 2.0), 0, 255).astype(np.uint8)


def procedural(stream, side, kind=None):
    """A procedural background of ``side`` x ``side`` pixels (RGB uint8 array).

    Drawn small and smooth on purpose: it is upsampled to the canvas.
    """
    kind = kind or draws.pick(stream, PROCEDURAL_KINDS, (0.2, 0.12, 0.1, 0.08, 0.1, 0.1, 0.08, 0.14, 0.08))
    first = palette.any_colour(stream)
    second = palette.mix(first, palette.any_colour(stream), stream.uniform(0.2, 0.8))
    axis = np.linspace(-1.0, 1.0, side, dtype=np.float32)
    if kind == "wood":
        return wood(stream, side)
    if kind == "wall":
        angle = stream.uniform(0.0, 2.0 * math.pi)
        ramp = 0.5 + 0.5 * (math.cos(angle) * axis[None, :] + math.sin(angle) * axis[:, None]) / 1.42
        pixels = _mix_array(first, second, ramp * stream.uniform(0.2, 1.0))
        pixels += _smooth_noise(stream, int(stream.integers(8, 40)), side)[..., None] * stream.uniform(2.0, 12.0)
        return np.clip(pixels, 0, 255).astype(np.uint8)
    if kind == "noise":
        cells = int(stream.integers(3, 24))
        pixels = _mix_array(first, second, 0.5 + 0.5 * _smooth_noise(stream, cells, side))
        return np.clip(pixels, 0, 255).astype(np.uint8)
    if kind == "sky":
        top = palette.hsv(stream.uniform(0.55, 0.65), stream.uniform(0.2, 0.7), stream.uniform(0.6, 1.0))
        bottom = palette.mix(top, (255, 255, 255), stream.uniform(0.3, 0.9))
        ramp = np.repeat(((axis + 1.0) / 2.0)[:, None], side, axis=1)
        pixels = _mix_array(top, bottom, ramp)
        pixels += _smooth_noise(stream, int(stream.integers(3, 8)), side)[..., None] * stream.uniform(0.0, 25.0)
        image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
        draw = ImageDraw.Draw(image)
        for _ in range(int(stream.integers(0, 5))):
            # Buildings or roofs along the bottom.
            left = stream.uniform(-0.2, 1.0) * side
            width = stream.uniform(0.1, 0.5) * side
            height = stream.uniform(0.1, 0.6) * side
            draw.rectangle([left, side - height, left + width, side], fill=palette.any_colour(stream))
        return np.asarray(image)
    image = Image.new("RGB", (side, side), first)
    draw = ImageDraw.Draw(image)
    if kind in ("brick", "tiles"):
        rows = int(stream.integers(4, 14)) if kind == "brick" else int(stream.integers(3, 9))
        height = side / rows
        width = height * (stream.uniform(1.8, 3.0) if kind == "brick" else 1.0)
        mortar = palette.mix(first, (230, 225, 215) if stream.random() < 0.6 else (40, 40, 40), 0.6)
        draw.rectangle([0, 0, side, side], fill=mortar)
        gap = max(1.0, 0.08 * height)
        for row in range(rows + 1):
            shift = (row % 2) * width / 2.0 if kind == "brick" else 0.0
            for column in range(int(side / width) + 2):
                colour = palette.mix(first, second, stream.uniform(0.0, 0.5))
                left = column * width - shift
                draw.rectangle([left + gap, row * height + gap, left + width - gap, (row + 1) * height - gap],
                               fill=colour)
    elif kind == "stripes":
        count = int(stream.integers(3, 16))
        width = side / count
        for index in range(0, count + 1, 2):
            draw.rectangle([index * width, 0, (index + stream.uniform(0.3, 1.0)) * width, side], fill=second)
        if stream.random() < 0.5:
            image = image.transpose(Image.Transpose.ROTATE_90)
    elif kind == "bokeh":
        dark = palette.mix(first, (0, 0, 0), stream.uniform(0.3, 0.8))
        draw.rectangle([0, 0, side, side], fill=dark)
        for _ in range(int(stream.integers(6, 30))):
            x, y = stream.uniform(0, side), stream.uniform(0, side)
            radius = stream.uniform(0.02, 0.12) * side
            light = palette.hsv(stream.uniform(0.0, 0.2) if stream.random() < 0.6 else stream.random(),
                                stream.uniform(0.2, 0.9), stream.uniform(0.6, 1.0))
            draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=light)
        image = image.filter(ImageFilter.GaussianBlur(side * stream.uniform(0.01, 0.03)))
    else:  # shapes: furniture, frames, shelves
        for _ in range(int(stream.integers(4, 16))):
            colour = palette.any_colour(stream)
            x, y = stream.uniform(-0.2, 1.0) * side, stream.uniform(-0.2, 1.0) * side
            width, height = stream.uniform(0.05, 0.6) * side, stream.uniform(0.05, 0.6) * side
            if stream.random() < 0.65:
                draw.rectangle([x, y, x + width, y + height], fill=colour)
            else:
                draw.ellipse([x, y, x + width, y + height], fill=colour)
    return np.asarray(image)
