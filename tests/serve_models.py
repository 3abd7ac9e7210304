"""Tiny models for the serve tests, trained and exported by the project's own code.

Two temporary registry entries shaped like the real ones (the clock and face entries
of the other issues, which these tests must not wait for): a clock reader with the
``clock_hands`` decoding (each hand's angle as a (sin, cos) pair, trained on clocks
from :mod:`zoo.clocks.clockface`) and a generator mapping ``z`` to 16x16 RGB images in [0, 1].
Each is trained for one epoch with :func:`zoo.training.train` and exported with
:func:`export.export_entry` (parity gates, card, manifest), then removed from the
registry so that no other test sees it.

The classifier is a real entry, ``mnist_cnn`` at its ``tiny`` size, trained briefly on
the conftest's generated MNIST-shaped set (class k: a bright square at position k).
"""

import numpy as np

from zoo import datasets, registry
from zoo.clocks import clockface

from zoo.common import clocktime, decoding

CLOCK_ENTRY = "servetest_clock_hands"
FACES_ENTRY = "servetest_faces"
CLOCK_SIZE = 32
LATENT_DIM = 8
FACE_SIZE = 16
CLASSIFIER_ENTRY = "mnist_cnn"


def _clock_targets(labels):
    minutes = clocktime.to_minutes(labels[:, 0], labels[:, 1]).astype(np.float64)
    return {
        "hour": clocktime.angle_encoding(minutes, 720).astype(np.float32),
        "minute": clocktime.angle_encoding(labels[:, 1], 60).astype(np.float32),
    }


def _pipeline(inputs, targets, batch_size, training):
    import tensorflow as tf

    dataset = tf.data.Dataset.from_tensor_slices((inputs, targets))
    if training:
        dataset = dataset.shuffle(len(inputs), seed=0)
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def clock_data(entry, config, path=None, seed=42, limit=None):
    """Rendered clocks: ``train_count`` for training, 16 each for validation and test."""
    size = config["image_size"]
    splits = {}
    for split, count, split_seed in (("train", config["train_count"], 1), ("val", 16, 2), ("test", 16, 3)):
        images, labels = clockface.render_batch(count, seed=split_seed, size=size)
        splits[split] = (images[..., None].astype(np.float32), labels)
    pipelines = {
        split: _pipeline(images, _clock_targets(labels), config["batch_size"], split == "train")
        for split, (images, labels) in splits.items()
    }
    test_images, test_labels = splits["test"]
    return datasets.Splits(
        pipelines["train"], pipelines["val"], pipelines["test"], max(1, config["train_count"] // config["batch_size"]),
        {"source": "zoo.clockface.render_batch (seeds 1, 2, 3)", "train": config["train_count"]},
        test_arrays=(test_images, test_labels),
    )


def evaluate_clock(model, splits, config):
    images, labels = splits.test_arrays
    outputs = model.predict(images, verbose=0)
    decode = {"kind": "clock_hands", "hour_output": "hour", "minute_output": "minute"}
    minutes, _ = decoding.decode_outputs({key: np.asarray(value) for key, value in outputs.items()}, decode)
    summary = clocktime.cse_summary(minutes, clocktime.to_minutes(labels[:, 0], labels[:, 1]))
    return {f"test_cse_{key}": value for key, value in summary.items()}


def describe_clock(entry, config):
    return {"kind": "clock_hands", "hour_output": "hour", "minute_output": "minute",
            "preprocessing": {"crop": "center_square"}}


def tiny_clock_hands(name, image_size=CLOCK_SIZE, filters=4):
    """A tiny clock reader: each hand's angle as a (sin, cos) pair."""
    import keras

    image = keras.Input((image_size, image_size, 1), name="image")
    x = keras.layers.Rescaling(1 / 255.0)(image)
    x = keras.layers.Conv2D(filters, 3, strides=2, activation="relu")(x)
    x = keras.layers.Conv2D(filters * 2, 3, strides=2, activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = {"hour": keras.layers.Dense(2, name="hour")(x), "minute": keras.layers.Dense(2, name="minute")(x)}
    model = keras.Model(image, outputs, name=name)
    model.compile(optimizer="adam", loss="mse")
    return model


def faces_data(entry, config, path=None, seed=42, limit=None):
    """Latent vectors and smooth target images that depend on them (colour from z)."""
    rng = np.random.default_rng(seed)
    splits = {}
    for split, count in (("train", 64), ("val", 16), ("test", 16)):
        z = rng.standard_normal((count, config["latent_dim"])).astype(np.float32)
        colour = 1 / (1 + np.exp(-z[:, :3]))
        images = np.broadcast_to(colour[:, None, None, :], (count, FACE_SIZE, FACE_SIZE, 3)).astype(np.float32)
        splits[split] = (z, {"image": images})
    pipelines = {split: _pipeline(*arrays, 16, split == "train") for split, arrays in splits.items()}
    return datasets.Splits(pipelines["train"], pipelines["val"], pipelines["test"], 4, {"source": "synthetic"},
                           test_arrays=(splits["test"][0], splits["test"][1]["image"]))


def evaluate_faces(model, splits, config):
    z, images = splits.test_arrays
    predicted = np.asarray(model.predict(z, verbose=0)["image"])
    return {"test_mse": float(np.mean((predicted - images) ** 2))}


def describe_faces(entry, config):
    return {"kind": "image", "input": "z", "latent_dim": int(config["latent_dim"]), "output": "image",
            "output_range": [0, 1], "prior": "standard_normal"}


def tiny_faces(name, latent_dim=LATENT_DIM, filters=8):
    """A tiny generator: z to 16x16 RGB images in [0, 1]."""
    import keras

    z = keras.Input((latent_dim,), name="z")
    x = keras.layers.Dense(4 * 4 * filters, activation="relu")(z)
    x = keras.layers.Reshape((4, 4, filters))(x)
    x = keras.layers.Conv2DTranspose(filters, 3, strides=2, padding="same", activation="relu")(x)
    x = keras.layers.Conv2DTranspose(3, 3, strides=2, padding="same", activation="sigmoid")(x)
    model = keras.Model(z, {"image": x}, name=name)
    model.compile(optimizer="adam", loss="mse")
    return model


def register():
    """Register both entries (idempotent)."""
    registry._load()
    if CLOCK_ENTRY not in registry._ENTRIES:
        registry.register(
            name=CLOCK_ENTRY, task="clock", dataset="clocks", data=clock_data, evaluate=evaluate_clock,
            defaults=dict(image_size=CLOCK_SIZE, filters=4), fit=dict(epochs=1, batch_size=16, train_count=64),
            describe=describe_clock, signature=registry.Signature(inputs=("image",), outputs=("hour", "minute")),
        )(tiny_clock_hands)
    if FACES_ENTRY not in registry._ENTRIES:
        registry.register(
            name=FACES_ENTRY, task="generation", dataset="synthetic", data=faces_data, evaluate=evaluate_faces,
            defaults=dict(latent_dim=LATENT_DIM, filters=8), fit=dict(epochs=1, batch_size=16),
            describe=describe_faces,
            signature=registry.Signature(inputs=("z",), outputs=("image",), tolerance=1e-3),
        )(tiny_faces)


def unregister():
    for name in (CLOCK_ENTRY, FACES_ENTRY):
        registry._ENTRIES.pop(name, None)


def build(folder, keys=("clock", "faces")):
    """Train and export the tiny models ``keys`` (both by default) under ``folder``; return their paths.

    Returns:
        dict: ``clock_run``, ``clock_export``, ``faces_run``, ``faces_export`` (folders).
    """
    from export import exporter
    from zoo import training

    register()
    paths = {}
    try:
        for key, name in (("clock", CLOCK_ENTRY), ("faces", FACES_ENTRY)):
            if key not in keys:
                continue
            run = folder / f"{key}_run"
            training.train(name, epochs=1, out=run, verbose=0, plots=False, seed=1)
            exporter.export_entry(name, run, folder / f"{key}_export", log=lambda message: None)
            paths[f"{key}_run"], paths[f"{key}_export"] = run, folder / f"{key}_export"
    finally:
        unregister()
    return paths


def build_classifier(folder, data):
    """Train the tiny ``mnist_cnn`` on ``data`` (an MNIST-shaped .npz) and export it under
    ``folder``; return the export folder. With Adam at 0.01 rather than the report's
    Adadelta it learns the squares (test accuracy 1.0), so its answers are not near ties."""
    from export import exporter
    from zoo import registry, training

    entry = registry.get(CLASSIFIER_ENTRY)
    run, out = folder / "classifier_run", folder / "classifier_export"
    overrides = {**entry.tiny, "optimizer": "adam", "learning_rate": 0.01}
    training.train(CLASSIFIER_ENTRY, data=data, epochs=8, overrides=overrides, out=run, verbose=0, plots=False, seed=1)
    exporter.export_entry(CLASSIFIER_ENTRY, run, out, data=data, log=lambda message: None)
    return out
