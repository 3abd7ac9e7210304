"""The dial frame and its projective map onto the picture.

A clock is laid out in a *dial frame*: unit = dial radius, x to the right, y
down, angles clockwise from 12. Every point goes through one projective map
(in-plane rotation, the tilt of the dial plane, then scale and offset in the
frame), so drawing stays polygon fills instead of image warps.
"""

import functools
import math

import numpy as np


@functools.lru_cache(maxsize=64)
def circle(count):
    """Unit circle as (count, 2) points, clockwise from 12."""
    angles = np.linspace(0.0, 2.0 * np.pi, count, endpoint=False)
    return np.stack([np.sin(angles), -np.cos(angles)], axis=1)


def unit_outline(shape, corner_radius, count):
    """Outline of the dial shape whose inscribed circle has radius 1.

    Args:
        shape: One of the dial_shape tags.
        corner_radius: Corner rounding for ``rounded_square`` in dial radii.
        count: Number of points on a round outline.

    Returns:
        float64 array (n, 2) of points in the dial frame.
    """
    if shape == "round":
        return circle(count)
    if shape == "square":
        return np.array([[-1.0, -1.0], [1.0, -1.0], [1.0, 1.0], [-1.0, 1.0]])
    if shape == "octagon":
        circumradius = 1.0 / math.cos(math.pi / 8.0)
        angles = np.pi / 8.0 + np.arange(8) * np.pi / 4.0
        return circumradius * np.stack([np.sin(angles), -np.cos(angles)], axis=1)
    if shape == "rounded_square":
        inner = 1.0 - corner_radius
        points = []
        arc = np.linspace(0.0, np.pi / 2.0, 7)
        corners = ((inner, -inner, 0.0), (inner, inner, 0.5), (-inner, inner, 1.0), (-inner, -inner, 1.5))
        for centre_x, centre_y, start in corners:
            angles = arc + start * np.pi
            x = centre_x + corner_radius * np.sin(angles)
            y = centre_y - corner_radius * np.cos(angles)
            points.append(np.stack([x, y], axis=1))
        return np.concatenate(points, axis=0)
    raise ValueError(f"shape must be one of the dial_shape tags, got {shape!r}")


def layout_radii(style, angles):
    """Radial scale of marks and numerals at the given dial angles.

    1 everywhere for the usual circular layout; for ``square_layout`` the
    distance from the centre to the square (or rounded square) edge, so
    marks and numerals follow the edges of the dial.
    """
    if not style.square_layout:
        return np.ones_like(angles)
    along_x = np.abs(np.sin(angles))
    along_y = np.abs(np.cos(angles))
    flat = 1.0 / np.maximum(along_x, along_y)
    if style.dial_shape != "rounded_square":
        return flat
    corner = style.corner_radius
    inset = 1.0 - corner
    # Where the ray leaves through a rounded corner, intersect the corner's
    # circle: |t u - (k, k)| = corner with k = 1 - corner.
    total = along_x + along_y
    through_corner = np.minimum(along_x, along_y) * flat > inset
    discriminant = np.maximum(inset * inset * total * total - 2.0 * inset * inset + corner * corner, 0.0)
    rounded = inset * total + np.sqrt(discriminant)
    return np.where(through_corner, rounded, flat)


def view_matrix(rotation_degrees, tilt_direction_degrees, foreshortening, perspective, shear):
    """3x3 projective map of the dial frame before scaling and placement.

    In-plane rotation first (the clock hangs crooked), then the tilt of the
    dial plane (perspective along the tilt direction, foreshortening across
    it) and a little shear (lens and cropping skew).
    """
    rotation = math.radians(rotation_degrees)
    cosine, sine = math.cos(rotation), math.sin(rotation)
    direction = math.radians(tilt_direction_degrees)
    axis_x, axis_y = math.cos(direction), math.sin(direction)
    # squash = (I + (foreshortening - 1) axis axis^T) @ [[1, shear], [0, 1]]
    stretch = foreshortening - 1.0
    q00, q01 = 1.0 + stretch * axis_x * axis_x, stretch * axis_x * axis_y
    q10, q11 = stretch * axis_x * axis_y, 1.0 + stretch * axis_y * axis_y
    q01, q11 = q00 * shear + q01, q10 * shear + q11
    # squash @ tilt @ rotate written out: the rotation matrix
    # [[cos, -sin], [sin, cos]] turns the picture clockwise with y pointing
    # down, the same sense in which dial angles are measured; the tilt row
    # [perspective * axis, 1] makes the far side of the dial smaller.
    tilt_x, tilt_y = perspective * axis_x, perspective * axis_y
    return np.array(
        [
            [q00 * cosine + q01 * sine, -q00 * sine + q01 * cosine, 0.0],
            [q10 * cosine + q11 * sine, -q10 * sine + q11 * cosine, 0.0],
            [tilt_x * cosine + tilt_y * sine, -tilt_x * sine + tilt_y * cosine, 1.0],
        ]
    )


def project_with(matrix, points):
    """Apply a 3x3 projective matrix to an (..., 2) array of points."""
    homogeneous = points @ matrix[:, :2].T + matrix[:, 2]
    return homogeneous[..., :2] / homogeneous[..., 2:]


def direction(angle_radians):
    """Unit vector of a dial angle (clockwise from 12) and its right normal."""
    along = np.array([math.sin(angle_radians), -math.cos(angle_radians)])
    across = np.array([math.cos(angle_radians), math.sin(angle_radians)])
    return along, across
