"""Classifying images: an argmax classifier's onnxruntime session, in batches.

numpy, Pillow and onnxruntime only. The card's ``decode`` names the output (``probabilities``)
and the classes (``class_names``); its ``preprocessing`` says how to read an image,
including the ``polarity`` of the MNIST sets (:func:`serve.images.match_polarity`).
"""

import numpy as np

from serve import predict
from zoo import errors


def class_names(model):
    """The card's class names (``decode.class_names``), or the class indices as text."""
    names = model.decode.get("class_names")
    if names is None:
        outputs = {item.get("name"): item for item in model.card.get("outputs") or []}
        shape = outputs.get(model.decode.get("output", "probabilities"), {}).get("shape") or [None]
        return [str(index) for index in range(shape[-1] or 0)]
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        raise errors.ZooError(f"{model.name}'s card has class_names that are not a list of strings")
    return names


def check_top(top, model, option="--top"):
    """Refuse a ``top`` outside 1 to the number of classes, in one line."""
    count = len(class_names(model))
    if not 1 <= top <= max(count, 1):
        raise errors.ZooError(f"{option} must be between 1 and {count} (the classes of {model.name}); received {top}")
    return top


def ranked(probabilities, names, top):
    """One image's answer: the most probable class, its index and probability, and the
    ``top`` most probable classes, most probable first.

    Example:
        >>> ranked(np.array([0.1, 0.7, 0.2]), ["a", "b", "c"], 2)["top"]
        [{'class': 'b', 'index': 1, 'probability': 0.7}, {'class': 'c', 'index': 2, 'probability': 0.2}]
    """
    order = np.argsort(-probabilities, kind="stable")[:top]
    best = [{"class": names[index], "index": int(index), "probability": round(float(probabilities[index]), 4)}
            for index in order]
    return {**best[0], "top": best}


def probabilities_of(session, model, batch):
    """The decode output of a float32 NHWC batch, checked against the class names: (N, classes)."""
    output = model.decode.get("output", "probabilities")
    outputs = predict.run_batch(session, model, batch)
    if output not in outputs:
        raise errors.ZooError(f"{model.name} has no output {output!r} (its card's decode.output); "
                              f"it has {sorted(outputs)}")
    probabilities = np.asarray(outputs[output], dtype=np.float64).reshape(len(batch), -1)
    count = len(class_names(model))
    if probabilities.shape[1] != count:
        raise errors.ZooError(f"{model.name}'s output {output!r} has {probabilities.shape[1]} classes but its card "
                              f"names {count}")
    return probabilities


def classify(session, model, items, batch_size=32, progress=None, top=1):
    """Classify every item, in order, ``batch_size`` images per session run.

    Args:
        session: the classifier's onnxruntime session.
        model: its :class:`serve.models.ServedModel` (decode kind ``argmax``).
        items: :class:`serve.images.Item` list (from :func:`serve.images.expand_inputs`).
        batch_size: images per session run.
        progress: optional callable, called with the number of items done after each one.
        top: how many classes each answer ranks.

    Yields:
        ``(item, result)``: result is :func:`ranked`'s dict, or ``{"error": message}``.

    Example:
        >>> for item, result in classify(session, model, expand_inputs(["seven.png"])):  # doctest: +SKIP
        ...     print(item.name, result["class"])
        seven.png 7
    """
    names = class_names(model)
    check_top(top, model)

    def answer(batch):
        return [ranked(row, names, top) for row in probabilities_of(session, model, batch)]

    yield from predict.answer_in_batches(model, items, answer, batch_size, progress)
