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
    assert cli.SCENES == clockface.SCENES


# --- World scenes (scenes="world") -------------------------------------------------------


def test_classic_scenes_are_unchanged():
    """The classic profile draws exactly what it drew before the world profile existed.

    Text-free clocks only, so the hash depends on numpy and Pillow, not on the fonts installed.
    """
    import hashlib

    digest = hashlib.sha256()
    for index in (2, 3, 4, 7, 8, 9):
        style = clockface.batch_styles(1, 8, include={"no_numerals"}, start=index)[0]
        assert not style.brand_text and not style.brand_text_low
        images, labels, geometry = clockface.render_batch(
            1, 8, 64, include={"no_numerals"}, start=index, return_geometry=True, scenes="classic")
        for array in (images, labels, geometry):
            digest.update(array.tobytes())
    assert digest.hexdigest() == "9f96c10c732a18f1121f92ddf48cb44120ac1c7e6e95a5a071b17710451d8a5a"


def test_world_scenes_are_deterministic_and_sliceable():
    images, labels, geometry, styles = clockface.render_batch(
        6, seed=21, size=64, scenes="world", return_geometry=True, return_styles=True)
    again, labels_again = clockface.render_batch(6, seed=21, size=64, scenes="world")
    assert images.shape == (6, 64, 64) and images.dtype == np.uint8
    assert geometry.shape == (6, len(clockface.GEOMETRY_POINTS), 2) and geometry.dtype == np.float32
    assert images.tobytes() == again.tobytes()
    np.testing.assert_array_equal(labels, labels_again)
    tail, tail_labels, tail_geometry = clockface.render_batch(
        3, seed=21, size=64, scenes="world", start=3, return_geometry=True)
    assert tail.tobytes() == images[3:].tobytes()
    np.testing.assert_array_equal(tail_labels, labels[3:])
    np.testing.assert_array_equal(tail_geometry, geometry[3:])
    assert all(isinstance(style, clockface.WorldStyle) for style in styles)
    assert clockface.batch_styles(6, 21, scenes="world") == styles
    classic, _ = clockface.render_batch(6, seed=21, size=64)
    assert classic.tobytes() != images.tobytes()


def test_world_tags_are_honoured():
    include = {"wristwatch", "alarm_hand", "steep"}
    styles = clockface.batch_styles(8, 5, include=include, exclude={"roman", "glare"}, scenes="world")
    for style in styles:
        assert include <= style.tags
        assert "roman" not in style.tags and "glare" not in style.tags
        assert style.case == "wristwatch" and style.alarm_hand and style.tilt_degrees >= 38.0
    images, _ = clockface.render_batch(4, 5, 48, include=include, scenes="world")
    assert images.shape == (4, 48, 48)


def test_every_world_family_renders():
    """Each world tag on its own renders a sane image (catches crashes in rare paths)."""
    from zoo.clocks.clockface import worldstyle

    for index, tag in enumerate(sorted(worldstyle.TAGS - {"photo_background"})):
        images, _, geometry, styles = clockface.render_batch(
            1, 31, 48, include={tag}, start=index, scenes="world", return_geometry=True, return_styles=True)
        assert tag in styles[0].tags
        assert images.shape == (1, 48, 48) and np.all(np.isfinite(geometry))


def _hand_distance(pixels, centre, tip, tail=0.35):
    """Distance of pixel coordinates (n, 2) from a hand's segment (its tail included)."""
    start = centre - tail * (tip - centre)
    direction = tip - start
    along = np.clip(((pixels - start) @ direction) / (direction @ direction), 0.0, 1.0)
    return np.linalg.norm(pixels - (start + along[:, None] * direction), axis=1)


@pytest.mark.parametrize("tilt, fill, low_resolution", [(55.0, 1.1, 0.0), (35.0, 0.6, 40.0), (5.0, 0.9, 0.0)])
def test_world_keypoints_follow_the_hands(tilt, fill, low_resolution):
    """Move the hands and nothing else: the pixels that change lie along the labelled hands.

    Under strong perspective, a crop of a close-up and low-resolution upsampling the
    keypoints are projected and scaled as the drawing is.
    """
    from zoo.clocks.clockface import world

    style = clockface.batch_styles(1, 3, include={"light_face", "line_hands", "wall_clock"}, scenes="world")[0]
    style = dataclasses.replace(
        style, tilt_degrees=tilt, distance=3.0, fill=fill, offset_x=0.0, offset_y=0.3, low_resolution=low_resolution,
        occluder_count=0, distractor_count=0, shadow_offset=None, alarm_hand=False, glare="none",
        blur_radius=0.0, motion_length=0.0, noise_sigma=0.0, jpeg_quality=0, gain=1.0, gamma=1.0,
        cast=(1.0, 1.0, 1.0), lighting_strength=0.0, vignette=0.0,
        dial=dataclasses.replace(style.dial, second_hand=False, cap_radius=0.0, hour_slop_degrees=0.0))
    size = 128
    renders = []
    for hour, minute in ((2, 10), (7, 40)):
        state = np.random.default_rng(4)
        image, points = world.render(hour, minute, state, size, style, None, sub_minute=0.0)
        renders.append((image.astype(int), points))
    (first, first_points), (second, second_points) = renders
    changed = np.argwhere(np.abs(first - second) > 40)[:, ::-1] + 0.5
    assert len(changed) > 20
    width = 2.0 + 0.6 * style.dial.hour_width * size * fill / 2.0
    distance = np.min([_hand_distance(changed, points[0], points[tip]) for points in (first_points, second_points)
                       for tip in (3, 4)], axis=0)
    assert np.mean(distance < width) > 0.97
    # Most changed pixels lie within a pixel of the hands' axes: a keypoint off by a pixel fails this.
    assert np.mean(distance < 1.0) > 0.7
    # Every hand tip has changed pixels near it.
    for points in (first_points, second_points):
        for tip in (3, 4):
            inner = points[0] + 0.85 * (points[tip] - points[0])
            assert np.min(np.linalg.norm(changed - inner, axis=1)) < 2.5


def _write_photos(folder, count=3):
    folder.mkdir()
    for index in range(count):
        pixels = np.zeros((40, 50, 3), dtype=np.uint8)
        pixels[..., index % 3] = 60 + 60 * index
        pixels[::7] = 255
        Image.fromarray(pixels).save(folder / f"photo{index}.png")
    return folder


def test_world_backgrounds_from_a_folder_and_a_zip(tmp_path):
    import zipfile

    folder = _write_photos(tmp_path / "photos")
    archive = tmp_path / "photos.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        for file in sorted(folder.iterdir()):
            handle.write(file, f"inner/{file.name}")
        handle.writestr("notes.txt", "not an image")
    include = {"photo_background"}
    from_folder, _ = clockface.render_batch(3, 2, 48, include=include, scenes="world", backgrounds=str(folder))
    from_zip, _ = clockface.render_batch(3, 2, 48, include=include, scenes="world", backgrounds=str(archive))
    again, _ = clockface.render_batch(3, 2, 48, include=include, scenes="world", backgrounds=folder)
    assert from_folder.tobytes() == again.tobytes()
    assert from_folder.shape == from_zip.shape == (3, 48, 48)
    plain, _ = clockface.render_batch(3, 2, 48, scenes="world")
    assert plain.tobytes() != from_folder.tobytes()
    digests = {clockface.backgrounds_digest(path) for path in (folder, archive, None)}
    assert len(digests) == 3 and clockface.backgrounds_digest(None) == "none"
    assert clockface.backgrounds_digest(str(folder)) == clockface.backgrounds_digest(folder)
    other = _write_photos(tmp_path / "other", count=2)
    assert clockface.backgrounds_digest(other) != clockface.backgrounds_digest(folder)
    out_dir = clockface.write_dataset(tmp_path / "set", 4, seed=2, size=48, scenes="world", backgrounds=str(archive))
    info = json.loads((out_dir / "render_info.json").read_text())
    assert info["scenes"] == "world" and info["backgrounds_digest"] == clockface.backgrounds_digest(archive)
    images, _ = clockface.load_leiden(out_dir)
    assert images.tobytes() == clockface.render_batch(4, 2, 48, scenes="world", backgrounds=str(archive))[0].tobytes()
    classic_dir = clockface.write_dataset(tmp_path / "classic", 2, seed=2, size=48)
    assert "scenes" not in json.loads((classic_dir / "render_info.json").read_text())


def test_bad_scenes_and_backgrounds_are_one_line_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "notes.txt").write_text("no photos")
    (tmp_path / "broken.zip").write_text("not a zip")
    cases = [
        (dict(scenes="photo"), "scenes"),
        (dict(scenes=None), "scenes"),
        (dict(scenes="world", backgrounds=str(tmp_path / "missing")), "does not exist"),
        (dict(scenes="world", backgrounds=str(tmp_path / "empty")), "no images"),
        (dict(scenes="world", backgrounds=str(tmp_path / "notes.txt")), "folder or a .zip"),
        (dict(scenes="world", backgrounds=str(tmp_path / "broken.zip")), "zip"),
        (dict(scenes="world", backgrounds=3), "backgrounds"),
        (dict(backgrounds=str(tmp_path)), "world"),
        (dict(scenes="world", include={"clutter_background"}), "world scenes"),
        (dict(scenes="world", include={"wristwatch"}, exclude={"wristwatch"}), "share"),
        (dict(include={"wristwatch"}), "unknown"),
    ]
    for arguments, message in cases:
        with pytest.raises(ValueError, match=message) as caught:
            clockface.render_batch(1, 0, 48, **arguments)
        assert "\n" not in str(caught.value)
    with pytest.raises(ValueError, match="scenes"):
        clockface.write_dataset(tmp_path / "bad", 2, seed=1, size=40, scenes="moon")


def test_mixed_scenes_interleave_world_and_classic_clocks():
    """Clock i of a mixed batch is the classic clock i when i % 3 == 2, else the world clock i."""
    mixed, labels, styles = clockface.render_batch(6, seed=9, size=48, scenes="mixed", return_styles=True)
    world, world_labels = clockface.render_batch(6, seed=9, size=48, scenes="world")
    classic, classic_labels = clockface.render_batch(6, seed=9, size=48)
    for index in range(6):
        expected, expected_labels = (classic, classic_labels) if index % 3 == 2 else (world, world_labels)
        assert mixed[index].tobytes() == expected[index].tobytes()
        np.testing.assert_array_equal(labels[index], expected_labels[index])
        assert isinstance(styles[index], clockface.ClockStyle if index % 3 == 2 else clockface.WorldStyle)
    with pytest.raises(ValueError, match="mixed"):
        clockface.render_batch(1, 0, 48, scenes="mixed", include={"roman"})


def test_world_backgrounds_from_several_sets_drawn_equally(tmp_path):
    import os

    from zoo.clocks.clockface import backgrounds, draws

    big = tmp_path / "big"
    big.mkdir()
    Image.new("RGB", (1200, 800), (200, 30, 30)).save(big / "wall.png")
    small = _write_photos(tmp_path / "small", count=3)
    joined = f"{small}{os.pathsep}{big}"
    photos = backgrounds.source(joined)
    assert len(photos) == 4
    stream = draws.Stream(np.random.default_rng(0))
    sizes = [photos.pick(stream).size for _ in range(200)]
    # One big photo against three small ones, still drawn about half the time.
    assert 70 < sizes.count((1200, 800)) < 130
    digest = clockface.backgrounds_digest(joined)
    assert digest == f"{clockface.backgrounds_digest(small)}+{clockface.backgrounds_digest(big)}"
    first, _ = clockface.render_batch(2, 3, 48, include={"photo_background"}, scenes="world", backgrounds=joined)
    again, _ = clockface.render_batch(2, 3, 48, include={"photo_background"}, scenes="world", backgrounds=joined)
    assert first.tobytes() == again.tobytes()
    with pytest.raises(ValueError, match="does not exist"):
        backgrounds.source(f"{small}{os.pathsep}{tmp_path / 'nowhere'}")

