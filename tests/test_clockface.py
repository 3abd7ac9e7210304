"""Tests for zoo.clocks.clockface: the training renderer and the Leiden-format files."""

import csv
import json
import dataclasses

import numpy as np
import pytest
from PIL import Image

from zoo.clocks import clockface


def plain_style(**changes):
    """A black-on-white clock with only line hands, upright and centred."""
    style = clockface.sample_style(
        np.random.default_rng(5),
        include={"round", "no_numerals", "no_ticks", "no_second_hand", "line_hands", "flat_background"},
    )
    settings = dict(
        centre_x=0.5,
        centre_y=0.5,
        radius=0.45,
        rotation_degrees=0.0,
        foreshortening=1.0,
        perspective=0.0,
        shear=0.0,
        face_colour=(255, 255, 255),
        face_shading=0.0,
        bezel_width=0.0,
        rim_width=0.0,
        chapter_rings=(),
        clock_shadow=None,
        glare_alpha=0,
        brand_text="",
        brand_text_low="",
        twelve_marker="none",
        hour_length=0.45,
        hour_width=0.07,
        minute_length=0.85,
        minute_width=0.045,
        tail_fraction=0.0,
        hour_colour=(0, 0, 0),
        minute_colour=(0, 0, 0),
        hand_outline_colour=None,
        cap_radius=0.0,
        hand_shadow=None,
        hour_slop_degrees=0.0,
        background_colours=((128, 128, 128),) * 4,
        clutter_count=0,
        distractor_count=0,
        lighting_strength=0.0,
        vignette=0.0,
        gain=1.0,
        blur_radius=0.0,
        noise_sigma=0.0,
        jpeg_quality=0,
    )
    settings.update(changes)
    return dataclasses.replace(style, **settings)


def darkness_by_angle(image, style, inner, outer):
    """Mean darkness along rays from the dial centre, per screen degree (clockwise from up)."""
    size = image.shape[0]
    centre_x, centre_y = style.centre_x * size, style.centre_y * size
    radius = style.radius * size
    angles = np.radians(np.arange(360))
    distances = np.linspace(inner, outer, 25) * radius
    x = centre_x + distances[None, :] * np.sin(angles)[:, None] - 0.5
    y = centre_y - distances[None, :] * np.cos(angles)[:, None] - 0.5
    values = image[np.clip(np.round(y).astype(int), 0, size - 1), np.clip(np.round(x).astype(int), 0, size - 1)]
    return 255.0 - values.mean(axis=1)


def angular_distance(first, second):
    difference = abs(first - second) % 360
    return min(difference, 360 - difference)


def peak_angle(profile, allowed=None):
    """Darkness-weighted mean angle of the strongest dark spoke.

    argmax alone is biased: a wide hand is a plateau of equal darkness and
    argmax picks its first degree.
    """
    masked = profile if allowed is None else np.where(allowed, profile, -1.0)
    top = int(np.argmax(masked))
    window = np.arange(top - 15, top + 16)
    weights = np.clip(masked[window % 360] - 0.5 * masked[top], 0.0, None)
    return float(np.sum(window * weights) / np.sum(weights)) % 360


@pytest.mark.parametrize(
    "hour,minute,rotation", [(2, 58, 0.0), (3, 2, 0.0), (9, 41, 0.0), (7, 15, 30.0), (0, 20, -100.0)]
)
def test_hands_point_at_the_labelled_time(hour, minute, rotation):
    style = plain_style(rotation_degrees=rotation)
    image = clockface.render_clock(hour, minute, np.random.default_rng(0), style=style, sub_minute=0.0)
    # Between the hour hand's tip and the minute hand's tip only the minute hand shows.
    minute_profile = darkness_by_angle(image, style, 0.55, 0.8)
    expected_minute = 6.0 * minute + rotation
    assert angular_distance(peak_angle(minute_profile), expected_minute) <= 1.5
    # Near the centre both hands show: the hour hand must be where it belongs.
    inner_profile = darkness_by_angle(image, style, 0.2, 0.4)
    expected_hour = 30.0 * hour + 0.5 * minute + rotation
    away_from_minute = np.array([angular_distance(angle, expected_minute) > 20 for angle in range(360)])
    if angular_distance(expected_hour, expected_minute) > 30:
        assert angular_distance(peak_angle(inner_profile, away_from_minute), expected_hour) <= 2
    # And nothing dark anywhere else.
    far = [angle for angle in range(360)
           if angular_distance(angle, expected_minute) > 12 and angular_distance(angle, expected_hour) > 12]
    assert inner_profile[far].max() < 20


def test_sub_minute_offset_moves_the_minute_hand():
    style = plain_style()
    early = clockface.render_clock(4, 30, np.random.default_rng(0), style=style, sub_minute=-0.45)
    late = clockface.render_clock(4, 30, np.random.default_rng(0), style=style, sub_minute=0.45)
    early_angle = peak_angle(darkness_by_angle(early, style, 0.55, 0.8))
    late_angle = peak_angle(darkness_by_angle(late, style, 0.55, 0.8))
    assert late_angle - early_angle == pytest.approx(5.4, abs=1.0)
    with pytest.raises(ValueError, match="sub_minute"):
        clockface.render_clock(4, 30, np.random.default_rng(0), style=style, sub_minute=0.5)


def test_render_clock_shapes_and_dtypes():
    image = clockface.render_clock(3, 15, np.random.default_rng(1))
    assert image.shape == (150, 150) and image.dtype == np.uint8
    small = clockface.render_clock(11, 59, np.random.default_rng(2), size=64)
    assert small.shape == (64, 64)
    colour = clockface.render_clock_rgb(6, 0, np.random.default_rng(3), size=96)
    assert colour.shape == (96, 96, 3) and colour.dtype == np.uint8
    assert image.std() > 5  # not blank


@pytest.mark.parametrize(
    "arguments,name",
    [((12, 60), "minute"), ((24, 0), "hour"), ((1.5, 3), "hour"), ((1, -1), "minute")],
)
def test_render_clock_rejects_bad_labels(arguments, name):
    with pytest.raises(ValueError, match=name):
        clockface.render_clock(*arguments, np.random.default_rng(0))


def test_render_clock_rejects_bad_size_rng_and_style():
    with pytest.raises(ValueError, match="size"):
        clockface.render_clock(1, 2, np.random.default_rng(0), size=8)
    with pytest.raises(ValueError, match="rng"):
        clockface.render_clock(1, 2, 42)
    with pytest.raises(ValueError, match="style"):
        clockface.render_clock(1, 2, np.random.default_rng(0), style={"round": True})


def test_render_batch_is_deterministic_and_sliceable():
    images, labels = clockface.render_batch(6, seed=11, size=96)
    again, labels_again = clockface.render_batch(6, seed=11, size=96)
    assert images.tobytes() == again.tobytes()
    np.testing.assert_array_equal(labels, labels_again)
    assert images.shape == (6, 96, 96) and images.dtype == np.uint8
    assert labels.shape == (6, 2) and labels.dtype == np.int64
    tail, tail_labels = clockface.render_batch(3, seed=11, size=96, start=3)
    assert tail.tobytes() == images[3:].tobytes()
    np.testing.assert_array_equal(tail_labels, labels[3:])
    other, _ = clockface.render_batch(6, seed=12, size=96)
    assert other.tobytes() != images.tobytes()
    assert len({image.tobytes() for image in images}) == 6


def test_render_batch_labels_are_valid_and_spread():
    _, labels = clockface.render_batch(0, seed=1)
    assert labels.shape == (0, 2)
    rng_labels = []
    for index in range(400):
        rng = np.random.default_rng([3, index])
        rng_labels.append(divmod(int(rng.integers(720)), 60))
    rng_labels = np.array(rng_labels)
    assert rng_labels[:, 0].min() >= 0 and rng_labels[:, 0].max() <= 11
    assert len(np.unique(rng_labels[:, 0])) == 12


def test_render_batch_returns_styles_honouring_filters():
    _, labels, styles = clockface.render_batch(
        5, seed=2, size=64, include={"roman"}, exclude={"square"}, return_styles=True
    )
    assert len(styles) == 5
    assert all(style.numerals == "roman" and style.dial_shape != "square" for style in styles)


def test_exclude_and_include_are_honoured():
    rng = np.random.default_rng(7)
    excluded = [clockface.sample_style(rng, exclude={"roman", "square"}) for _ in range(300)]
    assert not any("roman" in style.tags or "square" in style.tags for style in excluded)
    assert all(style.numerals != "roman" and style.dial_shape != "square" for style in excluded)
    # Without the filter both families do occur, so the check above means something.
    free = [clockface.sample_style(rng) for _ in range(300)]
    assert any(style.numerals == "roman" for style in free)
    assert any(style.dial_shape == "square" for style in free)

    included = [clockface.sample_style(rng, include={"roman"}) for _ in range(50)]
    assert all(style.numerals == "roman" and "roman" in style.tags for style in included)
    pair = [clockface.sample_style(rng, include={"roman", "arabic", "dark_face"}) for _ in range(100)]
    assert {style.numerals for style in pair} == {"roman", "arabic"}
    assert all(style.face == "dark_face" for style in pair)


def test_style_tags_cover_one_value_per_attribute():
    style = clockface.sample_style(np.random.default_rng(3))
    assert style.tags <= clockface.STYLE_TAGS
    assert len(style.tags) == len(clockface.STYLE_ATTRIBUTES)
    for options in clockface.STYLE_ATTRIBUTES.values():
        assert len(style.tags & {tag for tag, _ in options}) == 1
    for tag in ("round", "square", "arabic", "roman", "no_numerals", "partial_numerals", "ticks_60",
                "dots", "quarter_marks", "light_face", "dark_face", "second_hand", "perspective"):
        assert tag in clockface.STYLE_TAGS


def test_turned_clocks_always_mark_twelve():
    rng = np.random.default_rng(4)
    for family in ("rotated", "tilted"):
        for _ in range(100):
            style = clockface.sample_style(rng, include={family, "no_numerals"})
            if abs(style.rotation_degrees) > 12:
                assert style.brand_text or style.brand_text_low or style.twelve_marker != "none"


def test_grey_render_matches_grey_of_colour_render():
    """Drawing grey levels directly must look like converting the colour drawing."""
    for index in range(8):
        style = clockface.sample_style(np.random.default_rng([4, index]))
        style = dataclasses.replace(
            style, blur_radius=0.0, noise_sigma=0.0, jpeg_quality=0, lighting_strength=0.0, vignette=0.0, gain=1.0
        )
        time = (index, 5 * index)
        grey = clockface.render_clock(*time, np.random.default_rng(index), style=style, sub_minute=0.1)
        colour = clockface.render_clock_rgb(*time, np.random.default_rng(index), style=style, sub_minute=0.1)
        converted = np.asarray(Image.fromarray(colour).convert("L")).astype(int)
        difference = np.abs(converted - grey.astype(int))
        assert difference.mean() < 0.5
        assert np.percentile(difference, 99.5) <= 2


def test_sample_style_rejects_bad_tags():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="unknown style tags"):
        clockface.sample_style(rng, exclude={"gothic"})
    with pytest.raises(ValueError, match="share"):
        clockface.sample_style(rng, include={"roman"}, exclude={"roman"})
    with pytest.raises(ValueError, match="dial_shape"):
        clockface.sample_style(rng, exclude={"round", "square", "rounded_square", "octagon"})
    with pytest.raises(ValueError, match="rng"):
        clockface.sample_style(0)


def test_every_family_renders():
    """Each tag on its own renders a sane image (catches crashes in rare paths)."""
    for index, tag in enumerate(sorted(clockface.STYLE_TAGS)):
        rng = np.random.default_rng([9, index])
        style = clockface.sample_style(rng, include={tag})
        image = clockface.render_clock(index % 12, (7 * index) % 60, rng, size=64, style=style)
        assert image.shape == (64, 64)
        assert tag in style.tags


def test_write_dataset_round_trip(tmp_path):
    out_dir = tmp_path / "clocks"
    seen = []
    written = clockface.write_dataset(out_dir, 7, seed=4, size=48, png=True, progress=seen.append, chunk=3)
    assert written == out_dir
    assert seen == [3, 6, 7]
    images, labels = clockface.load_leiden(out_dir)
    expected_images, expected_labels = clockface.render_batch(7, seed=4, size=48)
    assert images.tobytes() == expected_images.tobytes()
    np.testing.assert_array_equal(labels, expected_labels)
    with open(out_dir / "labels.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["file"] for row in rows] == [f"png/{index:05d}.png" for index in range(7)]
    np.testing.assert_array_equal([[int(row["hour"]), int(row["minute"])] for row in rows], labels)
    for index, row in enumerate(rows):
        np.testing.assert_array_equal(np.asarray(Image.open(out_dir / row["file"])), images[index])
    # No temporary directories left beside the result.
    assert sorted(path.name for path in tmp_path.iterdir()) == ["clocks"]


def test_write_dataset_with_the_independent_renderer(tmp_path):
    # The same Leiden layout from zoo.mplclocks: its clocks of the seed, in order,
    # across chunks (each chunk starts where the last ended).
    from zoo.clocks.heldout import mplclocks

    out_dir = tmp_path / "unseen"
    clockface.write_dataset(out_dir, 5, seed=3, size=48, chunk=2, renderer="matplotlib")
    images, labels = clockface.load_leiden(out_dir)
    expected_images, expected_labels, _ = mplclocks.render(5, 3, 48)
    assert images.tobytes() == expected_images.tobytes()
    np.testing.assert_array_equal(labels, expected_labels)
    assert json.loads((out_dir / "render_info.json").read_text())["generator"] == "zoo.mplclocks"
    with pytest.raises(ValueError, match="style tags"):
        clockface.write_dataset(tmp_path / "tagged", 2, seed=1, size=40, renderer="matplotlib", include={"roman"})
    with pytest.raises(ValueError, match="renderer"):
        clockface.write_dataset(tmp_path / "other", 2, seed=1, size=40, renderer="povray")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["unseen"]


def test_write_dataset_refuses_to_clobber(tmp_path):
    out_dir = tmp_path / "clocks"
    clockface.write_dataset(out_dir, 2, seed=1, size=40)
    with pytest.raises(ValueError, match="overwrite"):
        clockface.write_dataset(out_dir, 3, seed=2, size=40)
    clockface.write_dataset(out_dir, 3, seed=2, size=40, overwrite=True)
    images, _ = clockface.load_leiden(out_dir)
    assert images.shape == (3, 40, 40)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["clocks"]
    empty = tmp_path / "empty"
    empty.mkdir()
    clockface.write_dataset(empty, 1, seed=1, size=40)
    assert (empty / "images.npy").is_file()


def test_write_dataset_leaves_nothing_when_interrupted(tmp_path):
    def interrupt(done):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        clockface.write_dataset(tmp_path / "clocks", 4, seed=1, size=40, progress=interrupt, chunk=2)
    assert list(tmp_path.iterdir()) == []


def save_pair(folder, images, labels):
    folder.mkdir(exist_ok=True)
    np.save(folder / "images.npy", images)
    np.save(folder / "labels.npy", labels)
    return folder


def test_load_leiden_converts_channels(tmp_path):
    grey = np.random.default_rng(0).integers(0, 256, (3, 20, 20), dtype=np.uint8)
    labels = np.array([[0, 0], [11, 59], [5, 30]])
    images, loaded_labels = clockface.load_leiden(save_pair(tmp_path / "one", grey[..., None], labels))
    np.testing.assert_array_equal(images, grey)
    assert loaded_labels.dtype == np.int64
    colour = np.stack([grey, grey, grey], axis=-1)
    images, _ = clockface.load_leiden(save_pair(tmp_path / "rgb", colour, labels))
    assert images.shape == (3, 20, 20)
    assert np.abs(images.astype(int) - grey).max() <= 1
    pure_red = np.zeros((3, 20, 20, 3), dtype=np.uint8)
    pure_red[..., 0] = 255
    images, _ = clockface.load_leiden(save_pair(tmp_path / "red", pure_red, labels))
    assert images[0, 0, 0] == np.asarray(Image.new("RGB", (1, 1), (255, 0, 0)).convert("L"))[0, 0]


@pytest.mark.parametrize(
    "images,labels,message",
    [
        (np.zeros((2, 8, 8), np.uint8), np.array([[12, 0], [1, 1]]), "hours"),
        (np.zeros((2, 8, 8), np.uint8), np.array([[1, 60], [1, 1]]), "minutes"),
        (np.zeros((2, 8, 8), np.uint8), np.array([[-1, 0], [1, 1]]), "hours"),
        (np.zeros((3, 8, 8), np.uint8), np.array([[1, 0], [1, 1]]), "3 images"),
        (np.zeros((2, 8), np.uint8), np.array([[1, 0], [1, 1]]), "shape"),
        (np.zeros((2, 8, 8, 2), np.uint8), np.array([[1, 0], [1, 1]]), "shape"),
        (np.zeros((2, 8, 8), np.uint8), np.array([1, 0]), r"\(N, 2\)"),
        (np.zeros((2, 8, 8), np.uint8), np.array([[1.5, 0], [1, 1]]), "whole numbers"),
        (np.zeros((2, 8, 8), np.float32), np.array([[1, 0], [1, 1]]), "uint8"),
    ],
)
def test_load_leiden_rejects_bad_folders(tmp_path, images, labels, message):
    with pytest.raises(ValueError, match=message):
        clockface.load_leiden(save_pair(tmp_path / "bad", images, labels))


def test_load_leiden_missing_files(tmp_path):
    with pytest.raises(ValueError, match="directory"):
        clockface.load_leiden(tmp_path / "nowhere")
    folder = tmp_path / "half"
    folder.mkdir()
    np.save(folder / "images.npy", np.zeros((1, 8, 8), np.uint8))
    with pytest.raises(ValueError, match="labels.npy"):
        clockface.load_leiden(folder)


def test_the_cli_offers_every_renderer():
    from zoo.clocks import cli, reading

    assert cli.CLOCK_RENDERERS == reading.RENDERERS and cli.DRAWING_RENDERERS == clockface.RENDERERS
