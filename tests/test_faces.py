"""The faces family on tiny generated "faces" (ellipses with eyes and a mouth):
loading, models, checkpoint resume, samples, metrics, the CLI."""

import io
import json
import zipfile

import numpy as np
import pytest

from conftest import assert_one_line_error, run_zoo
from zoo import errors
from zoo.common import imagegrid
from zoo.faces import metrics

FULL = (178, 218)
HALF = (89, 109)


def draw_face(size, rng):
    """A cartoon face: a skin-coloured ellipse with two eyes and a mouth, on a random background."""
    from PIL import Image, ImageDraw

    width, height = size
    image = Image.new("RGB", size, tuple(int(value) for value in rng.integers(0, 255, 3)))
    draw = ImageDraw.Draw(image)
    sx, sy = width / FULL[0], height / FULL[1]
    skin = tuple(int(value) for value in rng.integers(150, 240, 3))
    jitter = rng.uniform(-6, 6, 2)
    cx, cy = (89 + jitter[0]) * sx, (115 + jitter[1]) * sy
    draw.ellipse([cx - 45 * sx, cy - 58 * sy, cx + 45 * sx, cy + 58 * sy], fill=skin)
    for side in (-1, 1):
        draw.ellipse([cx + side * 20 * sx - 6 * sx, cy - 12 * sy, cx + side * 20 * sx + 6 * sx, cy], fill=(20, 20, 20))
    draw.rectangle([cx - 16 * sx, cy + 28 * sy, cx + 16 * sx, cy + 34 * sy], fill=(150, 30, 30))
    return image


def jpeg(image):
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=95)
    return buffer.getvalue()


@pytest.fixture(scope="session")
def celeba(tmp_path_factory):
    """64 faces in CelebA's layout (48 at 178x218, 16 at half resolution), as
    ``img_align_celeba/`` and as ``img_align_celeba.zip``."""
    root = tmp_path_factory.mktemp("celeba")
    folder = root / "img_align_celeba"
    folder.mkdir()
    archive = root / "img_align_celeba.zip"
    rng = np.random.default_rng(0)
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("img_align_celeba/", "")
        for index in range(1, 65):
            blob = jpeg(draw_face(FULL if index <= 48 else HALF, rng))
            (folder / f"{index:06d}.jpg").write_bytes(blob)
            zipped.writestr(f"img_align_celeba/{index:06d}.jpg", blob)
    return folder, archive


TINY = {"filters": 4, "latent_dim": 8, "image_size": 16, "batch_size": 8, "eval_images": 16}


# ----------------------------------------------------------------------------- data


def test_face_box_scales_with_the_image():
    from zoo.faces import data

    assert data.face_box(178, 218) == (19.0, 40.0, 159.0, 180.0)
    assert data.face_box(89, 109) == pytest.approx((9.5, 20.0, 79.5, 90.0))
    assert data.face_box(100, 60, "auto") == (20.0, 0.0, 80.0, 60.0)  # not CelebA's shape: central square
    assert data.face_box(178, 218, "none") == (0.0, 0.0, 178.0, 218.0)
    with pytest.raises(errors.ZooError, match="crop must be one of"):
        data.face_box(178, 218, "sideways")


def test_folder_and_zip_give_the_same_faces(celeba):
    from PIL import Image

    from zoo.faces import data

    folder, archive = celeba
    from_folder = data.load_faces(folder)
    from_zip = data.load_faces(archive)
    from_parent = data.load_faces(folder.parent)  # a folder holding img_align_celeba/
    assert from_folder.images.shape == (64, 64, 64, 3) and from_folder.images.dtype == np.uint8
    np.testing.assert_array_equal(from_folder.images, from_zip.images)
    np.testing.assert_array_equal(from_folder.images, from_parent.images)
    assert from_zip.names[0] == "img_align_celeba/000001.jpg"
    # The crop is CelebA's face box, proportional at half resolution.
    with Image.open(folder / "000001.jpg") as image:
        expected = np.asarray(image.convert("RGB").resize((64, 64), Image.BILINEAR, box=(19, 40, 159, 180)))
    np.testing.assert_array_equal(from_folder.images[0], expected)
    with Image.open(folder / "000060.jpg") as image:
        assert image.size == HALF
        expected = np.asarray(image.convert("RGB").resize((64, 64), Image.BILINEAR, box=(9.5, 20, 79.5, 90)))
    np.testing.assert_array_equal(from_folder.images[59], expected)
    # The size is configurable.
    assert data.load_faces(archive, image_size=32).images.shape == (64, 32, 32, 3)


def test_decoded_faces_are_cached(celeba, monkeypatch):
    from zoo import datasets
    from zoo.faces import data

    _, archive = celeba
    first = data.load_faces(archive, image_size=16, crop="center")
    assert len(list(datasets.cache_dir().glob("faces-*.npz"))) >= 1

    def refuse(*args):
        raise AssertionError("decoded again instead of reading the cache")

    monkeypatch.setattr(data, "_decode_face", refuse)
    again = data.load_faces(archive, image_size=16, crop="center")
    np.testing.assert_array_equal(first.images, again.images)
    with pytest.raises(AssertionError, match="decoded again"):
        data.load_faces(archive, image_size=16, crop="none")  # another crop is another cache entry


def test_splits_are_fixed_disjoint_and_scaled(celeba):
    from zoo.faces import data

    loaded = data.load_faces(celeba[1], image_size=16)
    splits = data.face_splits(loaded, batch_size=8, value_range=(-1.0, 1.0), validation=False)
    assert splits.info["train"] + splits.info["test"] == 64 and splits.val is None
    train_index, test_index = data.split_indices(64)
    assert not set(train_index) & set(test_index)
    np.testing.assert_array_equal(splits.test_arrays[0], loaded.images[test_index])
    assert len(splits.reference) == len(test_index)
    test_rows = {row.tobytes() for row in splits.test_arrays[0]}
    assert not any(row.tobytes() in test_rows for row in splits.reference)
    batch = next(iter(splits.train))
    assert batch.shape == (8, 16, 16, 3) and batch.dtype.name == "float32"
    assert -1.0 <= float(np.min(batch)) and float(np.max(batch)) <= 1.0 and float(np.min(batch)) < -0.5
    limited = data.face_splits(loaded, batch_size=8, limit=20)
    assert limited.info["train"] == 20 and limited.info["test"] == 5 and limited.steps_per_epoch == 2


def test_flip_mirrors_some_training_faces_and_never_the_test_faces(celeba):
    from zoo.faces import data

    loaded = data.load_faces(celeba[1], image_size=16)
    splits = data.face_splits(loaded, batch_size=58, value_range=(0.0, 1.0), flip=True)
    train_index, test_index = data.split_indices(64)
    faces = {face.tobytes(): "as is" for face in loaded.images[train_index]}
    faces.update({face[:, ::-1].tobytes(): "mirrored" for face in loaded.images[train_index]})
    seen = [faces[np.rint(np.asarray(face) * 255).astype(np.uint8).tobytes()] for face in next(iter(splits.train))]
    assert 10 < seen.count("mirrored") < 48
    np.testing.assert_array_equal(np.rint(np.concatenate(list(splits.test)) * 255), loaded.images[test_index])


@pytest.mark.parametrize(
    "make_bad, fragment",
    [
        (lambda path: path.write_bytes(b"not a zip at all"), "corrupt or unreadable"),
        (lambda path: zipfile.ZipFile(path, "w").writestr("img_align_celeba/readme.txt", "no images"),
         "holds no images"),
        (lambda path: zipfile.ZipFile(path, "w").writestr("img_align_celeba/000001.jpg", b"\xff\xd8broken"),
         "cannot decode"),
    ],
    ids=["not-a-zip", "no-images", "corrupt-jpeg"],
)
def test_bad_face_data_is_a_data_error(tmp_path, make_bad, fragment):
    from zoo.faces import data

    path = tmp_path / "img_align_celeba.zip"
    make_bad(path)
    with pytest.raises(errors.DataError, match=fragment):
        data.load_faces(path)


def test_missing_face_data(tmp_path):
    from zoo.faces import data

    with pytest.raises(errors.DataError, match="does not exist"):
        data.load_faces(tmp_path / "nothing.zip")
    with pytest.raises(errors.DataError, match="no face data found"):
        data.load_faces(None)


def test_cli_bad_face_data_is_one_line(tmp_path):
    bad = tmp_path / "img_align_celeba.zip"
    bad.write_bytes(b"garbage")
    result = run_zoo("train", "face_gan", "--data", bad, "--epochs", "1", "--out", tmp_path / "run")
    assert_one_line_error(result, "corrupt or unreadable")
    assert not (tmp_path / "run").exists()


# ----------------------------------------------------------------------------- models


def test_networks_follow_the_report():
    import keras

    from zoo.faces import networks

    encoder = networks.build_conv_net((64, 64, 3), 64, filters=128)
    convolutions = [layer for layer in encoder.layers if isinstance(layer, keras.layers.Conv2D)]
    # The notebook's first convolution plus its four downsampling layers: 64 -> 2.
    assert len(convolutions) == 5 and encoder.get_layer("conv_net_flatten").output.shape[-1] == 2 * 2 * 128
    decoder = networks.build_deconv_net(32, filters=128)
    assert [tensor.name for tensor in decoder.inputs] == ["z"] and list(decoder.output) == ["image"]
    assert sum(isinstance(layer, keras.layers.Conv2DTranspose) for layer in decoder.layers) == 4
    assert decoder.get_layer("deconv_net_reshape").output.shape[1:] == (4, 4, 64)
    with pytest.raises(errors.ZooError, match="image_size"):
        networks.build_deconv_net(8, filters=4, image_size=48)


@pytest.mark.parametrize("name", ["face_gan", "face_vae"])
def test_model_trains_one_step_and_generates_unit_range_images(name):
    import keras

    from zoo import registry

    entry = registry.get(name)
    model = entry.build(entry.resolve(entry.tiny))
    network = getattr(model, entry.signature.export)
    assert [tensor.name for tensor in network.inputs] == ["z"] and list(network.output) == ["image"]
    z = np.random.default_rng(0).standard_normal((4, 8)).astype("float32") * 3
    image = np.asarray(network(z)["image"])
    assert image.shape == (4, 16, 16, 3) and image.dtype == np.float32
    assert image.min() >= 0.0 and image.max() <= 1.0
    before = [np.array(variable) for variable in model.trainable_variables]
    low = -1.0 if name == "face_gan" else 0.0
    real = np.random.default_rng(1).uniform(low, 1.0, (8, 16, 16, 3)).astype("float32")
    logs = model.train_on_batch(real, return_dict=True)
    assert all(np.isfinite(value) for value in logs.values())
    changed = [not np.array_equal(old, np.array(new)) for old, new in zip(before, model.trainable_variables)]
    # Every network (generator and discriminator, encoder and decoder) took a step.
    assert all(changed), [variable.path for variable, moved in zip(model.trainable_variables, changed) if not moved]
    assert isinstance(model, keras.Model)


@pytest.mark.parametrize("name", ["face_gan", "face_vae"])
def test_model_trains_in_bfloat16_and_its_float32_twin_generates_alike(name):
    from zoo import registry, training

    entry = registry.get(name)
    config = entry.resolve(entry.tiny, {"augment": "color,translation,cutout"} if name == "face_gan" else {})
    with training.dtype_policy("mixed_bfloat16"):
        model = entry.build(config)
    real = np.random.default_rng(1).uniform(0.0, 1.0, (8, 16, 16, 3)).astype("float32")
    logs = model.train_on_batch(real, return_dict=True)
    assert all(np.isfinite(value) for value in logs.values())
    twin = training.float32_twin(entry, config, model)
    z = np.random.default_rng(0).standard_normal((4, 8)).astype("float32")
    network, twin_network = getattr(model, entry.signature.export), getattr(twin, entry.signature.export)
    assert twin_network.weights[0].dtype == "float32"
    np.testing.assert_allclose(np.asarray(twin_network(z)["image"]), np.asarray(network(z)["image"], "float32"),
                               atol=0.05)


def test_gan_discriminator_sees_real_and_generated_halves():
    from zoo import registry

    entry = registry.get("face_gan")
    model = entry.build(entry.resolve(entry.tiny, {"label_smoothing": 0.0, "instance_noise": 0.0}))
    seen = []
    discriminator = model.discriminator
    original = discriminator.call

    def spy(inputs, *args, **kwargs):
        seen.append(tuple(inputs.shape))
        return original(inputs, *args, **kwargs)

    discriminator.call = spy
    model.train_on_batch(np.zeros((8, 16, 16, 3), "float32"))
    assert seen[0] == (16, 16, 16, 3) and seen[1] == (8, 16, 16, 3)


def test_gan_samples_an_average_of_the_generator_weights(tmp_path):
    import keras

    from zoo import registry
    from zoo.faces import gan

    entry = registry.get("face_gan")
    model = entry.build(entry.resolve(entry.tiny))
    assert model.image_network is model.ema_generator and model.ema_decay == 0.999
    assert not model.ema_generator.trainable_weights  # the optimisers never touch it
    start = [np.array(weight) for weight in model.generator.weights]
    model.train_on_batch(np.zeros((8, 16, 16, 3), "float32"))
    stepped = [np.array(weight) for weight in model.generator.weights]
    decay = 2.0 / 11.0  # the warm-up ramp (1 + step) / (10 + step) after step 1
    moved = 0
    for before, after, average in zip(start, stepped, model.ema_generator.weights):
        np.testing.assert_allclose(np.array(average), decay * before + (1 - decay) * after, rtol=1e-5, atol=1e-6)
        moved += not np.allclose(before, after)
    assert moved > 5
    # The average survives a save and load, and is still what gets sampled.
    model.save(tmp_path / "gan.keras")
    loaded = keras.models.load_model(tmp_path / "gan.keras")
    assert loaded.image_network is loaded.ema_generator
    for average, reloaded in zip(model.ema_generator.weights, loaded.ema_generator.weights):
        np.testing.assert_array_equal(np.array(average), np.array(reloaded))
    # ema_decay=0, and models saved before the average existed, sample the generator.
    plain = entry.build(entry.resolve(entry.tiny, {"ema_decay": 0.0}))
    assert plain.image_network is plain.generator and not hasattr(plain, "ema_generator")
    config = model.get_config()
    del config["ema_decay"]
    old = gan.FaceGAN.from_config(config)
    assert old.image_network is old.generator
    with pytest.raises(errors.ZooError, match="ema_decay"):
        entry.build(entry.resolve(entry.tiny, {"ema_decay": 1.0}))


def test_diff_augment_shifts_and_cuts_each_image_and_passes_gradients():
    import keras
    import tensorflow as tf

    from zoo.faces import augment

    # Every pixel distinct and non-zero, so a shift or a cut can be read back exactly.
    images = np.arange(1, 6 * 16 * 16 + 1, dtype="float32").reshape(6, 16, 16, 1)
    seed = keras.random.SeedGenerator(3)
    shifted = np.asarray(augment.diff_augment(images, ("translation",), seed))
    shifts = set()
    for image, result in zip(images, shifted):
        padded = np.pad(image, ((2, 2), (2, 2), (0, 0)))  # 1/8 of 16 pixels
        found = [(dy, dx) for dy in range(5) for dx in range(5)
                 if np.array_equal(padded[dy:dy + 16, dx:dx + 16], result)]
        assert len(found) == 1
        shifts.add(found[0])
    assert len(shifts) > 1  # drawn per image
    cut = np.asarray(augment.diff_augment(images, ("cutout",), seed))
    for image, result in zip(images, cut):
        zeros = np.argwhere(result[..., 0] == 0)
        assert 0 < len(zeros) <= 64
        (top, left), (bottom, right) = zeros.min(axis=0), zeros.max(axis=0)
        assert len(zeros) == (bottom - top + 1) * (right - left + 1)  # one rectangle
        np.testing.assert_array_equal(result[result != 0], image[result != 0])
    colour = tf.constant(np.random.default_rng(0).uniform(-1, 1, (4, 16, 16, 3)).astype("float32"))
    with tf.GradientTape() as tape:
        tape.watch(colour)
        augmented = augment.diff_augment(colour, augment.POLICIES, seed)
        total = tf.reduce_sum(augmented)
    assert augmented.shape == colour.shape and np.all(np.isfinite(np.asarray(tape.gradient(total, colour))))
    assert augment.parse_policy("color, cutout") == ("color", "cutout") and augment.parse_policy("") == ()
    with pytest.raises(errors.ZooError, match="augment must list some of color, translation, cutout"):
        augment.parse_policy("color,flip")


def test_gan_discriminator_sees_augmented_images_in_both_steps(tmp_path):
    import keras

    from zoo import registry

    entry = registry.get("face_gan")
    model = entry.build(entry.resolve(entry.tiny, {"augment": "cutout", "instance_noise": 0.0}))
    # A tiny generator's pixel whose features are all dead comes out exactly 0 (tanh(0)),
    # which would pass for a cutout: a bias keeps generated pixels off zero.
    to_rgb = model.generator.get_layer("generator_to_rgb")
    to_rgb.bias.assign(np.full(to_rgb.bias.shape, 0.05, "float32"))
    seen = []
    original = model.discriminator.call

    def spy(inputs, *args, **kwargs):
        seen.append(inputs)
        return original(inputs, *args, **kwargs)

    model.discriminator.call = spy
    # Real faces with no zero anywhere: a zero square is the cutout's.
    real = np.random.default_rng(1).uniform(0.1, 1.0, (8, 16, 16, 3)).astype("float32")
    model.run_eagerly = True
    logs = model.train_on_batch(real, return_dict=True)
    assert all(np.isfinite(value) for value in logs.values())
    discriminator_step, generator_step = (np.asarray(images) for images in seen)
    for images in (discriminator_step[:8], discriminator_step[8:], generator_step):
        assert all(0 < (image == 0).all(axis=-1).sum() <= 64 for image in images)
    model.save(tmp_path / "gan.keras")
    assert keras.models.load_model(tmp_path / "gan.keras").augment == "cutout"
    with pytest.raises(errors.ZooError, match="augment must list some of"):
        entry.build(entry.resolve(entry.tiny, {"augment": "rotate"}))


def _state(model):
    networks = [
        model.generator, model.ema_generator, model.discriminator, model.generator_optimizer,
        model.discriminator_optimizer,
    ]
    return [np.array(variable) for network in networks for variable in network.variables]


def test_checkpoint_resumes_both_networks_and_optimizers(celeba, tmp_path, monkeypatch):
    import keras

    from zoo import training
    from zoo.faces import data, gan

    saved = {}
    resumed = {}

    class Interrupt(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            saved["state"] = _state(self.model)
            raise RuntimeError("power cut after epoch 1")

    class Observe(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            resumed["state"] = _state(self.model)

        def on_epoch_begin(self, epoch, logs=None):
            resumed.setdefault("epochs", []).append(epoch)

    out = tmp_path / "gan"
    overrides = {key: TINY[key] for key in ("filters", "latent_dim", "image_size", "batch_size")}
    # BackupAndRestore precedes the extra callbacks, so epoch 1 is saved before the cut.
    monkeypatch.setattr(gan.FaceGAN, "extra_callbacks", lambda self, run_dir, splits=None: [Interrupt()])
    with pytest.raises(RuntimeError, match="power cut"):
        training.train("face_gan", data=celeba[1], epochs=2, overrides=overrides, out=out, verbose=0, plots=False)
    assert (tmp_path / "gan.partial" / "backup").is_dir() and not out.exists()

    monkeypatch.setattr(gan.FaceGAN, "extra_callbacks", lambda self, run_dir, splits=None: [Observe()])
    result = training.train("face_gan", data=celeba[1], epochs=2, overrides=overrides, out=out, verbose=0, plots=False)
    assert resumed["epochs"] == [1]
    assert len(saved["state"]) == len(resumed["state"]) > 20
    for before, after in zip(saved["state"], resumed["state"]):
        np.testing.assert_array_equal(before, after)
    # The optimisers' step counters survived too: two full epochs of steps in all.
    steps = len(data.split_indices(64)[0]) // overrides["batch_size"]
    model, _ = training.load_run(out)
    assert int(model.generator_optimizer.iterations) == 2 * steps == int(model.discriminator_optimizer.iterations)
    assert json.loads((out / "history.json").read_text())["d_loss"] and result["epochs"] == 2
    # The evaluation scores the average and, on the same z, the trained generator.
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["swd"] > 0 and metrics["raw_generator_swd"] > 0 and metrics["swd"] != metrics["raw_generator_swd"]
    # `zoo evaluate --seed` re-draws z and the projections: same seed, same figures; another, other figures.
    redrawn = training.evaluate("face_gan", out, data=celeba[1], seed=7)
    assert training.evaluate("face_gan", out, data=celeba[1], seed=7)["swd"] == redrawn["swd"] != metrics["swd"]
    assert training.evaluate("face_gan", out, data=celeba[1])["swd"] == pytest.approx(metrics["swd"], rel=1e-6)


# ----------------------------------------------------------------------------- training, CLI


def test_vae_trains_samples_and_evaluates_through_the_cli(celeba, tmp_path):
    out = tmp_path / "vae"
    hp = [f"--hp={key}={value}" for key, value in TINY.items()]
    result = run_zoo("train", "face_vae", "--data", celeba[1], "--epochs", "2", *hp, "--out", out, "--quiet")
    assert result.returncode == 0, result.stderr
    for name in ("epoch_001.png", "epoch_002.png", "interpolation_002.png", "reconstructions_002.png"):
        assert (out / "samples" / name).exists(), name
    metrics = json.loads((out / "metrics.json").read_text())
    assert {"swd", "swd_floor", "swd_ceiling_noise", "swd_ceiling_shuffled", "test_loss"} <= set(metrics)
    assert metrics["swd_floor"] < min(metrics["swd_ceiling_noise"], metrics["swd_ceiling_shuffled"])
    history = json.loads((out / "history.json").read_text())
    assert {"loss", "reconstruction", "kl", "val_loss"} <= set(history)
    run = json.loads((out / "run.json").read_text())
    assert run["samples_per_second"] > 0

    figures = tmp_path / "figures.json"
    evaluated = run_zoo("evaluate", "face_vae", "--model", out, "--data", celeba[1], "--out", figures)
    assert evaluated.returncode == 0, evaluated.stderr
    assert "swd_floor" in evaluated.stdout
    assert json.loads(figures.read_text())["swd"] == pytest.approx(metrics["swd"], rel=1e-6)

    grid = tmp_path / "grid.png"
    sampled = run_zoo("faces-sample", "--model", out, "--out", grid, "--count", "6", "--columns", "3")
    assert sampled.returncode == 0, sampled.stderr
    assert_one_line_error(run_zoo("faces-sample", "--model", tmp_path / "none", "--out", grid), "no model")

    from PIL import Image

    from zoo.faces import entries

    with Image.open(grid) as picture:
        assert picture.size == (3 * 18 + 2, 2 * 18 + 2)  # 16-pixel images, 2-pixel padding
    strip = entries.write_samples(out, tmp_path / "strip.png", kind="interpolation", steps=5, pairs=1)
    with Image.open(strip) as picture:
        assert picture.size == (5 * 18 + 2, 2 * 18 + 2)  # a linear row and a spherical row
    recon = entries.write_samples(out, tmp_path / "recon.png", kind="reconstructions", count=4, data=celeba[1])
    with Image.open(recon) as picture:
        assert picture.size == (8 * 18 + 2, 18 + 2)  # four pairs in a row
    with pytest.raises(errors.ZooError, match="--steps"):
        entries.write_samples(out, tmp_path / "x.png", kind="interpolation", steps=1)


def test_describe_matches_the_card_contract():
    from zoo import registry

    for name in ("face_gan", "face_vae"):
        entry = registry.get(name)
        described = entry.describe(entry, entry.resolve())
        assert described == {
            "kind": "image", "input": "z", "latent_dim": entry.defaults["latent_dim"], "output": "image",
            "output_range": [0, 1], "prior": "standard_normal",
        }
        assert entry.signature.inputs == ("z",) and entry.signature.outputs == ("image",)


# ----------------------------------------------------------------------------- metrics


@pytest.fixture(scope="module")
def face_sets():
    """Two disjoint samples of cartoon faces at 32x32, as uint8."""
    rng = np.random.default_rng(3)
    images = [np.asarray(draw_face(FULL, rng).resize((32, 32), box=(19, 40, 159, 180))) for _ in range(96)]
    images = np.stack(images)
    return images[:48], images[48:]


def test_swd_is_zero_to_itself_and_orders_floor_below_ceilings(face_sets):
    first, second = face_sets
    options = dict(patches_per_image=32, seed=0)
    assert metrics.sliced_wasserstein(first, first, **options)["swd"] == 0.0
    result = metrics.sliced_wasserstein_many(
        first,
        {"floor": second, "noise": metrics.gaussian_noise(first), "shuffled": metrics.shuffled_pixels(second)},
        **options,
    )
    assert set(result["floor"]) == {"swd_32", "swd_16", "swd"}
    assert result["floor"]["swd"] < result["noise"]["swd"] and result["floor"]["swd"] < result["shuffled"]["swd"]
    # More noise added to the same faces: farther from the real ones.
    rng = np.random.default_rng(0)
    distances = [
        metrics.sliced_wasserstein(first, np.clip(second / 255.0 + rng.normal(0, sigma, second.shape), 0, 1),
                                   **options)["swd"]
        for sigma in (0.0, 0.05, 0.15, 0.4)
    ]
    assert distances == sorted(distances), distances


def test_frechet_and_kernel_distances():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(400, 6))
    assert metrics.frechet_distance(features, features) == pytest.approx(0.0, abs=1e-9)
    # Two Gaussians with a known gap: |mu|^2 + tr(C1 + C2 - 2 sqrt(C1 C2)) = 4 + 6 * (1 - 2 + 4 - 2 * 2) ... exactly:
    first = rng.normal(size=(20000, 2))
    second = rng.normal(size=(20000, 2)) * 2 + np.array([2.0, 0.0])
    # mean gap 4; each axis contributes 1 + 4 - 2 * 2 = 1.
    assert metrics.frechet_distance(first, second) == pytest.approx(6.0, rel=0.03)
    shifts = [metrics.frechet_distance(features, features + shift) for shift in (0.1, 0.5, 1.0)]
    assert shifts == sorted(shifts)
    same = metrics.kernel_distance(features[:200], features[200:], subset_size=200)
    different = metrics.kernel_distance(features[:200], features[200:] + 1.0, subset_size=200)
    assert abs(same) < different
    with pytest.raises(ValueError, match="same D"):
        metrics.frechet_distance(features, features[:, :3])


def test_distance_report_with_a_trained_feature_network(face_sets, cifar_npz, tmp_path, monkeypatch):
    from zoo import training
    from zoo.faces import features

    run = tmp_path / "features"
    training.train("face_features", data=cifar_npz, epochs=1, overrides={"width": 4}, out=run, verbose=0, plots=False)
    monkeypatch.setenv(features.FEATURES_ENV, str(run))
    network = features.load_feature_network()
    real, other = face_sets
    vectors = network(real)
    assert vectors.shape == (48, 16)  # width 4 -> 16 pooled channels
    report = metrics.distance_report(real, other / 255.0, other, features=network)
    for metric in ("swd", "frechet", "kid"):
        assert {metric, f"{metric}_floor", f"{metric}_ceiling_noise", f"{metric}_ceiling_shuffled",
                f"{metric}_relative"} <= set(report)
    assert report["frechet"] == pytest.approx(report["frechet_floor"])  # the "model" here is the reference itself
    assert report["frechet_floor"] < report["frechet_ceiling_noise"]


# ----------------------------------------------------------------------------- grids


def test_tile_and_side_by_side_shapes():
    grid = imagegrid.tile(np.ones((5, 4, 6, 3)), columns=2, padding=1, background=0)
    assert grid.shape == (3 * 5 + 1, 2 * 7 + 1, 3) and grid.dtype == np.uint8
    assert grid[1, 1, 0] == 255 and grid[0, 0, 0] == 0  # image pixels and padding
    assert grid[-5:-1, 8:14].max() == 0  # the sixth cell is empty
    pairs = imagegrid.side_by_side(np.zeros((3, 4, 4, 3)), np.ones((3, 4, 4, 3)), columns=3, padding=0)
    assert pairs.shape == (4, 24, 3)
    assert pairs[0, :4].max() == 0 and pairs[0, 4:8].min() == 255
    with pytest.raises(ValueError, match="non-empty batch"):
        imagegrid.tile(np.zeros((0, 4, 4, 3)))


def test_interpolations_hit_the_endpoints_and_keep_norms():
    start, end = imagegrid.latent_samples(2, 64, seed=5)
    for kind in imagegrid.INTERPOLATIONS:
        path = imagegrid.interpolate(start, end, 7, kind)
        np.testing.assert_allclose(path[0], start, atol=1e-5)
        np.testing.assert_allclose(path[-1], end, atol=1e-5)
    linear = imagegrid.lerp(start, end, 7)
    spherical = imagegrid.slerp(start, end, 7)
    # Linear midpoints shrink towards the origin; spherical ones keep the norm.
    assert np.linalg.norm(linear[3]) < 0.9 * min(np.linalg.norm(start), np.linalg.norm(end))
    expected = (np.linalg.norm(start) + np.linalg.norm(end)) / 2
    assert np.linalg.norm(spherical[3]) == pytest.approx(expected, rel=1e-4)
    # The report's listing 6, element by element, for one t.
    t = 1 / 3
    np.testing.assert_allclose(imagegrid.lerp(start, end, 4)[1], [(1 - t) * a + t * b for a, b in zip(start, end)],
                               rtol=1e-5)
    assert imagegrid.interpolation_latents(8, steps=5, pairs=3).shape == (30, 8)


def test_write_png_round_trips(tmp_path):
    from PIL import Image

    picture = imagegrid.tile(np.random.default_rng(0).uniform(size=(4, 8, 8, 3)), columns=2)
    path = imagegrid.write_png(tmp_path / "deep" / "grid.png", picture)
    with Image.open(path) as image:
        np.testing.assert_array_equal(np.asarray(image), picture)
    assert not list((tmp_path / "deep").glob(".*partial"))


# ----------------------------------------------------------------------------- nearest training faces


def onnx_generator(folder, size, latent_dim=4, copy=None, kind="image", trained=None):
    """A tiny ONNX generator and its card, built with onnx's helper (no training): z to
    the sigmoid of a fixed random projection, or, given ``copy`` (a uint8 face), that
    very face for every z. ``trained``: the (train, test) counts its card records."""
    import hashlib

    import onnx
    from onnx import TensorProto, helper, numpy_helper

    folder.mkdir(parents=True, exist_ok=True)
    weights = np.random.default_rng(0).standard_normal((latent_dim, size * size * 3)).astype(np.float32)
    constants = [numpy_helper.from_array(weights, "weights"),
                 numpy_helper.from_array(np.array([-1, size, size, 3], np.int64), "shape")]
    nodes = [helper.make_node("MatMul", ["z", "weights"], ["projected"]),
             helper.make_node("Reshape", ["projected", "shape"], ["grid"])]
    if copy is None:
        nodes.append(helper.make_node("Sigmoid", ["grid"], ["image"]))
    else:
        constants += [numpy_helper.from_array(np.zeros((1,), np.float32), "zero"),
                      numpy_helper.from_array((copy[None] / 255.0).astype(np.float32), "face")]
        nodes += [helper.make_node("Mul", ["grid", "zero"], ["nothing"]),
                  helper.make_node("Add", ["nothing", "face"], ["image"])]
    graph = helper.make_graph(
        nodes, "tiny_generator", [helper.make_tensor_value_info("z", TensorProto.FLOAT, [None, latent_dim])],
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [None, size, size, 3])], constants)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=9)
    path = folder / "model.onnx"
    onnx.save(model, path)
    train, test = trained or (None, None)
    card = {
        "format": "zoo-card/1", "entry": "face_gan", "task": "generation", "onnx_file": "model.onnx",
        "onnx_sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "inputs": [{"name": "z", "shape": [None, latent_dim], "dtype": "float32"}],
        "outputs": [{"name": "image", "shape": [None, size, size, 3], "dtype": "float32"}],
        "decode": {"kind": kind, "input": "z", "latent_dim": latent_dim, "output": "image", "output_range": [0, 1]},
        "training": {"data": {"source": "celeba fixture", "train": train, "test": test, "crop": "auto"}},
    }
    (folder / "model.card.json").write_text(json.dumps(card))
    return folder


def test_nearest_finds_exact_copies_at_zero_and_matches_brute_force(celeba):
    from zoo.faces import data, neighbours

    faces = data.load_faces(celeba[1], image_size=16)
    train, test = data.training_split(len(faces.images))
    queries = np.concatenate([faces.images[train[[3, 40]]], faces.images[test[:2]]])
    distances, positions = neighbours.nearest(queries, faces.images, k=3, index=train, chunk=7)
    assert positions[:2, 0].tolist() == train[[3, 40]].tolist() and distances[:2, 0].tolist() == [0.0, 0.0]
    assert set(positions.ravel()) <= set(train) and (distances[2:, 0] > 0).all()  # held-out faces are not searched
    flat = faces.images[train].reshape(len(train), -1) / 255.0
    brute = np.sqrt(((queries.reshape(len(queries), 1, -1) / 255.0 - flat[None]) ** 2).sum(-1))
    order = np.argsort(brute, axis=1)[:, :3]
    np.testing.assert_array_equal(positions, train[order])
    np.testing.assert_allclose(distances, np.take_along_axis(brute, order, axis=1), atol=1e-9)
    flags, threshold, text = neighbours.verdict([0.0, 9.0], [5.0, 6.0, 7.0])
    assert flags.tolist() == [True, False] and 5.0 <= threshold < 6.0
    assert text.startswith("closest generated face at distance 0.00 vs median real-to-train distance 6.00 "
                           "(0.0% of held-out real faces are nearer still);")


def test_training_faces_follow_a_limit_the_card_records(celeba):
    from zoo.faces import data, neighbours

    faces = data.load_faces(celeba[1], image_size=16)
    train, test, notes = neighbours.training_faces(faces, {"training": {"data": {"train": 20, "test": 5}}})
    np.testing.assert_array_equal(train, data.split_indices(64)[0][:20])
    assert len(test) == 5 and not set(train) & set(test) and "--limit 20" in notes[0]
    assert len(neighbours.training_faces(faces, {})[0]) == 58
    assert "is it the data" in neighbours.training_faces(faces, {"training": {"data": {"train": 900}}})[2][0]


def test_faces_neighbours_catches_a_copying_generator(celeba, tmp_path):
    from PIL import Image

    from zoo.faces import data

    faces = data.load_faces(celeba[1], image_size=16)
    train, _ = data.training_split(64)
    copier = onnx_generator(tmp_path / "copier", 16, copy=faces.images[train[5]], trained=(58, 6))
    out = tmp_path / "gallery" / "neighbours.png"
    result = run_zoo("faces-neighbours", "--model", copier, "--data", celeba[1], "--count", 3, "--seed", 1,
                     "--out", out, "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["train_faces"] == 58 and report["heldout_faces"] == 6 and report["count"] == 3
    assert report["seed"] == 1 and report["notes"] == [] and report["gallery"] == str(out)
    for row in report["generated"]:
        assert len(row["neighbours"]) == 3 and row["nearer_than_real"]
        assert row["neighbours"][0] == {"file": faces.names[train[5]], "position": int(train[5]), "distance": 0.0}
        assert row["neighbours"][1]["distance"] > 0
    assert report["possible_copies"] == 3 and report["real_to_train"]["count"] == 6
    assert report["verdict"].startswith("closest generated face at distance 0.00 vs median real-to-train distance ")
    assert "possible copies" in report["verdict"]
    beside = json.loads(out.with_suffix(".json").read_text())
    assert {key: value for key, value in beside.items()} == report
    with Image.open(out) as image:
        assert image.format == "PNG" and image.width > 4 * 16
    assert sorted(path.name for path in out.parent.iterdir()) == ["neighbours.json", "neighbours.png"]


def test_faces_neighbours_uses_the_faces_of_generate_faces(celeba, tmp_path):
    from PIL import Image

    from serve import models
    from zoo.faces import data, neighbours

    generator = onnx_generator(tmp_path / "random", 16)
    model, session = models.load(str(generator), require="image")
    faces = data.load_faces(celeba[1], image_size=16)
    report, generated = neighbours.check(model, session, faces, count=2, seed=4, k=2, real_count=3)
    assert report["heldout_faces"] == 3 and len(report["generated"][1]["neighbours"]) == 2
    assert report["possible_copies"] == 0 and "no sign of copying" in report["verdict"]
    result = run_zoo("generate-faces", "--model", generator, "--count", 2, "--seed", 4,
                     "--out", tmp_path / "grid.png", "--each", tmp_path / "each")
    assert result.returncode == 0, result.stderr
    for index in range(2):
        with Image.open(tmp_path / "each" / f"face_{index:04d}.png") as image:
            np.testing.assert_array_equal(np.asarray(image), generated[index])


def test_evaluate_scores_an_exported_generator_as_it_ships(celeba, tmp_path):
    from zoo import training
    from zoo.common import imagegrid
    from zoo.faces import data, metrics
    from zoo.faces import entries as face_entries

    generator = onnx_generator(tmp_path / "random", 16) / "model.onnx"
    result = run_zoo("evaluate", "face_gan", "--model", generator, "--data", celeba[1], "--json")
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    # The same faces through numpy: z of the evaluator's fixed draw, the generator's own mapping.
    faces = data.load_faces(celeba[1], image_size=16)
    real = faces.images[data.split_indices(64)[1]] / np.float32(255.0)
    z = imagegrid.latent_samples(len(real), 4, seed=2024)
    weights = np.random.default_rng(0).standard_normal((4, 16 * 16 * 3)).astype(np.float32)
    drawn = (1 / (1 + np.exp(-(z @ weights)))).reshape(-1, 16, 16, 3)
    expected = metrics.sliced_wasserstein(real, drawn, seed=0)["swd"]
    assert figures["eval_images"] == len(real) == 6 and figures["swd"] == pytest.approx(expected, rel=1e-4)
    assert figures["swd_floor"] < figures["swd_ceiling_noise"] and "raw_generator_swd" not in figures
    # The network the evaluator samples gives images in [0, 1], as a run's does.
    network, _ = face_entries.exported_generator(generator, "face_gan")
    image = network.image_network(z[:2])["image"]
    assert image.dtype == np.float32 and np.abs(image - drawn[:2]).max() <= 0.5 / 255 + 1e-6
    redrawn = training.evaluate("face_gan", generator, data=celeba[1], seed=7)["swd"]
    assert redrawn == training.evaluate("face_gan", generator, data=celeba[1], seed=7)["swd"] != figures["swd"]
    assert_one_line_error(run_zoo("evaluate", "face_vae", "--model", generator, "--data", celeba[1]),
                          "is an export of face_gan, not face_vae")
    assert_one_line_error(run_zoo("evaluate", "mnist_cnn", "--model", generator), "only generators evaluate")


@pytest.mark.parametrize("case, fragment", [
    ("no-data", "does not exist"),
    ("not-a-generator", "needs an image generator"),
    ("not-png", "--out must name a .png"),
])
def test_faces_neighbours_bad_input_is_one_line(celeba, tmp_path, case, fragment):
    generator = onnx_generator(tmp_path / "model", 16, kind="argmax" if case == "not-a-generator" else "image")
    data_path = tmp_path / "missing.zip" if case == "no-data" else celeba[1]
    out = tmp_path / ("gallery.jpg" if case == "not-png" else "gallery.png")
    result = run_zoo("faces-neighbours", "--model", generator, "--data", data_path, "--out", out)
    assert_one_line_error(result, fragment)
    assert not out.exists()
