"""The report's two network builders, shared by the VAE and the GAN.

They are the course notebook's functions, kept with its defaults:
:func:`build_conv_net` (five stride-2 3x3 convolutions of ``filters`` channels, then
a Dense layer) and :func:`build_deconv_net` (Dense to 4x4x64, four stride-2 3x3
transposed convolutions of ``filters`` channels, a 3x3 convolution to RGB).
``Conv2DTranspose`` rather than ``UpSampling2D``, whose gradient does not compile
under XLA. Layer names are part of saved runs and exported cards: keep them.
"""

import math

import keras

from zoo import errors


def _strided_layers(image_size):
    """How many stride-2 layers link ``image_size`` to the 2x2 (encoder) or 4x4 (decoder) grid."""
    layers = math.log2(image_size / 4) if image_size >= 8 else -1
    if layers < 1 or layers != int(layers):
        raise errors.ZooError(
            f"image_size must be 4 times a power of two (8, 16, 32, 64, 128...); received {image_size}"
        )
    return int(layers)


def _activation(name, label):
    if name == "leaky_relu":
        return keras.layers.LeakyReLU(negative_slope=0.2, name=label)
    return keras.layers.Activation(name, name=label)


def build_conv_net(
    in_shape, out_shape, filters, conv_layers=None, kernel_size=3, activation="relu", batch_norm=False,
    out_activation="sigmoid", taper=False, name="conv_net", input_name="image",
):
    """The report's convolutional network: stride-2 convolutions of ``filters``
    channels, Flatten, one Dense layer.

    With the defaults this is the course notebook's ``build_conv_net``: a first 3x3
    stride-2 ReLU convolution plus its ``n_downsampling_layers=4`` more (64x64 -> 2x2),
    then ``Dense(out_shape, activation="sigmoid")``.

    Args:
        in_shape: (H, W, C) of the input images.
        out_shape: units of the final Dense layer (1 for a discriminator, 2 x latent
            size for an encoder).
        filters: channels of every convolution.
        conv_layers: number of stride-2 convolutions; ``log2(H) - 1`` (down to 2x2) if None.
        kernel_size: the convolutions' kernel size.
        activation: ``relu`` (the report), ``leaky_relu`` (slope 0.2, DCGAN's
            discriminator) or any Keras activation name.
        batch_norm: batch normalisation after every convolution but the first (DCGAN).
        out_activation: the Dense layer's activation; None for logits.
        taper: DCGAN's channel layout instead of the report's constant width:
            ``filters`` at full resolution, doubling with every halving, at most 8x.
        name: the model's name.
        input_name: the input tensor's name.

    Returns:
        A Functional ``keras.Model`` from images to a (batch, out_shape) tensor.

    Example:
        >>> build_conv_net((64, 64, 3), 1, filters=64, out_activation=None).output.shape
        (None, 1)
    """
    conv_layers = conv_layers or _strided_layers(in_shape[0]) + 1
    inputs = keras.Input(shape=tuple(in_shape), name=input_name)
    x = inputs
    for index in range(1, conv_layers + 1):
        width = filters * min(2 ** (index - 1), 8) if taper else filters
        x = keras.layers.Conv2D(
            width, kernel_size, strides=2, padding="same", use_bias=not (batch_norm and index > 1),
            name=f"{name}_conv{index}",
        )(x)
        if batch_norm and index > 1:
            x = keras.layers.BatchNormalization(name=f"{name}_bn{index}")(x)
        x = _activation(activation, f"{name}_act{index}")(x)
    x = keras.layers.Flatten(name=f"{name}_flatten")(x)
    outputs = keras.layers.Dense(out_shape, activation=out_activation, name=f"{name}_dense")(x)
    return keras.Model(inputs, outputs, name=name)


def build_deconv_net(
    latent_dim, filters, image_size=64, kernel_size=3, activation="relu", batch_norm=False,
    out_activation="sigmoid", taper=False, batch_norm_momentum=0.9, channels=3, name="deconv_net",
):
    """The report's deconvolutional network, as an image generator: z -> {"image"}.

    With the defaults this is the course notebook's ``build_deconv_net``: Dense to
    4x4x64, four 3x3 stride-2 ``Conv2DTranspose`` ReLU layers of ``filters`` channels
    (4x4 -> 64x64), a 3x3 convolution to RGB with ``out_activation``. A ``tanh``
    output (the GAN convention) is mapped to [0, 1] by (x + 1) / 2 inside the
    network, so the output is always an image in [0, 1].

    Args:
        latent_dim: size of the input vector ``z``.
        filters: channels of every transposed convolution.
        image_size: output side, 4 times a power of two (one upsampling per doubling).
        kernel_size: the transposed convolutions' kernel size (4 avoids the
            checkerboard of uneven overlaps that 3 leaves with stride 2).
        activation: ``relu`` (the report) or another activation (see
            :func:`build_conv_net`).
        batch_norm: batch normalisation after the Dense and every transposed
            convolution (DCGAN's generator).
        out_activation: ``sigmoid`` (VAE) or ``tanh`` (GAN).
        taper: DCGAN's channel layout instead of the report's constant width: the
            Dense layer gives 4x4x(8 filters), and each upsampling halves the
            channels down to ``filters`` at full resolution (most capacity where the
            maps are small, so it is cheaper than the report's layout at equal
            ``filters``).
        batch_norm_momentum: the moving statistics' momentum; 0.9 (PyTorch's 0.1)
            tracks the weights closely enough that inference-mode samples early in
            training look like the training-mode ones.
        channels: output channels.
        name: the model's name.

    Returns:
        A Functional ``keras.Model`` with input ``z`` and output ``{"image": float32
        (batch, image_size, image_size, channels) in [0, 1]}``; no random ops.

    Example:
        >>> build_deconv_net(32, filters=8).output["image"].shape
        (None, 64, 64, 3)
    """
    if out_activation not in ("sigmoid", "tanh"):
        raise ValueError(f"out_activation must be sigmoid or tanh; received {out_activation!r}")
    upsampling_layers = _strided_layers(image_size)
    widths = [filters * min(2 ** (upsampling_layers - index), 8) if taper else filters
              for index in range(1, upsampling_layers + 1)]
    start = 2 * widths[0] if taper else 64
    inputs = keras.Input(shape=(latent_dim,), name="z")
    x = keras.layers.Dense(4 * 4 * start, use_bias=not batch_norm, name=f"{name}_dense")(inputs)
    x = keras.layers.Reshape((4, 4, start), name=f"{name}_reshape")(x)
    if batch_norm:
        x = keras.layers.BatchNormalization(momentum=batch_norm_momentum, name=f"{name}_bn0")(x)
        x = _activation(activation, f"{name}_act0")(x)
    for index, width in enumerate(widths, start=1):
        x = keras.layers.Conv2DTranspose(
            width, kernel_size, strides=2, padding="same", use_bias=not batch_norm, name=f"{name}_deconv{index}",
        )(x)
        if batch_norm:
            x = keras.layers.BatchNormalization(momentum=batch_norm_momentum, name=f"{name}_bn{index}")(x)
        x = _activation(activation, f"{name}_act{index}")(x)
    x = keras.layers.Conv2D(channels, 3, padding="same", activation=out_activation, name=f"{name}_to_rgb")(x)
    if out_activation == "tanh":
        x = keras.layers.Rescaling(0.5, offset=0.5, name=f"{name}_to_unit_range")(x)
    image = keras.layers.Identity(name="image")(x)
    return keras.Model(inputs, {"image": image}, name=name)
