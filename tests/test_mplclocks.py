"""Tests of zoo.clocks.heldout.mplclocks, the held-out matplotlib clock renderer."""

import subprocess
import sys

import numpy as np
import pytest

from zoo.errors import ZooError
from zoo.clocks.heldout.mplclocks import FACTORS, draw_clock, render

# The easiest clock to read by pixels: only the dial, the face and two hands.
PLAIN = dict(dial_shape="round", numerals="none", ticks="none", second_hand="no", face="light", background="plain")


def ray_min(image, layout, angle, r0, r1):
    """Darkest pixel within 1 px of the ray at `angle` (deg clockwise from the image's up), r0..r1 dial radii."""
    (x0, y0), radius, a = layout["centre"], layout["radius"], np.radians(angle)
    values = []
    for r in np.linspace(r0, r1, 12) * radius:
        for d in (-1.0, 0.0, 1.0):
            x, y = x0 + r * np.sin(a) + d * np.cos(a), y0 - r * np.cos(a) + d * np.sin(a)
            values.append(int(image[int(y), int(x)]))
    return min(values)


def darkness(image, layout, angles, r0, r1):
    """Mean darkness (255 - grey, bilinear) along rays at each of `angles`, radii r0..r1 of the dial radius."""
    (x0, y0), radius = layout["centre"], layout["radius"]
    a = np.radians(np.asarray(angles))[:, None]
    r = np.linspace(r0, r1, 10)[None, :] * radius
    x, y = x0 + r * np.sin(a) - 0.5, y0 - r * np.cos(a) - 0.5  # pixel i has its centre at i + 0.5
    i, j = np.floor(y).astype(int), np.floor(x).astype(int)
    fy, fx = y - i, x - j
    dark = 255.0 - image
    value = (dark[i, j] * (1 - fy) * (1 - fx) + dark[i + 1, j] * fy * (1 - fx)
             + dark[i, j + 1] * (1 - fy) * fx + dark[i + 1, j + 1] * fy * fx)
    return value.mean(1)


def angle_gap(a, b):
    return abs((a - b + 180) % 360 - 180)


def hands_at(image, layout, minute_angle, hour_angle, margin=40):
    """Is there a hand reaching 0.64-0.69 R at minute_angle and one at 0.25-0.4 R at hour_angle?

    0.64-0.69 R lies beyond every hour hand (at most 0.6 R) and within every minute hand (at least 0.7 R),
    so this tells the two hands apart; each ray must be `margin` grey levels darker than the opposite ray.
    """
    rot = layout["rotation"]
    minute = ray_min(image, layout, minute_angle + rot + 180, 0.64, 0.69) - ray_min(
        image, layout, minute_angle + rot, 0.64, 0.69)
    hour = ray_min(image, layout, hour_angle + rot + 180, 0.25, 0.4) - ray_min(
        image, layout, hour_angle + rot, 0.25, 0.4)
    return minute >= margin and hour >= margin


def test_shapes_types_and_factors():
    images, labels, factors = render(12, 3, size=64)
    assert images.shape == (12, 64, 64) and images.dtype == np.uint8
    assert labels.shape == (12, 2) and labels.dtype == np.int64
    assert labels[:, 0].min() >= 0 and labels[:, 0].max() <= 11
    assert labels[:, 1].min() >= 0 and labels[:, 1].max() <= 59
    assert len(factors) == 12
    for style in factors:
        assert list(style) == list(FACTORS)
        assert all(isinstance(value, str) and value in FACTORS[name] for name, value in style.items())
    assert all(image.std() > 10 for image in images)  # a drawing, not a blank
    assert render(1, 0, size=32)[0].shape == (1, 32, 32)


def test_same_seed_and_index_give_the_same_clock():
    images, labels, factors = render(4, 11, size=64)
    more_images, more_labels, more_factors = render(7, 11, size=64)
    np.testing.assert_array_equal(images, more_images[:4])
    np.testing.assert_array_equal(labels, more_labels[:4])
    assert factors == more_factors[:4]
    other_images, other_labels, _ = render(4, 12, size=64)
    assert all(not np.array_equal(a, b) for a, b in zip(images, other_images))
    assert not np.array_equal(labels, other_labels)
    once, twice = draw_clock(5, 3, 20, 0.1, 64), draw_clock(5, 3, 20, 0.1, 64)
    np.testing.assert_array_equal(once[0], twice[0])


def test_render_labels_are_the_times_drawn():
    """render's clock i is draw_clock with the hour, minute and offset drawn first from rng([seed, i])."""
    images, labels, factors = render(6, 9, size=64)
    for i in range(6):
        rng = np.random.default_rng([9, i])
        hour, minute, offset = int(rng.integers(12)), int(rng.integers(60)), rng.uniform(-0.5, 0.5)
        image, style, _ = draw_clock(rng, hour, minute, offset, 64)
        assert list(labels[i]) == [hour, minute] and style == factors[i]
        np.testing.assert_array_equal(image, images[i])


@pytest.mark.parametrize("hand_shape", FACTORS["hand_shape"])
@pytest.mark.parametrize("hour, minute", [(3, 0), (7, 30), (10, 10), (5, 50), (1, 25)])
def test_hands_are_where_the_label_says(hand_shape, hour, minute):
    for seed in range(3):
        image, _, layout = draw_clock(seed, hour, minute, 0.0, 128, rotation="upright (<6 deg)",
                                      hand_shape=hand_shape, **PLAIN)
        minute_angle, hour_angle = 6.0 * minute, 30.0 * hour + 0.5 * minute
        assert hands_at(image, layout, minute_angle, hour_angle)
        assert not hands_at(image, layout, hour_angle, minute_angle)  # the test can fail
        assert not hands_at(image, layout, minute_angle + 180, hour_angle)


def test_hand_angles_are_precise_at_any_rotation():
    """Find each hand by scanning all directions; rotated clocks are read relative to their own 12."""
    grid = np.arange(0, 360, 0.25)
    rng = np.random.default_rng(2024)
    checked = 0
    for index in range(16):
        hour, minute, offset = int(rng.integers(12)), int(rng.integers(60)), float(rng.uniform(-0.5, 0.5))
        rotation = FACTORS["rotation"][index % 3]
        image, _, layout = draw_clock(rng, hour, minute, offset, 128, rotation=rotation, **PLAIN)
        t = hour * 60 + minute + offset
        minute_dark = darkness(image, layout, grid, 0.64, 0.69)
        seen_minute = grid[minute_dark.argmax()]
        assert angle_gap(seen_minute - layout["rotation"], 6 * (t % 60)) < 2.5
        if angle_gap(6 * (t % 60), 0.5 * t) > 30:
            hour_dark = darkness(image, layout, grid, 0.25, 0.4)
            hour_dark[angle_gap(grid, seen_minute) < 20] = -1
            assert angle_gap(grid[hour_dark.argmax()] - layout["rotation"], (0.5 * t) % 360) < 6
            checked += 1
    assert checked >= 8


@pytest.mark.parametrize("call", [
    lambda: render(0, 1), lambda: render(-3, 1), lambda: render(2.0, 1), lambda: render(True, 1),
    lambda: render("5", 1), lambda: render(2, -1), lambda: render(2, 1.5), lambda: render(2, None),
    lambda: render(2, 1, size=31), lambda: render(2, 1, size=64.0),
    lambda: draw_clock(0, 12, 0), lambda: draw_clock(0, 1, 60), lambda: draw_clock(0, 1, 0, offset=0.5),
    lambda: draw_clock(0, 1, 0, face="grey"), lambda: draw_clock(0, 1, 0, colour="red"),
])
def test_bad_arguments_raise_a_one_line_zoo_error(call):
    with pytest.raises(ZooError) as error:
        call()
    assert str(error.value) and "\n" not in str(error.value)


def test_numpy_integers_are_accepted():
    images, labels, _ = render(np.int64(2), np.int32(4), size=np.int64(32))
    assert images.shape == (2, 32, 32) and labels.shape == (2, 2)


def test_factor_frequencies():
    _, _, factors = render(300, 5, size=32)
    share = {name: {value: sum(f[name] == value for f in factors) / 300 for value in values}
             for name, values in FACTORS.items()}
    assert 0.50 <= share["rotation"]["upright (<6 deg)"] <= 0.70
    assert 0.18 <= share["rotation"]["tilted (6-40 deg)"] <= 0.38
    assert 0.05 <= share["rotation"]["rotated (>40 deg)"] <= 0.20
    assert 0.28 <= share["second_hand"]["yes"] <= 0.52
    for name in ("dial_shape", "numerals", "ticks", "hand_shape", "face", "background"):
        k = len(FACTORS[name])
        assert all(0.6 / k <= s <= 1.4 / k for s in share[name].values()), (name, share[name])


def test_rotation_angle_matches_its_factor():
    ranges = {"upright (<6 deg)": (0, 6), "tilted (6-40 deg)": (6, 40), "rotated (>40 deg)": (40, 180)}
    for value, (low, high) in ranges.items():
        for seed in range(4):
            _, factors, layout = draw_clock(seed, 0, 0, 0.0, 32, rotation=value)
            assert factors["rotation"] == value and low <= abs(layout["rotation"]) <= high


def test_face_brightness_and_noise_follow_their_factors():
    for seed in range(4):
        for face in ("light", "dark"):
            image, _, layout = draw_clock(seed, 4, 40, 0.0, 64, face=face, background="plain", numerals="none")
            (x0, y0), radius = layout["centre"], layout["radius"]
            yy, xx = np.mgrid[:64, :64] + 0.5
            inside = image[(xx - x0) ** 2 + (yy - y0) ** 2 < (0.5 * radius) ** 2]
            assert np.median(inside) > 170 if face == "light" else np.median(inside) < 85
        for background, noisy in (("plain", False), ("noise", True)):
            image, _, _ = draw_clock(seed, 4, 40, 0.0, 64, dial_shape="no_rim", background=background)
            assert (np.median(np.abs(np.diff(image.astype(int), axis=1))) >= 1.5) == noisy


def test_progress_bar(capsys):
    render(2, 0, size=32, progress=True)
    assert "mpl clocks" in capsys.readouterr().err


def test_no_pyplot_and_no_tensorflow():
    code = ("import sys; from zoo.clocks.heldout.mplclocks import render; render(2, 0, 32); "
            "print(sorted(m for m in ('matplotlib.pyplot', 'tensorflow') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
