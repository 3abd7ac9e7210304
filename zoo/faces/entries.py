"""The face entries (``face_vae``, ``face_gan``, ``face_features``) and what is done
with a trained face run: evaluation, the card's decoding facts, sample pictures.

The registry imports this module on its first lookup.
"""

import functools

import numpy as np

from zoo import blocks, classifiers, datasets, errors, registry
from zoo.common import imagegrid
from zoo.faces import data as faces_data
from zoo.faces import features, gan, metrics, samples, vae


def evaluate_faces(model, splits, config):
    """The registry's evaluator: distances of generated faces from held-out real faces.

    Draws as many z ~ N(0, I) (seed 2024, or ``eval_seed``, which also seeds the SWD's
    random projections) as there are test faces (at most ``eval_images``), and scores
    them with :func:`zoo.faces.metrics.distance_report`; a VAE also reports its
    held-out negative ELBO, and a GAN with a weight average also scores its trained
    generator on the same z (``raw_generator_*``). Without the feature network (see
    :mod:`zoo.faces.features`) only the SWD figures are computed, and
    ``feature_network`` says how to get the rest.
    """
    real = splits.test_arrays[0][: config.get("eval_images", faces_data.MAX_TEST)]
    seed = config.get("eval_seed")
    z_seed, projection_seed = (2024, 0) if seed is None else (seed, seed)
    network = model.image_network
    generated = samples.generate(network, imagegrid.latent_samples(len(real), model.latent_dim, seed=z_seed))
    feature_network = features.load_feature_network()
    figures = metrics.distance_report(real, generated, splits.reference, features=feature_network, seed=projection_seed)
    if feature_network is None:
        figures["feature_network"] = (
            f"not found at ${features.FEATURES_ENV} or {features.FEATURES_DEFAULT}: train it with `zoo train "
            f"face_features --data cifar10-jpg.zip --out {features.FEATURES_DEFAULT}` for the Frechet and kernel "
            "distances"
        )
    else:
        figures["feature_network"] = feature_network.path
    if isinstance(model, gan.FaceGAN) and model.ema_decay > 0:
        # The same z through the trained generator, so that what averaging bought is measured.
        raw = samples.generate(model.generator, imagegrid.latent_samples(len(real), model.latent_dim, seed=z_seed))
        scores = metrics.distances(real, {"model": raw}, feature_network, seed=projection_seed)["model"]
        figures.update({f"raw_generator_{key}": scores[key] for key in ("swd", "frechet", "kid") if key in scores})
    if isinstance(model, vae.FaceVAE):
        held_out = model.evaluate(splits.test, verbose=0, return_dict=True)
        figures["test_loss"] = float(held_out["loss"])
        figures["test_reconstruction"] = float(held_out["reconstruction"])
        figures["test_kl"] = float(held_out["kl"])
    return figures


class ExportedGenerator:
    """An exported generator (ONNX and card) in the shape the evaluator takes: its
    ``image_network`` maps ``z`` to ``{"image": float32 in [0, 1]}`` through
    onnxruntime, quantised to the 8 bits of the images serve writes."""

    def __init__(self, served, session):
        from serve import generate

        self.served, self.session = served, session
        self.latent_dim = generate.latent_dim(served)
        self.image_network = self

    def __call__(self, z, training=False):
        from serve import generate

        return {"image": generate.generate(self.session, self.served, z).astype(np.float32) / np.float32(255.0)}


def exported_generator(path, entry_name):
    """``(generator, hyperparameters)`` of an exported ``.onnx`` of ``entry_name``, from its card.

    Raises:
        ZooError: no such model, no card, or a card of another entry.
    """
    from serve import generate, models

    served, session = models.load(str(path), require="image")
    if served.entry != entry_name:
        raise errors.ZooError(f"{path} is an export of {served.entry}, not {entry_name}")
    # The real faces are loaded at the size the network draws.
    image_size = generate.image_shape(served)[0]
    return ExportedGenerator(served, session), {**(served.card.get("hparams") or {}), "image_size": image_size}


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
    if not isinstance(model, (gan.FaceGAN, vae.FaceVAE)):
        raise errors.ZooError(f"{model_dir} holds {model.name}, not a face_gan or face_vae model")
    network = model.image_network
    if kind == "grid":
        picture = samples.sample_grid(network, count, seed, columns)
    elif kind == "interpolation":
        picture = samples.interpolation_grid(network, steps=steps, pairs=pairs, seed=seed)
    else:
        if not isinstance(model, vae.FaceVAE):
            raise errors.ZooError("reconstructions need a VAE (face_vae); a GAN has no encoder")
        config = config or {}
        faces = faces_data.load_faces(data, image_size=config.get("image_size", 64), crop=config.get("crop", "auto"))
        _, test_index = faces_data.split_indices(len(faces.images))
        picture = samples.reconstruction_grid(model, faces.images[test_index[:count]], columns=columns or 8)
    return imagegrid.write_png(out, picture)


def _register_all():
    # No defaults= here: each entry's defaults are its builder's keyword defaults.
    common = dict(task="generation", dataset="celeba", evaluate=evaluate_faces, describe=describe_generator,
                  load_export=exported_generator)
    registry.register(
        name="face_vae",
        data=functools.partial(faces_data.face_data, value_range=(0.0, 1.0), validation=True),
        fit=dict(epochs=10, batch_size=128, crop="auto", eval_images=faces_data.MAX_TEST),
        space=lambda hp: dict(
            filters=hp.Choice("filters", [64, 128]),
            latent_dim=hp.Choice("latent_dim", [32, 64, 128]),
            kl_weight=hp.Choice("kl_weight", [0.5, 1.0]),
        ),
        signature=registry.Signature(inputs=("z",), outputs=("image",), export="decoder", tolerance=1e-3),
        tiny=dict(filters=4, latent_dim=8, image_size=16),
        **common,
    )(vae.face_vae)
    registry.register(
        name="face_gan",
        data=functools.partial(faces_data.face_data, value_range=(-1.0, 1.0), validation=False),
        # The report's 20 epochs; the defaults are what ships (serve/release/faces.onnx).
        fit=dict(epochs=20, batch_size=128, crop="auto", eval_images=faces_data.MAX_TEST, flip=False),
        space=lambda hp: dict(
            filters=hp.Choice("filters", [32, 64]),
            discriminator_learning_rate=hp.Choice("discriminator_learning_rate", [1e-4, 2e-4, 4e-4]),
            label_smoothing=hp.Choice("label_smoothing", [0.0, 0.1]),
        ),
        signature=registry.Signature(inputs=("z",), outputs=("image",), export="image_network", tolerance=1e-3),
        tiny=dict(filters=4, latent_dim=8, image_size=16),
        **common,
    )(gan.face_gan)
    cifar = datasets.info_of("cifar10")
    registry.register(
        name="face_features", task="classification", dataset="cifar10", data=classifiers.classification_data,
        evaluate=blocks.evaluate_classifier, describe=classifiers.describe_classifier,
        constants=dict(input_shape=cifar.shape, num_classes=len(cifar.class_names)),
        fit=dict(epochs=10, batch_size=128, schedule="onecycle", translate=0.1, flip=True),
        tiny=dict(width=4),
    )(features.face_features)


_register_all()
