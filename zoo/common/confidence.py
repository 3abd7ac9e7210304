"""A clock reader's confidence as a probability: P(the reading is within 5 minutes).

A reader's raw confidence (the shorter hand direction's length, or a top probability)
orders its readings but says nothing absolute: 0.4 may be right more often than not.
A calibration maps it (and, optionally, one more cheap feature of the same outputs)
monotonically to the share of readings within :data:`GOOD_MINUTES` of the truth, as
measured on clocks with known times: by isotonic regression (pool adjacent violators,
:func:`fit_isotonic`) on one feature, or by a logistic fit on one or two
(:func:`fit_logistic`). A reading is called *sure* when that probability is at least
the calibration's ``sure_at``: 0.5, or higher when the fitting clocks' readings at 0.5
or above are right less than :data:`SURE_WITHIN` of the time (:func:`fit_sure_at`), for a
probability of 0.5 alone promises only one reading in two. :func:`apply` rescales the
probability so that this threshold is 0.5: whatever the fit, 0.5 or more means sure.

The calibration is a small JSON dict (:data:`FORMAT`): ``zoo calibrate`` fits it on a
run's validation clocks and writes it to the run folder (``confidence.json``); the
export carries it in the card's ``decode`` as ``confidence``, and
:func:`zoo.common.decoding.decode_outputs` applies it (:func:`apply`). numpy only:
serve imports this module.

Example:
    >>> named = features(outputs, card["decode"], minutes)                # doctest: +SKIP
    >>> calibration = fit_isotonic(named["raw_confidence"], errors <= 5)  # doctest: +SKIP
    >>> probability = apply(calibration, named)                           # doctest: +SKIP
"""

import numpy as np

from zoo import errors

from zoo.common import clocktime

FORMAT = "zoo-confidence/1"
FILE_NAME = "confidence.json"
"""Where a trained run keeps its calibration."""
GOOD_MINUTES = 5.0
"""A reading counts as right within this many minutes of the truth."""
SURE_AT = 0.5
"""Readings whose confidence is at least this are called sure, unless the calibration
says otherwise (its ``sure_at``, from :func:`fit_sure_at`)."""
SURE_WITHIN = 0.9
"""The share of sure readings that should be within :data:`GOOD_MINUTES`."""
METHODS = ("isotonic", "logistic")
# Each feature, and how the logistic fit sees it (a monotone transform that makes the
# log odds close to linear in it): lengths and probabilities as log odds, minutes as log(1 + m).
FEATURES = {
    "raw_confidence": "logit",   # what decode_outputs calls confidence
    "hour_length": "logit",      # clock_hands: the hour hand's (sin, cos) length
    "minute_length": "logit",    # clock_hands: the minute hand's
    "hand_residual": "log1p",    # clock_hands: minutes between the hour hand's own reading and the time read
}
_EPSILON = 1e-4


def features(outputs, decode, minutes=None, raw=None):
    """The features a calibration may use, from a reader's raw outputs.

    Args:
        outputs: ``{output name: array (N, ...)}``, as :func:`zoo.common.decoding.decode_outputs` takes.
        decode: the card's ``decode``.
        minutes, raw: the decoded times and raw confidences (N,), if already computed.

    Returns:
        ``{feature name: float array (N,)}``: ``raw_confidence`` always; for ``clock_hands``
        also ``hour_length``, ``minute_length`` and ``hand_residual``.
    """
    if minutes is None or raw is None:
        minutes, raw = clocktime.decode_raw(outputs, decode)
    minutes = np.asarray(minutes, dtype=np.float64)
    named = {"raw_confidence": np.asarray(raw, dtype=np.float64)}
    if decode.get("kind") == "clock_hands":
        hour = np.asarray(outputs[decode["hour_output"]], dtype=np.float64).reshape(len(minutes), -1)
        minute = np.asarray(outputs[decode["minute_output"]], dtype=np.float64).reshape(len(minutes), -1)
        named["hour_length"] = np.hypot(hour[:, 0], hour[:, 1])
        named["minute_length"] = np.hypot(minute[:, 0], minute[:, 1])
        # The hour hand alone reads the time to a few minutes; far from the time chosen
        # with the minute hand, the two hands disagree.
        coarse = np.mod(np.arctan2(hour[:, 0], hour[:, 1]) / (2 * np.pi), 1.0) * clocktime.MINUTES_PER_DIAL
        named["hand_residual"] = np.asarray(clocktime.common_sense_error(coarse, minutes), dtype=np.float64)
    return named


def _transform(name, values):
    values = np.asarray(values, dtype=np.float64)
    if FEATURES[name] == "logit":
        values = np.clip(values, _EPSILON, 1.0 - _EPSILON)
        return np.log(values / (1.0 - values))
    return np.log1p(np.maximum(values, 0.0))


def pool_adjacent_violators(x, y, weight=None):
    """The non-decreasing step function of ``x`` closest to ``y`` in weighted squared error.

    Returns:
        ``(x_low, x_high, value)`` of each block, in increasing ``x``.

    Example:
        >>> pool_adjacent_violators([0, 1, 2, 3], [0, 1, 0, 1])[2].tolist()
        [0.0, 0.5, 1.0]
    """
    order = np.argsort(np.asarray(x, dtype=np.float64), kind="stable")
    x = np.asarray(x, dtype=np.float64)[order]
    y = np.asarray(y, dtype=np.float64)[order]
    weight = np.ones_like(y) if weight is None else np.asarray(weight, dtype=np.float64)[order]
    blocks = []  # [x_low, x_high, weighted sum, weight]
    for value_x, value_y, value_weight in zip(x, y, weight):
        blocks.append([value_x, value_x, value_y * value_weight, value_weight])
        # Merge while the new block's mean is below its left neighbour's (or shares its x).
        while len(blocks) > 1 and (blocks[-2][2] * blocks[-1][3] >= blocks[-1][2] * blocks[-2][3]
                                   or blocks[-2][1] == blocks[-1][0]):
            low, high, total, mass = blocks.pop()
            blocks[-1][1], blocks[-1][2], blocks[-1][3] = high, blocks[-1][2] + total, blocks[-1][3] + mass
    blocks = np.asarray(blocks, dtype=np.float64)
    return blocks[:, 0], blocks[:, 1], blocks[:, 2] / blocks[:, 3]


def _check_fit_inputs(values, good):
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    good = np.asarray(good, dtype=bool).reshape(-1)
    if values.size != good.size or values.size < 2:
        raise ValueError(f"need two or more readings with as many outcomes; received {values.size} and {good.size}")
    if not np.all(np.isfinite(values)):
        raise ValueError("the feature values must be finite")
    return values, good


def fit_isotonic(values, good, feature="raw_confidence"):
    """An isotonic calibration on one feature: the pooled step function, interpolated
    linearly between block centres (flat beyond the ends).

    Args:
        values: the feature (N,), larger meaning more likely right.
        good: whether each reading was within :data:`GOOD_MINUTES` (N,).
        feature: the feature's name in :data:`FEATURES`.

    Returns:
        the calibration dict.
    """
    values, good = _check_fit_inputs(values, good)
    low, high, value = pool_adjacent_violators(values, good)
    return _calibration("isotonic", [feature], x=((low + high) / 2).round(6).tolist(), y=value.round(6).tolist())


def fit_logistic(named, good, feature_names=("raw_confidence",), ridge=1e-3, iterations=100):
    """A logistic calibration on one or two features (Newton's method, a small ridge).

    Args:
        named: ``{feature name: array (N,)}`` (from :func:`features`).
        good: whether each reading was within :data:`GOOD_MINUTES` (N,).
        feature_names: one or two names from :data:`FEATURES`.

    Returns:
        the calibration dict; ``weights`` are the intercept, then one per feature.
    """
    feature_names = list(feature_names)
    if not 1 <= len(feature_names) <= 2 or any(name not in FEATURES for name in feature_names):
        raise ValueError(f"feature_names must be one or two of {', '.join(FEATURES)}; received {feature_names}")
    columns = []
    for name in feature_names:
        values, good = _check_fit_inputs(named[name], good)
        columns.append(_transform(name, values))
    design = np.column_stack([np.ones(len(good)), *columns])
    target = good.astype(np.float64)
    weights = np.zeros(design.shape[1])
    for _ in range(iterations):
        probability = 1.0 / (1.0 + np.exp(-design @ weights))
        gradient = design.T @ (probability - target) + ridge * weights
        hessian = (design * (probability * (1 - probability))[:, None]).T @ design + ridge * np.eye(len(weights))
        step = np.linalg.solve(hessian, gradient)
        weights -= step
        if np.max(np.abs(step)) < 1e-9:
            break
    return _calibration("logistic", feature_names, weights=weights.round(6).tolist())


def fit(named, good, method="logistic", feature_names=None):
    """Fit a calibration, its ``sure_at`` (:func:`fit_sure_at`), and how both score on the
    fitting readings (``fitted``: :func:`summary` of the raw and the calibrated confidence).

    Args:
        named: ``{feature name: array (N,)}`` from :func:`features`.
        good: whether each reading was within :data:`GOOD_MINUTES` (N,).
        method: ``logistic`` or ``isotonic``.
        feature_names: the features [default: ``raw_confidence``, with ``hand_residual``
            for a logistic fit when the reader gives it].

    Returns:
        the calibration dict.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}; received {method!r}")
    if feature_names is None:
        feature_names = ["raw_confidence"] + (["hand_residual"] if method == "logistic" and "hand_residual" in named
                                              else [])
    feature_names = list(feature_names)
    missing = [name for name in feature_names if name not in named]
    if missing:
        raise ValueError(f"this reader's outputs give no {', '.join(missing)} (they give {', '.join(named)})")
    if method == "isotonic":
        if len(feature_names) != 1:
            raise ValueError(f"an isotonic calibration takes one feature; received {feature_names}")
        calibration = fit_isotonic(named[feature_names[0]], good, feature_names[0])
    else:
        calibration = fit_logistic(named, good, feature_names)
    probability = apply(calibration, named)
    calibration["sure_at"] = fit_sure_at(probability, good)
    calibration["fitted"] = {"raw": summary(named["raw_confidence"], good),
                             "calibrated": summary(probability, good, calibration["sure_at"])}
    return calibration


def _calibration(method, feature_names, **parameters):
    return {"format": FORMAT, "target": f"error <= {GOOD_MINUTES:g} min", "method": method,
            "features": list(feature_names), **parameters, "sure_at": SURE_AT}


def fit_sure_at(probability, good, within=SURE_WITHIN, step=0.01):
    """The lowest threshold from :data:`SURE_AT` up (in ``step``) at which the readings at
    or above it are within :data:`GOOD_MINUTES` at least ``within`` of the time.

    Returns:
        the threshold (at most 0.99), a float.
    """
    probability = np.asarray(probability, dtype=np.float64).reshape(-1)
    good = np.asarray(good, dtype=bool).reshape(-1)
    for threshold in np.arange(SURE_AT, 1.0 - step / 2, step):
        chosen = probability >= threshold
        if chosen.any() and good[chosen].mean() >= within:
            return round(float(threshold), 4)
    return round(1.0 - step, 4)


def sure_at(calibration):
    """The confidence from which a reading is called sure (:data:`SURE_AT` without a calibration)."""
    return float((calibration or {}).get("sure_at", SURE_AT))


def check(calibration, where="the confidence calibration"):
    """Raise ZooError unless ``calibration`` is a usable calibration dict; return it."""
    if not isinstance(calibration, dict) or calibration.get("format") != FORMAT:
        raise errors.ZooError(f"{where} is not a {FORMAT} calibration")
    method, names = calibration.get("method"), calibration.get("features")
    if method not in METHODS or not isinstance(names, list) or not names or any(name not in FEATURES for name in names):
        raise errors.ZooError(f"{where}: method must be one of {', '.join(METHODS)} over features of "
                              f"{', '.join(FEATURES)}; received {method!r} over {names!r}")
    if method == "isotonic":
        x, y = calibration.get("x"), calibration.get("y")
        if (len(names) != 1 or not isinstance(x, list) or not isinstance(y, list) or not x or len(x) != len(y)
                or np.any(np.diff(np.asarray(x, dtype=np.float64)) < 0)):
            raise errors.ZooError(f"{where}: an isotonic calibration needs one feature and increasing x with as many y")
    else:
        weights = calibration.get("weights")
        if not isinstance(weights, list) or len(weights) != len(names) + 1:
            raise errors.ZooError(f"{where}: a logistic calibration needs {len(names) + 1} weights")
    threshold = calibration.get("sure_at", SURE_AT)
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0.0 <= threshold <= 1.0:
        raise errors.ZooError(f"{where}: sure_at must be a number in [0, 1]; received {threshold!r}")
    return calibration


def load(path):
    """The calibration in ``path`` (a run's ``confidence.json``), checked."""
    import json
    import pathlib

    path = pathlib.Path(path)
    try:
        calibration = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise errors.ZooError(f"cannot read the confidence calibration {path}: {error}; run `zoo calibrate` again") \
            from None
    return check(calibration, str(path))


def apply(calibration, named):
    """The calibrated confidence of each reading: P(error <= :data:`GOOD_MINUTES`),
    rescaled (:func:`rescale`) so that readings at :data:`SURE_AT` or above are the sure ones.

    Args:
        calibration: a dict from :func:`fit_isotonic` or :func:`fit_logistic`.
        named: ``{feature name: array (N,)}`` holding the calibration's features.

    Returns:
        float array (N,) in [0, 1].

    Raises:
        ZooError: a malformed calibration, or a feature the outputs do not give.
    """
    check(calibration)
    missing = [name for name in calibration["features"] if name not in named]
    if missing:
        raise errors.ZooError(f"the confidence calibration needs {', '.join(missing)}, which this reader's "
                              "outputs do not give")
    if calibration["method"] == "isotonic":
        values = np.asarray(named[calibration["features"][0]], dtype=np.float64)
        probability = np.clip(np.interp(values, calibration["x"], calibration["y"]), 0.0, 1.0)
    else:
        weights = np.asarray(calibration["weights"], dtype=np.float64)
        score = weights[0] + sum(weight * _transform(name, named[name])
                                 for weight, name in zip(weights[1:], calibration["features"]))
        probability = 1.0 / (1.0 + np.exp(-score))
    return rescale(probability, sure_at(calibration))


def rescale(probability, threshold):
    """Stretch ``probability`` piecewise-linearly so that ``threshold`` lands on
    :data:`SURE_AT`: users read 0.5 or more as sure, whatever the threshold the fit
    needed for sure readings to be right :data:`SURE_WITHIN` of the time."""
    probability = np.asarray(probability, dtype=np.float64)
    if threshold == SURE_AT:
        return probability
    return np.where(probability < threshold, probability / threshold * SURE_AT,
                    SURE_AT + (probability - threshold) / max(1.0 - threshold, 1e-9) * (1.0 - SURE_AT))


def summary(probability, good, sure_at=SURE_AT):
    """How a confidence sorts readings: the share called sure and how often those are
    right, the same for the others, and the mean squared gap to the outcome (Brier).

    Returns:
        dict of plain floats and ints (JSON-serialisable).
    """
    probability = np.asarray(probability, dtype=np.float64).reshape(-1)
    good = np.asarray(good, dtype=bool).reshape(-1)
    sure = probability >= sure_at
    return {
        "count": int(good.size),
        "within_5": float(good.mean()) if good.size else None,
        "sure_share": float(sure.mean()) if good.size else None,
        "sure_within_5": float(good[sure].mean()) if sure.any() else None,
        "unsure_within_5": float(good[~sure].mean()) if (~sure).any() else None,
        "brier": float(np.mean((probability - good) ** 2)) if good.size else None,
    }


def reliability(probability, good, bins=10):
    """Observed share right against the mean confidence, in equal-width confidence bins.

    Returns:
        list of ``{low, high, count, confidence, within_5}`` for the bins that hold readings.
    """
    probability = np.asarray(probability, dtype=np.float64).reshape(-1)
    good = np.asarray(good, dtype=bool).reshape(-1)
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.digitize(probability, edges[1:-1]), 0, bins - 1)
    rows = []
    for position in range(bins):
        chosen = index == position
        if chosen.any():
            rows.append({"low": float(edges[position]), "high": float(edges[position + 1]), "count": int(chosen.sum()),
                         "confidence": float(probability[chosen].mean()), "within_5": float(good[chosen].mean())})
    return rows
