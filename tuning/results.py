"""A finished study's results: test figures, the ranked table, the chart, the best
hyperparameters.

The search chooses on validation accuracy alone. Only after it ends is the test set
touched: every finished trial's checkpoint (the weights of its best validation epoch,
as KerasTuner saves them) is evaluated on it once, and the figures are cached in
``test_results.json``, apart from the oracle's records. Then, in the study directory:

- ``results.csv`` and ``results.md``: every trial, ranked by the objective, with its
  hyperparameters, validation and test figures, seconds and the worker that ran it;
- ``<study>.png``: a bar chart of a one-factor study;
- ``best_hparams.json``: the best trial's values, which ``zoo train ENTRY --hparams``
  reads (it unwraps the ``"hparams"`` key).
"""

import csv
import io
import json
import os

from tuning import oracles, studies

FINISHED = ("COMPLETED",)


def load_trials(study):
    """The study's trials as dicts, in trial order: KerasTuner's ``trial.json`` state
    merged with our ``zoo_trial.json`` record (absent for trials run on a machine
    whose directory this one cannot see)."""
    import keras_tuner

    trials = []
    for path in sorted(study.project_dir.glob("trial_*/trial.json")):
        trial = keras_tuner.engine.trial.Trial.load(str(path))
        record_path = path.parent / "zoo_trial.json"
        record = json.loads(record_path.read_text()) if record_path.exists() else {}
        trials.append({"trial": trial, "record": record, "folder": path.parent})
    return trials


def _metric(trial, name):
    if trial.metrics.exists(name):
        value = trial.metrics.get_last_value(name)
        return None if value is None else float(value)
    return None


def tuned_names(study):
    """The builder keys the study sets (``momentum``, not KerasTuner's
    ``sgd_momentum``), in the space's order."""
    return studies.space_keys(study.space)


def trial_values(study, trial):
    """The builder values of a trial: its active hyperparameters under their keys."""
    return studies.chosen_values(study.space, trial.hyperparameters.copy())


def _checkpoint_signature(path):
    stat = os.stat(path)
    return {"bytes": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def evaluate_on_test(study, hypermodel, trials, verbose=1):
    """Test figures of every finished trial, from its best-epoch checkpoint.

    Evaluations are cached in ``test_results.json`` against the checkpoint's size and
    time, so a resumed or repeated report evaluates only new trials.

    Returns:
        ``{trial_id: {"test_loss": ..., "test_accuracy": ...}}`` and the data facts
        (train/val/test counts) of the pipelines.
    """
    import keras
    from tqdm import tqdm

    cache_path = study.directory / "test_results.json"
    cache = json.loads(cache_path.read_text()) if cache_path.exists() else {}
    base = study.entry.resolve(study.fixed, {"epochs": study.epochs})
    splits = hypermodel.splits(base)
    pending = []
    for item in trials:
        trial = item["trial"]
        checkpoint = item["folder"] / "checkpoint.weights.h5"
        if trial.status not in FINISHED or not checkpoint.exists():
            continue
        cached = cache.get(trial.trial_id)
        if cached and cached.get("checkpoint") == _checkpoint_signature(checkpoint):
            continue
        pending.append((trial, checkpoint))
    for trial, checkpoint in tqdm(pending, desc="test set", unit="trial", disable=not (verbose and pending)):
        keras.backend.clear_session()
        model = hypermodel.build(trial.hyperparameters)
        model.load_weights(str(checkpoint))
        config = hypermodel.config(trial.hyperparameters)
        metrics = study.entry.evaluate(model, splits, config)
        cache[trial.trial_id] = {"checkpoint": _checkpoint_signature(checkpoint), "metrics": metrics}
        # Written after every evaluation, so an interrupted report keeps what it did.
        oracles.write_json_atomic(str(cache_path), cache)
        del model
    keras.backend.clear_session()
    return {trial_id: value["metrics"] for trial_id, value in cache.items()}, splits.info


def rows_of(study, trials, test):
    """One ranked row per trial (finished trials by the objective, then the rest)."""
    names = tuned_names(study)
    maximize = study.objective_direction == "max"
    rows = []
    for item in trials:
        trial, record = item["trial"], item["record"]
        values = trial_values(study, trial)
        row = {"rank": None, "trial": trial.trial_id, "status": trial.status.lower()}
        for name in names:
            row[name] = values.get(name)
        row["epochs"] = trial.hyperparameters.values.get("tuner/epochs", record.get("epochs") or study.epochs)
        finished = trial.status in FINISHED and trial.score is not None
        row["best_epoch"] = (int(trial.best_step) + 1) if finished and trial.best_step is not None else None
        row["val_accuracy"] = _metric(trial, "val_accuracy")
        row["val_loss"] = _metric(trial, "val_loss")
        figures = test.get(trial.trial_id, {})
        row["test_accuracy"] = figures.get("test_accuracy")
        row["test_loss"] = figures.get("test_loss")
        if "test_accuracy_flip" in figures:
            row["test_accuracy_flip"] = figures["test_accuracy_flip"]
        row["seconds"] = record.get("seconds")
        row["tuner_id"] = record.get("tuner_id")
        row["score"] = float(trial.score) if finished else None
        rows.append(row)
    ranked = sorted(
        (row for row in rows if row["score"] is not None),
        key=lambda row: ((-row["score"] if maximize else row["score"]), row["trial"]),
    )
    for rank, row in enumerate(ranked, start=1):
        row["rank"] = rank
    rest = [row for row in rows if row["score"] is None]
    return [{key: value for key, value in row.items() if key != "score"} for row in ranked + rest]


def _columns(rows):
    columns = []
    for row in rows:
        for key in row:
            if key not in columns:
                columns.append(key)
    return columns


def _text(value, key=""):
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        if key in ("seconds",):
            return f"{value:.1f}"
        if key.startswith(("val_", "test_")):
            return f"{value:.4f}"
        return f"{value:g}"
    return str(value)


def to_csv(rows):
    """The rows as CSV text (empty cells for inactive values and missing figures)."""
    buffer = io.StringIO()
    columns = _columns(rows)
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: ("" if row.get(key) is None else row.get(key)) for key in columns})
    return buffer.getvalue()


def to_markdown(rows, title, notes=()):
    """The rows as a Markdown table under ``title`` and a list of ``notes``."""
    columns = _columns(rows)
    lines = [f"# {title}", ""]
    lines.extend(f"- {note}" for note in notes)
    if notes:
        lines.append("")
    lines.append("| " + " | ".join(columns) + " |")
    lines.append("|" + "|".join("---:" if column in ("rank", "epochs", "best_epoch", "seconds") or
                                column.startswith(("val_", "test_")) else "---" for column in columns) + "|")
    for row in rows:
        lines.append("| " + " | ".join(_text(row.get(column), column) or "–" for column in columns) + " |")
    return "\n".join(lines) + "\n"


def top_table(rows, count=5):
    """The best ``count`` rows as fixed-width text, as the report printed its top five."""
    shown = [row for row in rows if row["rank"] is not None][:count]
    if not shown:
        return "no finished trials"
    skip = {"status", "val_loss", "tuner_id"}
    columns = [column for column in _columns(shown) if column not in skip]
    cells = [[_text(row.get(column), column) or "-" for column in columns] for row in shown]
    widths = [max(len(column), *(len(line[index]) for line in cells)) for index, column in enumerate(columns)]
    out = ["  ".join(column.ljust(width) for column, width in zip(columns, widths))]
    out += ["  ".join(cell.ljust(width) for cell, width in zip(line, widths)) for line in cells]
    return "\n".join(out)


def bar_chart(study, rows, path):
    """Validation and test accuracy of each value of a one-factor study, best first."""
    from zoo import plots  # noqa: F401  (selects matplotlib's Agg backend)
    import matplotlib.pyplot as plt

    key = studies.ONE_FACTOR[study.study][0]
    shown = [row for row in rows if row["rank"] is not None]
    labels = [str(row[key]) for row in shown]
    figure, axis = plt.subplots(figsize=(max(5.0, 0.9 * len(shown) + 2), 4))
    positions = range(len(shown))
    width = 0.4
    series = (("validation", "val_accuracy", -width / 2), ("test", "test_accuracy", width / 2))
    for label, column, offset in series:
        heights = [row[column] if row[column] is not None else 0.0 for row in shown]
        bars = axis.bar([position + offset for position in positions], heights, width, label=label)
        for bar, height in zip(bars, heights):
            axis.annotate(f"{height:.3f}", (bar.get_x() + bar.get_width() / 2, height), ha="center", va="bottom",
                          fontsize=7, rotation=90, xytext=(0, 2), textcoords="offset points")
    axis.set_xticks(list(positions))
    axis.set_xticklabels(labels, rotation=30, ha="right")
    # Accuracies of a good model differ in the second decimal: a zero-based axis
    # would hide that, so the axis starts near the lowest bar when all are high.
    lowest = min((row[column] for row in shown for _, column, _ in series if row[column] is not None), default=0.0)
    bottom = 0.0 if lowest < 0.5 else max(0.0, (int((lowest - 0.02) * 50)) / 50)
    axis.set_ylim(bottom, 1.0 + (1.0 - bottom) * 0.12)
    axis.set_ylabel("accuracy" if bottom == 0 else f"accuracy (axis from {bottom:.2f})")
    tuner = studies.TUNER_NAMES[study.tuner]
    axis.set_title(f"{study.entry.name}: {study.study} ({tuner}, {studies.epochs_text(study.epochs)})")
    axis.grid(axis="y", alpha=0.3)
    axis.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    figure.tight_layout()
    temporary = path.with_name(path.stem + ".partial.png")
    figure.savefig(temporary, dpi=100)
    plt.close(figure)
    os.replace(temporary, path)


def best_hparams(study, rows):
    """The best trial as ``{"hparams": {...}}`` for ``zoo train --hparams``, or None."""
    best = next((row for row in rows if row["rank"] == 1), None)
    if best is None:
        return None
    tuned = {name: best[name] for name in tuned_names(study) if best.get(name) is not None}
    return {
        "format": "zoo-tuning/1",
        "entry": study.entry.name,
        "study": study.study,
        "tuner": study.tuner,
        "trial": best["trial"],
        "objective": study.objective_name,
        "val_accuracy": best["val_accuracy"],
        "test_accuracy": best["test_accuracy"],
        "best_epoch": best["best_epoch"],
        # The values held fixed, the tuned ones and the study's epochs: what the
        # trial trained with.
        "hparams": {**study.fixed, **tuned, "epochs": study.epochs},
    }


def _write_text(path, text):
    temporary = path.with_name(path.name + ".partial")
    temporary.write_text(text)
    os.replace(temporary, path)


def write(study, hypermodel, top=5, verbose=1):
    """Evaluate on the test set and write every result file of ``study``.

    Returns:
        The ranked rows.
    """
    trials = load_trials(study)
    test, info = evaluate_on_test(study, hypermodel, trials, verbose=verbose)
    rows = rows_of(study, trials, test)
    finished = sum(row["rank"] is not None for row in rows)
    stored = json.loads((study.directory / "study.json").read_text())
    notes = [
        f"What ran: {study.describe()}; {finished} of {len(rows)} trials finished.",
        f"Data: {info.get('source')} — {info.get('train')} training, {info.get('val')} validation "
        f"(carved from the training set), {info.get('test')} test examples.",
        f"Ranked by {study.objective_name} (the best epoch's; the search saw nothing else). Test figures: "
        "that epoch's weights, evaluated once after the search.",
        f"Fixed values: {json.dumps(study.fixed) if study.fixed else 'none (the entry defaults)'}; "
        "an empty cell is a conditional value that does not apply (e.g. momentum for Adam).",
        f"Started {stored.get('created')}.",
    ]
    title = f"{study.entry.name}: {study.study} study ({studies.TUNER_NAMES[study.tuner]})"
    _write_text(study.directory / "results.csv", to_csv(rows))
    _write_text(study.directory / "results.md", to_markdown(rows, title, notes))
    if studies.is_one_factor(study.study) and finished:
        bar_chart(study, rows, study.directory / f"{study.study}.png")
    best = best_hparams(study, rows)
    if best is not None:
        oracles.write_json_atomic(str(study.directory / "best_hparams.json"), best)
    print(f"\n{title}: {study.describe()}")
    print(f"Top {min(top, finished)} of {finished} finished trials (ranked by {study.objective_name}; test figures "
          "after the search):")
    print(top_table(rows, top))
    print(f"[zoo] wrote {study.directory}/results.csv, results.md"
          + (f", {study.study}.png" if studies.is_one_factor(study.study) and finished else "")
          + (", best_hparams.json" if best else ""), flush=True)
    return rows

