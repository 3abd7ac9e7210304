"""``face_gan``: the report's DCGAN of faces, with the stabilisers that keep it training.

The generator is the deconv net with a tanh (mapped to [0, 1] inside it), the
discriminator the conv net with one logit. Each discriminator step sees
``batch_size`` real and as many generated images, the report's 256-image batch;
see :class:`FaceGAN` for what keeps it stable. :class:`FaceGAN` subclasses
``keras.Model`` only to carry ``train_step``; the network that is sampled and
exported (``image_network``: the generator's weight average, or the generator) has
one input ``z`` and one output ``image`` in [0, 1], so it exports to ONNX without
random ops and serve samples ``z`` in numpy.
"""

import pathlib

import keras

from zoo import errors
from zoo.faces import augment as faces_augment
from zoo.faces import networks, samples


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
    - Differentiable augmentation (``augment``, see :mod:`zoo.faces.augment`): every
      image the discriminator sees, in both steps, is augmented the same random way,
      so that it cannot memorise 14,000 faces and the generator still learns faces,
      not augmented ones (Zhao et al., 2020).

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
        augment="", **kwargs,
    ):
        super().__init__(**kwargs)
        self.policy = faces_augment.parse_policy(augment)
        self.augment = ",".join(self.policy)
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
        self.trackers = {
            name: keras.metrics.Mean(name=name) for name in ("d_loss", "g_loss", "d_real", "d_fake", "noise")
        }
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

    # Under a mixed-precision policy the networks compute in bfloat16; images and
    # logits cross between them in float32, where augmentation and losses are computed.
    def _generate(self, z):
        return keras.ops.cast(self.generator(z, training=True)["image"], "float32") * 2.0 - 1.0

    def _judge(self, images):
        return keras.ops.cast(self.discriminator(images, training=True), "float32")

    def _seen(self, images, scale):
        """What the discriminator is shown: augmented, then with instance noise."""
        images = faces_augment.diff_augment(images, self.policy, self.seed_generator)
        return images + scale * keras.random.normal(keras.ops.shape(images), seed=self.seed_generator)

    def train_step(self, data):
        import tensorflow as tf

        real, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        batch = keras.ops.shape(real)[0]
        step = keras.ops.cast(self.discriminator_optimizer.iterations, "float32")
        scale = self.instance_noise * keras.ops.maximum(0.0, 1.0 - step / max(1, self.noise_decay_steps))

        z = keras.random.normal((batch, self.latent_dim), seed=self.seed_generator)
        generated = self._generate(z)
        images = self._seen(keras.ops.concatenate([real, generated], axis=0), scale)
        labels = keras.ops.concatenate(
            [keras.ops.full((batch, 1), 1.0 - self.label_smoothing), keras.ops.zeros((batch, 1))], axis=0
        )
        with tf.GradientTape() as tape:
            logits = self._judge(images)
            d_loss = keras.ops.mean(keras.ops.binary_crossentropy(labels, logits, from_logits=True))
        gradients = tape.gradient(d_loss, self.discriminator.trainable_weights)
        self.discriminator_optimizer.apply_gradients(zip(gradients, self.discriminator.trainable_weights))

        z = keras.random.normal((batch, self.latent_dim), seed=self.seed_generator)
        with tf.GradientTape() as tape:
            fake_logits = self._judge(self._seen(self._generate(z), scale))
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
            "augment": self.augment,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["generator"] = keras.saving.deserialize_keras_object(config["generator"])
        config["discriminator"] = keras.saving.deserialize_keras_object(config["discriminator"])
        return cls(**config)

    def extra_callbacks(self, run_dir, splits=None):
        """Per-epoch sample grids and interpolations into ``run_dir/samples``."""
        return [samples.SampleWriter(pathlib.Path(run_dir) / "samples")]


def face_gan(
    name, filters=64, latent_dim=128, image_size=64, kernel_size=3, taper=False, generator_learning_rate=2e-4,
    discriminator_learning_rate=2e-4, beta_1=0.5, label_smoothing=0.1, instance_noise=0.1, noise_decay_steps=2000,
    ema_decay=0.999, augment="",
):
    """The report's DCGAN: the deconv net (tanh) generates, the conv net (one logit)
    discriminates, 128 real + 128 generated images per discriminator step.

    The defaults are the report's GAN setup 1 (64 filters at constant width, 3x3
    transposed kernels, latent 128), which won on the offline metric and ships as
    ``faces.onnx`` (docs/faces.md); ``--hp filters=128`` is its setup 2.
    ``--hp taper=true --hp kernel_size=4 --hp filters=16`` is DCGAN's layout, wide
    where the maps are small: cheaper per step, and what shipped before.

    Args:
        name: the model's name.
        filters: channels of the (transposed) convolutions at full resolution
            (report: 64, 128, constant width).
        latent_dim: size of z (report: 128).
        image_size: the side of the square RGB images.
        kernel_size: kernel size of the generator's transposed convolutions (report: 3).
        taper: DCGAN's channel layout in both networks (see
            :func:`zoo.faces.networks.build_deconv_net`).
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
        augment: the discriminator's differentiable augmentation, some of
            ``color,translation,cutout`` (:mod:`zoo.faces.augment`); "" for none.

    Returns:
        A compiled :class:`FaceGAN`.
    """
    generator = networks.build_deconv_net(
        latent_dim, filters, image_size=image_size, kernel_size=kernel_size, batch_norm=True, out_activation="tanh",
        taper=taper, name="generator",
    )
    discriminator = networks.build_conv_net(
        (image_size, image_size, 3), 1, filters, activation="leaky_relu", out_activation=None, taper=taper,
        name="discriminator",
    )
    model = FaceGAN(
        generator, discriminator, generator_learning_rate=generator_learning_rate,
        discriminator_learning_rate=discriminator_learning_rate, beta_1=beta_1, label_smoothing=label_smoothing,
        instance_noise=instance_noise, noise_decay_steps=noise_decay_steps, ema_decay=ema_decay, augment=augment,
        name=name,
    )
    model.compile()
    return model
