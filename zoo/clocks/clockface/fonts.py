"""Numeral fonts, glyph masks and the numeral texts of each numerals tag.

Fonts are looked up by name among the system fonts and matplotlib's bundled
fonts (without importing matplotlib), falling back to Pillow's built-in font,
so pixels can differ between machines with different fonts installed.
"""

import functools
import importlib.util
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

FONT_NAMES = (
    "DejaVuSans.ttf",
    "DejaVuSans-Bold.ttf",
    "DejaVuSansCondensed-Bold.ttf",
    "DejaVuSans-ExtraLight.ttf",
    "DejaVuSerif.ttf",
    "DejaVuSerif-Bold.ttf",
    "DejaVuSansMono.ttf",
    "STIXGeneral.ttf",
    "STIXGeneralBol.ttf",
    "cmr10.ttf",
    "cmss10.ttf",
    "cmb10.ttf",
    "pillow-default",
)
"""Numeral fonts, sampled by name; a missing file falls back to Pillow's font."""


_ARABIC = ("12", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11")
_ROMAN = ("XII", "I", "II", "III", "IIII", "V", "VI", "VII", "VIII", "IX", "X", "XI")


@functools.lru_cache(maxsize=None)
def _font_source(name):
    """Where to load font ``name`` from: a path/name for truetype, or None.

    System font directories are searched first (PIL does this for bare
    names), then matplotlib's bundled fonts, located without importing
    matplotlib; None means Pillow's built-in font.
    """
    if name == "pillow-default":
        return None
    try:
        ImageFont.truetype(name, 12)
        return name
    except OSError:
        pass
    spec = importlib.util.find_spec("matplotlib")
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            candidate = Path(location) / "mpl-data" / "fonts" / "ttf" / name
            if candidate.is_file():
                return str(candidate)
    return None


@functools.lru_cache(maxsize=512)
def _font(name, pixel_size):
    """FreeType font ``name`` at ``pixel_size`` (cached: loading is slow)."""
    source = _font_source(name)
    if source is None:
        try:
            return ImageFont.load_default(pixel_size)
        except TypeError:
            # Pillow < 10.1 has only the fixed-size bitmap font.
            return ImageFont.load_default()
    return ImageFont.truetype(source, pixel_size)


def text_mask(name, pixel_size, text):
    """Anti-aliased 'L' mask of ``text`` cropped to its ink."""
    font = _font(name, pixel_size)
    left, top, right, bottom = font.getbbox(text)
    width = max(1, right - left)
    height = max(1, bottom - top)
    mask = Image.new("L", (width + 2, height + 2), 0)
    ImageDraw.Draw(mask).text((1 - left, 1 - top), text, font=font, fill=255)
    return mask


@functools.lru_cache(maxsize=32768)
def glyph(name, pixel_size, text):
    """Cached :func:`text_mask` for numerals, which repeat endlessly.

    Every font, ladder size and numeral string fits in the cache; brand names
    are random and bypass it.
    """
    return text_mask(name, pixel_size, text)


PIXEL_LADDER = tuple(sorted({int(round(6 * 1.12**step)) for step in range(40)}))
"""The font sizes in pixels glyphs are drawn at, 12 % apart."""


def quantised_pixels(value):
    """Nearest font size on a ~12 % ladder, so glyph caches get reused.

    A continuous font size would make every clock a cache miss; 12 % steps
    are invisible next to the random numeral sizes themselves.
    """
    index = int(np.searchsorted(PIXEL_LADDER, value))
    if index <= 0:
        return PIXEL_LADDER[0]
    if index >= len(PIXEL_LADDER):
        return PIXEL_LADDER[-1]
    below, above = PIXEL_LADDER[index - 1], PIXEL_LADDER[index]
    return below if value - below <= above - value else above


def numeral_texts(numerals):
    """(position 0-11, text) pairs for a numerals tag."""
    if numerals == "arabic":
        return tuple(enumerate(_ARABIC))
    if numerals == "roman":
        return tuple(enumerate(_ROMAN))
    if numerals == "partial_numerals":
        return tuple((position, _ARABIC[position]) for position in (0, 3, 6, 9))
    return ()


@functools.lru_cache(maxsize=4096)
def numeral_masks(font_name, pixel_size, numerals):
    """Glyph masks of a whole numeral set and the largest glyph extent."""
    texts = numeral_texts(numerals)
    masks = tuple((position, glyph(font_name, pixel_size, text)) for position, text in texts)
    widest = max((mask.size[0] for _, mask in masks), default=0)
    tallest = max((mask.size[1] for _, mask in masks), default=0)
    return masks, widest, tallest
