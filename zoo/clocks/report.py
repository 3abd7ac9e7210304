"""The report's three clock readers (its listings 1-5): an N-bin classifier, a
regressor and a multi-head reader. The report trained at 150x150; these default to
64x64, since its listings cost far more multiply-adds per image than two CPU cores
afford (``image_size`` is a hyperparameter)."""

import keras

from zoo.clocks.backbone import image_input
from zoo.common import clocktime

# The report's convolutional stacks: (filters, kernel) of three Conv-MaxPool stages.
LISTINGS = {
    1: ((32, 4), (64, 4), (64, 5)),
    2: ((32, 3), (64, 3), (64, 4)),
    3: ((32, 4), (64, 4), (64, 5)),
    4: ((32, 4), (64, 5), (64, 5)),
}


def _report_stack(x, listing, prefix=""):
    for index, (filters, kernel) in enumerate(LISTINGS[listing], start=1):
        x = keras.layers.Conv2D(filters, kernel, activation="relu", name=f"{prefix}conv{index}")(x)
        x = keras.layers.MaxPooling2D(2, name=f"{prefix}pool{index}")(x)
    return keras.layers.Flatten(name=f"{prefix}flatten")(x)


def _regression_head(x, prefix="reg_"):
    """The report's regression head: Dense 256, 256, 128, 128, 128, Dropout 0.5."""
    for index, units in enumerate((256, 256, 128, 128, 128), start=1):
        x = keras.layers.Dense(units, activation="relu", name=f"{prefix}dense{index}")(x)
    return keras.layers.Dropout(0.5, name=f"{prefix}drop")(x)


def clock_classifier(name, image_size=64, bins=192, learning_rate=1e-3, label_smoothing=0.0):
    """The report's bin classifier: three Conv-MaxPool stages, softmax over N time bins.

    The stack follows the report's listing for the number of bins: listing 1 for 24,
    listing 2 for 48, listing 3 (with a Dense 128 layer) for 96 and more.
    """
    clocktime.bin_centre(0, bins)  # Validates bins (a positive integer).
    listing = {24: 1, 48: 2}.get(bins, 3)
    inputs, x = image_input(image_size)
    x = _report_stack(x, listing)
    if listing == 3:
        x = keras.layers.Dense(128, activation="relu", name="dense")(x)
    x = keras.layers.Dropout(0.5, name="drop")(x)
    outputs = keras.layers.Dense(bins, activation="softmax", name="probabilities")(x)
    model = keras.Model(inputs, {"probabilities": outputs}, name=name)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss={"probabilities": keras.losses.CategoricalCrossentropy(label_smoothing=label_smoothing)},
        metrics={"probabilities": ["accuracy"]},
    )
    return model


def clock_regressor(name, image_size=64, loss="mse", learning_rate=1e-3):
    """The report's regressor: three Conv-MaxPool stages, five Dense layers, one linear
    output (the time as a fraction of 12 hours), loss MAE or MSE (listing 4)."""
    if loss not in ("mae", "mse"):
        raise ValueError(f"loss must be 'mae' or 'mse'; received {loss!r}")
    inputs, x = image_input(image_size)
    x = _report_stack(x, 4)
    x = _regression_head(x, prefix="")
    outputs = keras.layers.Dense(1, name="time")(x)
    model = keras.Model(inputs, {"time": outputs}, name=name)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss={"time": loss})
    return model


def clock_multihead(name, image_size=64, learning_rate=1e-3, minute_weight=1.0):
    """The report's multi-head reader: a shared stack, an hour classifier (12 classes)
    and a minute regressor (minutes / 60), listing 5."""
    inputs, x = image_input(image_size)
    features = _report_stack(x, 3, prefix="")
    hour = keras.layers.Dense(128, activation="relu", name="class_dense1")(features)
    hour = keras.layers.Dropout(0.5, name="class_drop")(hour)
    hour = keras.layers.Dense(12, activation="softmax", name="hour")(hour)
    minute = _regression_head(features)
    minute = keras.layers.Dense(1, name="minute")(minute)
    model = keras.Model(inputs, {"hour": hour, "minute": minute}, name=name)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss={"hour": "categorical_crossentropy", "minute": "mse"},
        loss_weights={"hour": 1.0, "minute": minute_weight},
        metrics={"hour": ["accuracy"]},
    )
    return model

