"""The upright stage: which way up a clock is, and turning it upright in front of a reader.

A reader reads clocks within 45 degrees of upright best; ``clock_upright`` says how
many quarter turns a clock's 12 is from the top, and :func:`with_upright` composes one
or several such stages (voting) with a reader into one model that exports and serves
as the reader does.
"""

import json
import os
import pathlib
import time

import keras
import numpy as np

from zoo import blocks, datasets, errors
from zoo.clocks import clockface, data, layers, losses
from zoo.clocks.backbone import conv_bn_relu, image_input, strided_stages

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
    return data.ClockSet(turn_quarters(clocks.images, quarters), clocks.labels, geometry)


def quarter_prior():
    """Share of rendered clocks in each quarter (0 = 12 within 45 degrees of the top):
    upright and tilted clocks (within 40 degrees) are all in quarter 0, turned ones
    are uniform over the circle."""
    shares = dict(clockface.STYLE_ATTRIBUTES["rotation"])
    prior = np.full(4, shares["rotated"] / 4)
    prior[0] += shares["upright"] + shares["tilted"]
    return prior


def _polar_upright(x, width, radii, angles):
    """The polar upright stage's outputs: a localiser finds the pivot and the rim, the
    dial is unrolled with column 0 at the top of the image, and a circular network
    scores every column as the 12's direction (the same filters at every angle: a
    12 at the top and one at the right look alike once unrolled)."""
    view = keras.layers.Resizing(64, 64, interpolation="bilinear", name="up_view")(x) if x.shape[1] > 64 else x
    stem, *stages = strided_stages(view, width, stem="up_stem", stage="up_loc", with_stem=True)
    merged = keras.layers.Concatenate(name="up_merge")([
        keras.layers.Conv2DTranspose(16, 4, strides=4, name="up_up3")(stages[2]),
        keras.layers.Conv2DTranspose(16, 2, strides=2, name="up_up2")(stages[1]),
        stages[0],
    ])
    merged = conv_bn_relu(merged, 16, 1, "up_head")
    pivot = keras.layers.Reshape((2,), name="up_pivot")(
        layers.SpatialSoftArgmax(name="up_pivot_point")(keras.layers.Conv2D(1, 1, name="up_heatmap")(merged)))
    radius = keras.layers.Dense(1, activation="sigmoid", name="up_radius")(
        keras.layers.GlobalAveragePooling2D(name="up_radius_pool")(stages[2]))
    dial = keras.layers.Concatenate(name="dial")([pivot, radius])
    polar = layers.PolarSampler(radii, angles, reach=1.1, name="up_polar")(
        x, layers.UprightFrame(name="up_frame")(dial))
    y = keras.layers.Rescaling(1.0 / 255, name="up_polar_rescale")(polar)
    for index, filters in enumerate((width, width * 2, width * 2, width * 4), start=1):
        y = layers.CircularPad(1, name=f"up_polar{index}_pad")(y)
        y = keras.layers.ZeroPadding2D(((1, 1), (0, 0)), name=f"up_polar{index}_rpad")(y)
        y = keras.layers.Conv2D(filters, 3, use_bias=False, name=f"up_polar{index}")(y)
        y = keras.layers.ReLU(name=f"up_polar{index}_relu")(
            keras.layers.BatchNormalization(name=f"up_polar{index}_bn")(y))
        if index > 1:
            y = keras.layers.MaxPooling2D((2, 1), name=f"up_polar{index}_pool")(y)
    y = keras.layers.Conv2D(width * 4, (radii // 8, 1), activation="relu", name="up_polar_radius")(y)
    y = layers.CircularPad(4, name="up_polar_head_pad")(y)
    y = keras.layers.Conv2D(width * 4, (1, 9), activation="relu", name="up_polar_head")(y)
    twelve = keras.layers.Reshape((angles,), name="twelve")(keras.layers.Conv2D(1, 1, name="up_polar_scores")(y))
    return {"quarter": layers.QuarterOfAngle(angles, name="quarter")(twelve), "twelve": twelve, "dial": dial}


def clock_upright(name, image_size=128, width=16, dense_units=128, dropout_rate=0.3, learning_rate=2e-3,
                  weight_decay=1e-4, design="cnn", radii=16, angles=120, keypoint_weight=20.0):
    """Which way up is the clock: logits over how many clockwise quarter turns its 12
    is from the top of the image (``quarter``, 0-3).

    Trained on rendered clocks each turned by a random number of quarters, so every
    orientation is as common as the upright one; :func:`with_upright` puts it in front
    of a reader (``zoo upright``), which then sees clocks within 45 degrees of upright.

    Args:
        design: ``"cnn"``: five stride-2 stages of two 3x3 convolutions, then a dense
            layer over the last map flattened (where on the dial a numeral sits) and
            the last two maps averaged (upright text looks upright anywhere).
            ``"polar"``: find the dial first (pivot and radius, ``dial``, taught with
            ``keypoint_weight``), unroll it with column 0 at the top of the image
            (``radii`` x ``angles``) and score every column as the 12's direction with
            circular convolutions (``twelve``); ``quarter`` sums those scores per
            quarter. The same network at every angle, so a 12 seen at the top is
            known at the side.
        width, dense_units, dropout_rate: the CNN's size; ``width`` also the polar design's.
        learning_rate, weight_decay: AdamW's.
    """
    inputs, x = image_input(image_size)
    optimizer = blocks.optimizer("adamw", learning_rate, weight_decay=weight_decay)
    quarter_loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    if design == "polar":
        model = keras.Model(inputs, _polar_upright(x, width, radii, angles), name=name)
        model.compile(optimizer=optimizer,
                      loss={"quarter": quarter_loss, "twelve": losses.twelve_angle_loss, "dial": losses.dial_loss},
                      loss_weights={"quarter": 1.0, "twelve": 1.0, "dial": keypoint_weight},
                      metrics={"quarter": ["accuracy"]})
        return model
    if design != "cnn":
        raise errors.HyperparameterError(f"design must be cnn or polar, got {design!r}")
    maps = []
    for index, filters in enumerate((width, width * 2, width * 3, width * 4, width * 6), start=1):
        x = conv_bn_relu(x, filters, 2, f"up{index}a")
        x = conv_bn_relu(x, filters, 1, f"up{index}b")
        maps.append(x)
    features = [keras.layers.Flatten(name="up_flat")(x)]
    features += [keras.layers.GlobalAveragePooling2D(name=f"up_pool{index}")(maps[index - 1]) for index in (4, 5)]
    x = keras.layers.Concatenate(name="up_features")(features)
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
    splits, source = data.load_clocks(config, None, seed, limit)
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
        turned = data.turn_points((points - 0.5)[None], cosine, sine)[0] + 0.5
        return tf.image.rot90(tf.cast(image, tf.float32), k=(4 - k) % 4), turned

    def labelled(images, points):
        if config.get("rotate_augment"):
            # Some clocks also turned by any angle: the quarter boundaries, at 45 degrees,
            # are where the turned clocks a reader meets often lie.
            images, moved = data.rotate_batch(images, {"keypoints": points}, config["rotate_augment"])
            points = moved["keypoints"]
        quarters = losses.quarter_of_points(points)
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
        test=fixed("test", data.TEST_SEED),
        steps_per_epoch=max(1, len(train.images) // batch_size),
        info={"source": source, "train": int(len(train.images)), "val": int(len(splits["val"].images)),
              "test": int(len(test.images)), "image_size": config["image_size"], "test_seed": data.TEST_SEED,
              "exclude_styles": list(config.get("exclude_styles", ())),
              **({"scenes": config["scenes"]} if config.get("scenes", "classic") != "classic" else {})},
        test_arrays=(test.images, test.labels, test.geometry),
    )


def evaluate_upright(model, splits, config):
    """Quarter accuracy on the test clocks turned at random; and, as a reader's front
    stage (with the rendered quarter prior), how often the clocks as rendered are
    turned the right way: all of them, the ones in quarter 0, and the others."""
    images, _, geometry = splits.test_arrays
    quarters = quarter_of(geometry)
    turns = np.random.default_rng(data.TEST_SEED).integers(0, 4, len(images))
    logits = model.predict(turn_quarters(images, turns)[..., None].astype("float32"), batch_size=256,
                           verbose=0)["quarter"]
    natural = model.predict(images[..., None].astype("float32"), batch_size=256, verbose=0)["quarter"]
    chosen = np.argmax(natural + np.log(quarter_prior() * 4.0)[None], axis=1)
    right = chosen == quarters
    return {
        "test_quarter_accuracy": float(np.mean(np.argmax(logits, axis=1) == (quarters + turns) % 4)),
        "test_upright_accuracy": float(np.mean(right)),
        "test_upright_accuracy_quarter0": float(np.mean(right[quarters == 0])),
        "test_upright_accuracy_turned": float(np.mean(right[quarters != 0])) if np.any(quarters != 0) else None,
    }


def reads_time(name):
    """Whether the entry ``name`` is a clock reader: a clock entry other than an upright
    stage (``clock_upright`` is a clock entry that does not read the time)."""
    from zoo import registry

    return name in registry.names() and registry.get(name).task == "clock" and \
        registry.get(name).describe is not describe_upright


def describe_upright(entry, config):
    return {"kind": "clock_upright", "output": "quarter", "meaning": "logits over clockwise quarter turns of the 12",
            **data.IMAGE_FACTS}


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
            [keras.layers.Activation("log_softmax", name=f"upright_vote{index}")(vote)
             for index, vote in enumerate(votes)])
    tempered = (quarter_prior() * 4.0) ** float(prior_weight) / 4.0  # QuarterTurn adds log(4 * prior)
    turned, choice = layers.QuarterTurn(prior=tempered, name="quarter_turn")(inputs, logits)
    outputs = dict(reader(turned))
    if "keypoints" in outputs:
        outputs["keypoints"] = layers.QuarterTurnBack(name="keypoints_back")(outputs["keypoints"], choice)
    return keras.Model(inputs, outputs, name=reader.name)



def attach_upright(reader_dir, upright_dir, out=None, data_path=None, prior_weight=1.0):
    """Put a trained ``clock_upright`` run (or a sequence of them, whose votes are
    averaged) in front of a trained clock reader (:func:`with_upright`), re-evaluate,
    and write the pair as one run folder of the reader's entry, which ``zoo export``
    takes. ``prior_weight``: see :func:`with_upright`.

    Raises:
        ZooError: a run is missing or of the wrong kind, or ``out`` is one of them.
    """
    from zoo import registry, training

    if not 0.0 <= prior_weight <= 4.0:
        raise errors.ZooError(f"--prior-weight must be within 0-4, got {prior_weight}")
    several = not isinstance(upright_dir, (str, os.PathLike))
    upright_dirs = [training.run_folder(folder) for folder in (upright_dir if several else [upright_dir])]
    if not upright_dirs:
        raise errors.ZooError("give at least one upright stage")
    reader_dir = training.run_folder(reader_dir)
    registry.entries()  # registers the entries' custom layers before loading
    reader, config = training.load_run(reader_dir)
    stages = []
    for folder in upright_dirs:
        stage, _ = training.load_run(folder)
        if stage.name != "clock_upright":
            raise errors.ZooError(f"{folder} holds {stage.name}, not a clock_upright run")
        stages.append(stage)
    if not reads_time(reader.name) or [tensor.name for tensor in reader.inputs] != ["image"]:
        raise errors.ZooError(f"{reader_dir} holds {reader.name}, not a clock reader")
    if any(isinstance(layer, layers.QuarterTurn) for layer in reader.layers):
        raise errors.ZooError(f"{reader_dir} already reads behind an upright stage")
    if config is None:
        raise errors.ZooError(f"no hparams.json in {reader_dir}: cannot tell how the run was built")
    out = pathlib.Path(out) if out else reader_dir.with_name(reader_dir.name + "_upright")
    if out.resolve() in {reader_dir.resolve(), *(folder.resolve() for folder in upright_dirs)}:
        raise errors.ZooError("--out must differ from every run it joins")
    entry = registry.get(reader.name)
    config = entry.resolve(config)
    model = with_upright(reader, stages, prior_weight=prior_weight)
    splits = entry.data(entry, config, path=data_path)
    metrics = entry.evaluate(model, splits, config)

    seconds = [json.loads((folder / "run.json").read_text()).get("train_seconds") if (folder / "run.json").exists()
               else None for folder in upright_dirs]
    return training.derived_run(model, config, metrics, reader_dir, out,
                                upright_from=[str(folder) for folder in upright_dirs] if len(upright_dirs) > 1
                                else str(upright_dirs[0]),
                                upright_train_seconds=None if None in seconds else round(sum(seconds), 2),
                                upright_prior_weight=prior_weight,
                                composed=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
