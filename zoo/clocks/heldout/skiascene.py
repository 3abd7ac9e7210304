"""The scene around the clock of :mod:`zoo.clocks.heldout.skiaclocks`, in image pixels.

Backgrounds behind the clock, lines and objects in front of it, and what a camera
adds afterwards (exposure, colour cast, vignetting, resolution, blur, noise, JPEG).
"""

import io

import numpy as np
import skia
from PIL import Image, ImageFilter

from zoo.clocks.heldout import skiadial


def _linear(start, end, colours):
    """A linear gradient shader from ``start`` to ``end`` through skia ``colours``."""
    return skia.GradientShader.MakeLinear([skia.Point(*start), skia.Point(*end)], colours)


def draw_background(canvas, rng, kind, size):
    """Fill the frame: a gradient wall, a noise texture, a cluttered room or out-of-focus lights."""
    s = float(size)
    paint, colour = skiadial.make_paint, skiadial.random_colour
    a, b = colour(rng), colour(rng)
    canvas.drawPaint(paint(a, shader=_linear(rng.uniform(0, s, 2), rng.uniform(0, s, 2),
                                             [skiadial.argb(a), skiadial.argb(b)])))
    if kind == "gradient":
        if rng.uniform() < 0.5:  # a lamp's or window's light falling on the wall
            spot = skia.GradientShader.MakeRadial(skia.Point(*rng.uniform(0, s, 2)), s * rng.uniform(0.3, 0.9),
                                                  [skiadial.argb((1, 1, 0.9), rng.uniform(0.2, 0.5)),
                                                   skiadial.argb((1, 1, 1), 0)])
            canvas.drawPaint(paint(a, shader=spot))
        canvas.drawPaint(skiadial.noise_paint(rng, size, np.full(3, 0.5), 0.3, alpha=0.12))
    elif kind == "texture":  # wood grain, plaster, fabric or stone
        stretch = float(rng.choice((1.0, 1.0, 4.0, 8.0)))
        canvas.drawPaint(skiadial.noise_paint(rng, size, (a + b) / 2, rng.uniform(0.2, 0.6), stretch,
                                              turbulence=rng.uniform() < 0.5, alpha=rng.uniform(0.6, 1.0)))
    elif kind == "clutter":  # shelves, frames, windows and things of a room
        for _ in range(int(rng.integers(4, 11))):
            blur = s * rng.choice((0.0, 0.0, 0.01, 0.03)) or None  # some out of focus
            fill = paint(colour(rng), rng.uniform(0.6, 1.0), blur=blur)
            x, y = rng.uniform(-0.2, 1.0, 2) * s
            w, h = rng.uniform(0.05, 0.6, 2) * s
            shape = rng.integers(4)
            if shape == 0:
                canvas.drawRect(skia.Rect.MakeXYWH(x, y, w, h), fill)
                if rng.uniform() < 0.5:  # a picture in its frame, or a window pane
                    inset = min(w, h) * 0.15
                    canvas.drawRect(skia.Rect.MakeXYWH(x + inset, y + inset, w - 2 * inset, h - 2 * inset),
                                    paint(colour(rng), blur=blur))
            elif shape == 1:
                canvas.drawCircle(x, y, w / 2, fill)
            elif shape == 2:
                canvas.drawPath(skiadial.blob(rng, x, y, w / 2), fill)
            else:  # a shelf
                canvas.drawRect(skia.Rect.MakeXYWH(-s, y, 3 * s, s * rng.uniform(0.02, 0.06)), fill)
    else:  # bokeh: out-of-focus lights
        canvas.drawPaint(paint((0, 0, 0), rng.uniform(0.2, 0.6)))
        for _ in range(int(rng.integers(8, 25))):
            radius = s * rng.uniform(0.03, 0.12)
            canvas.drawCircle(*rng.uniform(0, s, 2), radius,
                              paint(colour(rng, muted=False), rng.uniform(0.2, 0.6), blur=radius * 0.3))
    # Light falls off across the scene from one side.
    falloff = _linear(rng.uniform(0, s, 2), rng.uniform(0, s, 2),
                      [skiadial.argb((0, 0, 0), 0), skiadial.argb((0, 0, 0), rng.uniform(0, 0.5))])
    canvas.drawPaint(paint((0, 0, 0), shader=falloff))


def _clear_direction(rng, h, hands):
    """An image direction (radians) as far as can be from both hands, and the dial centre in pixels."""
    centre = skiadial.map_points(h, np.zeros((1, 2)))[0]
    tips = skiadial.map_points(h, np.array([skiadial.polar(length * 0.8, angle) for angle, length in hands]))
    away = np.arctan2(tips[:, 1] - centre[1], tips[:, 0] - centre[0])
    candidates = rng.uniform(0, 2 * np.pi, 24)
    gap = np.abs((candidates[:, None] - away[None, :] + np.pi) % (2 * np.pi) - np.pi).min(1)
    return float(candidates[gap.argmax()]), centre


def draw_occluders(canvas, rng, kind, h, hands, radius, size):
    """Lines crossing the frame, or an object coming in from outside that spares the hub and both hands.

    Args:
        kind: "lines" or "object".
        h: the homography from dial units to pixels of this canvas.
        hands: ((angle, length), ...) of the minute and hour hands, in degrees and dial units.
        radius: the dial's radius in pixels.
    """
    s, paint = float(size), skiadial.make_paint
    round_cap = skia.Paint.kRound_Cap
    if kind == "lines":  # cables, branches, wires
        for _ in range(int(rng.integers(1, 4))):
            width = s * rng.uniform(0.006, 0.03)
            path = skia.Path()
            path.moveTo(*(rng.uniform(-0.2, 1.2, 2) * s))
            path.quadTo(*(rng.uniform(0, 1, 2) * s), *(rng.uniform(-0.2, 1.2, 2) * s))
            shadow = paint((0, 0, 0), 0.25, stroke=width, blur=width * 0.7)
            canvas.drawPath(skiadial.shifted(path, width, width), shadow)
            canvas.drawPath(path, paint(skiadial.random_colour(rng), stroke=width, cap=round_cap))
        return
    direction, centre = _clear_direction(rng, h, hands)
    unit = np.array([np.cos(direction), np.sin(direction)])
    colour = skiadial.random_colour(rng)
    shade = _linear(centre - radius * unit[::-1], centre + radius * unit[::-1],
                    [skiadial.argb(np.clip(colour * 1.3, 0, 1)), skiadial.argb(colour * 0.6)])
    nearest = radius * rng.uniform(0.45, 0.7)  # keeps clear of the hub
    kind = rng.integers(3)
    if kind == 0:  # a pen, a pole or a finger
        width = radius * rng.uniform(0.15, 0.4)
        tip, far = centre + unit * (nearest + width / 2), centre + unit * 3 * s
        canvas.drawLine(*(tip + width * 0.3), *(far + width * 0.3),
                        paint((0, 0, 0), 0.3, stroke=width, blur=width * 0.3, cap=round_cap))
        canvas.drawLine(*tip, *far, paint(colour, stroke=width, cap=round_cap, shader=shade))
    elif kind == 1:  # a leaf or a plant
        big = radius * rng.uniform(0.4, 0.9)
        path = skiadial.blob(rng, *(centre + unit * (nearest + big)), big)
        canvas.drawPath(skiadial.shifted(path, big * 0.1, big * 0.15), paint((0, 0, 0), 0.3, blur=big * 0.1))
        canvas.drawPath(path, paint(colour, shader=shade))
    else:  # the edge of something standing in front, reaching in from beyond the frame
        canvas.save()
        canvas.translate(*(centre + unit * nearest))
        canvas.rotate(float(np.degrees(direction)) + rng.uniform(-30, 30))
        thing = skia.Rect(0, -radius * rng.uniform(0.3, 0.8), 3 * s, radius * rng.uniform(0.3, 0.8))
        corner = radius * rng.uniform(0, 0.3)
        canvas.drawRoundRect(thing.makeOffset(-radius * 0.05, radius * 0.1), corner, corner,
                             paint((0, 0, 0), 0.3, blur=radius * 0.08))
        canvas.drawRoundRect(thing, corner, corner, paint(colour, shader=shade))
        canvas.restore()


def camera(rng, rgb, factors, size):
    """Exposure, colour cast, vignetting, resolution, blur, noise and JPEG, as a camera adds them.

    ``rgb`` is the drawn (work, work, 3) uint8 scene; a smaller work size than ``size`` is the
    low-resolution degradation, enlarged here. Returns the (size, size, 3) uint8 photograph.
    """
    lighting, degradation = factors["lighting"], factors["degradation"]
    gain = np.ones(3, np.float32) * rng.uniform(0.9, 1.1)
    if lighting == "cast":  # tungsten, shade, fluorescent or a coloured lamp
        casts = [(1.2, 1.0, 0.7), (0.8, 0.95, 1.2), (0.9, 1.1, 0.85), (1.1, 0.85, 1.05)]
        gain = gain * np.array(casts[rng.integers(len(casts))], np.float32) * rng.uniform(0.9, 1.1, 3)
    elif lighting == "dark":
        gain = gain * rng.uniform(0.45, 0.65)
    elif lighting == "bright":
        gain = gain * rng.uniform(1.35, 1.9)
    work = rgb.shape[0]
    yy, xx = (np.mgrid[:work, :work] + 0.5) / work - 0.5
    vignette = (1 - rng.uniform(0, 0.6) * (xx ** 2 + yy ** 2)).astype(np.float32)
    image = rgb.astype(np.float32) * gain * vignette[..., None]
    picture = Image.fromarray(np.clip(np.rint(image), 0, 255).astype(np.uint8))
    if work != size:  # drawn small, enlarged by the camera's or the viewer's resampling
        picture = picture.resize((size, size), (Image.BILINEAR, Image.BICUBIC)[rng.integers(2)])
    if degradation == "blur":  # out of focus, or shaken
        sigma = rng.uniform(0.6, 1.8) * size / 128
        picture = picture.filter(ImageFilter.GaussianBlur(sigma) if rng.uniform() < 0.7
                                 else ImageFilter.BoxBlur(sigma * 1.5))
    sigma = rng.uniform(6, 20) if degradation == "noise" else rng.uniform(0, 2.5)
    noise = rng.normal(0, sigma, (size, size, 1)) + rng.normal(0, sigma * 0.4, (size, size, 3))
    image = np.clip(np.rint(np.asarray(picture, np.float32) + noise), 0, 255).astype(np.uint8)
    if degradation == "jpeg" or rng.uniform() < 0.3:  # most photographs were JPEG once
        quality = int(rng.integers(5, 30)) if degradation == "jpeg" else int(rng.integers(60, 95))
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, "JPEG", quality=quality)
        image = np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"))
    return image
