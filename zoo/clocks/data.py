"""Clocks for training and testing: rendered sets cached on disk, splits, targets and
the tf.data pipelines.

Training clocks are rendered from the run's seed, validation clocks from that seed
plus :data:`VALIDATION_OFFSET`, test clocks from :data:`TEST_SEED`, which training
never uses. ``--data`` takes the Leiden "tell the time" set instead (a folder with
``images.npy`` and ``labels.npy``).
"""

import concurrent.futures
import hashlib
import json
import multiprocessing
import os
import pathlib
import typing

import keras
import numpy as np

from zoo import datasets, errors
from zoo.clocks import clockface
from zoo.clocks import losses
from zoo.common import clocktime

# Test clocks come from this seed; a training seed equal to it is refused.
TEST_SEED = 20261127


# How every clock entry takes its image (card facts).
IMAGE_FACTS = {"color": "grayscale", "crop": "center_square", "input_range": [0.0, 255.0]}
# Validation clocks come from the training seed plus this offset.
VALIDATION_OFFSET = 7919


def _renderer_version():
    """A digest of the renderer's source: cached renders are redone when it changes."""
    digest = hashlib.sha256()
    for source in sorted(pathlib.Path(clockface.__file__).parent.glob("*.py")):
        digest.update(source.read_bytes())
    return digest.hexdigest()[:12]


class ClockSet(typing.NamedTuple):
    """Clock images with their labels and, for rendered clocks, their keypoints."""

    images: np.ndarray  # uint8 (N, H, W)
    labels: np.ndarray  # int64 (N, 2): hour 0-11, minute 0-59
    geometry: np.ndarray | None  # float32 (N, 5, 2) pixel keypoints, see clockface.GEOMETRY_POINTS

    def subset(self, index):
        return ClockSet(self.images[index], self.labels[index], None if self.geometry is None else self.geometry[index])


def render(count, seed, size, include=None, exclude=None, workers=None, progress=True, scenes="classic",
           backgrounds=None):
    """Render ``count`` clocks, in parallel, cached on disk.

    Image ``i`` depends only on ``(seed, i)``, so slices rendered by separate
    processes equal one big render, and a cached set is reused across runs.

    Args:
        count: number of clocks.
        seed: the render seed.
        size: image width and height.
        include: style tags every clock must have (held-out style tests).
        exclude: style tags no clock may have.
        workers: processes (default: all cores).
        progress: show a progress bar.
        scenes: the renderer's scene profile, ``classic`` or ``world`` (photographic
            backgrounds, cases, strong perspective, occluders, camera defects).
        backgrounds: a folder or zip of photos for the world profile's backgrounds
            (None: the renderer's own).

    Returns:
        :class:`ClockSet` with keypoints.
    """
    include = tuple(sorted(include or ()))
    exclude = tuple(sorted(exclude or ()))
    backgrounds = str(backgrounds) if backgrounds else None
    extra = {}
    if scenes != "classic":  # classic renders keep the keys (and files) they always had
        extra = {"scenes": scenes, "backgrounds": backgrounds}
    key = json.dumps([count, seed, size, include, exclude, _renderer_version()]
                     + ([scenes, clockface.backgrounds_digest(backgrounds)] if extra else []))
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    cached = datasets.cache_dir() / "clocks" / f"clocks-{seed}-{count}-{size}-{digest}.npz"
    if cached.exists():
        try:
            with np.load(cached) as data:
                return ClockSet(data["images"], data["labels"], data["geometry"])
        except (OSError, ValueError, KeyError):
            cached.unlink(missing_ok=True)

    workers = workers or os.cpu_count() or 1
    chunk = 250
    jobs = [
        dict(count=min(chunk, count - start), seed=seed, size=size, include=include, exclude=exclude, start=start,
             return_geometry=True, **extra)
        for start in range(0, count, chunk)
    ]
    clocks = ClockSet(
        np.empty((count, size, size), dtype=np.uint8),
        np.empty((count, 2), dtype=np.int64),
        np.empty((count, len(clockface.GEOMETRY_POINTS), 2), dtype=np.float32),
    )
    bar = None
    if progress:
        import tqdm

        bar = tqdm.tqdm(total=count, desc=f"rendering {count} clocks (seed {seed})", unit="clock", leave=False)

    def store(job, part):
        for target, values in zip(clocks, part):
            target[job["start"]:job["start"] + job["count"]] = values
        if bar:
            bar.update(job["count"])

    if workers > 1 and len(jobs) > 1:
        # 'spawn' keeps TensorFlow's threads out of the workers (forking a process that
        # runs TensorFlow is unsafe); the workers import only the renderer (numpy, Pillow).
        context = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            futures = [pool.submit(clockface.render_batch, **job) for job in jobs]
            for job, future in zip(jobs, futures):
                store(job, future.result())
    else:
        for job in jobs:
            store(job, clockface.render_batch(**job))
    if bar:
        bar.close()
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        temporary = cached.with_name(cached.name + ".partial.npz")
        np.savez(temporary, images=clocks.images, labels=clocks.labels, geometry=clocks.geometry)
        os.replace(temporary, cached)
    except OSError:
        pass  # A read-only cache only costs time.
    return clocks


def resize_images(images, size):
    """Resize uint8 grayscale images (N, H, W) to (N, size, size), bilinear with
    antialiasing (Pillow), as serve does for photos."""
    if images.shape[1:] == (size, size):
        return images
    from PIL import Image

    return np.stack([np.asarray(Image.fromarray(image).resize((size, size), Image.BILINEAR)) for image in images])


def split_counts(config, limit=None):
    """Rendered (train, validation, test) counts; small runs get proportionally small
    validation and test sets (at least 64 clocks each)."""
    train_count = min(limit, config["train_count"]) if limit else config["train_count"]
    return (
        train_count,
        min(config["val_count"], max(64, train_count // 4)),
        min(config["test_count"], max(64, train_count // 4)),
    )


def load_clocks(config, path=None, seed=42, limit=None):
    """Train, validation and test clocks as ``{split: ClockSet}``.

    With ``path``: a Leiden-format folder, split 80/10/10 with a fixed permutation.
    Without: rendered clocks; training from ``seed``, validation from
    ``seed + VALIDATION_OFFSET``, test from :data:`TEST_SEED`.
    """
    size = config["image_size"]
    if path is not None:
        try:
            images, labels = clockface.load_leiden(path)
        except ValueError as error:
            raise errors.DataError(f"cannot read clocks at {path}: {error}") from None
        clocks = ClockSet(resize_images(images, size), labels, None)
        order = np.random.default_rng(0).permutation(len(images))
        tenth = max(1, len(images) // 10)
        parts = {"test": order[:tenth], "val": order[tenth:2 * tenth], "train": order[2 * tenth:]}
        if limit:
            parts["train"] = parts["train"][:limit]
        return {split: clocks.subset(index) for split, index in parts.items()}, str(path)
    if seed == TEST_SEED or seed + VALIDATION_OFFSET == TEST_SEED:
        raise errors.ZooError(f"--seed {seed} would render the test clocks; pick another seed")
    scene = dict(exclude=tuple(config.get("exclude_styles", ())), **scene_settings(config))
    train_count, val_count, test_count = split_counts(config, limit)
    return {
        "train": render(train_count, seed, size, **scene),
        "val": render(val_count, seed + VALIDATION_OFFSET, size, **scene),
        "test": render(test_count, TEST_SEED, size, **scene),
    }, "rendered by zoo.clockface"


def scene_settings(config):
    """The renderer's ``scenes`` and ``backgrounds`` a run's fit settings ask for."""
    return {"scenes": config.get("scenes", "classic"), "backgrounds": config.get("backgrounds") or None}


def targets(kind, labels, config, geometry=None):
    """Training targets for a reader of ``kind`` from ``[hour, minute]`` labels.

    Readers with a keypoint head (``keypoint_weight`` > 0) also get the keypoints in
    [0, 1] image coordinates; clocks without keypoints (the Leiden set) get NaN, which
    the keypoint loss skips.
    """
    minutes = clocktime.to_minutes(labels[:, 0], labels[:, 1]).astype(np.float64)
    extra = {}
    if config.get("keypoint_weight"):
        if geometry is None:
            extra["keypoints"] = np.full((len(labels), len(clockface.GEOMETRY_POINTS), 2), np.nan, dtype=np.float32)
        else:
            extra["keypoints"] = (geometry / config["image_size"]).astype(np.float32)
    if kind == "clock_bins":
        bins = config["bins"]
        return {"probabilities": np.eye(bins, dtype=np.float32)[clocktime.bin_of(minutes, bins)]}
    if kind == "clock_regression":
        return {"time": (minutes / clocktime.MINUTES_PER_DIAL).astype(np.float32)[:, None]}
    if kind == "clock_multihead":
        return {
            "hour": np.eye(12, dtype=np.float32)[labels[:, 0] % 12],
            "minute": (labels[:, 1] / 60.0).astype(np.float32)[:, None],
        }
    hour_turns = minutes / clocktime.MINUTES_PER_DIAL
    minute_turns = np.mod(minutes, 60.0) / 60.0
    if config.get("angles"):  # clock_polar: its loss computes the angle targets from the keypoints.
        return {"keypoints": extra["keypoints"], "polar_training": extra["keypoints"]}
    if config.get("angle_bins"):
        return {
            "hour_bins": losses.angle_distribution(hour_turns, config["angle_bins"]),
            "minute_bins": losses.angle_distribution(minute_turns, config["angle_bins"]),
            **extra,
        }
    return {
        "hour": clocktime.angle_encoding(minutes, clocktime.MINUTES_PER_DIAL).astype(np.float32),
        "minute": clocktime.angle_encoding(np.mod(minutes, 60.0), 60.0).astype(np.float32),
        **extra,
    }


KEYPOINT_TARGETS = ("keypoints", "polar_training")


def turn_points(points, cosine, sine):
    """Points (N, P, 2) turned about the origin by per-clock angles given as their
    cosine and sine (N,)."""
    import tensorflow as tf

    x, y = points[..., 0], points[..., 1]
    c, s = cosine[:, None], sine[:, None]
    return tf.stack([c * x - s * y, s * x + c * y], axis=-1)


def rotate_batch(images, targets, probability, seed=None):
    """Turn each clock of a batch, with ``probability``, by a uniform angle about the
    image centre: the dial turns with its hands, so the time label is unchanged and
    only the keypoint targets move with the image.

    The upright stage learns from it (fit setting ``rotate_augment``): clocks near
    the 45-degree quarter boundaries are where its decision is hardest. Uncovered
    corners repeat the nearest edge pixel.

    Args:
        images: float32 (N, H, W, 1), H == W.
        targets: dict of target arrays; ``keypoints`` / ``polar_training`` (N, P, 2) in
            [0, 1] image coordinates (NaN for unknown) are turned with the image.
        probability: share of the clocks turned.

    Returns:
        ``(images, targets)`` turned.
    """
    import tensorflow as tf

    count = tf.shape(images)[0]
    size = tf.cast(tf.shape(images)[1], tf.float32)
    # One draw for both (two ops with one seed would draw the same numbers in a graph).
    draw = tf.random.uniform([count, 2], seed=seed)
    angle = tf.where(draw[:, 1] < probability, (2.0 * draw[:, 0] - 1.0) * np.pi, tf.zeros([count]))
    cosine, sine = tf.cos(angle), tf.sin(angle)
    centre = (size - 1.0) / 2.0  # pixel (i, j) has index coordinates (j, i)
    # Output pixel o samples the input at R(-angle) (o - c) + c.
    transforms = tf.stack([
        cosine, sine, centre - cosine * centre - sine * centre,
        -sine, cosine, centre + sine * centre - cosine * centre,
        tf.zeros_like(angle), tf.zeros_like(angle),
    ], axis=1)
    turned = tf.raw_ops.ImageProjectiveTransformV3(
        images=images, transforms=transforms, output_shape=tf.shape(images)[1:3], fill_value=0.0,
        interpolation="BILINEAR", fill_mode="NEAREST")
    moved = dict(targets)
    for key in KEYPOINT_TARGETS:
        if key in targets:
            points = targets[key] * size - 0.5 - centre  # index coordinates about the centre
            moved[key] = (turn_points(points, cosine, sine) + centre + 0.5) / size
    return turned, moved


class EpochSchedule(keras.callbacks.Callback):
    """Sets a pipeline variable (a share of the training clocks) at each epoch's start
    to ``value(epoch, epochs)``, epochs 0-based: how many clocks are taught in the
    true frame (:class:`zoo.clocks.layers.TeacherFrame`)."""

    def __init__(self, variable, value):
        super().__init__()
        self.variable, self.value = variable, value

    def on_epoch_begin(self, epoch, logs=None):
        epochs = (self.params or {}).get("epochs") or 1
        self.variable.assign(self.value(epoch, epochs))


def with_frame_hint(images, targets, probability):
    """Inputs for a reader's trainer with :class:`zoo.clocks.layers.TeacherFrame`: the
    true dial frame (the first three keypoints) as ``frame_hint`` for a
    ``probability`` share of the clocks, NaN (use the localiser's) for the rest."""
    import tensorflow as tf

    frame = targets["keypoints"][:, :3]
    taught = (tf.random.uniform([tf.shape(frame)[0]]) < probability)[:, None, None]
    return {"image": images, "frame_hint": tf.where(taught, frame, tf.fill(tf.shape(frame), np.nan))}, targets


def clock_data(entry, config, path=None, seed=42, limit=None):
    """The entry's clocks as :class:`zoo.datasets.Splits` with targets for its heads."""
    import tensorflow as tf

    splits, source = load_clocks(config, path, seed, limit)
    kind = entry.describe(entry, config)["kind"]  # the entry's card facts (zoo.clocks.entries.describe_clock)
    batch_size = config["batch_size"]

    teaching, callbacks = None, ()
    if config.get("teacher_forcing"):
        # All clocks taught at the first epoch, down linearly to none after that share of the epochs.
        taught_epochs = float(config["teacher_forcing"])
        teaching = tf.Variable(1.0, trainable=False, dtype=tf.float32)
        callbacks = (EpochSchedule(
            teaching, lambda epoch, epochs: max(0.0, 1.0 - epoch / max(taught_epochs * epochs, 1e-9))),)

    def pipeline(clocks, training, hint=False):
        pairs = (clocks.images[..., None], targets(kind, clocks.labels, config, clocks.geometry))
        dataset = tf.data.Dataset.from_tensor_slices(pairs).cache()
        if training:
            dataset = dataset.shuffle(len(clocks.images), seed=seed, reshuffle_each_iteration=True)
        dataset = dataset.batch(batch_size, drop_remainder=training and len(clocks.images) >= batch_size)
        dataset = dataset.map(lambda x, y: (tf.cast(x, tf.float32), y), num_parallel_calls=tf.data.AUTOTUNE)
        if hint:  # the trainer's extra input; validation reads in the localiser's frame
            share = teaching if training else 0.0
            dataset = dataset.map(lambda x, y: with_frame_hint(x, y, share), num_parallel_calls=tf.data.AUTOTUNE)
        return dataset.prefetch(tf.data.AUTOTUNE)

    train_count = len(splits["train"].images)
    info = {
        "source": source,
        "train": int(train_count),
        "val": int(len(splits["val"].images)),
        "test": int(len(splits["test"].images)),
        "image_size": config["image_size"],
        "test_seed": TEST_SEED if path is None else None,
        "exclude_styles": list(config.get("exclude_styles", ())),
        **({"scenes": config["scenes"]} if config.get("scenes", "classic") != "classic" else {}),
    }
    return datasets.Splits(
        train=pipeline(splits["train"], True, hint=teaching is not None),
        val=pipeline(splits["val"], False, hint=teaching is not None),
        test=pipeline(splits["test"], False),
        steps_per_epoch=max(1, train_count // batch_size),
        info=info,
        test_arrays=(splits["test"].images, splits["test"].labels),
        callbacks=callbacks,
    )

