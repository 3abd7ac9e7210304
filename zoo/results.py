"""``zoo results``: the measured figures, from ``results/*.csv`` and finished runs.

The committed tables under ``results/`` (one row per figure of a measured run: entry,
data, metric, value, training time, machine, date, command, notes) are what the
project has measured; :func:`read_table` reads them with the standard library only,
so ``zoo results`` starts without TensorFlow. Finished run folders under
``artifacts/`` (``metrics.json``, ``run.json``, ``hparams.json``) are folded in after
them (:func:`collect`, :func:`run_rows`): the headline test figure, the report's
figure for the same model where it has one, and the command that reproduces the run.
"""

import csv
import json
import pathlib

from zoo import errors

# The repository's results folder, beside the package.
RESULTS_DIR = pathlib.Path(__file__).resolve().parents[1] / "results"
COLUMNS = ("entry", "data", "metric", "value", "train_seconds", "machine", "date", "command", "notes")
# Columns that hold numbers: ``value`` always, ``train_seconds`` when it was recorded.
NUMERIC = ("value", "train_seconds")

# The report's test figures, keyed by entry and the hyperparameters that define the row.
REPORT = {
    ("mnist_mlp", ()): ("test_accuracy", 0.9821, "Task 1.1 MLP"),
    ("mnist_cnn", ()): ("test_accuracy", 0.8464, "Task 1.1 CNN (Adadelta, lr 0.001)"),
    ("mnist_cnn", (("optimizer", "adam"),)): ("test_accuracy", 0.9915, "Table 3: CNN with Adam"),
    ("mnist_mlp", (("optimizer", "adam"),)): ("test_accuracy", 0.9843, "Table 1: MLP with Adam"),
    ("cifar10_mlp", ()): ("test_accuracy", 0.4697, "Section 1.5: MLP"),
    ("cifar10_cnn", ()): ("test_accuracy", 0.57, "Section 1.5: CNN"),
    ("clock_regressor", (("loss", "mae"),)): ("test_cse_mean", 14.26, "Table 6: MAE"),
    ("clock_regressor", (("loss", "mse"),)): ("test_cse_mean", 11.48, "Table 6: MSE"),
}
HEADLINE = {"classification": "test_accuracy", "clock": "test_cse_mean"}


def read_table(folder=None):
    """Every row of the ``*.csv`` files in ``folder`` (default: the repository's ``results/``).

    Args:
        folder: a folder of CSV files with the header :data:`COLUMNS`.

    Returns:
        list of dicts keyed by :data:`COLUMNS`, plus ``source`` (the file's name);
        ``value`` a float, ``train_seconds`` a float or None.

    Raises:
        zoo.errors.DataError: the folder is missing, holds no CSV file, or a file has
            other columns or a value that is not a number.

    Example:
        >>> rows = read_table()
        >>> sorted({row["source"] for row in rows})[:1]
        ['classifiers.csv']
    """
    folder = pathlib.Path(folder) if folder is not None else RESULTS_DIR
    files = sorted(folder.glob("*.csv")) if folder.is_dir() else []
    if not files:
        raise errors.DataError(f"no results tables (*.csv) in {folder}: they ship with the repository's source "
                               "checkout, beside the zoo package")
    rows = []
    for path in files:
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            if tuple(reader.fieldnames or ()) != COLUMNS:
                raise errors.DataError(f"{path}: columns must be {','.join(COLUMNS)}, got {reader.fieldnames}")
            for line, row in enumerate(reader, start=2):
                for column in NUMERIC:
                    text = (row[column] or "").strip()
                    if not text and column == "train_seconds":
                        row[column] = None
                        continue
                    try:
                        row[column] = float(text)
                    except ValueError:
                        raise errors.DataError(f"{path}:{line}: {column} must be a number, got {text!r}") from None
                rows.append({**row, "source": path.name})
    return rows


def select(rows, entry=None, data=None, metric=None):
    """The rows of one entry (with its ``report:`` figures), whose data mentions
    ``data`` (case-insensitive), and whose metric starts with ``metric``."""
    chosen = []
    for row in rows:
        if entry and row["entry"] not in (entry, f"report:{entry}"):
            continue
        if data and data.lower() not in (row["data"] or "").lower():
            continue
        if metric and not row["metric"].startswith(metric):
            continue
        chosen.append(row)
    return chosen


def has_runs(root="artifacts"):
    """Whether any folder under ``root`` holds a ``run.json`` (no TensorFlow needed to ask)."""
    root = pathlib.Path(root)
    return root.is_dir() and next(root.rglob("run.json"), None) is not None


def run_rows(root="artifacts"):
    """The finished runs under ``root`` (:func:`collect`) as rows of the results tables."""
    rows = []
    for run in collect(root):
        machine = run.get("machine") or {}
        notes = f"run folder {run['run']}; {run['epochs']} epochs, {run['samples_per_second']:.0f} samples/s"
        if run["report"] is not None:
            notes += f"; the report: {run['report']} ({run['report_source']})"
        value = run["value"]
        rows.append({
            "entry": run["entry"], "data": run.get("data", ""), "metric": run["metric"],
            "value": float(value) if isinstance(value, (int, float)) else value,
            "train_seconds": round(run["train_minutes"] * 60, 1),
            "machine": f"{machine.get('processor', '')} x{machine.get('cpu_count', '')}" if machine else "",
            "date": (run.get("finished") or "")[:10], "command": run["command"], "notes": notes,
            "source": run["run"],
        })
    return rows


def table(rows, width=None):
    """The rows as an aligned plain-text table; ``data`` and ``notes`` are cut to fit
    ``width`` characters a line (no cut when None)."""
    def shown(row, column):
        value = row[column]
        if value is None:
            return ""
        if column == "value":
            return f"{value:.6g}" if isinstance(value, float) else str(value)
        if column == "train_seconds":
            return f"{value:.0f}"
        return str(value)

    columns = ("entry", "metric", "value", "train_seconds", "date", "machine", "data", "notes")
    cells = [[shown(row, column) for column in columns] for row in rows]
    header = ["entry", "metric", "value", "train s", "date", "machine", "data", "notes"]
    widths = [max([len(header[index])] + [len(line[index]) for line in cells]) for index in range(len(columns))]
    if width is not None:
        fixed = sum(widths[:6]) + 2 * 7
        room = max(width - fixed, 40)
        widths[6] = min(widths[6], max(room // 3, 24))
        widths[7] = max(room - widths[6], 12)

    def line(values):
        parts = []
        for index, value in enumerate(values):
            if len(value) > widths[index]:
                value = value[: widths[index] - 3] + "..."
            parts.append(value.rjust(widths[index]) if index in (2, 3) else value.ljust(widths[index]))
        return "  ".join(parts).rstrip()

    return "\n".join([line(header), line(["-" * size for size in widths])] + [line(values) for values in cells])


def _read(path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def collect(root="artifacts"):
    """One dict per finished run folder under ``root`` (any depth)."""
    from zoo import registry

    rows = []
    for run_file in sorted(pathlib.Path(root).rglob("run.json")):
        folder = run_file.parent
        run, metrics, hparams = _read(run_file), _read(folder / "metrics.json"), _read(folder / "hparams.json")
        if not (run and metrics and hparams) or run.get("entry") not in registry.names() or "train_seconds" not in run:
            continue
        entry = registry.get(run["entry"])
        changed = {key: value for key, value in hparams.items() if entry.settings.get(key) != value
                   and not (isinstance(value, list) and list(entry.settings.get(key) or ()) == value)}
        key = tuple(sorted((k, v) for k, v in changed.items() if k in ("optimizer", "loss", "bins")))
        metric, reference, source = REPORT.get((run["entry"], key), (HEADLINE.get(entry.task), None, ""))
        if metric is None or metric not in metrics:
            metric = next(iter(metrics), None)
        overrides = " ".join(f"--hp {k}={v}" for k, v in changed.items() if k != "epochs")
        data = run.get("data", {}).get("source", "")
        command = f"zoo train {run['entry']} --epochs {run['epochs']}"
        command += f" --data {data}" if data and "rendered" not in data and "keras" not in data else ""
        command += f" {overrides}" if overrides else ""
        seconds = run["train_seconds"]
        if run.get("upright_from"):  # a reader joined to upright stages (zoo upright)
            stages = run["upright_from"] if isinstance(run["upright_from"], list) else [run["upright_from"]]
            command += ", then zoo upright --reader RUN " + " ".join(f"--upright {stage}" for stage in stages)
            weight = run.get("upright_prior_weight", 1.0)
            command += f" --prior-weight {weight}" if weight != 1.0 else ""
            seconds += run.get("upright_train_seconds") or 0.0
        rows.append({
            "run": str(folder), "entry": run["entry"], "metric": metric, "value": metrics.get(metric),
            "report": reference, "report_source": source, "epochs": run["epochs"],
            "train_minutes": round(seconds / 60, 1), "samples_per_second": run["samples_per_second"],
            "jit_compile": run["jit_compile"], "command": command, "metrics": metrics,
            "data": data, "machine": run.get("machine"), "finished": run.get("finished", ""),
        })
    return rows


def markdown(rows):
    """The rows as a Markdown table."""
    lines = [
        "| entry | test figure | value | report | epochs | training | command |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        value = row["value"]
        shown = f"{value:.4f}" if isinstance(value, float) else str(value)
        report = f"{row['report']} ({row['report_source']})" if row["report"] is not None else ""
        lines.append(
            f"| {row['entry']} | {row['metric']} | {shown} | {report} | {row['epochs']} | "
            f"{row['train_minutes']} min, {row['samples_per_second']:.0f}/s | `{row['command']}` |"
        )
    return "\n".join(lines)
