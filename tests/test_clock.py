"""The clock readers: targets and decoding agree, data comes from renders or Leiden folders."""

import json

import keras
import numpy as np
import pytest

from conftest import assert_one_line_error, run_zoo
from zoo import registry, training
from zoo.clocks import clockface, data, entries, layers, losses, reading
from zoo.clocks import upright as upright_stages
from zoo.common import clocktime, decoding

READERS = ["clock_classifier", "clock_regressor", "clock_multihead", "clock_hands"]


def perfect_outputs(entry, config, labels):
    """What a perfect reader of ``entry`` outputs: its training targets."""
    kind = entries.describe_clock(entry, config)["kind"]
    outputs = data.targets(kind, labels, config)
    for hand in ("hour", "minute"):
        if f"{hand}_bins" in outputs:  # The model turns its angle distribution into (sin, cos).
            outputs[hand] = np.asarray(layers.CircularMean(config["angle_bins"])(outputs[f"{hand}_bins"]))
    return outputs


@pytest.mark.parametrize("name", READERS)
def test_targets_decode_back_to_the_time(name):
    entry = registry.get(name)
    config = entry.resolve({"bins": 720} if name == "clock_classifier" else {})
    rng = np.random.default_rng(0)
    labels = np.stack([rng.integers(0, 12, 500), rng.integers(0, 60, 500)], axis=1)
    decode = entries.describe_clock(entry, config)
    minutes, confidence = decoding.decode_outputs(perfect_outputs(entry, config, labels), decode)
    truth = clocktime.to_minutes(labels[:, 0], labels[:, 1])
    # 720 bins have centres at t + 0.5; every other reader decodes exactly.
    assert clocktime.common_sense_error(minutes, truth).max() <= 0.5 + 1e-6
    assert np.all((confidence >= 0) & (confidence <= 1))


def test_bins_decode_at_the_bin_centre():
    entry = registry.get("clock_classifier")
    config = entry.resolve({"bins": 24})
    labels = np.array([[2, 58], [3, 0], [11, 59]])
    minutes, _ = decoding.decode_outputs(perfect_outputs(entry, config, labels), entries.describe_clock(entry, config))
    np.testing.assert_allclose(minutes, [165.0, 195.0, 705.0])


def test_hands_reader_avoids_the_hour_boundary_mistake():
    # The hour hand of 2:58 is almost on the 3; a separate hour head would say 3:58.
    hour_hand = clocktime.angle_encoding(np.array([181.0]), 720)
    minute_hand = clocktime.angle_encoding(np.array([58.0]), 60)
    decode = {"kind": "clock_hands", "hour_output": "hour", "minute_output": "minute"}
    minutes, _ = decoding.decode_outputs({"hour": hour_hand, "minute": minute_hand}, decode)
    assert minutes[0] == pytest.approx(178.0)


def test_parallel_render_equals_serial_and_is_cached(monkeypatch):
    parallel = data.render(40, seed=3, size=32, workers=2, progress=False)
    serial = clockface.render_batch(40, 3, size=32)
    np.testing.assert_array_equal(parallel[0], serial[0])
    np.testing.assert_array_equal(parallel[1], serial[1])
    calls = []
    monkeypatch.setattr(clockface, "render_batch", lambda *args, **kwargs: calls.append(1))
    again = data.render(40, seed=3, size=32, workers=2, progress=False)
    assert not calls
    np.testing.assert_array_equal(again[0], serial[0])


def test_rendered_splits_use_a_held_out_test_seed():
    entry = registry.get("clock_hands")
    config = entry.resolve({"image_size": 32, "train_count": 64, "val_count": 16, "test_count": 16})
    splits = entry.data(entry, config, seed=5)
    assert splits.info["test_seed"] == data.TEST_SEED
    images, labels = splits.test_arrays
    expected_images, expected_labels = clockface.render_batch(16, data.TEST_SEED, size=32)
    np.testing.assert_array_equal(labels, expected_labels)
    batch_images, batch_targets = next(iter(splits.train))
    assert batch_images.shape[1:] == (32, 32, 1) and set(batch_targets) == {"hour_bins", "minute_bins", "keypoints"}
    keypoints = batch_targets["keypoints"].numpy()
    assert keypoints.shape[1:] == (5, 2) and np.all((keypoints > -0.5) & (keypoints < 1.5))


def test_leiden_folder_is_resized_and_split(tmp_path):
    clockface.write_dataset(tmp_path / "leiden", 50, seed=9, size=60)
    entry = registry.get("clock_multihead")
    config = entry.resolve({"image_size": 48})
    splits = entry.data(entry, config, path=tmp_path / "leiden")
    assert splits.info["train"] == 40 and splits.info["val"] == 5 and splits.info["test"] == 5
    assert splits.test_arrays[0].shape == (5, 48, 48)


def test_test_seed_is_refused():
    entry = registry.get("clock_hands")
    from zoo import errors

    with pytest.raises(errors.ZooError, match="test clocks"):
        entry.data(entry, entry.resolve(), seed=data.TEST_SEED)


def test_train_a_tiny_reader_through_the_cli(tmp_path):
    out = tmp_path / "hands"
    result = run_zoo(
        "train", "clock_hands", "--epochs", "1", "--quiet", "--out", out,
        "--hp", "image_size=32", "--hp", "width=8", "--hp", "dense_units=16",
        "--hp", "train_count=128", "--hp", "val_count=32", "--hp", "test_count=32",
    )
    assert result.returncode == 0, result.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert {"test_cse_mean", "test_cse_median", "test_cse_p90", "test_cse_within_1"} <= set(metrics)
    assert 0 <= metrics["test_cse_mean"] <= 360

    # Where it fails, by clock style: tables, a chart and a gallery, on fresh test clocks.
    styles = tmp_path / "styles"
    broken_down = run_zoo("clock-errors", "--model", out, "--count", "40", "--out", styles)
    assert broken_down.returncode == 0, broken_down.stderr
    rows = json.loads((styles / "styles.json").read_text())
    assert rows[0]["factor"] == "all" and rows[0]["count"] == 40
    for factor in reading.STYLE_FACTORS:
        group = [row for row in rows if row["factor"] == factor]
        assert sum(row["count"] for row in group) == 40, factor
        assert sum(row["error_share"] for row in group) == pytest.approx(1.0, abs=1e-6) or rows[0]["cse_mean"] == 0
    for name in ("styles.csv", "styles.md", "styles.png", "worst.png"):
        assert (styles / name).stat().st_size > 0, name
    assert_one_line_error(run_zoo("clock-errors", "--model", tmp_path / "none"), "no model")


def test_bad_leiden_folder_is_one_line(tmp_path):
    (tmp_path / "images.npy").write_bytes(b"junk")
    assert_one_line_error(run_zoo("train", "clock_hands", "--data", tmp_path, "--epochs", "1"), "cannot read clocks")


def test_loss_study_writes_tables_and_figures(tmp_path):
    from zoo.clocks import study

    results = study.run_study("loss", tmp_path / "study", epochs=1, train_count=64, image_size=48)
    assert [row["row"] for row in results] == ["loss=mae", "loss=mse"]
    assert all(row["report_cse"] is not None and 0 <= row["cse_mean"] <= 360 for row in results)
    for name in ("results.csv", "results.md", "results.json", "errors.png", "worst_loss_mae.png", "worst_loss_mse.png"):
        assert (tmp_path / "study" / name).stat().st_size > 0, name
    assert "loss=mse" in (tmp_path / "study" / "results.md").read_text()


def test_generalisation_study_scores_held_out_styles(tmp_path):
    # Through the CLI, with a setting for every row (--hp) beside the study's own.
    result = run_zoo(
        "clock-study", "generalisation", "--out", tmp_path / "general", "--epochs", "1", "--train-count", "64",
        "--image-size", "48", "--entry", "clock_regressor", "--hp", "loss=mae", "--hp", "exclude_styles=('dark_face',)",
    )
    assert result.returncode == 0, result.stderr
    results = json.loads((tmp_path / "general" / "results.json").read_text())
    assert [row["test_set"] for row in results] == ["in_style", "only_roman", "only_square", "unseen_renderer"]
    assert results[0]["ratio_to_in_style"] == pytest.approx(1.0)
    assert results[3]["count"] == results[0]["count"]
    assert (tmp_path / "general" / "worst_held_out_training_unseen_renderer.png").is_file()
    hparams = json.loads((tmp_path / "general" / "held_out_training" / "hparams.json").read_text())
    assert hparams["exclude_styles"] == ["roman", "square"] and hparams["loss"] == "mae"
    assert_one_line_error(run_zoo("clock-study", "loss", "--hp", "loss"), "key=value")


def test_rotation_augment_moves_keypoints_with_the_image():
    size, count = 48, 16
    rng = np.random.default_rng(0)
    points = rng.uniform(0.25, 0.75, (count, 3, 2)).astype("float32")  # [0, 1] (x, y)
    rows, columns = np.mgrid[0:size, 0:size]
    # A bright blob at the first keypoint of each image.
    x, y = points[:, 0, 0] * size - 0.5, points[:, 0, 1] * size - 0.5
    blobs = np.exp(-((columns[None] - x[:, None, None]) ** 2 + (rows[None] - y[:, None, None]) ** 2) / 4.0)
    images = (255 * blobs[..., None]).astype("float32")
    points[5, 2] = np.nan  # unknown keypoints stay unknown
    targets = {"keypoints": points, "polar_training": points.copy(), "hour": np.zeros((count, 2), "float32")}

    turned, moved = data.rotate_batch(images, targets, probability=1.0, seed=1)
    turned, moved = np.asarray(turned), {key: np.asarray(value) for key, value in moved.items()}
    peak = turned[..., 0].reshape(count, -1).argmax(axis=1)
    found = np.stack([(peak % size + 0.5) / size, (peak // size + 0.5) / size], axis=1)
    assert np.abs(found - moved["keypoints"][:, 0]).max() <= 1.5 / size
    assert np.abs(moved["keypoints"][:, 0] - points[:, 0]).max() > 0.1  # they did turn
    # Distances between keypoints are kept (a rotation), the time targets untouched.
    span = np.linalg.norm(points[:, 0] - points[:, 1], axis=-1)
    np.testing.assert_allclose(np.linalg.norm(moved["keypoints"][:, 0] - moved["keypoints"][:, 1], axis=-1), span,
                               atol=1e-5)
    np.testing.assert_array_equal(moved["keypoints"], moved["polar_training"])
    assert np.isnan(moved["keypoints"][5, 2]).all() and np.isfinite(moved["keypoints"][5, :2]).all()
    np.testing.assert_array_equal(moved["hour"], targets["hour"])

    untouched, same = data.rotate_batch(images, targets, probability=0.0, seed=1)
    np.testing.assert_allclose(np.asarray(untouched), images, atol=1e-3)
    np.testing.assert_allclose(np.asarray(same["keypoints"]), points, atol=1e-6)


def test_error_rows_split_the_mean_error_by_style():
    styles = [clockface.sample_style(np.random.default_rng(index)) for index in range(30)]
    errors_in_minutes = np.arange(30, dtype=float)
    rows = reading.error_rows(errors_in_minutes, styles, factors=("rotation", "second_hand"))
    assert rows[0] == pytest.approx({**rows[0], "count": 30, "cse_mean": 14.5, "error_share": 1.0})
    for row in rows[1:]:
        chosen = np.array([reading.style_value(style, row["factor"]) == row["value"] for style in styles])
        assert row["count"] == chosen.sum() and row["cse_mean"] == pytest.approx(errors_in_minutes[chosen].mean())
        assert row["error_share"] == pytest.approx(errors_in_minutes[chosen].sum() / errors_in_minutes.sum())
    assert {row["value"] for row in rows if row["factor"] == "second_hand"} <= {"true", "false"}


def test_dial_angle_undoes_a_sheared_frame():
    # A frame whose 3 o'clock axis is not a quarter turn from its 12 (a localiser's
    # 3 point off to one side): reading the hand against both marks recovers its
    # dial angle, where reading it against the 12 alone does not.
    rng = np.random.default_rng(0)
    count = 64
    theta = rng.uniform(0, 2 * np.pi, count)
    twelve_at = rng.uniform(-0.3, 0.3, count)
    three_at = twelve_at + np.pi / 2 + rng.uniform(-0.25, 0.25, count)
    twelve = np.stack([np.sin(twelve_at), np.cos(twelve_at)], axis=1)
    three = np.stack([np.sin(three_at), np.cos(three_at)], axis=1)
    hand = np.sin(theta)[:, None] * three + np.cos(theta)[:, None] * twelve
    hand = 0.8 * hand / np.linalg.norm(hand, axis=1, keepdims=True)
    inputs = [value.astype("float32") for value in (hand, twelve, three)]
    expected = 0.8 * np.stack([np.sin(theta), np.cos(theta)], axis=1)
    np.testing.assert_allclose(np.asarray(layers.DialAngle()(inputs)), expected, atol=1e-5)
    # The hand read against the 12 alone: its angle minus the 12's.
    relative = 0.8 * np.stack([np.sin(np.arctan2(hand[:, 0], hand[:, 1]) - twelve_at),
                               np.cos(np.arctan2(hand[:, 0], hand[:, 1]) - twelve_at)], axis=1)
    assert np.abs(relative - expected).max() > 0.05  # the shear the 3 mark corrects

    # With a tolerance, a shear within it is still undone; a 3 head that missed (its
    # direction far from a quarter turn after the 12) is ignored: read against the 12.
    tolerant = layers.DialAngle(tolerance=20.0)
    np.testing.assert_allclose(np.asarray(tolerant(inputs)), expected, atol=1e-5)
    missed_at = twelve_at + np.pi + rng.uniform(-0.5, 0.5, count)  # found the 6, say
    missed = [inputs[0], inputs[1], np.stack([np.sin(missed_at), np.cos(missed_at)], axis=1).astype("float32")]
    np.testing.assert_allclose(np.asarray(tolerant(missed)), relative, atol=1e-5)
    assert np.abs(np.asarray(layers.DialAngle()(missed)) - relative).max() > 0.5


def test_polar_loss_reads_the_three_mark_in_the_predicted_frame():
    # Keypoints in an upright frame: each head's loss is lowest when its logits
    # peak at the column of its keypoint's angle (hour 2:00 -> 60 deg, minute 90,
    # 12 at 0, 3 at 90 degrees).
    angles = 36
    centre, twelve, three = np.array([0.5, 0.5]), np.array([0.5, 0.1]), np.array([0.9, 0.5])
    hour_tip = centre + 0.2 * np.array([np.sin(np.pi / 3), -np.cos(np.pi / 3)])
    minute_tip = centre + np.array([0.3, 0.0])
    truth = np.stack([centre, twelve, three, hour_tip, minute_tip])[None].astype("float32")
    frame = truth[:, :3].reshape(1, 6)

    centres = 2 * np.pi * (np.arange(angles) + 0.5) / angles
    concentration = 1.0 / (2 * np.pi / angles) ** 2

    def loss_for(degrees):  # logits peaking at each head's angle, shaped like the targets
        logits = concentration * np.cos(centres[None, :] - np.radians(np.array(degrees))[:, None])
        packed = np.concatenate([logits.reshape(1, -1), frame], axis=1).astype("float32")
        return float(np.asarray(losses.polar_reading_loss_with_three(truth, packed))[0])

    right = loss_for([60, 90, 0, 90])
    assert right < loss_for([60, 90, 0, 100]) - 0.2 and right < loss_for([60, 90, 0, 180]) - 10
    assert right < loss_for([60, 100, 0, 90]) - 0.2


def test_teacher_forcing_reads_in_the_true_frame_early_and_serves_the_image_only_reader():
    from zoo import training

    entry = registry.get("clock_polar")
    config = entry.resolve({"image_size": 64, "width": 8, "polar_width": 4, "train_count": 64, "val_count": 16,
                            "test_count": 16, "batch_size": 64, "teacher_forcing": 0.5})
    splits = entry.data(entry, config, seed=5)
    (schedule,) = splits.callbacks
    schedule.set_params({"epochs": 4})  # taught on all clocks at epoch 0, half at 1, none from 2

    def hinted(dataset):
        inputs, targets = next(iter(dataset))
        hint = inputs["frame_hint"].numpy()
        known = np.isfinite(hint).all(axis=(1, 2))
        assert np.isnan(hint[~known]).all()
        np.testing.assert_array_equal(hint[known], targets["keypoints"].numpy()[known, :3])
        return inputs, known.mean()

    schedule.on_epoch_begin(1)
    assert 0 < hinted(splits.train)[1] < 1
    schedule.on_epoch_begin(2)
    assert hinted(splits.train)[1] == 0
    assert hinted(splits.val)[1] == 0  # validation reads in the localiser's frame
    schedule.on_epoch_begin(0)
    inputs, share = hinted(splits.train)
    assert share == 1

    model = entry.build(config)
    trainer = training.fitting_model(model)
    assert [tensor.name for tensor in model.inputs] == ["image"]
    assert sorted(tensor.name for tensor in trainer.inputs) == ["frame_hint", "image"]
    assert {id(weight) for weight in trainer.weights} == {id(weight) for weight in model.weights}
    assert training.fitting_model(registry.get("clock_polar").build(entry.resolve(
        {"image_size": 64, "width": 8, "polar_width": 4}))) is not trainer  # no teacher: the model itself

    # The frame packed for the loss is the one the reader sampled in.
    taught = np.asarray(trainer(inputs, training=True)["polar_training"])[:, -6:]
    np.testing.assert_allclose(taught, inputs["frame_hint"].numpy().reshape(-1, 6), atol=1e-6)
    served = np.asarray(model(inputs["image"], training=False)["polar_training"])
    np.testing.assert_allclose(np.asarray(trainer(inputs, training=False)["polar_training"]), served, atol=1e-5)
    assert np.abs(served[:, -6:] - taught).max() > 1e-3  # an untrained localiser is elsewhere


def scores_turning_with_the_strip(model, strip_layer, scores_layer, atol):
    """The scores ``model`` computes from a random strip fed in at ``strip_layer``,
    checked to move by 7 bins when the strip is turned by 7 of the scores' bins (a
    network blind to the angle)."""
    content = keras.Model(model.get_layer(strip_layer).output, model.get_layer(scores_layer).output)
    strip = np.random.default_rng(0).uniform(0, 255, (1, *content.inputs[0].shape[1:])).astype("float32")
    scores = np.asarray(content(strip))
    step = strip.shape[2] // scores.shape[2]  # strip columns per score bin
    np.testing.assert_allclose(np.roll(scores, 7, axis=2), np.asarray(content(np.roll(strip, step * 7, axis=2))),
                               atol=atol)
    return scores


def test_polar_mark_context_scores_the_marks_from_the_whole_circle():
    # mark_context: the 12 and 3 rows get a learned template over every offset round
    # the circle (zero at first); the hands' rows are left alone.
    entry = registry.get("clock_polar")
    base = {"image_size": 64, "width": 8, "polar_width": 4}
    model = entry.build(entry.resolve(base))
    template = model.get_layer("polar_context")
    assert template.kernel.shape == (1, 121, 16, 2) and not np.asarray(template.kernel).any()
    trainer = training.fitting_model(model)
    assert {id(weight) for weight in trainer.weights} == {id(weight) for weight in model.weights}
    images = data.render(2, 11, 64, progress=False).images[..., None].astype("float32")
    parts = keras.Model(model.inputs, [model.get_layer(name).output for name in
                                       ("polar_head_relu", "polar_by_head", "polar_with_context")])
    features, local, scores = (np.asarray(value) for value in parts({"image": images}))
    np.testing.assert_allclose(scores, local, atol=1e-6)  # starts as the local heads alone

    kernel = np.random.default_rng(1).normal(size=(1, 121, 16, 2)).astype("float32")
    template.kernel.assign(kernel)
    features, local, scores = (np.asarray(value) for value in parts({"image": images}))
    np.testing.assert_allclose(scores[:, :2], local[:, :2], atol=1e-5)  # hour and minute
    offsets = np.arange(121) - 60
    expected = np.stack([np.einsum("ndc,dcm->nm", features[:, 0, (angle + offsets) % 120], kernel[0])
                         for angle in range(120)], axis=-1)
    np.testing.assert_allclose(scores[:, 2:], local[:, 2:] + expected, rtol=1e-3, atol=1e-3)


def test_polar_strip_is_blind_to_the_angle():
    # No angle channels on the hands' strip, so a clock turned about its pivot (the
    # strip shifted along the angle) moves every head's scores by as many bins, the
    # whole-circle template included; the per-angle prior carries where 12 should be.
    entry = registry.get("clock_polar")
    model = entry.build(entry.resolve({"image_size": 64, "width": 8, "polar_width": 4}))
    assert model.get_layer("polar1").kernel.shape[2] == 1  # the image alone, no (sin, cos) channels
    model.get_layer("polar_context").kernel.assign(
        np.random.default_rng(1).normal(size=(1, 121, 16, 2)).astype("float32"))
    scores_turning_with_the_strip(model, "polar", "polar_with_context", atol=1e-3)
    assert model.get_layer("polar_prior").prior.shape == (4, 120)


def test_polar_prior_gate_weights_the_strip_prior_per_clock_and_head():
    # prior_gate: the strip's prior is scaled per clock and head by 2 * sigmoid(gate), the
    # gate read from the strip's features averaged round the circle, so it does not move
    # with a turned strip; at its start (zero weights) the prior is added as without it.
    entry = registry.get("clock_polar")
    base = {"image_size": 64, "width": 8, "polar_width": 4, "teacher_forcing": 0.5}
    model = entry.build(entry.resolve(base))
    prior = model.get_layer("polar_prior")
    prior.prior.assign(np.tile(np.arange(120, dtype="float32"), (4, 1)))
    parts = keras.Model(model.inputs, [model.get_layer(name).output
                                       for name in ("polar_with_context", "polar_gate", "polar_prior")])
    images = data.render(2, 11, 64, progress=False).images[..., None].astype("float32")
    before, logits, after = (np.asarray(value) for value in parts({"image": images}))
    assert not logits.any()
    np.testing.assert_allclose(after, before + np.arange(120), atol=1e-3)

    gate = model.get_layer("polar_gate")
    rng = np.random.default_rng(2)
    gate.kernel.assign(rng.normal(size=gate.kernel.shape).astype("float32"))
    gate.bias.assign(np.array([-3.0, 0.0, 1.0, 3.0], "float32"))
    before, logits, after = (np.asarray(value) for value in parts({"image": images}))
    assert np.ptp(logits, axis=0).max() > 1e-3  # a gate of its own for each clock
    weight = 2.0 / (1.0 + np.exp(-logits))
    np.testing.assert_allclose(after, before + weight[:, :, None] * np.arange(120), rtol=1e-4, atol=1e-3)
    on_strip = keras.Model(model.get_layer("polar").output, model.get_layer("polar_gate").output)
    strip = rng.uniform(0, 255, (1, *on_strip.inputs[0].shape[1:])).astype("float32")
    np.testing.assert_allclose(np.asarray(on_strip(strip)), np.asarray(on_strip(np.roll(strip, 7, axis=2))),
                               atol=1e-4)
    trainer = training.fitting_model(model)
    assert {id(weight) for weight in trainer.weights} == {id(weight) for weight in model.weights}


def test_polar_geometry_stays_float32_in_mixed_precision():
    # The convolutions compute in bfloat16; keypoints, frames, sampling and the heads'
    # scores in float32; the float32 twin takes the weights and reads the same.
    entry = registry.get("clock_polar")
    config = entry.resolve({"image_size": 64, "width": 8, "polar_width": 4, "teacher_forcing": 0.5})
    keras.utils.set_random_seed(3)
    with training.dtype_policy("mixed_bfloat16"):
        mixed = entry.build(config)
    assert keras.config.dtype_policy().name == "float32"  # restored
    assert mixed.get_layer("loc_stem").compute_dtype == "bfloat16"
    assert mixed.get_layer("polar1").compute_dtype == "bfloat16"
    for name in ("keypoints", "frame", "polar", "polar_scores", "polar_prior", "hour_bins", "hour",
                 "polar_training"):
        assert mixed.get_layer(name).compute_dtype == "float32", name
    assert training.fitting_model(mixed).get_layer("teacher_frame").compute_dtype == "float32"
    twin = training.float32_twin(entry, config, mixed)
    assert {layer.dtype_policy.name for layer in twin.layers} == {"float32"}
    images = data.render(4, 11, 64, progress=False).images[..., None].astype("float32")
    exact, rounded = twin.predict(images, verbose=0), mixed.predict(images, verbose=0)
    for key in ("hour", "minute", "keypoints"):
        assert np.asarray(rounded[key]).dtype == np.float32
        np.testing.assert_allclose(np.asarray(rounded[key]), np.asarray(exact[key]), atol=0.1)


def test_train_a_teacher_forced_polar_reader_through_the_cli(tmp_path):
    out = tmp_path / "polar"
    result = run_zoo(
        "train", "clock_polar", "--epochs", "2", "--quiet", "--out", out, "--hp", "teacher_forcing=0.5",
        "--hp", "image_size=64", "--hp", "width=8", "--hp", "polar_width=4",
        "--hp", "train_count=64", "--hp", "val_count=16", "--hp", "test_count=16",
    )
    assert result.returncode == 0, result.stderr
    assert 0 <= json.loads((out / "metrics.json").read_text())["test_cse_mean"] <= 360
    saved = keras.saving.load_model(out / "model.keras")
    assert [tensor.name for tensor in saved.inputs] == ["image"]
    assert not any(isinstance(layer, layers.TeacherFrame) for layer in saved.layers)
    assert isinstance(saved.get_layer("hour_in_frame"), layers.PeakMean)

    # Re-decoded with the whole distribution: same weights, a new run folder.
    rebuilt = tmp_path / "polar-mean"
    result = run_zoo("rebuild", "--model", out, "--hp", "decode_window=0", "--out", rebuilt)
    assert result.returncode == 0, result.stderr
    model = keras.saving.load_model(rebuilt / "model.keras")
    assert type(model.get_layer("hour_in_frame")) is layers.CircularMean
    for before, after in zip(saved.weights, model.weights):
        np.testing.assert_array_equal(np.asarray(before), np.asarray(after))
    run = json.loads((rebuilt / "run.json").read_text())
    assert run["rebuilt_with"] == {"decode_window": 0} and (rebuilt / "metrics.json").exists()
    assert_one_line_error(run_zoo("rebuild", "--model", out, "--hp", "width=16", "--out", tmp_path / "wide"),
                          "does not take the run's weights")
    assert not (tmp_path / "wide").exists()
    assert_one_line_error(run_zoo("rebuild", "--model", out, "--out", out), "must differ")

    # A run saved by older code, with a setting the entry no longer has, is refused in
    # one line that says so; nothing is written.
    config = json.loads((out / "hparams.json").read_text())
    (out / "hparams.json").write_text(json.dumps({**config, "rim_angles": 0}))
    assert_one_line_error(run_zoo("rebuild", "--model", out, "--hp", "decode_window=0", "--out", tmp_path / "older"),
                          "saved by older code")
    assert not (tmp_path / "older").exists()


def test_peak_mean_reads_the_main_mode():
    bins = 120
    centres = 2 * np.pi * (np.arange(bins) + 0.5) / bins
    probabilities = np.zeros((2, bins), dtype="float32")
    probabilities[0, [9, 10, 11]] = [0.15, 0.35, 0.15]  # main mode at bin 10
    probabilities[0, 40] = 0.25  # a smaller second mode a quarter turn on
    probabilities[1, [119, 0, 1]] = [0.2, 0.6, 0.2]  # a mode across the wrap
    peak = np.asarray(layers.PeakMean(bins, window=3)(probabilities))
    np.testing.assert_allclose(np.arctan2(peak[:, 0], peak[:, 1]) % (2 * np.pi), centres[[10, 0]], atol=1e-5)
    step = np.cos(2 * np.pi / bins)  # the mass in the window, shortened by its spread
    np.testing.assert_allclose(np.linalg.norm(peak, axis=1), [0.35 + 0.3 * step, 0.6 + 0.4 * step], atol=1e-5)
    whole = np.asarray(layers.CircularMean(bins)(probabilities))
    assert abs(np.arctan2(whole[0, 0], whole[0, 1]) - centres[10]) > 0.3  # pulled towards the second mode


def test_quarter_turns_agree_between_keypoints_images_and_layers():
    clocks = data.render(16, 5, 64, progress=False)
    quarters = upright_stages.quarter_of(clocks.geometry)
    turns = np.arange(16) % 4
    turned = upright_stages.turn_quarters(clocks.images, turns)
    points = clocks.geometry / 64.0
    moved = points.copy()
    for index, turn in enumerate(turns):
        for _ in range(turn):  # one clockwise quarter of the image: (x, y) -> (1 - y, x)
            moved[index] = np.stack([1.0 - moved[index][:, 1], moved[index][:, 0]], axis=-1)
    np.testing.assert_array_equal(upright_stages.quarter_of(moved), (quarters + turns) % 4)
    whole = upright_stages.turn_clocks(clocks, turns)
    np.testing.assert_array_equal(whole.images, turned)
    np.testing.assert_allclose(whole.geometry / 64.0, moved, atol=1e-6)
    np.testing.assert_array_equal(whole.labels, clocks.labels)
    upright = upright_stages.turn_clocks(whole, -upright_stages.quarter_of(whole.geometry))
    assert not upright_stages.quarter_of(upright.geometry).any()

    # An upright stage sure of each turn undoes it exactly, and keypoints read in the
    # turned-back image go back to the image as given.
    sure = np.eye(4, dtype="float32")[(quarters + turns) % 4] * 50.0
    back, choice = layers.QuarterTurn(prior=upright_stages.quarter_prior())(turned[..., None].astype("float32"), sure)
    turned_back = upright_stages.turn_quarters(turned, -((quarters + turns) % 4))
    np.testing.assert_array_equal(np.asarray(back)[..., 0], turned_back)
    restored_points = np.asarray(layers.QuarterTurnBack()(points.astype("float32"), choice))
    expected = points.copy()
    for index, turn in enumerate((quarters + turns) % 4):
        for _ in range(turn):
            expected[index] = np.stack([1.0 - expected[index][:, 1], expected[index][:, 0]], axis=-1)
    np.testing.assert_allclose(restored_points, expected, atol=1e-6)

    # A stage that cannot tell leaves the clock as it is: most clocks hang upright.
    prior = upright_stages.quarter_prior()
    assert prior.sum() == pytest.approx(1.0) and prior[0] > 0.5
    _, unsure = layers.QuarterTurn(prior=prior)(turned[..., None].astype("float32"), np.zeros((16, 4), "float32"))
    np.testing.assert_array_equal(np.asarray(unsure).argmax(axis=1), np.zeros(16))


# Slow (250 s of a 29-minute suite on a loaded machine, the longest test): the release
# reader ships without upright stages, so make test-slow keeps this path covered.
@pytest.mark.slow
def test_upright_stage_trains_and_joins_a_reader_through_the_cli(tmp_path):
    small = ["--hp", "train_count=64", "--hp", "val_count=16", "--hp", "test_count=16"]
    upright, reader, joined = tmp_path / "upright", tmp_path / "reader", tmp_path / "joined"
    result = run_zoo("train", "clock_upright", "--epochs", "1", "--quiet", "--out", upright,
                     "--hp", "image_size=64", "--hp", "width=4", "--hp", "dense_units=8", *small)
    assert result.returncode == 0, result.stderr
    metrics = json.loads((upright / "metrics.json").read_text())
    assert 0 <= metrics["test_quarter_accuracy"] <= 1 and 0 <= metrics["test_upright_accuracy"] <= 1
    polar = tmp_path / "upright_polar"  # the polar design, which also learns the dial
    result = run_zoo("train", "clock_upright", "--epochs", "1", "--quiet", "--out", polar,
                     "--hp", "design=polar", "--hp", "image_size=64", "--hp", "width=4", *small)
    assert result.returncode == 0, result.stderr
    assert 0 <= json.loads((polar / "metrics.json").read_text())["test_quarter_accuracy"] <= 1
    result = run_zoo("train", "clock_polar", "--epochs", "1", "--quiet", "--out", reader,
                     "--hp", "image_size=64", "--hp", "width=8", "--hp", "polar_width=4", *small)
    assert result.returncode == 0, result.stderr

    result = run_zoo("upright", "--reader", reader, "--upright", upright, "--out", joined)
    assert result.returncode == 0, result.stderr
    assert 0 <= json.loads((joined / "metrics.json").read_text())["test_cse_mean"] <= 360
    assert json.loads((joined / "run.json").read_text())["upright_from"] == str(upright)
    import keras

    model = keras.saving.load_model(joined / "model.keras")
    plain = keras.saving.load_model(reader / "model.keras")
    assert model.name == "clock_polar" and [tensor.name for tensor in model.inputs] == ["image"]
    images = data.render(4, 11, 64, progress=False).images[..., None].astype("float32")
    both = model.predict(images, verbose=0)
    assert sorted(both) == sorted(plain.predict(images, verbose=0))
    assert all(np.isfinite(np.asarray(value)).all() for value in both.values())

    assert_one_line_error(run_zoo("upright", "--reader", upright, "--upright", upright, "--out", tmp_path / "x"),
                          "not a clock reader")
    assert_one_line_error(run_zoo("upright", "--reader", reader, "--upright", reader, "--out", tmp_path / "x"),
                          "not a clock_upright run")
    assert_one_line_error(run_zoo("upright", "--reader", reader, "--upright", upright, "--out", reader), "must differ")
    assert_one_line_error(run_zoo("upright", "--reader", reader, "--upright", upright, "--prior-weight", "9",
                                  "--out", tmp_path / "x"), "--prior-weight must be within")
    assert_one_line_error(run_zoo("upright", "--reader", joined, "--upright", upright, "--out", tmp_path / "x"),
                          "already reads behind an upright stage")

    # export.release.build joins the reader and the two stages, which vote, the same way
    # and ships them through the reader's own export gates (tf2onnx, onnxruntime parity).
    release = tmp_path / "release"
    from export import release as releasing

    stages = (releasing.Stage("clock_upright", upright), releasing.Stage("clock_upright", polar, recipe="polar"))
    card = releasing.build("clock", releasing.Stage("clock_polar", reader), out_dir=release, upright=stages,
                           prior_weight=0.7, log=lambda message: None)
    assert card["parity"]["passed"] is True and card["training"]["upright_from"] == [str(upright), str(polar)]
    assert json.loads((release / "clock.card.json").read_text())["release"]["upright"][1]["recipe"] == "polar"
    assert card["training"]["upright_prior_weight"] == 0.7
    assert (tmp_path / "reader_upright" / "model.keras").exists()
    assert not (tmp_path / "x").exists()


def test_polar_upright_stage_unrolls_from_the_top_and_scores_quarters():
    # A bright spot straight above the pivot lands in column 0 of the strip, one to its
    # right a quarter of the way round, whichever direction the rim points give.
    image = np.zeros((1, 64, 64, 1), "float32")
    image[0, 12:16, 30:34] = 255.0  # above the pivot at (32, 32)
    image[0, 30:34, 50:54] = 128.0  # right of it
    pivot, rim = [0.5, 0.5], 0.4
    for twelve, three in (([0.5, 0.1], [0.9, 0.5]), ([0.9, 0.5], [0.5, 0.9]), ([0.26, 0.18], [0.82, 0.26])):
        # The dial's pivot and radius (the larger rim distance) whichever way it hangs.
        keypoints = np.array([[pivot, twelve, three, pivot, pivot]], "float32")
        dial = np.array([[*pivot, rim]], "float32")
        assert float(losses.dial_loss(keypoints, dial)[0]) == pytest.approx(0.0, abs=1e-3)
        moved = dial + np.array([[0.03, 0.04, 0.0]], "float32")
        assert float(losses.dial_loss(keypoints, moved)[0]) == pytest.approx(0.05, abs=1e-3)
        frame = np.asarray(layers.UprightFrame()(dial))
        np.testing.assert_allclose(frame[0], [pivot, [0.5, 0.5 - rim], [0.5 + rim, 0.5]], atol=1e-6)
        strip = np.asarray(layers.PolarSampler(16, 40, reach=1.1)(image, frame))[0, :, :, 0]
        assert strip.max(axis=0).argmax() in (0, 39)  # the brightest column: the top
        assert abs(int(np.argmax(strip.max(axis=0) * (strip.max(axis=0) < 200))) - 10) <= 1  # the right: 1/4 turn

    # Angle scores peaked at a direction give that direction's quarter, with the
    # convention of quarter_of (45 degrees either side of each quarter turn).
    angles = 120
    for degrees in (0, 30, 44, 46, 90, 150, 200, 250, 300, 359):
        logits = np.full((1, angles), -20.0, "float32")
        column = int(degrees / 360 * angles)
        logits[0, column] = 20.0
        quarter = np.asarray(layers.QuarterOfAngle(angles)(logits))
        assert np.exp(quarter).sum() == pytest.approx(1.0, abs=1e-4)
        radians = 2 * np.pi * (column + 0.5) / angles
        geometry = np.array([[[32.0, 32.0], [32 + 20 * np.sin(radians), 32 - 20 * np.cos(radians)]]])
        assert quarter.argmax() == upright_stages.quarter_of(geometry)[0]

        # The angle loss is least for logits peaked at the true 12's direction.
        truth = np.concatenate([geometry[:, :2] / 64.0, np.zeros((1, 3, 2))], axis=1).astype("float32")
        wrong = np.roll(logits, angles // 4, axis=1)
        assert float(losses.twelve_angle_loss(truth, logits)[0]) < float(losses.twelve_angle_loss(truth, wrong)[0])


def test_polar_upright_data_carries_turned_keypoints():
    config = training.resolve_config(registry.get("clock_upright"), overrides=dict(
        design="polar", image_size=64, train_count=32, val_count=16, test_count=16, batch_size=8), epochs=1)
    splits = registry.get("clock_upright").data(registry.get("clock_upright"), config)
    for dataset in (splits.train, splits.val):
        images, labels = next(iter(dataset))
        assert sorted(labels) == ["dial", "quarter", "twelve"]
        points = np.asarray(labels["dial"]) * 64.0
        np.testing.assert_array_equal(upright_stages.quarter_of(points), np.asarray(labels["quarter"]))
        np.testing.assert_array_equal(np.asarray(labels["twelve"]), np.asarray(labels["dial"]))


def test_upright_stages_vote_with_their_log_probabilities():
    import keras

    def stage(bias):  # a stage that says the same whatever the image
        image = keras.Input(shape=(8, 8, 1), name="image")
        pooled = keras.layers.GlobalAveragePooling2D()(image)
        quarter = keras.layers.Dense(4, kernel_initializer="zeros", bias_initializer=keras.initializers.Constant(bias),
                                     name="quarter")(pooled)
        return keras.Model(image, {"quarter": quarter}, name="clock_upright")

    image = keras.Input(shape=(8, 8, 1), name="image")
    reader = keras.Model(image, {"pixels": keras.layers.Flatten()(image)}, name="clock_polar")
    picture = np.arange(64, dtype="float32").reshape(1, 8, 8, 1)

    def turned_by(*stages, prior_weight=1.0):
        pixels = upright_stages.with_upright(reader, list(stages) if len(stages) > 1 else stages[0],
                                    prior_weight=prior_weight).predict(picture, verbose=0)
        for quarter in range(4):
            if np.array_equal(pixels["pixels"].reshape(8, 8),
                              upright_stages.turn_quarters(picture[..., 0], [-quarter])[0]):
                return quarter
        raise AssertionError("the image was not turned by whole quarters")

    sure, fair, unsure = [0.0, 10.0, 0.0, 0.0], [0.0, 4.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]
    assert turned_by(stage(unsure)) == 0  # the prior keeps a clock no stage can read as it is
    assert turned_by(stage(sure)) == 1 and turned_by(stage(fair)) == 1
    assert turned_by(stage(sure), stage(unsure)) == 1  # a sure stage carries an unsure one...
    assert turned_by(stage(fair), stage(unsure)) == 0  # ...a fairly sure one does not: its say is halved
    assert turned_by(stage(fair), stage([0.0, 0.0, 0.0, 4.5])) == 0  # two that disagree leave the clock alone
    assert turned_by(stage(fair), stage([0.0, 0.0, 0.0, 9.0])) == 3  # unless one is much surer
    # A lighter prior trusts the stages more; none at all follows an unsure stage's whim.
    assert turned_by(stage(fair), stage(unsure), prior_weight=0.5) == 1
    assert turned_by(stage([0.0, 0.0, 0.1, 0.0]), prior_weight=0.0) == 2


def test_render_clocks_through_the_cli_with_either_renderer(tmp_path):
    from zoo.clocks.heldout import mplclocks

    for renderer, expected in (("zoo", clockface.render_batch(3, seed=5, size=40)),
                               ("matplotlib", mplclocks.render(3, 5, 40)[:2])):
        out = tmp_path / renderer
        result = run_zoo("render-clocks", "--count", "3", "--size", "40", "--seed", "5", "--renderer", renderer,
                         "--out", out)
        assert result.returncode == 0, result.stderr
        images, labels = clockface.load_leiden(out)
        assert images.tobytes() == expected[0].tobytes()
        np.testing.assert_array_equal(labels, expected[1])
    assert_one_line_error(run_zoo("render-clocks", "--count", "3", "--renderer", "matplotlib", "--include", "roman",
                                  "--out", tmp_path / "tagged"), "style tags")
    assert not (tmp_path / "tagged").exists()
