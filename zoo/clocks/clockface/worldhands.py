"""World-profile hands: ornate shapes, tails and counterweights, second and alarm hands, and their shadows.

Real hands come in many designs (baton, leaf, spade, breguet, skeleton,
dauphine, thick luminous batons) and real dials carry extra hands (a second
hand, an alarm hand) that a reader has to ignore. Hands sit a little above
the dial, on their own plane, and cast a soft shadow on the dial in the
direction the light falls.

Each hand is a list of parts in its own (along, across) frame, turned to its
angle: ``("fill", points, colour)`` polygons and ``("stroke", points, width,
colour)`` closed outlines (hollow hands).
"""

import math

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from zoo.clocks.clockface import palette, projection


def _circle(centre_along, radius, count=16):
    """A circle in (along, across) coordinates."""
    return np.array([centre_along, 0.0]) + radius * projection.circle(count)[:, ::-1]


def hand_parts(shape, length, width, tail, colour, lume=None, outline=None):
    """Parts of a hour or minute hand of ``shape`` pointing along +along.

    Returns:
        (parts, silhouette): the parts to draw and the filled polygons of its shadow.
    """
    half = width / 2.0
    back = -max(tail, half)
    shaft = max(0.3 * half, 0.006)
    parts = []
    if shape == "thick_hands":
        body = np.array([[back, -half], [length - 1.3 * half, -half], [length, 0.0], [length - 1.3 * half, half],
                         [back, half]])
    elif shape == "sword_hands":
        body = np.array([[back, -0.55 * half], [0.22 * length, -half], [length, 0.0], [0.22 * length, half],
                         [back, 0.55 * half]])
    elif shape == "arrow_hands":
        head = min(0.3 * length, 4.0 * half + 0.05)
        wing = max(1.7 * half, 0.025)
        body = np.array([[back, -shaft], [length - head, -shaft], [length - head, -wing], [length, 0.0],
                         [length - head, wing], [length - head, shaft], [back, shaft]])
    elif shape == "spade_hands":
        start, wing = 0.55 * length, max(1.8 * half, 0.03)
        lobe = [[start, -shaft], [start + 0.06 * length, -0.8 * wing], [0.7 * length, -wing],
                [0.78 * length, -0.75 * wing], [0.84 * length, -1.2 * shaft]]
        body = np.array([[back, -shaft]] + lobe + [[length, 0.0]] + [[a, -b] for a, b in lobe[::-1]] + [[back, shaft]])
    elif shape == "breguet_hands":
        centre = 0.7 * length
        radius = max(1.4 * half, 0.04)
        shaft_polygon = np.array([[back, -shaft], [centre - radius, -shaft], [centre - radius, shaft], [back, shaft]])
        tip = np.array([[centre + 0.8 * radius, -1.2 * shaft], [length, 0.0], [centre + 0.8 * radius, 1.2 * shaft]])
        ring = _circle(centre, 0.8 * radius)
        parts = [("fill", shaft_polygon, colour), ("fill", tip, colour), ("stroke", ring, 0.4 * radius, colour)]
        return parts, [shaft_polygon, tip, _circle(centre, radius)]
    elif shape == "skeleton_hands":
        body = np.array([[back, -0.6 * half], [0.25 * length, -half], [length, 0.0], [0.25 * length, half],
                         [back, 0.6 * half]])
        stroke = max(0.22 * half, 0.01)
        if lume is not None:
            parts.append(("fill", body * [1.0, 0.6], lume))
        parts.append(("stroke", body, stroke, outline or colour))
        return parts, [body]
    elif shape == "dauphine_hands":
        left = np.array([[back, 0.0], [back, -0.4 * half], [0.2 * length, -half], [length, 0.0]])
        right = left * [1.0, -1.0]
        facet = palette.mix(colour, (255, 255, 255) if palette.luminance(colour) < 128 else (0, 0, 0), 0.35)
        return [("fill", left, colour), ("fill", right, facet)], [np.concatenate([left, right[::-1]])]
    else:  # line_hands: a baton
        body = np.array([[back, -half], [length, -half], [length, half], [back, half]])
    parts.append(("fill", body, colour))
    if lume is not None and shape in ("thick_hands", "line_hands", "sword_hands"):
        inner = np.array([[0.3 * length, -0.5 * half], [length - 1.6 * half, -0.5 * half],
                          [length - 1.6 * half, 0.5 * half], [0.3 * length, 0.5 * half]])
        if inner[1, 0] > inner[0, 0]:
            parts.append(("fill", inner, lume))
    return parts, [body]


def second_parts(style, length, width, tail):
    """Parts of the second hand: a thin line with a counterweight or a lollipop disc."""
    colour = style.dial.second_colour
    half = width / 2.0
    line = np.array([[-tail, -half], [length, -half], [length, half], [-tail, half]])
    parts = [("fill", line, colour)]
    silhouette = [line]
    if style.second_style == "counterweight":
        disc = _circle(-0.75 * tail, max(2.5 * width, 0.035))
        parts.append(("fill", disc, colour))
        silhouette.append(disc)
    elif style.second_style == "lollipop":
        disc = _circle(0.72 * length, max(3.5 * width, 0.05))
        parts.append(("fill", disc, colour))
        silhouette.append(disc)
    return parts, silhouette


def alarm_parts(style):
    """Parts of an alarm hand: a thin shaft with a small arrow head, in its own colour."""
    length = style.alarm_length
    half = 0.008
    head = 0.09
    body = np.array([[-0.05, -half], [length - head, -half], [length - head, -0.035], [length, 0.0],
                     [length - head, 0.035], [length - head, half], [-0.05, half]])
    return [("fill", body, style.alarm_colour)], [body]


def _turn(points, angle):
    """(along, across) points -> dial-frame points for a hand at dial angle ``angle``."""
    along, across = projection.direction(angle)
    return points[:, :1] * along + points[:, 1:] * across


def hands(style, hour_angle, minute_angle, second_angle):
    """Every hand bottom to top: (parts, silhouette, height factor) with parts turned to their angles."""
    dial = style.dial
    result = []
    if style.alarm_hand:
        result.append((alarm_parts(style), math.radians(style.alarm_degrees), 0.6))
    lume = style.lume_colour
    outline = dial.hand_outline_colour
    for length, width, colour, angle, height in (
        (dial.hour_length, dial.hour_width, dial.hour_colour, hour_angle, 1.0),
        (dial.minute_length, dial.minute_width, dial.minute_colour, minute_angle, 1.4),
    ):
        tail = dial.tail_fraction * length
        parts, silhouette = hand_parts(style.hand_shape, length, width, tail, colour, lume, outline)
        if height > 1.0 and style.minute_counterweight > 0:
            disc = _circle(-max(tail, 0.12) * 0.85, style.minute_counterweight)
            parts.append(("fill", disc, colour))
            silhouette.append(disc)
        result.append(((parts, silhouette), angle, height))
    if dial.second_hand:
        result.append((second_parts(style, dial.second_length, dial.second_width, dial.second_tail), second_angle,
                       1.8))
    return [([(part[0], _turn(part[1], angle)) + part[2:] for part in parts],
             [_turn(points, angle) for points in silhouette], height)
            for (parts, silhouette), angle, height in result]


def draw_shadows(dial_canvas, style, turned):
    """Soft shadows of the hands on the dial plane, offset away from the light."""
    if style.shadow_offset is None:
        return
    size = dial_canvas.image.size
    mask = Image.new("L", size, 0)
    draw = ImageDraw.Draw(mask)
    shift = np.array(style.shadow_offset) * style.hand_height
    for _, silhouette, height in turned:
        for points in silhouette:
            draw.polygon(dial_canvas.project(points + shift * height).ravel().tolist(), fill=style.shadow_alpha)
    blur = style.shadow_softness * dial_canvas.scale
    if blur > 0.5:
        mask = mask.filter(ImageFilter.BoxBlur(blur))
    dial_canvas.image.paste((0, 0, 0), (0, 0), mask)


def draw(hand_canvas, style, turned):
    """Draw the turned hands on the hand plane, then the centre cap."""
    for parts, _, _ in turned:
        for part in parts:
            if part[0] == "fill":
                hand_canvas.polygon(part[1], part[2])
            else:
                hand_canvas.outline(part[1], part[2], part[3])
    dial = style.dial
    if dial.cap_radius > 0:
        hand_canvas.disc((0.0, 0.0), dial.cap_radius, dial.cap_colour)
        if dial.second_hand:
            hand_canvas.disc((0.0, 0.0), 0.45 * dial.cap_radius, dial.second_colour)
