"""Task 1 of the report: image classifiers on MNIST, Fashion-MNIST and CIFAR-10.

Three architectures, each registered once per dataset:

- ``*_mlp``: the report's MLP (keras-team's mnist_mlp example): Dense 512, Dropout 0.2,
  Dense 512, Dropout 0.2, Dense 10 softmax; RMSprop; batch 128; 12 epochs.
- ``*_cnn``: the report's CNN (keras-team's mnist_cnn example): Conv 32, Conv 64,
  MaxPool, Dropout 0.25, Flatten, Dense 128, Dropout 0.5, Dense 10; Adadelta at
  Keras' default learning rate 0.001 (the tf.keras default the report ran with,
  which is what makes its 12-epoch accuracy 0.8464); batch 128; 12 epochs.
- a stronger CNN per dataset, beyond the report: ``mnist_bncnn`` and
  ``fashion_mnist_bncnn`` (batch norm, augmentation in the input pipeline, a one-cycle
  learning rate, label smoothing, test-time flips for Fashion-MNIST) and
  ``cifar10_airbench`` (airbench94's network and training: frozen patch-whitening
  convolution, identity-initialised convolutions, fast batch-norm biases, Nesterov SGD
  on a triangular schedule, label smoothing, flips and translations, test-time flips
  and shifts).

Every model takes float32 pixels in [0, 255] and rescales inside its graph, so an
exported model needs no arithmetic preprocessing outside it.
"""

import functools

import keras
import numpy as np

from zoo import blocks, datasets, registry


def classification_data(entry, config, path=None, seed=42, limit=None, arrays=None):
    """The entry's dataset as :class:`zoo.datasets.Splits`, augmented per its fit settings.

    ``arrays`` (:class:`zoo.datasets.Arrays`) skips loading: a search that rebuilds
    the pipelines for every trial (each with its own batch size) reads the files once.
    """
    if arrays is None:
        arrays = datasets.load(entry.dataset, path)
    augment = blocks.augmenter(
        translate=config.get("translate", 0.0),
        rotate_degrees=config.get("rotate_degrees", 0.0),
        zoom=config.get("zoom", 0.0),
        flip=config.get("flip", False),
        fill=config.get("fill", "constant"),
        seed=seed,
    )
    return datasets.classification_splits(arrays, config["batch_size"], seed=seed, augment=augment, limit=limit)


def describe_classifier(entry, config):
    """The model card's ``decode``: the class is the argmax of ``probabilities``.

    Its ``preprocessing``: a picture of another shape is cropped to its centred square
    before it is resized (the sets' pictures are square and centred, and squashing
    would distort them). MNIST and Fashion-MNIST are light figures on black, so their
    cards also say ``polarity: light_on_dark``: serve inverts a picture drawn dark on
    light (a digit on white paper) before classifying it.
    """
    described = {
        "kind": "argmax",
        "output": "probabilities",
        "class_names": list(datasets.info_of(entry.dataset).class_names),
        "preprocessing": {"crop": "center_square"},
    }
    if entry.dataset in ("mnist", "fashion_mnist"):
        described["preprocessing"]["polarity"] = "light_on_dark"
    return described


def _compile(model, optimizer, label_smoothing=0.0):
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=label_smoothing),
        metrics=["accuracy"],
    )
    return model


def report_mlp(
    name, input_shape, num_classes, units=512, dropout_rate=0.2, optimizer="rmsprop",
    activation="relu", initializer="glorot_uniform", regularizer="dropout", weight_decay=1e-4,
    learning_rate=1e-3, momentum=0.0, epsilon=1e-7, nesterov=False,
):
    """The report's MLP: two Dense layers of 512 with dropout, softmax output.

    ``regularizer`` picks the report's regularisation: ``dropout`` (the default
    architecture), ``l1``/``l2``/``l1_l2`` weight penalties of ``weight_decay`` in place
    of dropout, or ``none``.
    """
    penalty = blocks.regularizer(regularizer, weight_decay)
    inputs = keras.Input(shape=input_shape, name="image")
    x = keras.layers.Rescaling(1.0 / 255, name="rescale")(inputs)
    x = keras.layers.Flatten(name="flatten")(x)
    for index in (1, 2):
        x = keras.layers.Dense(
            units, activation=blocks.activation(activation), kernel_initializer=blocks.initializer(initializer),
            kernel_regularizer=penalty, name=f"dense{index}",
        )(x)
        if regularizer == "dropout":
            x = keras.layers.Dropout(dropout_rate, name=f"dropout{index}")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="probabilities")(x)
    model = keras.Model(inputs, {"probabilities": outputs}, name=name)
    return _compile(model, blocks.optimizer(optimizer, learning_rate, momentum, epsilon, nesterov))


def report_cnn(
    name, input_shape, num_classes, filters=32, dense_units=128, dropout_rate=0.25, dense_dropout_rate=0.5,
    optimizer="adadelta", activation="relu", initializer="glorot_uniform", regularizer="dropout",
    weight_decay=1e-4, learning_rate=1e-3, momentum=0.0, epsilon=1e-7, nesterov=False,
):
    """The report's CNN: Conv 32, Conv 64, MaxPool, Dropout, Dense 128, Dropout, softmax."""
    penalty = blocks.regularizer(regularizer, weight_decay)
    conv = functools.partial(
        keras.layers.Conv2D, kernel_size=3, activation=blocks.activation(activation),
        kernel_initializer=blocks.initializer(initializer), kernel_regularizer=penalty,
    )
    inputs = keras.Input(shape=input_shape, name="image")
    x = keras.layers.Rescaling(1.0 / 255, name="rescale")(inputs)
    x = conv(filters, name="conv1")(x)
    x = conv(filters * 2, name="conv2")(x)
    x = keras.layers.MaxPooling2D(2, name="pool")(x)
    if regularizer == "dropout":
        x = keras.layers.Dropout(dropout_rate, name="dropout1")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(
        dense_units, activation=blocks.activation(activation), kernel_initializer=blocks.initializer(initializer),
        kernel_regularizer=penalty, name="dense",
    )(x)
    if regularizer == "dropout":
        x = keras.layers.Dropout(dense_dropout_rate, name="dropout2")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="probabilities")(x)
    model = keras.Model(inputs, {"probabilities": outputs}, name=name)
    return _compile(model, blocks.optimizer(optimizer, learning_rate, momentum, epsilon, nesterov))


def bncnn(
    name, input_shape, num_classes, width=32, dropout_rate=0.2, label_smoothing=0.1,
    learning_rate=2e-3, weight_decay=5e-4,
):
    """A stronger small CNN: three stages of Conv-BN-ReLU (width, 2x, 4x), global
    average pooling, dropout, softmax; AdamW with label smoothing.

    Trained with augmentation in the input pipeline and a one-cycle schedule.
    """
    inputs = keras.Input(shape=input_shape, name="image")
    x = keras.layers.Rescaling(1.0 / 255, name="rescale")(inputs)
    for stage, (filters, repeats) in enumerate(((width, 2), (width * 2, 2), (width * 4, 1)), start=1):
        for repeat in range(1, repeats + 1):
            x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"conv{stage}_{repeat}")(x)
            x = keras.layers.BatchNormalization(name=f"bn{stage}_{repeat}")(x)
            x = keras.layers.ReLU(name=f"relu{stage}_{repeat}")(x)
        if stage < 3:
            x = keras.layers.MaxPooling2D(2, name=f"pool{stage}")(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    x = keras.layers.Dropout(dropout_rate, name="dropout")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="probabilities")(x)
    model = keras.Model(inputs, {"probabilities": outputs}, name=name)
    return _compile(model, blocks.optimizer("adamw", learning_rate, weight_decay=weight_decay), label_smoothing)


@keras.saving.register_keras_serializable(package="zoo")
class PatchWhitening(keras.layers.Layer):
    """A frozen 2x2 convolution that whitens image patches (airbench's first layer).

    Its filters are the eigenvectors of the training set's patch covariance scaled
    by the inverse square root of their eigenvalues, in both signs, and its bias
    starts where it centres the whitened patches; :meth:`adapt` sets them from
    training images before training starts, like Keras' ``Normalization.adapt``.
    The bias trains, the filters do not. Both are saved with the model, so an exported
    model whitens exactly as in training.
    """

    def __init__(self, patch_size=2, epsilon=5e-4, **kwargs):
        super().__init__(**kwargs)
        self.patch_size = patch_size
        self.epsilon = epsilon

    def build(self, input_shape):
        channels = input_shape[-1]
        dimension = self.patch_size * self.patch_size * channels
        self.kernel = self.add_weight(
            name="kernel", shape=(self.patch_size, self.patch_size, channels, 2 * dimension),
            initializer="glorot_uniform", trainable=False,
        )
        self.bias = self.add_weight(name="bias", shape=(2 * dimension,), initializer="zeros", trainable=True)
        self.adapted = self.add_weight(name="adapted", shape=(), initializer="zeros", trainable=False)

    def adapt(self, images, sample=5000, seed=0):
        """Set the filters and bias from ``images`` (float (N, H, W, C), scaled as the layer sees them).

        ``epsilon`` is relative to the patches' mean variance, so it regularises the
        same whatever the pixels' scale (airbench's 5e-4 is for standardised pixels).
        """
        images = np.asarray(images, dtype=np.float64)
        rng = np.random.default_rng(seed)
        images = images[rng.permutation(len(images))[:sample]]
        size = self.patch_size
        height, width, channels = images.shape[1:]
        patches = np.stack(
            [images[:, i:height - size + 1 + i, j:width - size + 1 + j, :] for i in range(size) for j in range(size)],
            axis=3,
        ).reshape(-1, size, size, channels).reshape(-1, size * size * channels)
        mean = patches.mean(axis=0)
        patches = patches - mean
        covariance = patches.T @ patches / len(patches)
        eigenvalues, eigenvectors = np.linalg.eigh(covariance)
        filters = eigenvectors / np.sqrt(eigenvalues + self.epsilon * np.trace(covariance) / len(covariance))
        filters = np.concatenate([filters, -filters], axis=1)
        self.kernel.assign(filters.reshape(size, size, channels, -1).astype("float32"))
        self.bias.assign((-mean @ filters).astype("float32"))
        self.adapted.assign(1.0)

    @property
    def is_adapted(self):
        return bool(keras.ops.convert_to_numpy(self.adapted) > 0)

    def call(self, inputs):
        return keras.ops.conv(inputs, keras.ops.cast(self.kernel, inputs.dtype), padding="valid") + \
            keras.ops.cast(self.bias, inputs.dtype)

    def get_config(self):
        return {**super().get_config(), "patch_size": self.patch_size, "epsilon": self.epsilon}


@keras.saving.register_keras_serializable(package="zoo")
class PartialIdentity(keras.initializers.Initializer):
    """A convolution kernel that starts as the identity on its first input-many filters
    (PyTorch's ``dirac_``) and uniform in +-1/sqrt(fan_in) on the rest (PyTorch's
    default): each block starts as an implicit residual, which airbench found trains
    in fewer epochs."""

    def __call__(self, shape, dtype=None):
        height, width, inputs, outputs = shape
        bound = 1.0 / np.sqrt(height * width * inputs)
        kernel = keras.initializers.RandomUniform(-bound, bound)(shape, dtype=dtype)
        identity = np.zeros(shape, dtype="float32")
        mask = np.ones(shape, dtype="float32")
        for channel in range(min(inputs, outputs)):
            mask[..., channel] = 0.0
            identity[height // 2, width // 2, channel, channel] = 1.0
        return (kernel * keras.ops.convert_to_tensor(mask, dtype=dtype)
                + keras.ops.convert_to_tensor(identity, dtype=dtype))


@keras.saving.register_keras_serializable(package="zoo")
def gelu(x):
    """The exact GELU, written with erf: Keras' own computes it with erfc on TensorFlow,
    which tf2onnx cannot convert (ONNX has Erf, no Erfc); the values are the same."""
    return 0.5 * x * (1.0 + keras.ops.erf(x * 0.7071067811865476))


@keras.saving.register_keras_serializable(package="zoo")
class ScaledBias(keras.layers.Layer):
    """``x + scale * bias``: with plain SGD this trains the bias at ``scale**2`` times the
    learning rate (airbench trains batch-norm biases 64 times faster), without an
    optimiser of its own."""

    def __init__(self, scale=8.0, **kwargs):
        super().__init__(**kwargs)
        self.scale = scale

    def build(self, input_shape):
        self.bias = self.add_weight(name="bias", shape=(input_shape[-1],), initializer="zeros")

    def call(self, inputs):
        return inputs + keras.ops.cast(self.scale * self.bias, inputs.dtype)

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}


def airbench(
    name, input_shape, num_classes, widths=(64, 256, 256), label_smoothing=0.2, learning_rate=1.3, momentum=0.85,
    weight_decay=0.0118, bias_scale=8.0, batchnorm_momentum=0.9,
):
    """A CIFAR-10 speed-run network after airbench94: patch whitening, three conv
    groups (Conv-MaxPool-BN-GELU-Conv-BN-GELU, kernels starting as partial identities,
    batch norm without a scale and with fast biases), global max pooling, a scaled
    linear head; Nesterov SGD with decoupled weight decay and label smoothing.

    Trained with flips and 2-pixel reflected translations on a triangular
    learning-rate schedule, and scored with test-time flips and shifts as well.
    airbench's rates are per summed loss over 1,024 examples; these are for Keras'
    mean loss (learning rate x1,024 / (1 + 1 / (1 - momentum)), weight decay per step
    divided by the learning rate).
    """
    inputs = keras.Input(shape=input_shape, name="image")
    x = keras.layers.Rescaling(1.0 / 255, name="rescale")(inputs)
    x = PatchWhitening(name="whiten")(x)
    x = keras.layers.Activation(gelu, name="whiten_gelu")(x)

    def norm_act(x, label):
        x = keras.layers.BatchNormalization(momentum=batchnorm_momentum, epsilon=1e-5, center=False, scale=False,
                                            name=f"bn{label}")(x)
        x = ScaledBias(bias_scale, name=f"bias{label}")(x)
        return keras.layers.Activation(gelu, name=f"gelu{label}")(x)

    for group, filters in enumerate(widths, start=1):
        conv = functools.partial(keras.layers.Conv2D, filters, 3, padding="same", use_bias=False,
                                 kernel_initializer=PartialIdentity())
        x = conv(name=f"conv{group}a")(x)
        x = keras.layers.MaxPooling2D(2, name=f"pool{group}")(x)
        x = norm_act(x, f"{group}a")
        x = conv(name=f"conv{group}b")(x)
        x = norm_act(x, f"{group}b")
    x = keras.layers.GlobalMaxPooling2D(name="pool")(x)
    logits = keras.layers.Dense(num_classes, use_bias=False, name="logits")(x)
    # airbench scales the logits down (1/9): large logits early in training hurt.
    logits = keras.layers.Rescaling(1.0 / 9, name="logit_scale")(logits)
    outputs = keras.layers.Softmax(name="probabilities", dtype="float32")(logits)
    model = keras.Model(inputs, {"probabilities": outputs}, name=name)
    sgd = blocks.optimizer("sgd", learning_rate, momentum=momentum, nesterov=True, weight_decay=weight_decay)
    return _compile(model, sgd, label_smoothing)


def _register_all():
    """Register the report's MLP and CNN for each dataset, and one strong CNN per dataset."""
    for dataset in ("mnist", "fashion_mnist", "cifar10"):
        info = datasets.info_of(dataset)
        constants = dict(input_shape=info.shape, num_classes=len(info.class_names))
        common = dict(
            task="classification", dataset=dataset, data=classification_data, evaluate=blocks.evaluate_classifier,
            constants=constants, describe=describe_classifier,
        )
        # The report trained without augmentation or a schedule; these fit settings
        # default to that and are there to be tuned (flips only where they keep the class).
        fit = dict(epochs=12, batch_size=128, schedule="constant", translate=0.0)
        if dataset == "cifar10":
            fit["flip"] = False
        registry.register(
            name=f"{dataset}_mlp",
            fit=dict(fit),
            space=report_space,
            tiny=dict(units=16),
            **common,
        )(report_mlp)
        registry.register(
            name=f"{dataset}_cnn",
            fit=dict(fit),
            space=report_space,
            tiny=dict(filters=4, dense_units=8),
            **common,
        )(report_cnn)
    mnist = datasets.info_of("mnist")
    registry.register(
        name="mnist_bncnn", task="classification", dataset="mnist", data=classification_data,
        evaluate=blocks.evaluate_classifier, describe=describe_classifier,
        constants=dict(input_shape=mnist.shape, num_classes=10),
        fit=dict(epochs=12, batch_size=128, schedule="onecycle", translate=0.1, rotate_degrees=10.0, zoom=0.1),
        space=lambda hp: dict(
            width=hp.Choice("width", [16, 32, 48]),
            learning_rate=hp.Float("learning_rate", 5e-4, 5e-3, sampling="log"),
            label_smoothing=hp.Choice("label_smoothing", [0.0, 0.1]),
        ),
        tiny=dict(width=4),
    )(bncnn)
    fashion = datasets.info_of("fashion_mnist")
    registry.register(
        name="fashion_mnist_bncnn", task="classification", dataset="fashion_mnist", data=classification_data,
        evaluate=blocks.evaluate_classifier, describe=describe_classifier,
        constants=dict(input_shape=fashion.shape, num_classes=10),
        defaults=dict(width=48, dropout_rate=0.3),  # the harder set gets a wider, more regularised net
        fit=dict(epochs=15, batch_size=128, schedule="onecycle", translate=0.08, flip=True, tta_flip=True),
        space=lambda hp: dict(
            width=hp.Choice("width", [32, 48, 64]),
            learning_rate=hp.Float("learning_rate", 5e-4, 5e-3, sampling="log"),
            dropout_rate=hp.Choice("dropout_rate", [0.2, 0.3, 0.4]),
        ),
        tiny=dict(width=4),
    )(bncnn)
    cifar = datasets.info_of("cifar10")
    registry.register(
        name="cifar10_airbench", task="classification", dataset="cifar10", data=classification_data,
        evaluate=blocks.evaluate_classifier, describe=describe_classifier,
        constants=dict(input_shape=cifar.shape, num_classes=10),
        fit=dict(epochs=12, batch_size=1024, schedule="triangular", translate=0.0625, fill="reflect", flip=True,
                 tta_flip=True, tta_translate=True),
        space=lambda hp: dict(
            learning_rate=hp.Float("learning_rate", 0.4, 4.0, sampling="log"),
            label_smoothing=hp.Choice("label_smoothing", [0.1, 0.2]),
        ),
        tiny=dict(widths=(4, 8, 8)),
    )(airbench)


def report_space(hp):
    """The report's joint hyperparameter grid, with conditional momentum, Nesterov
    and epsilon.

    Each value exists only where it changes training, so that KerasTuner never trains
    two equivalent configurations: momentum for SGD and RMSprop, Nesterov for SGD
    with momentum (Keras' SGD ignores it at momentum 0), epsilon for the adaptive
    optimisers. A KerasTuner condition can only name a hyperparameter declared in
    the same scope, so SGD's and RMSprop's momenta are two hyperparameters that both
    set the builder's ``momentum``. 66 configurations: SGD 18, RMSprop 24, Adam 12,
    Adadelta 12.
    """
    optimizer = hp.Choice("optimizer", ["sgd", "rmsprop", "adam", "adadelta"])
    chosen = dict(optimizer=optimizer, learning_rate=hp.Choice("learning_rate", [0.1, 0.01, 0.001]))
    with hp.conditional_scope("optimizer", ["sgd"]):
        sgd_momentum = hp.Choice("sgd_momentum", [0.0, 0.9])
        with hp.conditional_scope("sgd_momentum", [0.9]):
            nesterov = hp.Boolean("nesterov")
    with hp.conditional_scope("optimizer", ["rmsprop"]):
        rmsprop_momentum = hp.Choice("rmsprop_momentum", [0.0, 0.9])
    chosen["momentum"] = sgd_momentum if sgd_momentum is not None else rmsprop_momentum
    chosen["nesterov"] = nesterov
    with hp.conditional_scope("optimizer", ["rmsprop", "adam", "adadelta"]):
        chosen["epsilon"] = hp.Choice("epsilon", [1e-4, 1e-8])
    chosen["batch_size"] = hp.Choice("batch_size", [64, 128])
    return chosen


_register_all()
