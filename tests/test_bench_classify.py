"""zoo bench-classify: a classifier through the real `zoo classify` on test PNGs, against
its card and the same model in-process.

The model is the conftest's tiny ``mnist_cnn`` export and the data its generated
MNIST-shaped .npz (200 test images); nothing here reads ../shared or serve/release.
"""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT, assert_one_line_error, run_zoo
from serve import models
from zoo import bench_classify, datasets, errors

COUNT = 50


def bench(tmp_path, export, data, *extra, name="bench.json"):
    out = tmp_path / name
    result = run_zoo("bench-classify", "--model", export, "--data", data, "--count", COUNT, "--cold-runs", 1,
                     "--provider", "cpu", "--out", out, *extra)
    assert result.returncode == 0, result.stderr
    return result, json.loads(out.read_text())


def expected_in_process(export, data):
    """The tiny model's answers on the first COUNT test arrays, computed here."""
    model, session = models.load(str(export), require="classifier", provider="cpu")
    arrays = datasets.read(data, datasets.info_of("mnist"))
    images, labels = arrays.x_test[:COUNT], arrays.y_test[:COUNT]
    outputs = session.run(["probabilities"], {"image": images.astype(np.float32)})[0]
    return model, float((outputs.argmax(axis=1) == labels).mean())


def test_cli_accuracy_equals_in_process_and_the_json_says_so(classifier_export, mnist_npz, tmp_path):
    result, report = bench(tmp_path, classifier_export, mnist_npz, "--json")
    assert json.loads(result.stdout) == report  # --json prints what --out holds
    model, accuracy = expected_in_process(classifier_export, mnist_npz)
    assert {"started", "model", "data", "card", "accuracy", "timing", "notes", "targets", "machine"} <= set(report)
    assert report["model"]["entry"] == "mnist_cnn" and report["model"]["polarity"] == "light_on_dark"
    assert report["model"]["provider"] == "CPUExecutionProvider"
    assert report["data"] == {**report["data"], "dataset": "mnist", "images": COUNT, "test_set_size": 200,
                              "inverted": False, "class_names_match_card": True}
    figures = report["accuracy"]
    assert figures["in_process"] == pytest.approx(accuracy, abs=1e-9)
    assert figures["zoo_classify"] == figures["in_process"]  # PNG of uint8 is lossless
    assert figures["zoo_classify_minus_in_process_points"] == 0
    assert figures["disagreements_with_in_process"] == 0 and figures["disagreements_shown"] == []
    assert figures["answered"] == COUNT and figures["failed"] == 0
    card_accuracy = model.card["metrics"]["test_accuracy"]
    assert report["card"]["test_accuracy"] == card_accuracy
    assert figures["zoo_classify_minus_card_points"] == pytest.approx(100 * (figures["zoo_classify"] - card_accuracy),
                                                                      abs=1e-3)
    cold = report["timing"]["cold_classify_one"]
    assert cold["runs"] == 1 and 0 < cold["median_seconds"] == cold["max_seconds"]
    first_label = datasets.read(mnist_npz, datasets.info_of("mnist")).y_test[0]
    assert cold["command"] == f"zoo classify 00000_label{first_label}.png --model {classifier_export.resolve()}"
    assert [check["figure"] for check in report["targets"]][2].startswith("cold")
    assert all(check["met"] in (True, False) for check in report["targets"])
    assert {"cpus_usable", "onnxruntime", "python", "load_average_at_start"} <= set(report["machine"])
    assert any("first 50" in note for note in report["notes"])


def test_inverted_pngs_give_the_same_answers_and_no_tensorflow(classifier_export, mnist_npz, tmp_path):
    """Dark digits on white are turned back by the card's polarity: every answer is the
    in-process one on the original arrays (so the same as without --invert)."""
    out = tmp_path / "inverted.json"
    script = ("import json, sys\nfrom zoo import cli\ntry:\n    cli.cli.main(sys.argv[1:], prog_name='zoo', "
              "standalone_mode=False)\nexcept SystemExit as exit:\n    print(exit.code)\n"
              "print(json.dumps(sorted(name for name in sys.modules if name.split('.')[0] in "
              "('tensorflow', 'keras', 'tf2onnx'))))")
    args = ["bench-classify", "--model", classifier_export, "--data", mnist_npz, "--count", COUNT, "--cold-runs", 1,
            "--provider", "cpu", "--invert", "--out", out]
    result = subprocess.run([sys.executable, "-c", script, *map(str, args)], capture_output=True, text=True,
                            timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []
    assert "zoo classify vs in-process: +0.000 points, 0 images answered differently, 0 failed" in result.stdout
    report = json.loads(out.read_text())
    _, accuracy = expected_in_process(classifier_export, mnist_npz)
    assert report["data"]["inverted"] is True
    assert report["accuracy"]["zoo_classify"] == report["accuracy"]["in_process"] == pytest.approx(accuracy, abs=1e-9)
    assert report["accuracy"]["disagreements_with_in_process"] == 0 and report["accuracy"]["failed"] == 0


def _edited_export(export, tmp_path, edit):
    copy = tmp_path / "export"
    shutil.copytree(export, copy)
    card = json.loads((copy / "card.json").read_text())
    edit(card)
    (copy / "card.json").write_text(json.dumps(card))
    return copy


def test_bad_input_is_one_line(classifier_export, mnist_npz, tmp_path):
    def zoo(*args):
        return run_zoo("bench-classify", "--count", 5, "--cold-runs", 1, "--out", tmp_path / "b.json", *args)

    assert_one_line_error(zoo("--model", tmp_path / "nothing", "--data", mnist_npz), "no such file or folder")
    assert_one_line_error(zoo("--model", classifier_export, "--data", tmp_path / "missing.npz"), "does not exist")
    assert_one_line_error(zoo("--model", classifier_export, "--data", mnist_npz, "--cold-runs", 0),
                          "--cold-runs must be at least 1")
    not_classifier = _edited_export(classifier_export, tmp_path / "a", lambda card: card["decode"].update(kind="image"))
    assert_one_line_error(zoo("--model", not_classifier, "--data", mnist_npz), "classify needs an image classifier")

    def no_polarity(card):
        card["preprocessing"].pop("polarity", None)
        card["decode"].pop("polarity", None)

    plain = _edited_export(classifier_export, tmp_path / "b", no_polarity)
    assert_one_line_error(zoo("--model", plain, "--data", mnist_npz, "--invert"), "--invert", "no polarity")
    assert not (tmp_path / "b.json").exists()


def test_the_dataset_comes_from_the_card():
    card = {"entry": "fashion_mnist_bncnn", "decode": {}}
    assert bench_classify.dataset_of(card) == "fashion_mnist"
    assert bench_classify.dataset_of({"entry": "mnist_cnn"}) == "mnist"
    assert bench_classify.dataset_of({"entry": "cifar10_airbench"}) == "cifar10"
    assert bench_classify.dataset_of({"entry": "mine", "decode": {"class_names": list(datasets.DATASETS[
        "cifar10"].class_names)}}) == "cifar10"
    assert bench_classify.dataset_of({"entry": "mnist_cnn"}, given="fashion_mnist") == "fashion_mnist"
    with pytest.raises(errors.ZooError, match="pass --dataset"):
        bench_classify.dataset_of({"entry": "mine", "decode": {"class_names": ["a", "b"]}})
    with pytest.raises(errors.ZooError, match="unknown classification dataset 'celeba'"):
        bench_classify.dataset_of({"entry": "mnist_cnn"}, given="celeba")
