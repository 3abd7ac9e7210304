"""Render analog clock images with known times, in many styles.

The classic Leiden "tell the time" data set is ``images.npy`` of shape
(N, 150, 150) uint8 grayscale plus ``labels.npy`` (N, 2) ``[hour 0-11,
minute 0-59]``. This module draws such clocks itself so that readers can be
trained on as much data and as much *variety* as wanted: readers are judged
on clocks from renderers they have never seen and on photographs, so every
visual property that does not carry the time (dial shape, numerals, hands,
colours, viewpoint, background, camera defects) is randomised.

Only numpy and Pillow are used (no TensorFlow, no OpenCV) so that the
renderer can run in worker processes and on a light server.

How a clock is drawn
--------------------
Everything is drawn at ``SUPERSAMPLE`` times the output size and reduced
with a box filter, which anti-aliases the PIL polygons. The clock is laid
out in a *dial frame* (unit = dial radius, x to the right, y down, angles
clockwise from 12) and every point is sent through one projective map:
in-plane rotation, then the tilt of the dial plane (perspective and
foreshortening), then scale and offset in the frame. Transforming points
instead of images keeps the work to polygon fills, which is what makes
several hundred images per second on one core possible; numerals are small
glyph images warped by the local affine part of the same map.

Styles choose their colours in RGB (contrast between face, hands and
numerals is checked on grey levels, which is what a grayscale reader
sees). :func:`render_clock_rgb` draws them in colour; :func:`render_clock`
draws each colour directly as its grey level, which equals converting the
colour drawing (every drawing step is linear in the pixel values; tests
check the two agree to rounding) at a third of the cost.

Hands and labels
----------------
A clock labelled ``[hour, minute]`` shows the continuous time
``hour * 60 + minute + offset`` with ``offset`` drawn uniformly from
[-0.5, 0.5) minutes (or passed as ``sub_minute``): real clocks are rarely
exactly on the minute, and this makes the label the *nearest* whole minute
to what the hands show, so a reader's rounding is unbiased. The minute hand
points at ``6 deg * (minute + offset)``, the hour hand at
``0.5 deg * (hour * 60 + minute + offset)`` plus a small optional play
(``hour_slop_degrees``, cheap clocks have it), the second hand, when drawn,
at the seconds of that same continuous time. All angles are clockwise from
the dial's 12 mark; when the whole clock is rotated the dial and numerals
rotate with the hands, so the label is always read relative to the dial.

Style families
--------------
A :class:`ClockStyle` is sampled by :func:`sample_style`. Every categorical
choice is one value of a named attribute, and each value has a tag (see
``STYLE_ATTRIBUTES`` and ``STYLE_TAGS``). ``include`` restricts each
attribute it mentions to the included values; ``exclude`` forbids values.
So ``exclude={"roman", "square"}`` never produces roman numerals nor square
dials, and ``include={"roman"}`` always produces roman numerals. This lets
whole families be held out of training for a generalisation test.

Tags, by attribute:

- dial_shape: ``round``, ``square``, ``rounded_square``, ``octagon``
- numerals: ``arabic``, ``roman``, ``partial_numerals`` (arabic 12/3/6/9
  only), ``no_numerals``
- ticks: ``no_ticks``, ``ticks_12``, ``ticks_60`` (minute ticks, longer at
  the hours), ``dots``, ``quarter_marks`` (thick marks at 12/3/6/9)
- face: ``light_face``, ``dark_face``
- second: ``second_hand``, ``no_second_hand``
- hand_shape: ``line_hands``, ``sword_hands`` (tapered), ``arrow_hands``
  (arrow or spade tips)
- hand_tail: ``hand_tails`` (hands extend behind the pivot),
  ``no_hand_tails``
- rotation: ``upright`` (within +-6 deg), ``tilted`` (within +-40 deg),
  ``rotated`` (any angle). A clock turned by more than 12 deg always
  carries a cue for 12 (numerals, brand text or a distinct 12 marker):
  with identical hour marks it would be ambiguous.
- warp: ``no_warp``, ``perspective`` (foreshortening, perspective, shear)
- background: ``flat_background``, ``gradient_background``,
  ``clutter_background`` (random shapes), ``texture_background`` (smooth
  noise)
- distractors: ``distractor_lines``, ``no_distractor_lines`` (long lines
  behind the clock)
- bezel: ``bezel`` (frame ring around the face), ``no_bezel``
- clock_size: ``large_clock`` (fills most of the frame, may crop the rim),
  ``small_clock`` (50-80 % of the frame, off-centre)
- blur / noise / jpeg / lighting: camera defects, each with a ``no_``
  counterpart (``no_blur``, ``no_noise``, ``no_jpeg``, ``no_lighting``)

Determinism
-----------
:func:`render_batch` draws image ``i`` from
``np.random.default_rng([seed, start + i])`` only, so disjoint slices can
be rendered by separate processes and concatenated. Numeral fonts are
looked up by name among the system fonts and matplotlib's bundled fonts
(without importing matplotlib), falling back to Pillow's built-in font, so
pixels can differ between machines that have different fonts installed;
on one machine renders are bit-for-bit reproducible.
"""

import colorsys
import dataclasses
import functools
import importlib.util
import io
import json
import math
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

SUPERSAMPLE = 2
"""Drawing resolution relative to the output; the reduction anti-aliases."""

MINIMUM_SIZE = 32
"""Smallest output size accepted; below it the markings are unreadable."""

STYLE_ATTRIBUTES = {
    "dial_shape": (("round", 0.55), ("square", 0.15), ("rounded_square", 0.15), ("octagon", 0.15)),
    "numerals": (("arabic", 0.35), ("roman", 0.2), ("partial_numerals", 0.15), ("no_numerals", 0.3)),
    "ticks": (
        ("no_ticks", 0.12),
        ("ticks_12", 0.23),
        ("ticks_60", 0.35),
        ("dots", 0.15),
        ("quarter_marks", 0.15),
    ),
    "face": (("light_face", 0.68), ("dark_face", 0.32)),
    "second": (("second_hand", 0.4), ("no_second_hand", 0.6)),
    "hand_shape": (("line_hands", 0.4), ("sword_hands", 0.3), ("arrow_hands", 0.3)),
    "hand_tail": (("hand_tails", 0.35), ("no_hand_tails", 0.65)),
    "rotation": (("upright", 0.6), ("tilted", 0.28), ("rotated", 0.12)),
    "warp": (("no_warp", 0.45), ("perspective", 0.55)),
    "background": (
        ("flat_background", 0.3),
        ("gradient_background", 0.25),
        ("clutter_background", 0.3),
        ("texture_background", 0.15),
    ),
    "distractors": (("distractor_lines", 0.25), ("no_distractor_lines", 0.75)),
    "bezel": (("bezel", 0.5), ("no_bezel", 0.5)),
    "clock_size": (("large_clock", 0.6), ("small_clock", 0.4)),
    "blur": (("blur", 0.3), ("no_blur", 0.7)),
    "noise": (("noise", 0.4), ("no_noise", 0.6)),
    "jpeg": (("jpeg", 0.3), ("no_jpeg", 0.7)),
    "lighting": (("lighting", 0.4), ("no_lighting", 0.6)),
}
"""Style attribute -> ((tag, sampling weight), ...). Tags are unique."""

STYLE_TAGS = frozenset(tag for options in STYLE_ATTRIBUTES.values() for tag, _ in options)
"""Every tag accepted by ``include`` / ``exclude`` (see the module docstring)."""

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
_BRAND_WORDS = ("QUARTZ", "SWISS", "MADE IN", "JAPAN", "GERMANY", "ELECTRIC", "RADIO", "AUTOMATIC")


# ----------------------------------------------------------------------------
# Style
# ----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ClockStyle:
    """Complete description of one clock design and its scene.

    Lengths of clock parts are in dial radii (the face's inscribed circle
    has radius 1); colours are RGB tuples of ints. Per-image randomness that
    is not part of the design (clutter shapes, noise pixels, the sub-minute
    offset) is drawn from the renderer's rng instead.
    """

    tags: frozenset
    dial_shape: str
    numerals: str
    ticks: str
    face: str
    hand_shape: str
    background: str
    second_hand: bool
    hand_tails: bool
    # Placement and view: centre and dial radius are fractions of the frame.
    centre_x: float
    centre_y: float
    radius: float
    rotation_degrees: float
    tilt_direction_degrees: float
    foreshortening: float
    perspective: float
    shear: float
    # Dial.
    face_colour: tuple
    face_shading: float
    corner_radius: float
    bezel_width: float
    bezel_colour: tuple
    bezel_line_colour: tuple
    rim_width: float
    chapter_rings: tuple
    chapter_ring_width: float
    ink_colour: tuple
    clock_shadow: tuple | None
    glare_alpha: int
    glare_angle_degrees: float
    # Markings.
    tick_outer: float
    minor_tick_length: float
    minor_tick_width: float
    major_tick_length: float
    major_tick_width: float
    minor_marks: str
    twelve_marker: str
    square_layout: bool
    numeral_font: str
    numeral_size: float
    numeral_orientation: str
    numeral_gap: float
    brand_text: str
    brand_text_low: str
    brand_font: str
    # Hands.
    arrow_variant: str
    hour_length: float
    hour_width: float
    minute_length: float
    minute_width: float
    tail_fraction: float
    hour_colour: tuple
    minute_colour: tuple
    hand_outline_colour: tuple | None
    second_length: float
    second_width: float
    second_tail: float
    second_colour: tuple
    second_counterweight: float
    cap_radius: float
    cap_colour: tuple
    hand_shadow: tuple | None
    hand_shadow_colour: tuple
    hour_slop_degrees: float
    # Background.
    background_colours: tuple
    texture_cells: int
    distractor_count: int
    clutter_count: int
    # Camera defects.
    lighting_strength: float
    lighting_direction_degrees: float
    vignette: float
    gain: float
    blur_radius: float
    noise_sigma: float
    jpeg_quality: int


def _check_tags(tags, name):
    """Validate an include/exclude argument and return it as a frozenset."""
    if tags is None:
        return frozenset()
    if isinstance(tags, str):
        # A bare string would be split into characters; almost surely a slip.
        tags = {tags}
    try:
        tag_set = frozenset(tags)
    except TypeError as error:
        raise ValueError(f"{name} must be a collection of style tags, got {tags!r}") from error
    unknown = sorted(str(tag) for tag in tag_set - STYLE_TAGS)
    if unknown:
        raise ValueError(
            f"{name} holds unknown style tags {unknown}; known tags are {sorted(STYLE_TAGS)}"
        )
    return tag_set


class _Stream:
    """Fast scalar random draws, buffered from a numpy Generator.

    A clock takes a few hundred scalar draws; calling the Generator for each
    costs microseconds apiece, a large share of the time budget, so uniforms
    are fetched in blocks and handed out from a python list. Array draws go
    to ``generator`` directly. Everything stays deterministic for a given
    Generator state.
    """

    _BLOCK = 256

    def __init__(self, generator):
        self.generator = generator
        self._buffer = []
        self._index = 0

    def random(self):
        """Uniform float in [0, 1)."""
        if self._index >= len(self._buffer):
            self._buffer = self.generator.random(self._BLOCK).tolist()
            self._index = 0
        value = self._buffer[self._index]
        self._index += 1
        return value

    def uniform(self, low, high):
        """Uniform float in [low, high)."""
        return low + (high - low) * self.random()

    def integers(self, low, high=None):
        """Uniform int in [low, high), or [0, low) when high is None."""
        if high is None:
            low, high = 0, low
        return min(high - 1, low + int(self.random() * (high - low)))

    def normal(self, mean, deviation):
        """Normal draw by the Box-Muller transform."""
        radius = math.sqrt(-2.0 * math.log(1.0 - self.random()))
        return mean + deviation * radius * math.cos(2.0 * math.pi * self.random())


def _pick(stream, items, weights=None):
    """Draw one of ``items`` with optional (unnormalised) weights."""
    if weights is None:
        return items[stream.integers(len(items))]
    target = stream.random() * sum(weights)
    running = 0.0
    for item, weight in zip(items, weights):
        running += weight
        if target < running:
            return item
    return items[-1]


def _luminance(colour):
    """Grey level PIL's RGB -> L conversion gives this colour (ITU-R 601-2)."""
    red, green, blue = colour[:3]
    return 0.299 * red + 0.587 * green + 0.114 * blue


def _hsv(hue, saturation, value):
    """RGB tuple of ints from HSV components in [0, 1] (hue wraps)."""
    red, green, blue = colorsys.hsv_to_rgb(hue % 1.0, saturation, value)
    return (int(round(red * 255)), int(round(green * 255)), int(round(blue * 255)))


def _mix(first, second, amount):
    """Blend colour ``first`` towards ``second`` by ``amount`` in [0, 1]."""
    return tuple(int(round(a + (b - a) * amount)) for a, b in zip(first, second))


def _light_colour(stream):
    """A colour for light clock faces: whites, creams, pale tints, greys."""
    kind = _pick(stream, ("white", "cream", "pastel", "grey"), (0.4, 0.25, 0.2, 0.15))
    if kind == "white":
        return _hsv(0.0, 0.0, stream.uniform(0.93, 1.0))
    if kind == "cream":
        return _hsv(stream.uniform(0.08, 0.16), stream.uniform(0.05, 0.22), stream.uniform(0.9, 1.0))
    if kind == "pastel":
        return _hsv(stream.random(), stream.uniform(0.08, 0.3), stream.uniform(0.85, 1.0))
    return _hsv(0.0, 0.0, stream.uniform(0.78, 0.92))


def _dark_colour(stream):
    """A colour for dark clock faces: blacks, navies, greens, browns, reds."""
    if stream.random() < 0.4:
        return _hsv(0.0, 0.0, stream.uniform(0.03, 0.25))
    return _hsv(stream.random(), stream.uniform(0.3, 0.85), stream.uniform(0.12, 0.38))


def _ink_for(stream, face_colour, minimum_contrast):
    """A colour that contrasts with ``face_colour`` in grey by at least ``minimum_contrast``.

    Grayscale output is what readers see, so contrast is measured on
    luminance, not on hue.
    """
    face_grey = _luminance(face_colour)
    for _ in range(8):
        if face_grey > 128:
            kind = _pick(stream, ("black", "dark"), (0.65, 0.35))
            if kind == "black":
                candidate = _hsv(0.0, 0.0, stream.uniform(0.0, 0.2))
            else:
                candidate = _hsv(stream.random(), stream.uniform(0.4, 0.9), stream.uniform(0.15, 0.5))
        else:
            kind = _pick(stream, ("white", "gold", "tint"), (0.6, 0.2, 0.2))
            if kind == "white":
                candidate = _hsv(0.0, 0.0, stream.uniform(0.82, 1.0))
            elif kind == "gold":
                candidate = _hsv(stream.uniform(0.1, 0.15), stream.uniform(0.35, 0.6), stream.uniform(0.8, 1.0))
            else:
                candidate = _hsv(stream.random(), stream.uniform(0.1, 0.45), stream.uniform(0.85, 1.0))
        if abs(_luminance(candidate) - face_grey) >= minimum_contrast:
            return candidate
    return (0, 0, 0) if face_grey > 128 else (255, 255, 255)


def _accent_for(stream, face_colour, fallback):
    """A colour for second hands: mostly red, contrasting at least a little."""
    kind = _pick(stream, ("red", "same", "other"), (0.55, 0.25, 0.2))
    if kind == "same":
        return fallback
    if kind == "red":
        candidate = _hsv(stream.uniform(-0.03, 0.03), stream.uniform(0.7, 1.0), stream.uniform(0.55, 1.0))
    else:
        candidate = _hsv(stream.random(), stream.uniform(0.5, 1.0), stream.uniform(0.4, 1.0))
    if abs(_luminance(candidate) - _luminance(face_colour)) < 40:
        return fallback
    return candidate


def _any_colour(stream):
    """Any colour, biased towards the muted tones of walls and rooms."""
    if stream.random() < 0.3:
        return _hsv(0.0, 0.0, stream.uniform(0.05, 1.0))
    return _hsv(stream.random(), stream.uniform(0.05, 0.8) ** 1.5, stream.uniform(0.15, 1.0))


def _unit_outline(shape, corner_radius, count):
    """Outline of the dial shape whose inscribed circle has radius 1.

    Args:
        shape: One of the dial_shape tags.
        corner_radius: Corner rounding for ``rounded_square`` in dial radii.
        count: Number of points on a round outline.

    Returns:
        float64 array (n, 2) of points in the dial frame.
    """
    if shape == "round":
        return _circle(count)
    if shape == "square":
        return np.array([[-1.0, -1.0], [1.0, -1.0], [1.0, 1.0], [-1.0, 1.0]])
    if shape == "octagon":
        circumradius = 1.0 / math.cos(math.pi / 8.0)
        angles = np.pi / 8.0 + np.arange(8) * np.pi / 4.0
        return circumradius * np.stack([np.sin(angles), -np.cos(angles)], axis=1)
    if shape == "rounded_square":
        inner = 1.0 - corner_radius
        points = []
        arc = np.linspace(0.0, np.pi / 2.0, 7)
        corners = ((inner, -inner, 0.0), (inner, inner, 0.5), (-inner, inner, 1.0), (-inner, -inner, 1.5))
        for centre_x, centre_y, start in corners:
            angles = arc + start * np.pi
            x = centre_x + corner_radius * np.sin(angles)
            y = centre_y - corner_radius * np.cos(angles)
            points.append(np.stack([x, y], axis=1))
        return np.concatenate(points, axis=0)
    raise ValueError(f"shape must be one of the dial_shape tags, got {shape!r}")


def _layout_radii(style, angles):
    """Radial scale of marks and numerals at the given dial angles.

    1 everywhere for the usual circular layout; for ``square_layout`` the
    distance from the centre to the square (or rounded square) edge, so
    marks and numerals follow the edges of the dial.
    """
    if not style.square_layout:
        return np.ones_like(angles)
    along_x = np.abs(np.sin(angles))
    along_y = np.abs(np.cos(angles))
    flat = 1.0 / np.maximum(along_x, along_y)
    if style.dial_shape != "rounded_square":
        return flat
    corner = style.corner_radius
    inset = 1.0 - corner
    # Where the ray leaves through a rounded corner, intersect the corner's
    # circle: |t u - (k, k)| = corner with k = 1 - corner.
    total = along_x + along_y
    through_corner = np.minimum(along_x, along_y) * flat > inset
    discriminant = np.maximum(inset * inset * total * total - 2.0 * inset * inset + corner * corner, 0.0)
    rounded = inset * total + np.sqrt(discriminant)
    return np.where(through_corner, rounded, flat)


def _view_matrix(rotation_degrees, tilt_direction_degrees, foreshortening, perspective, shear):
    """3x3 projective map of the dial frame before scaling and placement.

    In-plane rotation first (the clock hangs crooked), then the tilt of the
    dial plane (perspective along the tilt direction, foreshortening across
    it) and a little shear (lens and cropping skew).
    """
    rotation = math.radians(rotation_degrees)
    cosine, sine = math.cos(rotation), math.sin(rotation)
    direction = math.radians(tilt_direction_degrees)
    axis_x, axis_y = math.cos(direction), math.sin(direction)
    # squash = (I + (foreshortening - 1) axis axis^T) @ [[1, shear], [0, 1]]
    stretch = foreshortening - 1.0
    q00, q01 = 1.0 + stretch * axis_x * axis_x, stretch * axis_x * axis_y
    q10, q11 = stretch * axis_x * axis_y, 1.0 + stretch * axis_y * axis_y
    q01, q11 = q00 * shear + q01, q10 * shear + q11
    # squash @ tilt @ rotate written out: the rotation matrix
    # [[cos, -sin], [sin, cos]] turns the picture clockwise with y pointing
    # down, the same sense in which dial angles are measured; the tilt row
    # [perspective * axis, 1] makes the far side of the dial smaller.
    tilt_x, tilt_y = perspective * axis_x, perspective * axis_y
    return np.array(
        [
            [q00 * cosine + q01 * sine, -q00 * sine + q01 * cosine, 0.0],
            [q10 * cosine + q11 * sine, -q10 * sine + q11 * cosine, 0.0],
            [tilt_x * cosine + tilt_y * sine, -tilt_x * sine + tilt_y * cosine, 1.0],
        ]
    )


def _project_with(matrix, points):
    """Apply a 3x3 projective matrix to an (..., 2) array of points."""
    homogeneous = points @ matrix[:, :2].T + matrix[:, 2]
    return homogeneous[..., :2] / homogeneous[..., 2:]


def sample_style(rng, include=None, exclude=None):
    """Sample a random clock design and scene.

    Args:
        rng: ``np.random.Generator`` supplying all randomness.
        include: Optional collection of tags from ``STYLE_TAGS``; every
            attribute that has an included value is restricted to its
            included values (``{"roman"}`` -> always roman numerals,
            ``{"roman", "arabic"}`` -> one of the two).
        exclude: Optional collection of tags that must never be chosen.

    Returns:
        A :class:`ClockStyle`; its ``tags`` holds one tag per attribute.

    Raises:
        ValueError: On unknown tags, on a tag both included and excluded, or
            when ``exclude`` leaves an attribute with no value.

    Example:
        >>> style = sample_style(np.random.default_rng(0), exclude={"roman"})
        >>> "roman" in style.tags
        False
    """
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator, got {rng!r}")
    include = _check_tags(include, "include")
    exclude = _check_tags(exclude, "exclude")
    both = sorted(include & exclude)
    if both:
        raise ValueError(f"include and exclude share the tags {both}")

    stream = _Stream(rng)
    choice = {}
    for attribute, options in STYLE_ATTRIBUTES.items():
        names = [name for name, _ in options]
        weights = dict(options)
        allowed = [name for name in names if name in include] or names
        allowed = [name for name in allowed if name not in exclude]
        if not allowed:
            raise ValueError(
                f"exclude={sorted(exclude)} removes every value of the style attribute "
                f"{attribute!r} ({names})"
            )
        choice[attribute] = _pick(stream, allowed, [weights[name] for name in allowed])

    dial_shape = choice["dial_shape"]
    numerals = choice["numerals"]
    ticks = choice["ticks"]
    face = choice["face"]
    hand_shape = choice["hand_shape"]
    hand_tails = choice["hand_tail"] == "hand_tails"
    second_hand = choice["second"] == "second_hand"

    # --- Dial --------------------------------------------------------------
    face_colour = _light_colour(stream) if face == "light_face" else _dark_colour(stream)
    face_shading = float(stream.uniform(-0.18, 0.18)) if stream.random() < 0.25 else 0.0
    corner_radius = float(stream.uniform(0.15, 0.5))
    ink_colour = _ink_for(stream, face_colour, 90)

    if choice["bezel"] == "bezel":
        bezel_width = float(stream.uniform(0.04, 0.2))
        kind = _pick(stream, ("black", "metal", "wood", "colour", "white"), (0.3, 0.25, 0.15, 0.2, 0.1))
        if kind == "black":
            bezel_colour = _hsv(0.0, 0.0, stream.uniform(0.0, 0.2))
        elif kind == "metal":
            bezel_colour = _hsv(stream.uniform(0.08, 0.15), stream.uniform(0.0, 0.5), stream.uniform(0.55, 0.9))
        elif kind == "wood":
            bezel_colour = _hsv(stream.uniform(0.04, 0.1), stream.uniform(0.5, 0.85), stream.uniform(0.25, 0.6))
        elif kind == "colour":
            bezel_colour = _hsv(stream.random(), stream.uniform(0.4, 1.0), stream.uniform(0.3, 0.95))
        else:
            bezel_colour = _hsv(0.0, 0.0, stream.uniform(0.85, 1.0))
        shade = float(stream.uniform(-0.5, 0.5))
        bezel_line_colour = _mix(bezel_colour, (0, 0, 0) if shade < 0 else (255, 255, 255), abs(shade))
    else:
        bezel_width = 0.0
        bezel_colour = face_colour
        bezel_line_colour = face_colour
    rim_width = float(stream.uniform(0.008, 0.03)) if stream.random() < 0.55 else 0.0

    tick_outer = float(stream.uniform(0.9, 0.98))
    chapter_rings = ()
    if ticks in ("ticks_60", "dots") and stream.random() < 0.35:
        # A "railway" minute track: one or two thin rings around the ticks.
        chapter_rings = (tick_outer,)
        if stream.random() < 0.5:
            chapter_rings += (tick_outer - float(stream.uniform(0.04, 0.08)),)
    elif stream.random() < 0.12:
        chapter_rings = (float(stream.uniform(0.55, 0.8)),)
    chapter_ring_width = float(stream.uniform(0.006, 0.016))

    if ticks == "ticks_60":
        minor_tick_length = float(stream.uniform(0.03, 0.07))
        minor_tick_width = float(stream.uniform(0.008, 0.02))
        major_tick_length = float(stream.uniform(minor_tick_length + 0.02, 0.16))
        major_tick_width = float(stream.uniform(minor_tick_width, 0.05))
    elif ticks == "ticks_12":
        minor_tick_length = minor_tick_width = 0.0
        major_tick_length = float(stream.uniform(0.05, 0.17))
        major_tick_width = float(stream.uniform(0.015, 0.065))
    elif ticks == "dots":
        minor_tick_length = float(stream.uniform(0.006, 0.014)) if stream.random() < 0.4 else 0.0
        minor_tick_width = minor_tick_length
        major_tick_length = float(stream.uniform(0.018, 0.045))
        major_tick_width = major_tick_length
    elif ticks == "quarter_marks":
        minor_tick_length = float(stream.uniform(0.04, 0.09))
        minor_tick_width = float(stream.uniform(0.01, 0.025))
        major_tick_length = float(stream.uniform(0.1, 0.2))
        major_tick_width = float(stream.uniform(0.045, 0.09))
    else:
        minor_tick_length = minor_tick_width = major_tick_length = major_tick_width = 0.0
    minor_marks = _pick(stream, ("none", "ticks", "dots"), (0.35, 0.4, 0.25)) if ticks == "quarter_marks" else "none"

    # --- Numerals and text ---------------------------------------------------
    numeral_font = _pick(stream, FONT_NAMES)
    if numerals == "roman":
        numeral_size = float(stream.uniform(0.15, 0.24))
        numeral_orientation = "radial" if stream.random() < 0.45 else "upright"
    elif numerals in ("arabic", "partial_numerals"):
        numeral_size = float(stream.uniform(0.17, 0.32)) if numerals == "arabic" else float(stream.uniform(0.2, 0.38))
        numeral_orientation = "radial" if stream.random() < 0.08 else "upright"
    else:
        numeral_size = 0.0
        numeral_orientation = "upright"
    numeral_gap = float(stream.uniform(0.02, 0.08))

    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    brand_text = ""
    if stream.random() < 0.35:
        brand_text = "".join(_pick(stream, letters) for _ in range(int(stream.integers(3, 9))))
    brand_text_low = _pick(stream, _BRAND_WORDS) if stream.random() < 0.2 else ""
    brand_font = _pick(stream, FONT_NAMES)

    # Square dials often run their marks and numerals along the edges.
    square_layout = dial_shape in ("square", "rounded_square") and stream.random() < 0.5

    rotation = choice["rotation"]
    twelve_marker = "none"
    if numerals == "no_numerals" and ticks != "no_ticks" and stream.random() < 0.25:
        twelve_marker = _pick(stream, ("triangle", "double"))

    # --- Hands ---------------------------------------------------------------
    arrow_variant = _pick(stream, ("arrow", "spade"))
    minute_length = float(stream.uniform(0.68, 0.95))
    hour_length = float(minute_length * stream.uniform(0.5, 0.75))
    minute_width = float(stream.uniform(0.02, 0.075))
    hour_width = float(minute_width * (stream.uniform(1.0, 1.9) if stream.random() < 0.85 else 1.0))
    tail_fraction = float(stream.uniform(0.12, 0.3)) if hand_tails else 0.0
    hand_colour = ink_colour if stream.random() < 0.6 else _ink_for(stream, face_colour, 90)
    hour_colour = hand_colour
    minute_colour = hand_colour if stream.random() < 0.85 else _ink_for(stream, face_colour, 90)
    hand_outline_colour = None
    if stream.random() < 0.12 and hand_shape != "line_hands":
        # Outlined hands: pale hands rimmed with a dark line (or the reverse).
        hand_outline_colour = hand_colour
        hour_colour = minute_colour = _mix(face_colour, hand_colour, float(stream.uniform(0.0, 0.4)))
    second_length = float(stream.uniform(0.75, 0.97))
    second_width = float(stream.uniform(0.008, 0.02))
    second_tail = float(stream.uniform(0.12, 0.3))
    second_colour = _accent_for(stream, face_colour, hand_colour)
    second_counterweight = float(stream.uniform(0.03, 0.06)) if stream.random() < 0.35 else 0.0
    cap_radius = float(stream.uniform(0.025, 0.08)) if stream.random() < 0.8 else 0.0
    cap_colour = _pick(stream, (hand_colour, second_colour, ink_colour))
    hand_shadow = None
    hand_shadow_colour = face_colour
    if stream.random() < 0.3:
        offset = float(stream.uniform(0.01, 0.035))
        direction = math.radians(float(stream.uniform(20.0, 160.0)))
        hand_shadow = (offset * math.cos(direction), offset * math.sin(direction))
        hand_shadow_colour = _mix(face_colour, (0, 0, 0), float(stream.uniform(0.15, 0.4)))
    hour_slop_degrees = float(np.clip(stream.normal(0.0, 2.0), -5.0, 5.0)) if stream.random() < 0.3 else 0.0

    # --- View ----------------------------------------------------------------
    if rotation == "upright":
        rotation_degrees = float(stream.uniform(-6.0, 6.0))
    elif rotation == "tilted":
        rotation_degrees = float(stream.uniform(-40.0, 40.0))
    else:
        rotation_degrees = float(stream.uniform(-180.0, 180.0))
    has_cue = numerals != "no_numerals" or brand_text or brand_text_low or twelve_marker != "none"
    if abs(rotation_degrees) > 12.0 and not has_cue:
        # Past 12 degrees (under half the 30 degrees between hour marks) a
        # clock with identical hour marks is ambiguous: which one is 12?
        # Such clocks always get a 12 marker.
        twelve_marker = _pick(stream, ("triangle", "double"))
    tilt_direction_degrees = float(stream.uniform(0.0, 360.0))
    if choice["warp"] == "perspective":
        foreshortening = float(stream.uniform(0.72, 1.0))
        perspective = float(stream.uniform(0.0, 0.2))
        shear = float(stream.uniform(-0.1, 0.1))
    else:
        foreshortening, perspective, shear = 1.0, 0.0, 0.0

    clock_shadow = None
    if stream.random() < 0.3:
        direction = math.radians(float(stream.uniform(0.0, 360.0)))
        offset = float(stream.uniform(0.02, 0.08))
        clock_shadow = (offset * math.cos(direction), offset * math.sin(direction), int(stream.integers(40, 110)))
    glare_alpha = int(stream.integers(20, 70)) if stream.random() < 0.12 else 0
    glare_angle_degrees = float(stream.uniform(0.0, 360.0))

    # Place the clock: find the extent of its outline under the view, then
    # scale it to the chosen share of the frame and shift it within the slack.
    view = _view_matrix(rotation_degrees, tilt_direction_degrees, foreshortening, perspective, shear)
    outer = _unit_outline(dial_shape, corner_radius, 48) * (1.0 + bezel_width)
    projected = _project_with(view, outer)
    low = projected.min(axis=0)
    high = projected.max(axis=0)
    extent = float(np.max(high - low))
    if choice["clock_size"] == "large_clock":
        fill = float(stream.uniform(0.82, 1.04))
    else:
        fill = float(stream.uniform(0.5, 0.8))
    radius = fill / extent
    # Offsets of the view-frame origin (dial centre) that keep the outline's
    # box inside the frame; large clocks may overhang a little.
    centre_low = -low * radius
    centre_high = 1.0 - high * radius
    centre = []
    for axis_index in range(2):
        first, second = centre_low[axis_index], centre_high[axis_index]
        if first > second:
            first = second = 0.5 * (first + second)
        centre.append(float(stream.uniform(first, second)))

    # --- Background ----------------------------------------------------------
    base = _any_colour(stream)
    background_colours = tuple(
        _mix(base, _any_colour(stream), float(stream.uniform(0.0, 0.6))) for _ in range(4)
    )
    if choice["background"] == "flat_background" and choice["bezel"] == "no_bezel" and stream.random() < 0.3:
        # A clock printed or drawn on paper: the face is the page itself.
        background_colours = (face_colour,) * 4
    texture_cells = int(stream.integers(3, 24))
    distractor_count = int(stream.integers(1, 6)) if choice["distractors"] == "distractor_lines" else 0
    clutter_count = int(stream.integers(5, 30)) if choice["background"] == "clutter_background" else 0

    # --- Camera ----------------------------------------------------------------
    if choice["lighting"] == "lighting":
        lighting_strength = float(stream.uniform(0.1, 0.5))
        vignette = float(stream.uniform(0.0, 0.4))
        gain = float(stream.uniform(0.75, 1.15))
    else:
        lighting_strength, vignette, gain = 0.0, 0.0, 1.0
    lighting_direction_degrees = float(stream.uniform(0.0, 360.0))
    blur_radius = float(stream.uniform(0.4, 1.4)) if choice["blur"] == "blur" else 0.0
    noise_sigma = float(stream.uniform(2.0, 14.0)) if choice["noise"] == "noise" else 0.0
    jpeg_quality = int(stream.integers(12, 76)) if choice["jpeg"] == "jpeg" else 0

    return ClockStyle(
        tags=frozenset(choice.values()),
        dial_shape=dial_shape,
        numerals=numerals,
        ticks=ticks,
        face=face,
        hand_shape=hand_shape,
        background=choice["background"],
        second_hand=second_hand,
        hand_tails=hand_tails,
        centre_x=centre[0],
        centre_y=centre[1],
        radius=float(radius),
        rotation_degrees=rotation_degrees,
        tilt_direction_degrees=tilt_direction_degrees,
        foreshortening=foreshortening,
        perspective=perspective,
        shear=shear,
        face_colour=face_colour,
        face_shading=face_shading,
        corner_radius=corner_radius,
        bezel_width=bezel_width,
        bezel_colour=bezel_colour,
        bezel_line_colour=bezel_line_colour,
        rim_width=rim_width,
        chapter_rings=chapter_rings,
        chapter_ring_width=chapter_ring_width,
        ink_colour=ink_colour,
        clock_shadow=clock_shadow,
        glare_alpha=glare_alpha,
        glare_angle_degrees=glare_angle_degrees,
        tick_outer=tick_outer,
        minor_tick_length=minor_tick_length,
        minor_tick_width=minor_tick_width,
        major_tick_length=major_tick_length,
        major_tick_width=major_tick_width,
        minor_marks=minor_marks,
        twelve_marker=twelve_marker,
        square_layout=square_layout,
        numeral_font=numeral_font,
        numeral_size=numeral_size,
        numeral_orientation=numeral_orientation,
        numeral_gap=numeral_gap,
        brand_text=brand_text,
        brand_text_low=brand_text_low,
        brand_font=brand_font,
        arrow_variant=arrow_variant,
        hour_length=hour_length,
        hour_width=hour_width,
        minute_length=minute_length,
        minute_width=minute_width,
        tail_fraction=tail_fraction,
        hour_colour=hour_colour,
        minute_colour=minute_colour,
        hand_outline_colour=hand_outline_colour,
        second_length=second_length,
        second_width=second_width,
        second_tail=second_tail,
        second_colour=second_colour,
        second_counterweight=second_counterweight,
        cap_radius=cap_radius,
        cap_colour=cap_colour,
        hand_shadow=hand_shadow,
        hand_shadow_colour=hand_shadow_colour,
        hour_slop_degrees=hour_slop_degrees,
        background_colours=background_colours,
        texture_cells=texture_cells,
        distractor_count=distractor_count,
        clutter_count=clutter_count,
        lighting_strength=lighting_strength,
        lighting_direction_degrees=lighting_direction_degrees,
        vignette=vignette,
        gain=gain,
        blur_radius=blur_radius,
        noise_sigma=noise_sigma,
        jpeg_quality=jpeg_quality,
    )


# ----------------------------------------------------------------------------
# Fonts and glyphs
# ----------------------------------------------------------------------------


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


def _text_mask(name, pixel_size, text):
    """Anti-aliased 'L' mask of ``text`` cropped to its ink."""
    font = _font(name, pixel_size)
    left, top, right, bottom = font.getbbox(text)
    width = max(1, right - left)
    height = max(1, bottom - top)
    mask = Image.new("L", (width + 2, height + 2), 0)
    ImageDraw.Draw(mask).text((1 - left, 1 - top), text, font=font, fill=255)
    return mask


@functools.lru_cache(maxsize=32768)
def _glyph(name, pixel_size, text):
    """Cached :func:`_text_mask` for numerals, which repeat endlessly.

    13 fonts x ~20 sizes x 25 numeral strings fit in the cache (tens of MB
    at most); brand names are random and bypass it.
    """
    return _text_mask(name, pixel_size, text)


# ----------------------------------------------------------------------------
# Drawing
# ----------------------------------------------------------------------------


_PIXEL_LADDER = tuple(sorted({int(round(6 * 1.12**step)) for step in range(40)}))


def _quantised_pixels(value):
    """Nearest font size on a ~12 % ladder, so glyph caches get reused.

    A continuous font size would make every clock a cache miss; 12 % steps
    are invisible next to the random numeral sizes themselves.
    """
    index = int(np.searchsorted(_PIXEL_LADDER, value))
    if index <= 0:
        return _PIXEL_LADDER[0]
    if index >= len(_PIXEL_LADDER):
        return _PIXEL_LADDER[-1]
    below, above = _PIXEL_LADDER[index - 1], _PIXEL_LADDER[index]
    return below if value - below <= above - value else above


@functools.lru_cache(maxsize=4096)
def _numeral_masks(font_name, pixel_size, numerals):
    """Glyph masks of a whole numeral set and the largest glyph extent."""
    texts = _numeral_texts(numerals)
    masks = tuple((position, _glyph(font_name, pixel_size, text)) for position, text in texts)
    widest = max((mask.size[0] for _, mask in masks), default=0)
    tallest = max((mask.size[1] for _, mask in masks), default=0)
    return masks, widest, tallest


@functools.lru_cache(maxsize=64)
def _circle(count):
    """Unit circle as (count, 2) points, clockwise from 12."""
    angles = np.linspace(0.0, 2.0 * np.pi, count, endpoint=False)
    return np.stack([np.sin(angles), -np.cos(angles)], axis=1)


def _grey(colour):
    """The grey level PIL's RGB -> L conversion gives ``colour`` (same integer maths)."""
    red, green, blue = colour[:3]
    return (red * 19595 + green * 38470 + blue * 7471 + 0x8000) >> 16


class _Canvas:
    """Supersampled drawing surface with the clock's projective map.

    Colours are always given as RGB. On an 'L' canvas they are drawn as
    their grey level: every operation here (opaque fills, alpha blends,
    anti-aliased glyph masks, the box-filter reduction) is linear in the
    pixel values, so drawing grey gives the grey of the colour drawing, up
    to rounding, at a third of the cost.
    """

    def __init__(self, image, style):
        self.image = image
        self.draw = ImageDraw.Draw(image)
        self.grey = image.mode == "L"
        canvas_size = image.size[0]
        self.scale = style.radius * canvas_size
        view = _view_matrix(
            style.rotation_degrees,
            style.tilt_direction_degrees,
            style.foreshortening,
            style.perspective,
            style.shear,
        )
        place = np.array(
            [
                [self.scale, 0.0, style.centre_x * canvas_size],
                [0.0, self.scale, style.centre_y * canvas_size],
                [0.0, 0.0, 1.0],
            ]
        )
        self.matrix = place @ view
        # Python floats for the per-glyph arithmetic (numpy is slow on scalars).
        self.coefficients = self.matrix.ravel().tolist()
        # Chords of a 72-gon stray < 0.1 output pixel from a 150 px circle.
        self.circle_count = int(min(max(self.scale * 0.5, 24), 72))

    def project(self, points):
        """Dial-frame points (..., 2) -> canvas pixel coordinates."""
        return _project_with(self.matrix, np.asarray(points, dtype=np.float64))

    def ink(self, colour):
        """An RGB colour as this canvas draws it (a grey level on 'L')."""
        return _grey(colour) if self.grey else tuple(colour[:3])

    def polygon(self, points, fill):
        """Fill a dial-frame polygon."""
        self.draw.polygon(self.project(points).ravel().tolist(), fill=self.ink(fill))

    def blended_polygon(self, points, fill, alpha):
        """Blend colour ``fill`` over a dial-frame polygon with opacity ``alpha`` (0-255).

        The polygon is filled into a mask covering its bounding box and the
        colour pasted through it, which works on 'L' as well as 'RGB'.
        """
        projected = self.project(points)
        width, height = self.image.size
        left = max(0, int(math.floor(projected[:, 0].min())))
        top = max(0, int(math.floor(projected[:, 1].min())))
        right = min(width, int(math.ceil(projected[:, 0].max())) + 1)
        bottom = min(height, int(math.ceil(projected[:, 1].max())) + 1)
        if right <= left or bottom <= top:
            return
        mask = Image.new("L", (right - left, bottom - top), 0)
        ImageDraw.Draw(mask).polygon((projected - (left, top)).ravel().tolist(), fill=int(alpha))
        self.image.paste(self.ink(fill), (left, top, right, bottom), mask)

    def disc(self, centre, radius, fill):
        """Fill a dial-frame circle (an ellipse on the canvas under the view)."""
        count = int(min(max(radius * self.scale, 10), self.circle_count))
        self.polygon(np.asarray(centre, dtype=np.float64) + radius * _circle(count), fill)

    def discs(self, centres, radii, fill):
        """Fill many dial-frame circles with one projection (tick dots)."""
        if len(radii) == 0:
            return
        count = int(min(max(float(np.max(radii)) * self.scale, 10), self.circle_count))
        points = centres[:, None, :] + radii[:, None, None] * _circle(count)[None]
        ink = self.ink(fill)
        polygon = self.draw.polygon
        for outline in self.project(points).reshape(len(radii), 2 * count).tolist():
            polygon(outline, fill=ink)

    def ring(self, radius, width, fill):
        """Stroke a dial-frame circle of the given radius and line width."""
        self.outline(radius * _circle(self.circle_count), width, fill)

    def outline(self, points, width, fill):
        """Stroke a closed dial-frame outline with a line ``width`` dial radii wide.

        Cheaper than filling two nested polygons; polygons with few corners
        get round joints so that thick square rims have no notches.
        """
        pixel_width = max(1, int(round(width * self.scale)))
        projected = self.project(points)
        projected = np.concatenate([projected, projected[:1]], axis=0)
        joint = "curve" if len(points) <= 32 and pixel_width > 2 else None
        self.draw.line(projected.ravel().tolist(), fill=self.ink(fill), width=pixel_width, joint=joint)

    def glyph(self, mask, x, y, fill, turn_radians=0.0):
        """Paste a glyph mask centred on dial-frame point (x, y), warped by the view.

        The glyph is upright in the dial frame (or turned by ``turn_radians``,
        for radial numerals), so it rotates, tilts and foreshortens together
        with the dial: the local affine part of the projective map is
        applied to the small mask.
        """
        a, b, c, d, e, f, g, h, i = self.coefficients
        weight = g * x + h * y + i
        mapped_x = (a * x + b * y + c) / weight
        mapped_y = (d * x + e * y + f) / weight
        scale = self.scale * weight
        # Derivative of the projective map at (x, y), per unit of scale.
        j00, j01 = (a - mapped_x * g) / scale, (b - mapped_x * h) / scale
        j10, j11 = (d - mapped_y * g) / scale, (e - mapped_y * h) / scale
        if turn_radians:
            cosine, sine = math.cos(turn_radians), math.sin(turn_radians)
            j00, j01 = j00 * cosine + j01 * sine, -j00 * sine + j01 * cosine
            j10, j11 = j10 * cosine + j11 * sine, -j10 * sine + j11 * cosine
        width, height = mask.size
        # Below ~3 degrees of turn or 5 % of stretch the warp is invisible
        # on a numeral, and skipping it saves a third of the text cost.
        if max(abs(j00 - 1.0), abs(j01), abs(j10), abs(j11 - 1.0)) > 0.05:
            out_width = int(math.ceil(abs(j00) * width + abs(j01) * height)) + 2
            out_height = int(math.ceil(abs(j10) * width + abs(j11) * height)) + 2
            determinant = j00 * j11 - j01 * j10
            i00, i01 = j11 / determinant, -j01 / determinant
            i10, i11 = -j10 / determinant, j00 / determinant
            # PIL maps output pixels back to input: in = inverse @ (out - c_out) + c_in.
            offset_x = width / 2.0 - (i00 * out_width + i01 * out_height) / 2.0
            offset_y = height / 2.0 - (i10 * out_width + i11 * out_height) / 2.0
            mask = mask.transform(
                (out_width, out_height),
                Image.Transform.AFFINE,
                (i00, i01, offset_x, i10, i11, offset_y),
                Image.Resampling.BILINEAR,
            )
            width, height = out_width, out_height
        position = (int(round(mapped_x - width / 2.0)), int(round(mapped_y - height / 2.0)))
        self.draw.bitmap(position, mask, fill=self.ink(fill))


def _direction(angle_radians):
    """Unit vector of a dial angle (clockwise from 12) and its right normal."""
    along = np.array([math.sin(angle_radians), -math.cos(angle_radians)])
    across = np.array([math.cos(angle_radians), math.sin(angle_radians)])
    return along, across


def _hand_points(shape, variant, length, width, tail):
    """Outline of a hand pointing along +``along``, as (along, across) pairs.

    Args:
        shape: hand_shape tag.
        variant: "arrow" or "spade" for ``arrow_hands``.
        length: Tip distance from the pivot, dial radii.
        width: Nominal width, dial radii.
        tail: Length behind the pivot (at least a stub so the hand covers
            the pivot).

    Returns:
        float64 array (n, 2) of (along, across) coordinates.
    """
    half = width / 2.0
    back = -max(tail, half)
    if shape == "sword_hands":
        return np.array(
            [
                [back, -0.55 * half],
                [0.22 * length, -half],
                [length, 0.0],
                [0.22 * length, half],
                [back, 0.55 * half],
            ]
        )
    if shape == "arrow_hands":
        shaft = max(0.35 * half, 0.006)
        head = min(0.3 * length, 4.0 * half + 0.05)
        wing = max(1.7 * half, 0.025)
        if variant == "spade":
            return np.array(
                [
                    [back, -shaft],
                    [length - 1.5 * head, -shaft],
                    [length - 0.9 * head, -wing],
                    [length, 0.0],
                    [length - 0.9 * head, wing],
                    [length - 1.5 * head, shaft],
                    [back, shaft],
                ]
            )
        return np.array(
            [
                [back, -shaft],
                [length - head, -shaft],
                [length - head, -wing],
                [length, 0.0],
                [length - head, wing],
                [length - head, shaft],
                [back, shaft],
            ]
        )
    # Line (baton) hands: a plain rectangle, the most common real design.
    return np.array([[back, -half], [length, -half], [length, half], [back, half]])


def _hand_polygon(shape, variant, length, width, tail, angle_radians):
    """Dial-frame polygon of a hand at the given dial angle."""
    outline = _hand_points(shape, variant, length, width, tail)
    along, across = _direction(angle_radians)
    return outline[:, :1] * along + outline[:, 1:] * across


def _draw_background(style, stream, size, mode):
    """Background drawn at half the output resolution, upsampled to the canvas.

    Backgrounds are smooth, so drawing them small and repeating pixels is
    indistinguishable after the final reduction and much cheaper. The same
    random draws are made for 'L' and 'RGB' so both modes show one scene.
    """
    canvas_size = size * SUPERSAMPLE
    first = style.background_colours[0]
    if style.background == "flat_background":
        return Image.new(mode, (canvas_size, canvas_size), _grey(first) if mode == "L" else first)
    small = max(2, size // 2)
    colours = np.array(style.background_colours, dtype=np.float64)
    if style.background == "texture_background":
        cells = style.texture_cells
        amplitude = stream.uniform(10.0, 60.0)
        channel_weights = stream.generator.uniform(0.3, 1.0, (1, 1, 3))
        grid = colours[0] + stream.generator.normal(0.0, amplitude, (cells, cells, 3)) * channel_weights
        image = Image.fromarray(np.clip(grid, 0, 255).astype(np.uint8))
        resample = Image.Resampling.BICUBIC
    else:
        # Gradient (also the base under clutter): bilinear between 4 corners.
        image = Image.fromarray(np.clip(colours.reshape(2, 2, 3), 0, 255).astype(np.uint8))
        resample = Image.Resampling.BILINEAR
    if mode == "L":
        image = image.convert("L")
    image = image.resize((small, small), resample)
    return image.resize((canvas_size, canvas_size), Image.Resampling.NEAREST)


def _draw_clutter(canvas, stream, canvas_size, count):
    """Random shapes standing in for the objects around a clock in a room."""
    draw = canvas.draw
    for _ in range(count):
        colour = canvas.ink(_any_colour(stream))
        kind = _pick(stream, ("rectangle", "ellipse", "polygon", "line"), (0.35, 0.25, 0.2, 0.2))
        centre_x = stream.uniform(-0.1, 1.1) * canvas_size
        centre_y = stream.uniform(-0.1, 1.1) * canvas_size
        extent_x = stream.uniform(0.05, 0.6) * canvas_size
        extent_y = stream.uniform(0.05, 0.6) * canvas_size
        if kind == "rectangle":
            angle = stream.uniform(0.0, math.pi) if stream.random() < 0.4 else 0.0
            cosine, sine = math.cos(angle), math.sin(angle)
            points = []
            for unit_x, unit_y in ((-0.5, -0.5), (0.5, -0.5), (0.5, 0.5), (-0.5, 0.5)):
                offset_x, offset_y = unit_x * extent_x, unit_y * extent_y
                points += [
                    centre_x + cosine * offset_x - sine * offset_y,
                    centre_y + sine * offset_x + cosine * offset_y,
                ]
            draw.polygon(points, fill=colour)
        elif kind == "ellipse":
            draw.ellipse(
                [centre_x - extent_x / 2, centre_y - extent_y / 2, centre_x + extent_x / 2, centre_y + extent_y / 2],
                fill=colour,
            )
        elif kind == "polygon":
            points = []
            for _ in range(stream.integers(3, 7)):
                points += [
                    centre_x + stream.uniform(-0.5, 0.5) * extent_x,
                    centre_y + stream.uniform(-0.5, 0.5) * extent_y,
                ]
            draw.polygon(points, fill=colour)
        else:
            points = []
            for _ in range(stream.integers(2, 5)):
                points += [
                    centre_x + stream.uniform(-1.0, 1.0) * extent_x,
                    centre_y + stream.uniform(-1.0, 1.0) * extent_y,
                ]
            draw.line(points, fill=colour, width=stream.integers(1, 10))


def _draw_distractors(canvas, stream, canvas_size, count):
    """Long straight lines (cables, shelf edges, window frames)."""
    draw = canvas.draw
    for _ in range(count):
        start_x = stream.random() * canvas_size
        start_y = stream.random() * canvas_size
        angle = stream.uniform(0.0, math.pi)
        reach = 1.5 * canvas_size
        offset_x, offset_y = reach * math.cos(angle), reach * math.sin(angle)
        draw.line(
            [start_x - offset_x, start_y - offset_y, start_x + offset_x, start_y + offset_y],
            fill=canvas.ink(_any_colour(stream)),
            width=stream.integers(1, 8),
        )


def _numeral_texts(numerals):
    """(position 0-11, text) pairs for a numerals tag."""
    if numerals == "arabic":
        return tuple(enumerate(_ARABIC))
    if numerals == "roman":
        return tuple(enumerate(_ROMAN))
    if numerals == "partial_numerals":
        return tuple((position, _ARABIC[position]) for position in (0, 3, 6, 9))
    return ()


def _draw_marks(canvas, style):
    """Hour and minute marks, the chapter rings and the 12 marker."""
    ink = style.ink_colour
    outer = style.tick_outer
    for ring_radius in style.chapter_rings:
        if style.square_layout:
            shape = _unit_outline(style.dial_shape, style.corner_radius, canvas.circle_count)
            canvas.outline(shape * ring_radius, style.chapter_ring_width, ink)
        else:
            canvas.ring(ring_radius, style.chapter_ring_width, ink)
    if style.ticks == "no_ticks":
        _draw_twelve_marker(canvas, style)
        return
    index = np.arange(60)
    is_hour = index % 5 == 0
    is_quarter = index % 15 == 0
    angles = index * (math.pi / 30.0)
    along = np.stack([np.sin(angles), -np.cos(angles)], axis=1)
    outer = (outer * _layout_radii(style, angles))[:, None]
    if style.ticks == "dots":
        radii = np.where(is_hour, style.major_tick_length * np.where(is_quarter, 1.4, 1.0), style.minor_tick_length)
        if style.twelve_marker != "none":
            radii[0] = 0.0
        shown = radii > 0
        centres = (outer[shown] - radii[shown][:, None]) * along[shown]
        canvas.discs(centres, radii[shown], ink)
    else:
        if style.ticks == "ticks_60":
            keep = np.ones(60, dtype=bool)
            major = is_hour
        elif style.ticks == "ticks_12":
            keep = is_hour
            major = is_hour
        else:  # quarter_marks
            keep = is_quarter | (is_hour & (style.minor_marks == "ticks"))
            major = is_quarter
            if style.minor_marks == "dots":
                shown = is_hour & ~is_quarter
                radius = 1.3 * style.minor_tick_width
                canvas.discs((outer[shown] - radius) * along[shown], np.full(int(shown.sum()), radius), ink)
        if style.twelve_marker != "none":
            keep = keep & (index != 0)
        lengths = np.where(major, style.major_tick_length, style.minor_tick_length)
        widths = np.where(major, style.major_tick_width, style.minor_tick_width)
        keep = keep & (lengths > 0)
        along = along[keep]
        outer = outer[keep]
        across = np.stack([-along[:, 1], along[:, 0]], axis=1)
        half = (widths[keep] / 2.0)[:, None]
        inner = outer - lengths[keep][:, None]
        # All quads projected in one call, then one fill each.
        quads = np.stack(
            [
                outer * along - half * across,
                outer * along + half * across,
                inner * along + half * across,
                inner * along - half * across,
            ],
            axis=1,
        )
        fill = canvas.ink(ink)
        polygon = canvas.draw.polygon
        for quad in canvas.project(quads).reshape(len(quads), 8).tolist():
            polygon(quad, fill=fill)

    _draw_twelve_marker(canvas, style)


def _draw_twelve_marker(canvas, style):
    """A triangle or a double bar at 12, which tells which way is up."""
    ink = style.ink_colour
    outer = style.tick_outer
    if style.twelve_marker == "triangle":
        size = max(style.major_tick_length, 0.08)
        canvas.polygon([[-0.6 * size, -outer], [0.6 * size, -outer], [0.0, -outer + 1.2 * size]], ink)
    elif style.twelve_marker == "double":
        length = max(style.major_tick_length, 0.08)
        width = max(style.major_tick_width, 0.025)
        for side in (-1.0, 1.0):
            centre_x = side * 0.9 * width
            canvas.polygon(
                [
                    [centre_x - width / 2, -outer],
                    [centre_x + width / 2, -outer],
                    [centre_x + width / 2, -outer + length],
                    [centre_x - width / 2, -outer + length],
                ],
                ink,
            )


def _marks_inner_radius(style):
    """Radius inside which numerals may sit without touching the marks."""
    if style.ticks == "no_ticks":
        inner = style.tick_outer
    elif style.ticks == "dots":
        inner = style.tick_outer - 2.8 * style.major_tick_length
    else:
        inner = style.tick_outer - max(style.major_tick_length, style.minor_tick_length)
    if style.chapter_rings:
        inner = min(inner, min(style.chapter_rings) - style.chapter_ring_width)
    return inner


# sin(15 deg): half the chord between neighbouring hour positions per unit radius.
_HALF_CHORD = math.sin(math.pi / 12.0)


def _draw_numerals(canvas, style):
    """Hour numerals, laid out snugly inside the marks, plus brand text."""
    scale = canvas.scale
    inner = _marks_inner_radius(style) - style.numeral_gap
    if style.numerals != "no_numerals":
        pixel_size = _quantised_pixels(style.numeral_size * scale)
        # Shrink the font until the widest numeral fits between its
        # neighbours (big bold fonts and "VIII" would otherwise collide).
        for _ in range(4):
            masks, widest, tallest = _numeral_masks(style.numeral_font, pixel_size, style.numerals)
            if style.numeral_orientation == "radial":
                along_ring, across_ring = widest, tallest
            else:
                along_ring = across_ring = max(widest, tallest)
            centre_radius = inner - across_ring / (2.0 * scale)
            room = 2.0 * _HALF_CHORD * centre_radius * scale * (0.85 if style.numerals != "partial_numerals" else 2.0)
            if along_ring <= room or pixel_size <= _PIXEL_LADDER[0]:
                break
            pixel_size = _quantised_pixels(pixel_size * max(0.5, room / along_ring))
        stretch = _layout_radii(style, np.arange(12) * (math.pi / 6.0)).tolist()
        for position, mask in masks:
            half_width = mask.size[0] / (2.0 * scale)
            half_height = mask.size[1] / (2.0 * scale)
            angle = position * (math.pi / 6.0)
            sine, cosine = math.sin(angle), math.cos(angle)
            if style.numeral_orientation == "radial":
                centre_radius = inner * stretch[position] - half_height
                turn = angle
            else:
                # Upright text: its extent towards the centre depends on
                # where it sits (wide "IIII" at 4 vs tall at 12).
                centre_radius = inner * stretch[position] - (half_width * abs(sine) + half_height * abs(cosine))
                turn = 0.0
            canvas.glyph(mask, centre_radius * sine, -centre_radius * cosine, style.ink_colour, turn)
    if style.brand_text:
        mask = _text_mask(style.brand_font, _quantised_pixels(0.09 * scale), style.brand_text)
        canvas.glyph(mask, 0.0, -0.38, style.ink_colour)
    if style.brand_text_low:
        mask = _glyph(style.brand_font, _quantised_pixels(0.065 * scale), style.brand_text_low)
        canvas.glyph(mask, 0.0, 0.42, style.ink_colour)


def _draw_dial(canvas, style):
    """Drop shadow, bezel, face, face shading and rim."""
    outline = _unit_outline(style.dial_shape, style.corner_radius, canvas.circle_count)
    outer = outline * (1.0 + style.bezel_width)
    if style.clock_shadow is not None:
        dx, dy, alpha = style.clock_shadow
        canvas.blended_polygon(outer + np.array([dx, dy]), (0, 0, 0), alpha)
    if style.bezel_width > 0:
        canvas.polygon(outer, style.bezel_colour)
        # A thin line part of the way in gives the frame some relief.
        canvas.outline(outline * (1.0 + style.bezel_width * 0.3), 0.1 * style.bezel_width, style.bezel_line_colour)
    canvas.polygon(outline, style.face_colour)
    if style.rim_width > 0:
        rim_colour = style.ink_colour if style.bezel_width == 0 else style.bezel_line_colour
        canvas.outline(outline * (1.0 - style.rim_width / 2.0), style.rim_width, rim_colour)
    if style.face_shading:
        # Concentric steps towards a lighter or darker centre (domed face).
        target = (255, 255, 255) if style.face_shading > 0 else (0, 0, 0)
        for step in range(1, 5):
            shrink = 1.0 - style.rim_width - 0.16 * step
            colour = _mix(style.face_colour, target, abs(style.face_shading) * step / 4.0)
            canvas.polygon(outline * shrink, colour)


def _draw_hands(canvas, style, hour_angle, minute_angle, second_angle):
    """Hour, minute and second hands with shadow, counterweight and cap."""
    tail_hour = style.tail_fraction * style.hour_length
    tail_minute = style.tail_fraction * style.minute_length
    hour = _hand_polygon(
        style.hand_shape, style.arrow_variant, style.hour_length, style.hour_width, tail_hour, hour_angle
    )
    minute = _hand_polygon(
        style.hand_shape, style.arrow_variant, style.minute_length, style.minute_width, tail_minute, minute_angle
    )
    second = None
    if style.second_hand:
        second = _hand_polygon(
            "line_hands", "arrow", style.second_length, style.second_width, style.second_tail, second_angle
        )
    if style.hand_shadow is not None:
        shift = np.array(style.hand_shadow)
        for polygon in (hour, minute, second):
            if polygon is not None:
                canvas.polygon(polygon + shift, style.hand_shadow_colour)

    outline = style.hand_outline_colour
    for polygon, colour in ((hour, style.hour_colour), (minute, style.minute_colour)):
        if outline is not None:
            width = max(2, int(round(0.025 * canvas.scale)))
            canvas.draw.polygon(
                canvas.project(polygon).ravel().tolist(),
                fill=canvas.ink(colour),
                outline=canvas.ink(outline),
                width=width,
            )
        else:
            canvas.polygon(polygon, colour)
    if second is not None:
        canvas.polygon(second, style.second_colour)
        if style.second_counterweight > 0:
            along, _ = _direction(second_angle)
            canvas.disc(-0.75 * style.second_tail * along, style.second_counterweight, style.second_colour)
    if style.cap_radius > 0:
        canvas.disc((0.0, 0.0), style.cap_radius, style.cap_colour)
        if style.second_hand:
            canvas.disc((0.0, 0.0), 0.45 * style.cap_radius, style.second_colour)


def _draw_glare(canvas, style):
    """A pale reflection on the glass across part of the dial."""
    along, across = _direction(math.radians(style.glare_angle_degrees))
    # A lens-shaped region: the part of the disc beyond a chord.
    arc = np.linspace(-1.1, 1.1, 24)
    edge = np.stack([np.sin(arc), np.cos(arc)], axis=1) * 0.95
    points = edge[:, :1] * across + edge[:, 1:] * along
    canvas.blended_polygon(points, (255, 255, 255), style.glare_alpha)


@functools.lru_cache(maxsize=16)
def _unit_grid(size):
    """Pixel-centre coordinates in [-1, 1] and their squared radius, float32 (size, size)."""
    axis = (np.arange(size, dtype=np.float32) + 0.5) / size * 2.0 - 1.0
    y, x = np.meshgrid(axis, axis, indexing="ij")
    return x, y, x * x + y * y


@functools.lru_cache(maxsize=1)
def _noise_bank():
    """A fixed 1024 x 1024 field of standard normal noise (4 MB).

    Sensor noise is taken as random crops of this field: drawing fresh
    normals for every image costs more than the rest of the camera model.
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


def _apply_camera(image, style, stream):
    """Blur, lighting, sensor noise and JPEG artefacts at output resolution.

    Works on 'L' or 'RGB' images and returns a uint8 array of the same mode.
    The lighting field is smooth, so applying it after the blur looks the
    same as before it and lets lighting and noise share one numpy pass.
    """
    size = image.size[0]
    if style.blur_radius > 0:
        # A box blur: close to a defocused lens (a disc) and twice as fast
        # as PIL's Gaussian, which is three box passes.
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
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=int(style.jpeg_quality))
        buffer.seek(0)
        with Image.open(buffer) as decoded:
            image = decoded.convert(image.mode)
    return np.asarray(image, dtype=np.uint8)


def _check_time(hour, minute):
    """Validate an hour/minute label and return them as ints."""
    if isinstance(hour, bool) or not isinstance(hour, (int, np.integer)) or not 0 <= hour < 24:
        raise ValueError(f"hour must be an integer in 0-23 (taken mod 12), got {hour!r}")
    if isinstance(minute, bool) or not isinstance(minute, (int, np.integer)) or not 0 <= minute < 60:
        raise ValueError(f"minute must be an integer in 0-59, got {minute!r}")
    return int(hour) % 12, int(minute)


def _check_size(size):
    """Validate the output size."""
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < MINIMUM_SIZE:
        raise ValueError(f"size must be an integer >= {MINIMUM_SIZE}, got {size!r}")
    return int(size)


GEOMETRY_POINTS = ("centre", "twelve", "three", "hour_tip", "minute_tip")
"""The keypoints :func:`render_batch` reports with ``return_geometry``: the pivot,
the points of the dial's rim at 12 and at 3 o'clock (one dial radius out), and the
tips of the hour and minute hands, in output pixel coordinates (x right, y down)."""


def _render(hour, minute, rng, size, style, sub_minute, mode, geometry=False):
    """Shared body of render_clock and render_clock_rgb.

    With ``geometry`` it also returns the (5, 2) keypoints of :data:`GEOMETRY_POINTS`.
    """
    hour, minute = _check_time(hour, minute)
    size = _check_size(size)
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator, got {rng!r}")
    if style is None:
        style = sample_style(rng)
    elif not isinstance(style, ClockStyle):
        raise ValueError(f"style must be a ClockStyle or None, got {style!r}")
    stream = _Stream(rng)
    if sub_minute is None:
        sub_minute = stream.uniform(-0.5, 0.5)
    elif not -0.5 <= sub_minute < 0.5:
        raise ValueError(f"sub_minute must lie in [-0.5, 0.5), got {sub_minute!r}")

    shown = hour * 60 + minute + sub_minute
    minute_angle = math.radians(6.0 * (minute + sub_minute))
    hour_angle = math.radians(0.5 * shown + style.hour_slop_degrees)
    second_angle = math.radians(6.0 * ((sub_minute * 60.0) % 60.0))

    canvas_size = size * SUPERSAMPLE
    image = _draw_background(style, stream, size, mode)
    canvas = _Canvas(image, style)
    if style.clutter_count:
        _draw_clutter(canvas, stream, canvas_size, style.clutter_count)
    if style.distractor_count:
        _draw_distractors(canvas, stream, canvas_size, style.distractor_count)
    _draw_dial(canvas, style)
    _draw_marks(canvas, style)
    _draw_numerals(canvas, style)
    _draw_hands(canvas, style, hour_angle, minute_angle, second_angle)
    if style.glare_alpha:
        _draw_glare(canvas, style)

    image = image.reduce(SUPERSAMPLE)
    pixels = _apply_camera(image, style, stream)
    if not geometry:
        return pixels
    hour_along, _ = _direction(hour_angle)
    minute_along, _ = _direction(minute_angle)
    dial_points = np.array(
        [[0.0, 0.0], [0.0, -1.0], [1.0, 0.0], hour_along * style.hour_length, minute_along * style.minute_length]
    )
    # The camera effects move no pixels, so the canvas map, scaled down by the
    # supersampling factor, takes dial points to output pixel coordinates.
    return pixels, (canvas.project(dial_points) / SUPERSAMPLE).astype(np.float32)


def render_clock(hour, minute, rng, size=150, style=None, sub_minute=None):
    """Render one grayscale clock showing ``hour:minute``.

    Args:
        hour: Hour label, integer 0-11 (12-23 are taken modulo 12).
        minute: Minute label, integer 0-59.
        rng: ``np.random.Generator`` for everything random in the image.
        size: Output width and height in pixels (>= 32).
        style: A :class:`ClockStyle`; None samples one from ``rng``.
        sub_minute: Offset of the hands from the exact minute, in minutes in
            [-0.5, 0.5); None draws it uniformly from ``rng``. The label is
            the nearest whole minute to what the hands show.

    Returns:
        np.ndarray (size, size) uint8.

    Raises:
        ValueError: On labels out of range, a bad size, rng or style.

    Example:
        >>> image = render_clock(3, 15, np.random.default_rng(0))
        >>> image.shape, image.dtype
        ((150, 150), dtype('uint8'))
    """
    return _render(hour, minute, rng, size, style, sub_minute, "L")


def render_clock_rgb(hour, minute, rng, size=150, style=None, sub_minute=None):
    """Render one colour clock showing ``hour:minute``.

    Same arguments as :func:`render_clock`; the camera effects run in
    colour, so for the same rng state the result is close to, not exactly,
    the colour version of :func:`render_clock`'s output.

    Returns:
        np.ndarray (size, size, 3) uint8.
    """
    return _render(hour, minute, rng, size, style, sub_minute, "RGB")


# ----------------------------------------------------------------------------
# Batches and data sets
# ----------------------------------------------------------------------------


def _check_seed(seed):
    """Validate a non-negative integer seed."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def _check_count(count, name="count"):
    """Validate a non-negative image count."""
    if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {count!r}")
    return int(count)


def _draw(seed, index, include, exclude):
    """Clock ``index`` of ``seed``: its random stream, time and style (drawn in that order;
    the stream then goes on to draw the image)."""
    rng = np.random.default_rng([seed, index])
    hour, minute = divmod(int(rng.integers(720)), 60)
    return rng, hour, minute, sample_style(rng, include, exclude)


def batch_styles(count, seed, include=None, exclude=None, start=0):
    """The :class:`ClockStyle` of each clock :func:`render_batch` draws for the same
    arguments, without rendering the images (a fraction of the time).

    Example:
        >>> batch_styles(3, seed=1) == render_batch(3, seed=1, size=32, return_styles=True)[2]
        True
    """
    count = _check_count(count)
    seed = _check_seed(seed)
    start = _check_count(start, "start")
    include = _check_tags(include, "include")
    exclude = _check_tags(exclude, "exclude")
    return [_draw(seed, start + offset, include, exclude)[3] for offset in range(count)]


def render_batch(count, seed, size=150, include=None, exclude=None, start=0, return_styles=False,
                 return_geometry=False):
    """Render ``count`` random clocks with uniformly random times.

    Image ``i`` is drawn from ``np.random.default_rng([seed, start + i])``
    alone, so rendering slices ``[start, start + count)`` in separate
    processes gives exactly the images of one big render.

    Args:
        count: Number of images.
        seed: Non-negative integer seed.
        size: Output width and height in pixels.
        include: Style tags to restrict to (see :func:`sample_style`).
        exclude: Style tags to avoid.
        start: Index of the first image within the seed's sequence.
        return_styles: Also return the list of :class:`ClockStyle` used.
        return_geometry: Also return float32 (count, 5, 2) keypoints, see
            :data:`GEOMETRY_POINTS` (returned before the styles).

    Returns:
        ``(images, labels)``: uint8 (count, size, size) and int64 (count, 2)
        ``[hour 0-11, minute 0-59]``; with ``return_styles`` a third item,
        the list of styles.

    Example:
        >>> images, labels = render_batch(4, seed=1)
        >>> images.shape, labels.shape
        ((4, 150, 150), (4, 2))
    """
    count = _check_count(count)
    seed = _check_seed(seed)
    start = _check_count(start, "start")
    size = _check_size(size)
    include = _check_tags(include, "include")
    exclude = _check_tags(exclude, "exclude")
    images = np.empty((count, size, size), dtype=np.uint8)
    labels = np.empty((count, 2), dtype=np.int64)
    geometry = np.empty((count, len(GEOMETRY_POINTS), 2), dtype=np.float32)
    styles = []
    for offset in range(count):
        rng, hour, minute, style = _draw(seed, start + offset, include, exclude)
        images[offset], geometry[offset] = _render(hour, minute, rng, size, style, None, "L", geometry=True)
        labels[offset] = (hour, minute)
        if return_styles:
            styles.append(style)
    result = (images, labels)
    if return_geometry:
        result += (geometry,)
    if return_styles:
        result += (styles,)
    return result


RENDERERS = ("zoo", "matplotlib")
"""What clocks can be drawn with: this module (the renderer every reader trains on), or
the independent :mod:`zoo.mplclocks`, kept apart so that readers can be scored on
clocks from a renderer they never saw."""


def write_dataset(
    out_dir,
    count,
    seed,
    size=150,
    png=False,
    include=None,
    exclude=None,
    progress=None,
    overwrite=False,
    chunk=500,
    renderer="zoo",
):
    """Render a data set to disk in the Leiden format.

    Writes ``images.npy`` (count, size, size) uint8 and ``labels.npy``
    (count, 2) int64, plus ``render_info.json`` (the arguments, for
    provenance). With ``png=True`` also ``png/00000.png``... and
    ``labels.csv`` with columns ``file,hour,minute`` where ``file`` is the
    path relative to ``out_dir`` (``png/00000.png``).

    Everything is written into a temporary sibling directory that is renamed
    into place at the end, so an interrupted run leaves nothing half-written
    at ``out_dir``. Images are streamed into a memory-mapped ``.npy`` file,
    so large data sets do not need to fit in memory.

    Args:
        out_dir: Destination directory.
        count: Number of images.
        seed: Non-negative integer seed (same meaning as in
            :func:`render_batch`).
        size: Output width and height in pixels.
        png: Also write PNG files and labels.csv.
        include: Style tags to restrict to.
        exclude: Style tags to avoid.
        progress: Optional callable receiving the number of images done so
            far, called after every chunk.
        overwrite: Replace an existing non-empty ``out_dir``.
        chunk: Images rendered per step (progress granularity).
        renderer: ``"zoo"`` (this module) or ``"matplotlib"``: the independent
            renderer :mod:`zoo.mplclocks`, which has no style tags.

    Returns:
        ``pathlib.Path`` of the written directory.

    Raises:
        ValueError: If ``out_dir`` exists and is non-empty and ``overwrite``
            is false, if it is a file, or on bad arguments.
    """
    count = _check_count(count)
    seed = _check_seed(seed)
    size = _check_size(size)
    include = _check_tags(include, "include")
    exclude = _check_tags(exclude, "exclude")
    chunk = _check_count(chunk, "chunk")
    if chunk == 0:
        raise ValueError(f"chunk must be a positive integer, got {chunk!r}")
    if progress is not None and not callable(progress):
        raise ValueError(f"progress must be callable or None, got {progress!r}")
    if renderer == "matplotlib":
        if include or exclude:
            raise ValueError("the matplotlib renderer has no style tags: drop include and exclude")
        from zoo import mplclocks

        def batch(step, start):
            return mplclocks.render(step, seed, size, start=start)[:2]
    elif renderer == "zoo":
        # Check the styles can be sampled before writing anything.
        sample_style(np.random.default_rng(0), include, exclude)

        def batch(step, start):
            return render_batch(step, seed, size, include, exclude, start=start)
    else:
        raise ValueError(f"renderer must be one of {', '.join(RENDERERS)}, got {renderer!r}")
    out_path = Path(out_dir)
    if out_path.exists():
        if not out_path.is_dir():
            raise ValueError(f"out_dir must be a directory, got the file {str(out_path)!r}")
        if any(out_path.iterdir()) and not overwrite:
            raise ValueError(
                f"out_dir {str(out_path)!r} exists and is not empty; pass overwrite=True to replace it"
            )
    out_path.parent.mkdir(parents=True, exist_ok=True)

    temporary = Path(tempfile.mkdtemp(prefix=f".{out_path.name}.partial-", dir=out_path.parent))
    # mkdtemp makes the directory private (0700); the data set is not.
    os.chmod(temporary, 0o755)
    try:
        images = np.lib.format.open_memmap(
            temporary / "images.npy", mode="w+", dtype=np.uint8, shape=(count, size, size)
        )
        labels = np.empty((count, 2), dtype=np.int64)
        digits = max(5, len(str(max(count - 1, 0))))
        if png:
            (temporary / "png").mkdir()
        done = 0
        while done < count:
            step = min(chunk, count - done)
            batch_images, batch_labels = batch(step, done)
            images[done : done + step] = batch_images
            labels[done : done + step] = batch_labels
            if png:
                for offset in range(step):
                    name = f"{done + offset:0{digits}d}.png"
                    Image.fromarray(batch_images[offset]).save(temporary / "png" / name)
            done += step
            if progress is not None:
                progress(done)
        images.flush()
        del images
        np.save(temporary / "labels.npy", labels)
        if png:
            lines = ["file,hour,minute"]
            lines += [f"png/{index:0{digits}d}.png,{hour},{minute}" for index, (hour, minute) in enumerate(labels)]
            (temporary / "labels.csv").write_text("\n".join(lines) + "\n")
        info = {
            "generator": "zoo.mplclocks" if renderer == "matplotlib" else "zoo.clockface",
            "count": count,
            "seed": seed,
            "size": size,
            "include": sorted(include),
            "exclude": sorted(exclude),
            "supersample": SUPERSAMPLE,
        }
        (temporary / "render_info.json").write_text(json.dumps(info, indent=2) + "\n")

        # Swap into place; an old directory is moved aside first and only
        # deleted once the new one is in place.
        previous = None
        if out_path.exists():
            if any(out_path.iterdir()):
                previous = Path(tempfile.mkdtemp(prefix=f".{out_path.name}.old-", dir=out_path.parent))
                previous.rmdir()
                os.replace(out_path, previous)
            else:
                out_path.rmdir()
        os.replace(temporary, out_path)
        if previous is not None:
            shutil.rmtree(previous, ignore_errors=True)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    return out_path


def _to_grey(images):
    """(N, H, W, 3) uint8 -> (N, H, W) uint8 with PIL's RGB -> L weights."""
    out = np.empty(images.shape[:3], dtype=np.uint8)
    weights = np.array([0.299, 0.587, 0.114], dtype=np.float32)
    for begin in range(0, images.shape[0], 1024):
        block = images[begin : begin + 1024].astype(np.float32) @ weights
        out[begin : begin + 1024] = np.clip(np.round(block), 0, 255).astype(np.uint8)
    return out


def load_leiden(path):
    """Load a Leiden-format clock data set.

    Args:
        path: Directory holding ``images.npy`` (N, H, W) uint8, also accepted
            as (N, H, W, 1) or RGB (N, H, W, 3), which are converted to
            grayscale, and ``labels.npy`` (N, 2) integer
            ``[hour 0-11, minute 0-59]``.

    Returns:
        ``(images, labels)``: uint8 (N, H, W) and int64 (N, 2).

    Raises:
        ValueError: If the folder or a file is missing, a shape, dtype or
            label range is wrong, or the counts differ.

    Example:
        >>> images, labels = load_leiden("data/leiden")  # doctest: +SKIP
    """
    folder = Path(path)
    if not folder.is_dir():
        raise ValueError(f"path must be a directory holding images.npy and labels.npy, got {str(path)!r}")
    arrays = {}
    for name in ("images", "labels"):
        file = folder / f"{name}.npy"
        if not file.is_file():
            raise ValueError(f"path {str(path)!r} has no {name}.npy")
        try:
            arrays[name] = np.load(file, allow_pickle=False)
        except (ValueError, OSError) as error:
            raise ValueError(f"{file} is not a readable .npy array: {error}") from error
    images = arrays["images"]
    labels = arrays["labels"]

    if images.ndim == 4 and images.shape[-1] in (1, 3):
        pass
    elif images.ndim != 3:
        raise ValueError(
            f"images.npy must have shape (N, H, W), (N, H, W, 1) or (N, H, W, 3), got {images.shape}"
        )
    if images.dtype != np.uint8:
        if np.issubdtype(images.dtype, np.integer) and images.size and (images.min() < 0 or images.max() > 255):
            raise ValueError(f"images.npy must hold uint8 pixels, got {images.dtype} with values outside 0-255")
        if not np.issubdtype(images.dtype, np.integer):
            raise ValueError(f"images.npy must hold uint8 pixels, got dtype {images.dtype}")
        images = images.astype(np.uint8)
    if images.ndim == 4:
        images = images[..., 0].copy() if images.shape[-1] == 1 else _to_grey(images)

    if labels.ndim != 2 or labels.shape[1] != 2:
        raise ValueError(f"labels.npy must have shape (N, 2) [hour, minute], got {labels.shape}")
    if not np.issubdtype(labels.dtype, np.integer):
        whole = np.issubdtype(labels.dtype, np.floating) and np.all(np.isfinite(labels))
        if whole and np.all(labels == np.round(labels)):
            labels = labels.astype(np.int64)
        else:
            raise ValueError(f"labels.npy must hold whole numbers, got dtype {labels.dtype}")
    labels = labels.astype(np.int64)
    if images.shape[0] != labels.shape[0]:
        raise ValueError(
            f"images.npy holds {images.shape[0]} images but labels.npy holds {labels.shape[0]} labels"
        )
    if labels.size:
        hours, minutes = labels[:, 0], labels[:, 1]
        if hours.min() < 0 or hours.max() > 11:
            raise ValueError(f"labels.npy hours must lie in 0-11, got values from {hours.min()} to {hours.max()}")
        if minutes.min() < 0 or minutes.max() > 59:
            raise ValueError(
                f"labels.npy minutes must lie in 0-59, got values from {minutes.min()} to {minutes.max()}"
            )
    return images, labels
