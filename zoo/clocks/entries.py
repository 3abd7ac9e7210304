"""The clock entries' registration, with how they decode and how they are scored.

Entries: the report's ``clock_classifier``, ``clock_regressor`` and ``clock_multihead``
(:mod:`zoo.clocks.report`); ``clock_hands`` (:mod:`zoo.clocks.hands`); the release
reader ``clock_polar`` (:mod:`zoo.clocks.polar`); and ``clock_upright``
(:mod:`zoo.clocks.upright`), which turns clocks upright in front of a reader. Every
reader is scored by the common-sense error in minutes
(:func:`zoo.common.clocktime.cse_summary`) on the held-out test clocks.
"""

import numpy as np

from zoo import registry
from zoo.clocks import data, hands, polar, report, upright
from zoo.common import clocktime, decoding


def describe_clock(entry, config):
    """Card facts: how to decode the outputs into a time, and how to prepare images."""
    kinds = {
        "clock_classifier": {"kind": "clock_bins", "output": "probabilities", "bins": config.get("bins")},
        "clock_regressor": {"kind": "clock_regression", "output": "time", "scale": clocktime.MINUTES_PER_DIAL},
        "clock_multihead": {"kind": "clock_multihead", "hour_output": "hour", "minute_output": "minute",
                            "minute_scale": 60},
    }
    decode = kinds.get(entry.name, {"kind": "clock_hands", "hour_output": "hour", "minute_output": "minute"})
    return {**decode, **data.IMAGE_FACTS}


# Whether an entry reads the time; defined beside the upright stage it tells apart.
reads_time = upright.reads_time


def predict_minutes(model, images, decode, batch_size=256):
    """Read the time of uint8 images (N, H, W) with a Keras reader.

    Returns:
        ``(minutes, confidence)`` float arrays (N,).
    """
    outputs = model.predict(images[..., None].astype("float32"), batch_size=batch_size, verbose=0)
    return decoding.decode_outputs({key: np.asarray(value) for key, value in outputs.items()}, decode)


def evaluate_clock(model, splits, config):
    """Common-sense error of the reader on the test clocks (mean, median, p90, within 1 minute)."""
    images, labels = splits.test_arrays
    # Builders name their model after the entry, so the model says how to decode itself.
    decode = describe_clock(registry.get(model.name), config)
    minutes, _ = predict_minutes(model, images, decode)
    truth = clocktime.to_minutes(labels[:, 0], labels[:, 1])
    summary = clocktime.cse_summary(minutes, truth)
    return {f"test_cse_{key}": value for key, value in summary.items()}


# The fit settings every clock entry shares: rendered clock counts, held-out styles, and
# the renderer's scene profile (classic, or world: photographic backgrounds, cases,
# strong perspective, occluders, camera defects) with an optional folder or zip of photos
# for its backgrounds.
CLOCK_FIT = dict(train_count=40000, val_count=2000, test_count=2000, exclude_styles=(), scenes="classic",
                 backgrounds="")


def _register_all():
    common = dict(task="clock", dataset="clocks", data=data.clock_data, evaluate=evaluate_clock,
                  describe=describe_clock)
    registry.register(
        fit=dict(epochs=20, batch_size=256, **CLOCK_FIT),
        space=lambda hp: dict(bins=hp.Choice("bins", [24, 48, 96, 192, 360, 720])),
        signature=registry.Signature(outputs=("probabilities",)),
        tiny=dict(image_size=48, bins=24, train_count=64),
        **common,
    )(report.clock_classifier)
    registry.register(
        fit=dict(epochs=20, batch_size=256, **CLOCK_FIT),
        space=lambda hp: dict(loss=hp.Choice("loss", ["mae", "mse"])),
        signature=registry.Signature(outputs=("time",)),
        tiny=dict(image_size=48, train_count=64),
        **common,
    )(report.clock_regressor)
    registry.register(
        fit=dict(epochs=20, batch_size=256, **CLOCK_FIT),
        space=lambda hp: dict(minute_weight=hp.Choice("minute_weight", [0.5, 1.0, 4.0])),
        signature=registry.Signature(outputs=("hour", "minute")),
        tiny=dict(image_size=48, train_count=64),
        **common,
    )(report.clock_multihead)
    registry.register(
        fit=dict(epochs=15, batch_size=128, schedule="onecycle", **CLOCK_FIT),
        space=lambda hp: dict(
            width=hp.Choice("width", [16, 24, 32]),
            learning_rate=hp.Float("learning_rate", 5e-4, 5e-3, sampling="log"),
        ),
        signature=registry.Signature(outputs=("hour", "minute", "hour_bins", "minute_bins", "keypoints")),
        tiny=dict(image_size=32, width=8, dense_units=16, train_count=64),
        **common,
    )(hands.clock_hands)
    registry.register(
        # The release reader's training (serve/release/clock.onnx): 60,000 clocks, 7 epochs of batches of 64.
        fit=dict(epochs=7, batch_size=64, schedule="onecycle", **{**CLOCK_FIT, "train_count": 60000}),
        recipes={
            # make demo: the same reader on a budget that fits in minutes on two cores.
            "demo": dict(train_count=12000, val_count=1000, test_count=2000, epochs=4),
            # Clocks that look like the world: two photographic (world) clocks to each classic one.
            "world": dict(scenes="mixed", epochs=7),
            # python -m zoo.demo --quick and the tests: the pipeline end to end in about a minute.
            "quick": dict(image_size=64, width=8, polar_width=4, train_count=128, val_count=64, test_count=64,
                          epochs=1),
        },
        space=lambda hp: dict(
            polar_width=hp.Choice("polar_width", [8, 16, 24]),
            keypoint_weight=hp.Choice("keypoint_weight", [5.0, 20.0, 50.0]),
        ),
        # Its hand directions are unit (sin, cos) pairs whose logits sum thousands of float32
        # terms (the marks' context: 121 x 64 per score), so Keras and onnxruntime differ by
        # up to ~2e-4 on a trained reader; 5e-4 is 0.03 degrees, far below any conversion fault.
        signature=registry.Signature(outputs=("hour", "minute", "keypoints"), tolerance=5e-4),
        tiny=dict(image_size=64, width=8, polar_width=4, train_count=64),
        **common,
    )(polar.clock_polar)
    registry.register(
        task="clock", dataset="clocks", data=upright.upright_data, evaluate=upright.evaluate_upright,
        describe=upright.describe_upright,
        fit=dict(epochs=16, batch_size=128, schedule="onecycle", rotate_augment=0.0,
                 **{**CLOCK_FIT, "train_count": 30000}),
        recipes={
            # The release's second stage (artifacts/clock_upright_polar), some clocks turned by any angle.
            "polar": dict(design="polar", rotate_augment=0.5, epochs=12),
        },
        space=lambda hp: dict(width=hp.Choice("width", [12, 16, 24])),
        signature=registry.Signature(outputs=("quarter",)),
        tiny=dict(image_size=64, width=4, dense_units=8, train_count=64),
    )(upright.clock_upright)


_register_all()
