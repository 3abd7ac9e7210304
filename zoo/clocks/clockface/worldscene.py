"""Around and in front of a world-profile clock: the backdrop, lines, glare on the glass, occluders.

Photographs rarely show a clock alone: cables and shelf edges cross it,
windows reflect in its glass, and branches, fingers, heads or signs hide part
of it. Occluders never hide both hand tips, so the time stays readable.
"""

import math

import numpy as np
from PIL import Image, ImageChops, ImageDraw, ImageFilter

from zoo.clocks.clockface import backgrounds, draws, palette


def backdrop(style, photos, stream, render_size, canvas_size):
    """The picture behind the clock, RGB at canvas size."""
    side = max(32, render_size // 2)
    if style.background == "photo_background" and photos is not None:
        image = backgrounds.photo_patch(photos, stream, render_size, render_size)
        if style.background_blur > 0:
            image = image.filter(ImageFilter.GaussianBlur(style.background_blur * render_size / 150.0))
        if stream.random() < 0.3:
            # Photos of clocks often come desaturated or tinted; vary the backdrop's colours too.
            image = Image.blend(image, image.convert("L").convert("RGB"), stream.uniform(0.3, 1.0))
    else:
        kind = "wall" if style.background == "wall_background" else None
        if style.case == "tower_clock" and stream.random() < 0.7:
            kind = draws.pick(stream, ("sky", "brick", "wall"), (0.5, 0.3, 0.2))
        image = Image.fromarray(backgrounds.procedural(stream, side, kind))
    return image.resize((canvas_size, canvas_size), Image.Resampling.BILINEAR)


def draw_lines(image, stream, count, scale):
    """Long straight lines across the frame (cables, shelf edges, window frames)."""
    draw = ImageDraw.Draw(image)
    size = image.size[0]
    for _ in range(count):
        x, y = stream.random() * size, stream.random() * size
        angle = stream.uniform(0.0, math.pi)
        reach = 1.5 * size
        dx, dy = reach * math.cos(angle), reach * math.sin(angle)
        draw.line([x - dx, y - dy, x + dx, y + dy], fill=palette.any_colour(stream),
                  width=max(1, int(stream.uniform(0.006, 0.03) * scale)))


def draw_glare(glass, style, stream, photos, outline):
    """Reflections on the glass: a lens of light, window bands, a room reflected, a highlight."""
    image = glass.image
    size = image.size
    glass_mask = Image.new("L", size, 0)
    ImageDraw.Draw(glass_mask).polygon(glass.project(outline).ravel().tolist(), fill=255)
    alpha = style.glare_alpha
    angle = math.radians(style.glare_angle_degrees)
    along = np.array([math.sin(angle), -math.cos(angle)])
    across = np.array([math.cos(angle), math.sin(angle)])
    if style.glare == "reflection":
        patch = (backgrounds.photo_patch(photos, stream, size[0] // 2, size[1] // 2) if photos is not None
                 else Image.fromarray(backgrounds.procedural(stream, 48)))
        patch = patch.resize(size, Image.Resampling.BILINEAR)
        image.paste(patch, (0, 0), glass_mask.point([value * alpha // 300 for value in range(256)]))
        return
    mask = Image.new("L", size, 0)
    draw = ImageDraw.Draw(mask)
    if style.glare == "lens":
        arc = np.linspace(-1.1, 1.1, 24)
        edge = np.stack([np.sin(arc), np.cos(arc)], axis=1) * 1.05
        shift = stream.uniform(0.0, 0.5)
        points = edge[:, :1] * across + (edge[:, 1:] * (1.0 - shift) + shift) * along
        draw.polygon(glass.project(points).ravel().tolist(), fill=alpha)
    elif style.glare == "window":
        offset = stream.uniform(-0.6, 0.6)
        for _ in range(int(stream.integers(1, 3))):
            width = stream.uniform(0.08, 0.35)
            band = np.array([offset * across - 2.0 * along, (offset + width) * across - 2.0 * along,
                             (offset + width + 0.3) * across + 2.0 * along, (offset + 0.3) * across + 2.0 * along])
            draw.polygon(glass.project(band).ravel().tolist(), fill=alpha)
            offset += width + stream.uniform(0.05, 0.3)
    else:  # highlight: a small bright spot near the rim
        centre = along * stream.uniform(0.5, 0.85)
        radius = stream.uniform(0.08, 0.22)
        spot = centre + radius * np.stack([np.sin(np.linspace(0, 2 * math.pi, 16)),
                                           0.6 * np.cos(np.linspace(0, 2 * math.pi, 16))], axis=1)
        draw.polygon(glass.project(spot).ravel().tolist(), fill=min(255, 2 * alpha))
    mask = ImageChops.multiply(mask, glass_mask)
    blur = stream.uniform(0.01, 0.08) * glass.scale
    if blur > 0.5:
        mask = mask.filter(ImageFilter.BoxBlur(blur))
    tint = palette.mix((255, 255, 255), palette.any_colour(stream), stream.uniform(0.0, 0.3))
    image.paste(tint, (0, 0), mask)


def _occluder_shape(draw, stream, kind, centre, radius, size):
    """Draw one occluder's shape into a mask; returns its fill kind."""
    cx, cy = centre
    angle = stream.uniform(0.0, 2.0 * math.pi)
    if kind == "bar":
        # A pole, branch or window bar passing near the centre.
        pass_x = cx + stream.uniform(-0.9, 0.9) * radius
        pass_y = cy + stream.uniform(-0.9, 0.9) * radius
        dx, dy = 2.0 * size * math.cos(angle), 2.0 * size * math.sin(angle)
        width = max(2, int(stream.uniform(0.08, 0.35) * radius))
        draw.line([pass_x - dx, pass_y - dy, pass_x + dx, pass_y + dy], fill=255, width=width)
    elif kind == "cable":
        start = np.array([cx, cy]) + 3.0 * size * np.array([math.cos(angle), math.sin(angle)])
        end = np.array([cx, cy]) - 3.0 * size * np.array([math.cos(angle), math.sin(angle)])
        middle = np.array([cx, cy]) + stream.uniform(-1.0, 1.0) * radius * np.array([-math.sin(angle), math.cos(angle)])
        t = np.linspace(0.0, 1.0, 24)[:, None]
        curve = (1 - t) ** 2 * start + 2 * t * (1 - t) * middle + t ** 2 * end
        draw.line(curve.ravel().tolist(), fill=255, width=max(1, int(stream.uniform(0.015, 0.05) * radius)))
    elif kind == "finger":
        tip = np.array([cx, cy]) + stream.uniform(0.3, 1.0) * radius * np.array([math.cos(angle), math.sin(angle)])
        base = tip + 3.0 * size * np.array([math.cos(angle), math.sin(angle)])
        width = stream.uniform(0.18, 0.35) * radius
        draw.line([*tip, *base], fill=255, width=max(2, int(width)))
        draw.ellipse([tip[0] - width / 2, tip[1] - width / 2, tip[0] + width / 2, tip[1] + width / 2], fill=255)
    elif kind == "leaves":
        base = np.array([cx, cy]) + stream.uniform(0.6, 1.2) * radius * np.array([math.cos(angle), math.sin(angle)])
        for _ in range(int(stream.integers(3, 9))):
            spot = base + stream.uniform(-0.5, 0.5, ) * radius * np.array([1.0, 0.0]) + \
                stream.uniform(-0.5, 0.5) * radius * np.array([0.0, 1.0])
            length, width = stream.uniform(0.15, 0.4) * radius, stream.uniform(0.06, 0.15) * radius
            turn = stream.uniform(0.0, math.pi)
            t = np.linspace(0.0, 2.0 * math.pi, 12)
            leaf = np.stack([length * np.cos(t), width * np.sin(t)], axis=1)
            rotation = np.array([[math.cos(turn), -math.sin(turn)], [math.sin(turn), math.cos(turn)]])
            draw.polygon((leaf @ rotation.T + spot).ravel().tolist(), fill=255)
    else:  # blob: a head, a lamp, a plant pot or a sign entering from the side
        reach = stream.uniform(0.8, 1.5) * radius
        centre_blob = np.array([cx, cy]) + reach * np.array([math.cos(angle), math.sin(angle)])
        half_x, half_y = stream.uniform(0.3, 0.8) * radius, stream.uniform(0.3, 0.8) * radius
        box = [centre_blob[0] - half_x, centre_blob[1] - half_y, centre_blob[0] + half_x, centre_blob[1] + half_y]
        if stream.random() < 0.5:
            draw.ellipse(box, fill=255)
        else:
            draw.rectangle(box, fill=255)


def draw_occluders(image, style, stream, photos, centre, radius, tips):
    """Objects in front of the clock; none hides both hand tips."""
    size = image.size[0]
    for _ in range(style.occluder_count):
        kind = draws.pick(stream, ("bar", "cable", "finger", "leaves", "blob"), (0.3, 0.15, 0.15, 0.15, 0.25))
        for _attempt in range(4):
            mask = Image.new("L", image.size, 0)
            _occluder_shape(ImageDraw.Draw(mask), stream, kind, centre, radius, size)
            covered = [mask.getpixel((int(min(max(x, 0), size - 1)), int(min(max(y, 0), size - 1)))) > 0
                       for x, y in tips]
            if not all(covered):
                break
        else:
            continue
        if kind == "finger":
            fill = palette.hsv(stream.uniform(0.03, 0.09), stream.uniform(0.25, 0.6), stream.uniform(0.35, 0.95))
        elif kind == "leaves":
            fill = palette.hsv(stream.uniform(0.2, 0.4), stream.uniform(0.4, 0.9), stream.uniform(0.15, 0.6))
        else:
            fill = palette.any_colour(stream)
        if stream.random() < 0.4:
            # Foreground objects are often out of focus.
            mask = mask.filter(ImageFilter.BoxBlur(stream.uniform(0.02, 0.08) * radius))
        if kind in ("blob", "bar") and photos is not None and stream.random() < 0.5:
            patch = backgrounds.photo_patch(photos, stream, size // 2, size // 2).resize(image.size)
            image.paste(patch, (0, 0), mask)
        else:
            image.paste(fill, (0, 0), mask)
