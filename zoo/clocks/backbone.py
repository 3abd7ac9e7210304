"""Building blocks the clock readers share: the image input and the strided BN-ReLU backbone."""

import keras

def image_input(image_size):
    inputs = keras.Input(shape=(image_size, image_size, 1), name="image")
    return inputs, keras.layers.Rescaling(1.0 / 255, name="rescale")(inputs)


def conv_bn_relu(x, filters, strides, label, kernel=3):
    """Conv (no bias) -> BatchNorm -> ReLU, its layers named ``label``, ``label_bn``, ``label_relu``."""
    x = keras.layers.Conv2D(filters, kernel, strides=strides, padding="same", use_bias=False, name=label)(x)
    x = keras.layers.BatchNormalization(name=f"{label}_bn")(x)
    return keras.layers.ReLU(name=f"{label}_relu")(x)


def strided_stages(x, width, stem, stage, with_stem=False):
    """The clock readers' backbone: a 5x5 stride-2 stem, then three stages of a stride-2
    and a stride-1 Conv-BN-ReLU (width 2x, 4x, 16/3x). Layers are named ``stem`` and
    ``{stage}{n}_down`` / ``{stage}{n}_conv``.

    Returns:
        The three stages' outputs, finest first (after the stem's, with ``with_stem``).
    """
    x = conv_bn_relu(x, width, 2, stem, kernel=5)
    features = [x] if with_stem else []
    for number, filters in enumerate((width * 2, width * 4, width * 16 // 3), start=1):
        x = conv_bn_relu(x, filters, 2, f"{stage}{number}_down")
        x = conv_bn_relu(x, filters, 1, f"{stage}{number}_conv")
        features.append(x)
    return features

