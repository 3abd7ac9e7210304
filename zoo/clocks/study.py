"""The report's clock studies, reproduced on rendered clocks with one metric for every row.

- ``bins``: the bin classifier for N in 24, 48, 96, 192, 360, 720 (the report's table 5);
- ``loss``: the regressor with MAE against MSE (table 6);
- ``multihead``: the hour-classifier/minute-regressor model (table 7), beside the
  geometric hands reader;
- ``generalisation``: a reader trained without some styles (roman numerals and square
  dials by default), scored on clocks of its own styles, on clocks of only the
  held-out styles, and on clocks of every style drawn by :mod:`zoo.clocks.heldout.mplclocks`, the
  renderer training never used.

Each study trains its rows with the same data, seed and epochs, scores them on the
same held-out test clocks with the common-sense error, and writes ``results.csv``,
``results.md``, ``results.json``, an error histogram (``errors.png``) and a gallery of
the worst mistakes per row (``worst_<row>.png``).
"""

import pathlib


from zoo import errors, registry, training
from zoo.clocks import data as clock_data
from zoo.clocks import entries, gallery
from zoo.common import clocktime, files

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


def run_study(study, out, epochs=None, train_count=None, image_size=None, seed=42, entry=None, data=None, quiet=True,
              common=None):
    """Train and score every row of ``study``; write its tables and figures into ``out``.

    Args:
        study: one of :data:`STUDIES`.
        out: the study folder; each row's run goes to ``out/<row>/``.
        epochs: epochs of every row (the entries' defaults if None).
        train_count: rendered training clocks per row.
        image_size: input size of every row.
        seed: training seed (the test clocks always come from :data:`zoo.data.TEST_SEED`).
        entry: the reader of the generalisation study (default ``clock_hands``).
        data: a Leiden folder instead of rendered clocks.
        quiet: one line per epoch instead of a progress bar.
        common: hyperparameters for every row (``--hp``); a row's own setting (the
            study's variable, such as ``bins``) wins.

    Returns:
        list of result rows (dicts), as written to ``results.json``.
    """
    from zoo import plots
    from zoo.clocks import reading

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
        decode = entries.describe_clock(entry_object, config)
        test_sets = {"test": None}
        if study == "generalisation":
            test_sets = {"in_style": {"exclude": HELD_OUT}}
            test_sets.update({f"only_{tag}": {"include": (tag,)} for tag in HELD_OUT})
            test_sets["unseen_renderer"] = {"renderer": "matplotlib"}  # every style, drawn by the other renderer
        for label, styles in test_sets.items():
            if styles is None:
                splits, _ = clock_data.load_clocks(config, data, seed)
                images, labels = splits["test"].images, splits["test"].labels
            else:
                count = clock_data.split_counts(config)[2]
                images, labels, _ = reading.held_out_clocks(count, config["image_size"], progress=True, **styles)
            truth = clocktime.to_minutes(labels[:, 0], labels[:, 1]).astype(float)
            predicted, _ = entries.predict_minutes(model, images, decode)
            summary = clocktime.cse_summary(predicted, truth)
            key = row if label == "test" else f"{row}/{label}"
            histograms[key] = clocktime.common_sense_error(predicted, truth)
            gallery.worst_gallery(images, truth, predicted,
                                  out / f"worst_{key.replace('/', '_').replace('=', '_')}.png",
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


def write_tables(results, out):
    """``results.json``, ``results.csv`` and ``results.md`` of a study."""
    out = pathlib.Path(out)
    files.write_rows(results, out, "results")
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
