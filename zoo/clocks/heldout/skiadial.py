"""The clock of :mod:`zoo.clocks.heldout.skiaclocks`, drawn with skia in dial units.

Dial units: the dial's radius is ``DIAL_RADIUS``, x points right, y down, 12 o'clock
is at (0, -DIAL_RADIUS); the caller sets the canvas matrix that maps them to pixels.
Also the colour, paint and font helpers the scene module shares.
"""

import colorsys
import functools
import os

import numpy as np
import skia

DIAL_RADIUS = 100.0
_R = DIAL_RADIUS
GREY = np.array([0.299, 0.587, 0.114])  # ITU-R 601 luma weights
_ROMAN = ("XII", "I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI")
# Font files shipped with matplotlib (a dependency), loaded without fontconfig so every
# machine draws the same glyphs.
_FONT_FILES = ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSerif.ttf", "DejaVuSerif-Bold.ttf",
               "DejaVuSansMono-Bold.ttf", "STIXGeneral.ttf", "STIXGeneralBol.ttf", "cmr10.ttf", "cmss10.ttf")


# ---------------------------------------------------------------- colours and paints

def hsv(h, s, v):
    """RGB (0..1 numpy array) of a hue, saturation and value; the hue wraps around."""
    return np.array(colorsys.hsv_to_rgb(h % 1.0, float(np.clip(s, 0, 1)), float(np.clip(v, 0, 1))))


def luma(rgb):
    """Grey level (0..1) of an RGB colour."""
    return float(np.dot(rgb, GREY))


def argb(rgb, alpha=1.0):
    """A skia colour (32-bit ARGB) from RGB in 0..1 and an opacity."""
    r, g, b = np.clip(rgb, 0, 1)
    return skia.Color4f(float(r), float(g), float(b), float(alpha)).toColor()


def make_paint(rgb, alpha=1.0, stroke=None, blur=None, cap=None, shader=None):
    """An anti-aliased fill paint, or a stroke paint when ``stroke`` (width) is given."""
    r, g, b = np.clip(rgb, 0, 1)
    paint = skia.Paint(Color4f=skia.Color4f(float(r), float(g), float(b), float(alpha)), AntiAlias=True)
    if stroke is not None:
        paint.setStyle(skia.Paint.kStroke_Style)
        paint.setStrokeWidth(float(stroke))
        paint.setStrokeCap(cap or skia.Paint.kButt_Cap)
    if blur:
        paint.setMaskFilter(skia.MaskFilter.MakeBlur(skia.kNormal_BlurStyle, float(blur), True))
    if shader is not None:
        paint.setShader(shader)
    return paint


def random_colour(rng, muted=True):
    """A plausible colour for walls, cases and objects (muted) or for toys (bright)."""
    if muted:
        return hsv(rng.uniform(), rng.uniform(0.0, 0.55), rng.uniform(0.15, 0.95))
    return hsv(rng.uniform(), rng.uniform(0.6, 1.0), rng.uniform(0.6, 1.0))


def _material(rng):
    """A case material: wood, black, chrome, gold, white or coloured plastic."""
    kind = rng.integers(6)
    if kind == 0:
        return hsv(rng.uniform(0.05, 0.1), rng.uniform(0.5, 0.8), rng.uniform(0.25, 0.6))
    if kind == 1:
        return hsv(0, 0, rng.uniform(0.03, 0.15))
    if kind == 2:
        return hsv(rng.uniform(0.5, 0.65), rng.uniform(0, 0.1), rng.uniform(0.6, 0.85))
    if kind == 3:
        return hsv(rng.uniform(0.1, 0.14), rng.uniform(0.45, 0.7), rng.uniform(0.6, 0.9))
    if kind == 4:
        return hsv(0, 0, rng.uniform(0.85, 0.97))
    return random_colour(rng, muted=False) * rng.uniform(0.6, 1.0)


def make_palette(rng, face, case):
    """Face, ink (numerals, ticks, hands) and accent colours, with ink contrasting the face."""
    if face == "light":
        dial = hsv(rng.uniform(), rng.uniform(0, 0.15), rng.uniform(0.86, 1.0))
        ink = hsv(rng.uniform(), rng.uniform(0, 0.6), rng.uniform(0.0, 0.25))
    elif face == "dark":
        dial = hsv(rng.uniform(), rng.uniform(0, 0.7), rng.uniform(0.04, 0.28))
        ink = hsv(rng.uniform(0.1, 0.17), rng.uniform(0, 0.3), rng.uniform(0.85, 1.0))
    else:
        dial = hsv(rng.uniform(), rng.uniform(0.45, 0.9), rng.uniform(0.45, 0.85))
        dark = hsv(rng.uniform(), rng.uniform(0, 0.5), rng.uniform(0.0, 0.15))
        light = hsv(rng.uniform(), rng.uniform(0, 0.15), rng.uniform(0.9, 1.0))
        ink = dark if abs(luma(dark) - luma(dial)) > abs(luma(light) - luma(dial)) else light
    if case == "teaching" and face != "dark":
        dial = hsv(rng.uniform(), rng.uniform(0, 0.25), rng.uniform(0.9, 1.0))
    accent = hsv(rng.choice((0.0, 0.02, 0.08, 0.95)), rng.uniform(0.75, 1), rng.uniform(0.75, 1))
    if abs(luma(accent) - luma(dial)) < 0.2:
        accent = ink
    return {"dial": dial, "ink": ink, "accent": accent}


def map_points(h, points):
    """Apply homography ``h`` to (N, 2) points."""
    p = np.c_[points, np.ones(len(points))] @ h.T
    return p[:, :2] / p[:, 2:]


def polar(r, angle_deg):
    """Dial-unit point at radius ``r`` and ``angle_deg`` clockwise from 12."""
    a = np.radians(angle_deg)
    return float(r * np.sin(a)), float(-r * np.cos(a))


# ---------------------------------------------------------------- fonts and numerals

@functools.lru_cache(maxsize=None)
def _typeface(index):
    import matplotlib

    path = os.path.join(matplotlib.get_data_path(), "fonts", "ttf", _FONT_FILES[index])
    return skia.FontMgr.New_Custom_Empty().makeFromFile(path)


@functools.lru_cache(maxsize=4096)
def _text_path(font_index, text):
    """Outline of ``text`` at 100 units a em, centred on its ink box: (path, width, height)."""
    font = skia.Font(_typeface(font_index), 100.0)
    glyphs = font.textToGlyphs(text)
    path = skia.Path()
    for glyph, x in zip(glyphs, font.getXPos(glyphs)):
        outline = font.getPath(glyph)
        if outline is not None:
            outline.offset(x, 0)
            path.addPath(outline)
    box = path.computeTightBounds()
    path.offset(-(box.left() + box.right()) / 2, -(box.top() + box.bottom()) / 2)
    return path, box.width(), box.height()


def _draw_text(canvas, font_index, text, x, y, height, paint, angle=0.0, max_width=None):
    """Draw ``text`` centred at (x, y) with ink height ``height``, turned by ``angle`` degrees."""
    path, width, ink_height = _text_path(font_index, text)
    if ink_height <= 0:
        return
    scale = height / ink_height
    if max_width is not None and width * scale > max_width:
        scale = max_width / width
    canvas.save()
    canvas.translate(x, y)
    canvas.rotate(angle)
    canvas.scale(scale, scale)
    canvas.drawPath(path, paint)
    canvas.restore()


def noise_paint(rng, size, base, amplitude, stretch=1.0, turbulence=False, alpha=1.0):
    """A Perlin-noise paint of colour ``base`` +- ``amplitude``, grain scaled to the image size."""
    frequency = rng.uniform(0.02, 0.12) * 128 / size
    maker = skia.PerlinNoiseShader.MakeTurbulence if turbulence else skia.PerlinNoiseShader.MakeFractalNoise
    shader = maker(frequency / stretch, frequency * stretch, int(rng.integers(2, 5)), float(rng.integers(1000)))
    tint = np.clip(base + rng.normal(0, 0.05, 3), 0, 1)
    rows = []
    for channel in range(3):
        rows += [amplitude, 0, 0, 0, float(tint[channel] - amplitude / 2)]
    rows += [0, 0, 0, 0, float(alpha)]
    paint = skia.Paint(AntiAlias=True)
    paint.setShader(shader)
    paint.setColorFilter(skia.ColorFilters.Matrix(rows))
    return paint


def shifted(path, dx, dy):
    """A copy of ``path`` moved by (dx, dy)."""
    copy = skia.Path(path)
    copy.offset(float(dx), float(dy))
    return copy


def blob(rng, cx, cy, radius, corners=None):
    """A smooth random closed shape around (cx, cy)."""
    corners = corners or int(rng.integers(5, 9))
    angles = np.sort(rng.uniform(0, 2 * np.pi, corners))
    radii = radius * rng.uniform(0.55, 1.0, corners)
    points = np.c_[cx + radii * np.cos(angles), cy + radii * np.sin(angles)]
    mids = (points + np.roll(points, -1, 0)) / 2
    path = skia.Path()
    path.moveTo(*mids[-1])
    for point, mid in zip(points, mids):
        path.quadTo(float(point[0]), float(point[1]), float(mid[0]), float(mid[1]))
    path.close()
    return path


# ---------------------------------------------------------------- the clock (dial units)

def _ring(canvas, outer, inner, paint):
    """Fill the ring between two radii around the pivot."""
    path = skia.Path()
    path.addCircle(0, 0, outer)
    path.addCircle(0, 0, inner, skia.PathDirection.kCCW)
    canvas.drawPath(path, paint)


def _shaded(rng, colour, radius):
    """A paint of ``colour`` lit from the top left, metallic (sweep) or matt (linear)."""
    light, dark = np.clip(colour * 1.35 + 0.1, 0, 1), colour * 0.55
    if rng.uniform() < 0.4:
        colours = [argb(c) for c in (light, dark, light, dark, light)]
        shader = skia.GradientShader.MakeSweep(0, 0, colours, startAngle=rng.uniform(0, 90))
    else:
        shader = skia.GradientShader.MakeLinear([skia.Point(-radius, -radius), skia.Point(radius, radius)],
                                                [argb(light), argb(colour), argb(dark)])
    return make_paint(colour, shader=shader)


def draw_case(canvas, rng, case, palette):
    """Draw the case, its shadow on the wall, and what it carries (strap, bells, arm, bezel)."""
    material = _material(rng)
    shadow = make_paint((0, 0, 0), rng.uniform(0.25, 0.5), blur=rng.uniform(3, 8))
    dx, dy = rng.uniform(-8, 8), rng.uniform(2, 12)
    rim = rng.uniform(1.05, 1.22) * _R
    if case == "wrist":
        strap, width = random_colour(rng) * rng.uniform(0.4, 1.0), rng.uniform(0.75, 1.0) * _R
        band = skia.RRect.MakeRectXY(skia.Rect(-width / 2, -2.4 * _R, width / 2, 2.4 * _R), width / 4, width / 4)
        canvas.drawRRect(band.makeOffset(dx, dy), shadow)
        canvas.drawRRect(band, make_paint(strap))
        stitch = make_paint(np.clip(strap + 0.35, 0, 1), 0.8, stroke=1.5)
        stitch.setPathEffect(skia.DashPathEffect.Make([5.0, 4.0], 0.0))
        inner = skia.RRect(band)
        inner.inset(width * 0.08, width * 0.08)
        canvas.drawRRect(inner, stitch)
        for sx in (-1, 1):
            for sy in (-1, 1):  # lugs
                canvas.drawRect(skia.Rect(sx * width * 0.5 - 6, sy * rim * 0.75, sx * width * 0.5 + 6,
                                          sy * rim * 1.2).makeSorted(), _shaded(rng, material, rim))
        canvas.drawRect(skia.Rect(rim - 4, -9, rim + 14, 9), _shaded(rng, material, rim))  # crown
    elif case == "alarm":
        bell, knob = _shaded(rng, material, rim), make_paint(material * 0.7)
        for side in (-1, 1):  # two bell domes, flat side towards the dial
            canvas.save()
            canvas.rotate(side * rng.uniform(35, 45))
            dome = skia.Path()
            dome.addArc(skia.Rect(-rim * 0.45, -rim * 1.4, rim * 0.45, -rim * 0.5), 180, 180)
            dome.close()
            canvas.drawPath(shifted(dome, dx, dy), shadow)
            canvas.drawPath(dome, bell)
            canvas.drawCircle(0, -rim * 1.4, 6, knob)
            canvas.restore()
            fx, fy = polar(rim * 1.1, side * 145)
            leg = make_paint(material * 0.7, stroke=9, cap=skia.Paint.kRound_Cap)
            canvas.drawLine(fx * 0.8, fy * 0.8, fx, fy, leg)
        canvas.drawLine(0, -rim, 0, -rim * 1.3, make_paint(material * 0.7, stroke=6))
    elif case == "station":
        arm = skia.Rect(-0.12 * _R, -2.3 * _R, 0.12 * _R, -rim * 0.9)
        canvas.drawRect(arm.makeOffset(dx, dy), shadow)
        canvas.drawRect(arm, _shaded(rng, material * 0.8, rim))
        rim = rng.uniform(1.08, 1.16) * _R
    elif case == "square":
        half, corner = rng.uniform(1.08, 1.3) * _R, rng.uniform(0.0, 0.35) * _R
        box = skia.RRect.MakeRectXY(skia.Rect(-half, -half, half, half), corner, corner)
        canvas.drawRRect(box.makeOffset(dx, dy), shadow)
        canvas.drawRRect(box, _shaded(rng, material, half))
        return
    elif case == "teaching":
        material = random_colour(rng, muted=False)
        rim = rng.uniform(1.12, 1.28) * _R
    canvas.drawCircle(dx, dy, rim, shadow)
    canvas.drawCircle(0, 0, rim, _shaded(rng, material, rim))
    if rng.uniform() < 0.5:  # a bezel: a second, thinner ring next to the dial
        bezel = random_colour(rng) if case == "wrist" else material * rng.uniform(0.5, 1.3)
        _ring(canvas, _R + (rim - _R) * rng.uniform(0.3, 0.6), _R * 0.98, _shaded(rng, bezel, rim))


def draw_face(canvas, rng, palette, case):
    """Paint the dial: flat, vignetted, sunburst or printed paper, a teaching clock's pastel twelfths."""
    dial = palette["dial"]
    style = rng.integers(4)
    if case == "teaching" and rng.uniform() < 0.5 and luma(dial) > 0.6:  # pastel twelfths
        for k in range(12):
            colour = hsv(k / 12 + rng.uniform(), 0.25, 1.0) if k % 2 else dial
            canvas.drawArc(skia.Rect(-_R, -_R, _R, _R), k * 30 - 105, 30, True, make_paint(colour))
    elif style == 0:
        canvas.drawCircle(0, 0, _R, make_paint(dial))
    elif style == 1:  # vignetted
        shader = skia.GradientShader.MakeRadial(skia.Point(0, 0), _R, [argb(np.clip(dial * 1.1, 0, 1)),
                                                                       argb(dial * 0.8)])
        canvas.drawCircle(0, 0, _R, make_paint(dial, shader=shader))
    elif style == 2:  # sunburst, as on watches
        colours = [argb(np.clip(dial * (1.0 + 0.12 * ((k % 2) * 2 - 1)), 0, 1)) for k in range(25)]
        canvas.drawCircle(0, 0, _R, make_paint(dial, shader=skia.GradientShader.MakeSweep(0, 0, colours)))
    else:  # printed paper
        canvas.drawCircle(0, 0, _R, make_paint(dial))
        canvas.save()
        canvas.clipPath(skia.Path.Circle(0, 0, _R), skia.ClipOp.kIntersect, True)
        canvas.drawPaint(noise_paint(rng, 256, dial, 0.15, alpha=0.5))
        canvas.restore()
    if rng.uniform() < 0.5:  # the rim's shadow on the dial
        clear = argb((0, 0, 0), 0)
        colours = [clear, clear, argb((0, 0, 0), rng.uniform(0.2, 0.4))]
        shade = skia.GradientShader.MakeRadial(skia.Point(0, 0), _R, colours, [0.0, rng.uniform(0.75, 0.92), 1.0])
        canvas.drawCircle(0, 0, _R, make_paint((0, 0, 0), shader=shade))
    if rng.uniform() < 0.3:  # a brand name under the 12
        word = "".join(chr(65 + c) for c in rng.integers(0, 26, int(rng.integers(3, 8))))
        _draw_text(canvas, int(rng.integers(len(_FONT_FILES))), word, 0, -_R * 0.4, _R * 0.07,
                   make_paint(palette["ink"], 0.8), max_width=_R * 0.5)


def draw_ticks(canvas, rng, style, ink):
    """Draw the ticks; returns the radius inside them, where numerals may go."""
    outer = rng.uniform(0.9, 0.98) * _R
    if style == "none":
        return outer
    if style == "dots":
        big = rng.uniform(0.025, 0.045) * _R
        count = 60 if rng.uniform() < 0.4 else 12
        for k in range(count):
            major = count == 12 or k % 5 == 0
            radius = big * (1.3 if (count == 12 and k % 3 == 0) or (count == 60 and k % 15 == 0) else 1.0)
            canvas.drawCircle(*polar(outer - big, k * 360 / count), radius if major else big * 0.4,
                              make_paint(ink))
        return outer - 2.5 * big
    long, wide = rng.uniform(0.06, 0.16) * _R, rng.uniform(1.5, 5.5)
    quarter = rng.uniform(1.0, 1.6)
    if style == "minutes":
        short, thin = rng.uniform(0.025, 0.06) * _R, rng.uniform(0.6, 1.6)
        if rng.uniform() < 0.4:  # a railway track around the minutes
            for radius in (outer, outer - short):
                canvas.drawCircle(0, 0, radius, make_paint(ink, stroke=thin))
        for k in range(60):
            if k % 5:
                canvas.drawLine(*polar(outer - short, k * 6), *polar(outer, k * 6), make_paint(ink, stroke=thin))
    for k in range(12):
        length, width = (long * quarter, wide * quarter) if k % 3 == 0 else (long, wide)
        canvas.drawLine(*polar(outer - length, k * 30), *polar(outer, k * 30), make_paint(ink, stroke=width))
    return outer - long * quarter


def draw_numerals(canvas, rng, style, inner, palette, case):
    """Draw the hour numerals (and a teaching clock's minute numbers) inside radius ``inner``."""
    if style == "none":
        return
    font = int(rng.integers(len(_FONT_FILES)))
    height = rng.uniform(0.14, 0.24) * _R if style != "roman" else rng.uniform(0.11, 0.17) * _R
    radial = rng.uniform() < (0.5 if style == "roman" else 0.12)
    rainbow = case == "teaching" and rng.uniform() < 0.6
    if case == "teaching":  # minute numbers in a ring, hour numerals inside them
        small = height * 0.45
        for k in range(12):
            text = str(k * 5 or 60)
            _draw_text(canvas, font, text, *polar(inner - small * 0.8, k * 30), small, make_paint(palette["ink"]))
        inner -= small * 1.8
    roman = tuple(n.replace("IV", "IIII") for n in _ROMAN) if rng.uniform() < 0.3 else _ROMAN
    spacing = 2 * np.pi * (inner - height * 0.75) / 12  # between neighbouring numerals
    if style == "arabic":
        height = min(height, 0.5 * spacing)
    radius = inner - height * 0.75
    room = spacing * (0.85 if style == "arabic" else 1.3)  # keeps neighbours apart
    for k in range(12):
        if style == "quarters" and k % 3:
            continue
        text = roman[k] if style == "roman" else str(k or 12)
        colour = hsv(k / 12, 0.9, 0.7) if rainbow else palette["ink"]
        x, y = polar(radius, k * 30)
        _draw_text(canvas, font, text, x, y, height, make_paint(colour), angle=k * 30 if radial else 0.0,
                   max_width=min(room, height * (2.2 if style == "roman" else 1.6)))


def _hand_shape(style, length, width, tail):
    """A hand pointing to 12 from the pivot: list of (path, stroke width or None for a fill)."""
    path = skia.Path()
    if style == "line":
        path.moveTo(0, tail)
        path.lineTo(0, -length)
        return [(path, width)]
    if style == "baton":
        path.addRect(skia.Rect(-width / 2, -length, width / 2, tail))
        return [(path, None)]
    if style in ("sword", "skeleton"):
        w = width * (1.0 if style == "sword" else 1.6)
        path.addPoly([skia.Point(-w * 0.3, tail), skia.Point(-w / 2, 0), skia.Point(-w * 0.5, -length * 0.75),
                      skia.Point(0, -length), skia.Point(w * 0.5, -length * 0.75), skia.Point(w / 2, 0),
                      skia.Point(w * 0.3, tail)], True)
        return [(path, None)] if style == "sword" else [(path, max(1.0, w * 0.22))]
    if style == "ornate":  # a Breguet hand: a thin shaft, a ring near the tip, a spear point
        ring = 0.72 * length
        radius = max(3.0, width * 0.75)
        path.moveTo(0, tail)
        path.lineTo(0, -ring + radius)
        circle = skia.Path.Circle(0, -ring, radius)
        tip = skia.Path()
        tip.addPoly([skia.Point(-width * 0.45, -ring - radius * 0.8), skia.Point(0, -length),
                     skia.Point(width * 0.45, -ring - radius * 0.8)], True)
        return [(path, max(1.2, width * 0.4)), (circle, max(1.2, width * 0.35)), (tip, None)]
    head = max(4.0, width * 2.4)  # arrow
    path.moveTo(0, tail)
    path.lineTo(0, -length + head)
    tip = skia.Path()
    tip.addPoly([skia.Point(-head * 0.45, -length + head), skia.Point(0, -length),
                 skia.Point(head * 0.45, -length + head)], True)
    return [(path, width), (tip, None)]


def _draw_hand(canvas, parts, angle, colour, shadow):
    """Draw a hand's parts turned by ``angle``, over their shadow (dx, dy, paint) when given."""
    canvas.save()
    canvas.rotate(angle)
    for path, stroke in parts:
        if shadow is not None:
            dx, dy, paint = shadow  # the shadow falls the same way whatever the hand's angle
            canvas.save()
            canvas.rotate(-angle)
            canvas.translate(dx, dy)
            canvas.rotate(angle)
            if stroke is not None:
                paint.setStyle(skia.Paint.kStroke_Style)
                paint.setStrokeWidth(stroke)
            else:
                paint.setStyle(skia.Paint.kFill_Style)
            canvas.drawPath(path, paint)
            canvas.restore()
        canvas.drawPath(path, make_paint(colour) if stroke is None else make_paint(colour, stroke=stroke))
    canvas.restore()


def draw_hands(canvas, rng, factors, t, palette, pixel):
    """Draw alarm, hour, minute and second hands; returns their (angle, length) for occluders.

    ``pixel`` is the size of an image pixel in dial units: hands stay at least about a pixel
    wide, so that small clocks stay readable.
    """
    style, extra = factors["hands"], factors["extra_hands"]
    ink = palette["ink"]
    hour_colour = minute_colour = ink
    if factors["case"] == "teaching":  # hour and minute hands told apart by colour
        hues = rng.permutation([0.0, 0.6, 0.33, 0.8, 0.08])[:2]
        saturation, value = (0.9, 0.7) if luma(palette["dial"]) > 0.5 else (0.55, 1.0)
        hour_colour, minute_colour = hsv(hues[0], saturation, value), hsv(hues[1], saturation, value * 0.93)
    elif rng.uniform() < 0.25:  # blued steel on light dials, gold on dark ones
        hour_colour = minute_colour = (hsv(0.62, 0.7, 0.35) if luma(ink) < 0.5 else hsv(0.12, 0.5, 0.95))
    shadow = None
    if rng.uniform() < 0.6:
        darkness, blur = rng.uniform(0.2, 0.45), rng.uniform(0.8, 2.5)
        shadow = (rng.uniform(-3, 3), rng.uniform(1, 5), make_paint((0, 0, 0), darkness, blur=blur))
    base = rng.uniform(2.0, 4.5) if style in ("line", "arrow", "ornate") else rng.uniform(4, 9)
    least = {"line": 1.2, "arrow": 1.2, "ornate": 1.6, "skeleton": 2.0}.get(style, 1.8)  # pixels
    base = max(base, least * pixel)
    minute_length, hour_length = rng.uniform(0.78, 0.95) * _R, rng.uniform(0.42, 0.6) * _R
    tail = rng.uniform(0, 0.25) * _R if style in ("line", "baton", "sword") else rng.uniform(0, 0.1) * _R
    minute_angle, hour_angle = 6.0 * (t % 60), 0.5 * t
    if extra in ("alarm", "second+alarm"):
        alarm = _hand_shape("arrow", rng.uniform(0.35, 0.5) * _R, max(rng.uniform(1.0, 1.8), 0.8 * pixel), 0.0)
        colour = hsv(rng.choice((0.12, 0.33, 0.0)), 0.8, 0.85)
        if abs(luma(colour) - luma(palette["dial"])) < 0.2:
            colour = ink
        _draw_hand(canvas, alarm, rng.uniform(0, 360), colour, shadow)
    _draw_hand(canvas, _hand_shape(style, hour_length, base * 1.3, tail * 0.8), hour_angle, hour_colour, shadow)
    _draw_hand(canvas, _hand_shape(style, minute_length, base, tail), minute_angle, minute_colour, shadow)
    hub = max(base * 1.3, 4.0) * rng.uniform(0.8, 1.5)
    canvas.drawCircle(0, 0, hub, make_paint(minute_colour))
    if extra in ("second", "second+alarm"):
        accent, length = palette["accent"], rng.uniform(0.85, 0.97) * _R
        width, back = max(rng.uniform(0.7, 1.6), 0.8 * pixel), rng.uniform(0.12, 0.3) * _R
        parts = _hand_shape("line", length, width, back)
        weight = rng.integers(3)
        if weight == 1:  # a counterweight on the tail
            parts.append((skia.Path.Circle(0, back, rng.uniform(3, 6)), None))
        elif weight == 2:  # a station clock's disc near the tip
            parts.append((skia.Path.Circle(0, -length * 0.78, rng.uniform(5, 8)), None))
        _draw_hand(canvas, parts, 360.0 * (t % 1.0), accent, shadow)
        canvas.drawCircle(0, 0, hub * 0.6, make_paint(accent))
    canvas.drawCircle(0, 0, hub * 0.3, make_paint(np.clip(ink * 0.5 + 0.4, 0, 1)))
    return ((minute_angle, minute_length), (hour_angle, hour_length))


def draw_glare(canvas, rng):
    """Reflections on the glass: a bright crescent, a diagonal band or a window."""
    canvas.save()
    canvas.clipPath(skia.Path.Circle(0, 0, _R), skia.ClipOp.kIntersect, True)
    kind, strength = rng.integers(3), rng.uniform(0.2, 0.5)
    if kind == 0:
        centre = skia.Point(*polar(_R * rng.uniform(0.5, 0.9), rng.uniform(0, 360)))
        shader = skia.GradientShader.MakeRadial(centre, _R * rng.uniform(0.6, 1.1),
                                                [argb((1, 1, 1), strength), argb((1, 1, 1), 0)])
        canvas.drawPaint(make_paint((1, 1, 1), shader=shader))
    elif kind == 1:
        canvas.rotate(rng.uniform(0, 180))
        offset, width = rng.uniform(-0.6, 0.6) * _R, rng.uniform(0.15, 0.5) * _R
        canvas.drawRect(skia.Rect(-2 * _R, offset, 2 * _R, offset + width),
                        make_paint((1, 1, 1), strength, blur=width * 0.2))
    else:
        x, y = rng.uniform(-0.8, 0.2, 2) * _R
        w, h = rng.uniform(0.3, 0.7, 2) * _R
        canvas.drawRoundRect(skia.Rect.MakeXYWH(x, y, w, h), 6, 6,
                             make_paint((1, 0.98, 0.9), strength * 0.8, blur=4))
    canvas.restore()


