"""A second, independent analog-clock renderer, drawn with matplotlib.

The clock-reading networks of this project are trained on images from the
project's own renderer.  A network can score well there by learning that
renderer's quirks (its line widths, fonts, proportions, anti-aliasing) rather
than how to read a clock.  This module draws analog clocks *by a renderer the
networks have never seen*, so their accuracy on it measures transfer to an
unfamiliar drawing style.  It is independent of ``zoo.clocks.clockface`` **by
design**: it was written without reading that module (or anything else under
``zoo/`` except ``zoo.errors``), from a plain idea of what analog clocks look
like, and it shares no code, constants or conventions with it.  Keep it so:
do not "align" it with the training renderer, or the test stops measuring
transfer.

``render(count, seed, size)`` gives grey uint8 images, ``[hour, minute]``
labels and, per clock, a dict of the drawn style (``FACTORS`` lists every key
and its allowed values), so errors can be broken down by style.
``draw_clock`` draws one clock with a given time and chosen factors and also
returns its geometry (used by the tests to check the hands).

Time convention: the hands show t = hour*60 + minute + offset minutes (offset
uniform in [-0.5, 0.5), t wrapped into [0, 720)), so the label is the nearest
whole minute to what the hands show.  Minute hand at 6 deg * (t mod 60), hour
hand at 0.5 deg * t, clockwise from the dial's 12; the whole clock may be
turned in the image plane, and the label stays relative to the dial's 12.

Drawing uses matplotlib's object API with the Agg backend (never pyplot): one
reused Figure of 1 x 1 inch at dpi = size, whose data square [-1, 1]^2 fills
the image, so one data unit is 36 points at every size.  The figure is drawn
on a transparent background and composited in numpy over a plain or gradient
background, then turned to grey with ITU-R 601 weights.  Two choices make it
much faster than plain ``ax.text`` / ``ax.add_patch``: numerals are matplotlib
``TextPath`` outlines of the chosen font, placed in numpy and drawn as one
``PathPatch`` (a text artist is slow to draw), and artists are added with
``add_artist``, which skips the data-limit update ``add_patch`` computes from
every Bezier segment.
"""

import functools

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.lines import Line2D
from matplotlib.patches import Circle, PathPatch, Polygon
from matplotlib.path import Path
from matplotlib.textpath import TextPath

from zoo.errors import ZooError

#: Every factor recorded per clock, with its allowed values.
FACTORS = {
    "rotation": ("upright (<6 deg)", "tilted (6-40 deg)", "rotated (>40 deg)"),
    "dial_shape": ("round", "square", "no_rim"),
    "numerals": ("arabic", "roman", "quarters", "none"),
    "ticks": ("none", "hours", "minutes", "dots"),
    "hand_shape": ("line", "tapered", "arrow"),
    "second_hand": ("yes", "no"),
    "face": ("light", "dark"),
    "background": ("plain", "gradient", "noise"),
}
_PROBABILITIES = {"rotation": (0.60, 0.28, 0.12), "second_hand": (0.4, 0.6)}  # others uniform
_ROTATION_RANGES = ((0, 6), (6, 40), (40, 180))  # |angle| in degrees, per rotation value
_FONTS = ("DejaVu Sans", "DejaVu Serif", "DejaVu Sans Mono")
_ROMAN = ("XII", "I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI")
_GREY = np.array([0.299, 0.587, 0.114])  # ITU-R 601 luma weights
# Grey-level bands of the face and of the ink drawn on it: any two are >= 100 levels apart.
_BANDS = {"light": ((180, 255), (0, 75)), "dark": ((0, 75), (180, 255))}
_PT = 36.0  # points per data unit (1-inch figure spanning 2 data units)


def _whole(name, value, minimum, maximum=None):
    """Check that ``value`` is an integer in range, or raise a one-line ZooError."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ZooError(f"{name} must be an integer, got {value!r}")
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"at least {minimum}" if maximum is None else f"between {minimum} and {maximum}"
        raise ZooError(f"{name} must be {bound}, got {value}")
    return int(value)


def _colour(rng, band, chroma):
    """A random RGB colour (0..1) whose 601 grey level is uniform in ``band`` (0..255)."""
    grey = rng.uniform(*band)
    tint = rng.normal(0.0, chroma, 3)
    tint -= tint @ _GREY  # a tint with zero luminance
    with np.errstate(divide="ignore", invalid="ignore"):
        room = np.where(tint > 0, (255 - grey) / tint, np.where(tint < 0, grey / -tint, np.inf))
    return np.clip((grey + min(1.0, room.min()) * tint) / 255, 0, 1)  # tint shrunk to fit; grey kept


@functools.lru_cache(maxsize=None)
def _glyph_path(text, family, weight):
    """Outline of ``text`` at 1 em, centred on its ink box: (vertices, codes, half width, half height)."""
    path = TextPath((0, 0), text, size=1, prop=FontProperties(family=family, weight=weight))
    box = path.get_extents()
    return path.vertices - (box.x0 + box.width / 2, box.y0 + box.height / 2), path.codes, box.width / 2, box.height / 2


class _Canvas:
    """One reusable 1-inch Agg figure at dpi = size, with an axes filling it."""

    def __init__(self, size):
        self.size = size
        self.figure = Figure(figsize=(1, 1), dpi=size, facecolor="none")
        self.agg = FigureCanvasAgg(self.figure)
        self.ax = self.figure.add_axes((0, 0, 1, 1))
        self.ax.set_axis_off()
        self.ax.set_autoscale_on(False)
        self.ax.set(xlim=(-1, 1), ylim=(-1, 1), aspect="equal")
        grid = (np.arange(size) + 0.5) / size * 2 - 1
        self.x, self.y = np.meshgrid(grid, -grid)  # data coordinates of pixel centres

    def clear(self):  # cheaper than ax.cla(), which rebuilds the (hidden) axis machinery
        ax = self.ax
        for artist in (*ax.lines, *ax.patches, *ax.texts, *ax.collections):
            artist.remove()

    def rgba(self):
        self.agg.draw()
        return np.asarray(self.agg.buffer_rgba(), dtype=np.float32) / 255


def _sample_factors(rng, fixed):
    """Draw the factor values not in ``fixed``, and the rotation angle (deg, clockwise)."""
    factors = {}
    for name, values in FACTORS.items():
        if name in fixed:
            factors[name] = fixed[name]
        else:
            factors[name] = values[rng.choice(len(values), p=_PROBABILITIES.get(name))]
    low, high = _ROTATION_RANGES[FACTORS["rotation"].index(factors["rotation"])]
    angle = rng.uniform(low, high) * rng.choice((-1.0, 1.0))
    return factors, float(angle)


def _paint(canvas, rng, hour, minute, offset, fixed):
    """Draw one clock; returns (grey uint8 image, factors, layout)."""
    factors, rot = _sample_factors(rng, fixed)
    ax, size = canvas.ax, canvas.size
    canvas.clear()
    R = rng.uniform(0.7, 0.95)  # dial radius (or half side), in half-images
    cx, cy = rng.uniform(-0.05, 0.05, 2)
    cos_r, sin_r = np.cos(np.radians(rot)), np.sin(np.radians(rot))

    def to_xy(u, v):  # dial coordinates (u to 3 o'clock, v to 12) -> data coordinates
        return cx + u * cos_r + v * sin_r, cy - u * sin_r + v * cos_r

    def at(r, theta):  # radius r at angle theta (deg, clockwise from the dial's 12)
        a = np.radians(theta)
        return to_xy(r * np.sin(a), r * np.cos(a))

    def along(theta, points):  # (along, across) pairs on a hand at theta -> (n, 2) data points
        a, (s, c) = np.radians(theta), np.asarray(points, dtype=float).T
        return np.stack(to_xy(s * np.sin(a) + c * np.cos(a), s * np.cos(a) - c * np.sin(a)), 1)

    face_band, ink_band = _BANDS[factors["face"]]
    face = _colour(rng, face_band, rng.uniform(0, 50))
    ink = _colour(rng, ink_band, rng.uniform(0, 50))
    ink2 = ink if rng.random() < 0.5 else _colour(rng, ink_band, rng.uniform(0, 80))

    # Dial.  Without a rim the whole image is the face.
    shape = factors["dial_shape"]
    marks_r = R
    if shape != "no_rim":
        rim = rng.uniform(0.02, 0.09) * R
        rim_colour = ink if rng.random() < 0.6 else _colour(rng, (0, 255), 40)
        if shape == "round":
            dial = Circle((cx, cy), R - rim / 2)
        else:  # a rounded square, corner radius 5-40% of the half side
            half, corner = R - rim / 2, rng.uniform(0.05, 0.4) * R
            arc = np.radians(np.linspace(0, 90, 8))
            u, v = [], []
            for k, (sx, sy) in enumerate(((1, 1), (-1, 1), (-1, -1), (1, -1))):  # corners, anticlockwise
                u.append(sx * (half - corner) + corner * np.cos(arc + k * np.pi / 2))
                v.append(sy * (half - corner) + corner * np.sin(arc + k * np.pi / 2))
            u, v = np.concatenate(u), np.concatenate(v)
            dial = Polygon(np.stack(to_xy(u, v), 1))
        dial.set(facecolor=face, edgecolor=rim_colour, linewidth=_PT * rim, zorder=1)
        ax.add_artist(dial)
        marks_r = R - rim - rng.uniform(0.01, 0.05) * R

    # Ticks on a ring of outer radius marks_r; `inner` is where the numerals may start.
    ticks, inner = factors["ticks"], marks_r - rng.uniform(0.0, 0.06) * R
    if ticks in ("hours", "minutes"):
        theta = np.arange(12) * 30.0
        length = np.full(12, rng.uniform(0.07, 0.16) * R)
        width = np.full(12, rng.uniform(0.02, 0.05) * R)
        if rng.random() < 0.4:  # emphasise 12, 3, 6, 9
            length[::3] *= 1.4
            width[::3] *= 1.5
        if ticks == "minutes":
            small = np.array([m for m in range(60) if m % 5]) * 6.0
            theta = np.concatenate([theta, small])
            length = np.concatenate([length, np.full(48, rng.uniform(0.03, 0.06) * R)])
            width = np.concatenate([width, np.full(48, rng.uniform(0.012, 0.025) * R)])
        segments = np.stack([np.stack(at(marks_r - length, theta), 1), np.stack(at(marks_r, theta), 1)], 1)
        ax.add_artist(LineCollection(segments, linewidths=_PT * width, colors=[ink2], capstyle="butt", zorder=2))
        inner = marks_r - length.max()
    elif ticks == "dots":
        radius = rng.uniform(0.025, 0.05) * R
        x, y = at(marks_r - radius, np.arange(12) * 30.0)
        ax.add_artist(Line2D(x, y, ls="none", marker="o", ms=_PT * 2 * radius, mew=0, mfc=ink2, zorder=2))
        if rng.random() < 0.3:  # small minute dots as well
            x, y = at(marks_r - radius, np.array([m for m in range(60) if m % 5]) * 6.0)
            ax.add_artist(Line2D(x, y, ls="none", marker="o", ms=_PT * radius, mew=0, mfc=ink2, zorder=2))
        inner = marks_r - 2 * radius

    # Numerals: upright relative to the dial, inside the tick ring.
    numerals = factors["numerals"]
    if numerals != "none":
        hours = (12, 3, 6, 9) if numerals == "quarters" else range(1, 13)
        roman = list(_ROMAN)
        roman[4] = "IV" if rng.random() < 0.5 else "IIII"
        em = rng.uniform(*{"arabic": (0.16, 0.25), "roman": (0.12, 0.19), "quarters": (0.2, 0.3)}[numerals]) * R
        gap = rng.uniform(0.02, 0.06) * R
        family, weight = _FONTS[rng.integers(3)], ("normal", "bold")[rng.integers(2)]
        outline = {h: _glyph_path(roman[h % 12] if numerals == "roman" else str(h), family, weight) for h in hours}
        if numerals != "quarters":  # 11, 12 and 1 sit side by side, about r/2 apart: keep them from touching
            widest = max(outline[11][2] + outline[12][2], outline[12][2] + outline[1][2])
            em = min(em, 0.45 * (inner - gap) / (widest + 0.32))
        verts, codes = [], []
        for h in hours:
            glyphs, glyph_codes, half_w, half_h = outline[h]
            a = np.radians(30.0 * h)
            r = inner - gap - em * (abs(np.sin(a)) * half_w + abs(np.cos(a)) * half_h)  # clear of the ticks
            verts.append(glyphs * em + (r * np.sin(a), r * np.cos(a)))  # dial coordinates, upright
            codes.append(glyph_codes)
        verts = np.concatenate(verts)
        path = Path(np.stack(to_xy(verts[:, 0], verts[:, 1]), 1), np.concatenate(codes))
        ax.add_artist(PathPatch(path, facecolor=ink2 if rng.random() < 0.7 else ink, edgecolor="none", lw=0, zorder=3))

    # Hands.
    t = (hour * 60 + minute + offset) % 720
    hand_shape, hand_colour = factors["hand_shape"], ink if rng.random() < 0.7 else ink2
    width = rng.uniform(0.025, 0.055) * R
    hour_width = width * (rng.uniform(1.1, 1.9) if rng.random() < 0.8 else rng.uniform(0.8, 1.1))
    tail = rng.uniform(0.05, 0.18) * R if rng.random() < 0.5 else 0.0
    cap = ("round", "butt")[rng.integers(2)]
    head_kind, head_len = ("triangle", "diamond")[rng.integers(2)], rng.uniform(0.1, 0.18) * R
    taper = rng.uniform(0.2, 0.5)

    def hand(theta, length, w, zorder):  # total extent from -tail to length, caps included
        if hand_shape == "tapered":
            tip = min(0.08 * R, length / 4)
            pts = [(-tail, -0.7 * w), (length - tip, -taper * w / 2), (length, 0),
                   (length - tip, taper * w / 2), (-tail, 0.7 * w)]
            ax.add_artist(Polygon(along(theta, pts), facecolor=hand_colour, edgecolor="none", lw=0, zorder=zorder))
            return
        pad = w / 2 if hand_shape == "line" and cap == "round" else 0.0
        end = length - pad if hand_shape == "line" else length - head_len / 2
        xy = along(theta, [(-tail + pad, 0), (end, 0)])
        ax.add_artist(Line2D(xy[:, 0], xy[:, 1], lw=_PT * w, color=hand_colour,
                           solid_capstyle=cap if hand_shape == "line" else "butt", zorder=zorder))
        if hand_shape == "arrow":
            hw, base = w * 1.6, length - head_len
            pts = ([(base, -hw), (length, 0), (base, hw)] if head_kind == "triangle" else
                   [(base, 0), (base + head_len / 2, -hw), (length, 0), (base + head_len / 2, hw)])
            ax.add_artist(Polygon(along(theta, pts), facecolor=hand_colour, edgecolor="none", lw=0, zorder=zorder))

    minute_len = rng.uniform(0.7, 0.9) * R
    hand(0.5 * t, rng.uniform(0.45, 0.6) * R, hour_width, 4)
    hand(6.0 * (t % 60), minute_len, width, 5)
    centre_colour = hand_colour
    if factors["second_hand"] == "yes":
        centre_colour = _colour(rng, ink_band, 120)
        length = rng.uniform(max(0.85 * R, minute_len + 0.04 * R), 0.98 * R)
        xy = along(rng.uniform(0, 360), [(-rng.uniform(0.12, 0.3) * R, 0), (length, 0)])
        ax.add_artist(Line2D(xy[:, 0], xy[:, 1], lw=_PT * rng.uniform(0.01, 0.022) * R, color=centre_colour,
                           solid_capstyle="butt", zorder=6))
    if rng.random() < 0.7:  # centre cap / pin
        ax.add_artist(Circle((cx, cy), rng.uniform(0.03, 0.08) * R, facecolor=centre_colour,
                            edgecolor="none", lw=0, zorder=7))

    # Background, composited in numpy under the transparent figure; then grey and noise.
    background = factors["background"]
    rimless = shape == "no_rim"
    back = face if rimless else _colour(rng, (0, 255), rng.uniform(0, 60))
    back = np.broadcast_to(back, (size, size, 3))
    if background == "gradient":
        other = _colour(rng, face_band if rimless else (0, 255), rng.uniform(0, 60))
        phi = rng.uniform(0, 2 * np.pi)
        s = (canvas.x * np.cos(phi) + canvas.y * np.sin(phi)) / np.sqrt(8) + 0.5  # 0..1 across the image
        back = back * (1 - s[..., None]) + other * s[..., None]
    rgba = canvas.rgba()
    alpha = rgba[..., 3:]
    grey = (rgba[..., :3] * alpha + back * (1 - alpha)) @ _GREY * 255
    if background == "noise":
        grey = grey + rng.normal(0.0, rng.uniform(3, 12), grey.shape)
    image = np.clip(np.rint(grey), 0, 255).astype(np.uint8)
    layout = {"centre": ((cx + 1) / 2 * size, (1 - cy) / 2 * size), "radius": R * size / 2, "rotation": rot}
    return image, factors, layout


def draw_clock(rng, hour, minute, offset=0.0, size=128, **factors):
    """Draw one clock showing ``hour:minute`` + ``offset`` minutes.

    ``rng`` is a numpy Generator or an integer seed; keyword ``factors``
    (names and values from ``FACTORS``) fix those factors, the others are drawn.
    Returns ``(image, factors, layout)``: the grey uint8 (size, size) image, the
    factor dict, and ``layout`` = {"centre": (x, y) in pixels from the top-left
    corner of the image, "radius": dial radius in pixels, "rotation": clockwise
    turn of the whole clock in degrees}.
    """
    hour, minute = _whole("hour", hour, 0, 11), _whole("minute", minute, 0, 59)
    size = _whole("size", size, 32)
    if not -0.5 <= float(offset) < 0.5:
        raise ZooError(f"offset must be in [-0.5, 0.5) minutes, got {offset}")
    for name, value in factors.items():
        if name not in FACTORS:
            raise ZooError(f"unknown clock factor {name!r}; known: {', '.join(FACTORS)}")
        if value not in FACTORS[name]:
            raise ZooError(f"clock factor {name} cannot be {value!r}; allowed: {', '.join(FACTORS[name])}")
    if not isinstance(rng, np.random.Generator):
        rng = np.random.default_rng(_whole("rng seed", rng, 0))
    return _paint(_Canvas(size), rng, hour, minute, float(offset), factors)


def render(count, seed, size=128, progress=False, start=0):
    """-> (images, labels, factors)

    images: uint8 array (count, size, size), grayscale, 0 black .. 255 white.
    labels: int64 array (count, 2): [hour 0-11, minute 0-59].
    factors: list of ``count`` dicts, str -> str, the drawn style of each clock
    (keys and values as in ``FACTORS``).
    Clock i depends only on ``rng = np.random.default_rng([seed, i])``: it is
    ``draw_clock(rng, hour, minute, offset, size)`` after ``hour = rng.integers(12)``,
    ``minute = rng.integers(60)``, ``offset = rng.uniform(-0.5, 0.5)``; ``start``
    skips the first clocks (clocks start .. start + count - 1 of the seed).
    """
    count, seed, size = _whole("count", count, 1), _whole("seed", seed, 0), _whole("size", size, 32)
    start = _whole("start", start, 0)
    from tqdm import tqdm

    canvas = _Canvas(size)
    images = np.empty((count, size, size), np.uint8)
    labels = np.empty((count, 2), np.int64)
    styles = []
    for i in tqdm(range(count), disable=not progress, desc="mpl clocks", unit="clock"):
        rng = np.random.default_rng([seed, start + i])
        hour, minute, offset = int(rng.integers(12)), int(rng.integers(60)), rng.uniform(-0.5, 0.5)
        images[i], factors, _ = _paint(canvas, rng, hour, minute, offset, {})
        labels[i] = hour, minute
        styles.append(factors)
    return images, labels, styles
