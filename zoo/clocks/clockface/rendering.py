"""One clock from a time, an rng and a style: the order of the drawing steps.

A clock labelled ``[hour, minute]`` shows the continuous time
``hour * 60 + minute + offset`` with ``offset`` drawn uniformly from
[-0.5, 0.5) minutes (or passed as ``sub_minute``): real clocks are rarely
exactly on the minute, and this makes the label the *nearest* whole minute
to what the hands show, so a reader's rounding is unbiased. The second hand,
when drawn, shows the seconds of that same continuous time.

:func:`render_clock_rgb` draws in colour; :func:`render_clock` draws each
colour directly as its grey level, which equals converting the colour drawing
up to rounding (every drawing step is linear in the pixel values).
"""

import math

import numpy as np

from zoo.clocks.clockface import camera, clockstyle, drawing, draws, projection, scene, surface

MINIMUM_SIZE = 32
"""Smallest output size accepted; below it the markings are unreadable."""


def _check_time(hour, minute):
    """Validate an hour/minute label and return them as ints."""
    if isinstance(hour, bool) or not isinstance(hour, (int, np.integer)) or not 0 <= hour < 24:
        raise ValueError(f"hour must be an integer in 0-23 (taken mod 12), got {hour!r}")
    if isinstance(minute, bool) or not isinstance(minute, (int, np.integer)) or not 0 <= minute < 60:
        raise ValueError(f"minute must be an integer in 0-59, got {minute!r}")
    return int(hour) % 12, int(minute)


def check_size(size):
    """Validate the output size."""
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < MINIMUM_SIZE:
        raise ValueError(f"size must be an integer >= {MINIMUM_SIZE}, got {size!r}")
    return int(size)


GEOMETRY_POINTS = ("centre", "twelve", "three", "hour_tip", "minute_tip")
"""The keypoints :func:`~zoo.clocks.clockface.batches.render_batch` reports with ``return_geometry``: the pivot,
the points of the dial's rim at 12 and at 3 o'clock (one dial radius out), and the
tips of the hour and minute hands, in output pixel coordinates (x right, y down)."""


def render(hour, minute, rng, size, style, sub_minute, mode, geometry=False):
    """Shared body of render_clock and render_clock_rgb.

    With ``geometry`` it also returns the (5, 2) keypoints of :data:`GEOMETRY_POINTS`.
    """
    hour, minute = _check_time(hour, minute)
    size = check_size(size)
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator, got {rng!r}")
    if style is None:
        style = clockstyle.sample_style(rng)
    elif not isinstance(style, clockstyle.ClockStyle):
        raise ValueError(f"style must be a ClockStyle or None, got {style!r}")
    stream = draws.Stream(rng)
    if sub_minute is None:
        sub_minute = stream.uniform(-0.5, 0.5)
    elif not -0.5 <= sub_minute < 0.5:
        raise ValueError(f"sub_minute must lie in [-0.5, 0.5), got {sub_minute!r}")

    shown = hour * 60 + minute + sub_minute
    minute_angle = math.radians(6.0 * (minute + sub_minute))
    hour_angle = math.radians(0.5 * shown + style.hour_slop_degrees)
    second_angle = math.radians(6.0 * ((sub_minute * 60.0) % 60.0))

    canvas_size = size * surface.SUPERSAMPLE
    image = scene.draw_background(style, stream, size, mode)
    canvas = surface.Canvas(image, style)
    if style.clutter_count:
        scene.draw_clutter(canvas, stream, canvas_size, style.clutter_count)
    if style.distractor_count:
        scene.draw_distractors(canvas, stream, canvas_size, style.distractor_count)
    drawing.draw_dial(canvas, style)
    drawing.draw_marks(canvas, style)
    drawing.draw_numerals(canvas, style)
    drawing.draw_hands(canvas, style, hour_angle, minute_angle, second_angle)
    if style.glare_alpha:
        drawing.draw_glare(canvas, style)

    image = image.reduce(surface.SUPERSAMPLE)
    pixels = camera.apply(image, style, stream)
    if not geometry:
        return pixels
    hour_along, _ = projection.direction(hour_angle)
    minute_along, _ = projection.direction(minute_angle)
    dial_points = np.array(
        [[0.0, 0.0], [0.0, -1.0], [1.0, 0.0], hour_along * style.hour_length, minute_along * style.minute_length]
    )
    # The camera effects move no pixels, so the canvas map, scaled down by the
    # supersampling factor, takes dial points to output pixel coordinates.
    return pixels, (canvas.project(dial_points) / surface.SUPERSAMPLE).astype(np.float32)


def render_clock(hour, minute, rng, size=150, style=None, sub_minute=None):
    """Render one grayscale clock showing ``hour:minute``.

    Args:
        hour: Hour label, integer 0-11 (12-23 are taken modulo 12).
        minute: Minute label, integer 0-59.
        rng: ``np.random.Generator`` for everything random in the image.
        size: Output width and height in pixels (>= 32).
        style: A :class:`~zoo.clocks.clockface.clockstyle.ClockStyle`; None samples one from ``rng``.
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
    return render(hour, minute, rng, size, style, sub_minute, "L")


def render_clock_rgb(hour, minute, rng, size=150, style=None, sub_minute=None):
    """Render one colour clock showing ``hour:minute``.

    Same arguments as :func:`render_clock`; the camera effects run in
    colour, so for the same rng state the result is close to, not exactly,
    the colour version of :func:`render_clock`'s output.

    Returns:
        np.ndarray (size, size, 3) uint8.
    """
    return render(hour, minute, rng, size, style, sub_minute, "RGB")
