"""Finding the clock in a photo, then reading it (``zoo predict-time``, unless ``--no-find``).

A clock reader reads a square picture the clock fills. A photo is wider than it is
tall and its clock may sit anywhere, a fifth of its width across. Two passes:

1. the photo (grey, its shorter side brought to :data:`WORK_SIDE` pixels) is cut into
   squares as tall as it is, overlapping along its long side; each is read, and the
   reading the reader is surest of wins;
2. the winner's keypoints (the pivot and the rim at 12 and at 3) give the dial's centre
   and radius; a square of :data:`MARGIN` dial radii round the centre (edge pixels
   repeated past the photo's border) is read again, the dial now filling it as
   training clocks fill theirs.

The answer is the second reading, with the dial's box in the photo's pixels. A
reader without a keypoint output (the report's classifiers) cannot be located with.
numpy, Pillow and onnxruntime only.
"""

import math

import numpy as np

from serve import images as imaging
from serve import models
from zoo import errors
from zoo.common import decoding

WORK_SIDE = 512
"""The photo's shorter side while locating, in pixels (the reader's input is far smaller)."""
MARGIN = 1.3
"""Half the second pass's square, in dial radii: the dial fills about three quarters of it."""
OVERLAP = 0.5
"""How much neighbouring first-pass squares overlap, as a share of their side."""
MAX_WINDOWS = 1 + math.ceil((imaging.MAX_ASPECT - 1) / (1 - OVERLAP))
"""The first pass's squares at most: what a picture at the aspect-ratio limit needs."""
CHUNK = 16
"""First-pass squares per onnxruntime run, so the work's memory does not grow with their count."""


def windows(width, height):
    """The first pass's squares ``(left, top, side)``: as tall as the picture's shorter
    side, spaced along its longer side so neighbours overlap by :data:`OVERLAP`."""
    side = min(width, height)
    span = max(width, height) - side
    count = 1 if span <= 0.05 * side else 1 + math.ceil(span / (side * (1.0 - OVERLAP)))
    if count > MAX_WINDOWS:
        raise errors.LimitError(f"a {width}x{height} picture would be cut into {count} squares to find the clock, "
                                f"over the limit of {MAX_WINDOWS} (its aspect ratio is over {imaging.MAX_ASPECT}:1)")
    starts = np.linspace(0, span, count).round().astype(int) if count > 1 else np.array([span // 2])
    return [(int(start), 0, side) if width >= height else (0, int(start), side) for start in starts]


def square(grey, centre_x, centre_y, half, size):
    """The square of half-side ``half`` round ``(centre_x, centre_y)`` of a grey array,
    edge pixels repeated past its border, resized to ``size`` x ``size``: float32 (size, size, 1)."""
    from PIL import Image

    height, width = grey.shape
    left, top = int(round(centre_x - half)), int(round(centre_y - half))
    side = max(2, int(round(2 * half)))
    pad = max(0, -left, -top, left + side - width, top + side - height)
    padded = np.pad(grey, pad, mode="edge") if pad else grey
    window = padded[top + pad:top + pad + side, left + pad:left + pad + side]
    picture = Image.fromarray(window).resize((size, size), Image.Resampling.BILINEAR,
                                             reducing_gap=imaging.REDUCING_GAP)
    return np.asarray(picture, dtype=np.float32)[..., None]


def grey_of(image):
    """A decoded photo as a uint8 grey array, its shorter side at most :data:`WORK_SIDE`,
    and the factor from its pixels back to the photo's."""
    from PIL import Image

    image = imaging.flatten_alpha(imaging.to_8bit(image)).convert("L")
    scale = min(1.0, WORK_SIDE / min(image.size))
    if scale < 1.0:
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        image = image.resize(size, Image.Resampling.BILINEAR, reducing_gap=imaging.REDUCING_GAP)
    return np.asarray(image, dtype=np.uint8), 1.0 / scale


def _read(session, model, batch):
    """Raw outputs, minutes and confidence of a float32 NHWC batch."""
    outputs = models.run_batch(session, model, batch)
    try:
        minutes, confidence = decoding.decode_outputs(outputs, model.card["decode"])
    except ValueError as error:
        raise errors.ZooError(f"cannot decode {model.name}'s outputs: {error}") from None
    return outputs, minutes, confidence


def has_keypoints(model):
    """Whether the reader's card names a ``keypoints`` output (so it can find a dial)."""
    return "keypoints" in [item.get("name") for item in model.card.get("outputs") or []]


def keypoint_output(model):
    """The name of the reader's keypoint output, or a one-line error if it has none."""
    if not has_keypoints(model):
        raise errors.ZooError(f"{model.name} has no keypoint output, so it cannot find a clock in a photo; "
                              "read without --find, or use a clock_polar reader (the release model)")
    return "keypoints"


def find_and_read(session, model, image):
    """Find the clock in a decoded photo and read it.

    Args:
        session, model: the clock reader (its card names a ``keypoints`` output).
        image: a ``PIL.Image.Image``, orientation applied.

    Returns:
        ``(minutes, confidence, box)``: the second pass's reading and the dial's box
        ``[left, top, right, bottom]`` in the photo's pixels (floats, clipped to it).
    """
    key = keypoint_output(model)
    size = int(model.card["inputs"][0]["shape"][1])
    grey, back = grey_of(image)
    height, width = grey.shape
    squares = windows(width, height)
    best_confidence, points = -np.inf, None
    for start in range(0, len(squares), CHUNK):
        chunk = squares[start:start + CHUNK]
        batch = np.stack([square(grey, left + side / 2, top + side / 2, side / 2, size) for left, top, side in chunk])
        outputs, _, confidence = _read(session, model, batch)
        best = int(np.argmax(confidence))
        if confidence[best] > best_confidence:
            left, top, side = chunk[best]
            best_confidence = confidence[best]
            points = np.asarray(outputs[key][best], dtype=np.float64) * side + np.array([left, top])
    centre = points[0]
    radius = float(max(np.linalg.norm(points[1] - centre), np.linalg.norm(points[2] - centre)))
    radius = min(max(radius, 0.05 * side), side)  # a degenerate frame still gives a usable square
    outputs, minutes, confidence = _read(session, model,
                                         square(grey, centre[0], centre[1], MARGIN * radius, size)[None])
    box = np.array([centre[0] - radius, centre[1] - radius, centre[0] + radius, centre[1] + radius]) * back
    box = np.clip(box, 0, [image.width, image.height, image.width, image.height])
    return float(minutes[0]), float(confidence[0]), [round(float(value), 1) for value in box]
