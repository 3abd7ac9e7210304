"""``make release``: build the release models that ship in ``serve/release/``.

Each release model is declared once in :data:`RELEASES`: its entry, its run folder
and the named recipe it trains with (``Entry.recipes``; none: the entry's defaults),
for the clock reader whether its confidence is calibrated (and any upright stages
that vote in front of it), and for the classifiers the test-accuracy drop within which
an int8 twin ships beside the float32 model (``<name>.int8.onnx``). For each, this
uses the trained run folder if there is one, or trains it first
(:func:`zoo.training.train`); exports it with :func:`export.export_entry` (every
export gate); and installs ``model.onnx`` and ``card.json`` as ``<name>.onnx`` and
``<name>.card.json``, atomically (temporary files, then renames), after checking the
file against its card. The card records the recipe.

Big models (over :data:`FLOAT16_ABOVE_BYTES`, i.e. the face generator) are stored
with float16 weights when that keeps every output within the entry's parity
tolerance: each float32 weight becomes a float16 initializer and a ``Cast`` back to
float32, which onnxruntime folds at load time, so the model computes in float32
from half the bytes. The card's ``quantization`` says so, with the measured
difference; otherwise the float32 model ships and its size is reported.

This module imports TensorFlow (it trains and exports); the serve commands never
import it.

Example:
    python -m export.release                       # all, from artifacts/ (training if needed)
    python -m export.release --only clock --run clock=runs/clock_polar_best
    python -m export.release --only clock --clock-backgrounds ../shared/datasets/cifar10-jpg.zip
"""

import json
import os
import pathlib
import shutil
import time

import click
import numpy as np

from serve import models
from zoo import errors


class Stage:
    """A run folder, and the recipe and precision (``zoo train --precision``) that train
    it when it is empty."""

    def __init__(self, entry, run, recipe=None, precision="float32"):
        self.entry, self.run, self.recipe, self.precision = entry, pathlib.Path(run), recipe, precision

    def describe(self):
        return {"entry": self.entry, "run": str(self.run), "recipe": self.recipe, "precision": self.precision}


RELEASES = {
    # The reader trained on world and classic clocks (recipe world), its confidence
    # calibrated on its world validation clocks (the harder ones); read alone, without
    # the upright stages of the classic reader (docs/clock-reader.md).
    "clock": {"model": Stage("clock_polar", "artifacts/clock_world", recipe="world"), "calibrate": "world"},
    # The generator with face_gan's defaults (the report's GAN setup 1): the same run folder
    # make study-faces trains its gan-64-128 setup into, so one training serves both.
    "faces": {"model": Stage("face_gan", "artifacts/faces/gan-64-128", precision="mixed_bfloat16")},
    # The classifiers ship with an int8 twin when the export gate keeps its test accuracy
    # within 0.2 points of float32 (and it is faster).
    "mnist": {"model": Stage("mnist_bncnn", "artifacts/mnist_bncnn", precision="mixed_bfloat16"),
              "int8_drop": 0.2},
    "cifar10": {"model": Stage("cifar10_airbench", "artifacts/cifar10_airbench",
                               precision="mixed_bfloat16"),
                "int8_drop": 0.2},
}
SHIPPED = pathlib.Path(__file__).resolve().parents[1] / "serve" / "release"
FLOAT16_ABOVE_BYTES = 8_000_000
# Weights smaller than this stay float32: the Cast would cost more than it saves.
FLOAT16_MIN_ELEMENTS = 1024
FLOAT16_MAX = 65504.0
CHECK_ROWS = 64


def _log(message):
    click.echo(f"[release] {message}")


def float16_weights(proto, min_elements=FLOAT16_MIN_ELEMENTS):
    """Store an ONNX model's large float32 initializers as float16, each followed by a
    ``Cast`` to float32 (in place).

    Initializers that are graph inputs, or hold values beyond float16's range, stay
    float32.

    Args:
        proto: ``onnx.ModelProto``.
        min_elements: smaller initializers stay float32.

    Returns:
        the number of initializers converted.

    Example:
        >>> float16_weights(onnx.load("model.onnx"))  # doctest: +SKIP
        23
    """
    import onnx
    from onnx import numpy_helper

    graph = proto.graph
    graph_inputs = {item.name for item in graph.input}
    casts, converted = [], 0
    for index, initializer in enumerate(list(graph.initializer)):
        if initializer.data_type != onnx.TensorProto.FLOAT or initializer.name in graph_inputs:
            continue
        array = numpy_helper.to_array(initializer)
        if array.size < min_elements or not np.all(np.isfinite(array)) or np.abs(array).max() > FLOAT16_MAX:
            continue
        name = initializer.name  # read before CopyFrom: ``initializer`` is the message being replaced
        half = numpy_helper.from_array(array.astype(np.float16), name=f"{name}__float16")
        graph.initializer[index].CopyFrom(half)
        casts.append(onnx.helper.make_node("Cast", [half.name], [name], to=onnx.TensorProto.FLOAT,
                                           name=f"{name}__to_float32"))
        converted += 1
    for offset, node in enumerate(casts):
        graph.node.insert(offset, node)
    return converted


def _check_inputs(card, rows=CHECK_ROWS, seed=0):
    """Inputs to compare two versions of a model on: z ~ N(0, I), images uniform in [0, 255]."""
    rng = np.random.default_rng(seed)
    inputs = {}
    for item in card["inputs"]:
        shape = [rows] + [size for size in item["shape"][1:]]
        if item.get("range"):
            low, high = item["range"]
            inputs[item["name"]] = rng.uniform(low, high, shape).astype(np.float32)
        else:
            inputs[item["name"]] = rng.standard_normal(shape).astype(np.float32)
    return inputs


def _outputs(path, inputs):
    session = models.open_session(path, "cpu")
    names = [output.name for output in session.get_outputs()]
    return dict(zip(names, session.run(names, inputs)))


def install(export_dir, out_dir, name, weights="auto", log=_log, recipe=None):
    """Install an export folder's model as release model ``name``, atomically.

    Args:
        export_dir: a ``zoo export`` folder (``model.onnx``, ``card.json``).
        out_dir: the release folder (``serve/release``).
        name: the release name (``clock``, ``faces``).
        weights: ``float32``, ``float16``, or ``auto`` (float16 above
            :data:`FLOAT16_ABOVE_BYTES` when within the parity tolerance).
        log: where progress lines go.
        recipe: how the release was trained (written into the card's ``release``).

    Returns:
        dict: the installed card.

    Raises:
        ZooError: the export does not match its card, or float16 was asked for and
            exceeds the tolerance.
    """
    import onnx

    from export import card as cards

    export_dir, out_dir = pathlib.Path(export_dir), pathlib.Path(out_dir)
    source = export_dir / "model.onnx"
    card_path = export_dir / "card.json"
    if not source.is_file() or not card_path.is_file():
        raise errors.ZooError(f"{export_dir} is not an export folder (model.onnx and card.json)")
    card = json.loads(card_path.read_text())
    if models.sha256_of(source) != card.get("onnx_sha256"):
        raise errors.ZooError(f"{source} does not match {card_path}'s onnx_sha256; export it again")
    if weights not in ("auto", "float32", "float16"):
        raise errors.ZooError(f"--weights must be auto, float32 or float16; received {weights!r}")

    out_dir.mkdir(parents=True, exist_ok=True)
    partial_onnx = out_dir / f".{name}.onnx.partial-{os.getpid()}"
    partial_card = out_dir / f".{name}.card.json.partial-{os.getpid()}"
    partial_int8 = out_dir / f".{name}.int8.onnx.partial-{os.getpid()}"
    partial_int8_card = out_dir / f".{name}.int8.card.json.partial-{os.getpid()}"
    try:
        float32_bytes = source.stat().st_size
        shutil.copyfile(source, partial_onnx)
        want_half = weights == "float16" or (weights == "auto" and float32_bytes > FLOAT16_ABOVE_BYTES)
        if want_half:
            proto = onnx.load(str(source))
            converted = float16_weights(proto)
            half_path = out_dir / f".{name}.float16.partial-{os.getpid()}"
            try:
                onnx.save(proto, str(half_path))
                onnx.checker.check_model(str(half_path), full_check=True)
                inputs = _check_inputs(card)
                reference, candidate = _outputs(source, inputs), _outputs(half_path, inputs)
                differences = {key: float(np.max(np.abs(reference[key] - candidate[key]))) for key in reference}
                tolerance = float((card.get("parity") or {}).get("tolerance") or 1e-3)
                worst = max(differences.values())
                if worst <= tolerance:
                    card["quantization"] = {
                        "weights": "float16",
                        "method": "float16 initializers cast to float32 at load (onnxruntime folds the casts; "
                                  "the arithmetic stays float32)",
                        "initializers": converted,
                        "float32_bytes": float32_bytes,
                        "max_abs_diff": differences,
                        "tolerance": tolerance,
                        "checked_on": f"{CHECK_ROWS} inputs "
                                      f"({', '.join(item['name'] for item in card['inputs'])}), seed 0",
                    }
                    cards.embed(proto, card)
                    onnx.save(proto, str(partial_onnx))
                    log(f"{name}: float16 weights, {float32_bytes / 1e6:.1f} MB -> "
                        f"{partial_onnx.stat().st_size / 1e6:.1f} MB, "
                        f"max |difference| {worst:.2g} (tolerance {tolerance:g})")
                elif weights == "float16":
                    raise errors.ZooError(
                        f"{name}: float16 weights change the outputs by up to {worst:.3g}, "
                        f"over the tolerance {tolerance:g}"
                    )
                else:
                    log(f"{name}: float16 weights would differ by {worst:.3g} (> {tolerance:g}); shipping float32, "
                        f"{float32_bytes / 1e6:.1f} MB")
            finally:
                half_path.unlink(missing_ok=True)
        if recipe is not None:
            card["release"] = recipe
        card["onnx_file"] = f"{name}.onnx"
        card["onnx_sha256"] = models.sha256_of(partial_onnx)
        twin = _int8_twin(export_dir, name, card)
        if twin is not None:
            shutil.copyfile(export_dir / "model.int8.onnx", partial_int8)
            twin["onnx_sha256"] = models.sha256_of(partial_int8)
            partial_int8_card.write_text(cards.to_json(twin) + "\n")
        partial_card.write_text(cards.to_json(card) + "\n")
        # Card last: a reader between the two renames sees a checksum mismatch (an
        # error), never a model that silently disagrees with its card.
        os.replace(partial_onnx, out_dir / f"{name}.onnx")
        os.replace(partial_card, out_dir / f"{name}.card.json")
        if twin is not None:
            os.replace(partial_int8, out_dir / f"{name}.int8.onnx")
            os.replace(partial_int8_card, out_dir / f"{name}.int8.card.json")
        else:  # an int8 twin of an older release must not outlive it
            (out_dir / f"{name}.int8.onnx").unlink(missing_ok=True)
            (out_dir / f"{name}.int8.card.json").unlink(missing_ok=True)
    finally:
        for partial in (partial_onnx, partial_card, partial_int8, partial_int8_card):
            partial.unlink(missing_ok=True)
    return card


def _int8_twin(export_dir, name, card):
    """The card of the export's int8 model as release ``<name>.int8.onnx`` (its
    ``metrics`` are the int8 model's own test accuracy), or None when the export
    gate did not keep one. ``card`` (the float32 model's) is pointed at it."""
    quantization = card.get("quantization") or {}
    if not quantization.get("kept") or not (export_dir / "model.int8.onnx").is_file():
        return None
    quantization["file"] = f"{name}.int8.onnx"
    twin = json.loads(json.dumps(card))
    twin["onnx_file"] = f"{name}.int8.onnx"
    twin["int8_of"] = f"{name}.onnx"
    if quantization.get("metric") == "test_accuracy":
        twin["metrics"] = {"test_accuracy": quantization["value"]}
    return twin


def _train(stage, data, epochs, log, overrides=None):
    """Train ``stage`` into its run folder with its recipe (``--epochs`` wins)."""
    from zoo import training

    log(f"no trained model in {stage.run}; training {stage.entry}"
        + (f" (recipe {stage.recipe})" if stage.recipe else "") + "; this takes a while")
    training.train(stage.entry, data=data, epochs=epochs, out=stage.run, recipe=stage.recipe,
                   overrides=overrides or (), precision=stage.precision)


def build(name, model, data=None, epochs=None, out_dir=None, weights="auto", int8_drop=None, log=_log,
          upright=(), prior_weight=1.0, calibrate=None, backgrounds=None):
    """Train (if needed), export and install one release model.

    Args:
        name: the release name (``clock``, ``faces``).
        model: the :class:`Stage` of the model; trained into if its run has no ``model.keras``.
        data: the dataset path for training and export (None: the usual places).
        epochs: training epochs when training (None: the recipe's).
        out_dir: the release folder (default: the package's ``serve/release``).
        weights: see :func:`install`.
        int8_drop: None, or the largest test-accuracy drop (points) for which the
            exporter keeps an int8 model, which then ships too as ``<name>.int8.onnx``.
        log: where progress lines go.
        upright: clock only: :class:`Stage` objects of ``clock_upright`` runs (each
            trained into if empty) to put in front of the reader, voting when several.
        prior_weight: with ``upright``, the quarter prior's weight (``zoo upright --prior-weight``).
        calibrate: clock only: the scene profile to fit the reader's confidence on
            (``zoo calibrate --scenes``) before exporting, unless its run folder has a
            calibration already; None: no calibration.
        backgrounds: clock only: a folder or zip of photos behind the world clocks
            when the reader is trained (None: the renderer's own textures).

    Returns:
        dict: the installed card.
    """
    from export import exporter
    from zoo.common import commands

    commands.quiet_tensorflow()
    out_dir = pathlib.Path(out_dir) if out_dir else SHIPPED
    started = time.perf_counter()
    for stage, stage_data in ((model, data), *((stage, None) for stage in upright)):
        if (stage.run / "model.keras").is_file():
            log(f"{name}: using the trained run {stage.run}")
        else:
            overrides = ({"backgrounds": os.pathsep.join(str(pathlib.Path(part).resolve())
                                                         for part in backgrounds.split(os.pathsep))}
                         if backgrounds and stage is model else None)
            _train(stage, stage_data, epochs, lambda message: log(f"{name}: {message}"), overrides)
    if calibrate:
        from zoo.clocks import calibration

        if calibration.calibration_file(model.run).is_file():
            log(f"{name}: using the confidence calibration {calibration.calibration_file(model.run)}")
        else:
            fitted = calibration.fit_run(model.run, scenes=calibrate)
            log(f"{name}: calibrated the confidence: {calibration.summary_line(fitted['fitted']['calibrated'])}")
    run = model.run
    if upright:
        from zoo.clocks import upright as stages

        joined = stages.attach_upright(run, [stage.run for stage in upright], out=run.with_name(run.name + "_upright"),
                                       prior_weight=prior_weight)
        run = pathlib.Path(joined["path"])
        log(f"{name}: the reader behind the upright stage{'s' if len(upright) > 1 else ''} "
            f"{', '.join(str(stage.run) for stage in upright)}: {run}")
    export_dir = run / "export"
    int8 = {} if int8_drop is None else {"quantize": "int8", "max_accuracy_drop": int8_drop}
    exporter.export_entry(model.entry, run, export_dir, data=data, log=log, **int8)
    recipe = {"model": model.describe(), "upright": [stage.describe() for stage in upright],
              "prior_weight": prior_weight if upright else None}
    card = install(export_dir, out_dir, name, weights=weights, log=log, recipe=recipe)
    size = (out_dir / f"{name}.onnx").stat().st_size
    log(f"{name}: installed {out_dir / (name + '.onnx')} ({size / 1e6:.2f} MB, sha256 {card['onnx_sha256'][:12]}...) "
        f"and {name}.card.json in {time.perf_counter() - started:.0f} s; metrics {models.headline_metrics(card, 4)}")
    return card


def _named_paths(option, values):
    """``NAME=PATH`` option values as a dict, each NAME a release model."""
    named = {}
    for value in values:
        name, equals, path = value.partition("=")
        if not equals or not path or name not in RELEASES:
            raise errors.ZooError(f"{option} takes NAME=PATH with NAME one of {', '.join(sorted(RELEASES))}; "
                                  f"received {value!r}")
        named[name] = path
    return named


@click.command()
@click.option("--only", multiple=True, type=click.Choice(sorted(RELEASES)), help="Build only this model (repeatable).")
@click.option("--run", "runs", multiple=True, metavar="NAME=DIR",
              help="The run folder of release model NAME (trained into if empty) [default: RELEASES' artifacts/...].")
@click.option("--data", "datas", multiple=True, metavar="NAME=PATH",
              help="The dataset release model NAME trains and is exported on, e.g. mnist=mnist.npz, "
                   "cifar10=cifar10-jpg.zip, faces=celeba.zip [default: the usual places].")
@click.option("--clock-backgrounds", default=None, type=str,
              help="A folder or zip of photos behind the clock reader's training clocks (e.g. cifar10-jpg.zip); "
                   "several joined by ':' are drawn from equally "
                   "[default: the renderer's own textures].")
@click.option("--epochs", type=int, default=None,
              help="Training epochs when a model must be trained [default: its recipe's].")
@click.option("--weights", type=click.Choice(["auto", "float32", "float16"]), default="auto", show_default=True,
              help="auto: float16 weights for models over 8 MB when within the parity tolerance.")
@click.option("--out", "out_dir", default=None, help="The release folder [default: the package's serve/release].")
def main(only, runs, datas, clock_backgrounds, epochs, weights, out_dir):
    """Build the release models (serve/release/NAME.onnx with their cards): the clock
    reader, the face generator and the MNIST and CIFAR-10 classifiers.

    Each trains, when its run folder is empty, with the recipe RELEASES declares
    (export/release.py), so a fresh clone rebuilds what ships.

    \b
    Example:
      python -m export.release --only mnist --data mnist=../shared/datasets/mnist.npz
    """
    try:
        runs, datas = _named_paths("--run", runs), _named_paths("--data", datas)
        for name in only or sorted(RELEASES):
            release = RELEASES[name]
            declared = release["model"]
            model = Stage(declared.entry, runs.get(name, declared.run), declared.recipe, declared.precision)
            build(name, model, data=datas.get(name), epochs=epochs, out_dir=out_dir, weights=weights,
                  int8_drop=release.get("int8_drop"), upright=release.get("upright", ()),
                  prior_weight=release.get("prior_weight", 1.0), calibrate=release.get("calibrate"),
                  backgrounds=clock_backgrounds if name == "clock" else None)
    except errors.ZooError as error:
        raise click.ClickException(str(error)) from None


if __name__ == "__main__":
    main()
