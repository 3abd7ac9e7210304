"""A held-out renderer of the plainest clocks: consumer wall clocks as product photos.

Issue #44: on real photographs the release reader missed the easiest clocks, a plain
white dial with bold Arabic numerals, a short thick hour hand and a long minute hand,
photographed straight on. The other held-out renderers draw at the reader's input size;
a photo is taken at 600-2,000 pixels and brought down. This renderer draws each clock
with Pillow at such a size, adds what a camera adds (light falling off across the
dial, the hands' soft shadow on it, sensor noise, a slight blur, JPEG), and brings it
down to ``size`` as the serving path does (grey, bilinear with a reducing gap of 3, as
:func:`serve.images.preprocess`), so a reading here is the reading ``zoo predict-time
--no-find`` gives that photo.

It is written apart from the training renderer (``zoo.clocks.clockface``) and from the
other held-out renderers, sharing no code or constants with them: keep it so, or it
stops measuring transfer. Only the interface of ``mplclocks.render`` is copied.

Geometry: the dial is centred, upright (a roll of at most 3 degrees, as a hand-held
shot straight on), with radius ``fill`` / 2 of the frame; angles are clockwise from
the dial's 12. Time convention as the other held-out renderers: the hands show
t = hour*60 + minute + offset minutes, so the label is the nearest whole minute.
"""

import io
import math

import numpy as np

from zoo.errors import ZooError

#: Every factor recorded per clock, with its allowed values.
FACTORS = {
    "numerals": ("bold sans", "bold serif", "narrow", "none"),
    "numeral_size": ("medium (15-22%)", "large (22-32%)"),
    "ticks": ("none", "minutes", "hours"),
    "hands": ("baton", "tapered", "spade", "paddle"),
    "second": ("none", "red", "black", "counterweight"),
    "case": ("thin rim", "thick case", "frameless"),
    "wall": ("white", "light", "dark"),
    "resolution": ("600", "1200", "2000"),
    "fill": ("tight (85-98%)", "framed (60-85%)"),
    "camera": ("clean", "photo"),
}
_PROBABILITIES = {
    "numerals": (0.4, 0.2, 0.2, 0.2),
    "second": (0.3, 0.35, 0.15, 0.2),
    "camera": (0.3, 0.7),
}
_FONTS = {
    "bold sans": ("DejaVuSans-Bold.ttf", "LiberationSans-Bold.ttf"),
    "bold serif": ("DejaVuSerif-Bold.ttf", "LiberationSerif-Bold.ttf"),
    "narrow": ("LiberationSansNarrow-Bold.ttf", "DejaVuSansCondensed-Bold.ttf"),
}
_FONT_DIRS = ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/truetype/liberation")
_SIZE_RANGES = {"medium (15-22%)": (0.15, 0.22), "large (22-32%)": (0.22, 0.32)}
_FILL_RANGES = {"tight (85-98%)": (0.85, 0.98), "framed (60-85%)": (0.60, 0.85)}


def _whole(name, value, minimum, maximum=None):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum or (
            maximum is not None and value > maximum):
        bound = f"{minimum}..{maximum}" if maximum is not None else f">= {minimum}"
        raise ZooError(f"{name} must be a whole number {bound}, got {value!r}")
    return int(value)


def _font(family, points):
    """A TrueType font of the family at ``points`` pixels. matplotlib's own DejaVu files
    come first (every install has them, so the same clock is drawn alike everywhere),
    then Debian's DejaVu and Liberation folders."""
    import os

    import matplotlib
    from PIL import ImageFont

    bundled = os.path.join(os.path.dirname(matplotlib.__file__), "mpl-data", "fonts", "ttf")
    for name in _FONTS[family]:
        for folder in (bundled, *_FONT_DIRS):
            if os.path.isfile(os.path.join(folder, name)):
                return ImageFont.truetype(os.path.join(folder, name), points)
    return ImageFont.truetype(os.path.join(bundled, "DejaVuSans-Bold.ttf"), points)


def _sample(rng, fixed):
    factors = {}
    for name, values in FACTORS.items():
        if name in fixed:
            factors[name] = fixed[name]
        else:
            factors[name] = values[int(rng.choice(len(values), p=_PROBABILITIES.get(name)))]
    return factors


def _hand_polygon(centre, angle, length, width, tail, shape):
    """A hand's outline in pixels: ``length`` and ``width`` in pixels, ``tail`` behind the pivot."""
    cx, cy = centre
    a = math.radians(angle)
    ux, uy = math.sin(a), -math.cos(a)
    px, py = -uy, ux

    def at(along, across):
        return cx + ux * along + px * across, cy + uy * along + py * across

    half = width / 2
    if shape == "baton":
        return [at(-tail, half), at(length, half), at(length, -half), at(-tail, -half)]
    if shape == "tapered":
        return [at(-tail, half), at(length, half * 0.15), at(length, -half * 0.15), at(-tail, -half)]
    if shape == "paddle":  # widest two thirds out, a rounded point
        return [at(-tail, half * 0.5), at(length * 0.6, half * 1.2), at(length * 0.9, half * 0.8), at(length, 0),
                at(length * 0.9, -half * 0.8), at(length * 0.6, -half * 1.2), at(-tail, -half * 0.5)]
    # spade: a shaft with a leaf near the tip
    return [at(-tail, half * 0.6), at(length * 0.65, half * 0.6), at(length * 0.72, half * 1.5), at(length, 0),
            at(length * 0.72, -half * 1.5), at(length * 0.65, -half * 0.6), at(-tail, -half * 0.6)]


def _draw_dial(rng, factors, hour_angle, minute_angle, second_angle, pixels):
    """The clock as an RGB Pillow image of ``pixels`` square, and its layout."""
    from PIL import Image, ImageDraw

    wall = {"white": 250, "light": int(rng.uniform(200, 235)), "dark": int(rng.uniform(40, 110))}[factors["wall"]]
    tint = rng.uniform(-6, 6, 3)
    image = Image.new("RGB", (pixels, pixels), tuple(int(np.clip(wall + t, 0, 255)) for t in tint))
    draw = ImageDraw.Draw(image)
    centre = (pixels / 2 + rng.uniform(-0.02, 0.02) * pixels, pixels / 2 + rng.uniform(-0.02, 0.02) * pixels)
    low, high = _FILL_RANGES[factors["fill"]]
    outer = rng.uniform(low, high) * pixels / 2
    case = factors["case"]
    dial = outer * {"thin rim": rng.uniform(0.95, 0.985), "thick case": rng.uniform(0.8, 0.9), "frameless": 1.0}[case]
    case_grey = int(rng.choice([25, 60, 140, 190, 225]))
    face = int(rng.uniform(238, 255))

    def disc(radius, fill, outline=None, width=0):
        x, y = centre
        draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=fill, outline=outline, width=width)

    if case != "frameless":
        disc(outer, (case_grey,) * 3)
    disc(dial, (face, face, face - int(rng.uniform(0, 8))), outline=(90, 90, 90) if case == "frameless" else None,
         width=max(1, int(dial * 0.006)))
    ink = (int(rng.uniform(5, 35)),) * 3
    roll = rng.uniform(-3, 3)

    def point(angle, radius):
        a = math.radians(angle + roll)
        return centre[0] + radius * math.sin(a), centre[1] - radius * math.cos(a)

    if factors["ticks"] != "none":
        for k in range(60):
            major = k % 5 == 0
            if factors["ticks"] == "hours" and not major:
                continue
            inner = dial * (0.88 if major else 0.93)
            draw.line([point(k * 6, inner), point(k * 6, dial * 0.97)], fill=ink,
                      width=max(1, int(dial * (0.022 if major else 0.008))))
    if factors["numerals"] != "none":
        low, high = _SIZE_RANGES[factors["numeral_size"]]
        height = rng.uniform(low, high)
        font = _font(factors["numerals"], max(6, int(dial * height)))
        ring = dial * (0.86 - height / 2 - (0.05 if factors["ticks"] != "none" else 0.0))
        for n in range(1, 13):
            draw.text(point(n * 30, ring), str(n), font=font, fill=ink, anchor="mm")
        numeral_inner = ring - dial * height / 2
    else:
        numeral_inner = dial * 0.85
    # Realistic hands: the minute hand reaches the ticks, the hour hand stops short of
    # the numerals and is the thicker of the two.
    minute_length = dial * rng.uniform(0.78, 0.93)
    hour_length = min(dial * rng.uniform(0.45, 0.62), numeral_inner * rng.uniform(0.85, 1.0))
    minute_width = dial * rng.uniform(0.025, 0.05)
    hour_width = minute_width * rng.uniform(1.4, 2.2)
    tail = dial * rng.uniform(0.0, 0.15)
    shape = factors["hands"]
    hands = [(hour_angle, hour_length, hour_width, ink), (minute_angle, minute_length, minute_width, ink)]
    second = factors["second"]
    layout = {"centre": centre, "radius": dial, "rotation": roll, "hour_length": hour_length / dial,
              "minute_length": minute_length / dial}
    return image, draw, hands, second, (point, tail, shape, dial, ink), layout


def _paint(rng, hour, minute, offset, size, fixed, colour):
    from PIL import Image, ImageDraw, ImageFilter

    factors = _sample(rng, fixed)
    t = (hour * 60 + minute + offset) % 720
    hour_angle, minute_angle = 0.5 * t, 6.0 * (t % 60)
    second_angle = float(rng.uniform(0, 360))
    pixels = int(factors["resolution"])
    image, draw, hands, second, (point, tail, shape, dial, ink), layout = _draw_dial(
        rng, factors, hour_angle, minute_angle, second_angle, pixels)
    photo = factors["camera"] == "photo"
    centre = layout["centre"]
    roll = layout["rotation"]
    if photo:
        # The hands stand off the dial: a soft shadow, down and to one side.
        shadow = Image.new("L", image.size, 0)
        shade = ImageDraw.Draw(shadow)
        offset_px = dial * rng.uniform(0.01, 0.03)
        direction = math.radians(rng.uniform(30, 150))
        shifted = (centre[0] + offset_px * math.cos(direction), centre[1] + offset_px * math.sin(direction))
        for angle, length, width, _ in hands:
            shade.polygon(_hand_polygon(shifted, angle + roll, length, width, tail, shape), fill=255)
        shadow = shadow.filter(ImageFilter.GaussianBlur(dial * 0.012))
        strength = rng.uniform(0.15, 0.35)
        array = np.asarray(image, np.float32) * (1 - strength * np.asarray(shadow, np.float32)[..., None] / 255)
        image = Image.fromarray(np.clip(array, 0, 255).astype(np.uint8))
        draw = ImageDraw.Draw(image)
    for angle, length, width, fill in hands:
        draw.polygon(_hand_polygon(centre, angle + roll, length, width, tail, shape), fill=fill)
    if second != "none":
        red = (int(rng.uniform(170, 220)), int(rng.uniform(10, 40)), int(rng.uniform(10, 40)))
        fill = ink if second == "black" else red
        draw.polygon(_hand_polygon(centre, second_angle + roll, dial * rng.uniform(0.8, 0.92), dial * 0.012,
                                   dial * rng.uniform(0.15, 0.25), "baton"), fill=fill)
        if second == "counterweight":
            x, y = point(second_angle + 180, dial * 0.15)
            r = dial * rng.uniform(0.03, 0.05)
            draw.ellipse([x - r, y - r, x + r, y + r], fill=fill)
    cap = dial * rng.uniform(0.03, 0.07)
    draw.ellipse([centre[0] - cap, centre[1] - cap, centre[0] + cap, centre[1] + cap], fill=ink)
    if photo:
        array = np.asarray(image, np.float32)
        yy, xx = np.mgrid[0:pixels, 0:pixels] / pixels
        lx, ly = rng.uniform(0.2, 0.8, 2)
        light = rng.uniform(0.85, 1.0) - rng.uniform(0.1, 0.3) * ((xx - lx) ** 2 + (yy - ly) ** 2)
        array = array * light[..., None] + rng.normal(0, rng.uniform(1, 4), array.shape)
        image = Image.fromarray(np.clip(array, 0, 255).astype(np.uint8)).filter(
            ImageFilter.GaussianBlur(pixels * rng.uniform(0.0005, 0.0015)))
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=int(rng.uniform(75, 95)))
        buffer.seek(0)
        image = Image.open(buffer).convert("RGB")
    # Brought down as serve.images.preprocess does (the photo is square): grey, then
    # bilinear with Pillow's reducing gap of 3 (serve.images.REDUCING_GAP).
    small = (image if colour else image.convert("L")).resize((size, size), Image.Resampling.BILINEAR, reducing_gap=3.0)
    return np.asarray(small, np.uint8), factors, layout, image


def draw_clock(rng, hour, minute, offset=0.0, size=128, colour=False, full=False, **factors):
    """Draw one clock showing ``hour:minute`` + ``offset`` minutes.

    Args:
        rng: a numpy Generator, or an integer seed.
        hour, minute: 0-11 and 0-59.
        offset: minutes added, in [-0.5, 0.5).
        size: the side of the image returned, as the reader sees it.
        colour: an RGB image instead of a grey one.
        full: also return the photo at its full resolution (a Pillow image).
        **factors: names and values from ``FACTORS`` to fix; the others are drawn.

    Returns:
        ``(image, factors, layout)``, and the full-resolution photo with ``full``.
        ``layout``: the dial's centre and radius in the photo's pixels, its roll in
        degrees, and the hands' lengths in dial radii.

    Example:
        >>> image, factors, layout = draw_clock(0, 10, 10, numerals="bold sans", second="none")
    """
    hour, minute = _whole("hour", hour, 0, 11), _whole("minute", minute, 0, 59)
    size = _whole("size", size, 32)
    if not isinstance(offset, (int, float, np.integer, np.floating)) or not -0.5 <= float(offset) < 0.5:
        raise ZooError(f"offset must be a number in [-0.5, 0.5) minutes, got {offset!r}")
    for name, value in factors.items():
        if name not in FACTORS:
            raise ZooError(f"unknown clock factor {name!r}; known: {', '.join(FACTORS)}")
        if value not in FACTORS[name]:
            raise ZooError(f"clock factor {name} cannot be {value!r}; allowed: {', '.join(FACTORS[name])}")
    if not isinstance(rng, np.random.Generator):
        rng = np.random.default_rng(_whole("rng seed", rng, 0))
    image, drawn, layout, photo = _paint(rng, hour, minute, float(offset), size, factors, colour)
    return (image, drawn, layout, photo) if full else (image, drawn, layout)


def render(count, seed, size=128, progress=False, start=0, colour=False):
    """-> (images, labels, factors), as ``mplclocks.render``: clock i depends only on
    ``np.random.default_rng([seed, start + i])``, which draws its hour, minute and
    offset, then its factors.

    Example:
        >>> images, labels, factors = render(200, 0, size=128)
    """
    count, seed, size = _whole("count", count, 1), _whole("seed", seed, 0), _whole("size", size, 32)
    start = _whole("start", start, 0)
    from tqdm import tqdm

    images = np.empty((count, size, size, 3) if colour else (count, size, size), np.uint8)
    labels = np.empty((count, 2), np.int64)
    styles = []
    for i in tqdm(range(count), disable=not progress, desc="product clocks", unit="clock"):
        rng = np.random.default_rng([seed, start + i])
        hour, minute, offset = int(rng.integers(12)), int(rng.integers(60)), rng.uniform(-0.5, 0.5)
        images[i], factors, _, _ = _paint(rng, hour, minute, offset, size, {}, colour)
        labels[i] = hour, minute
        styles.append(factors)
    return images, labels, styles
