"""``clock_polar``: the release reader. Find the dial, unroll it, read the hands.

The design in brief (docs/clock-reader.md says what was tried around it):

1. A localiser CNN on a 64x64 view finds five keypoints (pivot, the rim at 12 and at
   3 o'clock, the two hand tips) as soft-argmax heatmaps, taught by the renderer's
   geometry. The first three are the dial's affine frame.
2. :class:`zoo.clocks.layers.PolarSampler` unrolls the full-resolution image in that
   frame into a (radius x angle) strip: every hand becomes a bar at its angle,
   whatever the clock's rotation, size, position or tilt.
3. A circular CNN over the strip (the same filters at every angle; it cannot see
   which column is which) scores every angle for the hour hand, the minute hand,
   the 12 mark and the 3 mark. The marks' heads also get a learned template over the
   whole circle, so the 12 is placed from every mark the dial shows; a learned
   per-angle prior, weighted per clock by a gate, carries "12 is where the localiser
   put it" for dials that show no 12.
4. Each hand's dial angle is read against the 12 and 3 marks
   (:class:`zoo.clocks.layers.DialAngle`), which undoes the rotation and shear of an
   imprecise frame.
"""

import keras

from zoo import blocks
from zoo.clocks import clockface, layers, losses
from zoo.clocks.backbone import conv_bn_relu, image_input, strided_stages

# The localiser's view: finding the dial needs no more pixels than this.
LOCALISER_SIZE = 64
# Degrees: a 3 mark further than this from a quarter turn after the 12 is a miss, and
# the hands are read against the 12 alone (:class:`zoo.clocks.layers.DialAngle`).
THREE_TOLERANCE = 20.0
HEADS = [head for head, _ in losses.POLAR_HEADS]


class Trainer:
    """What :func:`zoo.training.train` fits instead of a model that carries one:
    ``model`` shares every weight with the model that is saved and served, and takes
    extra training-only inputs (a plain object, so that Keras does not track it)."""

    def __init__(self, model):
        self.model = model


def clock_polar(name, image_size=128, width=24, radii=16, angles=120, polar_width=16, keypoint_weight=20.0,
                learning_rate=2e-3, weight_decay=1e-4, teacher_forcing=0.5, decode_window=3):
    """A two-stage geometric reader: find the dial, unroll it, read the hands.

    Args:
        image_size: the input's side in pixels (grey, 0-255).
        width: the localiser's base channel count.
        radii, angles: the polar strip's rows (radius bins) and columns (angle bins).
        polar_width: the strip network's base channel count.
        keypoint_weight: the keypoint loss's weight against the angle heads'.
        learning_rate, weight_decay: AdamW's.
        teacher_forcing: for this share of the epochs (falling from all clocks to
            none), the strip is sampled in the true frame rather than the
            localiser's (a ``frame_hint`` input on a :class:`Trainer` that shares
            every weight), so the reader learns while the localiser is still poor.
            The saved model is the image-only reader either way.
        decode_window: each head's direction is the mean of its distribution within
            this many bins of its peak (:class:`zoo.clocks.layers.PeakMean`; 0: the
            whole distribution). Decoding only, so ``zoo rebuild`` can change it.
    """
    exact = layers.EXACT
    inputs, x = image_input(image_size)

    view = x
    if image_size > LOCALISER_SIZE:
        view = keras.layers.Resizing(LOCALISER_SIZE, LOCALISER_SIZE, interpolation="bilinear",
                                     name="localiser_view")(x)
    stem, *stages = strided_stages(view, width, stem="loc_stem", stage="loc", with_stem=True)
    # Heatmaps at half the view's resolution, from every stage: the fine stages say
    # exactly where an edge is, the coarse ones which edge is the 12 o'clock rim.
    from_coarse = keras.layers.Conv2DTranspose(32, 8, strides=8, name="loc_up3")(stages[2])
    from_middle = keras.layers.Conv2DTranspose(32, 4, strides=4, name="loc_up2")(stages[1])
    from_fine = keras.layers.Conv2DTranspose(32, 2, strides=2, name="loc_up1")(stages[0])
    merged = keras.layers.Concatenate(name="loc_merge")([from_coarse, from_middle, from_fine, stem])
    merged = conv_bn_relu(merged, 32, 1, "loc_head")
    heatmaps = keras.layers.Conv2D(len(clockface.GEOMETRY_POINTS), 1, name="loc_heatmaps", **exact)(merged)
    keypoints = layers.SpatialSoftArgmax(name="keypoints", **exact)(heatmaps)
    frame = layers.DialFrame(name="frame", **exact)(keypoints)

    # The reader's layers are made once and called on each frame (the served model's
    # and, with teacher forcing, the trainer's), so both graphs share every weight.
    made = {}

    def layer(factory, name, *args, **kwargs):
        if name not in made:
            made[name] = factory(*args, name=name, **kwargs)
        return made[name]

    def head_conv(y, name, kernel):
        """Convolution, batch norm and ReLU (batch norm keeps the heads' units alive early on)."""
        y = layer(keras.layers.Conv2D, name, polar_width * 4, kernel, use_bias=False)(y)
        return layer(keras.layers.ReLU, f"{name}_relu")(layer(keras.layers.BatchNormalization, f"{name}_bn")(y))

    def circular_conv(y, name, filters):
        """3x3 convolution, batch norm and ReLU on a polar map, wrapping round the angle."""
        y = layer(layers.CircularPad, f"{name}_pad", 1)(y)
        y = layer(keras.layers.ZeroPadding2D, f"{name}_rpad", ((1, 1), (0, 0)))(y)
        y = layer(keras.layers.Conv2D, name, filters, 3, use_bias=False)(y)
        return layer(keras.layers.ReLU, f"{name}_relu")(layer(keras.layers.BatchNormalization, f"{name}_bn")(y))

    def by_head(y, prefix):
        """(N, 1, angles, rows) convolution output as scores (N, rows, angles)."""
        y = layer(keras.layers.Reshape, f"{prefix}_flat", (angles, y.shape[-1]), **exact)(y)
        return layer(keras.layers.Permute, f"{prefix}_by_head", (2, 1), **exact)(y)

    def angle_scores(y, prefix):
        """Scores (N, heads, angles) from a polar feature map (N, radii // 8, angles, C)."""
        # Collapse the radius axis: a hand's length and width tell hour from minute hand.
        y = head_conv(y, f"{prefix}_radius", (radii // 8, 1))
        y = layer(layers.CircularPad, f"{prefix}_head_pad", 4)(y)
        y = head_conv(y, f"{prefix}_head", (1, 9))
        scores = by_head(layer(keras.layers.Conv2D, f"{prefix}_scores", len(HEADS), 1, **exact)(y), prefix)
        # The marks' context: one learned weight per offset and channel round the whole
        # circle (score(a) = sum over d of w[d] * feature(a + d)), so the 6, the 3, the 9
        # and the numerals in order all say where the 12 is. Starts at zero.
        marks = len(HEADS) - 2
        y = layer(layers.CircularPad, f"{prefix}_context_pad", angles // 2)(y)
        context = layer(keras.layers.Conv2D, f"{prefix}_context", marks, (1, 2 * (angles // 2) + 1),
                        kernel_initializer="zeros", use_bias=False, **exact)(y)
        context = by_head(context, f"{prefix}_context")
        context = layer(keras.layers.ZeroPadding1D, f"{prefix}_context_rows", (len(HEADS) - marks, 0), **exact)(context)
        return layer(keras.layers.Add, f"{prefix}_with_context", **exact)([scores, context])

    def read(frame):
        polar = layer(layers.PolarSampler, "polar", radii, angles, **exact)(x, frame)
        y = layer(keras.layers.Rescaling, "polar_rescale", 1.0 / 255)(polar)
        for index, filters in enumerate((polar_width, polar_width * 2, polar_width * 2, polar_width * 4), start=1):
            y = circular_conv(y, f"polar{index}", filters)
            if index > 1:
                y = layer(keras.layers.MaxPooling2D, f"polar{index}_pool", (2, 1))(y)
        scores = angle_scores(y, "polar")
        # The strip cannot see which column is which, so "12 is where the localiser put
        # it" is a learned score per angle, weighted per clock and head by a gate read
        # from the strip averaged round the circle (a plain 12 needs the prior less).
        pooled = layer(keras.layers.GlobalAveragePooling2D, "polar_gate_pool", **exact)(y)
        gate = layer(keras.layers.Dense, "polar_gate", len(HEADS), kernel_initializer="zeros", **exact)(pooled)
        scores = layer(layers.GatedAnglePrior, "polar_prior", **exact)([scores, gate])
        directions = {}
        for index, head in enumerate(HEADS):
            logits = layer(layers.TakeRow, f"{head}_logits", index, **exact)(scores)
            mean = layer(layers.PeakMean, f"{head}_in_frame", angles, decode_window, **exact) if decode_window else \
                layer(layers.CircularMean, f"{head}_in_frame", angles, **exact)
            directions[head] = mean(layer(keras.layers.Softmax, f"{head}_bins", **exact)(logits))
        marks = [directions["twelve"], directions["three"]]
        hands = {hand: layer(layers.DialAngle, hand, THREE_TOLERANCE, **exact)([directions[hand], *marks])
                 for hand in ("hour", "minute")}
        return {
            **hands,
            "keypoints": keypoints,
            "polar_training": layer(keras.layers.Concatenate, "polar_training", **exact)(
                [layer(keras.layers.Flatten, "polar_scores_flat", **exact)(scores),
                 layer(keras.layers.Flatten, "frame_flat", **exact)(frame)]),
        }

    # One optimiser for both graphs, so the saved model carries the state it trained with.
    optimizer = blocks.optimizer("adamw", learning_rate, weight_decay=weight_decay)

    def compiled(model):
        model.compile(
            optimizer=optimizer,
            loss={"keypoints": losses.keypoint_distance_loss, "polar_training": losses.polar_reading_loss_with_three},
            loss_weights={"keypoints": keypoint_weight, "polar_training": 1.0},
        )
        return model

    model = compiled(keras.Model(inputs, read(frame), name=name))
    if teacher_forcing:
        hint = keras.Input(shape=(3, 2), name="frame_hint")
        taught = layers.TeacherFrame(name="teacher_frame", **exact)([frame, hint])
        model.zoo_trainer = Trainer(compiled(keras.Model({"image": inputs, "frame_hint": hint}, read(taught),
                                                         name=name)))
    return model
