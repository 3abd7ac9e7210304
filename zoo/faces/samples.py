"""Looking at a face model: sample grids, latent interpolations, VAE reconstructions.

Each epoch, :class:`SampleWriter` writes ``samples/epoch_NNN.png`` (64 faces from
the same z every epoch), ``samples/interpolation_NNN.png`` (two pairs of endpoints,
each as a linear row then a spherical row) and, for the VAE,
``samples/reconstructions_NNN.png`` (held-out faces beside their reconstructions)
into the run folder. The networks take ``z`` and return ``{"image": ...}`` in [0, 1].
"""

import pathlib

import keras
import numpy as np

from zoo.common import imagegrid


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
    same latent vectors so that epochs compare. ``previews`` are held-out faces for
    the model to reconstruct: only a VAE passes them.
    """

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
        if self.previews is not None:
            imagegrid.write_png(
                self.folder / f"reconstructions_{number}.png", reconstruction_grid(self.model, self.previews)
            )
