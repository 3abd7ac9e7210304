"""Serve: the TensorFlow-free onnxruntime CLI.

Models: a tiny clock reader (``clock_hands`` decoding) and a tiny generator, trained
for one epoch and exported by the project's own code once per session
(tests/serve_models.py), installed as release models in a temporary folder
(``$ZOO_RELEASE_DIR``) the way ``make release`` installs them. Images: generated
here in every format and mode the CLI accepts, and the bad inputs it must refuse.
"""

import json
import os
import shutil
import struct
import subprocess
import sys
import time
import zlib

import numpy as np
import pytest
from PIL import Image

import serve_models
from conftest import ROOT, assert_one_line_error, run_zoo
from export import release
from serve import generate, models, predict
from zoo.common import decoding, imagegrid
from serve import images as imaging
from zoo import errors
from zoo.clocks import clockface

# ----------------------------------------------------------------------------- fixtures
from zoo.common import clocktime


@pytest.fixture(scope="session")
def served(tmp_path_factory):
    """The tiny exports, and a release folder holding them as clock.onnx and faces.onnx."""
    folder = tmp_path_factory.mktemp("serve-models")
    paths = serve_models.build(folder)
    release_dir = folder / "release"
    release.install(paths["clock_export"], release_dir, "clock", log=lambda message: None)
    # float16 weights on the generator, as `make release` does for big generators.
    release.install(paths["faces_export"], release_dir, "faces", weights="float16", log=lambda message: None)
    return {**paths, "release": release_dir, "env": {"ZOO_RELEASE_DIR": str(release_dir)}}


def zoo(served, *args, env=None):
    return run_zoo(*args, env={**served["env"], **(env or {})})


def write_png16(path, array):
    """A 16-bit PNG (grey or RGB) written by hand: Pillow cannot write 16-bit RGB."""
    height, width = array.shape[:2]
    colour_type = 0 if array.ndim == 2 else 2
    raw = b"".join(b"\x00" + array[row].astype(">u2").tobytes() for row in range(height))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 16, colour_type, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw))
                     + chunk(b"IEND", b""))
    return path


def write_bomb(path, width, height):
    """A tiny PNG whose header claims ``width`` x ``height`` pixels."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
                     + chunk(b"IEND", b""))
    return path


def clock_picture(hour=3, minute=15, seed=0):
    """A colour clock on an 80x64 (W x H) canvas: not square, so the crop matters."""
    face = clockface.render_clock_rgb(hour, minute, np.random.default_rng(seed), size=64)
    canvas = np.full((64, 80, 3), 200, np.uint8)
    canvas[:, 8:72] = face
    return canvas


@pytest.fixture(scope="session")
def pictures(tmp_path_factory):
    """Good images in every format and mode, and bad ones; ``{name: path}``."""
    folder = tmp_path_factory.mktemp("pictures")
    good, bad = folder / "good", folder / "bad"
    good.mkdir()
    bad.mkdir()
    rgb = clock_picture()
    grey = np.asarray(Image.fromarray(rgb).convert("L"))
    files = {}

    def save(name, image, **options):
        files[name] = good / name
        image.save(files[name], **options)

    save("rgb.png", Image.fromarray(rgb))
    save("rgb.jpg", Image.fromarray(rgb), quality=95)
    save("rgb.bmp", Image.fromarray(rgb))
    save("rgb.tiff", Image.fromarray(rgb))
    save("grey.png", Image.fromarray(grey))
    save("palette.png", Image.fromarray(rgb).quantize(64))
    save("palette.gif", Image.fromarray(rgb).quantize(64))
    alpha = np.where(np.arange(80)[None, :] < 40, 255, 0).astype(np.uint8).repeat(64, axis=0)
    alpha[:, 36:44] = 128  # some partly transparent pixels
    save("rgba.png", Image.fromarray(np.dstack([rgb, alpha]), mode="RGBA"))
    save("grey_alpha.png", Image.fromarray(np.dstack([grey, alpha]), mode="LA"))
    save("grey16.tiff", Image.fromarray(grey.astype(np.uint16) * 257))
    files["grey16.png"] = write_png16(good / "grey16.png", grey.astype(np.uint16) * 257)
    files["rgb16.png"] = write_png16(good / "rgb16.png", rgb.astype(np.uint16) * 257)
    save("bilevel.png", Image.fromarray(grey).convert("1"))
    save("cmyk.jpg", Image.fromarray(rgb).convert("CMYK"), quality=95)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    save("exif_rotated.png", Image.fromarray(rgb).transpose(Image.Transpose.ROTATE_90), exif=exif)
    save("exif_rotated.jpg", Image.fromarray(rgb).transpose(Image.Transpose.ROTATE_90), exif=exif, quality=95)
    big = Image.fromarray(rgb).resize((1600, 1280), Image.Resampling.BICUBIC)
    save("big.jpg", big, quality=92)

    (bad / "text.png").write_text("this is not an image\n")
    (bad / "empty.png").write_bytes(b"")
    png_bytes = files["rgb.png"].read_bytes()
    (bad / "truncated.png").write_bytes(png_bytes[: len(png_bytes) // 2])
    jpeg_bytes = files["rgb.jpg"].read_bytes()
    (bad / "truncated.jpg").write_bytes(jpeg_bytes[: len(jpeg_bytes) // 2])
    write_bomb(bad / "bomb.png", 20000, 20000)  # 400 MP: Pillow's error
    write_bomb(bad / "bomb_warning.png", 12000, 12000)  # 144 MP: only Pillow's warning
    (folder / "empty_folder").mkdir()
    (folder / "no_images").mkdir()
    (folder / "no_images" / "notes.txt").write_text("no images here")
    return {"folder": folder, "good": good, "bad": bad, "rgb": rgb, "grey": grey,
            **{name: path for name, path in files.items()}, **{f"bad/{path.name}": path for path in bad.iterdir()}}


CLOCK_PREPROCESSING = {"layout": "NHWC", "color": "grayscale", "size": [32, 32], "resize": "bilinear",
                       "crop": "center_square"}
RGB_PREPROCESSING = {**CLOCK_PREPROCESSING, "color": "rgb"}


def load(path, preprocessing=CLOCK_PREPROCESSING):
    return imaging.load(path, preprocessing)


# ----------------------------------------------------------------------------- images


@pytest.mark.parametrize("name", ["grey16.png", "grey16.tiff"])
def test_sixteen_bit_grey_reads_like_eight_bit(pictures, name):
    np.testing.assert_array_equal(load(pictures[name]), load(pictures["grey.png"]))


def test_sixteen_bit_rgb_reads_like_eight_bit(pictures):
    np.testing.assert_array_equal(load(pictures["rgb16.png"], RGB_PREPROCESSING),
                                  load(pictures["rgb.png"], RGB_PREPROCESSING))


def test_lossless_formats_and_palettes_read_the_same(pictures):
    reference = load(pictures["rgb.png"], RGB_PREPROCESSING)
    for name in ("rgb.bmp", "rgb.tiff"):
        np.testing.assert_array_equal(load(pictures[name], RGB_PREPROCESSING), reference, err_msg=name)
    for name in ("palette.png", "palette.gif"):
        expected = imaging.preprocess(Image.open(pictures[name]).convert("RGB"), "rgb", (32, 32), "center_square")
        np.testing.assert_array_equal(load(pictures[name], RGB_PREPROCESSING), expected, err_msg=name)
    assert np.mean(np.abs(load(pictures["rgb.jpg"], RGB_PREPROCESSING) - reference)) < 3


def test_grayscale_is_pillow_luma_of_the_colour_image(pictures):
    np.testing.assert_array_equal(load(pictures["rgb.png"]), load(pictures["grey.png"]))


def test_transparency_is_composited_on_white(pictures):
    rgba = np.asarray(Image.open(pictures["rgba.png"])).astype(np.float64)
    alpha = rgba[..., 3:] / 255.0
    on_white = np.rint(rgba[..., :3] * alpha + 255.0 * (1 - alpha)).astype(np.uint8)
    expected = imaging.preprocess(Image.fromarray(on_white), "rgb", (32, 32), "center_square")
    got = load(pictures["rgba.png"], RGB_PREPROCESSING)
    assert np.max(np.abs(got - expected)) <= 1  # Pillow's compositing rounds differently
    assert got[:, -1].min() == 255  # the fully transparent right side is white, whatever RGB it held
    grey_alpha = load(pictures["grey_alpha.png"])
    assert grey_alpha[:, -1].min() == 255 and grey_alpha.shape == (32, 32, 1)


def test_exif_orientation_is_applied(pictures):
    np.testing.assert_array_equal(load(pictures["exif_rotated.png"]), load(pictures["rgb.png"]))
    stored = Image.open(pictures["exif_rotated.jpg"])
    assert stored.size == (64, 80)  # stored on its side...
    upright = load(pictures["exif_rotated.jpg"])
    assert np.mean(np.abs(upright - load(pictures["rgb.jpg"]))) < 3  # ...read upright


def test_center_square_crop_then_bilinear_resize(pictures):
    image = Image.open(pictures["grey.png"])
    square = image.crop((8, 0, 72, 64))  # the centred 64x64 square of the 80x64 canvas
    expected = np.asarray(square.resize((32, 32), Image.Resampling.BILINEAR), dtype=np.float32)[..., None]
    got = load(pictures["grey.png"])
    assert got.dtype == np.float32 and got.shape == (32, 32, 1)
    np.testing.assert_array_equal(got, expected)
    uncropped = imaging.load(pictures["grey.png"], {**CLOCK_PREPROCESSING, "crop": "none", "size": [16, 24]})
    assert uncropped.shape == (16, 24, 1)


def test_image_at_the_model_size_is_not_resampled(tmp_path):
    pixels = np.random.default_rng(0).integers(0, 256, (32, 32), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "exact.png")
    np.testing.assert_array_equal(load(tmp_path / "exact.png")[..., 0], pixels.astype(np.float32))


def test_big_jpeg_decoded_at_reduced_scale_matches_full_decode(pictures):
    full = imaging.preprocess(imaging.open_image(pictures["big.jpg"]), "grayscale", (32, 32), "center_square")
    drafted = load(pictures["big.jpg"])
    assert np.mean(np.abs(full - drafted)) < 2.0


def test_other_modes_read(pictures):
    for name in ("bilevel.png", "cmyk.jpg"):
        array = load(pictures[name], RGB_PREPROCESSING)
        assert array.shape == (32, 32, 3) and 0 <= array.min() and array.max() <= 255, name


@pytest.mark.parametrize("name, fragment", [
    ("text.png", "not an image"),
    ("empty.png", "empty file"),
    ("truncated.png", "truncated or corrupt"),
    ("truncated.jpg", "truncated or corrupt"),
    ("bomb.png", "decompression bomb"),
    ("bomb_warning.png", "decompression bomb"),
])
def test_bad_images_raise_one_line_errors(pictures, name, fragment):
    with pytest.raises(imaging.ImageError) as raised:
        load(pictures[f"bad/{name}"])
    message = str(raised.value)
    assert fragment in message and name in message and "\n" not in message


def test_unreadable_file_is_a_permission_error(pictures, tmp_path):
    locked = tmp_path / "locked.png"
    shutil.copy(pictures["rgb.png"], locked)
    locked.chmod(0)
    try:
        if os.access(locked, os.R_OK):
            pytest.skip("running as root: permissions do not stop reading")
        with pytest.raises(imaging.ImageError, match="permission denied"):
            load(locked)
    finally:
        locked.chmod(0o644)


def test_missing_file_is_an_error(tmp_path):
    with pytest.raises(imaging.ImageError, match="no such file"):
        load(tmp_path / "nothing.png")


def test_expand_inputs_folders_globs_and_errors(pictures, tmp_path):
    nested = tmp_path / "tree"
    (nested / "sub").mkdir(parents=True)
    shutil.copy(pictures["rgb.png"], nested / "a.png")
    shutil.copy(pictures["rgb.jpg"], nested / "sub" / "b.jpg")
    (nested / "readme.txt").write_text("not an image")
    names = [item.name for item in imaging.expand_inputs([nested])]
    assert names == [str(nested / "a.png")]
    recursive = [item.name for item in imaging.expand_inputs([nested], recursive=True)]
    assert recursive == [str(nested / "a.png"), str(nested / "sub" / "b.jpg")]
    pattern = [item.name for item in imaging.expand_inputs([str(nested / "**" / "*.jpg")])]
    assert pattern == [str(nested / "sub" / "b.jpg")]
    # The same file through a folder, a pattern and its name is read once.
    assert len(imaging.expand_inputs([nested, str(nested / "*.png"), nested / "a.png"])) == 1
    problems = imaging.expand_inputs([pictures["folder"] / "empty_folder", pictures["folder"] / "no_images",
                                      str(tmp_path / "*.gif"), tmp_path / "missing.png"])
    assert [item.path for item in problems] == [None] * 4
    assert "folder with no images" in problems[0].error and "folder with no images" in problems[1].error
    assert "no file matches" in problems[2].error and "no such file" in problems[3].error


def test_preprocessing_from_the_card_is_checked():
    with pytest.raises(errors.ZooError, match="preprocessing.color"):
        imaging.check_preprocessing({**CLOCK_PREPROCESSING, "color": "cmyk"})
    with pytest.raises(errors.ZooError, match="preprocessing.crop"):
        imaging.check_preprocessing({**CLOCK_PREPROCESSING, "crop": "random"})
    with pytest.raises(errors.ZooError, match="3 channels"):
        imaging.check_preprocessing(CLOCK_PREPROCESSING, channels=3)


def test_decode_keys_from_describe_override_the_exporter_defaults():
    card = {"preprocessing": {**CLOCK_PREPROCESSING, "crop": "none"},
            "decode": {"kind": "clock_hands", "crop": "center_square"}}
    assert predict.effective_preprocessing(card)["crop"] == "center_square"


# ----------------------------------------------------------------------------- grids and latents


def test_interpolation_ends_norms_and_grid_shapes():
    start, end = imagegrid.latent_samples(2, 64, seed=3)
    for kind in imagegrid.INTERPOLATIONS:
        path = imagegrid.interpolate(start, end, 5, kind)
        np.testing.assert_allclose(path[0], start, atol=1e-5)
        np.testing.assert_allclose(path[-1], end, atol=1e-5)
    middle_linear = np.linalg.norm(imagegrid.lerp(start, end, 3)[1])
    middle_spherical = np.linalg.norm(imagegrid.slerp(start, end, 3)[1])
    expected_norm = (np.linalg.norm(start) + np.linalg.norm(end)) / 2
    assert abs(middle_spherical - expected_norm) < 1e-3 and middle_linear < middle_spherical
    assert imagegrid.tile(np.zeros((10, 16, 16, 3)), padding=2).shape == (3 * 18 + 2, 4 * 18 + 2, 3)
    np.testing.assert_array_equal(imagegrid.latent_samples(1, 8, seed=5)[0], imagegrid.latent_samples(4, 8, seed=5)[0])


# ----------------------------------------------------------------------------- models


def test_release_install_keeps_the_card_and_checks_float16(served):
    clock_card = json.loads((served["release"] / "clock.card.json").read_text())
    export_card = json.loads((served["clock_export"] / "card.json").read_text())
    assert clock_card["onnx_file"] == "clock.onnx" and clock_card["onnx_sha256"] == export_card["onnx_sha256"]
    faces_card = json.loads((served["release"] / "faces.card.json").read_text())
    quantization = faces_card["quantization"]
    assert quantization["weights"] == "float16" and quantization["max_abs_diff"]["image"] <= quantization["tolerance"]
    assert faces_card["onnx_sha256"] == models.sha256_of(served["release"] / "faces.onnx")
    # The float16 model still computes in float32, close to the exported one.
    model, session = models.load(str(served["release"] / "faces.onnx"), require="image")
    reference, _ = models.load(str(served["faces_export"]), require="image")
    z = imagegrid.latent_samples(8, generate.latent_dim(model), seed=1)
    half = generate.generate(session, model, z)
    full = generate.generate(models.open_session(reference.path), reference, z)
    assert np.max(np.abs(half.astype(int) - full.astype(int))) <= 1
    assert [output.type for output in session.get_outputs()] == ["tensor(float)"]


def test_release_install_ships_an_int8_twin_only_when_the_export_kept_one(served, tmp_path):
    # An export whose gate kept an int8 model (here: a copy of the float model standing in
    # for it) ships NAME.int8.onnx with its own card; a later export without one removes it.
    export = tmp_path / "export"
    shutil.copytree(served["clock_export"], export)
    card = json.loads((export / "card.json").read_text())
    card["quantization"] = {"requested": "int8", "kept": True, "file": "model.int8.onnx", "metric": "test_accuracy",
                            "value": 0.5}
    (export / "card.json").write_text(json.dumps(card))
    shutil.copy(export / "model.onnx", export / "model.int8.onnx")
    out = tmp_path / "release"
    installed = release.install(export, out, "digits", log=lambda message: None)
    twin = json.loads((out / "digits.int8.card.json").read_text())
    assert installed["quantization"]["file"] == "digits.int8.onnx" and twin["int8_of"] == "digits.onnx"
    assert twin["onnx_file"] == "digits.int8.onnx" and twin["metrics"] == {"test_accuracy": 0.5}
    model, _ = models.load(str(out / "digits.int8.onnx"), session=False)
    assert model.checksum == "sha256 ok (digits.int8.card.json)"
    release.install(served["clock_export"], out, "digits", log=lambda message: None)
    assert not (out / "digits.int8.onnx").exists() and not (out / "digits.int8.card.json").exists()
    assert sorted(path.name for path in out.iterdir()) == ["digits.card.json", "digits.onnx"]


def test_cards_come_from_the_file_the_folder_or_the_metadata(served, tmp_path):
    by_folder, _ = models.load(str(served["clock_export"]), session=False)
    assert by_folder.card_source.endswith("card.json") and by_folder.checksum == "sha256 ok (card.json)"
    lone = tmp_path / "lone.onnx"
    shutil.copy(served["clock_export"] / "model.onnx", lone)
    from_metadata, session = models.load(str(lone), require="clock")
    assert from_metadata.card_source == "metadata" and from_metadata.checksum.startswith("not verified")
    assert from_metadata.card["decode"] == by_folder.card["decode"]
    assert from_metadata.card["preprocessing"] == by_folder.card["preprocessing"]


def test_model_paths_export_folders_run_folders_and_release_names(served, tmp_path, monkeypatch):
    run = tmp_path / "run"
    shutil.copytree(served["clock_export"], run / "export")
    assert models.locate(str(run), "clock")[1] == run / "export" / "model.onnx"
    assert models.locate(str(served["clock_export"]), "clock")[1] == served["clock_export"] / "model.onnx"
    monkeypatch.setenv("ZOO_RELEASE_DIR", str(served["release"]))
    assert models.locate(None, "faces") == ("faces", served["release"] / "faces.onnx", True)
    assert models.locate("clock", "faces") == ("clock", served["release"] / "clock.onnx", True)
    monkeypatch.setenv("ZOO_RELEASE_DIR", str(tmp_path / "empty"))
    with pytest.raises(errors.ZooError, match="make release"):
        models.locate(None, "clock")


def test_model_without_a_card_is_refused(tmp_path):
    import onnx
    from onnx import helper

    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [None, 2])],
                              [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [None, 2])])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8),
              tmp_path / "bare.onnx")
    with pytest.raises(errors.ZooError, match="has no model card"):
        models.load(str(tmp_path / "bare.onnx"))


def copy_export(served, tmp_path, key="clock_export"):
    target = tmp_path / key
    shutil.copytree(served[key], target)
    return target


# ----------------------------------------------------------------------------- predict-time (CLI)


GOOD = ["rgb.png", "rgb.jpg", "rgb.bmp", "rgb.tiff", "grey.png", "palette.png", "palette.gif", "rgba.png",
        "grey_alpha.png", "grey16.png", "grey16.tiff", "rgb16.png", "bilevel.png", "cmyk.jpg", "exif_rotated.png",
        "exif_rotated.jpg", "big.jpg"]


def expected_readings(served, paths):
    """What the served clock reader says about ``paths``, computed here in one batch (it
    has no keypoint output, so predict-time reads the centred squares as they stand;
    tests/test_locate.py checks the finding)."""
    model, session = models.load(str(served["release"] / "clock.onnx"), require="clock", provider="cpu")
    batch = np.stack([imaging.load(path, predict.effective_preprocessing(model.card)) for path in paths])
    minutes, confidence = decoding.decode_outputs(predict.run_batch(session, model, batch), model.decode)
    return [predict.reading(value, sure) for value, sure in zip(minutes, confidence)]


def test_predict_time_reads_every_format_like_the_library(served, pictures):
    paths = [pictures[name] for name in GOOD]
    result = zoo(served, "predict-time", *paths, "--json", "--provider", "cpu")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["provider"] == "CPUExecutionProvider" and report["entry"] == serve_models.CLOCK_ENTRY
    assert report["answered"] == len(GOOD) and report["failed"] == 0 and report["decode"] == "clock_hands"
    assert [entry["file"] for entry in report["results"]] == [str(path) for path in paths]
    for entry, expected in zip(report["results"], expected_readings(served, paths)):
        assert set(entry) == {"file", "time", "hour", "minute", "confidence", "sure", "minutes"}
        assert entry["time"] == expected["time"] and entry["minutes"] == expected["minutes"], entry["file"]
        hour, minute = entry["time"].split(":")
        assert int(hour) == entry["hour"] and 1 <= entry["hour"] <= 12 and int(minute) == entry["minute"]
        assert 0.0 <= entry["confidence"] <= 1.0


def test_predict_time_text_folder_and_quoted_glob(served, pictures):
    result = zoo(served, "predict-time", pictures["rgb.png"], "--batch-size", "1")
    assert result.returncode == 0, result.stderr
    [line] = result.stdout.strip().splitlines()
    expected = expected_readings(served, [pictures["rgb.png"]])[0]
    assert line.startswith(f"{pictures['rgb.png']}: {expected['time']}  (confidence ")
    assert " at [" not in line
    assert_one_line_error(zoo(served, "predict-time", pictures["rgb.png"], "--find"), "no keypoint output")
    by_glob = zoo(served, "predict-time", str(pictures["good"] / "grey*.png"), str(pictures["good"]), "--json")
    assert by_glob.returncode == 0, by_glob.stderr
    files = [entry["file"] for entry in json.loads(by_glob.stdout)["results"]]
    in_folder = sorted(str(path) for path in pictures["good"].iterdir())
    globbed = sorted(str(path) for path in pictures["good"].glob("grey*.png"))
    assert files == globbed + [name for name in in_folder if name not in globbed]


def test_hour_zero_reads_as_twelve():
    assert predict.format_time(0, 5) == "12:05" and predict.reading(5.2, 0.9)["hour"] == 12
    assert predict.reading(719.7, 1.0)["time"] == "12:00" and predict.format_time(11, 59) == "11:59"


def test_several_images_with_bad_ones_answer_the_good_ones(served, pictures):
    bad = [pictures[f"bad/{name}"] for name in ("text.png", "empty.png", "truncated.png", "bomb.png")]
    arguments = [pictures["rgb.png"], *bad, pictures["folder"] / "no_images", pictures["grey.png"]]
    result = zoo(served, "predict-time", *arguments)
    assert result.returncode == 1
    assert ([line.split(":")[0] for line in result.stdout.strip().splitlines()]
            == [str(pictures["rgb.png"]), str(pictures["grey.png"])])
    errors_seen = result.stderr.strip().splitlines()
    assert len(errors_seen) == 5 and all(line.startswith("Error: ") for line in errors_seen)
    assert "Traceback" not in result.stderr
    as_json = zoo(served, "predict-time", *arguments, "--json")
    assert as_json.returncode == 1 and as_json.stderr == ""
    report = json.loads(as_json.stdout)
    assert report["answered"] == 2 and report["failed"] == 5
    assert [("error" in entry) for entry in report["results"]] == [False, True, True, True, True, True, False]
    messages = [entry["error"] for entry in report["results"] if "error" in entry]
    for fragment, message in zip(["not an image", "empty file", "truncated or corrupt", "decompression bomb",
                                  "folder with no images"], messages):
        assert fragment in message, message


@pytest.mark.parametrize("name, fragment", [
    ("bad/text.png", "not an image"),
    ("bad/truncated.jpg", "truncated or corrupt"),
    ("bad/bomb_warning.png", "decompression bomb"),
    ("empty_folder", "folder with no images"),
    ("missing.png", "no such file"),
])
def test_a_single_bad_input_is_one_line_exit_2(served, pictures, name, fragment):
    path = pictures.get(name) or pictures["folder"] / name
    assert_one_line_error(zoo(served, "predict-time", path), fragment)


def test_unreadable_image_through_the_cli(served, pictures, tmp_path):
    locked = tmp_path / "locked.png"
    shutil.copy(pictures["rgb.png"], locked)
    locked.chmod(0)
    try:
        if os.access(locked, os.R_OK):
            pytest.skip("running as root: permissions do not stop reading")
        assert_one_line_error(zoo(served, "predict-time", locked), "permission denied")
    finally:
        locked.chmod(0o644)


def test_without_a_release_model_says_how_to_get_one(pictures, tmp_path):
    result = run_zoo("predict-time", pictures["rgb.png"], env={"ZOO_RELEASE_DIR": str(tmp_path)})
    assert_one_line_error(result, "make release", "--model")


def test_model_errors_are_one_line(served, pictures, tmp_path):
    image = pictures["rgb.png"]
    assert_one_line_error(zoo(served, "predict-time", image, "--model", tmp_path / "nowhere.onnx"), "no such file")
    assert_one_line_error(zoo(served, "predict-time", image, "--model", tmp_path), "no model.onnx")

    mismatched = copy_export(served, tmp_path)
    card = json.loads((mismatched / "card.json").read_text())
    card["onnx_sha256"] = "0" * 64
    (mismatched / "card.json").write_text(json.dumps(card))
    assert_one_line_error(zoo(served, "predict-time", image, "--model", mismatched), "does not match its card")

    replaced = copy_export(served, tmp_path / "replaced")
    shutil.copy(served["faces_export"] / "model.onnx", replaced / "model.onnx")
    assert_one_line_error(zoo(served, "predict-time", image, "--model", replaced), "does not match its card")

    corrupt = copy_export(served, tmp_path / "corrupt")
    (corrupt / "model.onnx").write_bytes(b"\x08\x07garbage" * 100)
    card = json.loads((corrupt / "card.json").read_text())
    card["onnx_sha256"] = models.sha256_of(corrupt / "model.onnx")
    (corrupt / "card.json").write_text(json.dumps(card))
    assert_one_line_error(zoo(served, "predict-time", image, "--model", corrupt), "cannot load the model")

    broken_card = copy_export(served, tmp_path / "broken_card")
    (broken_card / "card.json").write_text("{ not json")
    assert_one_line_error(zoo(served, "predict-time", image, "--model", broken_card), "not readable JSON")


def test_wrong_kind_of_model_is_refused(served, pictures, tmp_path):
    assert_one_line_error(zoo(served, "predict-time", pictures["rgb.png"], "--model", "faces"), "needs a clock reader")
    assert_one_line_error(zoo(served, "generate-faces", "--model", "clock", "--out", tmp_path / "g.png"),
                          "needs an image generator")
    assert_one_line_error(zoo(served, "interpolate", "--model", served["clock_export"], "--out", tmp_path / "s.png"),
                          "needs an image generator")
    assert not (tmp_path / "g.png").exists()


def cuda_usable(path):
    try:
        models.open_session(path, "cuda")
        return True
    except errors.ZooError:
        return False


def test_providers(served, pictures):
    clock = served["release"] / "clock.onnx"
    auto_session = models.open_session(clock, "auto")
    result = zoo(served, "predict-time", pictures["rgb.png"], "--json", "--provider", "auto")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["provider"] == auto_session.get_providers()[0]
    cuda = zoo(served, "predict-time", pictures["rgb.png"], "--json", "--provider", "cuda")
    if cuda_usable(clock):
        assert json.loads(cuda.stdout)["provider"] == "CUDAExecutionProvider"
    else:
        assert_one_line_error(cuda, "--provider cuda")
    assert_one_line_error(zoo(served, "predict-time", pictures["rgb.png"], "--provider", "tpu"), "--provider")


def test_usage_errors_are_one_line(served, pictures, tmp_path):
    assert_one_line_error(zoo(served, "predict-time"), "Missing argument")
    assert_one_line_error(zoo(served, "predict-time", pictures["rgb.png"], "--batch-size", "0"), "--batch-size")
    assert_one_line_error(zoo(served, "generate-faces"), "--out")


# ----------------------------------------------------------------------------- faces (CLI)


def faces_of(served, seed, count):
    model, session = models.load(str(served["release"] / "faces.onnx"), require="image", provider="cpu")
    return generate.generate(session, model, imagegrid.latent_samples(count, generate.latent_dim(model), seed=seed))


def test_generate_faces_grid_and_each(served, tmp_path):
    out, each = tmp_path / "grid.png", tmp_path / "faces"
    result = zoo(served, "generate-faces", "--count", 5, "--seed", 7, "--out", out, "--each", each)
    assert result.returncode == 0, result.stderr
    assert "CPUExecutionProvider" in result.stdout
    picture = np.asarray(Image.open(out))
    faces = faces_of(served, 7, 5)
    np.testing.assert_array_equal(picture, imagegrid.tile(faces, columns=3))  # 5 faces: 2 rows of 3
    assert picture.shape == (2 * 18 + 2, 3 * 18 + 2, 3)
    written = sorted(each.iterdir())
    assert [path.name for path in written] == [f"face_{index:04d}.png" for index in range(5)]
    np.testing.assert_array_equal(np.asarray(Image.open(written[4])), faces[4])
    assert not [path for path in tmp_path.rglob(".*partial*")]
    again = zoo(served, "generate-faces", "--count", 5, "--seed", 8, "--out", tmp_path / "other.png")
    assert again.returncode == 0 and (tmp_path / "other.png").read_bytes() != out.read_bytes()


@pytest.mark.parametrize("count, fragment", [("0", "at least 1"), ("-3", "at least 1"), ("400000000", "GB")])
def test_bad_counts_are_one_line(served, tmp_path, count, fragment):
    result = zoo(served, "generate-faces", "--count", count, "--out", tmp_path / "grid.png")
    assert_one_line_error(result, "--count", fragment)
    assert not (tmp_path / "grid.png").exists()


def test_generate_faces_out_must_be_png(served, tmp_path):
    assert_one_line_error(zoo(served, "generate-faces", "--out", tmp_path / "grid.jpg"), ".png")
    assert_one_line_error(zoo(served, "generate-faces", "--out", tmp_path), ".png")


def test_interpolate_linear_and_spherical(served, tmp_path):
    linear, spherical = tmp_path / "linear.png", tmp_path / "spherical.png"
    result = zoo(served, "interpolate", "--seeds", 3, 11, "--steps", 5, "--out", linear)
    assert result.returncode == 0, result.stderr
    assert zoo(served, "interpolate", "--seeds", 3, 11, "--steps", 5, "--spherical", "--out", spherical).returncode == 0
    strip = np.asarray(Image.open(linear))
    assert strip.shape == (16 + 4, 5 * 18 + 2, 3)
    first, last = strip[2:18, 2:18], strip[2:18, 4 * 18 + 2:4 * 18 + 18]
    np.testing.assert_array_equal(first, faces_of(served, 3, 1)[0])  # face 0 of --seed 3
    np.testing.assert_array_equal(last, faces_of(served, 11, 1)[0])
    curved = np.asarray(Image.open(spherical))
    np.testing.assert_array_equal(curved[2:18, 2:18], first)
    assert not np.array_equal(curved, strip)  # the middle differs
    assert_one_line_error(zoo(served, "interpolate", "--steps", 1, "--out", tmp_path / "x.png"), "--steps")
    assert_one_line_error(zoo(served, "interpolate", "--seeds", -1, 2, "--out", tmp_path / "x.png"), "non-negative")


# ----------------------------------------------------------------------------- models and info (CLI)


def test_models_lists_release_and_given_models(served, tmp_path):
    result = zoo(served, "models", "--json", "--model", served["clock_export"])
    assert result.returncode == 0, result.stderr
    listed = json.loads(result.stdout)["models"]
    assert [row["name"] for row in listed] == ["clock", "faces", str(served["clock_export"])]
    assert listed[0]["entry"] == serve_models.CLOCK_ENTRY and listed[1]["quantization"] == "float16"
    assert listed[2]["checksum"] == "sha256 ok (card.json)" and "test_cse_mean" in listed[0]["metrics"]
    text = zoo(served, "models", env={"ZOO_MODELS": str(served["faces_export"])})
    assert text.returncode == 0
    assert len(text.stdout.strip().splitlines()) == 2 + 3 and serve_models.FACES_ENTRY in text.stdout
    empty = run_zoo("models", env={"ZOO_RELEASE_DIR": str(tmp_path)})
    assert empty.returncode == 0 and "make release" in empty.stdout
    broken = zoo(served, "models", "--model", tmp_path / "missing.onnx")
    assert broken.returncode == 1 and "error:" in broken.stdout


def test_info_shows_the_card_and_the_provider(served):
    result = zoo(served, "info", "clock", "--json", "--provider", "cpu")
    assert result.returncode == 0, result.stderr
    facts = json.loads(result.stdout)
    assert facts["provider"] == "CPUExecutionProvider" and facts["checksum"] == "sha256 ok (clock.card.json)"
    assert facts["card"] == json.loads((served["release"] / "clock.card.json").read_text())
    assert [item["name"] for item in facts["inputs"]] == ["image"]
    text = zoo(served, "info", served["faces_export"] / "model.onnx")
    assert text.returncode == 0 and "provider" in text.stdout and '"format": "zoo-card/1"' in text.stdout
    assert_one_line_error(zoo(served, "info", "nothing-here"), "no such file")


# ----------------------------------------------------------------------------- TensorFlow stays out


TF_FREE_SCRIPT = """
import json, sys
from zoo import cli
codes = {}
for args in json.loads(sys.argv[1]):
    try:
        cli.cli.main(args, prog_name="zoo", standalone_mode=False)
        codes[" ".join(args[:1])] = 0
    except SystemExit as exit:
        codes[" ".join(args[:1])] = exit.code
print(json.dumps({"codes": codes, "tensorflow": "tensorflow" in sys.modules, "keras": "keras" in sys.modules,
                  "tf_like": sorted(name for name in sys.modules
                                    if name.split(".")[0] in ("tensorflow", "keras", "tf2onnx"))}))
"""


def test_serve_commands_never_import_tensorflow(served, pictures, tmp_path):
    commands = [
        ["predict-time", str(pictures["rgb.png"]), str(pictures["bad/text.png"]), "--json"],
        ["generate-faces", "--count", "4", "--out", str(tmp_path / "grid.png")],
        ["interpolate", "--steps", "3", "--spherical", "--out", str(tmp_path / "strip.png")],
        ["models"],
        ["info", "faces"],
    ]
    result = subprocess.run(
        [sys.executable, "-c", TF_FREE_SCRIPT, json.dumps(commands)], capture_output=True, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), **served["env"]}, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["codes"] == {"predict-time": 1, "generate-faces": 0, "interpolate": 0, "models": 0, "info": 0}
    assert report["tensorflow"] is False and report["keras"] is False, report["tf_like"]
    assert (tmp_path / "grid.png").exists() and (tmp_path / "strip.png").exists()


def test_cli_start_up_imports_nothing_heavy():
    code = ("import sys; import zoo.cli; heavy = ('tensorflow', 'keras', 'onnxruntime', 'onnx', 'PIL');"
            "print([name for name in heavy if name in sys.modules])")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


# ----------------------------------------------------------------------------- bench


def test_bench_measures_every_runtime_and_writes_json(served, tmp_path):
    out = tmp_path / "bench.json"
    result = zoo(served, "bench", "--clock-run", served["clock_run"], "--clock-model", served["clock_export"],
                 "--images", 4, "--repeats", 5, "--cold-runs", 1, "--train", "--entries", "mnist_mlp", "--steps", 3,
                 "--out", out)
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text())
    serving = report["serve"]
    assert set(serving["latency_batch1"]) == {"onnxruntime", "keras_predict", "keras_call", "saved_model"}
    for runtime, figures in serving["latency_batch1"].items():
        assert 0 < figures["p50_ms"] <= figures["p99_ms"] and figures["runs"] == 5, runtime
        assert serving["throughput_batch64"][runtime]["images_per_second"] > 0
        # Every runtime reads the same times as onnxruntime on the same images.
        assert serving["readings"][runtime]["same_minute_as_onnxruntime"] == 1.0, runtime
    assert serving["cold_predict_time"]["median_seconds"] > 0 and serving["generate_faces_64"]["median_seconds"] > 0
    assert report["machine"]["cpu_count"] == os.cpu_count() and "onnxruntime" in report["machine"]
    assert {check["figure"] for check in report["targets"]} and all("met" in check for check in report["targets"])
    row = report["train"]["entries"]["mnist_mlp"]
    assert row["xla_off"]["samples_per_second"] > 0 and row["xla_on"]["samples_per_second"] > 0
    assert row["auto_picks"] in ("on", "off") and row["xla_speedup"] > 0
    assert row["bfloat16"]["samples_per_second"] > 0 and row["bfloat16_speedup"] > 0
    assert report["train"]["auto_precision"] in ("float32", "mixed_bfloat16")
    assert "targets:" in result.stdout and "mnist_mlp" in result.stdout


def test_release_trains_each_model_with_its_declared_recipe(monkeypatch, tmp_path):
    # make release on a fresh clone trains what ships: each model with the recipe
    # export/release.py declares, which resolves to the settings the shipped card records.
    from zoo import registry, training

    calls = []
    monkeypatch.setattr(training, "train", lambda entry, **kwargs: calls.append((entry, kwargs)))
    clock = release.RELEASES["clock"]
    release._train(release.Stage(clock["model"].entry, tmp_path / "reader", clock["model"].recipe), None, None,
                   lambda message: None, {"backgrounds": "/photos.zip"})
    release._train(clock["model"], None, 3, lambda message: None)
    assert [call[0] for call in calls] == ["clock_polar", "clock_polar"]
    assert calls[0][1] == dict(data=None, epochs=None, out=tmp_path / "reader", recipe="world",
                               overrides={"backgrounds": "/photos.zip"}, precision="float32")
    assert calls[1][1]["epochs"] == 3 and calls[1][1]["overrides"] == ()

    for name, declared in release.RELEASES.items():
        card = json.loads((release.SHIPPED / f"{name}.card.json").read_text())
        entry = registry.get(declared["model"].entry)
        assert card["entry"] == entry.name
        config = training.resolve_config(entry, recipe=declared["model"].recipe)
        # Settings the shipped card records are the recipe's (where the photos behind the
        # training clocks were is the machine's, not a setting).
        for key, value in card["hparams"].items():
            if key in entry.settings and key != "backgrounds":
                assert config[key] == (list(value) if isinstance(value, list) else value) or \
                    list(config[key]) == value, (name, key)
        assert card["training"]["epochs"] == config["epochs"], name
    assert "confidence" in json.loads((release.SHIPPED / "clock.card.json").read_text())["decode"]
    # The classifiers and the face generator train in bfloat16, as their shipped runs did;
    # the classifiers ship int8 twins whose cards hash them.
    for name in ("mnist", "cifar10", "faces"):
        release._train(release.RELEASES[name]["model"], None, None, lambda message: None)
        assert calls[-1][1]["precision"] == "mixed_bfloat16"
        card = json.loads((release.SHIPPED / f"{name}.card.json").read_text())
        assert card["training"]["precision"] == "mixed_bfloat16", name
        twin = release.SHIPPED / f"{name}.int8.onnx"
        if twin.exists():
            assert card["quantization"]["file"] == twin.name
            assert json.loads((release.SHIPPED / f"{name}.int8.card.json").read_text())["onnx_sha256"] == \
                models.sha256_of(twin)


def keras_mean_error(served, images, labels):
    """The mean common-sense error of the served reader's Keras run on these clocks,
    decoded as its card says."""
    import keras

    network = keras.saving.load_model(served["clock_run"] / "model.keras", compile=False)
    outputs = network.predict(images[..., None].astype("float32"), verbose=0)
    card = json.loads((served["clock_export"] / "card.json").read_text())
    minutes, _ = decoding.decode_outputs({key: np.asarray(value) for key, value in outputs.items()}, card["decode"])
    truth = clocktime.to_minutes(labels[:, 0], labels[:, 1])
    return float(clocktime.common_sense_error(minutes, truth).mean())


def test_clock_errors_scores_an_exported_reader_like_keras(served, tmp_path):
    # The release reader, run by onnxruntime on the rendered test clocks, scores what
    # its Keras run scores on the same clocks: the same images, seed and decoding.
    from zoo.clocks import data

    out = tmp_path / "styles"
    result = zoo(served, "clock-errors", "--model", "clock", "--count", "24", "--out", out)
    assert result.returncode == 0, result.stderr
    rows = json.loads((out / "styles.json").read_text())
    assert rows[0]["factor"] == "all" and rows[0]["count"] == 24

    images, labels = clockface.render_batch(24, data.TEST_SEED, size=serve_models.CLOCK_SIZE)
    assert rows[0]["cse_mean"] == pytest.approx(keras_mean_error(served, images, labels), abs=0.05)
    for name in ("styles.csv", "styles.md", "styles.png", "worst.png"):
        assert (out / name).stat().st_size > 0, name

    assert_one_line_error(zoo(served, "clock-errors", "--model", "faces", "--count", "4", "--out", tmp_path / "f"),
                          "clock")


def test_clock_errors_draws_its_clocks_with_the_independent_renderer(served, tmp_path):
    # --renderer matplotlib: the reader is scored on the matplotlib renderer's clocks (the held-out
    # seed), broken down by that renderer's own factors, with the same figure as
    # reading those very images with Keras.
    from zoo.clocks import data
    from zoo.clocks.heldout import mplclocks

    out = tmp_path / "styles"
    result = zoo(served, "clock-errors", "--model", "clock", "--count", "16", "--renderer", "matplotlib",
                 "--out", out)
    assert result.returncode == 0, result.stderr
    rows = json.loads((out / "styles.json").read_text())
    images, labels, factors = mplclocks.render(16, data.TEST_SEED, serve_models.CLOCK_SIZE)
    assert {row["factor"] for row in rows} == {"all", *factors[0]}
    assert sum(row["count"] for row in rows if row["factor"] == "hand_shape") == 16

    assert rows[0]["cse_mean"] == pytest.approx(keras_mean_error(served, images, labels), abs=0.05)
    assert (out / "worst.png").stat().st_size > 0

    # --renderer world: the training renderer's photographic clocks, broken down by their own factors.
    from zoo.clocks import reading

    result = zoo(served, "clock-errors", "--model", "clock", "--count", "12", "--renderer", "world",
                 "--out", tmp_path / "world")
    assert result.returncode == 0, result.stderr
    rows = json.loads((tmp_path / "world" / "styles.json").read_text())
    assert {row["factor"] for row in rows} == {"all", *reading.WORLD_FACTORS}
    assert sum(row["count"] for row in rows if row["factor"] == "case") == 12
    sure = json.loads((tmp_path / "world" / "confidence.json").read_text())
    assert sure["count"] == 12 and 0.0 <= sure["sure_share"] <= 1.0 and "confidence >= 0.5" in result.stdout

    bad = zoo(served, "clock-errors", "--model", "clock", "--renderer", "povray", "--out", tmp_path / "b")
    assert bad.returncode != 0 and "povray" in bad.stderr and "Traceback" not in bad.stderr


def test_predict_time_refuses_pipes_devices_loops_and_degenerate_shapes_at_once(tmp_path):
    """Issue #45: a FIFO with no writer used to hang, a symbolic link loop read as a
    corrupt image, and a 75-byte 1000x1 PNG cost 3 GB; each is now one line at once."""
    fifo = tmp_path / "fifo.png"
    os.mkfifo(fifo)
    loop_a, loop_b = tmp_path / "a.png", tmp_path / "b.png"
    loop_a.symlink_to(loop_b)
    loop_b.symlink_to(loop_a)
    wide = tmp_path / "wide.png"
    Image.new("L", (1000, 1), 128).save(wide)
    cases = [(fifo, "FIFO"), (loop_a, "loop of symbolic links"), ("/dev/zero", "character device"),
             (wide, "aspect-ratio limit")]
    for path, fragment in cases:
        started = time.monotonic()
        result = run_zoo("predict-time", path, timeout=60)
        assert_one_line_error(result, fragment)
        assert time.monotonic() - started < 30
