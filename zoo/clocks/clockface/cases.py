"""What holds a world-profile dial: wall and station cases, alarm bells, watch straps, towers, mantels.

A reader has to find the dial inside whatever holds it, so the case draws
around the dial, in 3D: its side wall shows when the clock is tilted (a stack
of outlines between its back and front planes), and the front ring sits in
front of the dial and may hide its near edge. Parts that stick out (bells,
feet, straps, brackets) are drawn behind the case.
"""

import math

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from zoo.clocks.clockface import backgrounds, fonts, palette, projection


def dial_outline(style, count=None):
    """The dial's outline in the dial frame (inscribed circle of radius 1)."""
    return projection.unit_outline(style.dial.dial_shape, style.dial.corner_radius, count or 48)


def _mantel_outline(style):
    """A mantel clock's body: an arched top over a box on a plinth."""
    half = 1.0 + style.bezel_width + 0.3
    arch = np.linspace(math.pi, 0.0, 17)
    rise = 0.55 if style.case_variant % 2 else 0.25
    x = half * np.cos(arch)
    if style.case_variant >= 2:
        # Napoleon hat: the arch flares out into shoulders.
        x = x * (1.0 + 0.25 * (1.0 - np.sin(arch)))
    top = np.stack([x, -(1.0 + style.bezel_width) - 0.05 - rise * np.sin(arch)], axis=1)
    body = [[half, 1.3], [half + 0.2, 1.3], [half + 0.2, 1.6], [-half - 0.2, 1.6], [-half - 0.2, 1.3], [-half, 1.3]]
    return np.concatenate([top, np.array(body)], axis=0)


def extent_points(style):
    """Dial-frame 3D points (n, 3) bounding the clock (without straps and brackets), for framing."""
    outer = dial_outline(style, 24) * (1.0 + style.bezel_width)
    parts = [np.column_stack([outer, np.full(len(outer), -style.front_depth)]),
             np.column_stack([outer, np.full(len(outer), style.back_depth)])]
    if style.case == "alarm_clock":
        spread = 1.0 + style.bezel_width
        parts.append(np.array([[-1.2 * spread, -1.35 * spread, 0.0], [1.2 * spread, -1.35 * spread, 0.0],
                               [-0.9 * spread, 1.3 * spread, 0.0], [0.9 * spread, 1.3 * spread, 0.0]]))
    elif style.case == "mantel_clock":
        body = _mantel_outline(style)
        parts.append(np.column_stack([body, np.full(len(body), 0.1)]))
    elif style.case == "tower_clock":
        half = (1.0 + style.bezel_width) * 1.15
        parts.append(np.array([[-half, -half, 0.0], [half, half, 0.0]]))
    return np.concatenate(parts, axis=0)


def _paint(canvas, points, colour, finish, stream, texture=None):
    """Fill a canvas-pixel polygon with a colour, a metal sheen, wood or stone."""
    flat = points.ravel().tolist()
    if finish == "plain" and texture is None:
        canvas.draw.polygon(flat, fill=tuple(colour))
        return
    width, height = canvas.image.size
    left = max(0, int(math.floor(points[:, 0].min())))
    top = max(0, int(math.floor(points[:, 1].min())))
    right = min(width, int(math.ceil(points[:, 0].max())) + 1)
    bottom = min(height, int(math.ceil(points[:, 1].max())) + 1)
    if right - left < 2 or bottom - top < 2:
        return
    box = (right - left, bottom - top)
    if texture is not None:
        fill = texture.resize(box, Image.Resampling.BILINEAR)
    elif finish == "metal":
        light = palette.mix(colour, (255, 255, 255), stream.uniform(0.3, 0.7))
        dark = palette.mix(colour, (0, 0, 0), stream.uniform(0.2, 0.5))
        corners = [light, colour, colour, dark] if stream.random() < 0.5 else [dark, light, colour, dark]
        fill = Image.fromarray(np.array(corners, dtype=np.uint8).reshape(2, 2, 3)).resize(
            box, Image.Resampling.BILINEAR)
    elif finish == "wood":
        fill = Image.fromarray(backgrounds.wood(stream, 48, colour)).resize(box, Image.Resampling.BILINEAR)
    else:  # stone
        fill = Image.fromarray(backgrounds.procedural(stream, 32, "noise")).resize(box, Image.Resampling.BILINEAR)
        fill = Image.blend(fill, Image.new("RGB", box, tuple(colour)), 0.6)
    mask = Image.new("L", box, 0)
    ImageDraw.Draw(mask).polygon((points - (left, top)).ravel().tolist(), fill=255)
    canvas.image.paste(fill, (left, top), mask)


def _ring(outer, inner):
    """A keyhole polygon filling the band between two closed outlines (even-odd fill)."""
    return np.concatenate([outer, outer[:1], inner[:1], inner[::-1]], axis=0)


def _strap(canvas, style, stream, sign):
    """A watch strap or bracelet leaving the case upwards (sign -1) or downwards (+1)."""
    half = 0.62 * (1.0 + style.bezel_width)
    depth = style.back_depth * 0.6
    reach = 1.0
    start = 0.8 * (1.0 + style.bezel_width)
    # Stop the strap before it would pass behind the camera.
    for _ in range(12):
        end = np.array([[0.0, sign * (start + reach), depth]])
        _, weight = _project_weight(canvas, end)
        if weight.min() < 0.35 or reach > 6.0:
            break
        reach += 0.5
    along = np.linspace(start, start + reach, 8) * sign
    left = np.column_stack([np.full(8, -half), along])
    right = np.column_stack([np.full(8, half), along])
    outline = np.concatenate([left, right[::-1]], axis=0)
    plane = canvas.at(depth)
    projected = plane.project(outline)
    metal = style.strap_colour == style.trim_colour
    _paint(plane, projected, style.strap_colour, "metal" if metal else "plain", stream)
    line = palette.mix(style.strap_colour, (0, 0, 0), 0.45)
    for position in np.linspace(start + 0.25, start + reach, 9 if metal else 3)[:-1]:
        if metal or stream.random() < 0.6:
            segment = plane.project(np.array([[-half, sign * position], [half, sign * position]]))
            plane.draw.line(segment.ravel().tolist(), fill=line, width=max(1, int(0.015 * plane.scale)))
    if not metal:
        for side in (-1.0, 1.0):
            stitch = plane.project(np.array([[side * half * 0.85, sign * start], [side * half * 0.85, sign * (
                start + reach)]]))
            plane.draw.line(stitch.ravel().tolist(), fill=palette.mix(style.strap_colour, (255, 255, 255), 0.3),
                            width=max(1, int(0.008 * plane.scale)))


def _project_weight(canvas, points):
    """Homogeneous depth w of dial-frame 3D points (w <= 0: behind the camera)."""
    homogeneous = np.asarray(points) @ canvas.view[:, :3].T + canvas.view[:, 3]
    return homogeneous[..., :2], homogeneous[..., 2]


def draw_wrist(canvas, style, stream):
    """A forearm under a wristwatch, when the background is not already skin."""
    depth = style.back_depth + 0.3
    skin = palette.hsv(stream.uniform(0.03, 0.09), stream.uniform(0.25, 0.6), stream.uniform(0.35, 0.95))
    half = stream.uniform(1.6, 2.4)
    angle = stream.uniform(-0.4, 0.4)
    along = np.array([math.sin(angle), math.cos(angle)])
    across = np.array([along[1], -along[0]])
    corners = np.array([-half * across - 2.5 * along, half * across - 2.5 * along,
                        half * across + 2.5 * along, -half * across + 2.5 * along])
    plane = canvas.at(depth)
    _, weight = _project_weight(canvas, np.column_stack([corners, np.full(4, depth)]))
    if weight.min() < 0.3:
        return
    points = plane.project(corners)
    dark = palette.mix(skin, (0, 0, 0), 0.35)
    fill = Image.fromarray(np.array([dark, skin, skin, dark], dtype=np.uint8).reshape(2, 2, 3))
    _paint(plane, points, skin, "plain", stream, texture=fill if abs(along[0]) < 0.5 else None)


def draw_behind(canvas, style, stream):
    """Everything of the case behind the dial: shadow, bells, feet, straps, brackets, side wall, body."""
    outline = dial_outline(style, canvas.circle_count)
    outer = outline * (1.0 + style.bezel_width)
    case = style.case
    side = palette.mix(style.case_colour, (0, 0, 0), stream.uniform(0.2, 0.5))
    if case == "wristwatch":
        if stream.random() < 0.5:
            draw_wrist(canvas, style, stream)
        for sign in (-1.0, 1.0):
            _strap(canvas, style, stream, sign)
        lug = style.case_colour
        plane = canvas.at(style.back_depth * 0.3)
        for sx in (-1.0, 1.0):
            for sy in (-1.0, 1.0):
                base = 0.95 * (1.0 + style.bezel_width)
                quad = np.array([[sx * 0.45, sy * base * 0.75], [sx * 0.7, sy * base * 0.7],
                                 [sx * 0.66, sy * (base + 0.3)], [sx * 0.5, sy * (base + 0.3)]])
                _paint(plane, plane.project(quad), lug, style.case_finish, stream)
        crown = np.array([[1.0 + style.bezel_width - 0.05, -0.12], [1.0 + style.bezel_width + 0.14, -0.12],
                          [1.0 + style.bezel_width + 0.14, 0.12], [1.0 + style.bezel_width - 0.05, 0.12]])
        _paint(canvas.at(0.0), canvas.project(crown), style.trim_colour, "metal", stream)
    elif case == "alarm_clock":
        spread = 1.0 + style.bezel_width
        plane = canvas.at(style.back_depth * 0.5)
        if style.case_variant % 2 == 0:
            # Carrying handle over the top.
            arc = np.linspace(-0.9, 0.9, 12)
            handle = np.stack([0.55 * spread * np.sin(arc), -spread * (1.05 + 0.28 * np.cos(arc))], axis=1)
            plane.draw.line(plane.project(handle).ravel().tolist(), fill=tuple(style.trim_colour),
                            width=max(2, int(0.07 * plane.scale)))
        bell_angle = math.radians(stream.uniform(32.0, 48.0))
        bell_radius = stream.uniform(0.3, 0.45) * spread
        for sign in (-1.0, 1.0):
            centre = np.array([sign * math.sin(bell_angle), -math.cos(bell_angle)]) * (spread + 0.12)
            bell = centre + bell_radius * projection.circle(24) * [1.0, 0.85]
            _paint(plane, plane.project(bell), style.trim_colour, "metal", stream)
            foot = np.array([[sign * 0.55, 0.85], [sign * 0.75, 0.8], [sign * 0.95, 1.3], [sign * 0.62, 1.3]]) * spread
            _paint(plane, plane.project(foot), style.trim_colour, "metal", stream)
        hammer = np.array([[-0.03, -spread - 0.05], [0.03, -spread - 0.05], [0.03, -spread - 0.3],
                           [-0.03, -spread - 0.3]])
        plane.polygon(hammer, palette.mix(style.trim_colour, (0, 0, 0), 0.4))
    elif case == "station_clock":
        plane = canvas.at(style.back_depth * 0.5)
        sign = -1.0 if style.case_variant % 2 else 1.0
        if style.case_variant < 2:
            arm = np.array([[0.0, -0.12], [sign * 6.0, -0.12], [sign * 6.0, 0.12], [0.0, 0.12]])
        else:
            arm = np.array([[-0.12, 0.0], [0.12, 0.0], [0.12, -6.0], [-0.12, -6.0]])
        _, weight = _project_weight(canvas, np.column_stack([arm, np.full(4, style.back_depth * 0.5)]))
        if weight.min() > 0.3:
            _paint(plane, plane.project(arm), side, "metal", stream)
    elif case == "tower_clock":
        half = (1.0 + style.bezel_width) * 1.15
        plane = canvas.at(0.0)
        square = np.array([[-half, -half], [half, -half], [half, half], [-half, half]])
        _paint(plane, plane.project(square), style.case_colour, "stone", stream)
        plane.outline(square * 0.97, 0.03, palette.mix(style.case_colour, (0, 0, 0), 0.4))
    elif case == "mantel_clock":
        plane = canvas.at(0.1)
        body = _mantel_outline(style)
        _paint(plane, plane.project(body), style.case_colour, style.case_finish, stream)
        plane.outline(body * 0.96, 0.025, palette.mix(style.case_colour, (0, 0, 0), 0.35))
    if style.bezel_width <= 0 and case == "bare_dial":
        return
    # The side wall: outlines stacked from the back to the front plane.
    if case not in ("tower_clock", "mantel_clock"):
        for depth in np.linspace(style.back_depth, -style.front_depth, 5):
            plane = canvas.at(float(depth))
            plane.polygon(outer, side)
    front = canvas.at(-style.front_depth)
    _paint(front, front.project(outer), style.case_colour, style.case_finish, stream)
    # Inner wall of the bezel, seen where the dial is recessed.
    front.polygon(outline, palette.mix(style.case_colour, (0, 0, 0), 0.45))


def draw_front(canvas, style, stream):
    """The case's front ring over the dial's edge (hides the dial's near rim when tilted)."""
    if style.bezel_width <= 0 or style.case in ("tower_clock", "mantel_clock"):
        if style.case in ("tower_clock", "mantel_clock"):
            ring = dial_outline(style, canvas.circle_count)
            front = canvas.at(-style.front_depth * 0.5)
            band = _ring(ring * (1.0 + min(style.bezel_width, 0.08)), ring)
            _paint(front, front.project(band), style.trim_colour, "metal", stream)
        return
    outline = dial_outline(style, canvas.circle_count)
    front = canvas.at(-style.front_depth)
    _paint(front, front.project(_ring(outline * (1.0 + style.bezel_width), outline)), style.case_colour,
           style.case_finish, stream)
    if style.case == "wristwatch" and style.case_variant == 0:
        # A diver's bezel: minute marks on the ring.
        ink = palette.ink_for(stream, style.case_colour, 80)
        for minute in range(0, 60, 5):
            angle = math.radians(6.0 * minute)
            along = np.array([math.sin(angle), -math.cos(angle)])
            inner, outer_radius = 1.0 + 0.25 * style.bezel_width, 1.0 + 0.75 * style.bezel_width
            front.draw.line(front.project(np.array([along * inner, along * outer_radius])).ravel().tolist(),
                            fill=ink, width=max(1, int((0.03 if minute == 0 else 0.015) * front.scale)))
    elif stream.random() < 0.5:
        # A thin line on the ring gives it relief.
        front.outline(outline * (1.0 + 0.5 * style.bezel_width), 0.012,
                      palette.mix(style.case_colour, (255, 255, 255) if stream.random() < 0.5 else (0, 0, 0), 0.4))


def draw_teaching_minutes(canvas, style):
    """A children's teaching clock's outer ring of minute numbers (5, 10, ... 55)."""
    dial = style.dial
    pixel_size = fonts.quantised_pixels(0.085 * canvas.scale)
    colour = dial.minute_colour
    radius = 0.5 * (dial.tick_outer + 1.0) - 0.01
    for step in range(12):
        text = str(step * 5) if step else ("60" if style.case_variant % 2 else "0")
        mask = fonts.glyph(dial.numeral_font, pixel_size, text)
        angle = step * math.pi / 6.0
        canvas.glyph(mask, radius * math.sin(angle), -radius * math.cos(angle), colour)


def soft_mask(size, draw_shapes, blur):
    """An 'L' mask of canvas ``size`` with shapes drawn by ``draw_shapes(draw)``, blurred by ``blur`` px."""
    mask = Image.new("L", size, 0)
    draw_shapes(ImageDraw.Draw(mask))
    if blur > 0.5:
        mask = mask.filter(ImageFilter.BoxBlur(blur))
    return mask

