"""Tests of zoo.clocks.heldout.skiaclocks, the held-out clock renderer drawn with skia."""

import subprocess
import sys

import numpy as np
import pytest

from zoo.clocks.heldout import skiaclocks
from zoo.errors import ZooError

# Clocks whose hands are the only thing that changes with the time.
STILL = dict(occlusion="none", degradation="none", lighting="normal", extra_hands="none")
ANGLES = np.arange(0.0, 360.0, 1.0)


def ring_profile(image, homography, r0, r1):
    """Mean of ``image`` (bilinear) along rays from the pivot, per degree of the dial, at r0..r1 dial radii."""
    a = np.radians(ANGLES)[:, None]
    r = np.linspace(r0, r1, 8)[None, :] * skiaclocks.DIAL_RADIUS
    points = np.stack([(r * np.sin(a)).ravel(), (-r * np.cos(a)).ravel(), np.ones(a.size * r.size)], 1)
    mapped = points @ homography.T
    x, y = mapped[:, 0] / mapped[:, 2] - 0.5, mapped[:, 1] / mapped[:, 2] - 0.5  # pixel i has its centre at i + 0.5
    i, j = np.floor(y).astype(int), np.floor(x).astype(int)
    fy, fx = y - i, x - j
    value = (image[i, j] * (1 - fy) * (1 - fx) + image[i + 1, j] * fy * (1 - fx)
             + image[i, j + 1] * (1 - fy) * fx + image[i + 1, j + 1] * fy * fx)
    return value.reshape(len(ANGLES), -1).mean(1)


def change_axis(profile):
    """The line (angle mod 180) along which a profile of change peaks, from its doubled-angle mean.

    A hand moved by half a turn changes the picture at two opposite angles; doubling the
    angles makes them one, and a hollow hand's two edges average to its axis.
    """
    weight = np.maximum(profile - np.median(profile), 0) ** 2
    doubled = np.radians(2 * ANGLES)
    return np.degrees(np.arctan2((weight * np.sin(doubled)).sum(), (weight * np.cos(doubled)).sum())) / 2 % 180


def angle_gap(a, b):
    return abs((a - b + 180) % 360 - 180)


def test_shapes_types_and_factors():
    images, labels, factors = skiaclocks.render(12, 3, size=64)
    assert images.shape == (12, 64, 64) and images.dtype == np.uint8
    assert labels.shape == (12, 2) and labels.dtype == np.int64
    assert labels[:, 0].min() >= 0 and labels[:, 0].max() <= 11
    assert labels[:, 1].min() >= 0 and labels[:, 1].max() <= 59
    assert len(factors) == 12
    for style in factors:
        assert list(style) == list(skiaclocks.FACTORS)
        assert all(isinstance(value, str) and value in skiaclocks.FACTORS[name] for name, value in style.items())
    assert all(image.std() > 5 for image in images)  # a picture, not a blank
    assert skiaclocks.render(1, 0, size=32)[0].shape == (1, 32, 32)


def test_colour_images_and_their_grey():
    rgb, labels, factors = skiaclocks.render(5, 8, size=48, colour=True)
    grey, grey_labels, grey_factors = skiaclocks.render(5, 8, size=48)
    assert rgb.shape == (5, 48, 48, 3) and rgb.dtype == np.uint8
    np.testing.assert_array_equal(skiaclocks.to_grey(rgb), grey)
    np.testing.assert_array_equal(labels, grey_labels)
    assert factors == grey_factors
    assert np.abs(rgb[..., 0].astype(int) - rgb[..., 2]).mean() > 3  # in colour, not grey in three channels


def test_same_seed_and_index_give_the_same_clock():
    images, labels, factors = skiaclocks.render(4, 11, size=64)
    more_images, more_labels, more_factors = skiaclocks.render(7, 11, size=64)
    np.testing.assert_array_equal(images, more_images[:4])
    np.testing.assert_array_equal(labels, more_labels[:4])
    assert factors == more_factors[:4]
    later_images, later_labels, later_factors = skiaclocks.render(3, 11, size=64, start=4)
    np.testing.assert_array_equal(later_images, more_images[4:])
    np.testing.assert_array_equal(later_labels, more_labels[4:])
    assert later_factors == more_factors[4:]
    other_images, other_labels, _ = skiaclocks.render(4, 12, size=64)
    assert all(not np.array_equal(a, b) for a, b in zip(images, other_images))
    assert not np.array_equal(labels, other_labels)


def test_render_labels_are_the_times_drawn():
    """render's clock i is draw_clock with the hour, minute and offset drawn first from rng([seed, i])."""
    images, labels, factors = skiaclocks.render(4, 9, size=64)
    for i in range(4):
        rng = np.random.default_rng([9, i])
        hour, minute, offset = int(rng.integers(12)), int(rng.integers(60)), rng.uniform(-0.5, 0.5)
        image, style, _ = skiaclocks.draw_clock(rng, hour, minute, offset, 64)
        assert list(labels[i]) == [hour, minute] and style == factors[i]
        np.testing.assert_array_equal(image, images[i])


def test_the_picture_changes_around_the_centre_with_the_time_only():
    once = skiaclocks.draw_clock(4, 2, 10, 0.0, 96, **STILL)
    again = skiaclocks.draw_clock(4, 2, 10, 0.0, 96, **STILL)
    later = skiaclocks.draw_clock(4, 2, 40, 0.0, 96, **STILL)
    np.testing.assert_array_equal(once[0], again[0])
    assert once[1] == later[1]
    (x, y), radius = once[2]["centre"], once[2]["radius"]
    yy, xx = np.mgrid[:96, :96] + 0.5
    near = (xx - x) ** 2 + (yy - y) ** 2 < (0.8 * radius) ** 2
    change = np.abs(once[0].astype(int) - later[0])
    assert change[near].max() > 60
    assert change[~near].mean() < 0.5 * change[near].mean()


@pytest.mark.parametrize("hands", skiaclocks.FACTORS["hands"])
def test_minute_hand_is_where_the_label_says(hands):
    """Moving the time by 30 minutes changes the picture only where the two minute hands are."""
    for seed in range(4):
        tilt = skiaclocks.FACTORS["tilt"][seed % 3]
        rng = np.random.default_rng([50, seed])
        hour, minute, offset = int(rng.integers(12)), int(rng.integers(30)), float(rng.uniform(-0.5, 0.5))
        first, _, layout = skiaclocks.draw_clock(seed, hour, minute, offset, 128, hands=hands, tilt=tilt, **STILL)
        second, _, _ = skiaclocks.draw_clock(seed, hour, minute + 30, offset, 128, hands=hands, tilt=tilt, **STILL)
        change = ring_profile(np.abs(first.astype(float) - second), layout["homography"], 0.70, 0.76)
        seen, minute_angle = change_axis(change), 6 * ((minute + offset) % 60)
        assert min(angle_gap(seen, minute_angle), angle_gap(seen, minute_angle + 180)) <= 4, (seed, seen)
        assert angle_gap(seen, minute_angle + 90) > 30  # the test can fail


@pytest.mark.parametrize("hands", skiaclocks.FACTORS["hands"])
def test_hour_hand_is_where_the_label_says(hands):
    """Moving the time by six hours changes the picture only where the two hour hands are."""
    checked = 0
    for seed in range(8):
        rng = np.random.default_rng([60, seed])
        hour, minute, offset = int(rng.integers(6)), int(rng.integers(60)), float(rng.uniform(-0.5, 0.5))
        t = 60 * hour + minute + offset
        hour_angle, minute_angle = 0.5 * t, 6 * (t % 60)
        if min(angle_gap(hour_angle, minute_angle), angle_gap(hour_angle + 180, minute_angle)) < 30:
            continue  # a minute hand over an hour hand hides the change there
        first, _, layout = skiaclocks.draw_clock(seed, hour, minute, offset, 128, hands=hands, **STILL)
        second, _, _ = skiaclocks.draw_clock(seed, hour + 6, minute, offset, 128, hands=hands, **STILL)
        change = ring_profile(np.abs(first.astype(float) - second), layout["homography"], 0.25, 0.38)
        seen = change_axis(change)
        assert min(angle_gap(seen, hour_angle), angle_gap(seen, hour_angle + 180)) <= 6, (seed, seen)
        checked += 1
    assert checked >= 4


def test_banded_factors_match_the_layout():
    for name, values in (("fill", skiaclocks.FACTORS["fill"]), ("tilt", skiaclocks.FACTORS["tilt"]),
                         ("rotation", skiaclocks.FACTORS["rotation"])):
        for value in values:
            for seed in range(3):
                _, factors, layout = skiaclocks.draw_clock(seed, 0, 0, 0.0, 64, **{name: value})
                low, high = skiaclocks._RANGES[name][values.index(value)]
                measured = {"fill": 2 * layout["radius"] / 64, "tilt": layout["tilt"],
                            "rotation": abs(layout["rotation"])}[name]
                assert factors[name] == value and low - 1e-6 <= measured <= high + 1e-6


def test_every_factor_value_is_drawn():
    _, _, factors = skiaclocks.render(300, 5, size=32)
    for name, values in skiaclocks.FACTORS.items():
        seen = {style[name] for style in factors}
        assert seen == set(values), name
    teaching = [style for style in factors if style["case"] == "teaching"]
    assert teaching and all(style["numerals"] == "arabic" for style in teaching)


@pytest.mark.parametrize("call", [
    lambda: skiaclocks.render(0, 1), lambda: skiaclocks.render(-3, 1), lambda: skiaclocks.render(2.0, 1),
    lambda: skiaclocks.render(True, 1), lambda: skiaclocks.render("5", 1), lambda: skiaclocks.render(2, -1),
    lambda: skiaclocks.render(2, 1.5), lambda: skiaclocks.render(2, None), lambda: skiaclocks.render(2, 1, size=31),
    lambda: skiaclocks.render(2, 1, size=64.0), lambda: skiaclocks.render(2, 1, start=-1),
    lambda: skiaclocks.draw_clock(0, 12, 0), lambda: skiaclocks.draw_clock(0, 1, 60),
    lambda: skiaclocks.draw_clock(0, 1, 0, offset=0.5), lambda: skiaclocks.draw_clock(0, 1, 0, offset="0"),
    lambda: skiaclocks.draw_clock(0, 1, 0, case="cuckoo"), lambda: skiaclocks.draw_clock(0, 1, 0, colour_cast="red"),
    lambda: skiaclocks.draw_clock(-1, 1, 0),
])
def test_bad_arguments_raise_a_one_line_zoo_error(call):
    with pytest.raises(ZooError) as error:
        call()
    assert str(error.value) and "\n" not in str(error.value)


def test_numpy_integers_are_accepted():
    images, labels, _ = skiaclocks.render(np.int64(2), np.int32(4), size=np.int64(32), start=np.int64(1))
    assert images.shape == (2, 32, 32) and labels.shape == (2, 2)


def test_progress_bar(capsys):
    skiaclocks.render(2, 0, size=32, progress=True)
    assert "skia clocks" in capsys.readouterr().err


def test_no_pyplot_and_no_tensorflow():
    code = ("import sys; from zoo.clocks.heldout import skiaclocks; skiaclocks.render(2, 0, 32); "
            "print(sorted(m for m in ('matplotlib.pyplot', 'tensorflow') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
