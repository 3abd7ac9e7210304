"""Reading a clock four times, turned by 0, 90, 180 and 270 degrees, and choosing one reading.

The time is read against the dial's 12, not the image's top, so turning the image by
a quarter should not change it. A reader that learnt mostly upright clocks does not
behave so: it reads an upright clock best unturned, but a clock hung sideways may be
read right only once it is turned back. Which of the four readings to keep is learnt
(:func:`fit`) on clocks with known times: a conditional logit over a few features of
each reading (its confidence, the unturned reading's, how many of the other readings
agree with it), so one reading per clock is chosen (:func:`choose`) with no more than
the reader's own outputs.

The selector is a small JSON dict (:data:`FORMAT`): ``zoo fit-turns`` writes it to a
run folder as ``turns.json``, the exporter copies it into the card's ``decode`` as
``turns``, and ``zoo predict-time --turns`` / ``zoo clock-errors --turns`` use it.
numpy only: the serve commands import this module.

Example:
    >>> minutes, confidence = read_turned(read, images)        # doctest: +SKIP
    >>> selector = fit(minutes, confidence, truth)              # doctest: +SKIP
    >>> chosen, sure, turn = choose(selector, minutes, confidence)  # doctest: +SKIP
"""

import json
import pathlib

import numpy as np

from zoo import errors

from zoo.common import clocktime

FORMAT = "zoo-turns/1"
TURNS = (0, 1, 2, 3)
"""Quarter turns each image is read at (``np.rot90``'s ``k``: counter-clockwise)."""
AGREE_MINUTES = 10.0
"""Two readings agree when their common-sense distance is at most this."""
GOOD_MINUTES = 2.0
"""A reading counts as right, for fitting, within this many minutes of the truth."""
FEATURES = ("unturned", "confidence", "agreeing", "unturned_agreeing", "turned_unturned_confidence",
            "confidence_below_best", "most_confident")
FILE_NAME = "turns.json"


def turn(images, quarters):
    """``images`` (N, H, W[, C]) turned by ``quarters`` quarter turns counter-clockwise
    (exact: a transpose and a flip, no resampling)."""
    return np.rot90(np.asarray(images), int(quarters) % 4, axes=(1, 2))


def read_turned(read, images, turns=TURNS):
    """Read every image at every turn.

    Args:
        read: callable mapping images (M, H, W[, C]) to ``(minutes, confidence)`` (M,);
            it is called once, on the ``len(turns) * N`` turned images.
        images: square images (N, H, W[, C]).

    Returns:
        ``(minutes, confidence)``, float arrays (len(turns), N).
    """
    images = np.asarray(images)
    if images.ndim < 3 or images.shape[1] != images.shape[2]:
        raise errors.ZooError(f"reading turned clocks needs square images (N, H, H[, C]); received {images.shape}")
    # One call on the turned copies stacked: a single pass through the reader's batching.
    value, sure = read(np.concatenate([turn(images, quarters) for quarters in turns]))
    shape = (len(turns), len(images))
    return (np.asarray(value, dtype=np.float64).reshape(shape), np.asarray(sure, dtype=np.float64).reshape(shape))


def features(minutes, confidence, agree_minutes=AGREE_MINUTES):
    """Features of each reading, (N, T, len(FEATURES)), from readings (T, N), the
    unturned one first.

    ``unturned``: 1 for the unturned reading; ``confidence``: the reading's;
    ``agreeing``: the share of the other readings within ``agree_minutes`` of it;
    ``unturned_agreeing``: the same for the unturned reading only; ``turned_unturned_confidence``:
    the unturned reading's confidence, on the turned readings (a sure unturned reading
    argues against turning); ``confidence_below_best``: how far its confidence is below
    the most confident reading's; ``most_confident``: 1 for the most confident reading.
    """
    minutes = np.asarray(minutes, dtype=np.float64)
    confidence = np.asarray(confidence, dtype=np.float64)
    if minutes.ndim != 2 or minutes.shape != confidence.shape or len(minutes) < 2:
        raise ValueError(f"readings must be (turns >= 2, N) with a confidence each; received {minutes.shape} "
                         f"and {confidence.shape}")
    count = len(minutes)
    distance = clocktime.common_sense_error(minutes[:, None, :], minutes[None, :, :])  # (T, T, N)
    agreeing = (np.sum(distance <= agree_minutes, axis=1) - 1) / (count - 1)  # (T, N), itself excluded
    unturned = np.zeros((count, 1))
    unturned[0] = 1.0
    columns = [
        np.broadcast_to(unturned, minutes.shape),
        confidence,
        agreeing,
        unturned * agreeing,
        (1.0 - unturned) * confidence[:1],
        confidence - confidence.max(axis=0, keepdims=True),
        (np.arange(count)[:, None] == np.argmax(confidence, axis=0)[None, :]).astype(np.float64),
    ]
    return np.stack(columns, axis=-1).transpose(1, 0, 2)


def _softmax(scores):
    scores = scores - scores.max(axis=1, keepdims=True)
    weights = np.exp(scores)
    return weights / weights.sum(axis=1, keepdims=True)


def fit(minutes, confidence, truth, good_minutes=GOOD_MINUTES, agree_minutes=AGREE_MINUTES, ridge=1e-2,
        iterations=50):
    """Learn which reading to keep, from readings (T, N) of clocks whose times are known.

    A conditional logit: reading k of a clock scores ``features · w`` and is chosen
    with the softmax of the scores over the clock's readings; ``w`` maximises the
    likelihood of the readings within ``good_minutes`` of the truth (spread evenly
    over them), with a ridge penalty, by Newton's method. Clocks where every reading
    or none is right say nothing about the choice and are left out.

    Returns:
        the selector dict (:data:`FORMAT`), with what it was fitted on and how it
        scores there (``fitted``).

    Raises:
        ZooError: no clock has both a right and a wrong reading.
    """
    x = features(minutes, confidence, agree_minutes)
    truth = np.asarray(truth, dtype=np.float64).reshape(-1)
    error = clocktime.common_sense_error(np.asarray(minutes, dtype=np.float64), truth[None, :]).T  # (N, T)
    right = error <= good_minutes
    informative = right.any(axis=1) & ~right.all(axis=1)
    if not informative.any():
        raise errors.ZooError("no clock has both a right and a wrong reading among its turns: nothing to learn a "
                              "choice from (more clocks, or a reader that reads some of them)")
    x_fit = x[informative]
    target = right[informative] / right[informative].sum(axis=1, keepdims=True)
    weights = np.zeros(x.shape[-1])
    penalty = ridge * len(x_fit)
    for _ in range(iterations):
        p = _softmax(x_fit @ weights)
        mean = np.einsum("nk,nkf->nf", p, x_fit)
        gradient = np.einsum("nk,nkf->f", target - p, x_fit) - penalty * weights
        centred = x_fit - mean[:, None, :]
        hessian = np.einsum("nk,nkf,nkg->fg", p, centred, centred) + penalty * np.eye(len(weights))
        step = np.linalg.solve(hessian, gradient)
        weights = weights + step
        if np.max(np.abs(step)) < 1e-8:
            break
    selector = {"format": FORMAT, "turns": list(TURNS[:len(minutes)]), "features": list(FEATURES),
                "weights": [float(value) for value in weights], "agree_minutes": float(agree_minutes),
                "good_minutes": float(good_minutes)}
    chosen, _, index = choose(selector, minutes, confidence)
    oracle = np.asarray(minutes)[np.argmin(error, axis=1), np.arange(len(truth))]
    selector["fitted"] = {
        "clocks": int(len(truth)),
        "informative_clocks": int(informative.sum()),
        "unturned": clocktime.cse_summary(np.asarray(minutes)[0], truth),
        "chosen": clocktime.cse_summary(chosen, truth),
        "best_of_turns": clocktime.cse_summary(oracle, truth),
        "turned_share": float(np.mean(index != 0)),
    }
    return selector


def check(selector, where="the turn selector"):
    """Raise ZooError unless ``selector`` is a usable selector dict; return it."""
    if not isinstance(selector, dict) or selector.get("format") != FORMAT:
        raise errors.ZooError(f"{where} is not a {FORMAT} selector")
    names, weights, turns = selector.get("features"), selector.get("weights"), selector.get("turns")
    if (not isinstance(names, list) or not isinstance(weights, list) or len(names) != len(weights)
            or any(name not in FEATURES for name in names) or not all(isinstance(w, (int, float)) for w in weights)):
        raise errors.ZooError(f"{where}: features and weights must be lists of equal length over {', '.join(FEATURES)}")
    if turns != list(TURNS[:len(turns or [])]) or len(turns) < 2:
        raise errors.ZooError(f"{where}: turns must be [0, 1, ...] with at least two; received {turns!r}")
    return selector


def choose(selector, minutes, confidence):
    """The reading the selector keeps for each clock.

    Args:
        selector: a dict from :func:`fit`.
        minutes, confidence: readings (T, N), in the selector's ``turns`` order.

    Returns:
        ``(minutes, confidence, turn)`` arrays (N,): the kept reading, its confidence
        and the quarter turns it was read at.
    """
    check(selector)
    minutes = np.asarray(minutes, dtype=np.float64)
    confidence = np.asarray(confidence, dtype=np.float64)
    if len(minutes) != len(selector["turns"]):
        raise errors.ZooError(
            f"the selector chooses among {len(selector['turns'])} turns; received {len(minutes)} readings"
        )
    x = features(minutes, confidence, float(selector.get("agree_minutes", AGREE_MINUTES)))
    columns = [FEATURES.index(name) for name in selector["features"]]
    scores = x[..., columns] @ np.asarray(selector["weights"], dtype=np.float64)  # (N, T)
    index = np.argmax(scores, axis=1)
    clocks = np.arange(minutes.shape[1])
    turns = np.asarray(selector["turns"])
    return minutes[index, clocks], confidence[index, clocks], turns[index]


def load(path):
    """The selector in ``path`` (a ``turns.json``), checked."""
    path = pathlib.Path(path)
    try:
        selector = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise errors.ZooError(f"cannot read the turn selector {path}: {error}") from None
    return check(selector, str(path))


def save(selector, path):
    """Write ``selector`` to ``path`` atomically, once checked."""
    from zoo.common import files

    files.write_json(path, check(selector))
    return pathlib.Path(path)
