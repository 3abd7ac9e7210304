"""One world-profile clock: a clock in a photograph, drawn in colour, returned grey.

The order of the drawing steps: backdrop (a photo or a texture), lines behind
the clock, the case's back parts and side wall, the dial with its marks and
numerals (the classic drawing code, on the dial plane of
:mod:`~zoo.clocks.clockface.view`), the case's front ring, the hands' shadows
and the hands (on their own plane just above the dial), glare on the glass,
occluders and lines in front, then the camera
(:mod:`~zoo.clocks.clockface.worldcamera`).

The time is shown as in :mod:`~zoo.clocks.clockface.rendering`: the label is
the nearest whole minute to what the hands show. Keypoints
(:data:`~zoo.clocks.clockface.rendering.GEOMETRY_POINTS`) are projected with
the same homographies as the drawing and scaled with the picture, so they
stay exact under tilt, perspective, cropping and low-resolution upsampling:
the centre and hand tips on the hands' plane, the rim points at 12 and 3 on
the dial plane.
"""

import math

import numpy as np
from PIL import Image

from zoo.clocks.clockface import (cases, drawing, draws, palette, surface, view, worldcamera, worldhands,
                                  worldscene)


def _placement(style, size):
    """Frame position of the clock: (view, frame scale, frame offset, render size).

    The clock's projected extent is scaled to ``style.fill`` of the frame and
    shifted within the slack (or the overhang, for close-ups); then the pivot
    and both hand tips are brought inside the frame so the time stays visible.
    """
    camera = view.view_matrix(style.roll_degrees, style.tilt_degrees, style.tilt_axis_degrees, style.distance)
    projected, _ = view.project_points(camera, cases.extent_points(style))
    low, high = projected.min(axis=0), projected.max(axis=0)
    scale = style.fill / float(np.max(high - low))
    first, second = -low * scale, 1.0 - high * scale
    offset = first + (second - first) * np.array([style.offset_x, style.offset_y])
    dial = style.dial
    reach = np.array([[0.0, 0.0, -style.hand_height], [0.0, -dial.minute_length, -style.hand_height],
                      [dial.minute_length, 0.0, -style.hand_height], [0.0, dial.minute_length, -style.hand_height],
                      [-dial.minute_length, 0.0, -style.hand_height]])
    points, _ = view.project_points(camera, reach)
    points = offset + scale * points
    margin = 0.03
    shift = np.maximum(margin - points.min(axis=0), 0.0) - np.maximum(points.max(axis=0) - (1.0 - margin), 0.0)
    offset = offset + shift
    render_size = size
    if style.low_resolution > 0:
        render_size = int(min(size, max(16, round(style.low_resolution / (2.0 * scale)))))
    return camera, scale, offset, render_size


def render(hour, minute, rng, size, style, photos, sub_minute=None, colour=False):
    """Render a world-profile clock; returns (picture, (5, 2) float32 keypoints).

    Args:
        hour, minute: the label (checked by the caller).
        rng: the clock's ``np.random.Generator`` (after its style was drawn).
        size: output size in pixels.
        style: a :class:`~zoo.clocks.clockface.worldstyle.WorldStyle`.
        photos: a :class:`~zoo.clocks.clockface.backgrounds.PhotoSource` or None.
        sub_minute: offset of the hands from the whole minute; None draws it.
        colour: return the RGB picture before the camera's grey conversion
            (for looking at; the camera's blur and noise are skipped).

    Returns:
        uint8 (size, size) grey (or (size, size, 3) with ``colour``), float32 (5, 2).
    """
    stream = draws.Stream(rng)
    if sub_minute is None:
        sub_minute = stream.uniform(-0.5, 0.5)
    dial = style.dial
    shown = hour * 60 + minute + sub_minute
    minute_angle = math.radians(6.0 * (minute + sub_minute))
    hour_angle = math.radians(0.5 * shown + dial.hour_slop_degrees)
    second_angle = math.radians(6.0 * ((sub_minute * 60.0) % 60.0))

    camera, scale, offset, render_size = _placement(style, size)
    canvas_size = render_size * surface.SUPERSAMPLE
    pixels_per_unit = scale * canvas_size
    place = np.array([[pixels_per_unit, 0.0, offset[0] * canvas_size],
                      [0.0, pixels_per_unit, offset[1] * canvas_size], [0.0, 0.0, 1.0]])
    image = worldscene.backdrop(style, photos, stream, render_size, canvas_size)
    canvas = view.PlaneCanvas(image, camera, place, pixels_per_unit)
    behind = [stream.random() < 0.5 for _ in range(style.distractor_count)]
    worldscene.draw_lines(image, stream, sum(behind), canvas_size)

    if style.case in ("wall_clock", "station_clock", "mantel_clock", "tower_clock") and stream.random() < 0.6:
        # The clock's shadow on the wall behind it.
        outline = cases.dial_outline(style, 32) * (1.0 + style.bezel_width)
        direction = stream.uniform(0.0, 2.0 * math.pi)
        reach = stream.uniform(0.03, 0.15)
        wall = canvas.at(style.back_depth + 0.02)
        shadow = wall.project(outline + reach * np.array([math.cos(direction), math.sin(direction)]))
        mask = cases.soft_mask(image.size, lambda draw: draw.polygon(shadow.ravel().tolist(),
                                                                     fill=int(stream.integers(40, 120))),
                               stream.uniform(0.02, 0.08) * pixels_per_unit)
        image.paste((0, 0, 0), (0, 0), mask)
    cases.draw_behind(canvas, style, stream)

    dial_canvas = canvas.at(0.0)
    drawing.draw_dial(dial_canvas, dial)
    if style.face_texture:
        outline = cases.dial_outline(style, dial_canvas.circle_count) * (1.0 - dial.rim_width)
        cases._paint(dial_canvas, dial_canvas.project(outline), dial.face_colour, "wood" if palette.luminance(
            dial.face_colour) < 150 else "stone", stream)
    drawing.draw_marks(dial_canvas, dial)
    drawing.draw_numerals(dial_canvas, dial)
    if style.case == "teaching_clock":
        cases.draw_teaching_minutes(dial_canvas, style)
    cases.draw_front(canvas, style, stream)

    turned = worldhands.hands(style, hour_angle, minute_angle, second_angle)
    worldhands.draw_shadows(dial_canvas, style, turned)
    hand_canvas = canvas.at(-style.hand_height)
    worldhands.draw(hand_canvas, style, turned)
    if style.glare != "none" and style.case != "bare_dial":
        glass = canvas.at(-style.front_depth)
        worldscene.draw_glare(glass, style, stream, photos, cases.dial_outline(style, glass.circle_count))

    hour_along = np.array([math.sin(hour_angle), -math.cos(hour_angle)])
    minute_along = np.array([math.sin(minute_angle), -math.cos(minute_angle)])
    tips_canvas = hand_canvas.project(np.array([[0.0, 0.0], hour_along * dial.hour_length,
                                                minute_along * dial.minute_length]))
    if style.occluder_count:
        centre = tuple(tips_canvas[0])
        worldscene.draw_occluders(image, style, stream, photos, centre, pixels_per_unit, tips_canvas[1:])
    worldscene.draw_lines(image, stream, len(behind) - sum(behind), canvas_size)

    rims = dial_canvas.project(np.array([[0.0, -1.0], [1.0, 0.0]]))
    keypoints = np.array([tips_canvas[0], rims[0], rims[1], tips_canvas[1], tips_canvas[2]]) / surface.SUPERSAMPLE
    if render_size != size:
        keypoints = (keypoints + 0.5) * (size / render_size) - 0.5
    image = image.reduce(surface.SUPERSAMPLE)
    if colour:
        return np.asarray(image.resize((size, size), Image.Resampling.BILINEAR)), keypoints.astype(np.float32)
    return worldcamera.apply(image, style, stream, size), keypoints.astype(np.float32)

