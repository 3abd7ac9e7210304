"""The clock readers' custom layers: keypoints, dial frames, polar sampling, circular
convolutions' padding, angle priors and decoding, and quarter turns.

Every layer is registered under the ``zoo`` package name, so saved ``.keras`` files
load wherever this module is imported (the registry imports it with the clock entries).
"""

import keras
import numpy as np

@keras.saving.register_keras_serializable(package="zoo")
class CircularMean(keras.layers.Layer):
    """The (sin, cos) of the mean direction of a distribution over equal angle bins.

    Bin ``k`` of ``bins`` is centred on ``(k + 0.5) / bins`` of a turn clockwise from
    12. The result's length is the distribution's concentration: near 1 when the
    network is sure, near 0 when it spreads its belief round the dial.
    """

    def __init__(self, bins, **kwargs):
        super().__init__(**kwargs)
        self.bins = bins
        angles = 2 * np.pi * (np.arange(bins) + 0.5) / bins
        self.directions = np.stack([np.sin(angles), np.cos(angles)], axis=1).astype("float32")

    def call(self, probabilities):
        return keras.ops.matmul(probabilities, keras.ops.convert_to_tensor(self.directions))

    def get_config(self):
        return {**super().get_config(), "bins": self.bins}


@keras.saving.register_keras_serializable(package="zoo")
class PeakMean(CircularMean):
    """:class:`CircularMean` of the bins within ``window`` bins of the most likely one.

    A head whose distribution has a second, smaller mode (an hour head drawn partly
    to the minute hand or a tail, a 12 head to another numeral) is read at its main
    mode rather than between the two, and a long flat tail no longer pulls a sharp
    peak aside. The length is the mass in the window times its concentration, so it
    still says how sure the head is.
    """

    def __init__(self, bins, window=3, **kwargs):
        super().__init__(bins, **kwargs)
        self.window = window

    def call(self, probabilities):
        ops = keras.ops
        # The peak's index without argmax, which Keras lowers through a Bitcast that
        # ONNX lacks (ties, which a softmax all but never makes, share the index).
        index = ops.arange(self.bins, dtype="float32")[None, :]
        top = ops.cast(probabilities >= ops.max(probabilities, axis=-1, keepdims=True), "float32")
        peak = ops.sum(top * index, axis=-1, keepdims=True) / ops.sum(top, axis=-1, keepdims=True)
        distance = ops.abs(index - peak)
        distance = ops.minimum(distance, self.bins - distance)
        return super().call(ops.where(distance <= self.window + 0.5, probabilities, 0.0))

    def get_config(self):
        return {**super().get_config(), "window": self.window}


@keras.saving.register_keras_serializable(package="zoo")
class SpatialSoftArgmax(keras.layers.Layer):
    """Expected (x, y) of each channel's spatial softmax, in [0, 1] image coordinates.

    A differentiable keypoint detector (DSNT): heatmap logits (N, H, W, K) in,
    coordinates (N, K, 2) out, precise to a fraction of a heatmap cell.
    """

    def call(self, logits):
        shape = keras.ops.shape(logits)
        height, width, channels = shape[1], shape[2], shape[3]
        flat = keras.ops.reshape(logits, (-1, height * width, channels))
        weights = keras.ops.softmax(flat, axis=1)
        rows = (keras.ops.arange(height, dtype="float32") + 0.5) / keras.ops.cast(height, "float32")
        columns = (keras.ops.arange(width, dtype="float32") + 0.5) / keras.ops.cast(width, "float32")
        grid_y = keras.ops.reshape(keras.ops.repeat(rows[:, None], width, axis=1), (1, height * width, 1))
        grid_x = keras.ops.reshape(keras.ops.repeat(columns[None, :], height, axis=0), (1, height * width, 1))
        x = keras.ops.sum(weights * grid_x, axis=1)
        y = keras.ops.sum(weights * grid_y, axis=1)
        return keras.ops.stack([x, y], axis=-1)


@keras.saving.register_keras_serializable(package="zoo")
class DialFrame(keras.layers.Layer):
    """The first three keypoints (pivot, 12 and 3 o'clock rim points), without gradient:
    the frame the polar reader samples in is taught by the keypoint loss alone."""

    def call(self, keypoints):
        return keras.ops.stop_gradient(keypoints[:, :3, :])


@keras.saving.register_keras_serializable(package="zoo")
class PolarSampler(keras.layers.Layer):
    """Resamples an image on a polar grid laid in the dial's own frame.

    Given the pivot ``c`` and the rim points at 12 (``t12``) and 3 o'clock (``t3``),
    the dial point at radius ``r`` (in dial radii) and angle ``a`` (clockwise from
    12) is ``c + r sin(a) (t3 - c) + r cos(a) (t12 - c)`` in the image: an affine
    frame, so rotation, scale, offset, squash and shear of the clock are undone.
    Row ``i`` of the output is radius ``inner + (i + 0.5) / radii * (reach - inner)``; column ``j`` is the
    angle ``(j + 0.5) / angles`` of a turn, the same bins as :class:`CircularMean`.
    A hand becomes a bar along the radius axis at its angle's column.

    Bilinear sampling by flat gathers, which export to ONNX as plain ``Gather`` ops.
    """

    def __init__(self, radii=16, angles=120, reach=1.05, inner=0.0, **kwargs):
        super().__init__(**kwargs)
        self.radii = radii
        self.angles = angles
        self.reach = reach
        self.inner = inner
        radius = inner + (np.arange(radii) + 0.5) / radii * (reach - inner)
        angle = 2 * np.pi * (np.arange(angles) + 0.5) / angles
        self.along_three = (radius[:, None] * np.sin(angle)[None, :]).astype("float32")
        self.along_twelve = (radius[:, None] * np.cos(angle)[None, :]).astype("float32")

    def call(self, image, frame):
        ops = keras.ops
        shape = ops.shape(image)
        count, height, width = shape[0], shape[1], shape[2]
        size = ops.cast(ops.stack([width, height]), "float32")
        centre = frame[:, 0, :] * size
        to_twelve = frame[:, 1, :] * size - centre
        to_three = frame[:, 2, :] * size - centre
        along_three = ops.convert_to_tensor(self.along_three)[None]
        along_twelve = ops.convert_to_tensor(self.along_twelve)[None]
        # Pixel (i, j) has its centre at (j + 0.5, i + 0.5).
        x = centre[:, 0, None, None] + along_three * to_three[:, 0, None, None] \
            + along_twelve * to_twelve[:, 0, None, None] - 0.5
        y = centre[:, 1, None, None] + along_three * to_three[:, 1, None, None] \
            + along_twelve * to_twelve[:, 1, None, None] - 0.5
        x = ops.clip(x, 0.0, ops.cast(width, "float32") - 1.001)
        y = ops.clip(y, 0.0, ops.cast(height, "float32") - 1.001)
        left = ops.floor(x)
        top = ops.floor(y)
        right_weight = x - left
        bottom_weight = y - top
        left = ops.cast(left, "int32")
        top = ops.cast(top, "int32")
        flat = ops.reshape(image, (-1,))
        base = (ops.arange(count, dtype="int32") * height * width)[:, None, None]

        def pixel(row, column):
            return ops.take(flat, base + row * width + column)

        value = (
            pixel(top, left) * (1 - right_weight) * (1 - bottom_weight)
            + pixel(top, left + 1) * right_weight * (1 - bottom_weight)
            + pixel(top + 1, left) * (1 - right_weight) * bottom_weight
            + pixel(top + 1, left + 1) * right_weight * bottom_weight
        )
        return value[..., None]

    def compute_output_shape(self, image_shape, frame_shape=None):
        return (image_shape[0], self.radii, self.angles, 1)

    def get_config(self):
        return {**super().get_config(), "radii": self.radii, "angles": self.angles, "reach": self.reach,
                "inner": self.inner}


@keras.saving.register_keras_serializable(package="zoo")
class CircularPad(keras.layers.Layer):
    """Pads the angle axis (axis 2) of a polar feature map with its own wrapped
    columns, so convolutions see 11:59 next to 12:00."""

    def __init__(self, pad, **kwargs):
        super().__init__(**kwargs)
        self.pad = pad

    def call(self, inputs):
        return keras.ops.concatenate([inputs[:, :, -self.pad:], inputs, inputs[:, :, :self.pad]], axis=2)

    def compute_output_shape(self, input_shape):
        angles = None if input_shape[2] is None else input_shape[2] + 2 * self.pad
        return (input_shape[0], input_shape[1], angles, input_shape[3])

    def get_config(self):
        return {**super().get_config(), "pad": self.pad}


@keras.saving.register_keras_serializable(package="zoo")
class AnglePrior(keras.layers.Layer):
    """Adds a learned score per (head, angle) to angle scores (N, heads, angles): how
    likely each direction is before looking, which a network blind to the angle
    cannot express itself. Starts at zero (no preference)."""

    def build(self, input_shape):
        self.prior = self.add_weight(name="prior", shape=tuple(input_shape[1:]), initializer="zeros")

    def call(self, inputs):
        return inputs + self.prior[None]

    def compute_output_shape(self, input_shape):
        return input_shape


@keras.saving.register_keras_serializable(package="zoo")
class GatedAnglePrior(AnglePrior):
    """:class:`AnglePrior` weighted per clock and head: inputs (scores (N, heads, angles),
    gate logits (N, heads)); the prior is scaled by 2 * sigmoid(logit), so a gate at
    zero logits (its start) adds the prior as :class:`AnglePrior` does, and a dial that
    shows its 12 plainly can learn to lean on it less (down to 0) or a blank one more (up to 2)."""

    def build(self, input_shape):
        super().build(input_shape[0])

    def call(self, inputs):
        scores, logits = inputs
        return scores + 2.0 * keras.ops.sigmoid(logits)[:, :, None] * self.prior[None]

    def compute_output_shape(self, input_shape):
        return input_shape[0]


@keras.saving.register_keras_serializable(package="zoo")
class TakeRow(keras.layers.Layer):
    """Row ``index`` of a (N, rows, columns) tensor."""

    def __init__(self, index, **kwargs):
        super().__init__(**kwargs)
        self.index = index

    def call(self, inputs):
        return inputs[:, self.index, :]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])

    def get_config(self):
        return {**super().get_config(), "index": self.index}


@keras.saving.register_keras_serializable(package="zoo")
class DialAngle(keras.layers.Layer):
    """(sin, cos) of a hand's dial angle from the directions, read in the same frame,
    of the hand, the 12 mark and the 3 mark.

    Reading a hand against the 12 alone assumes the frame's 3 lies a quarter turn
    after its 12; a localiser whose 3 o'clock point is a few pixels off shears the
    frame and every angle read in it. Solving ``hand = a * twelve + b * three`` for the dial
    coordinates ``(b, a)`` undoes that shear. The length (confidence) is the hand's
    length times the two marks' lengths (each capped at 1).

    A 3 mark more than ``tolerance`` degrees from a quarter turn after the 12 is not
    a shear but a 3 head that missed: the hand is then read against the 12 alone.
    0 trusts the 3 whatever it says.
    """

    def __init__(self, tolerance=0.0, **kwargs):
        super().__init__(**kwargs)
        self.tolerance = tolerance

    def call(self, inputs):
        ops = keras.ops
        hand, twelve, three = inputs

        def unit(vector):
            length = ops.sqrt(ops.sum(ops.square(vector), axis=-1, keepdims=True) + 1e-12)
            return vector / length, length

        hand_unit, hand_length = unit(hand)
        twelve_unit, twelve_length = unit(twelve)
        three_unit, three_length = unit(three)
        if self.tolerance:
            # A quarter turn clockwise after (sin a, cos a) is (cos a, -sin a).
            quarter = ops.concatenate([twelve_unit[:, 1:], -twelve_unit[:, :1]], axis=-1)
            agree = ops.sum(three_unit * quarter, axis=-1, keepdims=True) >= float(np.cos(np.radians(self.tolerance)))
            three_unit = ops.where(agree, three_unit, quarter)
        # Plane coordinates (x towards 3, y towards 12) are (sin, cos) of the angle.
        determinant = twelve_unit[:, :1] * three_unit[:, 1:] - twelve_unit[:, 1:] * three_unit[:, :1]
        # An upright frame has determinant -1; keep its sign and away from 0.
        determinant = ops.minimum(determinant, -0.2)
        along_twelve = (hand_unit[:, :1] * three_unit[:, 1:] - hand_unit[:, 1:] * three_unit[:, :1]) / determinant
        along_three = (twelve_unit[:, :1] * hand_unit[:, 1:] - twelve_unit[:, 1:] * hand_unit[:, :1]) / determinant
        dial, _ = unit(ops.concatenate([along_three, along_twelve], axis=-1))
        return dial * hand_length * ops.minimum(twelve_length, 1.0) * ops.minimum(three_length, 1.0)

    def compute_output_shape(self, input_shapes):
        return input_shapes[0]

    def get_config(self):
        return {**super().get_config(), "tolerance": self.tolerance}


@keras.saving.register_keras_serializable(package="zoo")
class TeacherFrame(keras.layers.Layer):
    """The frame the polar reader samples in while training with teacher forcing: the
    true frame (pivot, 12 and 3 o'clock rim points) where the pipeline gave one, the
    localiser's elsewhere. Outside training, and for NaN hints, the localiser's."""

    def call(self, inputs, training=None):
        frame, hint = inputs
        if not training:
            return frame
        return keras.ops.stop_gradient(keras.ops.where(keras.ops.isfinite(hint), hint, frame))

    def compute_output_shape(self, input_shapes):
        return input_shapes[0]


# Layers that compute geometry (keypoints, frames, sampling grids, angles) or the
# heads' scores stay in float32 when the network around them trains in mixed
# precision (``zoo train --precision mixed_bfloat16``): a pixel coordinate near 100
# is only good to half a pixel in bfloat16.
EXACT = dict(dtype="float32")


@keras.saving.register_keras_serializable(package="zoo")
class QuarterTurn(keras.layers.Layer):
    """Turns each image upright by its most likely quarter turn.

    Takes the image (N, H, W, C), H == W, and an upright stage's logits (N, 4) over
    how many clockwise quarter turns the clock's 12 is from the top. The logits come
    from clocks turned uniformly in training, so ``prior`` (the share of clocks in
    each quarter where they are read) is added as log odds: a dial that says nothing
    about its 12 stays as it is. The image is turned back by the winner through
    exact 90-degree turns (a one-hot mix of the four, built from a max mask: argmax
    lowers to an op ONNX lacks). Returns the turned images and the one-hot choice.
    """

    def __init__(self, prior=(0.25, 0.25, 0.25, 0.25), **kwargs):
        super().__init__(**kwargs)
        self.prior = [float(value) for value in prior]

    def call(self, image, logits):
        ops = keras.ops
        scores = logits + ops.log(ops.convert_to_tensor(np.asarray(self.prior, "float32") * 4.0))[None]
        best = ops.cast(ops.equal(scores, ops.max(scores, axis=1, keepdims=True)), "float32")
        choice = best / ops.sum(best, axis=1, keepdims=True)
        # Undo k clockwise quarters: turn counterclockwise k times (transpose, then flip rows).
        turned, mixed = image, image * choice[:, 0, None, None, None]
        for k in range(1, 4):
            turned = ops.flip(ops.transpose(turned, (0, 2, 1, 3)), axis=1)
            mixed = mixed + turned * choice[:, k, None, None, None]
        return mixed, choice

    def compute_output_shape(self, image_shape, logits_shape=None):
        return image_shape, (image_shape[0], 4)

    def get_config(self):
        return {**super().get_config(), "prior": self.prior}


@keras.saving.register_keras_serializable(package="zoo")
class QuarterTurnBack(keras.layers.Layer):
    """Keypoints (N, P, 2) in [0, 1] (x, y) of an image :class:`QuarterTurn` turned,
    taken back to the image as given."""

    def call(self, points, choice):
        ops = keras.ops
        turned, mixed = points, points * choice[:, 0, None, None]
        for k in range(1, 4):
            # One counterclockwise quarter maps (x, y) to (y, 1 - x); undo one.
            turned = ops.stack([1.0 - turned[..., 1], turned[..., 0]], axis=-1)
            mixed = mixed + turned * choice[:, k, None, None]
        return mixed

    def compute_output_shape(self, points_shape, choice_shape=None):
        return points_shape


@keras.saving.register_keras_serializable(package="zoo")
class UprightFrame(keras.layers.Layer):
    """An image-aligned dial frame from the dial's pivot and radius (N, 3) = (x, y, r):
    the pivot, and rim points straight up and straight right of it. A
    :class:`PolarSampler` in this frame unrolls the dial with column 0 at the top of the
    image, whichever way the clock hangs. No gradient: the dial loss alone teaches
    the localiser."""

    def call(self, dial):
        ops = keras.ops
        dial = ops.stop_gradient(dial)
        centre, reach = dial[:, :2], dial[:, 2]
        zero = ops.zeros_like(reach)
        up = centre + ops.stack([zero, -reach], axis=-1)
        right = centre + ops.stack([reach, zero], axis=-1)
        return ops.stack([centre, up, right], axis=1)

    def compute_output_shape(self, dial_shape):
        return (dial_shape[0], 3, 2)


@keras.saving.register_keras_serializable(package="zoo")
class QuarterOfAngle(keras.layers.Layer):
    """Log-probabilities (N, 4) of the four quarters from logits over ``angles`` angle
    bins (clockwise from the top): quarter k holds the bins within 45 degrees of k
    quarter turns."""

    def __init__(self, angles, **kwargs):
        super().__init__(**kwargs)
        self.angles = angles
        centres = (np.arange(angles) + 0.5) / angles
        self.sectors = np.eye(4, dtype="float32")[np.mod(np.round(centres * 4).astype(int), 4)]

    def call(self, logits):
        ops = keras.ops
        shares = ops.matmul(ops.softmax(logits, axis=-1), ops.convert_to_tensor(self.sectors))
        return ops.log(shares + 1e-7)

    def compute_output_shape(self, logits_shape):
        return (logits_shape[0], 4)

    def get_config(self):
        return {**super().get_config(), "angles": self.angles}

