"""zoo classify: image classifiers through onnxruntime, without TensorFlow.

The classifier is the tiny ``mnist_cnn`` trained on the conftest's generated set and
exported (``classifier_export``), installed as the release model ``mnist`` in a
temporary folder; nothing here reads ../shared or serve/release.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import serve_models
from conftest import ROOT, assert_one_line_error, make_images, run_zoo
from export import release
from serve import classifier, models, predict
from serve import images as imaging
from zoo import errors, registry


@pytest.fixture(scope="module")
def classifiers(classifier_export, tmp_path_factory):
    """The tiny classifier as the release ``mnist``, and a tiny clock reader beside it."""
    folder = tmp_path_factory.mktemp("classify")
    release_dir = folder / "release"
    release.install(classifier_export, release_dir, "mnist", log=lambda message: None)
    clock = serve_models.build(folder, keys=("clock",))["clock_export"]
    return {"export": classifier_export, "release": release_dir, "clock_export": clock,
            "env": {"ZOO_RELEASE_DIR": str(release_dir)}}


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    """Pictures of the test set's kind (class k: a bright square at position k): as drawn
    (light on dark), inverted (dark on light), and inverted as a 280x280 RGB photo."""
    folder = tmp_path_factory.mktemp("digits")
    images, labels = make_images(3, (28, 28), 1)
    paths = {"labels": [str(label) for label in labels]}
    for index, image in enumerate(images):
        Image.fromarray(image).save(folder / f"light{index}.png")
        Image.fromarray(255 - image).save(folder / f"dark{index}.png")
        paper = Image.fromarray(255 - image).convert("RGB").resize((280, 280), Image.Resampling.NEAREST)
        paper.save(folder / f"paper{index}.png")
        for kind in ("light", "dark", "paper"):
            paths[f"{kind}{index}"] = folder / f"{kind}{index}.png"
    (folder / "notes.png").write_text("not a picture\n")
    paths["notes"] = folder / "notes.png"
    paths["folder"] = folder
    return paths


def zoo(classifiers, *args):
    return run_zoo("classify", *args, env=classifiers["env"])


def report_of(result):
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


# ----------------------------------------------------------------------------- the card and the pixels


def test_mnist_cards_say_light_on_dark_and_cifar_cards_do_not(classifiers):
    card = json.loads((classifiers["export"] / "card.json").read_text())
    assert card["preprocessing"]["polarity"] == "light_on_dark" and "polarity" not in card["decode"]
    for name in ("fashion_mnist_bncnn", "cifar10_cnn"):
        entry = registry.get(name)
        described = entry.describe(entry, entry.resolve(entry.tiny))
        assert ("polarity" in described["preprocessing"]) == (name != "cifar10_cnn"), described
        assert described["preprocessing"]["crop"] == "center_square"


def test_a_light_border_is_inverted_only_under_the_polarity(digits):
    preprocessing = {"color": "grayscale", "size": [28, 28], "polarity": "light_on_dark"}
    light = imaging.load(digits["light0"], preprocessing)
    assert np.array_equal(imaging.load(digits["dark0"], preprocessing), light)
    assert np.array_equal(imaging.load(digits["light0"], {**preprocessing, "polarity": None}), light)
    assert np.array_equal(imaging.load(digits["dark0"], {**preprocessing, "polarity": None}), 255 - light)
    with pytest.raises(errors.ZooError, match="polarity must be one of light_on_dark"):
        imaging.check_preprocessing({**preprocessing, "polarity": "upside_down"})


# ----------------------------------------------------------------------------- zoo classify


def test_a_dark_digit_on_white_classifies_like_the_light_one(classifiers, digits):
    names = [digits[f"{kind}{index}"] for index in range(3) for kind in ("light", "dark", "paper")]
    report = report_of(zoo(classifiers, *names, "--json", "--top", "3"))
    results = report["results"]
    for index in range(3):
        light, dark, paper = results[3 * index:3 * index + 3]
        assert light["class"] == digits["labels"][index], light  # the tiny model learnt the squares
        assert dark["class"] == paper["class"] == light["class"]
        assert dark["top"] == light["top"]  # the same pixels once inverted
        assert paper["probability"] == pytest.approx(light["probability"], abs=0.05)


def test_json_answers_what_onnxruntime_computes(classifiers, digits):
    files = [digits["light0"], digits["light1"], digits["paper2"]]
    report = report_of(zoo(classifiers, *files, "--json", "--top", "3", "--batch-size", "2", "--provider", "cpu"))
    assert set(report) == {"model", "entry", "provider", "answered", "failed", "results"}
    assert report["model"] == "mnist" and report["entry"] == serve_models.CLASSIFIER_ENTRY
    assert report["provider"] == "CPUExecutionProvider" and report["answered"] == 3 and report["failed"] == 0
    model, session = models.load(str(classifiers["release"] / "mnist.onnx"), require="classifier", provider="cpu")
    batch = np.stack([imaging.load(path, predict.effective_preprocessing(model.card)) for path in files])
    expected = classifier.probabilities_of(session, model, batch)
    names = model.decode["class_names"]
    for path, result, probabilities in zip(files, report["results"], expected):
        assert set(result) == {"file", "class", "index", "probability", "top"} and result["file"] == str(path)
        assert [set(other) for other in result["top"]] == [{"class", "index", "probability"}] * 3
        shares = [other["probability"] for other in result["top"]]
        assert shares == sorted(shares, reverse=True) and sum(shares) <= 1 + 1e-3
        assert result["top"][0] == {key: result[key] for key in ("class", "index", "probability")}
        assert [other["index"] for other in result["top"]] == list(np.argsort(-probabilities)[:3])
        assert all(other["class"] == names[other["index"]] for other in result["top"])
        assert shares == [round(float(probabilities[other["index"]]), 4) for other in result["top"]]


def test_text_lines_default_model_and_folders(classifiers, digits):
    result = zoo(classifiers, digits["light0"])
    assert result.returncode == 0, result.stderr
    [line] = result.stdout.strip().splitlines()
    assert line.startswith(f"{digits['light0']}: {digits['labels'][0]} (p ") and "then" not in line
    result = zoo(classifiers, digits["dark1"], "--top", "2")
    [line] = result.stdout.strip().splitlines()
    assert line.startswith(f"{digits['dark1']}: {digits['labels'][1]} (p ") and "; then " in line
    result = zoo(classifiers, digits["folder"], "--json")
    assert result.returncode == 1 and result.stderr == ""  # notes.png is not an image
    by_folder = json.loads(result.stdout)
    expected = sorted(str(path) for path in digits["folder"].glob("*.png"))
    assert [entry["file"] for entry in by_folder["results"]] == expected
    notes = by_folder["results"][expected.index(str(digits["notes"]))]
    assert by_folder["failed"] == 1 and "not an image" in notes["error"]


def test_a_bad_file_beside_a_good_one_is_one_line(classifiers, digits):
    result = zoo(classifiers, digits["light0"], digits["notes"])
    assert result.returncode == 1
    assert len(result.stdout.strip().splitlines()) == 1 and result.stdout.startswith(str(digits["light0"]))
    assert result.stderr.strip().splitlines() == [
        f"Error: {digits['notes']}: not an image (or a format Pillow cannot read)"]
    assert_one_line_error(zoo(classifiers, digits["notes"]), "not an image", code=2)


def test_wrong_models_and_options_are_one_line(classifiers, digits, tmp_path):
    image = digits["light0"]
    assert_one_line_error(zoo(classifiers, image, "--model", classifiers["clock_export"]),
                          "is a clock model", "classify needs an image classifier")
    assert_one_line_error(zoo(classifiers, image, "--top", "11"), "--top must be between 1 and 10")
    assert_one_line_error(zoo(classifiers, image, "--batch-size", "0"), "--batch-size must be between 1")
    assert_one_line_error(zoo(classifiers, image, "--model", "cifar10"), "no release CIFAR-10 classifier",
                          "make release")
    assert_one_line_error(run_zoo("classify", image, env={"ZOO_RELEASE_DIR": str(tmp_path)}),
                          "no release digit classifier", "make release")


def test_classify_never_imports_tensorflow(classifiers, digits):
    script = ("import json, sys\nfrom zoo import cli\ntry:\n    cli.cli.main(sys.argv[1:], prog_name='zoo', "
              "standalone_mode=False)\nexcept SystemExit as exit:\n    print(exit.code)\n"
              "print(json.dumps(sorted(name for name in sys.modules if name.split('.')[0] in "
              "('tensorflow', 'keras', 'tf2onnx'))))")
    result = subprocess.run([sys.executable, "-c", script, "classify", str(digits["light0"]), "--json"],
                            capture_output=True, text=True, timeout=300,
                            env={**os.environ, "PYTHONPATH": str(ROOT), **classifiers["env"]})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []
