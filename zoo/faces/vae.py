"""``face_vae``: the report's variational autoencoder of faces.

The encoder is the conv net to a mean and a log-variance, the decoder the deconv
net with a sigmoid; the loss is the negative ELBO per image, reconstruction
(Bernoulli cross-entropy summed over pixels) + ``kl_weight`` x KL(q(z|x) || N(0, I)).
:class:`FaceVAE` subclasses ``keras.Model`` only to carry ``train_step``; the
``decoder`` (one input ``z``, one output ``image`` in [0, 1]) is what gets exported.
"""

import pathlib

import keras

from zoo.faces import networks, samples


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
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction")
        self.kl_tracker = keras.metrics.Mean(name="kl")
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
        # float32 whatever the networks compute in (bfloat16 under mixed precision):
        # sampling and the losses need its range and precision.
        statistics = keras.ops.cast(self.encoder(images, training=training), "float32")
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
        reconstruction = keras.ops.cast(self.decoder(z, training=training)["image"], "float32")
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
        return [samples.SampleWriter(pathlib.Path(run_dir) / "samples", previews=previews)]


def face_vae(
    name, filters=128, latent_dim=64, kl_weight=1.0, learning_rate=1e-3, image_size=64, kernel_size=3, taper=False,
    batch_norm=False,
):
    """The report's VAE: the conv net encodes to a Gaussian posterior, the deconv net
    decodes z with a sigmoid; trained on the negative ELBO.

    The default is the report's setup 2 (128 filters, latent size 64).

    Args:
        name: the model's name.
        filters: channels of every (transposed) convolution (report: 128, 128, 256).
        latent_dim: size of z (report: 32, 64, 64).
        kl_weight: weight of the KL term (1 = the ELBO).
        learning_rate: Adam's learning rate.
        image_size: the side of the square RGB images.
        kernel_size: the decoder's transposed-convolution kernel size (report: 3).
        taper: DCGAN's channel layout in both networks (see
            :func:`zoo.faces.networks.build_deconv_net`).
        batch_norm: batch normalisation in both networks (the report has none).

    Returns:
        A compiled :class:`FaceVAE`.
    """
    encoder = networks.build_conv_net(
        (image_size, image_size, 3), 2 * latent_dim, filters, batch_norm=batch_norm, out_activation=None,
        taper=taper, name="encoder",
    )
    decoder = networks.build_deconv_net(
        latent_dim, filters, image_size=image_size, kernel_size=kernel_size, batch_norm=batch_norm, taper=taper,
        name="decoder",
    )
    model = FaceVAE(encoder, decoder, kl_weight=kl_weight, name=name)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate))
    return model
