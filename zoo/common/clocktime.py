"""Arithmetic on the 12-hour analog clock: labels, errors and encodings.

Times are handled as minutes past 12:00 on a 12-hour dial, ``t`` in
``[0, 720)``. The Leiden "tell the time" labels ``[hour 0-11, minute 0-59]``
convert with :func:`to_minutes` and :func:`from_minutes`.

The score used throughout is the *common sense error*: the number of minutes
between two readings going the short way round the dial, so 11:50 against
0:10 is 20 minutes, not 700.

This module imports only numpy so that a TensorFlow-free server can use it.
"""

import numpy as np

MINUTES_PER_DIAL = 720
"""Minutes in one turn of the hour hand (12 hours)."""


def _as_float_array(value, name):
    """Convert ``value`` to a float64 array, rejecting non-numeric input.

    Args:
        value: Scalar or array-like of numbers.
        name: Argument name used in the error message.

    Returns:
        np.ndarray of float64.

    Raises:
        ValueError: If the value is not numeric or holds NaN/infinity.
    """
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name} must be numeric, got {value!r}") from error
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return array


def _scalar_or_array(array):
    """Return a python scalar for 0-d arrays so scalar calls give scalars."""
    return array.item() if np.ndim(array) == 0 else array


def to_minutes(hour, minute):
    """Convert hour and minute to minutes past 12:00 on a 12-hour dial.

    Args:
        hour: Hour, scalar or array; taken modulo 12 (so 12 and 0 are the
            same and 13 is 1).
        minute: Minute, scalar or array of the same shape; may be fractional.

    Returns:
        ``(hour mod 12) * 60 + minute``; an int or float for scalar input,
        otherwise an array (integer if both inputs are integer).

    Example:
        >>> to_minutes(3, 15)
        195
        >>> to_minutes(12, 0)
        0
    """
    hour_array = np.asarray(hour)
    minute_array = np.asarray(minute)
    for name, array, value in (("hour", hour_array, hour), ("minute", minute_array, minute)):
        if not (np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)):
            raise ValueError(f"{name} must be numeric, got {value!r}")
    if np.issubdtype(hour_array.dtype, np.integer):
        hour_array = np.mod(hour_array, 12)
    else:
        hour_array = np.mod(hour_array, 12.0)
    return _scalar_or_array(hour_array * 60 + minute_array)


def from_minutes(t):
    """Convert minutes past 12:00 to integer (hour, minute).

    ``t`` is taken modulo 720 and the minute is rounded to the nearest whole
    minute with the carry applied, so 719.6 reads as 0:00 and 59.5 as 1:00
    (halves round up).

    Args:
        t: Minutes past 12:00, scalar or array, int or float.

    Returns:
        Tuple ``(hour, minute)`` of int64 arrays (python ints for scalar
        input) with hour in 0-11 and minute in 0-59.

    Example:
        >>> from_minutes(195)
        (3, 15)
        >>> from_minutes(719.6)
        (0, 0)
    """
    minutes = _as_float_array(t, "t")
    # Round first and wrap afterwards so that the carry out of 59.5 and out
    # of 719.5 both land on a valid label.
    whole = np.mod(np.floor(minutes + 0.5), MINUTES_PER_DIAL).astype(np.int64)
    hour, minute = np.divmod(whole, 60)
    return _scalar_or_array(hour), _scalar_or_array(minute)


def common_sense_error(t_pred, t_true):
    """Minutes between two dial readings, going the short way round.

    Args:
        t_pred: Predicted minutes past 12:00, scalar or array (float OK).
        t_true: True minutes past 12:00, broadcastable against ``t_pred``.

    Returns:
        Error in minutes in ``[0, 360]``: ``d = |t_pred - t_true| mod 720``
        then ``min(d, 720 - d)``. A float for scalar input, else an array.

    Example:
        >>> common_sense_error(to_minutes(11, 50), to_minutes(0, 10))
        20.0
    """
    predicted = _as_float_array(t_pred, "t_pred")
    true = _as_float_array(t_true, "t_true")
    difference = np.mod(np.abs(predicted - true), MINUTES_PER_DIAL)
    return _scalar_or_array(np.minimum(difference, MINUTES_PER_DIAL - difference))


GUESSING_CSE = MINUTES_PER_DIAL / 4
"""The mean common-sense error of readings that ignore the clock (uniform on 0-360 min)."""


def no_better_than_guessing(metrics, margin=30.0):
    """A one-line warning when a clock reader's test mean error is within ``margin``
    minutes of :data:`GUESSING_CSE` (its readings ignore the clock: with the polar
    reader, hand heads that never locked on), else None."""
    mean = (metrics or {}).get("test_cse_mean")
    if mean is None or mean < GUESSING_CSE - margin:
        return None
    return (f"warning: mean error {mean:.1f} min is about what guessing gives ({GUESSING_CSE:.0f}): this reader "
            "did not learn to read the hands; train again with another --seed (or a lower learning_rate)")


def cse_summary(t_pred, t_true):
    """Summary statistics of the common sense error over a set of readings.

    Args:
        t_pred: Predicted minutes past 12:00, array of shape (N,).
        t_true: True minutes past 12:00, array of shape (N,).

    Returns:
        Dict of plain python floats (JSON-serialisable): ``mean``,
        ``median``, ``p90`` (90th percentile), ``within_1`` and ``within_5``
        (share of readings with error <= 1 and <= 5 minutes), ``max`` and
        ``count`` (an int).

    Raises:
        ValueError: If the inputs are empty or of different sizes.

    Example:
        >>> cse_summary([0, 30], [10, 30])["mean"]
        5.0
    """
    predicted = _as_float_array(t_pred, "t_pred").ravel()
    true = _as_float_array(t_true, "t_true").ravel()
    if predicted.size != true.size:
        raise ValueError(
            f"t_pred and t_true must have the same size, got {predicted.size} and {true.size}"
        )
    if predicted.size == 0:
        raise ValueError("t_pred must hold at least one reading, got an empty array")
    errors = np.asarray(common_sense_error(predicted, true), dtype=np.float64)
    return {
        "mean": float(np.mean(errors)),
        "median": float(np.median(errors)),
        "p90": float(np.percentile(errors, 90)),
        "within_1": float(np.mean(errors <= 1.0)),
        "within_5": float(np.mean(errors <= 5.0)),
        "max": float(np.max(errors)),
        "count": int(errors.size),
    }


def _check_bins(bins):
    """Validate a bin count for N-bin classifiers over the 720-minute dial.

    Bins need not be whole minutes wide: the report's 192 bins are 3.75 minutes each.
    """
    if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)):
        raise ValueError(f"bins must be a positive integer, got {bins!r}")
    if bins <= 0 or bins > MINUTES_PER_DIAL * 60:
        raise ValueError(f"bins must be a positive integer of at most 43200, got {bins!r}")
    return int(bins)


def bin_of(t, bins):
    """Index of the bin containing time ``t`` for an N-bin classifier.

    The dial is cut into ``bins`` bins of width ``720 / bins`` minutes; bin
    ``i`` covers ``[i * width, (i + 1) * width)``.

    Args:
        t: Minutes past 12:00, scalar or array; taken modulo 720.
        bins: Number of bins (e.g. 24, 96, 192, 720).

    Returns:
        int64 bin index in ``[0, bins)`` (python int for scalar input).

    Raises:
        ValueError: If ``bins`` is not a positive integer.

    Example:
        >>> bin_of(195, 12)
        3
    """
    bins = _check_bins(bins)
    minutes = np.mod(_as_float_array(t, "t"), MINUTES_PER_DIAL)
    width = MINUTES_PER_DIAL / bins
    index = np.floor(minutes / width).astype(np.int64)
    # Float rounding can push 719.9999999 to the index one past the end.
    return _scalar_or_array(np.minimum(index, bins - 1))


def bin_centre(index, bins):
    """Centre time of a bin, in minutes past 12:00.

    Args:
        index: Bin index, scalar or array, in ``[0, bins)``.
        bins: Number of bins.

    Returns:
        ``(index + 0.5) * 720 / bins`` as float (array for array input).

    Raises:
        ValueError: If ``bins`` is not a positive integer or an index is outside
            ``[0, bins)``.

    Example:
        >>> bin_centre(3, 12)
        210.0
    """
    bins = _check_bins(bins)
    indices = _as_float_array(index, "index")
    if np.any(indices < 0) or np.any(indices >= bins):
        raise ValueError(f"index must lie in [0, {bins}), got {index!r}")
    width = MINUTES_PER_DIAL / bins
    return _scalar_or_array((np.floor(indices) + 0.5) * width)


def _check_period(period):
    """Validate a positive finite period."""
    value = _as_float_array(period, "period")
    if value.ndim != 0 or value <= 0:
        raise ValueError(f"period must be a positive number, got {period!r}")
    return float(value)


def angle_encoding(t, period):
    """Encode a cyclic value as (sin, cos) of its angle on the circle.

    Args:
        t: Value(s), any shape, e.g. minutes past 12:00.
        period: Length of one cycle (720 for the dial, 60 for the minute).

    Returns:
        float64 array of shape ``t.shape + (2,)`` holding
        ``sin(2 pi t / period)`` and ``cos(2 pi t / period)``.

    Example:
        >>> np.round(angle_encoding(180, 720), 6)
        array([1., 0.])
    """
    period = _check_period(period)
    angle = 2.0 * np.pi * _as_float_array(t, "t") / period
    return np.stack([np.sin(angle), np.cos(angle)], axis=-1)


def angle_decoding(sin, cos, period):
    """Decode (sin, cos) back to a cyclic value in ``[0, period)``.

    The pair does not need unit length (network outputs rarely have it);
    only its direction is used.

    Args:
        sin: Sine component(s), scalar or array.
        cos: Cosine component(s), same shape as ``sin``.
        period: Length of one cycle.

    Returns:
        Value(s) in ``[0, period)``, float (array for array input).

    Example:
        >>> angle_decoding(1.0, 0.0, 720)
        180.0
    """
    period = _check_period(period)
    sine = _as_float_array(sin, "sin")
    cosine = _as_float_array(cos, "cos")
    angle = np.arctan2(sine, cosine)
    value = np.mod(angle / (2.0 * np.pi) * period, period)
    # mod of a tiny negative number can return exactly `period`.
    value = np.where(value >= period, 0.0, value)
    return _scalar_or_array(value)


def hands_to_minutes(hour_angle_time, minute_angle_minutes):
    """Combine a coarse hour-hand reading with a precise minute-hand reading.

    The hour hand alone gives the time to within a few minutes; the minute
    hand gives the minutes precisely but not the hour. Picking the hour ``h``
    that puts ``h * 60 + minute`` closest (circularly) to the hour-hand time
    avoids the classic mistake of reading 2:58 as 3:58 because the hour
    hand is almost on the 3.

    Args:
        hour_angle_time: Time in minutes past 12:00 read from the hour
            hand's angle, in ``[0, 720)`` (values outside are wrapped).
        minute_angle_minutes: Minutes read from the minute hand's angle,
            in ``[0, 60)`` (values outside are wrapped).

    Returns:
        Minutes past 12:00 in ``[0, 720)``, float (array for array input).

    Example:
        >>> hands_to_minutes(181.0, 58.0)   # hour hand just past 3:00
        178.0
    """
    coarse = np.mod(_as_float_array(hour_angle_time, "hour_angle_time"), MINUTES_PER_DIAL)
    fine = np.mod(_as_float_array(minute_angle_minutes, "minute_angle_minutes"), 60.0)
    # The candidate hour is the one whose h*60 + fine is nearest to coarse:
    # h = round((coarse - fine) / 60), then wrapped to the dial.
    hour = np.round((coarse - fine) / 60.0)
    value = np.mod(hour * 60.0 + fine, MINUTES_PER_DIAL)
    value = np.where(value >= MINUTES_PER_DIAL, 0.0, value)
    return _scalar_or_array(value)


CLOCK_DECODINGS = ("clock_bins", "clock_regression", "clock_multihead", "clock_hands")


def _hand_angle(pair):
    """Angle in [0, 1) turns of a (..., 2) array of (sin, cos), and the pair's length."""
    pair = np.asarray(pair, dtype=np.float64).reshape(len(pair), -1)
    turns = np.mod(np.arctan2(pair[:, 0], pair[:, 1]) / (2 * np.pi), 1.0)
    return turns, np.hypot(pair[:, 0], pair[:, 1])


def decode_raw(outputs, decode):
    """Turn a clock reader's raw outputs into times, the way its model card says.

    Args:
        outputs: ``{output name: array (N, ...)}`` from Keras or onnxruntime.
        decode: the card's ``decode`` dict; ``kind`` is one of :data:`CLOCK_DECODINGS`.

    Returns:
        ``(minutes, confidence)``: float arrays (N,) with minutes past 12:00 in
        [0, 720) and a confidence in [0, 1] (the top probability for class heads,
        the length of the predicted (sin, cos) pair for hand angles, which shrinks
        when the network is unsure of the direction; 1 for plain regression), before
        any calibration: :func:`zoo.common.decoding.decode_outputs` applies the card's.

    Raises:
        ValueError: an unknown ``kind`` or a missing output.

    Example:
        >>> minutes, _ = decode_raw({"probabilities": np.eye(24)[[6]]},
        ...                             {"kind": "clock_bins", "output": "probabilities", "bins": 24})
        >>> float(minutes[0])
        195.0
    """
    kind = decode.get("kind")
    if kind not in CLOCK_DECODINGS:
        raise ValueError(f"decode kind must be one of {', '.join(CLOCK_DECODINGS)}; received {kind!r}")

    def output(key):
        name = decode[key]
        if name not in outputs:
            raise ValueError(f"the model has no output {name!r} (it has {', '.join(sorted(outputs))})")
        return np.asarray(outputs[name], dtype=np.float64)

    if kind == "clock_bins":
        probabilities = output("output")
        index = probabilities.argmax(axis=-1)
        return np.asarray(bin_centre(index, int(decode["bins"])), dtype=np.float64), probabilities.max(axis=-1)
    if kind == "clock_regression":
        value = output("output").reshape(-1) * float(decode.get("scale", MINUTES_PER_DIAL))
        minutes = np.mod(value, MINUTES_PER_DIAL)
        return minutes, np.ones_like(minutes)
    if kind == "clock_multihead":
        hours = output("hour_output")
        minute = output("minute_output").reshape(-1) * float(decode.get("minute_scale", 60))
        minute = np.clip(minute, 0.0, 59.999)
        minutes = np.mod(hours.argmax(axis=-1) * 60.0 + minute, MINUTES_PER_DIAL)
        return minutes, hours.max(axis=-1)
    hour_turns, hour_length = _hand_angle(output("hour_output"))
    minute_turns, minute_length = _hand_angle(output("minute_output"))
    minutes = np.atleast_1d(np.asarray(hands_to_minutes(hour_turns * MINUTES_PER_DIAL, minute_turns * 60.0),
                                       dtype=np.float64))
    confidence = np.clip(np.minimum(hour_length, minute_length), 0.0, 1.0)
    return minutes, confidence
