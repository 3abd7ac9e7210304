"""Task 3 of the report: a VAE and a GAN that generate 64x64 faces (CelebA).

Data. :func:`load_faces` reads CelebA's ``img_align_celeba/`` as a folder or inside
CelebA's own ``img_align_celeba.zip``, or any folder (or zip) of images: it crops
each image to the face, resizes it to ``image_size`` (64 by default) and caches the
decoded uint8 array as ``.npz`` under :func:`zoo.datasets.cache_dir`. Aligned CelebA
images are 178x218 with the eyes a little above the middle (y ~ 112); the face box
is the usual central 140x140 square, rows 40 to 180 (from the hairline to the chin,
most of the neck out); images of another size but CelebA's shape (the subset's
89x109 half-resolution faces) are cropped proportionally, and any other image to
its central square. 10% of the faces (at most 2,000) are held out, always the same
ones, to score the models.

Networks. The report builds both models from two functions of its course
notebook, kept here with its defaults: :func:`build_conv_net` (five stride-2 3x3
convolutions of ``filters`` channels, then a Dense layer) and
:func:`build_deconv_net` (Dense to 4x4x64, four stride-2 3x3 transposed convolutions
of ``filters`` channels, a 3x3 convolution to RGB). ``Conv2DTranspose`` rather than
``UpSampling2D``, whose gradient does not compile under XLA.

- ``face_vae``: encoder = conv net to a mean and a log-variance, decoder = deconv
  net with a sigmoid; loss = the negative ELBO per image, reconstruction
  (Bernoulli cross-entropy summed over pixels) + ``kl_weight`` x KL(q(z|x) || N(0, I)).
- ``face_gan``: DCGAN: generator = deconv net with a tanh, discriminator = conv net
  with one logit. Each discriminator step sees ``batch_size`` (128) real and 128
  generated images, the report's 256-image batch; see :class:`FaceGAN` for what
  keeps it stable.

Both subclass ``keras.Model`` only to carry ``train_step`` (keras-io's generative
examples); their sub-networks are Functional. The deterministic network, the
``decoder`` or the ``generator``, has one input ``z`` and one output ``image``,
float32 NHWC in [0, 1] (a tanh output is mapped to [0, 1] inside it), so it
exports to ONNX without random ops and serve samples ``z`` in numpy.

Looking and measuring. Each epoch writes ``samples/epoch_NNN.png`` (64 faces from
the same z every epoch), ``samples/interpolation_NNN.png`` (two pairs of endpoints,
each as a linear row then a spherical row) and, for the VAE,
``samples/reconstructions_NNN.png`` (held-out faces beside their reconstructions)
into the run folder; :func:`write_samples` (``zoo faces-sample``) draws them from a
trained run. :func:`evaluate_faces` scores the generated faces against held-out
real ones with ProGAN's sliced Wasserstein distance and, given the feature
network, a Fréchet and a kernel distance, each beside a floor and two ceilings
(see :func:`distance_report`).

The feature network is ``face_features``, a small CIFAR-10 classifier (the
``bncnn`` of :mod:`zoo.classifiers`) the project trains itself, because Inception
weights cannot be downloaded here: ``zoo train face_features --data cifar10-jpg.zip
--out artifacts/face_features``; evaluation looks for it in ``$ZOO_FACE_FEATURES``,
then ``artifacts/face_features``.
"""

import concurrent.futures
import dataclasses
import functools
import hashlib
import io
import math
import os
import pathlib

import keras
import numpy as np

from zoo import datasets, errors, imagemetrics, registry

# Aligned CelebA images are 178 wide and 218 high; the face box in those pixels.

from zoo.common import imagegrid
CELEBA_SIZE = (178, 218)
CELEBA_FACE_BOX = (19, 40, 140, 140)  # left, top, width, height
CROPS = ("auto", "celeba", "center", "none")
TEST_FRACTION = 0.1
MAX_TEST = 2000
FEATURES_ENV = "ZOO_FACE_FEATURES"
FEATURES_DEFAULT = pathlib.Path("artifacts") / "face_features"


# ----------------------------------------------------------------------------- data


@dataclasses.dataclass
class Faces:
    """Decoded faces: uint8 (N, S, S, 3), the member names they came from, the source."""

    images: np.ndarray
    names: tuple
    source: str
    crop: str


@dataclasses.dataclass
class FaceSplits(datasets.Splits):
    """:class:`zoo.datasets.Splits` plus ``reference``: real training faces, disjoint
    from the test faces and as many, the floor of the distances."""

    reference: np.ndarray = None


def face_box(width, height, crop="auto"):
    """The crop box of an image of ``width`` x ``height`` pixels.

    Args:
        width: the image's width.
        height: the image's height.
        crop: ``celeba`` (the face box of aligned CelebA, scaled to the image),
            ``center`` (the central square), ``none`` (the whole image), or ``auto``
            (``celeba`` for images of CelebA's 178:218 shape, ``center`` otherwise).

    Returns:
        (left, top, right, bottom) floats, Pillow's box convention.

    Example:
        >>> face_box(178, 218)
        (19.0, 40.0, 159.0, 180.0)
        >>> face_box(89, 109)
        (9.5, 20.0, 79.5, 90.0)
    """
    if crop not in CROPS:
        raise errors.ZooError(f"crop must be one of {', '.join(CROPS)}; received {crop!r}")
    if crop == "auto":
        celeba_ratio = CELEBA_SIZE[0] / CELEBA_SIZE[1]
        crop = "celeba" if abs(width / height - celeba_ratio) < 0.02 else "center"
    if crop == "celeba":
        scale_x, scale_y = width / CELEBA_SIZE[0], height / CELEBA_SIZE[1]
        left, top, box_width, box_height = CELEBA_FACE_BOX
        return (left * scale_x, top * scale_y, (left + box_width) * scale_x, (top + box_height) * scale_y)
    if crop == "center":
        side = min(width, height)
        left, top = (width - side) / 2, (height - side) / 2
        return (float(left), float(top), float(left + side), float(top + side))
    return (0.0, 0.0, float(width), float(height))


def _decode_face(blob, name, image_size, crop):
    from PIL import Image

    try:
        with Image.open(io.BytesIO(blob)) as image:
            image = image.convert("RGB")
            box = face_box(image.width, image.height, crop)
            # Pillow's resize low-pass filters when it shrinks, so 140 -> 64 does not alias.
            resized = image.resize((image_size, image_size), Image.BILINEAR, box=box)
            return np.asarray(resized, dtype=np.uint8)
    except (OSError, ValueError, Image.DecompressionBombError) as error:
        raise errors.DataError(f"cannot decode {name}: {str(error).splitlines()[0][:120]}") from None


def _face_members(path):
    """The image files of a folder or zip, preferring CelebA's ``img_align_celeba``."""
    if path.is_dir():
        if (path / "img_align_celeba").is_dir():
            return _face_members(path / "img_align_celeba")
        if (path / "img_align_celeba.zip").is_file():
            return _face_members(path / "img_align_celeba.zip")
    tree = datasets._Tree(path)
    names = sorted(name for name in tree.files if name.lower().endswith(datasets.IMAGE_SUFFIXES)
                   and not pathlib.PurePosixPath(name).name.startswith("."))
    if not names:
        raise errors.DataError(f"{path} holds no images (expected img_align_celeba/*.jpg, in a folder or a zip)")
    return tree, names


def load_faces(path=None, image_size=64, crop="auto"):
    """Load, crop and resize a folder or zip of faces, decoding it only once.

    Args:
        path: CelebA's ``img_align_celeba`` folder, its ``img_align_celeba.zip``, a folder
            holding either, or any folder/zip of images; None looks in
            ``$ZOO_DATA_DIR`` (``celeba-subset.zip``, ``img_align_celeba.zip``, ...).
        image_size: the side of the square output images.
        crop: see :func:`face_box`.

    Returns:
        :class:`Faces`, images in file-name order.

    Raises:
        DataError: no data found; the path is not a folder or zip of images; an image
            cannot be decoded.

    Example:
        >>> faces = load_faces("../shared/datasets/celeba-subset.zip")  # doctest: +SKIP
        >>> faces.images.shape
        (15723, 64, 64, 3)
    """
    if not isinstance(image_size, int) or image_size < 8:
        raise errors.ZooError(f"image_size must be an integer of at least 8; received {image_size!r}")
    face_box(178, 218, crop)  # validates crop
    found = datasets.locate("celeba", path)
    if found is None:
        info = datasets.info_of("celeba")
        raise errors.DataError(f"no face data found: looked at {datasets.looked_at('celeba')}; {info.how_to_get}")
    found = found.resolve()
    if not (found.is_dir() or found.suffix.lower() == ".zip"):
        raise errors.DataError(f"{found}: expected a folder or a .zip of images, e.g. img_align_celeba.zip")
    stat = found.stat()
    key_text = f"{found}|{stat.st_size}|{stat.st_mtime_ns}|{crop}|{image_size}|{CELEBA_FACE_BOX}"
    cached = datasets.cache_dir() / f"faces-{hashlib.sha256(key_text.encode()).hexdigest()[:20]}.npz"
    if cached.exists():
        try:
            with np.load(cached, allow_pickle=False) as data:
                return Faces(data["images"], tuple(data["names"].tolist()), str(found), crop)
        except (OSError, ValueError, KeyError):
            cached.unlink(missing_ok=True)  # A damaged cache is rebuilt, never trusted.
    try:
        tree, names = _face_members(found)
        blobs = [tree.read(name) for name in names]
    except (OSError, KeyError, ValueError, EOFError, datasets.zipfile.BadZipFile) as error:
        detail = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise errors.DataError(f"corrupt or unreadable face data at {found}: {detail}") from None
    # Pillow releases the GIL while decoding; zip reads above stay serial (not thread-safe).
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        images = np.stack(list(pool.map(lambda item: _decode_face(item[0], item[1], image_size, crop), zip(blobs, names))))
    faces = Faces(images, tuple(names), str(found), crop)
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        temporary = cached.with_suffix(".partial.npz")
        np.savez(temporary, images=images, names=np.array(names))
        os.replace(temporary, cached)
    except OSError:
        pass  # The cache is an optimisation; a read-only home must not stop training.
    return faces


def split_indices(count, test_fraction=TEST_FRACTION, max_test=MAX_TEST):
    """Fixed train/test indices of ``count`` faces: a seeded permutation, so every run
    and every seed is scored on the same held-out faces.

    Example:
        >>> train, test = split_indices(100)
        >>> len(train), len(test)
        (90, 10)
    """
    if count < 2:
        raise errors.DataError(f"need at least 2 face images; found {count}")
    test_count = min(max_test, max(1, int(round(count * test_fraction))))
    order = np.random.default_rng(0).permutation(count)
    return np.sort(order[test_count:]), np.sort(order[:test_count])


def face_splits(faces, batch_size, value_range=(0.0, 1.0), seed=42, limit=None, validation=True):
    """Batched tf.data pipelines of faces scaled to ``value_range``.

    Args:
        faces: :class:`Faces`.
        batch_size: real images per training step.
        value_range: (low, high) the model wants: (0, 1) for a sigmoid decoder,
            (-1, 1) for a tanh generator.
        seed: shuffling seed.
        limit: train on the first ``limit`` training faces only; the test set shrinks
            to at most ``limit // 4`` so that the floor keeps a disjoint real sample.
        validation: also return the test faces as a validation pipeline (the VAE's
            held-out ELBO); a GAN has no validation loss.

    Returns:
        :class:`FaceSplits`; ``test_arrays`` is ``(uint8 test faces, None)``.
    """
    import tensorflow as tf

    train_index, test_index = split_indices(len(faces.images))
    if limit:
        train_index = train_index[:limit]
        test_index = test_index[: max(2, min(len(test_index), limit // 4))]
    if len(train_index) < 2:
        raise errors.DataError(f"need at least 2 training faces; have {len(train_index)} (raise --limit?)")
    low, high = value_range
    scale = (high - low) / 255.0

    def to_range(images):
        return tf.cast(images, tf.float32) * scale + low

    def pipeline(images, training):
        dataset = tf.data.Dataset.from_tensor_slices(images).cache()
        if training:
            dataset = dataset.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
        dataset = dataset.batch(batch_size, drop_remainder=training and len(images) >= batch_size)
        return dataset.map(to_range, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)

    x_train, x_test = faces.images[train_index], faces.images[test_index]
    reference_index = np.random.default_rng(1).permutation(len(x_train))[: len(x_test)]
    info = {
        "source": faces.source,
        "train": int(len(x_train)),
        "test": int(len(x_test)),
        "image_size": int(faces.images.shape[1]),
        "crop": faces.crop,
        "value_range": [float(low), float(high)],
    }
    return FaceSplits(
        train=pipeline(x_train, True),
        val=pipeline(x_test, False) if validation else None,
        test=pipeline(x_test, False),
        steps_per_epoch=max(1, len(x_train) // batch_size),
        info=info,
        test_arrays=(x_test, None),
        reference=x_train[np.sort(reference_index)],
    )


def face_data(entry, config, path=None, seed=42, limit=None, value_range=(0.0, 1.0), validation=True):
    """The registry's data hook: faces at the entry's size, scaled to its range."""
    faces = load_faces(path, image_size=config["image_size"], crop=config["crop"])
    return face_splits(faces, config["batch_size"], value_range, seed=seed, limit=limit, validation=validation)


# ----------------------------------------------------------------------------- networks


def _strided_layers(image_size):
    """How many stride-2 layers link ``image_size`` to the 2x2 (encoder) or 4x4 (decoder) grid."""
    layers = math.log2(image_size / 4) if image_size >= 8 else -1
    if layers < 1 or layers != int(layers):
        raise errors.ZooError(f"image_size must be 4 times a power of two (8, 16, 32, 64, 128...); received {image_size}")
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


# ----------------------------------------------------------------------------- models


def _tracker(name):
    return keras.metrics.Mean(name=name)


@keras.saving.register_keras_serializable(package="zoo")
class FaceVAE(keras.Model):
    """A variational autoencoder: ``encoder`` (images -> mean, log-variance) and ``decoder``
    (``z`` -> image in [0, 1]), trained on the negative ELBO.

    ``loss = reconstruction + kl_weight * kl``, per image, in nats: the Bernoulli
    cross-entropy summed over pixels, and the KL divergence of the diagonal Gaussian
    posterior from N(0, I). ``kl_weight=1`` is the ELBO; lower values trade sample
    quality from the prior for sharper reconstructions.

    Example:
        >>> vae = face_vae("face_vae", filters=8, latent_dim=4, image_size=16)
        >>> vae.decoder(np.zeros((1, 4)))["image"].shape
        TensorShape([1, 16, 16, 3])
    """

    def __init__(self, encoder, decoder, kl_weight=1.0, **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.decoder = decoder
        self.kl_weight = float(kl_weight)
        self.latent_dim = int(decoder.inputs[0].shape[-1])
        self.seed_generator = keras.random.SeedGenerator()
        self.loss_tracker = _tracker("loss")
        self.reconstruction_tracker = _tracker("reconstruction")
        self.kl_tracker = _tracker("kl")
        self.built = True

    @property
    def image_network(self):
        """The network that maps ``z`` to images (exported, sampled from)."""
        return self.decoder

    @property
    def metrics(self):
        return [self.loss_tracker, self.reconstruction_tracker, self.kl_tracker]

    def encode(self, images, training=False):
        """(mean, log_variance) of q(z | images)."""
        statistics = self.encoder(images, training=training)
        mean, log_variance = keras.ops.split(statistics, 2, axis=-1)
        return mean, keras.ops.clip(log_variance, -20.0, 10.0)

    def call(self, images, training=False):
        """Reconstruct ``images`` from their posterior means: ``{"image": ...}``."""
        mean, _ = self.encode(images, training=training)
        return self.decoder(mean, training=training)

    def losses_of(self, images, training):
        mean, log_variance = self.encode(images, training=training)
        noise = keras.random.normal(keras.ops.shape(mean), seed=self.seed_generator)
        z = mean + keras.ops.exp(0.5 * log_variance) * noise
        reconstruction = self.decoder(z, training=training)["image"]
        cross_entropy = keras.ops.binary_crossentropy(images, reconstruction)
        reconstruction_loss = keras.ops.mean(keras.ops.sum(cross_entropy, axis=(1, 2, 3)))
        kl = -0.5 * keras.ops.sum(1 + log_variance - keras.ops.square(mean) - keras.ops.exp(log_variance), axis=1)
        kl_loss = keras.ops.mean(kl)
        return reconstruction_loss + self.kl_weight * kl_loss, reconstruction_loss, kl_loss

    def _record(self, loss, reconstruction, kl):
        self.loss_tracker.update_state(loss)
        self.reconstruction_tracker.update_state(reconstruction)
        self.kl_tracker.update_state(kl)
        return {metric.name: metric.result() for metric in self.metrics}

    def train_step(self, data):
        import tensorflow as tf

        images, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        with tf.GradientTape() as tape:
            loss, reconstruction, kl = self.losses_of(images, training=True)
        gradients = tape.gradient(loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(gradients, self.trainable_weights))
        return self._record(loss, reconstruction, kl)

    def test_step(self, data):
        images, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        return self._record(*self.losses_of(images, training=False))

    def get_config(self):
        return {
            **super().get_config(),
            "encoder": keras.saving.serialize_keras_object(self.encoder),
            "decoder": keras.saving.serialize_keras_object(self.decoder),
            "kl_weight": self.kl_weight,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["encoder"] = keras.saving.deserialize_keras_object(config["encoder"])
        config["decoder"] = keras.saving.deserialize_keras_object(config["decoder"])
        return cls(**config)

    def extra_callbacks(self, run_dir, splits=None):
        """Per-epoch sample grids, interpolations and reconstructions into ``run_dir/samples``."""
        previews = None if splits is None or splits.test_arrays is None else splits.test_arrays[0][:32]
        return [SampleWriter(pathlib.Path(run_dir) / "samples", previews=previews)]


@keras.saving.register_keras_serializable(package="zoo")
class FaceGAN(keras.Model):
    """A DCGAN: ``generator`` (``z`` -> image in [0, 1]) against ``discriminator`` (image in
    [-1, 1] -> one logit), each with its own Adam.

    One step: the discriminator sees ``batch`` real and ``batch`` generated images in
    one batch (the report's 128 + 128) and takes a step on the cross-entropy; then the
    generator takes a step on the non-saturating loss ``-log D(G(z))`` with a fresh z.

    What keeps it stable, and why:

    - DCGAN's architecture choices on the report's networks (Radford et al., 2016):
      batch normalisation and ReLU in the generator, LeakyReLU(0.2) in the
      discriminator with no batch normalisation (so real and generated halves of a
      batch never share batch statistics), Adam with beta_1 = 0.5; by default also
      DCGAN's channel layout and 4x4 transposed kernels (see :func:`face_gan`).
    - One-sided label smoothing: real images are labelled ``1 - label_smoothing``
      (0.9), generated ones 0, so the discriminator cannot grow arbitrarily
      confident and starve the generator of gradient (Salimans et al., 2016).
    - Instance noise: Gaussian noise of standard deviation ``instance_noise`` is added
      to every image the discriminator sees, real and generated, fading linearly to
      zero over ``noise_decay_steps``; it makes the two distributions overlap early on
      (Sønderby et al., 2017).
    - Learning-rate balance: ``generator_learning_rate`` and
      ``discriminator_learning_rate`` are separate (TTUR, Heusel et al., 2017).
    - An exponential moving average of the generator's weights (``ema_decay``;
      Yazici et al., 2019, as in ProGAN and StyleGAN): ``ema_generator`` follows the
      trained generator after every step (batch-norm statistics included) and is the
      network that is sampled, evaluated and exported. Averaging damps the
      step-to-step oscillation of adversarial training that single weights show as
      high-frequency artefacts. The decay ramps up as ``(1 + step) / (10 + step)`` so
      the average forgets its random start quickly. ``ema_decay=0`` turns it off.

    The metrics logged per epoch: ``d_loss``, ``g_loss``, ``d_real`` and ``d_fake``
    (the discriminator's mean probability of "real" on each half) and ``noise``.

    Example:
        >>> gan = face_gan("face_gan", filters=8, latent_dim=4, image_size=16)
        >>> gan.generator(np.zeros((1, 4)))["image"].shape
        TensorShape([1, 16, 16, 3])
    """

    def __init__(
        self, generator, discriminator, generator_learning_rate=2e-4, discriminator_learning_rate=2e-4, beta_1=0.5,
        label_smoothing=0.1, instance_noise=0.1, noise_decay_steps=2000, ema_decay=0.0, ema_generator=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.generator = generator
        self.ema_decay = float(ema_decay)
        if not 0.0 <= self.ema_decay < 1.0:
            raise errors.ZooError(f"ema_decay must be in [0, 1); received {ema_decay}")
        if self.ema_decay > 0:
            if ema_generator is None:
                ema_generator = keras.models.clone_model(generator)
                ema_generator.set_weights(generator.get_weights())
            ema_generator.trainable = False
            self.ema_generator = ema_generator
        self.discriminator = discriminator
        self.latent_dim = int(generator.inputs[0].shape[-1])
        self.generator_learning_rate = float(generator_learning_rate)
        self.discriminator_learning_rate = float(discriminator_learning_rate)
        self.beta_1 = float(beta_1)
        self.label_smoothing = float(label_smoothing)
        self.instance_noise = float(instance_noise)
        self.noise_decay_steps = int(noise_decay_steps)
        self.generator_optimizer = keras.optimizers.Adam(generator_learning_rate, beta_1=beta_1, name="generator_adam")
        self.discriminator_optimizer = keras.optimizers.Adam(
            discriminator_learning_rate, beta_1=beta_1, name="discriminator_adam"
        )
        # Built now, so that a checkpoint restore (BackupAndRestore, load_model) finds
        # every slot variable to load into and resumes the optimisers' state.
        self.generator_optimizer.build(generator.trainable_variables)
        self.discriminator_optimizer.build(discriminator.trainable_variables)
        self.seed_generator = keras.random.SeedGenerator()
        self.trackers = {name: _tracker(name) for name in ("d_loss", "g_loss", "d_real", "d_fake", "noise")}
        self.built = True

    @property
    def image_network(self):
        """The network that maps ``z`` to images (exported, sampled from): the
        weight average when ``ema_decay`` > 0, else the generator itself."""
        return self.ema_generator if self.ema_decay > 0 else self.generator

    def _update_average(self):
        step = keras.ops.cast(self.generator_optimizer.iterations, "float32")
        decay = keras.ops.minimum(self.ema_decay, (1.0 + step) / (10.0 + step))
        for average, weight in zip(self.ema_generator.weights, self.generator.weights):
            average.assign(decay * average + (1.0 - decay) * keras.ops.cast(weight, average.dtype))

    @property
    def metrics(self):
        return list(self.trackers.values())

    def compile(self, **kwargs):
        """Compile without a model-level optimiser: each sub-network has its own."""
        kwargs.setdefault("optimizer", None)
        super().compile(**kwargs)

    def get_compile_config(self):
        return {}

    def compile_from_config(self, config):
        self.compile()

    def call(self, z, training=False):
        """Generate images from latent vectors: ``{"image": ...}`` in [0, 1]."""
        return self.generator(z, training=training)

    def _noisy(self, images, scale):
        return images + scale * keras.random.normal(keras.ops.shape(images), seed=self.seed_generator)

    def train_step(self, data):
        import tensorflow as tf

        real, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        batch = keras.ops.shape(real)[0]
        step = keras.ops.cast(self.discriminator_optimizer.iterations, "float32")
        scale = self.instance_noise * keras.ops.maximum(0.0, 1.0 - step / max(1, self.noise_decay_steps))

        z = keras.random.normal((batch, self.latent_dim), seed=self.seed_generator)
        generated = self.generator(z, training=True)["image"] * 2.0 - 1.0
        images = self._noisy(keras.ops.concatenate([real, generated], axis=0), scale)
        labels = keras.ops.concatenate(
            [keras.ops.full((batch, 1), 1.0 - self.label_smoothing), keras.ops.zeros((batch, 1))], axis=0
        )
        with tf.GradientTape() as tape:
            logits = self.discriminator(images, training=True)
            d_loss = keras.ops.mean(keras.ops.binary_crossentropy(labels, logits, from_logits=True))
        gradients = tape.gradient(d_loss, self.discriminator.trainable_weights)
        self.discriminator_optimizer.apply_gradients(zip(gradients, self.discriminator.trainable_weights))

        z = keras.random.normal((batch, self.latent_dim), seed=self.seed_generator)
        with tf.GradientTape() as tape:
            generated = self.generator(z, training=True)["image"] * 2.0 - 1.0
            fake_logits = self.discriminator(self._noisy(generated, scale), training=True)
            g_loss = keras.ops.mean(
                keras.ops.binary_crossentropy(keras.ops.ones_like(fake_logits), fake_logits, from_logits=True)
            )
        gradients = tape.gradient(g_loss, self.generator.trainable_weights)
        self.generator_optimizer.apply_gradients(zip(gradients, self.generator.trainable_weights))
        if self.ema_decay > 0:
            self._update_average()

        probabilities = keras.ops.sigmoid(logits)
        self.trackers["d_loss"].update_state(d_loss)
        self.trackers["g_loss"].update_state(g_loss)
        self.trackers["d_real"].update_state(keras.ops.mean(probabilities[:batch]))
        self.trackers["d_fake"].update_state(keras.ops.mean(probabilities[batch:]))
        self.trackers["noise"].update_state(scale)
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def get_config(self):
        return {
            **super().get_config(),
            "generator": keras.saving.serialize_keras_object(self.generator),
            "discriminator": keras.saving.serialize_keras_object(self.discriminator),
            "generator_learning_rate": self.generator_learning_rate,
            "discriminator_learning_rate": self.discriminator_learning_rate,
            "beta_1": self.beta_1,
            "label_smoothing": self.label_smoothing,
            "instance_noise": self.instance_noise,
            "noise_decay_steps": self.noise_decay_steps,
            "ema_decay": self.ema_decay,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["generator"] = keras.saving.deserialize_keras_object(config["generator"])
        config["discriminator"] = keras.saving.deserialize_keras_object(config["discriminator"])
        return cls(**config)

    def extra_callbacks(self, run_dir, splits=None):
        """Per-epoch sample grids and interpolations into ``run_dir/samples``."""
        return [SampleWriter(pathlib.Path(run_dir) / "samples")]


def face_vae(
    name, filters=128, latent_dim=64, kl_weight=1.0, learning_rate=1e-3, image_size=64, kernel_size=3, taper=False,
    batch_norm=False,
):
    """The report's VAE: the conv net encodes to a Gaussian posterior, the deconv net
    decodes z with a sigmoid; trained on the negative ELBO.

    The default is the report's setup 2 (128 filters, latent size 64), which fits the
    2-hour budget on a 2-core CPU (about 10 epochs of the 15,723-face subset).

    Args:
        name: the model's name.
        filters: channels of every (transposed) convolution (report: 128, 128, 256).
        latent_dim: size of z (report: 32, 64, 64).
        kl_weight: weight of the KL term (1 = the ELBO).
        learning_rate: Adam's learning rate.
        image_size: the side of the square RGB images.
        kernel_size: the decoder's transposed-convolution kernel size (report: 3).
        taper: DCGAN's channel layout in both networks (see :func:`build_deconv_net`).
        batch_norm: batch normalisation in both networks (the report has none).

    Returns:
        A compiled :class:`FaceVAE`.
    """
    encoder = build_conv_net(
        (image_size, image_size, 3), 2 * latent_dim, filters, batch_norm=batch_norm, out_activation=None,
        taper=taper, name="encoder",
    )
    decoder = build_deconv_net(
        latent_dim, filters, image_size=image_size, kernel_size=kernel_size, batch_norm=batch_norm, taper=taper,
        name="decoder",
    )
    model = FaceVAE(encoder, decoder, kl_weight=kl_weight, name=name)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate))
    return model


def face_gan(
    name, filters=16, latent_dim=128, image_size=64, kernel_size=4, taper=True, generator_learning_rate=2e-4,
    discriminator_learning_rate=2e-4, beta_1=0.5, label_smoothing=0.1, instance_noise=0.1, noise_decay_steps=2000,
    ema_decay=0.999,
):
    """The report's DCGAN: the deconv net (tanh) generates, the conv net (one logit)
    discriminates, 128 real + 128 generated images per discriminator step.

    The report's setups are ``--hp taper=False --hp kernel_size=3 --hp filters=64``
    (or 128). The default keeps the report's builders but gives them DCGAN's layout
    (``taper``: wide where the maps are small, 16 channels at 64x64) and 4x4
    transposed kernels (no checkerboard): at about half the cost per step of the
    report's 64-filter setup it has four times the generator's parameters, and 25
    epochs fit the 2-hour budget on a 2-core CPU.

    Args:
        name: the model's name.
        filters: channels of the (transposed) convolutions at full resolution
            (report: 64, 128, constant width).
        latent_dim: size of z (report: 128).
        image_size: the side of the square RGB images.
        kernel_size: kernel size of the generator's transposed convolutions (report: 3).
        taper: DCGAN's channel layout in both networks (see :func:`build_deconv_net`).
        generator_learning_rate: the generator's Adam learning rate.
        discriminator_learning_rate: the discriminator's Adam learning rate.
        beta_1: Adam's first-moment decay, both optimisers.
        label_smoothing: real images are labelled ``1 - label_smoothing``.
        instance_noise: initial standard deviation of the noise added to the
            discriminator's inputs (images in [-1, 1]).
        noise_decay_steps: steps over which the instance noise fades to zero.
        ema_decay: the decay of the generator's weight average, which is what gets
            sampled and exported; 0 samples the trained generator itself. With the
            warm-up ramp, runs shorter than about 9 / (1 - ema_decay) steps average
            over roughly their last ninth.

    Returns:
        A compiled :class:`FaceGAN`.
    """
    generator = build_deconv_net(
        latent_dim, filters, image_size=image_size, kernel_size=kernel_size, batch_norm=True, out_activation="tanh",
        taper=taper, name="generator",
    )
    discriminator = build_conv_net(
        (image_size, image_size, 3), 1, filters, activation="leaky_relu", out_activation=None, taper=taper,
        name="discriminator",
    )
    model = FaceGAN(
        generator, discriminator, generator_learning_rate=generator_learning_rate,
        discriminator_learning_rate=discriminator_learning_rate, beta_1=beta_1, label_smoothing=label_smoothing,
        instance_noise=instance_noise, noise_decay_steps=noise_decay_steps, ema_decay=ema_decay, name=name,
    )
    model.compile()
    return model


# ----------------------------------------------------------------------------- looking


def generate(network, z, batch_size=256):
    """Run a generator/decoder on latent vectors in batches: float32 (N, S, S, 3) in [0, 1]."""
    z = np.asarray(z, np.float32)
    outputs = [np.asarray(network(z[start:start + batch_size], training=False)["image"])
               for start in range(0, len(z), batch_size)]
    return np.concatenate(outputs).astype(np.float32)


def sample_grid(network, count=64, seed=0, columns=None):
    """A grid of ``count`` images generated from z ~ N(0, I) drawn with ``seed``: uint8."""
    latent_dim = int(network.inputs[0].shape[-1])
    return imagegrid.tile(generate(network, imagegrid.latent_samples(count, latent_dim, seed)), columns=columns)


def interpolation_grid(network, steps=10, pairs=2, seed=0):
    """Interpolation strips: for each of ``pairs`` random pairs of latent vectors, a row
    of linear then a row of spherical interpolation, ``steps`` images each: uint8."""
    latent_dim = int(network.inputs[0].shape[-1])
    latents = imagegrid.interpolation_latents(latent_dim, steps=steps, pairs=pairs, seed=seed)
    return imagegrid.tile(generate(network, latents), columns=steps)


def reconstruction_grid(vae, images, columns=8):
    """Each of ``images`` (uint8 or [0, 1]) beside the VAE's reconstruction from its
    posterior mean: uint8."""
    images = np.asarray(images)
    scaled = images.astype(np.float32) / 255.0 if images.dtype == np.uint8 else images.astype(np.float32)
    reconstructed = np.asarray(vae(scaled, training=False)["image"])
    return imagegrid.side_by_side(scaled, reconstructed, columns=columns)


class SampleWriter(keras.callbacks.Callback):
    """Writes ``epoch_NNN.png``, ``interpolation_NNN.png`` and (given previews, for a
    VAE) ``reconstructions_NNN.png`` into ``folder`` after every epoch, always from the
    same latent vectors so that epochs compare."""

    def __init__(self, folder, previews=None, count=64, seed=0):
        super().__init__()
        self.folder = pathlib.Path(folder)
        self.previews = previews
        self.count = count
        self.seed = seed

    def on_epoch_end(self, epoch, logs=None):
        network = self.model.image_network
        number = f"{epoch + 1:03d}"
        imagegrid.write_png(self.folder / f"epoch_{number}.png", sample_grid(network, self.count, self.seed))
        imagegrid.write_png(self.folder / f"interpolation_{number}.png", interpolation_grid(network, seed=self.seed))
        if self.previews is not None and isinstance(self.model, FaceVAE):
            imagegrid.write_png(
                self.folder / f"reconstructions_{number}.png", reconstruction_grid(self.model, self.previews)
            )


SAMPLE_KINDS = ("grid", "interpolation", "reconstructions")


def write_samples(model_dir, out, kind="grid", count=64, seed=0, columns=None, steps=10, pairs=2, data=None):
    """Draw samples of a trained face model into a PNG (``zoo faces-sample``).

    Args:
        model_dir: a run folder of ``face_gan`` or ``face_vae`` (or its model.keras).
        out: the PNG to write.
        kind: ``grid`` (``count`` samples from z ~ N(0, I)), ``interpolation`` (``pairs``
            pairs of endpoints, linear then spherical rows of ``steps``) or
            ``reconstructions`` (VAE only: ``count`` held-out faces of ``data`` beside
            their reconstructions).
        count: images in a grid or reconstructions.
        seed: the seed of the latent vectors.
        columns: images per row of a grid.
        steps: images per interpolation row.
        pairs: interpolation endpoint pairs.
        data: the faces, for reconstructions.

    Returns:
        The written path.

    Raises:
        ZooError: not a face model, bad counts, or reconstructions of a GAN.

    Example:
        >>> write_samples("artifacts/face_gan", "grid.png", count=16, seed=3)  # doctest: +SKIP
    """
    from zoo import training

    if kind not in SAMPLE_KINDS:
        raise errors.ZooError(f"--kind must be one of {', '.join(SAMPLE_KINDS)}; received {kind!r}")
    for label, value in (("--count", count), ("--steps", steps), ("--pairs", pairs)):
        if value < 1 or (label == "--steps" and value < 2):
            raise errors.ZooError(f"{label} must be at least {2 if label == '--steps' else 1}; received {value}")
    model, config = training.load_run(model_dir)
    if not isinstance(model, (FaceGAN, FaceVAE)):
        raise errors.ZooError(f"{model_dir} holds {model.name}, not a face_gan or face_vae model")
    network = model.image_network
    if kind == "grid":
        picture = sample_grid(network, count, seed, columns)
    elif kind == "interpolation":
        picture = interpolation_grid(network, steps=steps, pairs=pairs, seed=seed)
    else:
        if not isinstance(model, FaceVAE):
            raise errors.ZooError("reconstructions need a VAE (face_vae); a GAN has no encoder")
        config = config or {}
        faces = load_faces(data, image_size=config.get("image_size", 64), crop=config.get("crop", "auto"))
        _, test_index = split_indices(len(faces.images))
        picture = reconstruction_grid(model, faces.images[test_index[:count]], columns=columns or 8)
    return imagegrid.write_png(out, picture)


# ----------------------------------------------------------------------------- measuring


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


def distance_report(real, generated, reference, features=None, seed=0):
    """Distances from held-out real faces to generated ones, with a floor and ceilings.

    - floor: ``reference``, real faces disjoint from ``real``, as many: what a perfect
      generator would score at this sample size;
    - ``ceiling_noise``: Gaussian noise with the real faces' per-channel mean and
      standard deviation;
    - ``ceiling_shuffled``: ``reference`` with each image's pixels shuffled (real
      colours, no structure).

    ``*_relative`` places the model between the floor (0) and the nearer ceiling
    (1): below 0.5 the model is closer to real faces than to the ceiling.

    Args:
        real: (N, S, S, 3) real faces, uint8.
        generated: (N, S, S, 3) generated faces, floats in [0, 1].
        reference: (N, S, S, 3) other real faces, uint8.
        features: a :class:`FeatureNetwork` for ``frechet`` and ``kid``; SWD only if None.
        seed: the seed of the noise, shuffles and SWD directions.

    Returns:
        A flat dict: ``swd``, ``swd_64``/``swd_32``/``swd_16``, ``swd_floor``,
        ``swd_ceiling_noise``, ``swd_ceiling_shuffled``, ``swd_relative`` (the SWD times
        1,000, ProGAN's unit), the same for ``frechet`` and ``kid`` (KID times 1,000)
        when ``features`` is given, and ``eval_images``.
    """
    count = min(len(real), len(generated), len(reference))
    real, generated, reference = real[:count], generated[:count], reference[:count]
    comparisons = {
        "model": generated,
        "floor": reference,
        "ceiling_noise": imagemetrics.gaussian_noise(real, seed),
        "ceiling_shuffled": imagemetrics.shuffled_pixels(reference, seed),
    }
    result = {"eval_images": int(count)}

    def place(metric, values):
        result[metric] = values["model"]
        for name in ("floor", "ceiling_noise", "ceiling_shuffled"):
            result[f"{metric}_{name}"] = values[name]
        ceiling = min(values["ceiling_noise"], values["ceiling_shuffled"])
        span = ceiling - values["floor"]
        result[f"{metric}_relative"] = (values["model"] - values["floor"]) / span if span > 0 else float("nan")

    scores = distances(real, comparisons, features, seed)
    place("swd", {name: values["swd"] for name, values in scores.items()})
    result.update({key: value for key, value in scores["model"].items() if key.startswith("swd_")})
    if features is not None:
        for metric in ("frechet", "kid"):
            place(metric, {name: values[metric] for name, values in scores.items()})
    return result


def distances(real, comparisons, features=None, seed=0):
    """``{name: {swd, swd_64, ... (and frechet, kid given features)}}`` of each named
    image set against the ``real`` faces; the scores behind :func:`distance_report`."""
    scores = imagemetrics.sliced_wasserstein_many(real, comparisons, seed=seed)
    if features is not None:
        real_features = features(real)
        for name, images in comparisons.items():
            image_features = features(images)
            scores[name]["frechet"] = imagemetrics.frechet_distance(real_features, image_features)
            scores[name]["kid"] = imagemetrics.kernel_distance(real_features, image_features, seed=seed)
    return scores


def evaluate_faces(model, splits, config):
    """The registry's evaluator: distances of generated faces from held-out real faces.

    Draws as many z ~ N(0, I) (seed 2024, or ``eval_seed``, which also seeds the SWD's
    random projections) as there are test faces (at most ``eval_images``), and scores
    them with :func:`distance_report`; a VAE also reports
    its held-out negative ELBO, and a GAN with a weight average also scores its trained
    generator on the same z (``raw_generator_*``). Without the feature network (see the module
    docstring) only the SWD figures are computed, and ``feature_network`` says how to
    get the rest.
    """
    real = splits.test_arrays[0][: config.get("eval_images", MAX_TEST)]
    seed = config.get("eval_seed")
    z_seed, projection_seed = (2024, 0) if seed is None else (seed, seed)
    network = model.image_network
    generated = generate(network, imagegrid.latent_samples(len(real), model.latent_dim, seed=z_seed))
    features = load_feature_network()
    metrics = distance_report(real, generated, splits.reference, features=features, seed=projection_seed)
    if features is None:
        metrics["feature_network"] = (
            f"not found at ${FEATURES_ENV} or {FEATURES_DEFAULT}: train it with `zoo train face_features "
            f"--data cifar10-jpg.zip --out {FEATURES_DEFAULT}` for the Frechet and kernel distances"
        )
    else:
        metrics["feature_network"] = features.path
    if isinstance(model, FaceGAN) and model.ema_decay > 0:
        # The same z through the trained generator, so that what averaging bought is measured.
        raw = generate(model.generator, imagegrid.latent_samples(len(real), model.latent_dim, seed=z_seed))
        scores = distances(real, {"model": raw}, features, seed=projection_seed)["model"]
        metrics.update({f"raw_generator_{key}": scores[key] for key in ("swd", "frechet", "kid") if key in scores})
    if isinstance(model, FaceVAE):
        held_out = model.evaluate(splits.test, verbose=0, return_dict=True)
        metrics["test_loss"] = float(held_out["loss"])
        metrics["test_reconstruction"] = float(held_out["reconstruction"])
        metrics["test_kl"] = float(held_out["kl"])
    return metrics


def describe_generator(entry, config):
    """Card facts: the exported network maps z ~ N(0, I) to images in [0, 1]."""
    return {
        "kind": "image",
        "input": "z",
        "latent_dim": int(config["latent_dim"]),
        "output": "image",
        "output_range": [0, 1],
        "prior": "standard_normal",
    }


def face_features(name, input_shape, num_classes, width=32, dropout_rate=0.2, label_smoothing=0.1,
                  learning_rate=2e-3, weight_decay=5e-4):
    """A small CIFAR-10 classifier whose pooled features score generated faces.

    The ``bncnn`` of :mod:`zoo.classifiers` (three Conv-BN-ReLU stages, global
    average pooling named ``pool``): the Fréchet and kernel distances of
    ``face_gan``/``face_vae`` compare its 128 pooled features of real and generated
    faces (resized to 32x32), the role Inception plays in FID.
    """
    from zoo import classifiers

    return classifiers.bncnn(
        name, input_shape, num_classes, width=width, dropout_rate=dropout_rate, label_smoothing=label_smoothing,
        learning_rate=learning_rate, weight_decay=weight_decay,
    )


# ----------------------------------------------------------------------------- registry


def _register_all():
    from zoo import blocks, classifiers

    common = dict(task="generation", dataset="celeba", evaluate=evaluate_faces, describe=describe_generator)
    registry.register(
        name="face_vae",
        data=functools.partial(face_data, value_range=(0.0, 1.0), validation=True),
        defaults=dict(
            filters=128, latent_dim=64, kl_weight=1.0, learning_rate=1e-3, image_size=64, kernel_size=3, taper=False,
            batch_norm=False,
        ),
        fit=dict(epochs=10, batch_size=128, crop="auto", eval_images=MAX_TEST),
        space=lambda hp: dict(
            filters=hp.Choice("filters", [64, 128]),
            latent_dim=hp.Choice("latent_dim", [32, 64, 128]),
            kl_weight=hp.Choice("kl_weight", [0.5, 1.0]),
        ),
        signature=registry.Signature(inputs=("z",), outputs=("image",), export="decoder", tolerance=1e-3),
        tiny=dict(filters=4, latent_dim=8, image_size=16),
        **common,
    )(face_vae)
    registry.register(
        name="face_gan",
        data=functools.partial(face_data, value_range=(-1.0, 1.0), validation=False),
        defaults=dict(
            filters=16, latent_dim=128, image_size=64, kernel_size=4, taper=True, generator_learning_rate=2e-4,
            discriminator_learning_rate=2e-4, beta_1=0.5, label_smoothing=0.1, instance_noise=0.1,
            noise_decay_steps=2000, ema_decay=0.999,
        ),
        fit=dict(epochs=25, batch_size=128, crop="auto", eval_images=MAX_TEST),
        space=lambda hp: dict(
            filters=hp.Choice("filters", [16, 32]),
            discriminator_learning_rate=hp.Choice("discriminator_learning_rate", [1e-4, 2e-4, 4e-4]),
            label_smoothing=hp.Choice("label_smoothing", [0.0, 0.1]),
        ),
        signature=registry.Signature(inputs=("z",), outputs=("image",), export="image_network", tolerance=1e-3),
        tiny=dict(filters=4, latent_dim=8, image_size=16),
        **common,
    )(face_gan)
    cifar = datasets.info_of("cifar10")
    registry.register(
        name="face_features", task="classification", dataset="cifar10", data=classifiers.classification_data,
        evaluate=blocks.evaluate_classifier, describe=classifiers.describe_classifier,
        constants=dict(input_shape=cifar.shape, num_classes=len(cifar.class_names)),
        defaults=dict(width=32, dropout_rate=0.2, label_smoothing=0.1, learning_rate=2e-3, weight_decay=5e-4),
        fit=dict(epochs=10, batch_size=128, schedule="onecycle", translate=0.1, flip=True),
        tiny=dict(width=4),
    )(face_features)


_register_all()
