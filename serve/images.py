"""Images in, model inputs out: finding the files, decoding them, and the card's preprocessing.

numpy and Pillow only. Any format Pillow reads (PNG, JPEG, BMP, GIF, TIFF, WebP...),
any size and mode:

- EXIF orientation is applied first (a phone photo is read the way it is shown).
- Transparency (RGBA, LA, palette or grey with a transparent colour) is composited on
  white, as a viewer shows it on a white page.
- 16-bit images (``I;16``, and ``I`` with its TIFF bit depth) are scaled to 8 bits
  (value / 257, rounded), so a 16-bit image reads exactly like its 8-bit version.
- Then the card's ``preprocessing``: colour (``grayscale`` is ITU-R 601 luma, Pillow's
  ``L``; ``rgb``), ``crop`` (``center_square`` or ``none``) and a resize to ``size``
  with the card's filter (bilinear), antialiased as Pillow's resize always is.
- With ``polarity: light_on_dark`` (the MNIST and Fashion-MNIST classifiers, trained on
  light figures on black), a picture with a light border is inverted: a dark digit on
  white paper then reads like the training set.
- The result is float32 pixels in [0, 255], NHWC: the models rescale inside their graph.

A file is refused with an :class:`ImageError` (one line, naming the file) when it is
missing, unreadable, empty, not an image, truncated or corrupt, or larger than
:data:`MAX_IMAGE_PIXELS` (a decompression bomb: a small file that would decode to
gigabytes).
"""

import contextlib
import glob
import math
import os
import pathlib
import warnings

import numpy as np

from serve import memory
from zoo import errors

# Extensions taken from a folder; a file named on the command line is tried whatever its name.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
# 100 megapixels: above the largest phone and most camera photos (a 50 MP photo is
# fine), far below what exhausts memory (a decoded 100 MP RGB image is 300 MB).
MAX_IMAGE_PIXELS = 100_000_000
# The longer side at most this many times the shorter. A panorama is about 4:1; a
# 1000x1 picture is 75 bytes and would be cut into 1,999 squares to find a clock in
# (issue #45), so the work a picture costs is bounded by its shape as well as its area.
MAX_ASPECT = 20
# Pixels decoded at once in a process: two pictures at the area limit (about 1.6 GB), so
# concurrent big pictures queue instead of adding up (serve.memory).
DECODING = memory.PixelBudget(2 * MAX_IMAGE_PIXELS)
RESAMPLING = ("bilinear", "bicubic", "nearest", "lanczos", "box")
CROPS = ("center_square", "none")
COLORS = ("grayscale", "rgb")
# What a model's training pictures look like: light figures on a dark background.
POLARITIES = ("light_on_dark",)
# Reduce by whole factors first when shrinking by more than this (Pillow's reducing_gap):
# much faster on big photos and, at 3, indistinguishable from a direct resize.
REDUCING_GAP = 3.0
_TRANSPARENT_MODES = ("RGBA", "LA", "PA", "RGBa", "La")
_SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N")


class ImageError(errors.ZooError):
    """An input that is not a readable image; the message names the file."""


class ImageLimitError(ImageError, errors.LimitError):
    """An image over a work limit (:data:`MAX_IMAGE_PIXELS`, :data:`MAX_ASPECT`)."""


class ErrorResult(dict):
    """A reader's ``{"error": message}`` answer for one input that also keeps the
    :class:`ImageError` behind it, so a server can answer by its type (a limit is a 413)."""

    def __init__(self, error):
        super().__init__(error=str(error))
        self.exception = error


def check_shape(width, height, name):
    """Refuse a picture whose area or aspect ratio is over its limit, before decoding it.

    Raises:
        ImageLimitError: naming the limit.
    """
    if width * height > MAX_IMAGE_PIXELS:
        raise ImageLimitError(f"{name}: image of {width}x{height} pixels is over the "
                              f"{MAX_IMAGE_PIXELS // 1_000_000} megapixels limit")
    if max(width, height) > MAX_ASPECT * max(1, min(width, height)):
        raise ImageLimitError(f"{name}: image of {width}x{height} pixels is over the aspect-ratio limit "
                              f"(its longer side at most {MAX_ASPECT} times its shorter)")


class Item:
    """One input of a command: a path to read, or the reason it cannot be.

    Attributes:
        name: how the user named it (the path as given, or found in a folder or glob).
        path: the file to read, or None if ``error`` is set.
        error: the one-line reason, or None.
    """

    __slots__ = ("name", "path", "error")

    def __init__(self, name, path=None, error=None):
        self.name, self.path, self.error = name, path, error

    def __repr__(self):
        return f"Item({self.name!r}, error={self.error!r})"


def _has_magic(text):
    return any(character in text for character in "*?[")


def _folder_images(folder, recursive):
    pattern = "**/*" if recursive else "*"
    found = [path for path in folder.glob(pattern) if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file()]
    return sorted(found)


def expand_inputs(arguments, recursive=False):
    """The files named by IMAGE arguments: files, folders and glob patterns.

    A folder gives the image files directly inside it (by extension, sorted), or its
    whole tree with ``recursive``. A pattern (``*``, ``?``, ``[...]``; ``**`` spans
    folders) is expanded here, so it works when the shell did not expand it (quoted,
    or on Windows). A file seen twice is read once.

    Args:
        arguments: the command line's IMAGE arguments.
        recursive: descend into sub-folders of folder arguments.

    Returns:
        list of :class:`Item`, in the order given; an argument that names nothing
        readable becomes an Item with its ``error`` set.

    Example:
        >>> [item.name for item in expand_inputs(["photos/*.jpg"])]  # doctest: +SKIP
        ['photos/a.jpg', 'photos/b.jpg']
    """
    items, seen = [], set()

    def add(name, path):
        key = os.path.realpath(path)
        if key not in seen:
            seen.add(key)
            items.append(Item(name, path))

    for argument in arguments:
        text = str(argument)
        path = pathlib.Path(text)
        if path.is_dir():
            try:
                found = _folder_images(path, recursive)
            except PermissionError:
                items.append(Item(text, error=f"{text}: permission denied (cannot list the folder)"))
                continue
            if not found:
                kinds = ", ".join(suffix.lstrip(".") for suffix in IMAGE_SUFFIXES)
                where = "in its tree" if recursive else "directly in it (--recursive looks in sub-folders)"
                items.append(Item(text, error=f"{text}: folder with no images ({kinds}) {where}"))
            for file in found:
                add(str(file), file)
        elif path.exists() or os.path.lexists(path):
            add(text, path)
        elif _has_magic(text):
            matches = sorted(glob.glob(text, recursive=True))
            files = [pathlib.Path(match) for match in matches if os.path.isfile(match)]
            if not files:
                items.append(Item(text, error=f"{text}: no file matches this pattern"))
            for file in files:
                add(str(file), file)
        else:
            items.append(Item(text, error=f"{text}: no such file or folder"))
    return items


def check_preprocessing(preprocessing, channels=None):
    """Validate a card's ``preprocessing``; return ``(color, (height, width), crop, resample)``.

    Raises:
        ZooError: a key is missing or has a value this server does not know.
    """
    if not isinstance(preprocessing, dict):
        raise errors.ZooError(f"the model card has no image preprocessing (received {preprocessing!r})")
    layout = preprocessing.get("layout", "NHWC")
    color = preprocessing.get("color")
    size = preprocessing.get("size")
    crop = preprocessing.get("crop", "none")
    resample = preprocessing.get("resize", "bilinear")
    if layout != "NHWC":
        raise errors.ZooError(f"the model card's preprocessing.layout must be NHWC; received {layout!r}")
    if color not in COLORS:
        raise errors.ZooError(
            f"the model card's preprocessing.color must be one of {', '.join(COLORS)}; received {color!r}"
        )
    if not (isinstance(size, (list, tuple)) and len(size) == 2 and all(isinstance(s, int) and s > 0 for s in size)):
        raise errors.ZooError(f"the model card's preprocessing.size must be [height, width]; received {size!r}")
    if crop not in CROPS:
        raise errors.ZooError(
            f"the model card's preprocessing.crop must be one of {', '.join(CROPS)}; received {crop!r}"
        )
    if resample not in RESAMPLING:
        raise errors.ZooError(
            f"the model card's preprocessing.resize must be one of {', '.join(RESAMPLING)}; received {resample!r}"
        )
    polarity = preprocessing.get("polarity")
    if polarity is not None and polarity not in POLARITIES:
        raise errors.ZooError(
            f"the model card's preprocessing.polarity must be one of {', '.join(POLARITIES)}; received {polarity!r}"
        )
    expected = 1 if color == "grayscale" else 3
    if channels is not None and channels != expected:
        raise errors.ZooError(f"the model card says {color} but the model's input has {channels} channels")
    return color, (int(size[0]), int(size[1])), crop, resample


def check_regular_file(path, name):
    """Refuse at once what is not a regular file: opening a FIFO with no writer, or
    reading a device, would hang or never end; a symbolic link loop has no file at all.

    Raises:
        ImageError: one line naming the file and what it is.
    """
    import errno
    import stat

    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise ImageError(f"{name}: no such file") from None
    except PermissionError:
        raise ImageError(f"{name}: permission denied") from None
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise ImageError(f"{name}: a loop of symbolic links, not a file") from None
        raise ImageError(f"{name}: cannot read ({errors.one_line(error)})") from None
    if stat.S_ISDIR(mode):
        raise ImageError(f"{name}: is a folder, not an image")
    kinds = {stat.S_ISFIFO: "a FIFO (named pipe)", stat.S_ISCHR: "a character device", stat.S_ISBLK: "a block device",
             stat.S_ISSOCK: "a socket"}
    for test, kind in kinds.items():
        if test(mode):
            raise ImageError(f"{name}: is {kind}, not an image file")


def header_pixels(path):
    """A picture's area as its header gives it, without decoding; 0 when the file cannot be
    opened as an image (:func:`open_image` then says why)."""
    from PIL import Image

    try:
        check_regular_file(path, str(path))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path) as image:
                return int(image.width) * int(image.height)
    except Exception:  # noqa: BLE001 (any failure is open_image's to report)
        return 0


@contextlib.contextmanager
def decoding(path):
    """Hold :data:`DECODING`'s share for the picture at ``path`` while it is decoded and
    read; a big picture's memory is handed back when it is done (serve.memory)."""
    with DECODING.hold(header_pixels(path)):
        yield


def open_image(path, name=None, draft=None):
    """Open and fully decode an image file, with its EXIF orientation applied.

    Args:
        path: the file.
        name: how to name it in errors (the path by default).
        draft: optional ``draft(width, height) -> (mode, (width, height)) or None``, called
            once the header is read: lets the JPEG decoder scale down by 2, 4 or 8 while
            decoding (several times faster on big photos) to at least that size.

    Returns:
        a loaded ``PIL.Image.Image`` (any mode).

    Raises:
        ImageError: missing, unreadable, empty, not an image, truncated, corrupt, too big.

    Example:
        >>> open_image("clock.jpg").size  # doctest: +SKIP
        (1024, 768)
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    name = str(path) if name is None else name
    check_regular_file(path, name)
    Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS
    limit = f"{MAX_IMAGE_PIXELS // 1_000_000} megapixels"
    try:
        with warnings.catch_warnings():
            # Pillow only warns between MAX_IMAGE_PIXELS and twice that; both are refused.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with open(path, "rb") as file:
                image = Image.open(file)
                check_shape(image.width, image.height, name)
                request = draft(*image.size) if draft is not None and image.format == "JPEG" else None
                if request is not None:
                    image.draft(*request)
                image.load()
    except ImageError:
        raise
    except FileNotFoundError:
        raise ImageError(f"{name}: no such file") from None
    except PermissionError:
        raise ImageError(f"{name}: permission denied") from None
    except IsADirectoryError:
        raise ImageError(f"{name}: is a folder, not an image") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        detail = str(error).split(" pixels")[0].replace("Image size (", "")
        raise ImageLimitError(
            f"{name}: image of {detail} pixels is over the {limit} limit (a decompression bomb?)"
        ) from None
    except UnidentifiedImageError:
        size = _size_of(path)
        if size == 0:
            raise ImageError(f"{name}: empty file") from None
        raise ImageError(f"{name}: not an image (or a format Pillow cannot read)") from None
    except OSError as error:
        raise ImageError(f"{name}: truncated or corrupt image ({errors.one_line(error)})") from None
    except Exception as error:  # Pillow's decoders raise SyntaxError, ValueError, EOFError... on bad data.
        raise ImageError(f"{name}: corrupt image ({type(error).__name__}: {errors.one_line(error)})") from None
    check_shape(image.width, image.height, name)  # belt and braces: formats whose size changes on load
    try:
        image = ImageOps.exif_transpose(image)
    except Exception:  # a broken EXIF block: read the pixels as stored
        pass
    return image


def _size_of(path):
    try:
        return os.path.getsize(path)
    except OSError:
        return None


def to_8bit(image):
    """Any Pillow image as ``L``, ``LA``, ``RGB`` or ``RGBA`` 8-bit (or palette/other
    modes Pillow converts itself). 16-bit and 32-bit integer images are scaled, not clipped.

    Example:
        >>> to_8bit(Image.fromarray(np.full((2, 2), 65535, np.uint16))).getpixel((0, 0))  # doctest: +SKIP
        255
    """
    from PIL import Image

    mode = image.mode
    if mode in _SIXTEEN_BIT_MODES or mode == "I":
        bits = 16
        if mode == "I":
            # 32-bit integer containers: TIFF says how many bits are used; PNG's 16-bit
            # grey used to open as "I" in older Pillow.
            tag = getattr(image, "tag_v2", None)
            sample_bits = tag.get(258) if tag is not None else None
            if isinstance(sample_bits, (tuple, list)) and sample_bits:
                sample_bits = sample_bits[0]
            bits = int(sample_bits) if sample_bits else 16
        values = np.asarray(image, dtype=np.float64)
        scaled = np.clip(np.rint(values * (255.0 / (2.0 ** bits - 1.0))), 0, 255).astype(np.uint8)
        return Image.fromarray(scaled, mode="L")
    if mode == "F":
        values = np.asarray(image, dtype=np.float64)
        finite = values[np.isfinite(values)]
        # Floating-point images are in [0, 1] by convention; larger values mean 0..255.
        scale = 255.0 if finite.size == 0 or finite.max() <= 1.0 else 1.0
        scaled = np.clip(np.rint(np.nan_to_num(values) * scale), 0, 255).astype(np.uint8)
        return Image.fromarray(scaled, mode="L")
    if mode == "1":
        return image.convert("L")
    return image


def flatten_alpha(image):
    """Composite a transparent image on white; other images unchanged (``L`` or ``RGB``)."""
    from PIL import Image

    transparent = image.mode in _TRANSPARENT_MODES or (
        image.mode in ("P", "L", "RGB") and "transparency" in image.info
    )
    if transparent:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    if image.mode in ("L", "RGB"):
        return image
    return image.convert("RGB")  # P, CMYK, YCbCr, LAB, HSV...


def _draft_request(width, height, size):
    """The smallest ``(width, height)`` the JPEG decoder may reduce to: the shorter side
    at least twice the target's longer side (whatever the crop and the EXIF rotation),
    so the final resize still averages several pixels into each."""
    factor = 2 * max(size) / max(1, min(width, height))
    if factor >= 1:
        return None
    return max(1, math.ceil(width * factor)), max(1, math.ceil(height * factor))


def preprocess(image, color, size, crop="none", resample="bilinear"):
    """A decoded image to the model's input: float32 (H, W, C) pixels in [0, 255].

    Args:
        image: a ``PIL.Image.Image`` (any mode), orientation already applied.
        color: ``grayscale`` or ``rgb``.
        size: ``(height, width)``.
        crop: ``center_square`` (the largest centred square) or ``none``.
        resample: the resize filter's name (``bilinear``).

    Returns:
        float32 array (height, width, 1 or 3).

    Example:
        >>> preprocess(Image.new("RGB", (640, 480)), "grayscale", (96, 96), "center_square").shape  # doctest: +SKIP
        (96, 96, 1)
    """
    from PIL import Image

    image = flatten_alpha(to_8bit(image))
    image = image.convert("L") if color == "grayscale" else image.convert("RGB")
    width, height = image.size
    if crop == "center_square" and width != height:
        # Crop, then resize: the pixels outside the square play no part, as in a
        # crop-then-resize pipeline (resize's ``box`` would let the filter reach past it).
        side = min(width, height)
        left, top = (width - side) // 2, (height - side) // 2
        image = image.crop((left, top, left + side, top + side))
    target = (size[1], size[0])
    if image.size != target:
        filters = {
            "bilinear": Image.Resampling.BILINEAR, "bicubic": Image.Resampling.BICUBIC,
            "nearest": Image.Resampling.NEAREST, "lanczos": Image.Resampling.LANCZOS, "box": Image.Resampling.BOX,
        }
        image = image.resize(target, filters[resample], reducing_gap=REDUCING_GAP)
    array = np.asarray(image, dtype=np.float32)
    return array[..., None] if array.ndim == 2 else array


def match_polarity(array, polarity):
    """Invert a picture drawn the other way round from the model's training set.

    With ``light_on_dark``, a picture whose outermost pixels are mostly light (their
    mean above mid-grey) is a dark figure on a light background: it becomes
    ``255 - array``. Without a polarity, or with a dark border, it is left as it is.

    Args:
        array: float32 (H, W, C) pixels in [0, 255], as :func:`preprocess` returns.
        polarity: the card's ``preprocessing.polarity``, or None.
    """
    if polarity is None:
        return array
    border = np.concatenate([array[0].ravel(), array[-1].ravel(), array[1:-1, 0].ravel(), array[1:-1, -1].ravel()])
    return np.float32(255.0) - array if border.mean() > 127.5 else array


def load(path, preprocessing, name=None):
    """Read an image file the way a model's card says: :func:`open_image`, :func:`preprocess`
    and :func:`match_polarity`.

    Args:
        path: the image file.
        preprocessing: the card's ``preprocessing`` dict.
        name: how to name the file in errors.

    Returns:
        float32 array (H, W, C) in [0, 255].

    Raises:
        ImageError: the file cannot be read as an image.

    Example:
        >>> load("clock.png", card["preprocessing"]).shape  # doctest: +SKIP
        (96, 96, 1)
    """
    color, size, crop, resample = check_preprocessing(preprocessing)
    name = str(path) if name is None else name
    mode = "L" if color == "grayscale" else "RGB"

    def draft(width, height):
        request = _draft_request(width, height, size)
        return None if request is None else (mode, request)

    with decoding(path):
        image = open_image(path, name, draft=draft)
        try:
            array = preprocess(image, color, size, crop, resample)
        except Exception as error:  # a mode Pillow cannot convert
            raise ImageError(
                f"{name}: cannot convert this image ({type(error).__name__}: {errors.one_line(error)})"
            ) from None
        del image
    return match_polarity(array, preprocessing.get("polarity"))
