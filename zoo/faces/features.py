"""The feature network behind the faces' Fréchet and kernel distances.

It is ``face_features``, a small CIFAR-10 classifier (the ``bncnn`` of
:mod:`zoo.classifiers`) the project trains itself, because Inception weights cannot
be downloaded here: ``zoo train face_features --data cifar10-jpg.zip --out
artifacts/face_features``; evaluation looks for it in ``$ZOO_FACE_FEATURES``, then
``artifacts/face_features``.
"""

import os
import pathlib

import keras
import numpy as np

from zoo import classifiers, errors

FEATURES_ENV = "ZOO_FACE_FEATURES"
FEATURES_DEFAULT = pathlib.Path("artifacts") / "face_features"


class FeatureNetwork:
    """Penultimate-layer features of a trained image classifier, for Fréchet/kernel distances.

    The classifier's input size rules: faces are resized to it (area averaging) and
    scaled to [0, 255], the pixels every zoo classifier takes. The features are the
    output of the layer named ``pool`` (global pooling in ``bncnn``) or else the input
    of the last Dense layer.
    """

    def __init__(self, model_dir):
        from zoo import training

        classifier, _ = training.load_run(model_dir)
        names = [layer.name for layer in classifier.layers]
        if "pool" in names:
            features = classifier.get_layer("pool").output
        else:
            dense = [layer for layer in classifier.layers if isinstance(layer, keras.layers.Dense)]
            if not dense:
                raise errors.ZooError(f"{model_dir}: no pooling or Dense layer to take features from")
            features = dense[-1].input
        self.network = keras.Model(classifier.inputs, features, name="features")
        self.input_size = tuple(int(size) for size in classifier.inputs[0].shape[1:3])
        self.channels = int(classifier.inputs[0].shape[-1])
        self.path = str(model_dir)

    def __call__(self, images, batch_size=500):
        import tensorflow as tf

        images = np.asarray(images)
        scaled = images.astype(np.float32) if images.dtype == np.uint8 else images.astype(np.float32) * 255.0
        outputs = []
        for start in range(0, len(scaled), batch_size):
            batch = tf.image.resize(scaled[start:start + batch_size], self.input_size, method="area")
            if self.channels == 1:
                batch = tf.image.rgb_to_grayscale(batch)
            outputs.append(np.asarray(self.network(batch, training=False), np.float64).reshape(len(batch), -1))
        return np.concatenate(outputs)


def feature_network_dir():
    """Where the feature network lives: ``$ZOO_FACE_FEATURES``, else ``artifacts/face_features``."""
    return pathlib.Path(os.environ.get(FEATURES_ENV) or FEATURES_DEFAULT)


def load_feature_network():
    """The trained feature network, or None when it has not been trained."""
    folder = feature_network_dir()
    if not (folder / "model.keras").exists():
        return None
    return FeatureNetwork(folder)


def face_features(name, input_shape, num_classes, width=32, dropout_rate=0.2, label_smoothing=0.1,
                  learning_rate=2e-3, weight_decay=5e-4):
    """A small CIFAR-10 classifier whose pooled features score generated faces.

    The ``bncnn`` of :mod:`zoo.classifiers` (three Conv-BN-ReLU stages, global
    average pooling named ``pool``): the Fréchet and kernel distances of
    ``face_gan``/``face_vae`` compare its 128 pooled features of real and generated
    faces (resized to 32x32), the role Inception plays in FID.
    """
    return classifiers.bncnn(
        name, input_shape, num_classes, width=width, dropout_rate=dropout_rate, label_smoothing=label_smoothing,
        learning_rate=learning_rate, weight_decay=weight_decay,
    )
