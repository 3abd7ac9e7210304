"""The world profile's camera: a dial plane tilted in 3D and seen in perspective.

The classic profile squashes the dial with a small projective map; photographs
show clocks turned up to 60 degrees from the camera, so the world profile
places the clock in 3D: roll in the dial plane (the clock hangs crooked), a
tilt of the dial about an axis in its plane, then a pinhole camera at
``distance`` dial radii. Every plane parallel to the dial (case front, hands,
glass) then maps to the picture by an exact 3x3 homography, so drawing stays
polygon fills and keypoints stay exact.

Dial frame: unit = dial radius, x right, y down, z away from the camera
(the case front and the hands have negative z).
"""

import math

import numpy as np
from PIL import ImageDraw

from zoo.clocks.clockface import surface


def view_matrix(roll_degrees, tilt_degrees, tilt_axis_degrees, distance):
    """3x4 map of dial-frame points (x, y, z, 1) to homogeneous picture points.

    The picture is in dial radii around the dial centre: a frontal dial maps
    with scale 1 at any distance.
    """
    roll = math.radians(roll_degrees)
    rolled = np.array([[math.cos(roll), -math.sin(roll), 0.0], [math.sin(roll), math.cos(roll), 0.0], [0, 0, 1.0]])
    tilt = math.radians(tilt_degrees)
    axis = math.radians(tilt_axis_degrees)
    k_x, k_y = math.cos(axis), math.sin(axis)
    skew = np.array([[0.0, 0.0, k_y], [0.0, 0.0, -k_x], [-k_y, k_x, 0.0]])
    tilted = np.eye(3) + math.sin(tilt) * skew + (1.0 - math.cos(tilt)) * (skew @ skew)
    rotation = tilted @ rolled
    return np.array([
        [*rotation[0], 0.0],
        [*rotation[1], 0.0],
        [*(rotation[2] / distance), 1.0],
    ])


def plane_matrix(view, depth):
    """3x3 homography of the dial-parallel plane at ``depth`` (dial frame z)."""
    return np.stack([view[:, 0], view[:, 1], view[:, 2] * depth + view[:, 3]], axis=1)


def project_points(view, points):
    """(..., 3) dial-frame points -> (..., 2) picture points and their (...,) depths w."""
    points = np.asarray(points, dtype=np.float64)
    homogeneous = points @ view[:, :3].T + view[:, 3]
    return homogeneous[..., :2] / homogeneous[..., 2:], homogeneous[..., 2]


class PlaneCanvas(surface.Canvas):
    """A :class:`~zoo.clocks.clockface.surface.Canvas` drawing on one dial-parallel plane.

    It carries the homography of its plane in canvas pixels, so the classic
    dial, marks and numerals draw on it unchanged; :meth:`at` gives the canvas
    of another plane on the same image.
    """

    def __init__(self, image, view, place, scale, depth=0.0, draw=None):
        self.image = image
        self.draw = draw or ImageDraw.Draw(image)
        self.grey = image.mode == "L"
        self.view = view
        self.place = place
        self.scale = scale
        self.depth = depth
        self.matrix = place @ plane_matrix(view, depth)
        self.coefficients = self.matrix.ravel().tolist()
        self.circle_count = int(min(max(scale * 0.5, 24), 72))

    def at(self, depth):
        """The canvas of the plane at ``depth`` on the same image."""
        return PlaneCanvas(self.image, self.view, self.place, self.scale, depth, self.draw)

    def on(self, image):
        """The same plane drawing on another image (a mask)."""
        return PlaneCanvas(image, self.view, self.place, self.scale, self.depth)
