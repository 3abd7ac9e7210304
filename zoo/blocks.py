"""Building blocks shared by the model families: optimisers, initialisers,
regularisers, augmentation and the generic classifier evaluation.

Everything here takes names and plain numbers (what a flat hyperparameter dict
holds) and returns Keras objects, so builders stay one screen long.
"""

import keras
import numpy as np

OPTIMIZERS = ("sgd", "rmsprop", "adam", "adadelta", "nadam", "adamw")
INITIALIZERS = (
    "zeros", "random_uniform", "random_normal", "glorot_uniform", "glorot_normal",
    "he_normal", "he_uniform", "lecun_normal", "orthogonal",
)
ACTIVATIONS = ("relu", "sigmoid", "tanh", "linear", "softmax", "elu", "gelu", "swish")
REGULARIZERS = ("none", "l1", "l2", "l1_l2", "dropout")


def _choice(argument, value, allowed):
    if value not in allowed:
        raise ValueError(f"{argument} must be one of {', '.join(allowed)}; received {value!r}")
    return value


def optimizer(name, learning_rate, momentum=0.0, epsilon=1e-7, nesterov=False, weight_decay=0.0, use_ema=False):
    """An optimiser by name, given only the settings it has.

    Momentum and Nesterov apply to SGD (and momentum to RMSprop); epsilon to the
    adaptive ones. Settings an optimiser lacks are ignored, which is why the tuning
    spaces make them conditional.

    Args:
        name: one of :data:`OPTIMIZERS`.
        learning_rate: the (peak) learning rate.
        momentum: SGD and RMSprop momentum.
        epsilon: the adaptive optimisers' epsilon.
        nesterov: Nesterov momentum for SGD.
        weight_decay: decoupled weight decay (AdamW, and SGD/Adam when non-zero).
        use_ema: keep an exponential moving average of the weights and use it at the
            end of training (weight averaging).

    Returns:
        A ``keras.optimizers.Optimizer``.

    Example:
        >>> optimizer("sgd", 0.1, momentum=0.9, nesterov=True)  # doctest: +ELLIPSIS
        <keras.src.optimizers.sgd.SGD object at ...>
    """
    _choice("optimizer", name, OPTIMIZERS)
    common = dict(learning_rate=learning_rate, use_ema=use_ema)
    if weight_decay and name != "adamw":
        common["weight_decay"] = weight_decay
    if name == "sgd":
        return keras.optimizers.SGD(momentum=momentum, nesterov=nesterov, **common)
    if name == "rmsprop":
        return keras.optimizers.RMSprop(momentum=momentum, epsilon=epsilon, **common)
    if name == "adam":
        return keras.optimizers.Adam(epsilon=epsilon, **common)
    if name == "adadelta":
        return keras.optimizers.Adadelta(epsilon=epsilon, **common)
    if name == "nadam":
        return keras.optimizers.Nadam(epsilon=epsilon, **common)
    return keras.optimizers.AdamW(epsilon=epsilon, weight_decay=weight_decay or 0.004, **common)


def initializer(name, seed=None):
    """A kernel initialiser by name (one of :data:`INITIALIZERS`)."""
    _choice("initializer", name, INITIALIZERS)
    config = {"seed": seed} if name != "zeros" else {}
    return keras.initializers.get({"class_name": name, "config": config})


def regularizer(name, factor):
    """A kernel regulariser for ``l1``, ``l2`` or ``l1_l2``; None for ``none``/``dropout``."""
    _choice("regularizer", name, REGULARIZERS)
    if name == "l1":
        return keras.regularizers.L1(factor)
    if name == "l2":
        return keras.regularizers.L2(factor)
    if name == "l1_l2":
        return keras.regularizers.L1L2(l1=factor, l2=factor)
    return None


def activation(name):
    """Check an activation's name (one of :data:`ACTIVATIONS`) and return it."""
    return _choice("activation", name, ACTIVATIONS)


def augmenter(translate=0.0, rotate_degrees=0.0, zoom=0.0, flip=False, fill="constant", seed=None):
    """A tf.data map function that augments float image batches.

    Keras' random preprocessing layers run inside the input pipeline, never inside
    the model, so augmentation cannot leak into an exported graph.

    Args:
        translate: largest shift as a fraction of height and width.
        rotate_degrees: largest rotation either way.
        zoom: largest zoom in or out as a fraction.
        flip: random horizontal flips.
        fill: what fills the pixels shifted in: ``constant`` (black, as around a
            digit) or ``reflect`` (the picture mirrored, for photos).
        seed: seed of the random layers.

    Returns:
        ``augment(images, labels) -> (images, labels)``, or None when nothing is on.
    """
    layers = []
    if flip:
        layers.append(keras.layers.RandomFlip("horizontal", seed=seed))
    if rotate_degrees:
        layers.append(keras.layers.RandomRotation(rotate_degrees / 360.0, fill_mode="constant", seed=seed))
    if zoom:
        layers.append(keras.layers.RandomZoom(zoom, fill_mode="constant", seed=seed))
    if translate:
        layers.append(keras.layers.RandomTranslation(translate, translate, fill_mode=fill, seed=seed))
    if not layers:
        return None
    pipeline = keras.Sequential(layers, name="augmentation")

    def augment(images, labels):
        return pipeline(images, training=True), labels

    return augment


def predict_probabilities(model, images, batch_size=512, flip=False, translate=False):
    """Class probabilities of ``model`` on uint8 ``images`` (N, H, W, C), with test-time
    augmentation: averaged with the mirrored images when ``flip``; with ``translate``,
    that average weighs one half against the mean of the images shifted one pixel up
    and left and one down and right (edges reflected), as airbench scores."""
    images = images.astype("float32")

    def predict(batch):
        outputs = model.predict(batch, batch_size=batch_size, verbose=0)
        outputs = outputs["probabilities"] if isinstance(outputs, dict) else outputs
        if flip:
            mirrored = model.predict(batch[:, :, ::-1], batch_size=batch_size, verbose=0)
            outputs = (outputs + (mirrored["probabilities"] if isinstance(mirrored, dict) else mirrored)) / 2
        return outputs

    probabilities = predict(images)
    if translate:
        padded = np.pad(images, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="reflect")
        height, width = images.shape[1:3]
        shifted = [predict(padded[:, top:top + height, left:left + width]) for top, left in ((0, 0), (2, 2))]
        probabilities = (probabilities + (shifted[0] + shifted[1]) / 2) / 2
    return probabilities


def evaluate_classifier(model, splits, config):
    """Test figures of a classifier: loss and accuracy, plus the accuracy with test-time
    flips (``tta_flip``) and with flips and shifts (``tta_translate``) when the entry's
    config asks for them. ``test_accuracy`` is the single pass an exported model gives.

    Returns:
        dict with ``test_loss``, ``test_accuracy`` and optionally ``test_accuracy_flip``
        and ``test_accuracy_tta``.
    """
    results = model.evaluate(splits.test, verbose=0, return_dict=True)
    metrics = {"test_loss": float(results["loss"]), "test_accuracy": float(results["accuracy"])}
    if splits.test_arrays is not None:
        images, labels = splits.test_arrays
        if config.get("tta_flip"):
            probabilities = predict_probabilities(model, images, flip=True)
            metrics["test_accuracy_flip"] = float(np.mean(probabilities.argmax(axis=1) == labels))
        if config.get("tta_translate"):
            probabilities = predict_probabilities(model, images, flip=bool(config.get("tta_flip")), translate=True)
            metrics["test_accuracy_tta"] = float(np.mean(probabilities.argmax(axis=1) == labels))
    return metrics
