"""Losses and soft targets of the clock readers: keypoints, angle heads read in the
predicted dial frame, and the upright stage's dial and 12 direction."""

import keras
import numpy as np

@keras.saving.register_keras_serializable(package="zoo")
def masked_keypoint_loss(y_true, y_pred):
    """Mean squared keypoint error over the keypoints that are known (not NaN)."""
    known = keras.ops.isfinite(y_true)
    difference = keras.ops.where(known, y_pred - keras.ops.where(known, y_true, 0.0), 0.0)
    count = keras.ops.maximum(keras.ops.sum(keras.ops.cast(known, "float32"), axis=(1, 2)), 1.0)
    return keras.ops.sum(keras.ops.square(difference), axis=(1, 2)) / count


def angle_distribution(turns, bins, spread=1.0):
    """Soft training targets for an angle: a von Mises bump over ``bins`` angle bins.

    Args:
        turns: angles as fractions of a turn, (N,).
        bins: number of bins.
        spread: the bump's standard deviation in bins.

    Returns:
        float32 (N, bins), rows summing to 1.
    """
    centres = 2 * np.pi * (np.arange(bins) + 0.5) / bins
    concentration = 1.0 / (2 * np.pi * spread / bins) ** 2
    logits = concentration * np.cos(centres[None, :] - 2 * np.pi * np.asarray(turns)[:, None])
    weights = np.exp(logits - logits.max(axis=1, keepdims=True))
    return (weights / weights.sum(axis=1, keepdims=True)).astype(np.float32)


@keras.saving.register_keras_serializable(package="zoo")
def keypoint_distance_loss(y_true, y_pred):
    """Mean distance between predicted and known keypoints ([0, 1] coordinates).

    A distance (not its square) keeps a useful gradient once the keypoints are
    close, which is where the angle precision comes from. NaN targets (clocks
    without keypoints) are skipped.
    """
    known = keras.ops.all(keras.ops.isfinite(y_true), axis=-1)
    difference = y_pred - keras.ops.where(keras.ops.isfinite(y_true), y_true, 0.0)
    distance = keras.ops.sqrt(keras.ops.sum(keras.ops.square(difference), axis=-1) + 1e-8)
    distance = keras.ops.where(known, distance, 0.0)
    count = keras.ops.maximum(keras.ops.sum(keras.ops.cast(known, "float32"), axis=1), 1.0)
    return keras.ops.sum(distance, axis=1) / count


def _angle_in_frame(frame, points):
    """The dial angle (turns clockwise from the frame's 12) of image points (N, 2),
    in the affine dial frame (N, 3, 2) = pivot, 12 and 3 o'clock rim points."""
    ops = keras.ops
    centre, twelve, three = frame[:, 0], frame[:, 1], frame[:, 2]
    along_three = three - centre
    towards_six = centre - twelve
    determinant = along_three[:, 0] * towards_six[:, 1] - along_three[:, 1] * towards_six[:, 0]
    determinant = ops.where(ops.abs(determinant) < 1e-6, 1e-6, determinant)
    offset = points - centre
    across = (offset[:, 0] * towards_six[:, 1] - offset[:, 1] * towards_six[:, 0]) / determinant
    down = (along_three[:, 0] * offset[:, 1] - along_three[:, 1] * offset[:, 0]) / determinant
    return ops.mod(ops.arctan2(across, -down) / (2 * np.pi), 1.0)


def _polar_cross_entropy(y_true, y_pred, points, spread=1.0):
    """Summed cross-entropy of ``len(points)`` polar angle heads against soft targets:
    where the true keypoints ``points`` (indices into ``y_true``) fall in the predicted
    frame packed after the logits in ``y_pred``."""
    ops = keras.ops
    heads = len(points)
    angles = (y_pred.shape[-1] - 6) // heads
    logits = ops.reshape(y_pred[:, : heads * angles], (-1, heads, angles))
    frame = ops.reshape(y_pred[:, heads * angles:], (-1, 3, 2))
    known = ops.all(ops.isfinite(ops.reshape(y_true, (-1, 10))), axis=-1)
    truth = ops.where(ops.isfinite(y_true), y_true, 0.0)
    turns = ops.stack([_angle_in_frame(frame, truth[:, index]) for index in points], axis=1)
    return ops.where(known, ops.sum(_angle_cross_entropy(logits, turns, spread), axis=-1), 0.0)


def _angle_cross_entropy(logits, turns, spread):
    """Cross-entropy of angle logits (..., angles) against a von Mises bump ``spread``
    bins wide at ``turns`` (...), fractions of a turn (the same bump as
    :func:`angle_distribution`)."""
    ops = keras.ops
    angles = logits.shape[-1]
    centres = 2 * np.pi * (ops.arange(angles, dtype="float32") + 0.5) / angles
    concentration = 1.0 / (2 * np.pi * spread / angles) ** 2
    targets = ops.softmax(concentration * ops.cos(centres - 2 * np.pi * turns[..., None]), axis=-1)
    return -ops.sum(targets * ops.log_softmax(logits, axis=-1), axis=-1)


def _twelve_turn(points):
    """Where the 12 is, clockwise from the top of the image as a fraction of a turn,
    from keypoints (N, P, 2) (pivot first, then the rim at 12; y down)."""
    towards = points[:, 1, :] - points[:, 0, :]
    return keras.ops.arctan2(towards[:, 0], -towards[:, 1]) / (2 * np.pi)


def quarter_of_points(points):
    """:func:`quarter_of` in graph ops: how many clockwise quarter turns (0-3,
    nearest) the 12 is from the top, from keypoints (N, P, 2)."""
    import tensorflow as tf

    return tf.math.floormod(tf.cast(tf.round(_twelve_turn(points) * 4), tf.int32), 4)


POLAR_HEADS = (("hour", 3), ("minute", 4), ("twelve", 1), ("three", 2))


"""The polar reader's heads, in output order, and the keypoint (index into
:data:`zoo.clocks.clockface.GEOMETRY_POINTS`) each one finds."""


@keras.saving.register_keras_serializable(package="zoo")
def polar_reading_loss_with_three(y_true, y_pred, spread=1.0):
    """Cross-entropy of the polar reader's four angle heads (hour hand, minute hand,
    12 mark, 3 mark) against soft targets computed in the frame the reader actually
    sampled in.

    ``y_pred`` packs the (4, angles) head logits and the predicted frame (3, 2);
    ``y_true`` holds the true keypoints (5, 2). The targets are where the true marks
    and hand tips fall in the *predicted* frame, so a localiser error becomes
    something the mark heads learn to measure and correct, not label noise; the 3
    mark lets :class:`zoo.clocks.layers.DialAngle` undo the frame's shear. Clocks
    without keypoints (NaN) contribute nothing.
    """
    return _polar_cross_entropy(y_true, y_pred, [point for _, point in POLAR_HEADS], spread)


@keras.saving.register_keras_serializable(package="zoo")
def dial_loss(y_true, y_pred):
    """Distance between the predicted dial (x, y, r) and the true one, from the true
    keypoints (N, 5, 2): the pivot, and the larger of its distances to the 12 and 3
    o'clock rim points. Unlike the rim points themselves, this does not depend on
    knowing which way up the clock is."""
    ops = keras.ops
    centre = y_true[:, 0, :]
    reach = ops.maximum(ops.sqrt(ops.sum(ops.square(y_true[:, 1, :] - centre), axis=-1)),
                        ops.sqrt(ops.sum(ops.square(y_true[:, 2, :] - centre), axis=-1)))
    offset = ops.sqrt(ops.sum(ops.square(y_pred[:, :2] - centre), axis=-1) + 1e-8)
    return offset + ops.abs(y_pred[:, 2] - reach)


@keras.saving.register_keras_serializable(package="zoo")
def twelve_angle_loss(y_true, y_pred, spread=2.0):
    """Cross-entropy of the upright stage's angle logits (N, angles) against a soft
    bump at the true 12 o'clock direction, clockwise from the top of the image, taken
    from the true keypoints ``y_true`` (N, 5, 2)."""
    return _angle_cross_entropy(y_pred, _twelve_turn(y_true), spread)

