"""Tests of zoo.clocks.heldout.productclocks, the held-out product-photo clock renderer,
and the regression case of issue #44: plain wall clocks photographed straight on."""

import numpy as np
import pytest

from zoo.clocks.heldout.productclocks import FACTORS, draw_clock, render
from zoo.errors import ZooError

PLAIN = dict(numerals="bold sans", numeral_size="large (22-32%)", ticks="minutes", hands="baton", second="none",
             case="thin rim", wall="white", resolution="1200", fill="tight (85-98%)", camera="clean")
# The readings issue #44 reported on real photos of such clocks (true time: what was read).
REPORTED = [(10, 0), (10, 15), (10, 10), (2, 39)]


def test_render_is_deterministic_and_records_its_factors():
    images, labels, styles = render(3, 5, size=64)
    again, labels_again, _ = render(1, 5, size=64, start=2)
    assert images.shape == (3, 64, 64) and images.dtype == np.uint8
    np.testing.assert_array_equal(images[2], again[0])
    np.testing.assert_array_equal(labels[2], labels_again[0])
    for style in styles:
        assert set(style) == set(FACTORS) and all(style[key] in FACTORS[key] for key in FACTORS)


def test_fixed_factors_are_kept_and_bad_ones_refused():
    image, factors, layout, photo = draw_clock(0, 10, 10, size=96, full=True, **PLAIN)
    assert image.shape == (96, 96) and photo.size == (1200, 1200)
    assert factors == PLAIN
    assert layout["hour_length"] < layout["minute_length"]
    with pytest.raises(ZooError, match="unknown clock factor"):
        draw_clock(0, 1, 2, nope="x")
    with pytest.raises(ZooError, match="cannot be"):
        draw_clock(0, 1, 2, hands="cartoon")


# Known misreadings of the release reader on these drawings (docs/clock-reader.md): its
# localiser puts the 3 o'clock rim point on the bold 4 and the reading is turned by it.
# Strict: once a reader reads them, the test says so and the mark must go.
KNOWN_MISSES = {((10, 10), False): "read 9:08", ((10, 10), True): "read 9:08", ((10, 0), True): "read 9:50"}
CASES = [pytest.param(time, find, marks=pytest.mark.xfail(strict=True, reason=KNOWN_MISSES[(time, find)]))
         if (time, find) in KNOWN_MISSES else (time, find) for time in REPORTED for find in (False, True)]


@pytest.fixture(scope="module")
def release_reader():
    from serve import models

    return models.load(None, default="clock", require="clock")


@pytest.mark.parametrize("time, find", CASES)
def test_the_release_reader_reads_the_reported_plain_clocks(release_reader, time, find):
    """The issue's four misread times, drawn as plain product photos at 1,200 pixels and
    read as ``zoo predict-time`` reads them (``find``: the dial found in the full photo)."""
    from serve import locate, predict
    from zoo.common import clocktime

    model, session = release_reader
    hour, minute = time
    image, _, _, photo = draw_clock(REPORTED.index(time), hour, minute, size=128, full=True, **PLAIN)
    if find:
        minutes = locate.find_and_read(session, model, photo)[0]
    else:
        minutes = float(predict.read_arrays(session, model, image[None, ..., None].astype(np.float32))[0][0])
    assert clocktime.common_sense_error(minutes, clocktime.to_minutes(hour, minute)) <= 1, (time, minutes)
