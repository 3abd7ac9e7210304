"""The report's clock studies, reproduced on rendered clocks with one metric for every row.

- ``bins``: the bin classifier for N in 24, 48, 96, 192, 360, 720 (the report's table 5);
- ``loss``: the regressor with MAE against MSE (table 6);
- ``multihead``: the hour-classifier/minute-regressor model (table 7), beside the
  geometric hands reader;
- ``generalisation``: a reader trained without some styles (roman numerals and square
  dials by default), scored on clocks of its own styles, on clocks of only the
  held-out styles, and on clocks of every style drawn by :mod:`zoo.mplclocks`, the
  renderer training never used.

Each study trains its rows with the same data, seed and epochs, scores them on the
same held-out test clocks with the common-sense error, and writes ``results.csv``,
``results.md``, ``results.json``, an error histogram (``errors.png``) and a gallery of
the worst mistakes per row (``worst_<row>.png``).
"""

import csv
import json
import pathlib
import typing

import numpy as np

from zoo import clock, errors, registry, training

from zoo.common import clocktime, turnvote

STUDIES = ("bins", "loss", "multihead", "generalisation")
REPORT = {  # The report's figures (mean common-sense error in minutes, Leiden set).
    "bins=24": 23.94, "bins=48": 47.29, "bins=96": 10.12, "bins=192": 6.14, "bins=360": 181.36, "bins=720": 179.61,
    "loss=mae": 14.26, "loss=mse": 11.48,
}
HELD_OUT = ("roman", "square")


def study_rows(study, entry=None):
    """The (row name, entry, overrides) of a study."""
    if study == "bins":
        return [(f"bins={bins}", "clock_classifier", {"bins": bins}) for bins in (24, 48, 96, 192, 360, 720)]
    if study == "loss":
        return [(f"loss={loss}", "clock_regressor", {"loss": loss}) for loss in ("mae", "mse")]
    if study == "multihead":
        return [("multihead", "clock_multihead", {}), ("hands", "clock_hands", {})]
    if study == "generalisation":
        return [("held_out_training", entry or "clock_hands", {"exclude_styles": HELD_OUT})]
    raise errors.ZooError(f"unknown study {study!r}; known: {', '.join(STUDIES)}")


def format_time(minutes):
    hour, minute = clocktime.from_minutes(np.asarray(minutes))
    return [f"{(h if h else 12):d}:{m:02d}" for h, m in zip(np.atleast_1d(hour), np.atleast_1d(minute))]


def worst_gallery(images, truth, predicted, path, title, count=24):
    """A PNG of the ``count`` worst readings: each image with true and read time."""
    from zoo import plots

    error = clocktime.common_sense_error(predicted, truth)
    order = np.argsort(-error)[:count]
    captions = [
        f"true {t}  read {p}\nerror {e:.0f} min"
        for t, p, e in zip(format_time(truth[order]), format_time(predicted[order]), error[order])
    ]
    plots.image_gallery(images[order], captions, path, title=title)


def run_study(study, out, epochs=None, train_count=None, image_size=None, seed=42, entry=None, data=None, quiet=True,
              common=None):
    """Train and score every row of ``study``; write its tables and figures into ``out``.

    Args:
        study: one of :data:`STUDIES`.
        out: the study folder; each row's run goes to ``out/<row>/``.
        epochs: epochs of every row (the entries' defaults if None).
        train_count: rendered training clocks per row.
        image_size: input size of every row.
        seed: training seed (the test clocks always come from :data:`zoo.clock.TEST_SEED`).
        entry: the reader of the generalisation study (default ``clock_hands``).
        data: a Leiden folder instead of rendered clocks.
        quiet: one line per epoch instead of a progress bar.
        common: hyperparameters for every row (``--hp``); a row's own setting (the
            study's variable, such as ``bins``) wins.

    Returns:
        list of result rows (dicts), as written to ``results.json``.
    """
    from zoo import plots

    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    results, histograms = [], {}
    for row, name, overrides in study_rows(study, entry):
        overrides = {**(common or {}), **overrides}
        if train_count:
            overrides["train_count"] = train_count
        if image_size:
            overrides["image_size"] = image_size
        run = training.train(
            name, data=data, epochs=epochs, overrides=overrides, seed=seed, out=out / row.replace("=", "_"),
            verbose=2 if quiet else 1,
        )
        model, config = training.load_run(run["path"])
        entry_object = registry.get(name)
        decode = clock.describe_clock(entry_object, config)
        test_sets = {"test": None}
        if study == "generalisation":
            test_sets = {"in_style": {"exclude": HELD_OUT}}
            test_sets.update({f"only_{tag}": {"include": (tag,)} for tag in HELD_OUT})
            test_sets["unseen_renderer"] = {"renderer": "matplotlib"}  # every style, drawn by the other renderer
        for label, styles in test_sets.items():
            if styles is None:
                splits, _ = clock.load_clocks(config, data, seed)
                images, labels = splits["test"].images, splits["test"].labels
            else:
                images, labels, _ = held_out_clocks(clock.split_counts(config)[2], config["image_size"], progress=True,
                                                **styles)
            truth = clocktime.to_minutes(labels[:, 0], labels[:, 1]).astype(float)
            predicted, _ = clock.predict_minutes(model, images, decode)
            summary = clocktime.cse_summary(predicted, truth)
            key = row if label == "test" else f"{row}/{label}"
            histograms[key] = clocktime.common_sense_error(predicted, truth)
            worst_gallery(images, truth, predicted, out / f"worst_{key.replace('/', '_').replace('=', '_')}.png",
                          title=f"{study}: worst readings of {key}")
            results.append({
                "row": key, "entry": name, "test_set": label, **overrides,
                "cse_mean": summary["mean"], "cse_median": summary["median"], "cse_p90": summary["p90"],
                "within_1": summary["within_1"], "within_5": summary["within_5"], "count": summary["count"],
                "epochs": config["epochs"], "train_count": run["data"]["train"], "image_size": config["image_size"],
                "train_seconds": run["train_seconds"], "report_cse": REPORT.get(row),
            })
    if study == "generalisation":
        in_style = next(row["cse_mean"] for row in results if row["test_set"] == "in_style")
        for row in results:
            row["ratio_to_in_style"] = row["cse_mean"] / in_style if in_style else None
    write_tables(results, out)
    plots.error_histograms(histograms, out / "errors.png", title=f"clock study: {study}")
    return results


def write_rows(rows, out, stem):
    """``<stem>.json`` and ``<stem>.csv`` (every key any row has) of a list of dicts."""
    out = pathlib.Path(out)
    (out / f"{stem}.json").write_text(json.dumps(rows, indent=2) + "\n")
    columns = []
    for row in rows:
        columns.extend(key for key in row if key not in columns)
    with open(out / f"{stem}.csv", "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def write_tables(results, out):
    """``results.json``, ``results.csv`` and ``results.md`` of a study."""
    out = pathlib.Path(out)
    write_rows(results, out, "results")
    shown = ["row", "cse_mean", "cse_median", "cse_p90", "within_1", "report_cse", "ratio_to_in_style",
             "epochs", "train_count", "image_size", "train_seconds"]
    shown = [column for column in shown if any(row.get(column) is not None for row in results)]
    lines = ["| " + " | ".join(shown) + " |", "|" + "---|" * len(shown)]
    for row in results:
        cells = []
        for column in shown:
            value = row.get(column)
            cells.append("" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value))
        lines.append("| " + " | ".join(cells) + " |")
    (out / "results.md").write_text("\n".join(lines) + "\n")


# ----------------------------------------------------------------------------- where a reader fails

ROTATION_BANDS = ((6.0, "upright (<6 deg)"), (40.0, "tilted (6-40 deg)"), (181.0, "rotated (>40 deg)"))
STYLE_FACTORS = ("rotation", "dial_shape", "numerals", "ticks", "twelve_marker", "face", "hand_shape", "hand_tails",
                 "second_hand", "background")


def style_value(style, factor):
    """The value of one style factor of a :class:`zoo.clockface.ClockStyle`, as a label;
    ``rotation`` is the band of the whole clock's turn (the renderer's upright, tilted
    and rotated classes). A dict (the factors :mod:`zoo.mplclocks` records) is read
    as it is."""
    if isinstance(style, dict):
        return str(style[factor])
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
    if not clock.reads_time(model.name):
        raise errors.ZooError(f"{model_dir} holds {model.name!r}, not a clock reader")
    entry = registry.get(model.name)
    config = entry.resolve(config or {})
    decode = clock.describe_clock(entry, config)
    selector = turnvote.load(path) if turns is not False and path.is_file() else None
    return Reader(model.name, config["image_size"], lambda images: clock.predict_minutes(model, images, decode),
                  selector, config)


def _onnx_reader(spec, turns=None):
    """The same for an exported reader, run by onnxruntime as ``zoo predict-time`` runs it
    (its selector: the card's ``decode.turns``)."""
    from serve import models, predict

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
    return Reader(model.entry, shape[1], lambda images: predict.read_arrays(
        session, model, images[..., None].astype(np.float32), batch_size=64),
        None if selector is None else turnvote.check(selector, f"{spec}'s card"))


def open_reader(model, turns=None):
    """:class:`Reader` of ``model``: a trained run (Keras) or an exported reader
    (onnxruntime); ``turns=True`` requires a turn selector, ``False`` ignores one."""
    return (_keras_reader if _is_run(model) else _onnx_reader)(model, turns)


def read_clocks(reader, images, turns=False):
    """Minutes read from ``images`` (N, H, W): unturned, or with ``turns`` read at
    every quarter turn and chosen among by the reader's selector."""
    if not turns:
        return reader.read(images)[0]
    if reader.turns is None:
        raise _no_selector(reader.name)
    minutes, confidence = turnvote.read_turned(reader.read, images, reader.turns["turns"])
    return turnvote.choose(reader.turns, minutes, confidence)[0]


def held_out_clocks(count, size, renderer="zoo", include=None, exclude=None, progress=False, with_styles=False):
    """The first ``count`` held-out test clocks (:data:`zoo.clock.TEST_SEED`) of a
    renderer (:data:`zoo.clockface.RENDERERS`): the training renderer's (cached, as
    training rendered them; ``include``/``exclude`` pick its styles) or
    :mod:`zoo.mplclocks`'s.

    Returns:
        ``(images, labels, styles)``; ``styles`` (with ``with_styles``, else None) are
        :class:`zoo.clockface.ClockStyle` objects, or the matplotlib clocks' factor dicts.
    """
    from zoo import clockface

    if renderer not in clockface.RENDERERS:
        raise errors.ZooError(f"unknown renderer {renderer!r}: choose one of {', '.join(clockface.RENDERERS)}")
    if renderer == "matplotlib":
        from zoo import mplclocks

        images, labels, styles = mplclocks.render(count, clock.TEST_SEED, size, progress=progress)
        return images, labels, styles if with_styles else None
    images, labels, _ = clock.render(count, clock.TEST_SEED, size, include=include, exclude=exclude,
                                     progress=progress)
    # Their styles drawn alone (a fraction of rendering's time).
    styles = clockface.batch_styles(count, clock.TEST_SEED, include, exclude) if with_styles else None
    return images, labels, styles


def errors_by_style(model_dir, out, count=2000, progress=True, renderer="zoo", turns=False):
    """Score a clock reader on ``count`` test clocks (:data:`zoo.clock.TEST_SEED`)
    and break its common-sense error down by style factor.

    ``model_dir`` is a trained run (folder or ``model.keras``, run by Keras) or an
    exported reader (a ``.onnx`` file, an export folder or a release name such as
    ``clock``, run by onnxruntime on the same rendered images). ``renderer`` is one
    of :data:`zoo.clockface.RENDERERS`; with ``matplotlib`` the clocks come from
    :mod:`zoo.mplclocks` and the breakdown is by its factors.

    Writes ``styles.csv``, ``styles.json``, ``styles.md``, a bar chart
    ``styles.png`` (mean error per factor value) and ``worst.png``.

    Returns:
        the rows, as in ``styles.json``.
    """
    from zoo import plots

    reader = open_reader(model_dir, turns=turns or None)
    name = reader.name + (" read at four turns" if turns else "")
    images, labels, styles = held_out_clocks(count, reader.size, renderer, progress=progress, with_styles=True)
    factors = STYLE_FACTORS if renderer == "zoo" else tuple(styles[0])
    predicted = read_clocks(reader, images, turns)
    truth = clocktime.to_minutes(labels[:, 0], labels[:, 1]).astype(float)
    error = clocktime.common_sense_error(predicted, truth)
    rows = error_rows(error, styles, factors)

    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    write_rows(rows, out, "styles")
    lines = ["| factor | value | clocks | mean CSE | median | within 1 min | share of the mean error |", "|---" * 7 + "|"]
    for row in rows:
        lines.append(f"| {row['factor']} | {row['value']} | {row['count']} | {row['cse_mean']:.1f} | "
                     f"{row['cse_median']:.2f} | {100 * row['within_1']:.1f}% | {100 * row['error_share']:.1f}% |")
    (out / "styles.md").write_text("\n".join(lines) + "\n")
    plots.factor_bars(rows[1:], out / "styles.png", overall=rows[0]["cse_mean"],
                      title=f"{name}: mean common-sense error by clock style ({count} test clocks"
                      + (", drawn by matplotlib)" if renderer == "matplotlib" else ")"))
    worst_gallery(images, truth, predicted, out / "worst.png", title=f"{name}: worst readings")
    return rows


def fit_turns(model_dir, count=None, progress=True, reader=None):
    """Fit a trained reader's turn selector (:mod:`zoo.common.turnvote`) on its validation
    clocks (the run's seed + :data:`zoo.clock.VALIDATION_OFFSET`, as training rendered
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
    config = reader.config
    run = json.loads((folder / "run.json").read_text()) if (folder / "run.json").is_file() else {}
    seed = int(run.get("seed", 42))
    data = (run.get("data") or {})
    if data.get("source") not in (None, "rendered by zoo.clockface"):
        raise errors.ZooError(f"{folder} was trained on {data.get('source')}; fit-turns renders its validation clocks, "
                              "which only a reader trained on rendered clocks has")
    available = int(data.get("val") or clock.split_counts(config)[1])
    count = min(count or available, available)
    images, labels, _ = clock.render(count, seed + clock.VALIDATION_OFFSET, reader.size,
                                     exclude=tuple(config.get("exclude_styles", ())), progress=progress)
    truth = clocktime.to_minutes(labels[:, 0], labels[:, 1]).astype(float)
    minutes, confidence = turnvote.read_turned(reader.read, images)
    selector = turnvote.fit(minutes, confidence, truth)
    selector["fitted"]["on"] = f"{count} validation clocks (seed {seed + clock.VALIDATION_OFFSET})"
    fitted = selector["fitted"]
    if fitted["chosen"]["mean"] >= fitted["unturned"]["mean"]:
        raise errors.ZooError(
            f"{reader.name}: choosing among four turns reads the validation clocks no better than the unturned reading "
            f"(mean {fitted['chosen']['mean']:.2f} against {fitted['unturned']['mean']:.2f} min); no selector written")
    turnvote.save(selector, selector_file(folder))
    return selector
