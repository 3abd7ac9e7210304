"""The face family: a VAE and a GAN that generate 64x64 faces (CelebA).

- :mod:`zoo.faces.data`: CelebA loading, the face crop, the fixed train/test split.
- :mod:`zoo.faces.networks`: the report's conv and deconv network builders.
- :mod:`zoo.faces.vae`: ``face_vae`` (:class:`~zoo.faces.vae.FaceVAE`).
- :mod:`zoo.faces.gan`: ``face_gan`` (:class:`~zoo.faces.gan.FaceGAN`).
- :mod:`zoo.faces.samples`: sample grids, interpolations, reconstructions, the per-epoch writer.
- :mod:`zoo.faces.metrics`: numpy-only image distances (SWD, Fréchet, kernel) and the
  floor-and-ceiling distance report.
- :mod:`zoo.faces.features`: ``face_features``, the network behind the Fréchet and kernel distances.
- :mod:`zoo.faces.entries`: the registry entries, their evaluation and card facts, ``write_samples``.
- :mod:`zoo.faces.cli`: ``zoo faces-sample``.

Nothing here imports TensorFlow: the registry imports :mod:`zoo.faces.entries` on
its first lookup.
"""
