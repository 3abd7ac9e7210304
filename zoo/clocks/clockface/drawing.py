"""The clock itself on the canvas: dial, marks, numerals, hands and glare.

The minute hand points at ``6 deg * (minute + offset)``, the hour hand at
``0.5 deg * (hour * 60 + minute + offset)`` plus the style's play, both
clockwise from the dial's 12; the dial and numerals turn with the hands, so
the label is always read relative to the dial.
"""

import math

import numpy as np

from zoo.clocks.clockface import fonts, palette, projection


def draw_dial(canvas, style):
    """Drop shadow, bezel, face, face shading and rim."""
    outline = projection.unit_outline(style.dial_shape, style.corner_radius, canvas.circle_count)
    outer = outline * (1.0 + style.bezel_width)
    if style.clock_shadow is not None:
        dx, dy, alpha = style.clock_shadow
        canvas.blended_polygon(outer + np.array([dx, dy]), (0, 0, 0), alpha)
    if style.bezel_width > 0:
        canvas.polygon(outer, style.bezel_colour)
        # A thin line part of the way in gives the frame some relief.
        canvas.outline(outline * (1.0 + style.bezel_width * 0.3), 0.1 * style.bezel_width, style.bezel_line_colour)
    canvas.polygon(outline, style.face_colour)
    if style.rim_width > 0:
        rim_colour = style.ink_colour if style.bezel_width == 0 else style.bezel_line_colour
        canvas.outline(outline * (1.0 - style.rim_width / 2.0), style.rim_width, rim_colour)
    if style.face_shading:
        # Concentric steps towards a lighter or darker centre (domed face).
        target = (255, 255, 255) if style.face_shading > 0 else (0, 0, 0)
        for step in range(1, 5):
            shrink = 1.0 - style.rim_width - 0.16 * step
            colour = palette.mix(style.face_colour, target, abs(style.face_shading) * step / 4.0)
            canvas.polygon(outline * shrink, colour)


def draw_marks(canvas, style):
    """Hour and minute marks, the chapter rings and the 12 marker."""
    ink = style.ink_colour
    outer = style.tick_outer
    for ring_radius in style.chapter_rings:
        if style.square_layout:
            shape = projection.unit_outline(style.dial_shape, style.corner_radius, canvas.circle_count)
            canvas.outline(shape * ring_radius, style.chapter_ring_width, ink)
        else:
            canvas.ring(ring_radius, style.chapter_ring_width, ink)
    if style.ticks == "no_ticks":
        _draw_twelve_marker(canvas, style)
        return
    index = np.arange(60)
    is_hour = index % 5 == 0
    is_quarter = index % 15 == 0
    angles = index * (math.pi / 30.0)
    along = np.stack([np.sin(angles), -np.cos(angles)], axis=1)
    outer = (outer * projection.layout_radii(style, angles))[:, None]
    if style.ticks == "dots":
        radii = np.where(is_hour, style.major_tick_length * np.where(is_quarter, 1.4, 1.0), style.minor_tick_length)
        if style.twelve_marker != "none":
            radii[0] = 0.0
        shown = radii > 0
        centres = (outer[shown] - radii[shown][:, None]) * along[shown]
        canvas.discs(centres, radii[shown], ink)
    else:
        if style.ticks == "ticks_60":
            keep = np.ones(60, dtype=bool)
            major = is_hour
        elif style.ticks == "ticks_12":
            keep = is_hour
            major = is_hour
        else:  # quarter_marks
            keep = is_quarter | (is_hour & (style.minor_marks == "ticks"))
            major = is_quarter
            if style.minor_marks == "dots":
                shown = is_hour & ~is_quarter
                radius = 1.3 * style.minor_tick_width
                canvas.discs((outer[shown] - radius) * along[shown], np.full(int(shown.sum()), radius), ink)
        if style.twelve_marker != "none":
            keep = keep & (index != 0)
        lengths = np.where(major, style.major_tick_length, style.minor_tick_length)
        widths = np.where(major, style.major_tick_width, style.minor_tick_width)
        keep = keep & (lengths > 0)
        along = along[keep]
        outer = outer[keep]
        across = np.stack([-along[:, 1], along[:, 0]], axis=1)
        half = (widths[keep] / 2.0)[:, None]
        inner = outer - lengths[keep][:, None]
        # All quads projected in one call, then one fill each.
        quads = np.stack(
            [
                outer * along - half * across,
                outer * along + half * across,
                inner * along + half * across,
                inner * along - half * across,
            ],
            axis=1,
        )
        fill = canvas.ink(ink)
        polygon = canvas.draw.polygon
        for quad in canvas.project(quads).reshape(len(quads), 8).tolist():
            polygon(quad, fill=fill)

    _draw_twelve_marker(canvas, style)


def _draw_twelve_marker(canvas, style):
    """A triangle or a double bar at 12, which tells which way is up."""
    ink = style.ink_colour
    outer = style.tick_outer
    if style.twelve_marker == "triangle":
        size = max(style.major_tick_length, 0.08)
        canvas.polygon([[-0.6 * size, -outer], [0.6 * size, -outer], [0.0, -outer + 1.2 * size]], ink)
    elif style.twelve_marker == "double":
        length = max(style.major_tick_length, 0.08)
        width = max(style.major_tick_width, 0.025)
        for side in (-1.0, 1.0):
            centre_x = side * 0.9 * width
            canvas.polygon(
                [
                    [centre_x - width / 2, -outer],
                    [centre_x + width / 2, -outer],
                    [centre_x + width / 2, -outer + length],
                    [centre_x - width / 2, -outer + length],
                ],
                ink,
            )


def _marks_inner_radius(style):
    """Radius inside which numerals may sit without touching the marks."""
    if style.ticks == "no_ticks":
        inner = style.tick_outer
    elif style.ticks == "dots":
        inner = style.tick_outer - 2.8 * style.major_tick_length
    else:
        inner = style.tick_outer - max(style.major_tick_length, style.minor_tick_length)
    if style.chapter_rings:
        inner = min(inner, min(style.chapter_rings) - style.chapter_ring_width)
    return inner


# sin(15 deg): half the chord between neighbouring hour positions per unit radius.
_HALF_CHORD = math.sin(math.pi / 12.0)


def draw_numerals(canvas, style):
    """Hour numerals, laid out snugly inside the marks, plus brand text."""
    scale = canvas.scale
    inner = _marks_inner_radius(style) - style.numeral_gap
    if style.numerals != "no_numerals":
        pixel_size = fonts.quantised_pixels(style.numeral_size * scale)
        # Shrink the font until the widest numeral fits between its
        # neighbours (big bold fonts and "VIII" would otherwise collide).
        for _ in range(4):
            masks, widest, tallest = fonts.numeral_masks(style.numeral_font, pixel_size, style.numerals)
            if style.numeral_orientation == "radial":
                along_ring, across_ring = widest, tallest
            else:
                along_ring = across_ring = max(widest, tallest)
            centre_radius = inner - across_ring / (2.0 * scale)
            room = 2.0 * _HALF_CHORD * centre_radius * scale * (0.85 if style.numerals != "partial_numerals" else 2.0)
            if along_ring <= room or pixel_size <= fonts.PIXEL_LADDER[0]:
                break
            pixel_size = fonts.quantised_pixels(pixel_size * max(0.5, room / along_ring))
        stretch = projection.layout_radii(style, np.arange(12) * (math.pi / 6.0)).tolist()
        for position, mask in masks:
            half_width = mask.size[0] / (2.0 * scale)
            half_height = mask.size[1] / (2.0 * scale)
            angle = position * (math.pi / 6.0)
            sine, cosine = math.sin(angle), math.cos(angle)
            if style.numeral_orientation == "radial":
                centre_radius = inner * stretch[position] - half_height
                turn = angle
            else:
                # Upright text: its extent towards the centre depends on
                # where it sits (wide "IIII" at 4 vs tall at 12).
                centre_radius = inner * stretch[position] - (half_width * abs(sine) + half_height * abs(cosine))
                turn = 0.0
            canvas.glyph(mask, centre_radius * sine, -centre_radius * cosine, style.ink_colour, turn)
    if style.brand_text:
        mask = fonts.text_mask(style.brand_font, fonts.quantised_pixels(0.09 * scale), style.brand_text)
        canvas.glyph(mask, 0.0, -0.38, style.ink_colour)
    if style.brand_text_low:
        mask = fonts.glyph(style.brand_font, fonts.quantised_pixels(0.065 * scale), style.brand_text_low)
        canvas.glyph(mask, 0.0, 0.42, style.ink_colour)


def _hand_points(shape, variant, length, width, tail):
    """Outline of a hand pointing along +``along``, as (along, across) pairs.

    Args:
        shape: hand_shape tag.
        variant: "arrow" or "spade" for ``arrow_hands``.
        length: Tip distance from the pivot, dial radii.
        width: Nominal width, dial radii.
        tail: Length behind the pivot (at least a stub so the hand covers
            the pivot).

    Returns:
        float64 array (n, 2) of (along, across) coordinates.
    """
    half = width / 2.0
    back = -max(tail, half)
    if shape == "sword_hands":
        return np.array(
            [
                [back, -0.55 * half],
                [0.22 * length, -half],
                [length, 0.0],
                [0.22 * length, half],
                [back, 0.55 * half],
            ]
        )
    if shape == "arrow_hands":
        shaft = max(0.35 * half, 0.006)
        head = min(0.3 * length, 4.0 * half + 0.05)
        wing = max(1.7 * half, 0.025)
        if variant == "spade":
            return np.array(
                [
                    [back, -shaft],
                    [length - 1.5 * head, -shaft],
                    [length - 0.9 * head, -wing],
                    [length, 0.0],
                    [length - 0.9 * head, wing],
                    [length - 1.5 * head, shaft],
                    [back, shaft],
                ]
            )
        return np.array(
            [
                [back, -shaft],
                [length - head, -shaft],
                [length - head, -wing],
                [length, 0.0],
                [length - head, wing],
                [length - head, shaft],
                [back, shaft],
            ]
        )
    # Line (baton) hands: a plain rectangle, the most common real design.
    return np.array([[back, -half], [length, -half], [length, half], [back, half]])


def _hand_polygon(shape, variant, length, width, tail, angle_radians):
    """Dial-frame polygon of a hand at the given dial angle."""
    outline = _hand_points(shape, variant, length, width, tail)
    along, across = projection.direction(angle_radians)
    return outline[:, :1] * along + outline[:, 1:] * across


def draw_hands(canvas, style, hour_angle, minute_angle, second_angle):
    """Hour, minute and second hands with shadow, counterweight and cap."""
    tail_hour = style.tail_fraction * style.hour_length
    tail_minute = style.tail_fraction * style.minute_length
    hour = _hand_polygon(
        style.hand_shape, style.arrow_variant, style.hour_length, style.hour_width, tail_hour, hour_angle
    )
    minute = _hand_polygon(
        style.hand_shape, style.arrow_variant, style.minute_length, style.minute_width, tail_minute, minute_angle
    )
    second = None
    if style.second_hand:
        second = _hand_polygon(
            "line_hands", "arrow", style.second_length, style.second_width, style.second_tail, second_angle
        )
    if style.hand_shadow is not None:
        shift = np.array(style.hand_shadow)
        for polygon in (hour, minute, second):
            if polygon is not None:
                canvas.polygon(polygon + shift, style.hand_shadow_colour)

    outline = style.hand_outline_colour
    for polygon, colour in ((hour, style.hour_colour), (minute, style.minute_colour)):
        if outline is not None:
            width = max(2, int(round(0.025 * canvas.scale)))
            canvas.draw.polygon(
                canvas.project(polygon).ravel().tolist(),
                fill=canvas.ink(colour),
                outline=canvas.ink(outline),
                width=width,
            )
        else:
            canvas.polygon(polygon, colour)
    if second is not None:
        canvas.polygon(second, style.second_colour)
        if style.second_counterweight > 0:
            along, _ = projection.direction(second_angle)
            canvas.disc(-0.75 * style.second_tail * along, style.second_counterweight, style.second_colour)
    if style.cap_radius > 0:
        canvas.disc((0.0, 0.0), style.cap_radius, style.cap_colour)
        if style.second_hand:
            canvas.disc((0.0, 0.0), 0.45 * style.cap_radius, style.second_colour)


def draw_glare(canvas, style):
    """A pale reflection on the glass across part of the dial."""
    along, across = projection.direction(math.radians(style.glare_angle_degrees))
    # A lens-shaped region: the part of the disc beyond a chord.
    arc = np.linspace(-1.1, 1.1, 24)
    edge = np.stack([np.sin(arc), np.cos(arc)], axis=1) * 0.95
    points = edge[:, :1] * across + edge[:, 1:] * along
    canvas.blended_polygon(points, (255, 255, 255), style.glare_alpha)
