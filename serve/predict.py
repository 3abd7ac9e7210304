"""Reading the time: images through a clock reader's onnxruntime session, in batches.

numpy, Pillow and onnxruntime only; the outputs are decoded as the model's card says,
with :func:`zoo.common.decoding.decode_outputs`.
"""

import numpy as np

from serve import images as imaging
from serve import locate
from serve.models import run_batch, run_session  # noqa: F401 (predict.run_batch for callers)
from zoo import errors
from zoo.common import clocktime, decoding


def format_time(hour, minute):
    """``HH:MM`` on a 12-hour dial, hour 0 shown as 12.

    Example:
        >>> format_time(0, 5), format_time(3, 15)
        ('12:05', '03:15')
    """
    return f"{12 if hour == 0 else hour:02d}:{minute:02d}"


def reading(minutes, confidence, turn=None):
    """The answer for one image: time string, hour (1-12), minute, confidence, whether
    the reader is sure (confidence at or above 0.5: with a calibrated card, readings
    it is sure of were within 5 minutes at least 90% of the time), minutes past
    12:00; with ``turn``, the quarter turns (counter-clockwise) of the reading kept."""
    from zoo.common import confidence as calibration

    hour, minute = clocktime.from_minutes(float(minutes))
    answer = {
        "time": format_time(int(hour), int(minute)),
        "hour": 12 if hour == 0 else int(hour),
        "minute": int(minute),
        "confidence": round(float(confidence), 4),
        "sure": bool(confidence >= calibration.SURE_AT),
        "minutes": round(float(minutes), 2),
    }
    if turn is not None:
        answer["turn"] = int(turn)
    return answer


def check_modes(turns, find):
    """Refuse reading at four turns and finding the dial at once, in one line."""
    if turns and find:
        raise errors.ZooError("--find and --turns do not combine: a found dial is read as it stands")


def turn_selector(model):
    """The card's turn selector (``decode.turns``, from ``zoo fit-turns``), checked.

    Raises:
        ZooError: the model has none.
    """
    from zoo.common import turnvote

    selector = model.decode.get("turns")
    if selector is None:
        raise errors.ZooError(f"{model.name} has no turn selector in its card: "
                              "fit one with `zoo fit-turns --model RUN` and export the run again, "
                              "or read without --turns")
    return turnvote.check(selector, f"{model.name}'s card")


def read_turned(session, model, images, batch_size=32, selector=None):
    """:func:`read_arrays` at every quarter turn of the square images, one reading kept
    per image by ``selector`` (default: the card's).

    Returns:
        ``(minutes, confidence, turn)`` arrays (N,).
    """
    from zoo.common import turnvote

    selector = selector or turn_selector(model)
    minutes, confidence = turnvote.read_turned(lambda batch: read_arrays(session, model, batch, batch_size), images,
                                               selector["turns"])
    return turnvote.choose(selector, minutes, confidence)


def effective_preprocessing(card):
    """The card's ``preprocessing``, with ``crop``, ``color`` and ``polarity`` from its
    ``decode`` when the entry's ``describe`` put them there (flat keys beside ``kind``)
    rather than under ``preprocessing``: they come from the entry itself, so they win
    over the exporter's defaults."""
    preprocessing = dict(card.get("preprocessing") or {})
    decode = card.get("decode") or {}
    for key in ("crop", "color", "polarity"):
        if key in decode:
            preprocessing[key] = decode[key]
    return preprocessing


def read_arrays(session, model, images, batch_size=32):
    """Read the time of a float32 NHWC array, ``batch_size`` images per session run.

    Returns:
        ``(minutes, confidence)`` float arrays (N,), decoded as the card says.

    Raises:
        ZooError: the card's decode does not fit the model's outputs.
    """
    minutes, confidence = [], []
    for start in range(0, len(images), batch_size):
        try:
            read = decoding.decode_outputs(run_batch(session, model, images[start:start + batch_size]),
                                            model.card["decode"])
        except ValueError as error:
            raise errors.ZooError(f"cannot decode {model.name}'s outputs: {error}") from None
        minutes.append(read[0])
        confidence.append(read[1])
    return np.concatenate(minutes), np.concatenate(confidence)


def _find_each(session, model, items, progress):
    """:func:`predict` with ``find``: each photo located and read on its own."""
    for item in items:
        if item.error is not None:
            result = {"error": item.error}
        else:
            try:
                with imaging.decoding(item.path):
                    image = imaging.open_image(item.path, item.name)
                    minutes, confidence, box = locate.find_and_read(session, model, image)
                    del image
                result = {**reading(minutes, confidence), "box": box}
            except imaging.ImageError as error:
                result = imaging.ErrorResult(error)
        yield item, result
        if progress is not None:
            progress(1)


def predict(session, model, items, batch_size=32, progress=None, turns=False, find=None):
    """Read the time of every item, in order, ``batch_size`` images per session run
    (:func:`answer_in_batches`).

    Args:
        session: the clock reader's onnxruntime session.
        model: its :class:`serve.models.ServedModel`.
        items: :class:`serve.images.Item` list (from :func:`serve.images.expand_inputs`).
        batch_size: images per session run.
        progress: optional callable, called with the number of items done after each one.
        turns: read each image at four quarter turns and keep the reading the card's
            turn selector chooses (:func:`read_turned`); the answers then say ``turn``.
        find: find the clock in each photo first (:mod:`serve.locate`); the answers
            then give its ``box`` [left, top, right, bottom] in the photo's pixels.
            None: find when the reader has a keypoint output and ``turns`` is off.

    Yields:
        ``(item, result)``: result is :func:`reading`'s dict, or ``{"error": message}``.

    Example:
        >>> for item, result in predict(session, model, expand_inputs(["clock.png"])):  # doctest: +SKIP
        ...     print(item.name, result["time"])
        clock.png 03:15
    """
    if find is None:
        find = not turns and locate.has_keypoints(model)
    if find:
        check_modes(turns, find)
        locate.keypoint_output(model)
        yield from _find_each(session, model, items, progress)
        return
    selector = turn_selector(model) if turns else None

    def answer(batch):
        if selector is None:
            minutes, confidence = read_arrays(session, model, batch, batch_size)
            kept = [None] * len(minutes)
        else:
            minutes, confidence, kept = read_turned(session, model, batch, batch_size, selector)
        return [reading(value, sure, turn) for value, sure, turn in zip(minutes, confidence, kept)]

    yield from answer_in_batches(model, items, answer, batch_size, progress)


def answer_in_batches(model, items, answer, batch_size=32, progress=None):
    """Decode the items as the model's card says, ``batch_size`` at a time, and answer them.

    Images are decoded batch by batch, so memory stays bounded for any number of
    files. A file that cannot be read gets an ``error`` and the others are answered.

    Args:
        model: the :class:`serve.models.ServedModel` whose card says how to read images.
        items: :class:`serve.images.Item` list.
        answer: ``answer(batch) -> [result dict]``, one per row of a float32 NHWC batch.
        batch_size: images per batch.
        progress: optional callable, called with the number of items done after each one.

    Yields:
        ``(item, result)`` in order: ``answer``'s dict, or ``{"error": message}``.
    """
    preprocessing = effective_preprocessing(model.card)
    imaging.check_preprocessing(preprocessing, channels=(model.card["inputs"][0].get("shape") or [None] * 4)[-1])
    for start in range(0, len(items), batch_size):
        chunk = items[start:start + batch_size]
        arrays, results = [], [None] * len(chunk)
        for index, item in enumerate(chunk):
            if item.error is not None:
                results[index] = {"error": item.error}
                continue
            try:
                arrays.append((index, imaging.load(item.path, preprocessing, item.name)))
            except imaging.ImageError as error:
                results[index] = imaging.ErrorResult(error)
        if arrays:
            batch = np.stack([array for _, array in arrays]).astype(np.float32, copy=False)
            for (index, _), result in zip(arrays, answer(batch)):
                results[index] = result
        for index, item in enumerate(chunk):
            yield item, results[index]
            if progress is not None:
                progress(1)
