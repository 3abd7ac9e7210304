"""A clock reader's outputs to times, the way its model card says: the raw decoding
(:func:`zoo.common.clocktime.decode_raw`), then the card's confidence calibration
(:mod:`zoo.common.confidence`) when it has one. numpy only."""

from zoo.common import clocktime
from zoo.common import confidence as calibration

def decode_outputs(outputs, decode):
    """``(minutes, confidence)`` of a clock reader's raw ``outputs`` (``{name: array (N,
    ...)}``) under the card's ``decode``: :func:`zoo.common.clocktime.decode_raw`, and with
    a ``decode["confidence"]`` calibration (``zoo calibrate``) the hand readers' confidence
    replaced by the calibrated chance of being within 5 minutes.

    Raises:
        ValueError: an unknown ``kind`` or a missing output.

    Example:
        >>> minutes, _ = decode_outputs({"probabilities": np.eye(24)[[6]]},  # doctest: +SKIP
        ...                             {"kind": "clock_bins", "output": "probabilities", "bins": 24})
    """
    minutes, confidence = clocktime.decode_raw(outputs, decode)
    if decode.get("confidence") and decode.get("kind") == "clock_hands":  # as only hand readers are calibrated
        named = calibration.features(outputs, decode, minutes, confidence)
        confidence = calibration.apply(decode["confidence"], named)
    return minutes, confidence
