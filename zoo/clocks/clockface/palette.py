"""Colours of clock parts and scenes, chosen in RGB.

Contrast between face, hands and numerals is checked on grey levels, which is
what a grayscale reader sees.
"""

import colorsys

from zoo.clocks.clockface import draws


def luminance(colour):
    """Grey level PIL's RGB -> L conversion gives this colour (ITU-R 601-2)."""
    red, green, blue = colour[:3]
    return 0.299 * red + 0.587 * green + 0.114 * blue


def grey_level(colour):
    """The grey level PIL's RGB -> L conversion gives ``colour`` (same integer maths)."""
    red, green, blue = colour[:3]
    return (red * 19595 + green * 38470 + blue * 7471 + 0x8000) >> 16


def hsv(hue, saturation, value):
    """RGB tuple of ints from HSV components in [0, 1] (hue wraps)."""
    red, green, blue = colorsys.hsv_to_rgb(hue % 1.0, saturation, value)
    return (int(round(red * 255)), int(round(green * 255)), int(round(blue * 255)))


def mix(first, second, amount):
    """Blend colour ``first`` towards ``second`` by ``amount`` in [0, 1]."""
    return tuple(int(round(a + (b - a) * amount)) for a, b in zip(first, second))


def light_colour(stream):
    """A colour for light clock faces: whites, creams, pale tints, greys."""
    kind = draws.pick(stream, ("white", "cream", "pastel", "grey"), (0.4, 0.25, 0.2, 0.15))
    if kind == "white":
        return hsv(0.0, 0.0, stream.uniform(0.93, 1.0))
    if kind == "cream":
        return hsv(stream.uniform(0.08, 0.16), stream.uniform(0.05, 0.22), stream.uniform(0.9, 1.0))
    if kind == "pastel":
        return hsv(stream.random(), stream.uniform(0.08, 0.3), stream.uniform(0.85, 1.0))
    return hsv(0.0, 0.0, stream.uniform(0.78, 0.92))


def dark_colour(stream):
    """A colour for dark clock faces: blacks, navies, greens, browns, reds."""
    if stream.random() < 0.4:
        return hsv(0.0, 0.0, stream.uniform(0.03, 0.25))
    return hsv(stream.random(), stream.uniform(0.3, 0.85), stream.uniform(0.12, 0.38))


def ink_for(stream, face_colour, minimum_contrast):
    """A colour that contrasts with ``face_colour`` in grey by at least ``minimum_contrast``.

    Grayscale output is what readers see, so contrast is measured on
    luminance, not on hue.
    """
    face_grey = luminance(face_colour)
    for _ in range(8):
        if face_grey > 128:
            kind = draws.pick(stream, ("black", "dark"), (0.65, 0.35))
            if kind == "black":
                candidate = hsv(0.0, 0.0, stream.uniform(0.0, 0.2))
            else:
                candidate = hsv(stream.random(), stream.uniform(0.4, 0.9), stream.uniform(0.15, 0.5))
        else:
            kind = draws.pick(stream, ("white", "gold", "tint"), (0.6, 0.2, 0.2))
            if kind == "white":
                candidate = hsv(0.0, 0.0, stream.uniform(0.82, 1.0))
            elif kind == "gold":
                candidate = hsv(stream.uniform(0.1, 0.15), stream.uniform(0.35, 0.6), stream.uniform(0.8, 1.0))
            else:
                candidate = hsv(stream.random(), stream.uniform(0.1, 0.45), stream.uniform(0.85, 1.0))
        if abs(luminance(candidate) - face_grey) >= minimum_contrast:
            return candidate
    return (0, 0, 0) if face_grey > 128 else (255, 255, 255)


def accent_for(stream, face_colour, fallback):
    """A colour for second hands: mostly red, contrasting at least a little."""
    kind = draws.pick(stream, ("red", "same", "other"), (0.55, 0.25, 0.2))
    if kind == "same":
        return fallback
    if kind == "red":
        candidate = hsv(stream.uniform(-0.03, 0.03), stream.uniform(0.7, 1.0), stream.uniform(0.55, 1.0))
    else:
        candidate = hsv(stream.random(), stream.uniform(0.5, 1.0), stream.uniform(0.4, 1.0))
    if abs(luminance(candidate) - luminance(face_colour)) < 40:
        return fallback
    return candidate


def any_colour(stream):
    """Any colour, biased towards the muted tones of walls and rooms."""
    if stream.random() < 0.3:
        return hsv(0.0, 0.0, stream.uniform(0.05, 1.0))
    return hsv(stream.random(), stream.uniform(0.05, 0.8) ** 1.5, stream.uniform(0.15, 1.0))
