"""The report's Task 1 end to end: the MNIST studies' winners carried to CIFAR-10,
and one table beside the report's figures.

``make study-task1`` runs the one-factor and joint studies of ``mnist_mlp`` and
``mnist_cnn`` with ``zoo tune``, then ``zoo task1``, which

1. reads each study's ``best_hparams.json`` and ``results.csv`` under the tuning
   directory (when a study ran under several tuners, the best validation figure wins);
2. builds two configurations per architecture, as the report did: *parameters*, the
   winners of the four one-factor studies together, and *hyperparameters*, the joint
   study's winner; and, where the ``refine`` study ran, *refined*: its winner, with
   flips added on CIFAR-10;
3. trains ``cifar10_mlp`` and ``cifar10_cnn`` with each at 12 and 24 epochs
   (``zoo.training.train``; a finished run is reused, an interrupted one resumes);
4. writes ``task1.md`` and ``task1.csv``: every figure beside the report's, with
   exactly what was run (tuner, trials, epochs, training examples).
"""

import csv
import io
import json
import os
import pathlib

from zoo import errors

from tuning import search, studies

ARCHITECTURES = ("mlp", "cnn")

# The report's figures (reference/report.md, Task 1), with the value it found best.
REPORT_MNIST = {
    ("mlp", "initializers"): (0.9845, "random_uniform"),
    ("mlp", "activations"): (0.9829, "sigmoid"),
    ("mlp", "optimizers"): (0.9843, "adam"),
    ("mlp", "regularizers"): (0.9828, "dropout"),
    ("mlp", "joint"): (0.9795, "sgd, lr 0.1, momentum 0, batch 64"),
    ("cnn", "initializers"): (0.8987, "he_normal"),
    ("cnn", "activations"): (0.8779, "linear"),
    ("cnn", "optimizers"): (0.9915, "adam"),
    ("cnn", "regularizers"): (0.8767, "l2"),
    ("cnn", "joint"): (0.9912, "adadelta, lr 0.1, momentum 0.9, eps 1e-4, batch 64, dropout"),
}
# The studies with a figure in the report (refine goes beyond it).
REPORT_STUDIES = (*studies.ONE_FACTOR, "joint")
# Mirror images keep CIFAR-10's classes (not MNIST's digits), so the refine study's
# winner, which already shifts its inputs, also flips them on CIFAR-10.
REFINED_CIFAR_EXTRAS = {"flip": True}
# CIFAR-10 with the MNIST winners. The report gives epochs only for the CNN's
# hyperparameters (12 and 24); its other runs used the examples' 12.
REPORT_CIFAR = {
    ("mlp", "parameters", 12): 0.4697,
    ("mlp", "hyperparameters", 12): 0.49,
    ("cnn", "parameters", 12): 0.57,
    ("cnn", "hyperparameters", 12): 0.65,
    ("cnn", "hyperparameters", 24): 0.69,
}


def find_study(root, entry, study):
    """The study directory of ``entry``/``study`` with the best validation figure, or None."""
    best = None
    for folder in sorted((pathlib.Path(root) / entry).glob(f"{study}-*")):
        path = folder / "best_hparams.json"
        if not path.exists():
            continue
        data = json.loads(path.read_text())
        if best is None or (data.get("val_accuracy") or 0) > (best[1].get("val_accuracy") or 0):
            best = (folder, data)
    return best


def what_ran(folder):
    """A study's budget in words, from its own files."""
    stored = json.loads((folder / "study.json").read_text())
    fingerprint = stored["fingerprint"]
    with open(folder / "results.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    finished = sum(row["status"] == "completed" for row in rows)
    data = fingerprint["data"]
    examples = f"{data['limit']} training examples (random subset)" if data.get("limit") else "all training examples"
    return (f"{search.TUNER_NAMES[fingerprint['tuner']]}, {finished}/{len(rows)} trials, "
            f"{search.epochs_text(fingerprint['epochs'])}, {examples}")


def _winner(root, entry, study):
    """The best hyperparameters of ``entry``'s ``study`` without its epochs, or None."""
    found = find_study(root, entry, study)
    if found is None:
        return None
    return {key: value for key, value in found[1]["hparams"].items() if key != "epochs"}


def carried_configurations(root, architecture):
    """The *parameters*, *hyperparameters* and *refined* configurations of one architecture.

    Returns:
        ``({name: config}, notes)``; a configuration is missing when its studies are.
    """
    entry = f"mnist_{architecture}"
    parameters, notes = {}, []
    for study in studies.ONE_FACTOR:
        hparams = _winner(root, entry, study)
        if hparams is None:
            notes.append(f"{entry}: no {study} study in {root}")
        else:
            parameters.update(hparams)
    configurations = {}
    if parameters:
        configurations["parameters"] = parameters
    joint = _winner(root, entry, "joint")
    if joint is None:
        notes.append(f"{entry}: no joint study in {root}")
    else:
        configurations["hyperparameters"] = joint
    refine = _winner(root, entry, "refine")
    if refine is not None:
        configurations["refined"] = {**refine, **REFINED_CIFAR_EXTRAS}
    return configurations, notes


def _describe(config):
    return ", ".join(f"{key}={value}" for key, value in config.items())


def carry(root, out, cifar_data=None, epochs=(12, 24), seed=42, verbose=1):
    """Train the carried configurations on CIFAR-10 (reusing finished runs).

    Returns:
        list of dicts: architecture, configuration, epochs, config, metrics, seconds, path.
    """
    from zoo import registry, training

    runs = []
    for architecture in ARCHITECTURES:
        configurations, _ = carried_configurations(root, architecture)
        name = f"cifar10_{architecture}"
        entry = registry.get(name)
        for label, config in configurations.items():
            for count in epochs:
                folder = pathlib.Path(out) / "cifar10" / f"{name}-{label}-{count}e"
                wanted = entry.resolve(config, {"epochs": count})
                done = folder / "metrics.json"
                finished = done.exists() and json.loads((folder / "hparams.json").read_text()) == json.loads(
                    json.dumps(wanted))
                if finished:
                    run = {**json.loads((folder / "run.json").read_text()), "metrics": json.loads(done.read_text())}
                    print(f"[zoo] reusing {folder}", flush=True)
                else:
                    print(f"[zoo] {name} with the MNIST {label} ({_describe(config)}), {count} epochs", flush=True)
                    run = training.train(name, data=cifar_data, epochs=count, overrides=config, seed=seed,
                                         out=folder, verbose=verbose)
                runs.append({
                    "architecture": architecture, "configuration": label, "epochs": count, "config": config,
                    "metrics": run["metrics"], "seconds": run.get("train_seconds"), "data": run.get("data", {}),
                    "path": str(folder),
                })
    return runs


def table(root, runs):
    """The Task 1 rows: MNIST studies, then the CIFAR-10 runs, each beside the report."""
    rows = []
    for architecture in ARCHITECTURES:
        entry = f"mnist_{architecture}"
        for study in studies.STUDIES:
            found = find_study(root, entry, study)
            if study not in REPORT_STUDIES and found is None:
                continue  # a study beyond the report appears only when it ran
            report, report_best = REPORT_MNIST.get((architecture, study), (None, None))
            row = {"model": entry, "data": "MNIST", "study or configuration": study, "epochs": "",
                   "best values": "", "val_accuracy": "", "test_accuracy": "",
                   "report": f"{report} ({report_best})" if report is not None else "beyond the report",
                   "what ran": "not run"}
            if found is not None:
                folder, best = found
                tuned = {key: value for key, value in best["hparams"].items() if key != "epochs"}
                fixed = json.loads((folder / "study.json").read_text())["fingerprint"]["fixed"]
                row.update({
                    "epochs": best["hparams"].get("epochs", ""),
                    "best values": _describe({key: value for key, value in tuned.items() if key not in fixed}),
                    "val_accuracy": f"{best['val_accuracy']:.4f}" if best.get("val_accuracy") is not None else "",
                    "test_accuracy": f"{best['test_accuracy']:.4f}" if best.get("test_accuracy") is not None else "",
                    "what ran": what_ran(folder),
                })
            rows.append(row)
    for run in runs:
        report = REPORT_CIFAR.get((run["architecture"], run["configuration"], run["epochs"]))
        data = run["data"]
        rows.append({
            "model": f"cifar10_{run['architecture']}", "data": "CIFAR-10",
            "study or configuration": f"MNIST {run['configuration']}", "epochs": run["epochs"],
            "best values": _describe(run["config"]), "val_accuracy": "",
            "test_accuracy": f"{run['metrics']['test_accuracy']:.4f}",
            "report": "" if report is None else f"{report}",
            "what ran": (f"zoo train, {data.get('train', '?')} training / {data.get('val', '?')} validation / "
                         f"{data.get('test', '?')} test images, {run['seconds']:.0f} s"
                         if run.get("seconds") is not None else "zoo train"),
        })
    return rows


def write(root, out, runs, notes=()):
    """Write ``task1.md`` and ``task1.csv`` into ``out``; return the Markdown."""
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows = table(root, runs)
    columns = list(rows[0])
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    _replace(out / "task1.csv", buffer.getvalue())
    lines = [
        "# Task 1: the report's studies, reproduced with zoo tune", "",
        "- MNIST rows: the best trial of each study, ranked on validation accuracy (a split of the training set); "
        "its test accuracy is that trial's best-epoch weights on the whole test set, measured once after "
        "the search. The report's figures are its test accuracies after 12 epochs.",
        "- CIFAR-10 rows: `zoo train` with the MNIST winners (*parameters*: the four one-factor winners together; "
        "*hyperparameters*: the joint study's winner), test accuracy after the given epochs.",
        "- 'what ran' is read from each study's own files: tuner, finished trials, epochs, training examples.",
        *(f"- Note: {note}" for note in notes), "",
        "| " + " | ".join(columns) + " |",
        "|" + "|".join("---:" if column in ("epochs", "val_accuracy", "test_accuracy", "report") else "---"
                       for column in columns) + "|",
    ]
    lines += ["| " + " | ".join(str(row[column]) or "–" for column in columns) + " |" for row in rows]
    markdown = "\n".join(lines) + "\n"
    _replace(out / "task1.md", markdown)
    return markdown


def _replace(path, text):
    temporary = path.with_name(path.name + ".partial")
    temporary.write_text(text)
    os.replace(temporary, path)


def run(root=None, out=None, cifar_data=None, epochs=(12, 24), seed=42, verbose=1, skip_cifar=False):
    """The whole Task 1 step after the MNIST studies: carry, train, tabulate.

    Raises:
        ZooError: no MNIST study was found under ``root``.
    """
    root = pathlib.Path(root or search.DEFAULT_DIRECTORY)
    out = pathlib.Path(out or root / "task1")
    notes = []
    for architecture in ARCHITECTURES:
        notes += carried_configurations(root, architecture)[1]
    if all(find_study(root, f"mnist_{arch}", study) is None for arch in ARCHITECTURES for study in studies.STUDIES):
        raise errors.ZooError(f"no mnist_mlp or mnist_cnn study under {root}; run `make study-task1` or zoo tune first")
    runs = [] if skip_cifar else carry(root, out, cifar_data=cifar_data, epochs=epochs, seed=seed, verbose=verbose)
    markdown = write(root, out, runs, notes)
    print(markdown)
    print(f"[zoo] wrote {out / 'task1.md'} and {out / 'task1.csv'}")
    return markdown
