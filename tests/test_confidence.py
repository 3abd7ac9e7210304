"""A clock reader's calibrated confidence (zoo.common.confidence, ``zoo calibrate``): the
fit, the sure line at 0.5, the run's ``confidence.json`` carried into the card, and the
readings ``zoo predict-time`` marks unsure.

The reader in the run-level tests is a stand-in whose outputs are known (right and
long hand vectors on some clocks, wrong and short ones on the others), so what the
calibration must learn is known; rendering, export and onnxruntime are the real ones.
"""

import json

import numpy as np
import pytest
from PIL import Image

from conftest import assert_one_line_error, run_zoo
from test_turnvote import tiny_run
from zoo import errors
from zoo.clocks import calibration, data, reading
from zoo.common import clocktime, decoding
from zoo.common import confidence


def hand_outputs(minutes, length):
    """clock_hands-style outputs that read ``minutes`` with hand vectors of ``length``."""
    minutes = np.asarray(minutes, dtype=float)
    hour = 2 * np.pi * minutes / 720.0
    minute = 2 * np.pi * np.mod(minutes, 60.0) / 60.0
    length = np.asarray(length, dtype=float)
    return {"hour": np.stack([np.sin(hour), np.cos(hour)], axis=1) * length[:, None],
            "minute": np.stack([np.sin(minute), np.cos(minute)], axis=1) * length[:, None]}


DECODE = {"kind": "clock_hands", "hour_output": "hour", "minute_output": "minute"}


def synthetic(count=2000, seed=0):
    """Readings right with a chance that grows with their raw confidence."""
    rng = np.random.default_rng(seed)
    truth = rng.uniform(0, 720, count)
    length = rng.uniform(0.05, 1.0, count)
    right = rng.random(count) < length ** 2
    read = np.where(right, truth, np.mod(truth + rng.uniform(60, 660, count), 720))
    return hand_outputs(read, length), truth


def test_the_calibration_puts_the_sure_line_at_one_half_and_keeps_its_promise_on_fresh_readings():
    outputs, truth = synthetic()
    named = confidence.features(outputs, DECODE)
    minutes, raw = decoding.decode_outputs(outputs, DECODE)
    good = clocktime.common_sense_error(minutes, truth) <= 5
    fitted = confidence.fit(named, good)
    assert fitted["sure_at"] > 0.5  # a probability of 0.5 would promise one reading in two
    assert fitted["fitted"]["calibrated"]["sure_within_5"] >= 0.9

    fresh_outputs, fresh_truth = synthetic(seed=1)
    calibrated_decode = {**DECODE, "confidence": fitted}
    fresh_minutes, calibrated = decoding.decode_outputs(fresh_outputs, calibrated_decode)
    fresh_good = clocktime.common_sense_error(fresh_minutes, fresh_truth) <= 5
    sure = calibrated >= 0.5
    assert 0.1 < sure.mean() < 0.9 and fresh_good[sure].mean() >= 0.87 and fresh_good[~sure].mean() < 0.6
    # The calibration changes the confidence, never the time read.
    np.testing.assert_array_equal(fresh_minutes, decoding.decode_outputs(fresh_outputs, DECODE)[0])
    # Ordered as the probability is: the sure line is the fit's threshold, rescaled to 0.5.
    probability = confidence.apply({**fitted, "sure_at": 0.5}, confidence.features(fresh_outputs, DECODE))
    np.testing.assert_array_equal(probability >= fitted["sure_at"], sure)


def test_rescale_is_monotone_and_fixes_its_ends():
    values = np.linspace(0, 1, 101)
    scaled = confidence.rescale(values, 0.8)
    assert np.all(np.diff(scaled) > 0) and scaled[0] == 0 and scaled[-1] == pytest.approx(1.0)
    assert confidence.rescale(np.array([0.8]), 0.8)[0] == pytest.approx(0.5)
    np.testing.assert_array_equal(confidence.rescale(values, 0.5), values)


@pytest.mark.parametrize("change, message", [
    ({"format": "other"}, "calibration"), ({"method": "magic"}, "method"), ({"weights": [1.0]}, "weights"),
    ({"sure_at": 2}, "sure_at"), ({"features": ["colour"]}, "features"),
])
def test_a_malformed_calibration_is_refused(change, message):
    outputs, truth = synthetic(200)
    minutes, _ = decoding.decode_outputs(outputs, DECODE)
    fitted = confidence.fit(confidence.features(outputs, DECODE), clocktime.common_sense_error(minutes, truth) <= 5)
    with pytest.raises(errors.ZooError, match=message):
        confidence.check({**fitted, **change})


def test_calibrate_fits_on_the_runs_validation_clocks_and_the_card_carries_it(tmp_path, monkeypatch):
    from export import exporter

    run, config = tiny_run(tmp_path / "run", seed=3)
    images, labels, _ = data.render(64, 3 + data.VALIDATION_OFFSET, config["image_size"], progress=False)
    truth = clocktime.to_minutes(labels[:, 0], labels[:, 1]).astype(float)
    right = np.arange(64) % 2 == 0
    lengths = np.where(right, 0.9, 0.3)
    read = np.where(right, truth, np.mod(truth + 200, 720))
    known = {image.tobytes(): (minutes, length) for image, minutes, length in zip(images, read, lengths)}

    def stand_in(model, batch, batch_size=256):
        answers = [known[image.tobytes()] for image in batch]
        return hand_outputs([minutes for minutes, _ in answers], [length for _, length in answers])

    monkeypatch.setattr(calibration, "raw_outputs", stand_in)
    fitted = calibration.fit_run(run, progress=False)
    assert json.loads((run / "confidence.json").read_text()) == json.loads(json.dumps(fitted))
    assert str(3 + data.VALIDATION_OFFSET) in fitted["on"]
    summary = fitted["fitted"]["calibrated"]
    assert summary["sure_share"] == 0.5 and summary["sure_within_5"] == 1.0

    card = exporter.export_entry("clock_hands", run, tmp_path / "export", data=False, log=lambda message: None)
    assert card["decode"]["confidence"] == json.loads(json.dumps(fitted))


def test_predict_time_marks_the_unsure_readings(tmp_path):
    from export import exporter
    from serve import models, predict

    run, config = tiny_run(tmp_path / "run")
    images, _, _ = reading.held_out_clocks(8, config["image_size"])
    files = []
    for index, image in enumerate(images):
        files.append(tmp_path / f"clock{index}.png")
        Image.fromarray(image).save(files[-1])
    exporter.export_entry("clock_hands", run, tmp_path / "plain", data=False, log=lambda message: None)
    model, session = models.load(str(tmp_path / "plain"), require="clock")
    _, raw = predict.read_arrays(session, model, images[..., None].astype(np.float32))
    # A calibration whose sure line falls between two distinct raw confidences (a tiny
    # reader may give several clocks the same one, clipped at 1, so not at their median).
    values = np.unique(np.asarray(raw, dtype=np.float64))
    assert len(values) >= 2, raw
    lower, upper = values[len(values) // 2 - 1], values[len(values) // 2]
    middle, half = float((lower + upper) / 2), float((upper - lower) / 4)
    calibrated = {"format": confidence.FORMAT, "method": "isotonic", "features": ["raw_confidence"],
                  "x": [middle - half, middle + half], "y": [0.1, 0.95], "sure_at": 0.5}
    (run / "confidence.json").write_text(json.dumps(calibrated))
    exporter.export_entry("clock_hands", run, tmp_path / "export", data=False, log=lambda message: None)
    result = run_zoo("predict-time", "--model", tmp_path / "export", "--json", "--no-find", *files)
    assert result.returncode == 0, result.stderr
    answers = json.loads(result.stdout)["results"]
    assert [answer["sure"] for answer in answers] == [bool(value > middle) for value in raw]
    assert all(answer["confidence"] in (0.1, 0.95) for answer in answers)
    text = run_zoo("predict-time", "--model", tmp_path / "export", "--no-find", *files)
    lines = text.stdout.strip().splitlines()
    assert [line.endswith("unsure)") for line in lines] == [not answer["sure"] for answer in answers]


def test_a_broken_calibration_file_is_a_one_line_error(tmp_path):
    run, _ = tiny_run(tmp_path / "run")
    (run / "confidence.json").write_text("{")
    assert_one_line_error(run_zoo("export", "clock_hands", "--model", run, "--out", tmp_path / "export"),
                          "confidence.json")
    (run / "confidence.json").write_text(json.dumps({"format": "nope"}))
    assert_one_line_error(run_zoo("export", "clock_hands", "--model", run, "--out", tmp_path / "export"),
                          "calibration")
    assert_one_line_error(run_zoo("calibrate", "--model", tmp_path / "none"), "not a trained run")
