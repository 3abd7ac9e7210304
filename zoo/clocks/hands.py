"""``clock_hands``: a geometric reader that reads each hand's angle."""

import keras

from zoo import blocks
from zoo.clocks import clockface, layers, losses
from zoo.clocks.backbone import image_input, strided_stages

def clock_hands(name, image_size=96, width=24, dense_units=256, dropout_rate=0.2, angle_bins=60,
                keypoint_weight=10.0, learning_rate=2e-3, weight_decay=1e-4):
    """A geometric reader: a BN-ReLU CNN reads each hand's angle.

    Strided convolutions halve the image four times (width, 2x, 4x, ~5x channels)
    down to a small grid that is flattened, not pooled, so the head still knows where
    things are. Each hand gets a softmax over ``angle_bins`` directions, trained with
    cross-entropy against a soft bump around the true angle (strong gradients from the
    first step, unlike a plain regression), and reported as the (sin, cos) of the
    distribution's mean direction, which is sub-bin precise; with ``angle_bins=0`` the
    heads regress (sin, cos) directly with MSE. The hour is read from the hour hand
    given the minute hand (:func:`zoo.common.clocktime.hands_to_minutes`).

    With ``keypoint_weight`` > 0, a keypoint head (soft-argmax heatmaps at a quarter of
    the input's resolution) also learns where the pivot, the 12 and 3 o'clock rim
    points and the two hand tips are, from the renderer's geometry: a strong, dense
    signal that teaches the backbone to find the dial and the hands long before the
    angle heads alone would.
    """
    inputs, x = image_input(image_size)

    features = strided_stages(x, width, stem="stem", stage="stage")
    x = features[-1]
    outputs, head_losses, weights = {}, {}, {}
    if keypoint_weight:
        coarse = keras.layers.Conv2DTranspose(width, 2, strides=2, name="keypoint_up")(features[1])
        fine = keras.layers.Concatenate(name="keypoint_features")([coarse, features[0]])
        heatmaps = keras.layers.Conv2D(len(clockface.GEOMETRY_POINTS), 3, padding="same",
                                       name="keypoint_heatmaps")(fine)
        outputs["keypoints"] = layers.SpatialSoftArgmax(name="keypoints")(heatmaps)
        head_losses["keypoints"] = losses.masked_keypoint_loss
        weights["keypoints"] = keypoint_weight
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dropout(dropout_rate, name="drop")(x)
    x = keras.layers.Dense(dense_units, activation="relu", name="dense")(x)
    for hand in ("hour", "minute"):
        if angle_bins:
            distribution = keras.layers.Dense(angle_bins, activation="softmax", name=f"{hand}_bins")(x)
            outputs[f"{hand}_bins"] = distribution
            outputs[hand] = layers.CircularMean(angle_bins, name=hand)(distribution)
            head_losses[f"{hand}_bins"] = "categorical_crossentropy"
        else:
            outputs[hand] = keras.layers.Dense(2, name=hand)(x)
            head_losses[hand] = "mse"
    model = keras.Model(inputs, outputs, name=name)
    model.compile(
        optimizer=blocks.optimizer("adamw", learning_rate, weight_decay=weight_decay), loss=head_losses,
        loss_weights={key: weights.get(key, 1.0) for key in head_losses},
    )
    return model

