"""Reading a clock at four quarter turns and choosing one reading (zoo.common.turnvote): the
selector's fit and choice, ``zoo fit-turns`` on a run's validation clocks, the card
that carries the selector, and ``--turns`` in ``zoo clock-errors`` and ``zoo predict-time``.

The reader here is a stand-in with a known behaviour (it reads a clock right only at
its "upright" turn), so what the selector should learn is known; the plumbing around
it (rendering, turning, exporting, onnxruntime) is the real one.
"""

import json

import numpy as np
import pytest
from PIL import Image

from conftest import assert_one_line_error, run_zoo
from zoo import errors, registry
from zoo.clocks import data, entries, reading
from zoo.common import clocktime, turnvote


def test_turns_are_exact_quarter_rotations():
    images = np.arange(2 * 4 * 4, dtype=np.uint8).reshape(2, 4, 4)
    assert np.array_equal(turnvote.turn(images, 4), images)
    assert np.array_equal(turnvote.turn(turnvote.turn(images, 1), 3), images)
    # Counter-clockwise, as np.rot90: the top row becomes the left column, read upwards.
    assert np.array_equal(turnvote.turn(images, 1)[0, :, 0], images[0, 0, ::-1])
    with pytest.raises(errors.ZooError, match="square"):
        turnvote.read_turned(lambda x: (np.zeros(len(x)), np.ones(len(x))), np.zeros((2, 4, 6)))


def readings(count, seed):
    """Readings (4, N) of a reader that reads each clock right only at its upright turn
    (turn 0 for three clocks in four), surely there and unsurely elsewhere."""
    rng = np.random.default_rng(seed)
    truth = rng.uniform(0, 720, count)
    upright = np.where(rng.random(count) < 0.75, 0, rng.integers(1, 4, count))
    minutes = np.stack([(truth + 180 * ((k - upright) % 4)) % 720 for k in range(4)])
    confidence = np.where(np.arange(4)[:, None] == upright[None], rng.uniform(0.85, 1.0, (4, count)),
                          rng.uniform(0.2, 0.6, (4, count)))
    return minutes, confidence, truth, upright


def test_the_selector_learns_which_turn_reads_right_and_keeps_it_on_fresh_clocks():
    minutes, confidence, truth, _ = readings(400, seed=1)
    selector = turnvote.fit(minutes, confidence, truth)
    fitted = selector["fitted"]
    assert fitted["unturned"]["mean"] > 30 and fitted["best_of_turns"]["mean"] == 0.0
    assert fitted["chosen"]["mean"] < 1.0 and 0.15 < fitted["turned_share"] < 0.35
    assert json.loads(json.dumps(selector)) == selector  # plain JSON

    minutes, confidence, truth, upright = readings(400, seed=2)
    chosen, sure, turn = turnvote.choose(selector, minutes, confidence)
    assert np.mean(turn == upright) > 0.97
    assert (clocktime.common_sense_error(chosen, truth).mean()
            < 0.05 * clocktime.common_sense_error(minutes[0], truth).mean())
    assert np.array_equal(sure, confidence[turn, np.arange(400)])


def test_fit_refuses_readings_that_say_nothing_about_the_choice():
    minutes, confidence, truth, _ = readings(50, seed=3)
    right = np.broadcast_to(truth, (4, 50))
    with pytest.raises(errors.ZooError, match="nothing to learn"):
        turnvote.fit(right, confidence, truth)


@pytest.mark.parametrize("change, message", [
    ({"format": "other"}, "selector"),
    ({"weights": [1.0]}, "equal length"),
    ({"features": ["unturned", "colour"] + list(turnvote.FEATURES[2:])}, "equal length"),
    ({"turns": [0, 2, 1, 3]}, "turns"),
])
def test_a_malformed_selector_is_refused(change, message):
    minutes, confidence, truth, _ = readings(80, seed=4)
    selector = {**turnvote.fit(minutes, confidence, truth), **change}
    with pytest.raises(errors.ZooError, match=message):
        turnvote.choose(selector, minutes, confidence)


def test_save_is_atomic_and_loads_back(tmp_path):
    minutes, confidence, truth, _ = readings(80, seed=5)
    selector = turnvote.fit(minutes, confidence, truth)
    path = turnvote.save(selector, tmp_path / "turns.json")
    assert turnvote.load(path) == selector and [p.name for p in tmp_path.iterdir()] == ["turns.json"]
    with pytest.raises(errors.ZooError):
        turnvote.save({"format": "nope"}, path)
    assert turnvote.load(path) == selector  # the old file is untouched
    path.write_text("{")
    with pytest.raises(errors.ZooError, match="cannot read"):
        turnvote.load(path)


def tiny_run(folder, seed=3):
    """An untrained tiny clock_hands run folder, as `zoo train` lays it out."""
    entry = registry.get("clock_hands")
    config = entry.resolve(entry.tiny)
    folder.mkdir(parents=True)
    entry.build(config).save(folder / "model.keras")
    (folder / "hparams.json").write_text(json.dumps(config, default=list))
    (folder / "metrics.json").write_text("{}")
    (folder / "run.json").write_text(json.dumps({"entry": "clock_hands", "seed": seed, "epochs": 0,
                                                 "data": {"source": "rendered by zoo.clockface", "val": 64}}))
    return folder, config


class StandIn:
    """Reads clocks it has been shown: right at their upright turn, 3 hours per quarter off elsewhere."""

    def __init__(self):
        self.known = {}

    def learn(self, images, labels, upright):
        truth = clocktime.to_minutes(labels[:, 0], labels[:, 1]).astype(float)
        for image, minutes, turn in zip(images, truth, upright):
            for k in range(4):
                reading = (minutes + 180 * ((k - turn) % 4)) % 720, k == turn
                self.known[turnvote.turn(image[None], k).tobytes()] = reading

    def __call__(self, model, images, decode, batch_size=256):
        answers = [self.known[image[None].tobytes()] for image in images]
        return (np.array([minutes for minutes, _ in answers]),
                np.array([0.95 if right else 0.4 for _, right in answers]))


def test_fit_turns_fits_on_the_runs_validation_clocks_and_the_selector_reaches_the_card(tmp_path, monkeypatch):
    from export import exporter

    run, config = tiny_run(tmp_path / "run", seed=3)
    size = config["image_size"]
    reader = StandIn()
    images, labels, _ = data.render(64, 3 + data.VALIDATION_OFFSET, size, progress=False)
    upright = np.where(np.arange(64) % 4 == 0, 1 + np.arange(64) % 3, 0)
    reader.learn(images, labels, upright)
    monkeypatch.setattr(entries, "predict_minutes", reader)

    selector = reading.fit_turns(run, progress=False)
    assert (run / "turns.json").is_file() and turnvote.load(run / "turns.json") == selector
    assert selector["fitted"]["clocks"] == 64 and str(3 + data.VALIDATION_OFFSET) in selector["fitted"]["on"]
    assert selector["fitted"]["chosen"]["mean"] == 0.0 < selector["fitted"]["unturned"]["mean"]

    # clock-errors --turns reads the held-out clocks at four turns through the same selector.
    test_images, test_labels, _ = reading.held_out_clocks(24, size)
    test_upright = np.arange(24) % 4
    reader.learn(test_images, test_labels, test_upright)
    opened = reading.open_reader(run)
    truth = clocktime.to_minutes(test_labels[:, 0], test_labels[:, 1])
    assert clocktime.common_sense_error(reading.read_clocks(opened, test_images, turns=True)[0], truth).max() == 0
    assert clocktime.common_sense_error(reading.read_clocks(opened, test_images)[0], truth).mean() > 100

    card = exporter.export_entry("clock_hands", run, tmp_path / "export", data=False, log=lambda message: None)
    assert card["decode"]["turns"] == selector
    on_disk = json.loads((tmp_path / "export" / "card.json").read_text())
    assert on_disk["decode"]["turns"] == selector


def test_fit_turns_writes_nothing_when_the_choice_does_not_help(tmp_path, monkeypatch):
    run, config = tiny_run(tmp_path / "run", seed=5)
    images, labels, _ = data.render(64, 5 + data.VALIDATION_OFFSET, config["image_size"], progress=False)
    reader = StandIn()
    reader.learn(images, labels, np.zeros(64, dtype=int))  # always right unturned: every turn is worse
    monkeypatch.setattr(entries, "predict_minutes", reader)
    with pytest.raises(errors.ZooError, match="no better than the unturned reading"):
        reading.fit_turns(run, progress=False)
    assert not (run / "turns.json").exists()


def test_turns_without_a_selector_is_a_one_line_error(tmp_path):
    run, _ = tiny_run(tmp_path / "run")
    assert_one_line_error(run_zoo("clock-errors", "--model", run, "--turns", "--count", "8", "--out", tmp_path / "s"),
                          "no turn selector", "zoo fit-turns")
    assert not (tmp_path / "s").exists()
    assert_one_line_error(run_zoo("fit-turns", "--model", tmp_path / "none"), "not a trained run")


def test_predict_time_turns_keeps_the_selectors_reading_through_onnxruntime(tmp_path):
    from export import exporter
    from serve import models, predict

    run, config = tiny_run(tmp_path / "run")
    size = config["image_size"]
    exporter.export_entry("clock_hands", run, tmp_path / "plain", data=False, log=lambda message: None)
    images, labels, _ = reading.held_out_clocks(6, size)
    files = []
    for index, image in enumerate(images):
        files.append(tmp_path / f"clock{index}.png")
        Image.fromarray(image).save(files[-1])
    assert_one_line_error(run_zoo("predict-time", "--model", tmp_path / "plain", "--turns", *files),
                          "no turn selector")

    # A selector that keeps the most confident of the four readings: what it must answer is computable.
    selector = {"format": turnvote.FORMAT, "turns": [0, 1, 2, 3], "features": ["most_confident"], "weights": [5.0]}
    turnvote.save(selector, run / "turns.json")
    exporter.export_entry("clock_hands", run, tmp_path / "export", data=False, log=lambda message: None)
    result = run_zoo("predict-time", "--model", tmp_path / "export", "--turns", "--json", *files)
    assert result.returncode == 0, result.stderr
    answers = json.loads(result.stdout)["results"]

    model, session = models.load(str(tmp_path / "export"), require="clock")
    batch = images[..., None].astype(np.float32)
    minutes, confidence = turnvote.read_turned(lambda x: predict.read_arrays(session, model, x), batch)
    best = np.argmax(confidence, axis=0)
    for index, answer in enumerate(answers):
        assert answer["turn"] == best[index]
        assert answer["minutes"] == pytest.approx(minutes[best[index], index], abs=0.01)
    plain = json.loads(run_zoo("predict-time", "--model", tmp_path / "export", "--json", "--no-find",
                               *files).stdout)["results"]
    assert all("turn" not in answer for answer in plain)
    assert [answer["minutes"] for answer in plain] == pytest.approx(list(np.round(minutes[0], 2)), abs=0.01)

    styles = tmp_path / "styles"
    scored = run_zoo("clock-errors", "--model", tmp_path / "export", "--turns", "--count", "6", "--out", styles)
    assert scored.returncode == 0, scored.stderr
    rows = json.loads((styles / "styles.json").read_text())
    chosen = minutes[best, np.arange(6)]
    truth = clocktime.to_minutes(labels[:, 0], labels[:, 1])
    assert rows[0]["cse_mean"] == pytest.approx(float(clocktime.common_sense_error(chosen, truth).mean()), abs=0.02)
