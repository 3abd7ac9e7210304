"""Where a clock reader fails: readers opened for scoring (a trained run through Keras,
an exported one through onnxruntime), the held-out test clocks of each renderer,
errors broken down by style factor (``zoo clock-errors``), and the turn selector's
fitting (``zoo fit-turns``)."""

import json
import pathlib
import typing

import numpy as np

from zoo import errors, registry, training
from zoo.clocks import data, entries, gallery
from zoo.common import clocktime, confidence, files, turnvote


ROTATION_BANDS = ((6.0, "upright (<6 deg)"), (40.0, "tilted (6-40 deg)"), (181.0, "rotated (>40 deg)"))
STYLE_FACTORS = ("rotation", "dial_shape", "numerals", "ticks", "twelve_marker", "face", "hand_shape", "hand_tails",
                 "second_hand", "background")


# The world profile's factors (zoo.clocks.clockface.worldstyle.WORLD_ATTRIBUTES), each read from the style's tags.
WORLD_FACTORS = ("case", "face", "hand_shape", "second", "alarm", "tilt", "rotation", "framing", "background",
                 "glass", "occlusion", "distractors", "blur", "resolution", "exposure")


def style_value(style, factor):
    """The value of one style factor of a :class:`zoo.clocks.clockface.ClockStyle`, as a label;
    ``rotation`` is the band of the whole clock's turn (the renderer's upright, tilted
    and rotated classes). A dict (the factors :mod:`zoo.clocks.heldout.mplclocks` records) is read
    as it is."""
    if isinstance(style, dict):
        return str(style[factor])
    if factor in WORLD_FACTORS and hasattr(style, "case"):  # a world-profile clock
        from zoo.clocks.clockface import worldstyle

        return next(tag for tag, _ in worldstyle.WORLD_ATTRIBUTES[factor] if tag in style.tags)
    if factor == "rotation":
        turn = abs(style.rotation_degrees)
        return next(label for limit, label in ROTATION_BANDS if turn < limit)
    value = getattr(style, factor)
    return str(value).lower() if isinstance(value, bool) else str(value)


def error_rows(errors_in_minutes, styles, factors=STYLE_FACTORS):
    """One row per (factor, value): how many clocks, their common-sense error, and the
    share of the overall mean error that comes from them (``error_share``), so the
    rows that hold the tail stand out."""
    errors_in_minutes = np.asarray(errors_in_minutes, dtype=float)
    total = float(errors_in_minutes.sum()) or 1.0

    def row(factor, value, chosen):
        picked = errors_in_minutes[chosen]
        return {
            "factor": factor, "value": value, "count": int(chosen.sum()), "share": float(chosen.mean()),
            "cse_mean": float(picked.mean()), "cse_median": float(np.median(picked)),
            "within_1": float((picked <= 1).mean()), "within_5": float((picked <= 5).mean()),
            "error_share": float(picked.sum() / total),
        }

    rows = [row("all", "all", np.ones(len(errors_in_minutes), dtype=bool))]
    for factor in factors:
        values = np.array([style_value(style, factor) for style in styles])
        for value in sorted(set(values)):
            rows.append(row(factor, value, values == value))
    return rows


def _is_run(model):
    """Whether ``--model`` names a Keras run (a run folder or its ``model.keras``)."""
    path = pathlib.Path(model)
    return path.suffix == ".keras" or (path.is_dir() and (path / "model.keras").is_file())


class Reader(typing.NamedTuple):
    """A clock reader opened for scoring: ``read`` maps uint8 clocks (N, H, W) to
    ``(minutes, confidence)``; ``turns`` is its turn selector (:mod:`zoo.common.turnvote`) or None."""

    name: str
    size: int
    read: typing.Callable
    turns: dict | None
    config: dict | None = None  # a trained run's resolved hyperparameters


def selector_file(model_dir):
    """Where a trained run keeps its turn selector (``RUN/turns.json``)."""
    folder = pathlib.Path(model_dir)
    return (folder if folder.is_dir() else folder.parent) / turnvote.FILE_NAME


def _no_selector(name):
    return errors.ZooError(f"{name}: this reader has no turn selector; fit one with `zoo fit-turns --model RUN` "
                           "(and export the run again for onnxruntime)")


def _keras_reader(model_dir, turns=None):
    """The :class:`Reader` of a trained run. Its selector is ``turns.json`` in the run
    folder; ``turns=True`` requires one (checked before the model loads), ``False``
    leaves it unread, None reads it if there."""
    path = selector_file(model_dir)
    if turns and not path.is_file():
        raise _no_selector(str(model_dir))
    model, config = training.load_run(model_dir)
    if not entries.reads_time(model.name):
        raise errors.ZooError(f"{model_dir} holds {model.name!r}, not a clock reader")
    entry = registry.get(model.name)
    config = entry.resolve(config or {})
    decode = entries.describe_clock(entry, config)
    calibrated = pathlib.Path(selector_file(model_dir).parent / confidence.FILE_NAME)
    if calibrated.is_file():  # read with the confidence the export will carry (`zoo calibrate`)
        decode["confidence"] = confidence.load(calibrated)
    selector = turnvote.load(path) if turns is not False and path.is_file() else None
    return Reader(model.name, config["image_size"], lambda images: entries.predict_minutes(model, images, decode),
                  selector, config)


def _onnx_reader(spec, turns=None, find=False):
    """The same for an exported reader, run by onnxruntime as ``zoo predict-time`` runs it
    (its selector: the card's ``decode.turns``); ``find``: each clock's dial found first
    (:mod:`serve.locate`)."""
    from serve import locate, models, predict

    if not pathlib.Path(spec).exists() and str(spec) not in models.RELEASE_MODELS:
        raise errors.ZooError(f"no model at {spec} (give a trained run folder, a model.onnx, an export folder "
                              f"or a release name: clock)")
    model, session = models.load(spec, require="clock")
    shape = (model.card.get("inputs") or [{}])[0].get("shape") or []
    if len(shape) != 4 or not isinstance(shape[1], int) or shape[1] != shape[2] or shape[3] != 1:
        raise errors.ZooError(f"{spec}: clock-errors needs a square grayscale input; this model takes {shape}")
    selector = model.decode.get("turns")
    if turns and selector is None:
        raise _no_selector(model.entry)
    if find:
        from PIL import Image

        locate.keypoint_output(model)

        def read(images):
            found = [locate.find_and_read(session, model, Image.fromarray(image))[:2] for image in images]
            return np.array([minutes for minutes, _ in found]), np.array([sure for _, sure in found])

        return Reader(model.entry + " finding the dial", shape[1], read, None)
    return Reader(model.entry, shape[1], lambda images: predict.read_arrays(
        session, model, images[..., None].astype(np.float32), batch_size=64),
        None if selector is None else turnvote.check(selector, f"{spec}'s card"))


def open_reader(model, turns=None, find=False):
    """:class:`Reader` of ``model``: a trained run (Keras) or an exported reader
    (onnxruntime); ``turns=True`` requires a turn selector, ``False`` ignores one.
    ``find``: an exported reader that finds each clock first, as ``zoo predict-time``
    does."""
    if not _is_run(model):
        return _onnx_reader(model, turns, find)
    if find:
        raise errors.ZooError("--find scores an exported reader as predict-time runs it: export the run and give "
                              "its export folder")
    return _keras_reader(model, turns)


def read_clocks(reader, images, turns=False):
    """``(minutes, confidence)`` read from ``images`` (N, H, W): unturned, or with
    ``turns`` read at every quarter turn and chosen among by the reader's selector."""
    if not turns:
        return reader.read(images)
    if reader.turns is None:
        raise _no_selector(reader.name)
    minutes, sure = turnvote.read_turned(reader.read, images, reader.turns["turns"])
    chosen, sure, _ = turnvote.choose(reader.turns, minutes, sure)
    return chosen, sure


# The renderers of test clocks: the training renderer, and the held-out ones written
# apart from it (zoo.clocks.heldout), each a module with
# render(count, seed, size, progress) -> (images, labels, factor dicts).
HELD_OUT_RENDERERS = {"matplotlib": "zoo.clocks.heldout.mplclocks", "skia": "zoo.clocks.heldout.skiaclocks",
                      "product": "zoo.clocks.heldout.productclocks"}
# The training renderer's scene profiles: "zoo" is its classic one, "world" its
# photographic one (held in: readers may train on it).
SCENES = {"zoo": "classic", "world": "world"}
RENDERERS = (*SCENES, *HELD_OUT_RENDERERS)


def held_out_clocks(count, size, renderer="zoo", include=None, exclude=None, progress=False, with_styles=False):
    """The first ``count`` held-out test clocks (:data:`zoo.clocks.data.TEST_SEED`) of a
    renderer (:data:`RENDERERS`): the training renderer's (cached, as training rendered
    them; ``include``/``exclude`` pick its styles) or a held-out renderer's.

    Returns:
        ``(images, labels, styles)``; ``styles`` (with ``with_styles``, else None) are
        :class:`zoo.clocks.clockface.ClockStyle` objects, or a held-out renderer's factor dicts.
    """
    import importlib

    from zoo.clocks import clockface

    if renderer not in RENDERERS:
        raise errors.ZooError(f"unknown renderer {renderer!r}: choose one of {', '.join(RENDERERS)}")
    if renderer in HELD_OUT_RENDERERS:
        module = importlib.import_module(HELD_OUT_RENDERERS[renderer])
        images, labels, styles = module.render(count, data.TEST_SEED, size, progress=progress)
        return images, labels, styles if with_styles else None
    scenes = SCENES[renderer]
    images, labels, _ = data.render(count, data.TEST_SEED, size, include=include, exclude=exclude,
                                    progress=progress, scenes=scenes)
    # Their styles drawn alone (a fraction of rendering's time).
    styles = None
    if with_styles:
        extra = {} if scenes == "classic" else {"scenes": scenes}
        styles = clockface.batch_styles(count, data.TEST_SEED, include, exclude, **extra)
    return images, labels, styles


def errors_by_style(model_dir, out, count=2000, progress=True, renderer="zoo", turns=False, find=False):
    """Score a clock reader on ``count`` test clocks (:data:`zoo.clocks.data.TEST_SEED`)
    and break its common-sense error down by style factor.

    ``model_dir`` is a trained run (folder or ``model.keras``, run by Keras) or an
    exported reader (a ``.onnx`` file, an export folder or a release name such as
    ``clock``, run by onnxruntime on the same rendered images). ``renderer`` is one
    of :data:`RENDERERS`; with a held-out renderer (``matplotlib``, ``skia``) the
    breakdown is by that renderer's own factors.

    Writes ``styles.csv``, ``styles.json``, ``styles.md``, a bar chart
    ``styles.png`` (mean error per factor value) and ``worst.png``.

    Returns:
        the rows, as in ``styles.json``.
    """
    from zoo import plots

    reader = open_reader(model_dir, turns=turns or None, find=find)
    name = reader.name + (" read at four turns" if turns else "")
    images, labels, styles = held_out_clocks(count, reader.size, renderer, progress=progress, with_styles=True)
    factors = {"zoo": STYLE_FACTORS, "world": WORLD_FACTORS}.get(renderer) or tuple(styles[0])
    predicted, certainty = read_clocks(reader, images, turns)
    truth = clocktime.to_minutes(labels[:, 0], labels[:, 1]).astype(float)
    error = clocktime.common_sense_error(predicted, truth)
    rows = error_rows(error, styles, factors)

    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    files.write_rows(rows, out, "styles")
    good = error <= confidence.GOOD_MINUTES
    files.write_json(out / "confidence.json", {
        "sure_at": confidence.SURE_AT, **confidence.summary(certainty, good),
        "reliability": confidence.reliability(certainty, good)})
    lines = ["| factor | value | clocks | mean CSE | median | within 1 min | share of the mean error |",
             "|---" * 7 + "|"]
    for row in rows:
        lines.append(f"| {row['factor']} | {row['value']} | {row['count']} | {row['cse_mean']:.1f} | "
                     f"{row['cse_median']:.2f} | {100 * row['within_1']:.1f}% | {100 * row['error_share']:.1f}% |")
    (out / "styles.md").write_text("\n".join(lines) + "\n")
    plots.factor_bars(rows[1:], out / "styles.png", overall=rows[0]["cse_mean"],
                      title=f"{name}: mean common-sense error by clock style ({count} test clocks"
                      + (f", drawn by {renderer})" if renderer != "zoo" else ")"))
    gallery.worst_gallery(images, truth, predicted, out / "worst.png", title=f"{name}: worst readings")
    return rows


class ValidationClocks(typing.NamedTuple):
    images: np.ndarray  # uint8 (N, H, W)
    labels: np.ndarray  # int64 (N, 2)
    seed: int  # the render seed: the run's seed + data.VALIDATION_OFFSET
    count: int
    scenes: str


def validation_clocks(folder, config, command, count=None, progress=True, scenes=None):
    """A trained run's validation clocks, rendered again as training rendered them (its
    seed + :data:`zoo.clocks.data.VALIDATION_OFFSET`, excluded styles, scenes and photos),
    at most ``count`` of them; ``scenes`` renders them with another scene profile.

    Raises:
        ZooError: the run was trained on a data set, not on rendered clocks (``command``
            names the command that needs them).
    """
    folder = pathlib.Path(folder)
    run = json.loads((folder / "run.json").read_text()) if (folder / "run.json").is_file() else {}
    trained_on = run.get("data") or {}
    if trained_on.get("source") not in (None, "rendered by zoo.clockface"):
        raise errors.ZooError(f"{folder} was trained on {trained_on.get('source')}; {command} renders its validation "
                              "clocks, which only a reader trained on rendered clocks has")
    seed = int(run.get("seed", 42)) + data.VALIDATION_OFFSET
    available = int(trained_on.get("val") or data.split_counts(config)[1])
    count = min(count or available, available)
    scene = data.scene_settings(config)
    if scenes is not None:
        scene = {"scenes": scenes, "backgrounds": None if scenes == "classic" else scene["backgrounds"]}
    images, labels, _ = data.render(count, seed, config["image_size"], exclude=tuple(config.get("exclude_styles", ())),
                                    progress=progress, **scene)
    return ValidationClocks(images, labels, seed, count, scene["scenes"])


def fit_turns(model_dir, count=None, progress=True, reader=None):
    """Fit a trained reader's turn selector (:mod:`zoo.common.turnvote`) on its validation
    clocks (the run's seed + :data:`zoo.data.VALIDATION_OFFSET`, as training rendered
    them) and write it to the run folder as ``turns.json``.

    ``reader``: the run's :class:`Reader` when the caller has it open already.

    Returns:
        the selector; its ``fitted`` says how the unturned reading, the chosen one and
        the best of the four score on those clocks.

    Raises:
        ZooError: not a trained clock run, or the selector reads the validation clocks
            no better than the unturned reading (nothing is written then).
    """
    if not _is_run(model_dir):
        raise errors.ZooError(f"{model_dir} is not a trained run folder (fit-turns needs the run's Keras model and "
                              "its validation clocks; export the run again afterwards)")
    folder = selector_file(model_dir).parent
    reader = reader or _keras_reader(folder, turns=False)  # a selector already there is replaced, not read
    clocks = validation_clocks(folder, reader.config, "fit-turns", count, progress)
    truth = clocktime.to_minutes(clocks.labels[:, 0], clocks.labels[:, 1]).astype(float)
    minutes, confidence = turnvote.read_turned(reader.read, clocks.images)
    selector = turnvote.fit(minutes, confidence, truth)
    selector["fitted"]["on"] = f"{clocks.count} validation clocks (seed {clocks.seed})"
    fitted = selector["fitted"]
    if fitted["chosen"]["mean"] >= fitted["unturned"]["mean"]:
        raise errors.ZooError(
            f"{reader.name}: choosing among four turns reads the validation clocks no better than the unturned reading "
            f"(mean {fitted['chosen']['mean']:.2f} against {fitted['unturned']['mean']:.2f} min); no selector written")
    turnvote.save(selector, selector_file(folder))
    return selector
