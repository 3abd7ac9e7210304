"""Task 2 of the report: reading the time from images of analog clocks.

Entries:

- ``clock_classifier``: the time as one of N bins (N in 24, 48, 96, 192, 360, 720),
  with the report's architectures (listing 1 for 24 bins, 2 for 48, 3 for more).
- ``clock_regressor``: one linear output, the time as a fraction of 12 hours, loss
  MAE or MSE (listing 4).
- ``clock_multihead``: hour classification plus minute regression (listing 5).
- ``clock_hands``: beyond the report, a reader that respects the clock's geometry:
  each hand's angle as a (sin, cos) pair, so 11:59 and 0:00 are neighbours rather than
  the two ends of a scale, and the hour is read from the hour hand *given* the minute
  hand (:func:`zoo.common.clocktime.hands_to_minutes`), so 2:58 is not read as 3:58.

Data: clocks rendered by :mod:`zoo.clockface` (cached under ``$ZOO_CACHE_DIR``,
rendered by a pool of processes), or the Leiden "tell the time" set via ``--data``
(a folder with ``images.npy`` and ``labels.npy``, any image size). Test clocks are
rendered from a fixed seed that training never uses. Every reader is scored by the
common-sense error in minutes (:func:`zoo.common.clocktime.cse_summary`).

The report trained at 150x150; on a 2-core CPU its listings cost ~280M
multiply-adds per image there, so the report's readers default to 64x64 here
(``image_size`` is a hyperparameter).
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

from zoo import blocks, clockface, datasets, errors, registry

# Test clocks come from this seed; a training seed equal to it is refused.

from zoo.common import clocktime
TEST_SEED = 20261127
# Validation clocks come from the training seed plus this offset.
VALIDATION_OFFSET = 7919


# ----------------------------------------------------------------------------- data


def _renderer_version():
    """A digest of the renderer's source: cached renders are redone when it changes."""
    return hashlib.sha256(pathlib.Path(clockface.__file__).read_bytes()).hexdigest()[:12]


class ClockSet(typing.NamedTuple):
    """Clock images with their labels and, for rendered clocks, their keypoints."""

    images: np.ndarray  # uint8 (N, H, W)
    labels: np.ndarray  # int64 (N, 2): hour 0-11, minute 0-59
    geometry: np.ndarray | None  # float32 (N, 5, 2) pixel keypoints, see zoo.clockface.GEOMETRY_POINTS

    def subset(self, index):
        return ClockSet(self.images[index], self.labels[index], None if self.geometry is None else self.geometry[index])


def render(count, seed, size, include=None, exclude=None, workers=None, progress=True):
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

    Returns:
        :class:`ClockSet` with keypoints.
    """
    include = tuple(sorted(include or ()))
    exclude = tuple(sorted(exclude or ()))
    key = json.dumps([count, seed, size, include, exclude, _renderer_version()])
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
             return_geometry=True)
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
        # runs TensorFlow is unsafe); the workers import only zoo.clockface (numpy, Pillow).
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
    exclude = tuple(config.get("exclude_styles", ()))
    train_count, val_count, test_count = split_counts(config, limit)
    return {
        "train": render(train_count, seed, size, exclude=exclude),
        "val": render(val_count, seed + VALIDATION_OFFSET, size, exclude=exclude),
        "test": render(test_count, TEST_SEED, size, exclude=exclude),
    }, "rendered by zoo.clockface"


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
            "hour_bins": angle_distribution(hour_turns, config["angle_bins"]),
            "minute_bins": angle_distribution(minute_turns, config["angle_bins"]),
            **extra,
        }
    return {
        "hour": clocktime.angle_encoding(minutes, clocktime.MINUTES_PER_DIAL).astype(np.float32),
        "minute": clocktime.angle_encoding(np.mod(minutes, 60.0), 60.0).astype(np.float32),
        **extra,
    }


KEYPOINT_TARGETS = ("keypoints", "polar_training")


def _turn_points(points, cosine, sine):
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

    The renderer turns whole clocks in only 12% of its styles; this gives the
    localiser every orientation to learn where 12 is from the dial's own cues.
    Uncovered corners repeat the nearest edge pixel. Off by default (``rotate_augment``
    0): with half the clocks turned, eight epochs of ``clock_polar`` were not enough
    for its polar head to lock on (see the README's results).

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
            moved[key] = (_turn_points(points, cosine, sine) + centre + 0.5) / size
    return turned, moved


def quarter_frame(targets):
    """Localiser targets whose 12 and 3 o'clock rim points are the dial's axes turned
    back by the clock's quarter (:func:`quarter_of`), so that the "12" is the axis
    within about 45 degrees of the top of the image.

    Which axis carries the 12 is told only by a numeral or mark a few pixels wide in
    the localiser's view, while the axes themselves (pivot, rim, the dial's squash)
    are plain to see. Taught the true 12, the localiser puts it at the top of a
    turned clock anyway; taught this, it finds a frame that is right up to a quarter
    turn, and the polar reader's 12 and 3 heads, whose targets stay the true marks,
    find which quarter. The ``polar_training`` targets are left as they are.
    Off by default (fit setting ``quarter_frame``): at the demo's settings the 12
    head did not learn to find a turned clock's 12 this way, alone or with half the
    training clocks turned (the README's results).

    Args:
        targets: dict with ``keypoints`` (N, P, 2) in [0, 1] image coordinates, x right,
            y down: pivot, rim at 12, rim at 3 first.

    Returns:
        the dict with ``keypoints`` re-targeted.
    """
    import tensorflow as tf

    points = targets["keypoints"]
    centre = points[:, 0]
    twelve, three = points[:, 1] - centre, points[:, 2] - centre
    # The dial's axes clockwise from its 12; a 12 turned k quarters clockwise leaves
    # axis -k (mod 4) at the top.
    axes = tf.stack([twelve, three, -twelve, -three], axis=1)
    quarter = tf.math.floormod(-_quarter_of_points(points), 4)
    new_twelve = tf.gather(axes, quarter, batch_dims=1)
    new_three = tf.gather(axes, (quarter + 1) % 4, batch_dims=1)
    moved = dict(targets)
    moved["keypoints"] = tf.concat([points[:, :1], (centre + new_twelve)[:, None], (centre + new_three)[:, None],
                                    points[:, 3:]], axis=1)
    return moved


class EpochSchedule(keras.callbacks.Callback):
    """Sets a pipeline variable (a share of the training clocks) at each epoch's start
    to ``value(epoch, epochs)``, epochs 0-based: when turned clocks start
    (:func:`rotate_batch`), how many clocks are taught in the true frame
    (:class:`TeacherFrame`)."""

    def __init__(self, variable, value):
        super().__init__()
        self.variable, self.value = variable, value

    def on_epoch_begin(self, epoch, logs=None):
        epochs = (self.params or {}).get("epochs") or 1
        self.variable.assign(self.value(epoch, epochs))


def with_frame_hint(images, targets, probability, turn=0.0):
    """Inputs for a :class:`Trainer` with :class:`TeacherFrame`: the true dial frame
    (the first three keypoints) as ``frame_hint`` for a ``probability`` share of the
    clocks, NaN (use the localiser's) for the rest.

    ``turn`` > 0 turns each hinted frame about its pivot by a uniform angle of up to
    ``turn`` degrees either way: the strip's 12 then lies anywhere, and the 12 and 3
    heads learn to find the marks themselves rather than trust column 0 (what a
    clock the localiser reads upside down needs)."""
    import tensorflow as tf

    frame = targets["keypoints"][:, :3]
    draw = tf.random.uniform([tf.shape(frame)[0], 2])
    if turn:
        angle = (2.0 * draw[:, 1] - 1.0) * np.radians(turn)
        pivot = frame[:, :1]
        frame = pivot + _turn_points(frame - pivot, tf.cos(angle), tf.sin(angle))
    taught = (draw[:, 0] < probability)[:, None, None]
    return {"image": images, "frame_hint": tf.where(taught, frame, tf.fill(tf.shape(frame), np.nan))}, targets


def clock_data(entry, config, path=None, seed=42, limit=None):
    """The entry's clocks as :class:`zoo.datasets.Splits` with targets for its heads."""
    import tensorflow as tf

    splits, source = load_clocks(config, path, seed, limit)
    if config.get("turn_upright"):
        if splits["train"].geometry is None:
            raise errors.DataError("turn_upright needs rendered clocks (their keypoints say where 12 is)")
        # A reader for behind an upright stage (zoo upright) learns on clocks turned
        # back by their quarter, as that stage turns them; the test clocks stay as they
        # are, so its own test figures are those of the reader alone.
        for split in ("train", "val"):
            splits[split] = turn_clocks(splits[split], -quarter_of(splits[split].geometry))
    kind = describe_clock(entry, config)["kind"]
    batch_size = config["batch_size"]

    rotation, callbacks = None, ()
    if config.get("rotate_augment"):
        # A variable, so that the share of turned clocks can start at a later epoch.
        start = int(config.get("rotate_augment_from", 0))
        rotation = tf.Variable(0.0 if start else float(config["rotate_augment"]), trainable=False, dtype=tf.float32)
        share = float(config["rotate_augment"])
        callbacks = (EpochSchedule(rotation, lambda epoch, epochs: share if epoch >= start else 0.0),)
    teaching = None
    if config.get("teacher_forcing"):
        # All clocks taught at the first epoch, down linearly to none after that share of the epochs.
        taught_epochs = float(config["teacher_forcing"])
        teaching = tf.Variable(1.0, trainable=False, dtype=tf.float32)
        callbacks = (*callbacks, EpochSchedule(
            teaching, lambda epoch, epochs: max(0.0, 1.0 - epoch / max(taught_epochs * epochs, 1e-9))))

    def pipeline(clocks, training, hint=False):
        pairs = (clocks.images[..., None], targets(kind, clocks.labels, config, clocks.geometry))
        dataset = tf.data.Dataset.from_tensor_slices(pairs).cache()
        if training:
            dataset = dataset.shuffle(len(clocks.images), seed=seed, reshuffle_each_iteration=True)
        dataset = dataset.batch(batch_size, drop_remainder=training and len(clocks.images) >= batch_size)
        dataset = dataset.map(lambda x, y: (tf.cast(x, tf.float32), y), num_parallel_calls=tf.data.AUTOTUNE)
        if training and rotation is not None:
            dataset = dataset.map(lambda x, y: rotate_batch(x, y, rotation), num_parallel_calls=tf.data.AUTOTUNE)
        if config.get("quarter_frame"):  # what the localiser is taught, in every split
            dataset = dataset.map(lambda x, y: (x, quarter_frame(y)), num_parallel_calls=tf.data.AUTOTUNE)
        if hint:  # the trainer's extra input; validation reads in the localiser's frame
            share = teaching if training else 0.0
            turn = float(config.get("teacher_turn", 0.0))
            dataset = dataset.map(lambda x, y: with_frame_hint(x, y, share, turn), num_parallel_calls=tf.data.AUTOTUNE)
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


# ----------------------------------------------------------------------------- decoding and scoring


# How every clock entry takes its image (card facts).
IMAGE_FACTS = {"color": "grayscale", "crop": "center_square", "input_range": [0.0, 255.0]}


def describe_clock(entry, config):
    """Card facts: how to decode the outputs into a time, and how to prepare images."""
    kinds = {
        "clock_classifier": {"kind": "clock_bins", "output": "probabilities", "bins": config.get("bins")},
        "clock_regressor": {"kind": "clock_regression", "output": "time", "scale": clocktime.MINUTES_PER_DIAL},
        "clock_multihead": {"kind": "clock_multihead", "hour_output": "hour", "minute_output": "minute",
                            "minute_scale": 60},
    }
    decode = kinds.get(entry.name, {"kind": "clock_hands", "hour_output": "hour", "minute_output": "minute"})
    return {**decode, **IMAGE_FACTS}


def reads_time(name):
    """Whether the entry ``name`` is a clock reader (``clock_upright`` is a clock
    entry that does not read the time)."""
    return name in registry.names() and registry.get(name).describe is describe_clock


def predict_minutes(model, images, decode, batch_size=256):
    """Read the time of uint8 images (N, H, W) with a Keras reader.

    Returns:
        ``(minutes, confidence)`` float arrays (N,).
    """
    outputs = model.predict(images[..., None].astype("float32"), batch_size=batch_size, verbose=0)
    return clocktime.decode_outputs({key: np.asarray(value) for key, value in outputs.items()}, decode)


def evaluate_clock(model, splits, config):
    """Common-sense error of the reader on the test clocks (mean, median, p90, within 1 minute)."""
    images, labels = splits.test_arrays
    # Builders name their model after the entry, so the model says how to decode itself.
    decode = describe_clock(registry.get(model.name), config)
    minutes, _ = predict_minutes(model, images, decode)
    truth = clocktime.to_minutes(labels[:, 0], labels[:, 1])
    summary = clocktime.cse_summary(minutes, truth)
    return {f"test_cse_{key}": value for key, value in summary.items()}


# ----------------------------------------------------------------------------- builders


def _image_input(image_size):
    inputs = keras.Input(shape=(image_size, image_size, 1), name="image")
    return inputs, keras.layers.Rescaling(1.0 / 255, name="rescale")(inputs)


# The report's convolutional stacks: (filters, kernel) of three Conv-MaxPool stages.
LISTINGS = {
    1: ((32, 4), (64, 4), (64, 5)),
    2: ((32, 3), (64, 3), (64, 4)),
    3: ((32, 4), (64, 4), (64, 5)),
    4: ((32, 4), (64, 5), (64, 5)),
}


def _report_stack(x, listing, prefix=""):
    for index, (filters, kernel) in enumerate(LISTINGS[listing], start=1):
        x = keras.layers.Conv2D(filters, kernel, activation="relu", name=f"{prefix}conv{index}")(x)
        x = keras.layers.MaxPooling2D(2, name=f"{prefix}pool{index}")(x)
    return keras.layers.Flatten(name=f"{prefix}flatten")(x)


def _regression_head(x, prefix="reg_"):
    """The report's regression head: Dense 256, 256, 128, 128, 128, Dropout 0.5."""
    for index, units in enumerate((256, 256, 128, 128, 128), start=1):
        x = keras.layers.Dense(units, activation="relu", name=f"{prefix}dense{index}")(x)
    return keras.layers.Dropout(0.5, name=f"{prefix}drop")(x)


def clock_classifier(name, image_size=64, bins=192, learning_rate=1e-3, label_smoothing=0.0):
    """The report's bin classifier: three Conv-MaxPool stages, softmax over N time bins.

    The stack follows the report's listing for the number of bins: listing 1 for 24,
    listing 2 for 48, listing 3 (with a Dense 128 layer) for 96 and more.
    """
    clocktime.bin_centre(0, bins)  # Validates bins (a positive integer).
    listing = {24: 1, 48: 2}.get(bins, 3)
    inputs, x = _image_input(image_size)
    x = _report_stack(x, listing)
    if listing == 3:
        x = keras.layers.Dense(128, activation="relu", name="dense")(x)
    x = keras.layers.Dropout(0.5, name="drop")(x)
    outputs = keras.layers.Dense(bins, activation="softmax", name="probabilities")(x)
    model = keras.Model(inputs, {"probabilities": outputs}, name=name)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss={"probabilities": keras.losses.CategoricalCrossentropy(label_smoothing=label_smoothing)},
        metrics={"probabilities": ["accuracy"]},
    )
    return model


def clock_regressor(name, image_size=64, loss="mse", learning_rate=1e-3):
    """The report's regressor: three Conv-MaxPool stages, five Dense layers, one linear
    output (the time as a fraction of 12 hours), loss MAE or MSE (listing 4)."""
    if loss not in ("mae", "mse"):
        raise ValueError(f"loss must be 'mae' or 'mse'; received {loss!r}")
    inputs, x = _image_input(image_size)
    x = _report_stack(x, 4)
    x = _regression_head(x, prefix="")
    outputs = keras.layers.Dense(1, name="time")(x)
    model = keras.Model(inputs, {"time": outputs}, name=name)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss={"time": loss})
    return model


def clock_multihead(name, image_size=64, learning_rate=1e-3, minute_weight=1.0):
    """The report's multi-head reader: a shared stack, an hour classifier (12 classes)
    and a minute regressor (minutes / 60), listing 5."""
    inputs, x = _image_input(image_size)
    features = _report_stack(x, 3, prefix="")
    hour = keras.layers.Dense(128, activation="relu", name="class_dense1")(features)
    hour = keras.layers.Dropout(0.5, name="class_drop")(hour)
    hour = keras.layers.Dense(12, activation="softmax", name="hour")(hour)
    minute = _regression_head(features)
    minute = keras.layers.Dense(1, name="minute")(minute)
    model = keras.Model(inputs, {"hour": hour, "minute": minute}, name=name)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss={"hour": "categorical_crossentropy", "minute": "mse"},
        loss_weights={"hour": 1.0, "minute": minute_weight},
        metrics={"hour": ["accuracy"]},
    )
    return model


@keras.saving.register_keras_serializable(package="zoo")
class CircularMean(keras.layers.Layer):
    """The (sin, cos) of the mean direction of a distribution over equal angle bins.

    Bin ``k`` of ``bins`` is centred on ``(k + 0.5) / bins`` of a turn clockwise from
    12. The result's length is the distribution's concentration: near 1 when the
    network is sure, near 0 when it spreads its belief round the dial.
    """

    def __init__(self, bins, **kwargs):
        super().__init__(**kwargs)
        self.bins = bins
        angles = 2 * np.pi * (np.arange(bins) + 0.5) / bins
        self.directions = np.stack([np.sin(angles), np.cos(angles)], axis=1).astype("float32")

    def call(self, probabilities):
        return keras.ops.matmul(probabilities, keras.ops.convert_to_tensor(self.directions))

    def get_config(self):
        return {**super().get_config(), "bins": self.bins}


@keras.saving.register_keras_serializable(package="zoo")
class PeakMean(CircularMean):
    """:class:`CircularMean` of the bins within ``window`` bins of the most likely one.

    A head whose distribution has a second, smaller mode (an hour head drawn partly
    to the minute hand or a tail, a 12 head to another numeral) is read at its main
    mode rather than between the two, and a long flat tail no longer pulls a sharp
    peak aside. The length is the mass in the window times its concentration, so it
    still says how sure the head is.
    """

    def __init__(self, bins, window=3, **kwargs):
        super().__init__(bins, **kwargs)
        self.window = window

    def call(self, probabilities):
        ops = keras.ops
        # The peak's index without argmax, which Keras lowers through a Bitcast that
        # ONNX lacks (ties, which a softmax all but never makes, share the index).
        index = ops.arange(self.bins, dtype="float32")[None, :]
        top = ops.cast(probabilities >= ops.max(probabilities, axis=-1, keepdims=True), "float32")
        peak = ops.sum(top * index, axis=-1, keepdims=True) / ops.sum(top, axis=-1, keepdims=True)
        distance = ops.abs(index - peak)
        distance = ops.minimum(distance, self.bins - distance)
        return super().call(ops.where(distance <= self.window + 0.5, probabilities, 0.0))

    def get_config(self):
        return {**super().get_config(), "window": self.window}


@keras.saving.register_keras_serializable(package="zoo")
class SpatialSoftArgmax(keras.layers.Layer):
    """Expected (x, y) of each channel's spatial softmax, in [0, 1] image coordinates.

    A differentiable keypoint detector (DSNT): heatmap logits (N, H, W, K) in,
    coordinates (N, K, 2) out, precise to a fraction of a heatmap cell.
    """

    def call(self, logits):
        shape = keras.ops.shape(logits)
        height, width, channels = shape[1], shape[2], shape[3]
        flat = keras.ops.reshape(logits, (-1, height * width, channels))
        weights = keras.ops.softmax(flat, axis=1)
        rows = (keras.ops.arange(height, dtype="float32") + 0.5) / keras.ops.cast(height, "float32")
        columns = (keras.ops.arange(width, dtype="float32") + 0.5) / keras.ops.cast(width, "float32")
        grid_y = keras.ops.reshape(keras.ops.repeat(rows[:, None], width, axis=1), (1, height * width, 1))
        grid_x = keras.ops.reshape(keras.ops.repeat(columns[None, :], height, axis=0), (1, height * width, 1))
        x = keras.ops.sum(weights * grid_x, axis=1)
        y = keras.ops.sum(weights * grid_y, axis=1)
        return keras.ops.stack([x, y], axis=-1)


@keras.saving.register_keras_serializable(package="zoo")
def masked_keypoint_loss(y_true, y_pred):
    """Mean squared keypoint error over the keypoints that are known (not NaN)."""
    known = keras.ops.isfinite(y_true)
    difference = keras.ops.where(known, y_pred - keras.ops.where(known, y_true, 0.0), 0.0)
    count = keras.ops.maximum(keras.ops.sum(keras.ops.cast(known, "float32"), axis=(1, 2)), 1.0)
    return keras.ops.sum(keras.ops.square(difference), axis=(1, 2)) / count


def angle_distribution(turns, bins, spread=1.0):
    """Soft training targets for an angle: a von Mises bump over ``bins`` angle bins.

    Args:
        turns: angles as fractions of a turn, (N,).
        bins: number of bins.
        spread: the bump's standard deviation in bins.

    Returns:
        float32 (N, bins), rows summing to 1.
    """
    centres = 2 * np.pi * (np.arange(bins) + 0.5) / bins
    concentration = 1.0 / (2 * np.pi * spread / bins) ** 2
    logits = concentration * np.cos(centres[None, :] - 2 * np.pi * np.asarray(turns)[:, None])
    weights = np.exp(logits - logits.max(axis=1, keepdims=True))
    return (weights / weights.sum(axis=1, keepdims=True)).astype(np.float32)


def _conv_bn_relu(x, filters, strides, label, kernel=3):
    """Conv (no bias) -> BatchNorm -> ReLU, its layers named ``label``, ``label_bn``, ``label_relu``."""
    x = keras.layers.Conv2D(filters, kernel, strides=strides, padding="same", use_bias=False, name=label)(x)
    x = keras.layers.BatchNormalization(name=f"{label}_bn")(x)
    return keras.layers.ReLU(name=f"{label}_relu")(x)


def _strided_stages(x, width, stem, stage, with_stem=False):
    """The clock readers' backbone: a 5x5 stride-2 stem, then three stages of a stride-2
    and a stride-1 Conv-BN-ReLU (width 2x, 4x, 16/3x). Layers are named ``stem`` and
    ``{stage}{n}_down`` / ``{stage}{n}_conv``.

    Returns:
        The three stages' outputs, finest first (after the stem's, with ``with_stem``).
    """
    x = _conv_bn_relu(x, width, 2, stem, kernel=5)
    features = [x] if with_stem else []
    for number, filters in enumerate((width * 2, width * 4, width * 16 // 3), start=1):
        x = _conv_bn_relu(x, filters, 2, f"{stage}{number}_down")
        x = _conv_bn_relu(x, filters, 1, f"{stage}{number}_conv")
        features.append(x)
    return features


def clock_hands(name, image_size=96, width=24, dense_units=256, dropout_rate=0.2, angle_bins=60,
                keypoint_weight=10.0, learning_rate=2e-3, weight_decay=1e-4):
    """A geometric reader: a BN-ReLU CNN reads each hand's angle.

    Strided convolutions halve the image four times (width, 2x, 4x, ~5x channels)
    down to a small grid that is flattened, not pooled, so the head still knows where
    things are. Each hand gets a softmax over ``angle_bins`` directions, trained with
    cross-entropy against a soft bump around the true angle (strong gradients from the
    first step, unlike a plain regression), and reported as the (sin, cos) of the
    distribution's mean direction, which is sub-bin precise; with ``angle_bins=0`` the
    heads regress (sin, cos) directly with MSE. The hour is read from the hour hand
    given the minute hand (:func:`zoo.common.clocktime.hands_to_minutes`).

    With ``keypoint_weight`` > 0, a keypoint head (soft-argmax heatmaps at a quarter of
    the input's resolution) also learns where the pivot, the 12 and 3 o'clock rim
    points and the two hand tips are, from the renderer's geometry: a strong, dense
    signal that teaches the backbone to find the dial and the hands long before the
    angle heads alone would.
    """
    inputs, x = _image_input(image_size)

    features = _strided_stages(x, width, stem="stem", stage="stage")
    x = features[-1]
    outputs, losses, weights = {}, {}, {}
    if keypoint_weight:
        coarse = keras.layers.Conv2DTranspose(width, 2, strides=2, name="keypoint_up")(features[1])
        fine = keras.layers.Concatenate(name="keypoint_features")([coarse, features[0]])
        heatmaps = keras.layers.Conv2D(len(clockface.GEOMETRY_POINTS), 3, padding="same", name="keypoint_heatmaps")(fine)
        outputs["keypoints"] = SpatialSoftArgmax(name="keypoints")(heatmaps)
        losses["keypoints"] = masked_keypoint_loss
        weights["keypoints"] = keypoint_weight
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dropout(dropout_rate, name="drop")(x)
    x = keras.layers.Dense(dense_units, activation="relu", name="dense")(x)
    for hand in ("hour", "minute"):
        if angle_bins:
            distribution = keras.layers.Dense(angle_bins, activation="softmax", name=f"{hand}_bins")(x)
            outputs[f"{hand}_bins"] = distribution
            outputs[hand] = CircularMean(angle_bins, name=hand)(distribution)
            losses[f"{hand}_bins"] = "categorical_crossentropy"
        else:
            outputs[hand] = keras.layers.Dense(2, name=hand)(x)
            losses[hand] = "mse"
    model = keras.Model(inputs, outputs, name=name)
    model.compile(
        optimizer=blocks.optimizer("adamw", learning_rate, weight_decay=weight_decay), loss=losses,
        loss_weights={key: weights.get(key, 1.0) for key in losses},
    )
    return model


@keras.saving.register_keras_serializable(package="zoo")
def keypoint_distance_loss(y_true, y_pred):
    """Mean distance between predicted and known keypoints ([0, 1] coordinates).

    A distance (not its square) keeps a useful gradient once the keypoints are
    close, which is where the angle precision comes from. NaN targets (clocks
    without keypoints) are skipped.
    """
    known = keras.ops.all(keras.ops.isfinite(y_true), axis=-1)
    difference = y_pred - keras.ops.where(keras.ops.isfinite(y_true), y_true, 0.0)
    distance = keras.ops.sqrt(keras.ops.sum(keras.ops.square(difference), axis=-1) + 1e-8)
    distance = keras.ops.where(known, distance, 0.0)
    count = keras.ops.maximum(keras.ops.sum(keras.ops.cast(known, "float32"), axis=1), 1.0)
    return keras.ops.sum(distance, axis=1) / count


@keras.saving.register_keras_serializable(package="zoo")
class DialFrame(keras.layers.Layer):
    """The first three keypoints (pivot, 12 and 3 o'clock rim points), without gradient:
    the frame the polar reader samples in is taught by the keypoint loss alone."""

    def call(self, keypoints):
        return keras.ops.stop_gradient(keypoints[:, :3, :])


@keras.saving.register_keras_serializable(package="zoo")
class PolarSampler(keras.layers.Layer):
    """Resamples an image on a polar grid laid in the dial's own frame.

    Given the pivot ``c`` and the rim points at 12 (``t12``) and 3 o'clock (``t3``),
    the dial point at radius ``r`` (in dial radii) and angle ``a`` (clockwise from
    12) is ``c + r sin(a) (t3 - c) + r cos(a) (t12 - c)`` in the image: an affine
    frame, so rotation, scale, offset, squash and shear of the clock are undone.
    Row ``i`` of the output is radius ``inner + (i + 0.5) / radii * (reach - inner)``; column ``j`` is the
    angle ``(j + 0.5) / angles`` of a turn, the same bins as :class:`CircularMean`.
    A hand becomes a bar along the radius axis at its angle's column.

    Bilinear sampling by flat gathers, which export to ONNX as plain ``Gather`` ops.
    """

    def __init__(self, radii=16, angles=120, reach=1.05, inner=0.0, **kwargs):
        super().__init__(**kwargs)
        self.radii = radii
        self.angles = angles
        self.reach = reach
        self.inner = inner
        radius = inner + (np.arange(radii) + 0.5) / radii * (reach - inner)
        angle = 2 * np.pi * (np.arange(angles) + 0.5) / angles
        self.along_three = (radius[:, None] * np.sin(angle)[None, :]).astype("float32")
        self.along_twelve = (radius[:, None] * np.cos(angle)[None, :]).astype("float32")

    def call(self, image, frame):
        ops = keras.ops
        shape = ops.shape(image)
        count, height, width = shape[0], shape[1], shape[2]
        size = ops.cast(ops.stack([width, height]), "float32")
        centre = frame[:, 0, :] * size
        to_twelve = frame[:, 1, :] * size - centre
        to_three = frame[:, 2, :] * size - centre
        along_three = ops.convert_to_tensor(self.along_three)[None]
        along_twelve = ops.convert_to_tensor(self.along_twelve)[None]
        # Pixel (i, j) has its centre at (j + 0.5, i + 0.5).
        x = centre[:, 0, None, None] + along_three * to_three[:, 0, None, None] \
            + along_twelve * to_twelve[:, 0, None, None] - 0.5
        y = centre[:, 1, None, None] + along_three * to_three[:, 1, None, None] \
            + along_twelve * to_twelve[:, 1, None, None] - 0.5
        x = ops.clip(x, 0.0, ops.cast(width, "float32") - 1.001)
        y = ops.clip(y, 0.0, ops.cast(height, "float32") - 1.001)
        left = ops.floor(x)
        top = ops.floor(y)
        right_weight = x - left
        bottom_weight = y - top
        left = ops.cast(left, "int32")
        top = ops.cast(top, "int32")
        flat = ops.reshape(image, (-1,))
        base = (ops.arange(count, dtype="int32") * height * width)[:, None, None]

        def pixel(row, column):
            return ops.take(flat, base + row * width + column)

        value = (
            pixel(top, left) * (1 - right_weight) * (1 - bottom_weight)
            + pixel(top, left + 1) * right_weight * (1 - bottom_weight)
            + pixel(top + 1, left) * (1 - right_weight) * bottom_weight
            + pixel(top + 1, left + 1) * right_weight * bottom_weight
        )
        return value[..., None]

    def compute_output_shape(self, image_shape, frame_shape=None):
        return (image_shape[0], self.radii, self.angles, 1)

    def get_config(self):
        return {**super().get_config(), "radii": self.radii, "angles": self.angles, "reach": self.reach,
                "inner": self.inner}


@keras.saving.register_keras_serializable(package="zoo")
class CircularPad(keras.layers.Layer):
    """Pads the angle axis (axis 2) of a polar feature map with its own wrapped
    columns, so convolutions see 11:59 next to 12:00."""

    def __init__(self, pad, **kwargs):
        super().__init__(**kwargs)
        self.pad = pad

    def call(self, inputs):
        return keras.ops.concatenate([inputs[:, :, -self.pad:], inputs, inputs[:, :, :self.pad]], axis=2)

    def compute_output_shape(self, input_shape):
        angles = None if input_shape[2] is None else input_shape[2] + 2 * self.pad
        return (input_shape[0], input_shape[1], angles, input_shape[3])

    def get_config(self):
        return {**super().get_config(), "pad": self.pad}


@keras.saving.register_keras_serializable(package="zoo")
class AngleChannels(keras.layers.Layer):
    """Appends sin and cos of each column's angle to a polar map (N, radii, angles, C)."""

    def call(self, inputs):
        shape = keras.ops.shape(inputs)
        angles = 2 * np.pi * (keras.ops.arange(shape[2], dtype="float32") + 0.5) / keras.ops.cast(shape[2], "float32")
        rows = keras.ops.ones((shape[0], shape[1], 1, 1), dtype="float32")
        channels = keras.ops.stack([keras.ops.sin(angles), keras.ops.cos(angles)], axis=-1)[None, None]
        return keras.ops.concatenate([inputs, rows * channels], axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:3], input_shape[3] + 2)


@keras.saving.register_keras_serializable(package="zoo")
class AnglePrior(keras.layers.Layer):
    """Adds a learned score per (head, angle) to angle scores (N, heads, angles): how
    likely each direction is before looking, which a network blind to the angle
    cannot express itself. Starts at zero (no preference)."""

    def build(self, input_shape):
        self.prior = self.add_weight(name="prior", shape=tuple(input_shape[1:]), initializer="zeros")

    def call(self, inputs):
        return inputs + self.prior[None]

    def compute_output_shape(self, input_shape):
        return input_shape


@keras.saving.register_keras_serializable(package="zoo")
class GatedAnglePrior(AnglePrior):
    """:class:`AnglePrior` weighted per clock and head: inputs (scores (N, heads, angles),
    gate logits (N, heads)); the prior is scaled by 2 * sigmoid(logit), so a gate at
    zero logits (its start) adds the prior as :class:`AnglePrior` does, and a dial that
    shows its 12 plainly can learn to lean on it less (down to 0) or a blank one more (up to 2)."""

    def build(self, input_shape):
        super().build(input_shape[0])

    def call(self, inputs):
        scores, logits = inputs
        return scores + 2.0 * keras.ops.sigmoid(logits)[:, :, None] * self.prior[None]

    def compute_output_shape(self, input_shape):
        return input_shape[0]


@keras.saving.register_keras_serializable(package="zoo")
class TakeRow(keras.layers.Layer):
    """Row ``index`` of a (N, rows, columns) tensor."""

    def __init__(self, index, **kwargs):
        super().__init__(**kwargs)
        self.index = index

    def call(self, inputs):
        return inputs[:, self.index, :]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])

    def get_config(self):
        return {**super().get_config(), "index": self.index}


@keras.saving.register_keras_serializable(package="zoo")
class RelativeAngle(keras.layers.Layer):
    """(sin, cos) of a hand's angle minus the 12 o'clock mark's angle, both read in the
    same frame; the length (confidence) is the product of the two lengths."""

    def call(self, inputs):
        hand, twelve = inputs
        twelve_length = keras.ops.sqrt(keras.ops.sum(keras.ops.square(twelve), axis=-1, keepdims=True) + 1e-12)
        sine_b, cosine_b = twelve[:, :1], twelve[:, 1:]
        sine_a, cosine_a = hand[:, :1], hand[:, 1:]
        relative = keras.ops.concatenate([sine_a * cosine_b - cosine_a * sine_b, cosine_a * cosine_b + sine_a * sine_b],
                                         axis=-1)
        return relative / twelve_length * keras.ops.minimum(twelve_length, 1.0)

    def compute_output_shape(self, input_shapes):
        return input_shapes[0]


@keras.saving.register_keras_serializable(package="zoo")
class DialAngle(keras.layers.Layer):
    """(sin, cos) of a hand's dial angle from the directions, read in the same frame,
    of the hand, the 12 mark and the 3 mark.

    :class:`RelativeAngle` assumes the frame's 3 lies a quarter turn after its 12; a
    localiser whose 3 o'clock point is a few pixels off shears the frame and every
    angle read in it. Solving ``hand = a * twelve + b * three`` for the dial
    coordinates ``(b, a)`` undoes that shear. The length (confidence) is the hand's
    length times the two marks' lengths (each capped at 1).

    A 3 mark more than ``tolerance`` degrees from a quarter turn after the 12 is not
    a shear but a 3 head that missed (on turned clocks it misses twice as often as
    the 12 head): the hand is then read against the 12 alone, as
    :class:`RelativeAngle` does. 0 trusts the 3 whatever it says.
    """

    def __init__(self, tolerance=0.0, **kwargs):
        super().__init__(**kwargs)
        self.tolerance = tolerance

    def call(self, inputs):
        ops = keras.ops
        hand, twelve, three = inputs

        def unit(vector):
            length = ops.sqrt(ops.sum(ops.square(vector), axis=-1, keepdims=True) + 1e-12)
            return vector / length, length

        hand_unit, hand_length = unit(hand)
        twelve_unit, twelve_length = unit(twelve)
        three_unit, three_length = unit(three)
        if self.tolerance:
            # A quarter turn clockwise after (sin a, cos a) is (cos a, -sin a).
            quarter = ops.concatenate([twelve_unit[:, 1:], -twelve_unit[:, :1]], axis=-1)
            agree = ops.sum(three_unit * quarter, axis=-1, keepdims=True) >= float(np.cos(np.radians(self.tolerance)))
            three_unit = ops.where(agree, three_unit, quarter)
        # Plane coordinates (x towards 3, y towards 12) are (sin, cos) of the angle.
        determinant = twelve_unit[:, :1] * three_unit[:, 1:] - twelve_unit[:, 1:] * three_unit[:, :1]
        # An upright frame has determinant -1; keep its sign and away from 0.
        determinant = ops.minimum(determinant, -0.2)
        along_twelve = (hand_unit[:, :1] * three_unit[:, 1:] - hand_unit[:, 1:] * three_unit[:, :1]) / determinant
        along_three = (twelve_unit[:, :1] * hand_unit[:, 1:] - twelve_unit[:, 1:] * hand_unit[:, :1]) / determinant
        dial, _ = unit(ops.concatenate([along_three, along_twelve], axis=-1))
        return dial * hand_length * ops.minimum(twelve_length, 1.0) * ops.minimum(three_length, 1.0)

    def compute_output_shape(self, input_shapes):
        return input_shapes[0]

    def get_config(self):
        return {**super().get_config(), "tolerance": self.tolerance}


def _angle_in_frame(frame, points):
    """The dial angle (turns clockwise from the frame's 12) of image points (N, 2),
    in the affine dial frame (N, 3, 2) = pivot, 12 and 3 o'clock rim points."""
    ops = keras.ops
    centre, twelve, three = frame[:, 0], frame[:, 1], frame[:, 2]
    along_three = three - centre
    towards_six = centre - twelve
    determinant = along_three[:, 0] * towards_six[:, 1] - along_three[:, 1] * towards_six[:, 0]
    determinant = ops.where(ops.abs(determinant) < 1e-6, 1e-6, determinant)
    offset = points - centre
    across = (offset[:, 0] * towards_six[:, 1] - offset[:, 1] * towards_six[:, 0]) / determinant
    down = (along_three[:, 0] * offset[:, 1] - along_three[:, 1] * offset[:, 0]) / determinant
    return ops.mod(ops.arctan2(across, -down) / (2 * np.pi), 1.0)


def _polar_cross_entropy(y_true, y_pred, points, spread=1.0):
    """Summed cross-entropy of ``len(points)`` polar angle heads against soft targets:
    where the true keypoints ``points`` (indices into ``y_true``) fall in the predicted
    frame packed after the logits in ``y_pred``."""
    ops = keras.ops
    heads = len(points)
    angles = (y_pred.shape[-1] - 6) // heads
    logits = ops.reshape(y_pred[:, : heads * angles], (-1, heads, angles))
    frame = ops.reshape(y_pred[:, heads * angles:], (-1, 3, 2))
    known = ops.all(ops.isfinite(ops.reshape(y_true, (-1, 10))), axis=-1)
    truth = ops.where(ops.isfinite(y_true), y_true, 0.0)
    turns = ops.stack([_angle_in_frame(frame, truth[:, index]) for index in points], axis=1)
    return ops.where(known, ops.sum(_angle_cross_entropy(logits, turns, spread), axis=-1), 0.0)


def _angle_cross_entropy(logits, turns, spread):
    """Cross-entropy of angle logits (..., angles) against a von Mises bump ``spread``
    bins wide at ``turns`` (...), fractions of a turn (the same bump as
    :func:`angle_distribution`)."""
    ops = keras.ops
    angles = logits.shape[-1]
    centres = 2 * np.pi * (ops.arange(angles, dtype="float32") + 0.5) / angles
    concentration = 1.0 / (2 * np.pi * spread / angles) ** 2
    targets = ops.softmax(concentration * ops.cos(centres - 2 * np.pi * turns[..., None]), axis=-1)
    return -ops.sum(targets * ops.log_softmax(logits, axis=-1), axis=-1)


def _twelve_turn(points):
    """Where the 12 is, clockwise from the top of the image as a fraction of a turn,
    from keypoints (N, P, 2) (pivot first, then the rim at 12; y down)."""
    towards = points[:, 1, :] - points[:, 0, :]
    return keras.ops.arctan2(towards[:, 0], -towards[:, 1]) / (2 * np.pi)


def _quarter_of_points(points):
    """:func:`quarter_of` in graph ops: how many clockwise quarter turns (0-3,
    nearest) the 12 is from the top, from keypoints (N, P, 2)."""
    import tensorflow as tf

    return tf.math.floormod(tf.cast(tf.round(_twelve_turn(points) * 4), tf.int32), 4)


POLAR_HEADS = (("hour", 3), ("minute", 4), ("twelve", 1), ("three", 2))
"""The polar reader's heads, in output order, and the keypoint (index into
:data:`zoo.clockface.GEOMETRY_POINTS`) each one finds; without ``three_head`` the
first three."""


@keras.saving.register_keras_serializable(package="zoo")
def polar_reading_loss(y_true, y_pred, spread=1.0):
    """Cross-entropy of the polar reader's three angle heads against soft targets
    computed in the frame the reader actually sampled in.

    ``y_pred`` packs the (3, angles) head logits (hour hand, minute hand, 12 mark) and
    the predicted frame (3, 2); ``y_true`` holds the true keypoints (5, 2). The targets
    are where the true 12 mark and hand tips fall in the *predicted* frame, so a
    localiser error becomes something the 12 head learns to measure and correct,
    not label noise. Clocks without keypoints (NaN) contribute nothing.
    """
    return _polar_cross_entropy(y_true, y_pred, [point for _, point in POLAR_HEADS[:3]], spread)


@keras.saving.register_keras_serializable(package="zoo")
def polar_reading_loss_with_three(y_true, y_pred, spread=1.0):
    """:func:`polar_reading_loss` with a fourth head, the 3 o'clock mark, which lets
    :class:`DialAngle` undo the frame's shear."""
    return _polar_cross_entropy(y_true, y_pred, [point for _, point in POLAR_HEADS], spread)


@keras.saving.register_keras_serializable(package="zoo")
class TeacherFrame(keras.layers.Layer):
    """The frame the polar reader samples in while training with teacher forcing: the
    true frame (pivot, 12 and 3 o'clock rim points) where the pipeline gave one, the
    localiser's elsewhere. Outside training, and for NaN hints, the localiser's."""

    def call(self, inputs, training=None):
        frame, hint = inputs
        if not training:
            return frame
        return keras.ops.stop_gradient(keras.ops.where(keras.ops.isfinite(hint), hint, frame))

    def compute_output_shape(self, input_shapes):
        return input_shapes[0]


class Trainer:
    """What :func:`zoo.training.train` fits instead of a model that carries one:
    ``model`` shares every weight with the model that is saved and served, and takes
    extra training-only inputs (a plain object, so that Keras does not track it)."""

    def __init__(self, model):
        self.model = model


# Layers that compute geometry (keypoints, frames, sampling grids, angles) or the
# heads' scores stay in float32 when the network around them trains in mixed
# precision (``zoo train --precision mixed_bfloat16``): a pixel coordinate near 100
# is only good to half a pixel in bfloat16.
EXACT = dict(dtype="float32")


def clock_polar(name, image_size=128, width=24, radii=16, angles=120, polar_width=16, keypoint_weight=20.0,
                learning_rate=2e-3, weight_decay=1e-4, three_head=True, fine_heatmaps=False, teacher_forcing=0.0,
                decode_window=3, localiser_size=64, head_norm=True, rim_angles=0, rim_prior=False,
                rim_with_strip=False, three_tolerance=20.0, mark_context=True, strip_prior=True,
                prior_gate=True):
    """A two-stage geometric reader: find the dial, unroll it, read the hands.

    A localiser CNN on a view of at most ``localiser_size`` pixels square (64) finds five keypoints (pivot, the rim at 12 and
    at 3 o'clock, the two hand tips) as soft-argmax heatmaps, taught by the
    renderer's geometry. The
    first three define the dial's affine frame; :class:`PolarSampler` unrolls the
    full-resolution image in that frame into a (radius x angle) strip where 12 is
    always column 0 and every hand is a bar at its angle, whatever the clock's
    rotation, size, position or tilt. A small convolutional network with circular
    padding along the angle axis then scores every angle for the hour and the minute
    hand (the same filters at every angle: a hand at 3 looks like a hand at 9), and
    :class:`CircularMean` turns each score distribution into the hand's (sin, cos).

    Two further heads find the 12 and (with ``three_head``) the 3 o'clock mark in the
    strip; each hand's dial angle is read against them (:class:`DialAngle`), which
    undoes the rotation and the shear of an imprecise frame. ``fine_heatmaps`` puts
    the localiser's heatmaps at half the view's resolution instead of a quarter.

    ``teacher_forcing`` > 0 attaches a :class:`Trainer` whose polar reader samples in
    the *true* frame (a ``frame_hint`` input, :class:`TeacherFrame`) for a share of
    the training clocks that falls from all to none over the first
    ``teacher_forcing`` of the epochs (the pipeline draws it, :class:`EpochSchedule`),
    so the reader learns while the localiser is still poor instead of waiting for it.
    The saved model is the image-only reader either way.

    ``rim_angles`` > 0 gives the 12 and 3 heads a strip of their own: the dial's outer
    ring only (radius 0.3 to 1.05, where numerals, a 12 marker and brand text sit)
    sampled at ``rim_angles`` angles (a multiple of ``angles``), so a numeral a few
    pixels wide is not averaged away by the hands' coarser strip before the heads
    tell a 12 from an 11. 0 (the default) reads the marks from the hands' strip.
    With ``rim_prior`` the rim strip is not told each column's angle: its network is
    then blind to where column 0 is (circular convolutions shift with the strip), so
    it must find a 12 by what it looks like, wherever the localiser's frame put it,
    and a learned score per angle (:class:`AnglePrior`) added to its scores carries
    "12 is where the localiser put it" for dials that show no 12.
    ``rim_with_strip`` keeps the hands' strip's own 12 and 3 heads (which know the
    angle) and adds the rim strip's scores to theirs.

    ``strip_prior`` makes the hands' strip blind to the angle in the same way (no
    :class:`AngleChannels`; its scores shift with a turned strip) and adds a learned
    score per angle (:class:`AnglePrior`) to its heads' scores instead: the 12 head
    must then find a 12 by what it looks like, and the prior alone carries "12 is
    where the localiser put it". On by default (runs saved before it load as told):
    at the demo's settings it read 24.7 minutes against 30.3 (turned clocks 81
    against 163, the 12 found on 73% of them against 33%; upright clocks 16.8
    against 13.7), for no more training. ``prior_gate`` weights that prior per clock
    and head by a gate read from the strip's features averaged over the whole circle
    (:class:`GatedAnglePrior`; the average does not move with a turned strip), so a
    dial whose 12 is plain can lean on the prior less than a blank one. On by default
    (runs saved before it load without it): at the demo's settings it read 20.8 and
    19.9 minutes against 24.7 and 23.1 (seeds 42 and 7; upright clocks 10.9 and 10.3
    against 16.8 and 15.7, turned ones 94 and 88 against 81 and 74), for 260 weights.

    ``three_tolerance`` (degrees; 0 = off) reads the hands against the 12 alone where
    the 3 head's direction is further than that from a quarter turn after the 12's
    (:class:`DialAngle`); decoding only, like ``decode_window``, so a saved run can be
    re-decoded with ``zoo rebuild --hp three_tolerance=...``.

    ``mark_context`` adds to the 12 and 3 heads' scores a learned template over the
    whole circle (a convolution as wide as the circle on the circularly padded head
    features: score(a) = sum over every offset d and channel of w[d] * feature(a + d)),
    so a head can find the 12 from every mark the dial shows at once (the 6 half a turn away, the 3 and 9 a quarter either side,
    the numerals in order) instead of from the 27 degrees around one mark alone. It
    starts at zero (the heads' local scores unchanged) and is applied to every strip
    that scores the marks. On by default (runs saved before it load without it): at
    the demo's settings it took the 12 head from 48% to 66% of turned clocks found
    within 15 degrees and the mean error from 29.1 to 23.4 minutes with the rim strip;
    without the rim strip it read 30.3 (38.7 before, on another machine; README), for
    about 1.2x the training.

    ``head_norm`` batch-normalises the two layers that collapse the radius and
    widen the angle context (``polar_radius``, ``polar_head``) before their ReLUs:
    without it a third of their units could die early in training and the hand
    heads then never locked on (the demo recipe at ``--seed 7``).

    Each head's direction is the mean of its distribution within ``decode_window``
    bins of its peak (:class:`PeakMean`; 0 = the whole distribution,
    :class:`CircularMean`). Decoding is not trained, so a run can be re-decoded
    with another window (``zoo rebuild``).
    """
    inputs, x = _image_input(image_size)

    view = x
    if image_size > localiser_size:
        view = keras.layers.Resizing(localiser_size, localiser_size, interpolation="bilinear", name="localiser_view")(x)
    stem, *stages = _strided_stages(view, width, stem="loc_stem", stage="loc", with_stem=True)
    # Heatmaps at a quarter (or half) of the view's resolution, from every stage: the
    # fine stages say exactly where an edge is, the coarse ones which edge is the 12
    # o'clock rim.
    scale = 2 if fine_heatmaps else 1
    from_coarse = keras.layers.Conv2DTranspose(32, 4 * scale, strides=4 * scale, name="loc_up3")(stages[2])
    from_middle = keras.layers.Conv2DTranspose(32, 2 * scale, strides=2 * scale, name="loc_up2")(stages[1])
    if fine_heatmaps:
        from_fine = keras.layers.Conv2DTranspose(32, 2, strides=2, name="loc_up1")(stages[0])
        merged = keras.layers.Concatenate(name="loc_merge")([from_coarse, from_middle, from_fine, stem])
    else:
        merged = keras.layers.Concatenate(name="loc_merge")([from_coarse, from_middle, stages[0]])
    merged = _conv_bn_relu(merged, 32, 1, "loc_head")
    heatmaps = keras.layers.Conv2D(len(clockface.GEOMETRY_POINTS), 1, name="loc_heatmaps", **EXACT)(merged)
    keypoints = SpatialSoftArgmax(name="keypoints", **EXACT)(heatmaps)
    frame = DialFrame(name="frame", **EXACT)(keypoints)

    # The reader's layers are made once and called on each frame (the served model's
    # and, with teacher forcing, the trainer's), so both graphs share every weight.
    made = {}

    def layer(factory, name, *args, **kwargs):
        if name not in made:
            made[name] = factory(*args, name=name, **kwargs)
        return made[name]

    heads = [head for head, _ in (POLAR_HEADS if three_head else POLAR_HEADS[:3])]
    if rim_angles and rim_angles % angles:
        raise ValueError(f"rim_angles ({rim_angles}) must be a multiple of angles ({angles})")
    # The heads read from the hands' strip; with a rim strip, the marks' heads read from it.
    strip_heads = heads[:2] if rim_angles and not rim_with_strip else heads

    def head_conv(y, name, kernel):
        if not head_norm:
            return layer(keras.layers.Conv2D, name, polar_width * 4, kernel, activation="relu")(y)
        y = layer(keras.layers.Conv2D, name, polar_width * 4, kernel, use_bias=False)(y)
        return layer(keras.layers.ReLU, f"{name}_relu")(layer(keras.layers.BatchNormalization, f"{name}_bn")(y))

    def circular_conv(y, name, filters):
        """3x3 convolution, batch norm and ReLU on a polar map, wrapping round the angle."""
        y = layer(CircularPad, f"{name}_pad", 1)(y)
        y = layer(keras.layers.ZeroPadding2D, f"{name}_rpad", ((1, 1), (0, 0)))(y)
        y = layer(keras.layers.Conv2D, name, filters, 3, use_bias=False)(y)
        return layer(keras.layers.ReLU, f"{name}_relu")(layer(keras.layers.BatchNormalization, f"{name}_bn")(y))

    def angle_scores(y, prefix, count, marks=0):
        """Scores (N, count, angles) from a polar feature map (N, radii // 8, angles, C);
        with ``mark_context``, the last ``marks`` rows (the 12 and 3) also get a
        template over the whole circle."""
        # Collapse the radius axis: a hand's length and width tell hour from minute hand.
        y = head_conv(y, f"{prefix}_radius", (radii // 8, 1))
        y = layer(CircularPad, f"{prefix}_head_pad", 4)(y)
        y = head_conv(y, f"{prefix}_head", (1, 9))
        scores = by_head(layer(keras.layers.Conv2D, f"{prefix}_scores", count, 1, **EXACT)(y), prefix)
        if not (mark_context and marks):
            return scores
        # The features round the whole circle, one learned weight per offset and channel.
        y = layer(CircularPad, f"{prefix}_context_pad", angles // 2)(y)
        context = layer(keras.layers.Conv2D, f"{prefix}_context", marks, (1, 2 * (angles // 2) + 1),
                        kernel_initializer="zeros", use_bias=False, **EXACT)(y)
        return onto_marks(scores, by_head(context, f"{prefix}_context"), f"{prefix}_context_rows",
                          f"{prefix}_with_context")

    def by_head(y, prefix):
        """(N, 1, angles, rows) convolution output as scores (N, rows, angles)."""
        y = layer(keras.layers.Reshape, f"{prefix}_flat", (angles, y.shape[-1]), **EXACT)(y)
        return layer(keras.layers.Permute, f"{prefix}_by_head", (2, 1), **EXACT)(y)

    def onto_marks(scores, marks, pad_name, add_name):
        """``marks`` (N, M, angles) added to the last M rows of ``scores``, below the hands'."""
        rows = scores.shape[1] - marks.shape[1]
        if rows:
            marks = layer(keras.layers.ZeroPadding1D, pad_name, (rows, 0), **EXACT)(marks)
        return layer(keras.layers.Add, add_name, **EXACT)([scores, marks])

    def read_rim(frame):
        """Scores (N, marks, angles) of the 12 (and 3) marks from the rim strip."""
        marks = len(heads) - 2
        rim = layer(PolarSampler, "rim", radii, rim_angles, inner=0.3, **EXACT)(x, frame)
        y = layer(keras.layers.Rescaling, "rim_rescale", 1.0 / 255)(rim)
        if not rim_prior:
            y = layer(AngleChannels, "rim_angle")(y)
        # Full angular resolution for the first layer only (pooled before the next),
        # then the hands' angle bins.
        pools = ((2, rim_angles // angles), (2, 1), (2, 1))
        y = circular_conv(y, "rim1", polar_width)
        for index, (filters, pool) in enumerate(zip((polar_width * 2, polar_width * 2, polar_width * 4), pools),
                                                start=2):
            y = layer(keras.layers.MaxPooling2D, f"rim{index}_pool", pool)(y)
            y = circular_conv(y, f"rim{index}", filters)
        scores = angle_scores(y, "rim", marks, marks)
        return layer(AnglePrior, "rim_prior", **EXACT)(scores) if rim_prior else scores

    def read(frame):
        polar = layer(PolarSampler, "polar", radii, angles, **EXACT)(x, frame)
        # Where column 0 is: a convolution along a circle is blind to it, and "12 is
        # where the localiser put it" is the right guess for dials that carry no 12 mark
        # (told as channels, or with strip_prior as a learned score per angle).
        y = layer(keras.layers.Rescaling, "polar_rescale", 1.0 / 255)(polar)
        if not strip_prior:
            y = layer(AngleChannels, "polar_angle")(y)
        for index, filters in enumerate((polar_width, polar_width * 2, polar_width * 2, polar_width * 4), start=1):
            y = circular_conv(y, f"polar{index}", filters)
            if index > 1:
                y = layer(keras.layers.MaxPooling2D, f"polar{index}_pool", (2, 1))(y)
        scores = angle_scores(y, "polar", len(strip_heads), len(strip_heads) - 2)
        if strip_prior and prior_gate:
            pooled = layer(keras.layers.GlobalAveragePooling2D, "polar_gate_pool", **EXACT)(y)
            gate = layer(keras.layers.Dense, "polar_gate", len(strip_heads), kernel_initializer="zeros",
                         **EXACT)(pooled)
            scores = layer(GatedAnglePrior, "polar_prior", **EXACT)([scores, gate])
        elif strip_prior:
            scores = layer(AnglePrior, "polar_prior", **EXACT)(scores)
        if rim_angles and rim_with_strip:  # the rim's scores added to the marks' rows, below the hands'
            scores = onto_marks(scores, read_rim(frame), "rim_below_hands", "polar_all_scores")
        elif rim_angles:
            scores = layer(keras.layers.Concatenate, "polar_all_scores", axis=1, **EXACT)([scores, read_rim(frame)])
        directions = {}
        for index, head in enumerate(heads):
            logits = layer(TakeRow, f"{head}_logits", index, **EXACT)(scores)
            mean = layer(PeakMean, f"{head}_in_frame", angles, decode_window, **EXACT) if decode_window else \
                layer(CircularMean, f"{head}_in_frame", angles, **EXACT)
            directions[head] = mean(layer(keras.layers.Softmax, f"{head}_bins", **EXACT)(logits))
        if three_head:
            marks = [directions["twelve"], directions["three"]]
            hands = {hand: layer(DialAngle, hand, three_tolerance, **EXACT)([directions[hand], *marks])
                     for hand in ("hour", "minute")}
        else:
            hands = {hand: layer(RelativeAngle, hand, **EXACT)([directions[hand], directions["twelve"]])
                     for hand in ("hour", "minute")}
        return {
            **hands,
            "keypoints": keypoints,
            "polar_training": layer(keras.layers.Concatenate, "polar_training", **EXACT)(
                [layer(keras.layers.Flatten, "polar_scores_flat", **EXACT)(scores),
                 layer(keras.layers.Flatten, "frame_flat", **EXACT)(frame)]),
        }

    # One optimiser for both graphs, so the saved model carries the state it trained with.
    optimizer = blocks.optimizer("adamw", learning_rate, weight_decay=weight_decay)

    def compiled(model):
        model.compile(
            optimizer=optimizer,
            loss={"keypoints": keypoint_distance_loss,
                  "polar_training": polar_reading_loss_with_three if three_head else polar_reading_loss},
            loss_weights={"keypoints": keypoint_weight, "polar_training": 1.0},
        )
        return model

    model = compiled(keras.Model(inputs, read(frame), name=name))
    if teacher_forcing:
        hint = keras.Input(shape=(3, 2), name="frame_hint")
        taught = TeacherFrame(name="teacher_frame", **EXACT)([frame, hint])
        model.zoo_trainer = Trainer(compiled(keras.Model({"image": inputs, "frame_hint": hint}, read(taught),
                                                         name=name)))
    return model


# ----------------------------------------------------------------------------- the upright stage


def quarter_of(geometry):
    """How many clockwise quarter turns the clock's 12 is from the top of the image
    (0-3, nearest), from its keypoints (N, P, 2) (pivot first, then the rim at 12)."""
    towards = geometry[:, 1] - geometry[:, 0]
    degrees = np.degrees(np.arctan2(towards[:, 0], -towards[:, 1]))  # clockwise from up (y down)
    return np.mod(np.round(degrees / 90.0), 4).astype(np.int32)


def turn_quarters(images, quarters):
    """Images (N, H, W[, C]) each turned clockwise by its number of quarter turns."""
    return np.stack([np.rot90(image, -int(quarter)) for image, quarter in zip(images, quarters)])


def turn_clocks(clocks, quarters):
    """A :class:`ClockSet` (square images) with each clock turned clockwise by its
    number of quarter turns, keypoints with it; the labels stay (the dial turns
    with its hands)."""
    quarters = np.mod(np.asarray(quarters), 4)
    size = clocks.images.shape[2]
    geometry = None
    if clocks.geometry is not None:
        geometry = clocks.geometry.copy()
        for turn in range(1, 4):
            chosen = quarters >= turn
            # One clockwise quarter of the image takes pixel point (x, y) to (size - y, x).
            geometry[chosen] = np.stack([size - geometry[chosen][..., 1], geometry[chosen][..., 0]], axis=-1)
    return ClockSet(turn_quarters(clocks.images, quarters), clocks.labels, geometry)


def quarter_prior():
    """Share of rendered clocks in each quarter (0 = 12 within 45 degrees of the top):
    upright and tilted clocks (within 40 degrees) are all in quarter 0, turned ones
    are uniform over the circle."""
    shares = dict(clockface.STYLE_ATTRIBUTES["rotation"])
    prior = np.full(4, shares["rotated"] / 4)
    prior[0] += shares["upright"] + shares["tilted"]
    return prior


@keras.saving.register_keras_serializable(package="zoo")
class QuarterTurn(keras.layers.Layer):
    """Turns each image upright by its most likely quarter turn.

    Takes the image (N, H, W, C), H == W, and an upright stage's logits (N, 4) over
    how many clockwise quarter turns the clock's 12 is from the top. The logits come
    from clocks turned uniformly in training, so ``prior`` (the share of clocks in
    each quarter where they are read) is added as log odds: a dial that says nothing
    about its 12 stays as it is. The image is turned back by the winner through
    exact 90-degree turns (a one-hot mix of the four, built from a max mask: argmax
    lowers to an op ONNX lacks). Returns the turned images and the one-hot choice.
    """

    def __init__(self, prior=(0.25, 0.25, 0.25, 0.25), **kwargs):
        super().__init__(**kwargs)
        self.prior = [float(value) for value in prior]

    def call(self, image, logits):
        ops = keras.ops
        scores = logits + ops.log(ops.convert_to_tensor(np.asarray(self.prior, "float32") * 4.0))[None]
        best = ops.cast(ops.equal(scores, ops.max(scores, axis=1, keepdims=True)), "float32")
        choice = best / ops.sum(best, axis=1, keepdims=True)
        # Undo k clockwise quarters: turn counterclockwise k times (transpose, then flip rows).
        turned, mixed = image, image * choice[:, 0, None, None, None]
        for k in range(1, 4):
            turned = ops.flip(ops.transpose(turned, (0, 2, 1, 3)), axis=1)
            mixed = mixed + turned * choice[:, k, None, None, None]
        return mixed, choice

    def compute_output_shape(self, image_shape, logits_shape=None):
        return image_shape, (image_shape[0], 4)

    def get_config(self):
        return {**super().get_config(), "prior": self.prior}


@keras.saving.register_keras_serializable(package="zoo")
class QuarterTurnBack(keras.layers.Layer):
    """Keypoints (N, P, 2) in [0, 1] (x, y) of an image :class:`QuarterTurn` turned,
    taken back to the image as given."""

    def call(self, points, choice):
        ops = keras.ops
        turned, mixed = points, points * choice[:, 0, None, None]
        for k in range(1, 4):
            # One counterclockwise quarter maps (x, y) to (y, 1 - x); undo one.
            turned = ops.stack([1.0 - turned[..., 1], turned[..., 0]], axis=-1)
            mixed = mixed + turned * choice[:, k, None, None]
        return mixed

    def compute_output_shape(self, points_shape, choice_shape=None):
        return points_shape


@keras.saving.register_keras_serializable(package="zoo")
class UprightFrame(keras.layers.Layer):
    """An image-aligned dial frame from the dial's pivot and radius (N, 3) = (x, y, r):
    the pivot, and rim points straight up and straight right of it. A
    :class:`PolarSampler` in this frame unrolls the dial with column 0 at the top of the
    image, whichever way the clock hangs. No gradient: the dial loss alone teaches
    the localiser."""

    def call(self, dial):
        ops = keras.ops
        dial = ops.stop_gradient(dial)
        centre, reach = dial[:, :2], dial[:, 2]
        zero = ops.zeros_like(reach)
        up = centre + ops.stack([zero, -reach], axis=-1)
        right = centre + ops.stack([reach, zero], axis=-1)
        return ops.stack([centre, up, right], axis=1)

    def compute_output_shape(self, dial_shape):
        return (dial_shape[0], 3, 2)


@keras.saving.register_keras_serializable(package="zoo")
def dial_loss(y_true, y_pred):
    """Distance between the predicted dial (x, y, r) and the true one, from the true
    keypoints (N, 5, 2): the pivot, and the larger of its distances to the 12 and 3
    o'clock rim points. Unlike the rim points themselves, this does not depend on
    knowing which way up the clock is."""
    ops = keras.ops
    centre = y_true[:, 0, :]
    reach = ops.maximum(ops.sqrt(ops.sum(ops.square(y_true[:, 1, :] - centre), axis=-1)),
                        ops.sqrt(ops.sum(ops.square(y_true[:, 2, :] - centre), axis=-1)))
    offset = ops.sqrt(ops.sum(ops.square(y_pred[:, :2] - centre), axis=-1) + 1e-8)
    return offset + ops.abs(y_pred[:, 2] - reach)


@keras.saving.register_keras_serializable(package="zoo")
class QuarterOfAngle(keras.layers.Layer):
    """Log-probabilities (N, 4) of the four quarters from logits over ``angles`` angle
    bins (clockwise from the top): quarter k holds the bins within 45 degrees of k
    quarter turns."""

    def __init__(self, angles, **kwargs):
        super().__init__(**kwargs)
        self.angles = angles
        centres = (np.arange(angles) + 0.5) / angles
        self.sectors = np.eye(4, dtype="float32")[np.mod(np.round(centres * 4).astype(int), 4)]

    def call(self, logits):
        ops = keras.ops
        shares = ops.matmul(ops.softmax(logits, axis=-1), ops.convert_to_tensor(self.sectors))
        return ops.log(shares + 1e-7)

    def compute_output_shape(self, logits_shape):
        return (logits_shape[0], 4)

    def get_config(self):
        return {**super().get_config(), "angles": self.angles}


@keras.saving.register_keras_serializable(package="zoo")
def twelve_angle_loss(y_true, y_pred, spread=2.0):
    """Cross-entropy of the upright stage's angle logits (N, angles) against a soft
    bump at the true 12 o'clock direction, clockwise from the top of the image, taken
    from the true keypoints ``y_true`` (N, 5, 2)."""
    return _angle_cross_entropy(y_pred, _twelve_turn(y_true), spread)


def _polar_upright(x, width, radii, angles):
    """The polar upright stage's outputs: a localiser finds the pivot and the rim, the
    dial is unrolled with column 0 at the top of the image, and a circular network
    scores every column as the 12's direction (the same filters at every angle: a
    12 at the top and one at the right look alike once unrolled)."""
    view = keras.layers.Resizing(64, 64, interpolation="bilinear", name="up_view")(x) if x.shape[1] > 64 else x
    stem, *stages = _strided_stages(view, width, stem="up_stem", stage="up_loc", with_stem=True)
    merged = keras.layers.Concatenate(name="up_merge")([
        keras.layers.Conv2DTranspose(16, 4, strides=4, name="up_up3")(stages[2]),
        keras.layers.Conv2DTranspose(16, 2, strides=2, name="up_up2")(stages[1]),
        stages[0],
    ])
    merged = _conv_bn_relu(merged, 16, 1, "up_head")
    pivot = keras.layers.Reshape((2,), name="up_pivot")(
        SpatialSoftArgmax(name="up_pivot_point")(keras.layers.Conv2D(1, 1, name="up_heatmap")(merged)))
    radius = keras.layers.Dense(1, activation="sigmoid", name="up_radius")(
        keras.layers.GlobalAveragePooling2D(name="up_radius_pool")(stages[2]))
    dial = keras.layers.Concatenate(name="dial")([pivot, radius])
    polar = PolarSampler(radii, angles, reach=1.1, name="up_polar")(x, UprightFrame(name="up_frame")(dial))
    y = keras.layers.Rescaling(1.0 / 255, name="up_polar_rescale")(polar)
    for index, filters in enumerate((width, width * 2, width * 2, width * 4), start=1):
        y = CircularPad(1, name=f"up_polar{index}_pad")(y)
        y = keras.layers.ZeroPadding2D(((1, 1), (0, 0)), name=f"up_polar{index}_rpad")(y)
        y = keras.layers.Conv2D(filters, 3, use_bias=False, name=f"up_polar{index}")(y)
        y = keras.layers.ReLU(name=f"up_polar{index}_relu")(keras.layers.BatchNormalization(name=f"up_polar{index}_bn")(y))
        if index > 1:
            y = keras.layers.MaxPooling2D((2, 1), name=f"up_polar{index}_pool")(y)
    y = keras.layers.Conv2D(width * 4, (radii // 8, 1), activation="relu", name="up_polar_radius")(y)
    y = CircularPad(4, name="up_polar_head_pad")(y)
    y = keras.layers.Conv2D(width * 4, (1, 9), activation="relu", name="up_polar_head")(y)
    twelve = keras.layers.Reshape((angles,), name="twelve")(keras.layers.Conv2D(1, 1, name="up_polar_scores")(y))
    return {"quarter": QuarterOfAngle(angles, name="quarter")(twelve), "twelve": twelve, "dial": dial}


def clock_upright(name, image_size=128, width=16, dense_units=128, dropout_rate=0.3, learning_rate=2e-3,
                  weight_decay=1e-4, pooling="both", design="cnn", radii=16, angles=120, keypoint_weight=20.0):
    """Which way up is the clock: logits over how many clockwise quarter turns its 12
    is from the top of the image (``quarter``, 0-3).

    Trained on rendered clocks each turned by a random number of quarters, so every
    orientation is as common as the upright one; :func:`with_upright` puts it in front
    of a reader (``zoo upright``), which then sees clocks within 45 degrees of
    upright. Five stride-2 stages of two 3x3 convolutions, then a dense layer over
    the whole 4x4 map (``pooling="flatten"``: where on the dial a numeral or mark
    sits), the last two maps averaged (``"average"``: upright text looks upright
    anywhere), or both (the default).

    ``design="polar"`` instead finds the dial first (its pivot and radius, ``dial``,
    taught with ``keypoint_weight``), unrolls it with column 0 at the top of the image
    (:class:`UprightFrame`, :class:`PolarSampler`, ``radii`` x ``angles``) and scores
    every column as the 12's direction with circular convolutions (``twelve``, taught
    against the true direction); ``quarter`` sums those scores over each quarter. The
    network is the same at every angle, so a 12 mark seen at the top is known at the
    side.
    """
    inputs, x = _image_input(image_size)
    optimizer = blocks.optimizer("adamw", learning_rate, weight_decay=weight_decay)
    quarter_loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    if design == "polar":
        model = keras.Model(inputs, _polar_upright(x, width, radii, angles), name=name)
        model.compile(optimizer=optimizer,
                      loss={"quarter": quarter_loss, "twelve": twelve_angle_loss, "dial": dial_loss},
                      loss_weights={"quarter": 1.0, "twelve": 1.0, "dial": keypoint_weight},
                      metrics={"quarter": ["accuracy"]})
        return model
    if design != "cnn":
        raise errors.HyperparameterError(f"design must be cnn or polar, got {design!r}")
    maps = []
    for index, filters in enumerate((width, width * 2, width * 3, width * 4, width * 6), start=1):
        x = _conv_bn_relu(x, filters, 2, f"up{index}a")
        x = _conv_bn_relu(x, filters, 1, f"up{index}b")
        maps.append(x)
    features = []
    if pooling in ("flatten", "both"):
        features.append(keras.layers.Flatten(name="up_flat")(x))
    if pooling in ("average", "both"):
        # Upright text and marks look upright wherever they are on the dial.
        features += [keras.layers.GlobalAveragePooling2D(name=f"up_pool{index}")(maps[index - 1]) for index in (4, 5)]
    x = features[0] if len(features) == 1 else keras.layers.Concatenate(name="up_features")(features)
    x = keras.layers.Dropout(dropout_rate, name="up_drop")(x)
    x = keras.layers.Dense(dense_units, activation="relu", name="up_dense")(x)
    logits = keras.layers.Dense(4, name="quarter")(x)
    model = keras.Model(inputs, {"quarter": logits}, name=name)
    model.compile(optimizer=optimizer, loss={"quarter": quarter_loss}, metrics={"quarter": ["accuracy"]})
    return model


def upright_data(entry, config, path=None, seed=42, limit=None):
    """Rendered clocks (they carry their keypoints, hence their quarter), turned by
    random quarters: afresh each epoch for training, by a fixed draw for validation
    and test."""
    import tensorflow as tf

    if path is not None:
        raise errors.DataError("clock_upright learns from rendered clocks (their keypoints give the 12); "
                               "drop --data")
    splits, source = load_clocks(config, None, seed, limit)
    batch_size = config["batch_size"]

    located = config.get("design") == "polar"  # it also learns the dial and the 12's angle

    def targets(quarters, points):
        return {"quarter": quarters, **({"twelve": points, "dial": points} if located else {})}

    def turned(clocks, draw_seed):
        quarters = np.random.default_rng(draw_seed).integers(0, 4, len(clocks.images))
        clocks = turn_clocks(clocks, quarters)
        points = (clocks.geometry / config["image_size"]).astype(np.float32)
        return clocks.images, targets(quarter_of(clocks.geometry), points)

    def turn(image, points):
        k = tf.random.uniform([], 0, 4, dtype=tf.int32)
        angle = tf.cast(k, tf.float32) * (np.pi / 2)
        cosine, sine = tf.round(tf.cos(angle))[None], tf.round(tf.sin(angle))[None]
        # k clockwise quarters about the image centre (y down).
        turned = _turn_points((points - 0.5)[None], cosine, sine)[0] + 0.5
        return tf.image.rot90(tf.cast(image, tf.float32), k=(4 - k) % 4), turned

    def labelled(images, points):
        if config.get("rotate_augment"):
            # Some clocks also turned by any angle: the quarter boundaries, at 45 degrees,
            # are where the turned clocks a reader meets often lie.
            images, moved = rotate_batch(images, {"keypoints": points}, config["rotate_augment"])
            points = moved["keypoints"]
        quarters = _quarter_of_points(points)
        return images, targets(quarters, points)

    train = splits["train"]
    points = (train.geometry / config["image_size"]).astype(np.float32)
    dataset = tf.data.Dataset.from_tensor_slices((train.images[..., None], points)).cache()
    dataset = dataset.shuffle(len(train.images), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.map(turn, num_parallel_calls=tf.data.AUTOTUNE)
    dataset = dataset.batch(batch_size, drop_remainder=len(train.images) >= batch_size)
    dataset = dataset.map(labelled, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)

    def fixed(split, draw_seed):
        images, labels = turned(splits[split], draw_seed)
        pairs = (images[..., None].astype(np.float32), labels)
        return tf.data.Dataset.from_tensor_slices(pairs).batch(batch_size).prefetch(tf.data.AUTOTUNE)

    test = splits["test"]
    return datasets.Splits(
        train=dataset,
        val=fixed("val", seed + 1),
        test=fixed("test", TEST_SEED),
        steps_per_epoch=max(1, len(train.images) // batch_size),
        info={"source": source, "train": int(len(train.images)), "val": int(len(splits["val"].images)),
              "test": int(len(test.images)), "image_size": config["image_size"], "test_seed": TEST_SEED,
              "exclude_styles": list(config.get("exclude_styles", ()))},
        test_arrays=(test.images, test.labels, test.geometry),
    )


def evaluate_upright(model, splits, config):
    """Quarter accuracy on the test clocks turned at random; and, as a reader's front
    stage (with the rendered quarter prior), how often the clocks as rendered are
    turned the right way: all of them, the ones in quarter 0, and the others."""
    images, _, geometry = splits.test_arrays
    quarters = quarter_of(geometry)
    turns = np.random.default_rng(TEST_SEED).integers(0, 4, len(images))
    logits = model.predict(turn_quarters(images, turns)[..., None].astype("float32"), batch_size=256, verbose=0)["quarter"]
    natural = model.predict(images[..., None].astype("float32"), batch_size=256, verbose=0)["quarter"]
    chosen = np.argmax(natural + np.log(quarter_prior() * 4.0)[None], axis=1)
    right = chosen == quarters
    return {
        "test_quarter_accuracy": float(np.mean(np.argmax(logits, axis=1) == (quarters + turns) % 4)),
        "test_upright_accuracy": float(np.mean(right)),
        "test_upright_accuracy_quarter0": float(np.mean(right[quarters == 0])),
        "test_upright_accuracy_turned": float(np.mean(right[quarters != 0])) if np.any(quarters != 0) else None,
    }


def describe_upright(entry, config):
    return {"kind": "clock_upright", "output": "quarter", "meaning": "logits over clockwise quarter turns of the 12",
            **IMAGE_FACTS}


def with_upright(reader, upright, prior_weight=1.0):
    """A reader with an upright stage in front: ``upright`` (a :func:`clock_upright`
    model, or a list of them whose quarter log-probabilities are averaged) picks the
    quarter turn, :class:`QuarterTurn` turns the image upright, ``reader`` reads it;
    keypoints come back in the given image's coordinates. The result keeps the
    reader's name, inputs and outputs, so it decodes, exports and serves as the
    reader does.

    ``prior_weight`` scales the rendered quarter prior's log odds (1: as it is; less
    trusts the stages more, for stages whose probabilities are not sharp enough)."""
    stages = list(upright) if isinstance(upright, (list, tuple)) else [upright]
    size = reader.inputs[0].shape[1]
    inputs = keras.Input(shape=(size, size, 1), name="image")
    views, votes = {}, []
    for index, stage in enumerate(stages):
        side = stage.inputs[0].shape[1]
        if side not in views:
            views[side] = inputs if side == size else keras.layers.Resizing(
                side, side, name="upright_view" if not views else f"upright_view_{side}")(inputs)
        if len(stages) > 1:  # nested models need names of their own
            given = keras.Input(shape=stage.inputs[0].shape[1:], name="image")
            stage = keras.Model(given, stage(given), name=f"{stage.name}_{index}")
        votes.append(stage(views[side])["quarter"])
    if len(votes) == 1:
        logits = votes[0]
    else:
        # Each stage's say as log-probabilities, so no stage outvotes the others by scale.
        logits = keras.layers.Average(name="upright_votes")(
            [keras.layers.Activation("log_softmax", name=f"upright_vote{index}")(vote) for index, vote in enumerate(votes)])
    tempered = (quarter_prior() * 4.0) ** float(prior_weight) / 4.0  # QuarterTurn adds log(4 * prior)
    turned, choice = QuarterTurn(prior=tempered, name="quarter_turn")(inputs, logits)
    outputs = dict(reader(turned))
    if "keypoints" in outputs:
        outputs["keypoints"] = QuarterTurnBack(name="keypoints_back")(outputs["keypoints"], choice)
    return keras.Model(inputs, outputs, name=reader.name)


CLOCK_FIT = dict(train_count=40000, val_count=2000, test_count=2000, exclude_styles=(), rotate_augment=0.0,
                 rotate_augment_from=0)


def _register_all():
    common = dict(task="clock", dataset="clocks", data=clock_data, evaluate=evaluate_clock, describe=describe_clock)
    registry.register(
        defaults=dict(image_size=64, bins=192, learning_rate=1e-3, label_smoothing=0.0),
        fit=dict(epochs=20, batch_size=256, **CLOCK_FIT),
        space=lambda hp: dict(bins=hp.Choice("bins", [24, 48, 96, 192, 360, 720])),
        signature=registry.Signature(outputs=("probabilities",)),
        tiny=dict(image_size=48, bins=24, train_count=64),
        **common,
    )(clock_classifier)
    registry.register(
        defaults=dict(image_size=64, loss="mse", learning_rate=1e-3),
        fit=dict(epochs=20, batch_size=256, **CLOCK_FIT),
        space=lambda hp: dict(loss=hp.Choice("loss", ["mae", "mse"])),
        signature=registry.Signature(outputs=("time",)),
        tiny=dict(image_size=48, train_count=64),
        **common,
    )(clock_regressor)
    registry.register(
        defaults=dict(image_size=64, learning_rate=1e-3, minute_weight=1.0),
        fit=dict(epochs=20, batch_size=256, **CLOCK_FIT),
        space=lambda hp: dict(minute_weight=hp.Choice("minute_weight", [0.5, 1.0, 4.0])),
        signature=registry.Signature(outputs=("hour", "minute")),
        tiny=dict(image_size=48, train_count=64),
        **common,
    )(clock_multihead)
    registry.register(
        defaults=dict(image_size=96, width=24, dense_units=256, dropout_rate=0.2, angle_bins=60,
                      keypoint_weight=10.0, learning_rate=2e-3, weight_decay=1e-4),
        fit=dict(epochs=15, batch_size=128, schedule="onecycle", **CLOCK_FIT),
        space=lambda hp: dict(
            width=hp.Choice("width", [16, 24, 32]),
            learning_rate=hp.Float("learning_rate", 5e-4, 5e-3, sampling="log"),
        ),
        signature=registry.Signature(outputs=("hour", "minute", "hour_bins", "minute_bins", "keypoints")),
        tiny=dict(image_size=32, width=8, dense_units=16, train_count=64),
        **common,
    )(clock_hands)
    registry.register(
        defaults=dict(image_size=128, width=24, radii=16, angles=120, polar_width=16, keypoint_weight=20.0,
                      learning_rate=2e-3, weight_decay=1e-4, three_head=True, fine_heatmaps=False,
                      teacher_forcing=0.0, decode_window=3, localiser_size=64, head_norm=True, rim_angles=0,
                      rim_prior=False, rim_with_strip=False, three_tolerance=20.0, mark_context=True,
                      strip_prior=True, prior_gate=True),
        fit=dict(epochs=12, batch_size=128, schedule="onecycle", teacher_turn=0.0, turn_upright=False, quarter_frame=False,
                 **CLOCK_FIT),
        space=lambda hp: dict(
            polar_width=hp.Choice("polar_width", [8, 16, 24]),
            keypoint_weight=hp.Choice("keypoint_weight", [5.0, 20.0, 50.0]),
        ),
        # Its hand directions are unit (sin, cos) pairs whose logits sum thousands of float32
        # terms (mark_context: 121 x 64 per score), so Keras and onnxruntime differ by up to
        # ~2e-4 on a trained reader (a rim-strip reader at demo settings: 1 of 500 test clocks
        # above 1e-4; decoded times within 7e-5 min). 5e-4 is 0.03 degrees, still far below any conversion fault.
        signature=registry.Signature(outputs=("hour", "minute", "keypoints"), tolerance=5e-4),
        tiny=dict(image_size=64, width=8, polar_width=4, train_count=64),
        # Runs saved before these settings were added (and on by default).
        earlier=dict(head_norm=False, three_tolerance=0.0, mark_context=False, strip_prior=False, prior_gate=False),
        **common,
    )(clock_polar)
    registry.register(
        task="clock", dataset="clocks", data=upright_data, evaluate=evaluate_upright, describe=describe_upright,
        defaults=dict(image_size=128, width=16, dense_units=128, dropout_rate=0.3, learning_rate=2e-3,
                      weight_decay=1e-4, pooling="both", design="cnn", radii=16, angles=120, keypoint_weight=20.0),
        fit=dict(epochs=16, batch_size=128, schedule="onecycle", train_count=30000, val_count=2000, test_count=2000,
                 exclude_styles=(), rotate_augment=0.0),
        space=lambda hp: dict(width=hp.Choice("width", [12, 16, 24])),
        signature=registry.Signature(outputs=("quarter",)),
        tiny=dict(image_size=64, width=4, dense_units=8, train_count=64),
    )(clock_upright)


_register_all()
