"""Finding the clock in a photo (serve.locate, ``zoo predict-time --find``).

The geometry is checked with a stand-in reader whose keypoints are known: it puts the
pivot at the centre of the bright disc in each square it is shown and the rim one
disc radius out, and is surer the more of the disc it sees. Then the box returned must
be the disc's, wherever the disc sits in a photo of any shape.
"""

import json
import pathlib

import numpy as np
import pytest
from PIL import Image, ImageDraw

from conftest import assert_one_line_error, run_zoo
from serve import locate, models


class Output:
    def __init__(self, name):
        self.name = name


class DiscSession:
    """An onnxruntime-like session reading a white disc on black."""

    def get_outputs(self):
        return [Output("hour"), Output("minute"), Output("keypoints")]

    def run(self, names, feed):
        batch = next(iter(feed.values()))[..., 0]
        count, size = batch.shape[0], batch.shape[1]
        keypoints = np.zeros((count, 5, 2), dtype=np.float32)
        seen = np.zeros(count)
        for index, picture in enumerate(batch):
            rows, columns = np.nonzero(picture > 127)
            if len(rows):
                centre = np.array([columns.mean() + 0.5, rows.mean() + 0.5]) / size
                radius = np.sqrt(len(rows) / np.pi) / size
                keypoints[index, 0] = centre
                keypoints[index, 1] = centre + [0, -radius]
                keypoints[index, 2] = centre + [radius, 0]
                seen[index] = len(rows)
        length = (0.2 + 0.8 * seen / max(seen.max(), 1.0))[:, None]
        hands = np.tile([[1.0, 0.0]], (count, 1)) * length  # both hands at 3: 3:15
        outputs = {"hour": hands.astype(np.float32), "minute": hands.astype(np.float32), "keypoints": keypoints}
        return [outputs[name] for name in names]


def served(size=64):
    card = {"inputs": [{"name": "image", "shape": [None, size, size, 1]}],
            "outputs": [{"name": "hour"}, {"name": "minute"}, {"name": "keypoints"}],
            "decode": {"kind": "clock_hands", "hour_output": "hour", "minute_output": "minute"}}
    return models.ServedModel("stand-in", pathlib.Path("stand-in.onnx"), card, "test", "none")


def photo(width, height, centre, radius):
    image = Image.new("RGB", (width, height), (0, 0, 0))
    x, y = centre
    ImageDraw.Draw(image).ellipse((x - radius, y - radius, x + radius, y + radius), fill=(255, 255, 255))
    return image


@pytest.mark.parametrize("width, height, centre, radius", [
    (600, 400, (100, 200), 70),    # a wide photo, the clock at its left
    (600, 400, (480, 300), 60),    # lower right, a fifth of the width across
    (300, 900, (150, 760), 45),    # a tall photo, the clock near its bottom
    (2000, 1000, (1500, 400), 260),  # a big photo: located at a reduced size, boxed in its own pixels
    (256, 256, (128, 128), 120),   # already cropped round the clock
])
def test_the_box_is_the_dials_wherever_it_sits(width, height, centre, radius):
    minutes, confidence, box = locate.find_and_read(DiscSession(), served(), photo(width, height, centre, radius))
    expected = np.clip([centre[0] - radius, centre[1] - radius, centre[0] + radius, centre[1] + radius],
                       0, [width, height, width, height])
    assert np.allclose(box, expected, atol=0.04 * radius + 2), (box, expected)
    assert minutes == pytest.approx(195.0, abs=0.5) and confidence == pytest.approx(1.0)


def test_windows_cover_the_long_side_and_overlap():
    for width, height in ((600, 400), (400, 600), (1000, 100), (300, 300), (310, 300)):
        squares = locate.windows(width, height)
        side = min(width, height)
        assert all(square[2] == side for square in squares)
        starts = [square[0] if width >= height else square[1] for square in squares]
        assert starts[0] == 0 or len(squares) == 1
        assert starts[-1] + side == max(width, height) or len(squares) == 1
        assert all(later - earlier <= side * (1 - locate.OVERLAP) + 1 for earlier, later in zip(starts, starts[1:]))


def test_square_repeats_the_edge_past_the_border():
    grey = np.arange(16, dtype=np.uint8).reshape(4, 4) * 10
    picture = locate.square(grey, 0.0, 0.0, 2.0, 4)[..., 0]
    assert picture.shape == (4, 4) and picture[0, 0] == grey[0, 0] and picture[3, 3] == grey[1, 1]


def test_predict_time_find_reports_the_box_and_refuses_what_it_cannot_do(tmp_path):
    from export import exporter
    from test_turnvote import tiny_run

    run, _ = tiny_run(tmp_path / "run")
    exporter.export_entry("clock_hands", run, tmp_path / "export", data=False, log=lambda message: None)
    file = tmp_path / "street.jpg"
    photo(600, 400, (150, 250), 80).save(file)
    result = run_zoo("predict-time", "--model", tmp_path / "export", "--json", file)  # finds by default
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)["results"][0]
    assert len(answer["box"]) == 4 and 0 <= answer["box"][0] < answer["box"][2] <= 600
    assert 0 <= answer["box"][1] < answer["box"][3] <= 400 and "sure" in answer
    text = run_zoo("predict-time", "--model", tmp_path / "export", "--find", file)
    assert text.returncode == 0 and " at [" in text.stdout
    plain = run_zoo("predict-time", "--model", tmp_path / "export", "--no-find", "--json", file)
    assert plain.returncode == 0 and "box" not in json.loads(plain.stdout)["results"][0]
    assert_one_line_error(run_zoo("predict-time", "--model", tmp_path / "export", "--find", "--turns", file),
                          "--find and --turns")
    assert_one_line_error(run_zoo("predict-time", "--model", tmp_path / "export", "--find", tmp_path / "none.png"),
                          "none.png")
