"""``zoo results``: the figures of finished runs, beside the report's.

Reads every run folder under ``artifacts/`` (``metrics.json``, ``run.json``,
``hparams.json``) and prints one row per run: the headline test figure, the
report's figure for the same model where it has one, training time, throughput,
and the command that reproduces the run. Only measured numbers appear; a run that
has not been made is simply absent.
"""

import json
import pathlib

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
