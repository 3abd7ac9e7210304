"""The supersampled drawing surface that carries a clock's projective map.

Everything is drawn at ``SUPERSAMPLE`` times the output size and reduced with
a box filter, which anti-aliases the PIL polygons. Numerals are small glyph
images warped by the local affine part of the same map as the polygons.
"""

import math

import numpy as np
from PIL import Image, ImageDraw

from zoo.clocks.clockface import palette, projection

SUPERSAMPLE = 2
"""Drawing resolution relative to the output; the reduction anti-aliases."""


class Canvas:
    """Supersampled drawing surface with the clock's projective map.

    Colours are always given as RGB. On an 'L' canvas they are drawn as
    their grey level: every operation here (opaque fills, alpha blends,
    anti-aliased glyph masks, the box-filter reduction) is linear in the
    pixel values, so drawing grey gives the grey of the colour drawing, up
    to rounding, with one channel instead of three.
    """

    def __init__(self, image, style):
        self.image = image
        self.draw = ImageDraw.Draw(image)
        self.grey = image.mode == "L"
        canvas_size = image.size[0]
        self.scale = style.radius * canvas_size
        view = projection.view_matrix(
            style.rotation_degrees,
            style.tilt_direction_degrees,
            style.foreshortening,
            style.perspective,
            style.shear,
        )
        place = np.array(
            [
                [self.scale, 0.0, style.centre_x * canvas_size],
                [0.0, self.scale, style.centre_y * canvas_size],
                [0.0, 0.0, 1.0],
            ]
        )
        self.matrix = place @ view
        # Python floats for the per-glyph arithmetic (numpy is slow on scalars).
        self.coefficients = self.matrix.ravel().tolist()
        # Chords of a 72-gon stray < 0.1 output pixel from a 150 px circle.
        self.circle_count = int(min(max(self.scale * 0.5, 24), 72))

    def project(self, points):
        """Dial-frame points (..., 2) -> canvas pixel coordinates."""
        return projection.project_with(self.matrix, np.asarray(points, dtype=np.float64))

    def ink(self, colour):
        """An RGB colour as this canvas draws it (a grey level on 'L')."""
        return palette.grey_level(colour) if self.grey else tuple(colour[:3])

    def polygon(self, points, fill):
        """Fill a dial-frame polygon."""
        self.draw.polygon(self.project(points).ravel().tolist(), fill=self.ink(fill))

    def blended_polygon(self, points, fill, alpha):
        """Blend colour ``fill`` over a dial-frame polygon with opacity ``alpha`` (0-255).

        The polygon is filled into a mask covering its bounding box and the
        colour pasted through it, which works on 'L' as well as 'RGB'.
        """
        projected = self.project(points)
        width, height = self.image.size
        left = max(0, int(math.floor(projected[:, 0].min())))
        top = max(0, int(math.floor(projected[:, 1].min())))
        right = min(width, int(math.ceil(projected[:, 0].max())) + 1)
        bottom = min(height, int(math.ceil(projected[:, 1].max())) + 1)
        if right <= left or bottom <= top:
            return
        mask = Image.new("L", (right - left, bottom - top), 0)
        ImageDraw.Draw(mask).polygon((projected - (left, top)).ravel().tolist(), fill=int(alpha))
        self.image.paste(self.ink(fill), (left, top, right, bottom), mask)

    def disc(self, centre, radius, fill):
        """Fill a dial-frame circle (an ellipse on the canvas under the view)."""
        count = int(min(max(radius * self.scale, 10), self.circle_count))
        self.polygon(np.asarray(centre, dtype=np.float64) + radius * projection.circle(count), fill)

    def discs(self, centres, radii, fill):
        """Fill many dial-frame circles with one projection (tick dots)."""
        if len(radii) == 0:
            return
        count = int(min(max(float(np.max(radii)) * self.scale, 10), self.circle_count))
        points = centres[:, None, :] + radii[:, None, None] * projection.circle(count)[None]
        ink = self.ink(fill)
        polygon = self.draw.polygon
        for outline in self.project(points).reshape(len(radii), 2 * count).tolist():
            polygon(outline, fill=ink)

    def ring(self, radius, width, fill):
        """Stroke a dial-frame circle of the given radius and line width."""
        self.outline(radius * projection.circle(self.circle_count), width, fill)

    def outline(self, points, width, fill):
        """Stroke a closed dial-frame outline with a line ``width`` dial radii wide.

        Cheaper than filling two nested polygons; polygons with few corners
        get round joints so that thick square rims have no notches.
        """
        pixel_width = max(1, int(round(width * self.scale)))
        projected = self.project(points)
        projected = np.concatenate([projected, projected[:1]], axis=0)
        joint = "curve" if len(points) <= 32 and pixel_width > 2 else None
        self.draw.line(projected.ravel().tolist(), fill=self.ink(fill), width=pixel_width, joint=joint)

    def glyph(self, mask, x, y, fill, turn_radians=0.0):
        """Paste a glyph mask centred on dial-frame point (x, y), warped by the view.

        The glyph is upright in the dial frame (or turned by ``turn_radians``,
        for radial numerals), so it rotates, tilts and foreshortens together
        with the dial: the local affine part of the projective map is
        applied to the small mask.
        """
        a, b, c, d, e, f, g, h, i = self.coefficients
        weight = g * x + h * y + i
        mapped_x = (a * x + b * y + c) / weight
        mapped_y = (d * x + e * y + f) / weight
        scale = self.scale * weight
        # Derivative of the projective map at (x, y), per unit of scale.
        j00, j01 = (a - mapped_x * g) / scale, (b - mapped_x * h) / scale
        j10, j11 = (d - mapped_y * g) / scale, (e - mapped_y * h) / scale
        if turn_radians:
            cosine, sine = math.cos(turn_radians), math.sin(turn_radians)
            j00, j01 = j00 * cosine + j01 * sine, -j00 * sine + j01 * cosine
            j10, j11 = j10 * cosine + j11 * sine, -j10 * sine + j11 * cosine
        width, height = mask.size
        # Below ~3 degrees of turn or 5 % of stretch the warp is invisible
        # on a numeral, so it is skipped.
        if max(abs(j00 - 1.0), abs(j01), abs(j10), abs(j11 - 1.0)) > 0.05:
            out_width = int(math.ceil(abs(j00) * width + abs(j01) * height)) + 2
            out_height = int(math.ceil(abs(j10) * width + abs(j11) * height)) + 2
            determinant = j00 * j11 - j01 * j10
            i00, i01 = j11 / determinant, -j01 / determinant
            i10, i11 = -j10 / determinant, j00 / determinant
            # PIL maps output pixels back to input: in = inverse @ (out - c_out) + c_in.
            offset_x = width / 2.0 - (i00 * out_width + i01 * out_height) / 2.0
            offset_y = height / 2.0 - (i10 * out_width + i11 * out_height) / 2.0
            mask = mask.transform(
                (out_width, out_height),
                Image.Transform.AFFINE,
                (i00, i01, offset_x, i10, i11, offset_y),
                Image.Resampling.BILINEAR,
            )
            width, height = out_width, out_height
        position = (int(round(mapped_x - width / 2.0)), int(round(mapped_y - height / 2.0)))
        self.draw.bitmap(position, mask, fill=self.ink(fill))
