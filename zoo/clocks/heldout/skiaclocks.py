"""A held-out analog-clock renderer drawn with skia-python, made to look photographed.

The clock readers are trained on the project's own renderer and judged on clocks
they never saw.  This module draws such clocks with a different drawing stack
(Skia, through skia-python) and was written apart from the training renderer
(``zoo.clocks.clockface``) and from ``mplclocks``, sharing no code or
constants with them; only the interface of ``mplclocks.render`` is copied.
Keep it so: aligning it with the training renderer would stop it measuring
transfer.

Where the matplotlib renderer draws tidy clocks, this one aims at the world's:
colour dials on wall, alarm, wrist, station, square and children's teaching
clocks; cases, bezels, straps, bells; line, baton, sword, skeleton, ornate and
arrow hands with tails, second hands with counterweights, alarm hands, hand
shadows and glass glare; backgrounds of gradients, noise textures, clutter and
bokeh; a projective warp of the whole clock (tilt up to 60 degrees out of the
image plane, and in-plane turns); lines and objects crossing the dial; colour
casts, exposure, blur, low resolution, sensor noise and JPEG artefacts (Pillow);
and off-centre framing where the dial spans 30-100% of the frame.  The time
stays readable to a person: hands contrast with the dial, and an occluding
object keeps clear of the hub and of both hands' directions.

Geometry: the clock is drawn in dial units (dial radius ``DIAL_RADIUS``, x right,
y down, 12 o'clock at (0, -DIAL_RADIUS)), and one 3 x 3 homography maps dial
units to image pixels (pixel column i spans x in [i, i + 1)).

Time convention: the hands show t = hour*60 + minute + offset minutes (offset in
[-0.5, 0.5)), so the label is the nearest whole minute: minute hand at
6 deg * (t mod 60), hour hand at 0.5 deg * t, second hand at 360 deg * (t mod 1),
clockwise from the dial's own 12.

Colour: clocks are painted in RGB; ``render(..., colour=True)`` returns RGB
images and the default returns grey ones, equal to ``to_grey`` of the RGB.

Every clock depends only on (seed, index), through one numpy Generator; Skia
draws deterministically and the fonts are matplotlib's own files, read without
fontconfig, so two machines with the same packages draw the same pixels.
This module samples the factors, places the clock and assembles the picture;
:mod:`skiadial` draws the clock itself and :mod:`skiascene` the scene and camera.
"""

import numpy as np
import skia

from zoo.clocks.heldout import skiadial, skiascene
from zoo.common import imagegrid
from zoo.errors import ZooError

#: Every factor recorded per clock, with its allowed values.
FACTORS = {
    "case": ("wall", "alarm", "wrist", "station", "square", "teaching"),
    "face": ("light", "dark", "colour"),
    "numerals": ("arabic", "roman", "quarters", "none"),
    "ticks": ("none", "hours", "minutes", "dots"),
    "hands": ("line", "baton", "sword", "skeleton", "ornate", "arrow"),
    "extra_hands": ("none", "second", "alarm", "second+alarm"),
    "tilt": ("frontal (<15 deg)", "oblique (15-40 deg)", "steep (40-60 deg)"),
    "rotation": ("upright (<8 deg)", "tilted (8-30 deg)", "turned (>30 deg)"),
    "fill": ("small (30-55%)", "medium (55-80%)", "large (80-100%)"),
    "background": ("gradient", "texture", "clutter", "bokeh"),
    "occlusion": ("none", "lines", "object"),
    "glare": ("no", "yes"),
    "lighting": ("normal", "cast", "dark", "bright"),
    "degradation": ("none", "blur", "low_res", "noise", "jpeg"),
}
_PROBABILITIES = {  # factors not named here are uniform
    "face": (0.5, 0.25, 0.25),
    "extra_hands": (0.45, 0.35, 0.08, 0.12),
    "tilt": (0.45, 0.35, 0.20),
    "rotation": (0.65, 0.25, 0.10),
    "occlusion": (0.5, 0.25, 0.25),
    "glare": (0.6, 0.4),
    "lighting": (0.4, 0.3, 0.15, 0.15),
    "degradation": (0.3, 0.2, 0.15, 0.2, 0.15),
}
# The numeric range each banded factor value stands for.
_RANGES = {
    "tilt": ((0, 15), (15, 40), (40, 60)),
    "rotation": ((0, 8), (8, 30), (30, 180)),
    "fill": ((0.30, 0.55), (0.55, 0.80), (0.80, 1.00)),
}
DIAL_RADIUS = skiadial.DIAL_RADIUS
_R = DIAL_RADIUS


def _integer(name, value, minimum, maximum=None):
    """Check that ``value`` is an integer in range, or raise a one-line ZooError."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ZooError(f"{name} must be an integer, got {value!r}")
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"at least {minimum}" if maximum is None else f"between {minimum} and {maximum}"
        raise ZooError(f"{name} must be {bound}, got {value}")
    return int(value)


def to_grey(rgb):
    """Grey uint8 image(s) from RGB uint8 (..., 3), with ITU-R 601 weights."""
    return np.clip(np.rint(rgb.astype(np.float32) @ skiadial.GREY.astype(np.float32)), 0, 255).astype(np.uint8)


def _matrix(h):
    """A skia Matrix from a 3 x 3 numpy homography."""
    return skia.Matrix.MakeAll(*(float(v) for v in h.ravel()))


def _homography(rng, factors, size):
    """Dial units -> image pixels: in-plane turn, tilt, pinhole projection, fit to the frame."""
    low, high = _RANGES["rotation"][FACTORS["rotation"].index(factors["rotation"])]
    rotation = float(rng.uniform(low, high) * rng.choice((-1.0, 1.0)))
    low, high = _RANGES["tilt"][FACTORS["tilt"].index(factors["tilt"])]
    tilt, axis = np.radians(rng.uniform(low, high)), rng.uniform(0, np.pi)
    c, s = np.cos(np.radians(rotation)), np.sin(np.radians(rotation))
    turn = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
    k = np.array([np.cos(axis), np.sin(axis), 0.0])
    cross = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    lean = np.eye(3) + np.sin(tilt) * cross + (1 - np.cos(tilt)) * cross @ cross  # Rodrigues
    m = lean @ turn
    distance = _R * np.exp(rng.uniform(np.log(2.8), np.log(12.0)))  # nearer camera, stronger perspective
    h = np.array([[m[0, 0], m[0, 1], 0], [m[1, 0], m[1, 1], 0], [m[2, 0], m[2, 1], distance]])
    around = np.linspace(0, 2 * np.pi, 73)
    rim = skiadial.map_points(h, _R * np.c_[np.sin(around), np.cos(around)])
    low, high = _RANGES["fill"][FACTORS["fill"].index(factors["fill"])]
    extent = rim.max(0) - rim.min(0)
    scale = rng.uniform(low, high) * size / extent.max()
    margin = 0.05 * extent.max() * scale  # the rim may leave the frame a little
    corner = [rng.uniform(-margin, max(-margin, size + margin - e * scale)) for e in extent]
    place = np.array([[scale, 0, corner[0] - scale * rim[:, 0].min()],
                      [0, scale, corner[1] - scale * rim[:, 1].min()], [0, 0, 1]])
    return place @ h, rotation, float(np.degrees(tilt)), float(extent.max() * scale / 2)


def _sample_factors(rng, fixed):
    """The factors in ``fixed``, and the others drawn from ``rng``."""
    factors = {}
    for name, values in FACTORS.items():
        factors[name] = fixed.get(name) or values[rng.choice(len(values), p=_PROBABILITIES.get(name))]
    if factors["case"] == "teaching" and "numerals" not in fixed:
        factors["numerals"] = "arabic"  # a teaching clock always shows its numbers
    return factors


def _paint_clock(rng, hour, minute, offset, size, fixed):
    """Draw one clock; returns (RGB uint8 image, factors, layout)."""
    factors = _sample_factors(rng, fixed)
    h, rotation, tilt, radius = _homography(rng, factors, size)
    work = size
    if factors["degradation"] == "low_res":  # a dial about 32 px across, enlarged to the frame
        work = int(min(size, max(16, round(size * rng.uniform(24, 36) / (2 * radius)))))
    shrink = np.diag([work / size, work / size, 1.0])
    pixels = np.zeros((work, work, 4), np.uint8)
    surface = skia.Surface(pixels, colorType=skia.kRGBA_8888_ColorType, alphaType=skia.kPremul_AlphaType)
    with surface as canvas:
        skiascene.draw_background(canvas, rng, factors["background"], work)
        canvas.save()
        canvas.concat(_matrix(shrink @ h))
        palette = skiadial.make_palette(rng, factors["face"], factors["case"])
        skiadial.draw_case(canvas, rng, factors["case"], palette)
        skiadial.draw_face(canvas, rng, palette, factors["case"])
        inner = skiadial.draw_ticks(canvas, rng, factors["ticks"], palette["ink"])
        skiadial.draw_numerals(canvas, rng, factors["numerals"], inner, palette, factors["case"])
        t = (hour * 60 + minute + offset) % 720
        hands = skiadial.draw_hands(canvas, rng, factors, t, palette, _R * size / (radius * work))
        if factors["glare"] == "yes":
            skiadial.draw_glare(canvas, rng)
        canvas.restore()
        if factors["occlusion"] != "none":
            skiascene.draw_occluders(canvas, rng, factors["occlusion"], shrink @ h, hands, radius * work / size, work)
    image = skiascene.camera(rng, pixels[..., :3], factors, size)
    centre = skiadial.map_points(h, np.zeros((1, 2)))[0]
    layout = {"centre": (float(centre[0]), float(centre[1])), "radius": radius, "rotation": rotation,
              "tilt": tilt, "homography": h}
    return image, factors, layout


def draw_clock(rng, hour, minute, offset=0.0, size=128, colour=False, **factors):
    """Draw one clock showing ``hour:minute`` + ``offset`` minutes.

    Args:
        rng: a numpy Generator, or an integer seed.
        hour, minute: the time shown, 0-11 and 0-59.
        offset: minutes added to the time, in [-0.5, 0.5) (the label is the nearest minute).
        size: image side in pixels, at least 32.
        colour: return an RGB (size, size, 3) image instead of a grey (size, size) one.
        **factors: names and values from ``FACTORS`` to fix; the others are drawn.

    Returns:
        ``(image, factors, layout)``: the uint8 image, the factor dict, and ``layout`` =
        {"centre": (x, y) dial centre in pixels, "radius": half the dial's larger extent in
        pixels, "rotation": in-plane turn in degrees, "tilt": out-of-plane tilt in degrees,
        "homography": 3 x 3 array mapping dial units (``DIAL_RADIUS``, y down) to pixels}.

    Example:
        >>> image, factors, layout = draw_clock(0, 10, 10, case="teaching")
    """
    hour, minute = _integer("hour", hour, 0, 11), _integer("minute", minute, 0, 59)
    size = _integer("size", size, 32)
    if not isinstance(offset, (int, float, np.integer, np.floating)) or not -0.5 <= float(offset) < 0.5:
        raise ZooError(f"offset must be a number in [-0.5, 0.5) minutes, got {offset!r}")
    for name, value in factors.items():
        if name not in FACTORS:
            raise ZooError(f"unknown clock factor {name!r}; known: {', '.join(FACTORS)}")
        if value not in FACTORS[name]:
            raise ZooError(f"clock factor {name} cannot be {value!r}; allowed: {', '.join(FACTORS[name])}")
    if not isinstance(rng, np.random.Generator):
        rng = np.random.default_rng(_integer("rng seed", rng, 0))
    image, drawn, layout = _paint_clock(rng, hour, minute, float(offset), size, factors)
    return (image if colour else to_grey(image)), drawn, layout


def render(count, seed, size=128, progress=False, start=0, colour=False):
    """-> (images, labels, factors)

    images: uint8 array (count, size, size), grey, 0 black .. 255 white; with ``colour``,
    (count, size, size, 3) RGB, of which the grey images are ``to_grey``.
    labels: int64 array (count, 2): [hour 0-11, minute 0-59].
    factors: list of ``count`` dicts, str -> str, the drawn style of each clock
    (keys and values as in ``FACTORS``).
    Clock i depends only on ``rng = np.random.default_rng([seed, i])``: it is
    ``draw_clock(rng, hour, minute, offset, size)`` after ``hour = rng.integers(12)``,
    ``minute = rng.integers(60)``, ``offset = rng.uniform(-0.5, 0.5)``; ``start``
    skips the first clocks (clocks start .. start + count - 1 of the seed).

    Example:
        >>> images, labels, factors = render(2000, 0, size=128)
    """
    count, seed, size = _integer("count", count, 1), _integer("seed", seed, 0), _integer("size", size, 32)
    start = _integer("start", start, 0)
    from tqdm import tqdm

    images = np.empty((count, size, size, 3) if colour else (count, size, size), np.uint8)
    labels = np.empty((count, 2), np.int64)
    styles = []
    for i in tqdm(range(count), disable=not progress, desc="skia clocks", unit="clock"):
        rng = np.random.default_rng([seed, start + i])
        hour, minute, offset = int(rng.integers(12)), int(rng.integers(60)), rng.uniform(-0.5, 0.5)
        image, factors, _ = _paint_clock(rng, hour, minute, offset, size, {})
        images[i] = image if colour else to_grey(image)
        labels[i] = hour, minute
        styles.append(factors)
    return images, labels, styles


def contact_sheet(path, count=48, seed=0, size=96, columns=8):
    """Write ``count`` colour clocks of ``seed`` as one PNG, for a person to look at; returns the path.

    Example:
        >>> contact_sheet("docs/heldout-skia.png")  # doctest: +SKIP
    """
    images, _, _ = render(count, seed, size=size, colour=True)
    return imagegrid.write_png(path, imagegrid.tile(images, columns=columns))
