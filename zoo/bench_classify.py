"""``zoo bench-classify``: a shipped image classifier through the real ``zoo classify``,
against its card (issue #35: on 1,000 test images the accuracy equals the card's
within 0.1 points; a cold call on one image takes at most 0.5 s).

The first ``--count`` test images of the model's dataset are written as PNG files
(``00042_label7.png``; with ``--invert``, dark on white, which the card's
``light_on_dark`` polarity must undo), classified by ``zoo classify FOLDER --json``
in a subprocess, and scored against their labels. The card's test accuracy is over
the whole test set, so the same images are also classified in-process by the same
onnxruntime model straight from the arrays (no PNG, no file reading): the CLI's
accuracy must equal that one exactly, since PNG keeps uint8 pixels as they are.
Then ``zoo classify ONE.png`` is timed cold (fresh subprocesses, median and max).

Importing this module imports click only; numpy, Pillow and onnxruntime come in when
the command runs, TensorFlow never (the data is read from local files, not downloaded).
"""

import json
import pathlib
import subprocess
import sys
import tempfile
import time

import click

from zoo.common import commands
from zoo import errors

TARGETS = {"accuracy_points": 0.1, "cold_classify_seconds": 0.5}
SHOWN_DISAGREEMENTS = 20


def dataset_of(card, given=None):
    """The name of the dataset a classifier's card was trained on.

    ``given`` (``--dataset``) wins; then the card's ``dataset``; then the entry's name
    (``mnist_cnn`` -> mnist, ``fashion_mnist_bncnn`` -> fashion_mnist, the longest
    dataset name it starts with); then a dataset whose class names are the card's.

    Raises:
        ZooError: none of them tells.
    """
    from zoo import datasets

    known = {name: info for name, info in datasets.DATASETS.items() if info.class_names}
    for candidate in (given, card.get("dataset")):
        if candidate is not None:
            if candidate not in known:
                raise errors.ZooError(f"unknown classification dataset {candidate!r}; known: {', '.join(known)}")
            return candidate
    entry = str(card.get("entry", ""))
    prefixes = [name for name in known if entry == name or entry.startswith(name + "_")]
    if prefixes:
        return max(prefixes, key=len)
    names = (card.get("decode") or {}).get("class_names")
    for name, info in known.items():
        if names == list(info.class_names):
            return name
    raise errors.ZooError(f"cannot tell which dataset {entry!r} was trained on (not in its card, name or class "
                          f"names); pass --dataset ({', '.join(known)})")


def _test_arrays(dataset, data):
    """The dataset's test images and labels from local files (never a download)."""
    from zoo import datasets

    found = datasets.locate(dataset, data)
    if found is None:
        info = datasets.info_of(dataset)
        raise errors.DataError(f"no {dataset} data found: looked at {datasets.looked_at(dataset)}; {info.how_to_get}")
    arrays = datasets.read(found, datasets.info_of(dataset))
    return arrays.x_test, arrays.y_test, arrays.class_names, str(found)


def _check_input(model, shape):
    """The model takes the dataset's images as they are (so the arrays go in unchanged)."""
    inputs = model.card.get("inputs") or [{}]
    wanted = list(inputs[0].get("shape") or [])[1:]
    if wanted != list(shape):
        raise errors.ZooError(f"{model.name} takes images of shape {wanted}, not the dataset's {list(shape)}; "
                              "this benchmark feeds the test arrays unchanged")


def write_pngs(folder, images, labels, invert=False):
    """Each image as ``folder/IIIII_labelL.png`` (grey or RGB, 255 - x with ``invert``)."""
    from PIL import Image

    paths = []
    width = max(5, len(str(len(images) - 1)))
    for index, (image, label) in enumerate(zip(images, labels)):
        pixels = 255 - image if invert else image
        path = pathlib.Path(folder) / f"{index:0{width}d}_label{int(label)}.png"
        Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels).save(path)
        paths.append(path)
    return paths


def in_process(session, model, images, batch_size=256):
    """Class indices of uint8 (N, H, W, C) images through the session, as float32 0..255."""
    import numpy as np

    from serve import classifier

    predicted = []
    for start in range(0, len(images), batch_size):
        batch = images[start:start + batch_size].astype(np.float32)
        predicted.append(np.argmax(classifier.probabilities_of(session, model, batch), axis=1))
    return np.concatenate(predicted)


def _zoo_command(*args):
    return [sys.executable, "-m", "zoo.cli", *map(str, args)]


def run_classify(folder, model_arg, provider):
    """``zoo classify FOLDER --json`` in a subprocess: ``(report, wall seconds)``."""
    command = _zoo_command("classify", folder, "--model", model_arg, "--json", "--provider", provider)
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    try:
        report = json.loads(result.stdout)
    except ValueError:
        message = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise errors.ZooError(f"`zoo classify` failed (exit {result.returncode}): {message}") from None
    return report, seconds


def cold_calls(image, model_arg, provider, runs):
    """Wall time of ``zoo classify ONE.png`` in fresh subprocesses: median, max, all."""
    from serve import bench as serving

    timing = serving.wall_time(_zoo_command("classify", image, "--model", model_arg, "--provider", provider), runs)
    timing["max_seconds"] = max(timing["all_seconds"])
    timing["command"] = f"zoo classify {pathlib.Path(image).name} --model {model_arg}"
    return timing


def _points(value, reference):
    return None if value is None or reference is None else round(100.0 * (value - reference), 3)


def _score(report, labels, offline):
    """The CLI's answers by index (from the file names): accuracy, failures, disagreements."""
    import numpy as np

    answered = np.full(len(labels), -1)
    failed = []
    for result in report.get("results", []):
        stem = pathlib.Path(result["file"]).stem
        index = int(stem.split("_label")[0])
        if "error" in result:
            failed.append(result["error"])
        else:
            answered[index] = int(result["index"])
    disagree = np.flatnonzero(answered != offline)
    rows = [{"index": int(index), "label": int(labels[index]), "zoo_classify": int(answered[index]),
             "in_process": int(offline[index])} for index in disagree[:SHOWN_DISAGREEMENTS]]
    return float(np.mean(answered == labels)), failed, int(len(disagree)), rows


def run(model_spec, data, dataset, count, cold_runs, invert, provider, log):
    """The benchmark's figures as a dict (see the module docstring)."""
    from serve import models, predict

    for option, value in (("--count", count), ("--cold-runs", cold_runs)):
        if value < 1:
            raise errors.ZooError(f"{option} must be at least 1; received {value}")
    model, session = models.load(model_spec, default="mnist", provider=provider, require="classifier")
    card = model.card
    name = dataset_of(card, dataset)
    polarity = predict.effective_preprocessing(card).get("polarity")
    if invert and polarity != "light_on_dark":
        raise errors.ZooError(f"--invert checks the light_on_dark polarity, and {model.name}'s card has "
                              f"{'no polarity' if polarity is None else f'polarity {polarity!r}'}")
    images, labels, dataset_classes, source = _test_arrays(name, data)
    _check_input(model, images.shape[1:])
    card_classes = (card.get("decode") or {}).get("class_names")
    if card_classes is not None and len(card_classes) != len(dataset_classes):
        raise errors.ZooError(f"{model.name} names {len(card_classes)} classes, {name} has {len(dataset_classes)}")
    test_size = len(images)
    used = min(count, test_size)
    images, labels = images[:used], labels[:used]
    metrics = card.get("metrics") or {}
    card_accuracy = metrics.get("test_accuracy")
    # A release name stays a name (found through $ZOO_RELEASE_DIR); a path is made absolute.
    model_arg = str(pathlib.Path(model_spec).resolve()) if model_spec and pathlib.Path(model_spec).exists() \
        else (model_spec or "mnist")

    log(f"[bench-classify] {model.name}: {used} {name} test images in-process")
    started = time.perf_counter()
    offline = in_process(session, model, images)
    in_process_seconds = time.perf_counter() - started
    offline_accuracy = float((offline == labels).mean())
    with tempfile.TemporaryDirectory(prefix="zoo-bench-classify-") as folder:
        paths = write_pngs(folder, images, labels, invert)
        log(f"[bench-classify] `zoo classify` over {used} PNG files" + (" (inverted)" if invert else ""))
        report, cli_seconds = run_classify(folder, model_arg, provider)
        log(f"[bench-classify] cold `zoo classify one.png` x{cold_runs}")
        cold = cold_calls(paths[0], model_arg, provider, cold_runs)
    cli_accuracy, failed, disagreements, rows = _score(report, labels, offline)
    result = {
        "model": {"name": model.name, "path": str(model.path), "entry": model.entry, "release": model.release,
                  "checksum": model.checksum, "polarity": polarity, "provider": report.get("provider"),
                  "megabytes": round(model.path.stat().st_size / 1e6, 3)},
        "data": {"dataset": name, "source": source, "images": used, "test_set_size": test_size,
                 "first_images_of_test_set": True, "inverted": invert,
                 "class_names_match_card": card_classes is None or list(dataset_classes) == list(card_classes)},
        "card": {"test_accuracy": card_accuracy,
                 "accuracy_metrics": {key: value for key, value in metrics.items() if "accuracy" in key}},
        "accuracy": {
            "zoo_classify": round(cli_accuracy, 6),
            "in_process": round(offline_accuracy, 6),
            "zoo_classify_minus_card_points": _points(cli_accuracy, card_accuracy),
            "zoo_classify_minus_in_process_points": _points(cli_accuracy, offline_accuracy),
            "in_process_minus_card_points": _points(offline_accuracy, card_accuracy),
            "answered": report.get("answered"),
            "failed": report.get("failed"),
            "failures": failed[:SHOWN_DISAGREEMENTS],
            "disagreements_with_in_process": disagreements,
            "disagreements_shown": rows,
        },
        "timing": {"zoo_classify_folder_seconds": round(cli_seconds, 3),
                   "in_process_seconds": round(in_process_seconds, 3),
                   "cold_classify_one": cold},
        "notes": [],
    }
    if used < test_size:
        result["notes"].append(f"the card's accuracy is over all {test_size} test images, these "
                               f"figures over the first {used}: compare zoo classify with in-process "
                               "for the exact check")
    if count > test_size:
        result["notes"].append(f"--count {count}: the test set has {test_size} images, all of them used")
    if not result["data"]["class_names_match_card"]:
        result["notes"].append(f"the data's class names {list(dataset_classes)} are not the card's: labels are "
                               "compared by index")
    result["targets"] = check_targets(result)
    return result


def check_targets(result):
    """Issue #35's figures against their targets: met, not met, or not measured."""
    accuracy = result["accuracy"]
    card_gap = accuracy["zoo_classify_minus_card_points"]
    checks = []
    for figure, value, target in (
        ("|zoo classify - card| accuracy (points)", None if card_gap is None else abs(card_gap),
         TARGETS["accuracy_points"]),
        ("|zoo classify - in-process| accuracy (points)", abs(accuracy["zoo_classify_minus_in_process_points"]),
         TARGETS["accuracy_points"]),
        ("cold `zoo classify one.png` median (s)", result["timing"]["cold_classify_one"]["median_seconds"],
         TARGETS["cold_classify_seconds"]),
    ):
        checks.append({"figure": figure, "value": value, "target": f"<= {target:g}",
                       "met": None if value is None else value <= target})
    return checks


def print_report(report, out):
    """The figures as a short table."""
    machine, model, data, accuracy = report["machine"], report["model"], report["data"], report["accuracy"]
    click.echo(f"machine: {machine['processor']}, {machine['cpus_usable']} cores usable, load "
               f"{machine.get('load_average_at_start')}; onnxruntime {machine['onnxruntime']} on {model['provider']}")
    click.echo(f"{model['name']} ({model['entry']}, {model['megabytes']} MB): the first {data['images']} of "
               f"{data['test_set_size']} {data['dataset']} test images" + (", inverted" if data["inverted"] else ""))
    card = report["card"]["test_accuracy"]
    header = f"{'accuracy':<44} {'value':>8} {'- card (pts)':>13}"
    click.echo(header + "\n" + "-" * len(header))
    rows = (("card (whole test set)", card, None),
            ("in-process onnxruntime, the arrays", accuracy["in_process"], accuracy["in_process_minus_card_points"]),
            ("zoo classify, the PNG files", accuracy["zoo_classify"], accuracy["zoo_classify_minus_card_points"]))
    for label, value, gap in rows:
        click.echo(f"{label:<44} {'-' if value is None else f'{value:.4f}':>8} "
                   f"{'' if gap is None else f'{gap:+.2f}':>13}")
    click.echo(f"zoo classify vs in-process: {accuracy['zoo_classify_minus_in_process_points']:+.3f} points, "
               f"{accuracy['disagreements_with_in_process']} images answered differently, {accuracy['failed']} failed")
    cold, timing = report["timing"]["cold_classify_one"], report["timing"]
    click.echo(f"{cold['command']} (cold): median {cold['median_seconds']:.3f} s, max {cold['max_seconds']:.3f} s "
               f"over {cold['runs']} run{'s' if cold['runs'] > 1 else ''}; "
               f"the folder took {timing['zoo_classify_folder_seconds']:.2f} s")
    for note in report["notes"]:
        click.echo(f"note: {note}")
    click.echo("targets:")
    for check in report["targets"]:
        verdict = "not measured" if check["met"] is None else ("met" if check["met"] else "NOT met")
        value = "-" if check["value"] is None else f"{check['value']:g}"
        click.echo(f"  {check['figure']:<48} {value:>9} (target {check['target']}): {verdict}")
    click.echo(f"wrote {out}")


@click.command("bench-classify", cls=commands.Command)
@click.option("--model", "model_spec", default="mnist", show_default=True, metavar="NAME|PATH",
              help="A release name (mnist, cifar10), a model.onnx or an export folder of an image classifier.")
@click.option("--data", type=click.Path(), default=None,
              help="The dataset's files (.npz, IDX files, CIFAR batches, image folders or their .zip) "
                   "[default: $ZOO_DATA_DIR, then the system and Keras caches; never downloaded].")
@click.option("--dataset", default=None, metavar="NAME",
              help="The model's dataset (mnist, fashion_mnist, cifar10) [default: from its card].")
@click.option("--count", type=int, default=1000, show_default=True, help="The first COUNT test images.")
@click.option("--cold-runs", type=int, default=5, show_default=True, help="Cold `zoo classify one.png` runs.")
@click.option("--invert", is_flag=True, help="Write the images dark on white (255 - x): the card's light_on_dark "
              "polarity must turn them back.")
@click.option("--provider", type=click.Choice(["auto", "cuda", "cpu"]), default="auto", show_default=True,
              help="onnxruntime execution provider, in-process and for zoo classify.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of the table.")
@click.option("--out", default="bench-classify.json", show_default=True, metavar="FILE",
              help="Where to write the JSON.")
def bench_classify(model_spec, data, dataset, count, cold_runs, invert, provider, as_json, out):
    """Benchmark a classifier through the real `zoo classify`, against its card.

    Writes the first --count test images as PNG files (00042_label7.png), runs
    `zoo classify FOLDER --json` on them, and compares its accuracy with the card's
    test accuracy (over the whole test set) and with the same model run in-process
    on the same arrays (equal unless reading the files changes something); then
    times a cold `zoo classify one.png` (median and max of --cold-runs). Writes
    --out with the machine's facts and prints a table. Run it on an idle machine.

    \b
    Examples:
      zoo bench-classify --model mnist --data mnist.npz
      zoo bench-classify --model mnist --data mnist.npz --invert
      zoo bench-classify --model cifar10 --data cifar10.npz --out cifar10-bench.json
    """
    from serve import bench as serving
    from zoo.common import files

    def log(message):
        click.echo(message, err=True)

    machine = serving.machine_facts()
    report = {"started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    report.update(run(model_spec, data, dataset, count, cold_runs, invert, provider, log))
    report["machine"] = {**serving.machine_facts(), "load_average_at_start": machine.get("load_average")}
    try:
        files.write_json(out, report)
    except OSError as error:
        raise errors.ZooError(f"cannot write {out}: {error.strerror or error}") from None
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        print_report(report, out)


COMMANDS = [bench_classify]
