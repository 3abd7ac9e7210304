"""What surrounds the clock: background, clutter and distractor lines."""

import math

import numpy as np
from PIL import Image

from zoo.clocks.clockface import draws, palette, surface


def draw_background(style, stream, size, mode):
    """Background drawn at half the output resolution, upsampled to the canvas.

    Backgrounds are smooth, so drawing them small and repeating pixels is
    indistinguishable after the final reduction and much cheaper. The same
    random draws are made for 'L' and 'RGB' so both modes show one scene.
    """
    canvas_size = size * surface.SUPERSAMPLE
    first = style.background_colours[0]
    if style.background == "flat_background":
        return Image.new(mode, (canvas_size, canvas_size), palette.grey_level(first) if mode == "L" else first)
    small = max(2, size // 2)
    colours = np.array(style.background_colours, dtype=np.float64)
    if style.background == "texture_background":
        cells = style.texture_cells
        amplitude = stream.uniform(10.0, 60.0)
        channel_weights = stream.generator.uniform(0.3, 1.0, (1, 1, 3))
        grid = colours[0] + stream.generator.normal(0.0, amplitude, (cells, cells, 3)) * channel_weights
        image = Image.fromarray(np.clip(grid, 0, 255).astype(np.uint8))
        resample = Image.Resampling.BICUBIC
    else:
        # Gradient (also the base under clutter): bilinear between 4 corners.
        image = Image.fromarray(np.clip(colours.reshape(2, 2, 3), 0, 255).astype(np.uint8))
        resample = Image.Resampling.BILINEAR
    if mode == "L":
        image = image.convert("L")
    image = image.resize((small, small), resample)
    return image.resize((canvas_size, canvas_size), Image.Resampling.NEAREST)


def draw_clutter(canvas, stream, canvas_size, count):
    """Random shapes standing in for the objects around a clock in a room."""
    draw = canvas.draw
    for _ in range(count):
        colour = canvas.ink(palette.any_colour(stream))
        kind = draws.pick(stream, ("rectangle", "ellipse", "polygon", "line"), (0.35, 0.25, 0.2, 0.2))
        centre_x = stream.uniform(-0.1, 1.1) * canvas_size
        centre_y = stream.uniform(-0.1, 1.1) * canvas_size
        extent_x = stream.uniform(0.05, 0.6) * canvas_size
        extent_y = stream.uniform(0.05, 0.6) * canvas_size
        if kind == "rectangle":
            angle = stream.uniform(0.0, math.pi) if stream.random() < 0.4 else 0.0
            cosine, sine = math.cos(angle), math.sin(angle)
            points = []
            for unit_x, unit_y in ((-0.5, -0.5), (0.5, -0.5), (0.5, 0.5), (-0.5, 0.5)):
                offset_x, offset_y = unit_x * extent_x, unit_y * extent_y
                points += [
                    centre_x + cosine * offset_x - sine * offset_y,
                    centre_y + sine * offset_x + cosine * offset_y,
                ]
            draw.polygon(points, fill=colour)
        elif kind == "ellipse":
            draw.ellipse(
                [centre_x - extent_x / 2, centre_y - extent_y / 2, centre_x + extent_x / 2, centre_y + extent_y / 2],
                fill=colour,
            )
        elif kind == "polygon":
            points = []
            for _ in range(stream.integers(3, 7)):
                points += [
                    centre_x + stream.uniform(-0.5, 0.5) * extent_x,
                    centre_y + stream.uniform(-0.5, 0.5) * extent_y,
                ]
            draw.polygon(points, fill=colour)
        else:
            points = []
            for _ in range(stream.integers(2, 5)):
                points += [
                    centre_x + stream.uniform(-1.0, 1.0) * extent_x,
                    centre_y + stream.uniform(-1.0, 1.0) * extent_y,
                ]
            draw.line(points, fill=colour, width=stream.integers(1, 10))


def draw_distractors(canvas, stream, canvas_size, count):
    """Long straight lines (cables, shelf edges, window frames)."""
    draw = canvas.draw
    for _ in range(count):
        start_x = stream.random() * canvas_size
        start_y = stream.random() * canvas_size
        angle = stream.uniform(0.0, math.pi)
        reach = 1.5 * canvas_size
        offset_x, offset_y = reach * math.cos(angle), reach * math.sin(angle)
        draw.line(
            [start_x - offset_x, start_y - offset_y, start_x + offset_x, start_y + offset_y],
            fill=canvas.ink(palette.any_colour(stream)),
            width=stream.integers(1, 8),
        )
