"""``zoo calibrate``: turn a clock reader's raw confidence into the chance that its
reading is within 5 minutes, fitted on the run's validation clocks.

A reader's raw confidence (the length of its hands' (sin, cos) pairs) orders its
readings but promises nothing; a reader that has never seen a kind of clock is as
sure of a wrong reading as of a right one. The calibration (:mod:`zoo.common.confidence`)
is fitted on clocks the run rendered but never trained on, written to the run folder
as ``confidence.json``, and carried by the export into the card, so that every
reading served has a confidence where 0.5 or more means "sure".
"""

import pathlib

import numpy as np

from zoo import errors
from zoo.common import clocktime, decoding, files
from zoo.common import confidence as calibration


def calibration_file(model_dir):
    """Where a trained run keeps its confidence calibration (``RUN/confidence.json``)."""
    folder = pathlib.Path(model_dir)
    return (folder if folder.is_dir() else folder.parent) / calibration.FILE_NAME


def raw_outputs(model, images, batch_size=256):
    """A Keras reader's outputs ``{name: array}`` for uint8 clocks (N, H, W)."""
    outputs = model.predict(images[..., None].astype("float32"), batch_size=batch_size, verbose=0)
    return {key: np.asarray(value) for key, value in outputs.items()}


def fit_run(model_dir, count=None, method="logistic", progress=True, scenes=None):
    """Fit a trained reader's calibration on its validation clocks (the run's seed +
    :data:`zoo.clocks.data.VALIDATION_OFFSET`, its scenes and backgrounds) and write it
    to the run folder.

    ``scenes``: render those clocks with this scene profile instead of the run's: a
    reader trained on ``mixed`` scenes is calibrated on its ``world`` clocks, the
    harder ones, so that its sure line holds where clocks are hardest.

    Returns:
        the calibration; its ``fitted`` says how the raw and calibrated confidences sort
        those clocks, ``on`` which clocks it was fitted.

    Raises:
        ZooError: not a trained clock run, or one trained on a data set rather than rendered clocks.
    """
    from zoo import registry, training
    from zoo.clocks import entries, reading

    folder = calibration_file(model_dir).parent
    if not (folder / "model.keras").is_file():
        raise errors.ZooError(f"{model_dir} is not a trained run folder (calibrate needs the run's Keras model and "
                              "its validation clocks; export the run again afterwards)")
    model, config = training.load_run(folder)
    if not entries.reads_time(model.name):
        raise errors.ZooError(f"{model_dir} holds {model.name!r}, not a clock reader")
    entry = registry.get(model.name)
    config = entry.resolve(config or {})
    clocks = reading.validation_clocks(folder, config, "calibrate", count, progress, scenes)
    decode = entries.describe_clock(entry, config)
    outputs = raw_outputs(model, clocks.images)
    minutes, raw = decoding.decode_outputs(outputs, decode)
    truth = clocktime.to_minutes(clocks.labels[:, 0], clocks.labels[:, 1]).astype(float)
    good = clocktime.common_sense_error(minutes, truth) <= calibration.GOOD_MINUTES
    fitted = calibration.fit(calibration.features(outputs, decode, minutes, raw), good, method=method)
    fitted["on"] = f"{clocks.count} validation clocks (seed {clocks.seed}, scenes {clocks.scenes})"
    files.write_json(calibration_file(folder), fitted)
    return fitted


def summary_line(summary):
    """One line of :func:`zoo.common.confidence.summary`: the share called sure and how often they are right."""
    sure = summary.get("sure_within_5")
    unsure = summary.get("unsure_within_5")
    return (f"{100 * summary['sure_share']:.1f}% called sure, of which "
            f"{'-' if sure is None else f'{100 * sure:.1f}%'} within 5 min; the others "
            f"{'-' if unsure is None else f'{100 * unsure:.1f}%'} (all: {100 * summary['within_5']:.1f}%)")
