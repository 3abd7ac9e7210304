"""``make release``: build the release models that ship in ``serve/release/``.

For each release model (``clock``: the clock reader, ``faces``: the face generator)
this uses the trained run folder if there is one (``artifacts/clock_polar``, with the
upright stages ``artifacts/clock_upright`` and ``artifacts/clock_upright_polar`` voting in
front of it, and ``artifacts/face_gan`` by
default), or trains it first with :func:`zoo.training.train` as the shipped model was
(:func:`shipped_recipe`, from its card; the upright stages by :data:`RECIPES`);
exports it with :func:`export.export_entry` (every export gate); and installs
``model.onnx`` and ``card.json`` as ``<name>.onnx`` and ``<name>.card.json``,
atomically (temporary files, then renames), after checking the file against its card.

Big models (over :data:`FLOAT16_ABOVE_BYTES`, i.e. the face generator) are stored
with float16 weights when that keeps every output within the entry's parity
tolerance: each float32 weight becomes a float16 initializer and a ``Cast`` back to
float32, which onnxruntime folds at load time, so the model computes in float32
from half the bytes. The card's ``quantization`` says so, with the measured
difference; otherwise the float32 model ships and its size is reported.

This module imports TensorFlow (it trains and exports); the serve commands never
import it.

Example:
    python -m serve.release                       # both, from artifacts/ (training if needed)
    python -m serve.release --only clock --clock-run runs/clock_polar_best --clock-upright runs/clock_upright
    python -m serve.release --only clock --no-upright       # the reader alone
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

RELEASES = {
    "clock": {"entry": "clock_polar", "run": "artifacts/clock_polar",
              "upright": ("artifacts/clock_upright", "artifacts/clock_upright_polar"),
              # The quarter prior's weight against the stages' vote: the best of 0.4-1.3 on
              # the validation clocks for the shipped pair (README, "Results").
              "prior_weight": 0.7},
    "faces": {"entry": "face_gan", "run": "artifacts/face_gan"},
}
SHIPPED = pathlib.Path(__file__).resolve().parent / "release"
"""The release folder in the package: its cards say how what ships was trained."""
# How an upright stage is trained when its run folder is empty, keyed by run folder
# name (the defaults' ``clock_upright`` and ``clock_upright_polar``); any other folder
# trains with the entry's defaults. The release models themselves train as their
# shipped card says (:func:`shipped_recipe`). Epochs given on the command line win.
RECIPES = {
    "clock_upright": {"epochs": None, "overrides": {}},
    "clock_upright_polar": {"epochs": 12, "overrides": {"design": "polar", "rotate_augment": 0.5}},
}
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
        casts.append(onnx.helper.make_node("Cast", [half.name], [name], to=onnx.TensorProto.FLOAT, name=f"{name}__to_float32"))
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


def install(export_dir, out_dir, name, weights="auto", log=_log):
    """Install an export folder's model as release model ``name``, atomically.

    Args:
        export_dir: a ``zoo export`` folder (``model.onnx``, ``card.json``).
        out_dir: the release folder (``serve/release``).
        name: the release name (``clock``, ``faces``).
        weights: ``float32``, ``float16``, or ``auto`` (float16 above
            :data:`FLOAT16_ABOVE_BYTES` when within the parity tolerance).
        log: where progress lines go.

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
                        "checked_on": f"{CHECK_ROWS} inputs ({', '.join(item['name'] for item in card['inputs'])}), seed 0",
                    }
                    cards.embed(proto, card)
                    onnx.save(proto, str(partial_onnx))
                    log(f"{name}: float16 weights, {float32_bytes / 1e6:.1f} MB -> {partial_onnx.stat().st_size / 1e6:.1f} MB, "
                        f"max |difference| {worst:.2g} (tolerance {tolerance:g})")
                elif weights == "float16":
                    raise errors.ZooError(
                        f"{name}: float16 weights change the outputs by up to {worst:.3g}, over the tolerance {tolerance:g}"
                    )
                else:
                    log(f"{name}: float16 weights would differ by {worst:.3g} (> {tolerance:g}); shipping float32, "
                        f"{float32_bytes / 1e6:.1f} MB")
            finally:
                half_path.unlink(missing_ok=True)
        card["onnx_file"] = f"{name}.onnx"
        card["onnx_sha256"] = models.sha256_of(partial_onnx)
        partial_card.write_text(cards.to_json(card) + "\n")
        # Card last: a reader between the two renames sees a checksum mismatch (an
        # error), never a model that silently disagrees with its card.
        os.replace(partial_onnx, out_dir / f"{name}.onnx")
        os.replace(partial_card, out_dir / f"{name}.card.json")
    finally:
        partial_onnx.unlink(missing_ok=True)
        partial_card.unlink(missing_ok=True)
    return card


def shipped_recipe(entry, release_dir=SHIPPED):
    """How the shipped release model of ``entry`` was trained, from its card in
    ``release_dir``: ``{"epochs": ..., "overrides": {...}}`` with every setting whose
    value differs from today's default. Settings the entry gained after the card was
    written take the value such runs were built with (``Entry.earlier``), so a default
    that changes later does not change what ``make release`` rebuilds. None when no
    shipped card is of ``entry``."""
    from zoo import registry

    for name in RELEASES:
        path = pathlib.Path(release_dir) / f"{name}.card.json"
        card = json.loads(path.read_text()) if path.is_file() else {}
        if card.get("entry") == entry:
            break
    else:
        return None
    spec = registry.get(entry)
    saved = {key: value for key, value in spec.saved(card["hparams"]).items()
             if key in spec.settings and key != "epochs"}
    resolved, defaults = spec.resolve(saved), spec.resolve()
    return {"epochs": card["training"]["epochs"],
            "overrides": {key: resolved[key] for key in saved if resolved[key] != defaults[key]}}


def _train(entry, run, data, epochs, upright):
    """Train ``entry`` into ``run`` as the shipped model was (:func:`shipped_recipe`;
    the upright stages by :data:`RECIPES`); a reader that will ship without an upright
    stage never learns on clocks turned upright (``turn_upright``), whatever its card
    says, since nothing would turn its clocks for it."""
    from zoo import training

    recipe = RECIPES.get(pathlib.Path(run).name) if entry == "clock_upright" else shipped_recipe(entry)
    recipe = recipe or {"epochs": None, "overrides": {}}
    overrides = dict(recipe["overrides"])
    if entry == "clock_polar" and not upright:
        overrides.pop("turn_upright", None)
    training.train(entry, data=data, epochs=epochs or recipe["epochs"], out=run, overrides=overrides)


def build(name, entry, run, data=None, epochs=None, out_dir=None, weights="auto", quantize=None, log=_log,
          upright=None, prior_weight=1.0):
    """Train (if needed), export and install one release model.

    Args:
        name: the release name (``clock``, ``faces``).
        entry: the registry entry (``clock_polar``, ``face_gan``).
        run: the run folder; trained into if it has no ``model.keras``.
        data: the dataset path for training and export (None: the usual places).
        epochs: training epochs when training (None: the entry's default).
        out_dir: the release folder (default: the package's ``serve/release``).
        weights: see :func:`install`.
        quantize: None, or ``int8`` to let the exporter try an int8 model too (not shipped).
        log: where progress lines go.
        upright: clock only: ``clock_upright`` run folders (each trained into if empty)
            to put in front of the reader (``zoo upright``), voting when several; the
            reader, if it must be trained, is trained as the shipped card says
            (:func:`_train`).
        prior_weight: with ``upright``, the quarter prior's weight (``zoo upright --prior-weight``).

    Returns:
        dict: the installed card.
    """
    from export import exporter
    from zoo import cli, training

    cli._quiet_tensorflow()
    run = pathlib.Path(run)
    out_dir = pathlib.Path(out_dir) if out_dir else pathlib.Path(__file__).resolve().parent / "release"
    started = time.perf_counter()
    if not (run / "model.keras").is_file():
        log(f"{name}: no trained model in {run}; training {entry} (this takes a while)")
        _train(entry, run, data, epochs, upright)
    else:
        log(f"{name}: using the trained run {run}")
    if upright:
        stages = [pathlib.Path(folder) for folder in ([upright] if isinstance(upright, (str, os.PathLike)) else upright)]
        for stage in stages:
            if not (stage / "model.keras").is_file():
                log(f"{name}: no upright stage in {stage}; training clock_upright (this takes a while)")
                _train("clock_upright", stage, None, epochs, None)
        joined = training.attach_upright(run, stages, out=run.with_name(run.name + "_upright"),
                                         prior_weight=prior_weight)
        run = pathlib.Path(joined["path"])
        log(f"{name}: the reader behind the upright stage{'s' if len(stages) > 1 else ''} "
            f"{', '.join(map(str, stages))}: {run}")
    export_dir = run / "export"
    exporter.export_entry(entry, run, export_dir, data=data, quantize=quantize, log=log)
    card = install(export_dir, out_dir, name, weights=weights, log=log)
    size = (out_dir / f"{name}.onnx").stat().st_size
    log(f"{name}: installed {out_dir / (name + '.onnx')} ({size / 1e6:.2f} MB, sha256 {card['onnx_sha256'][:12]}...) "
        f"and {name}.card.json in {time.perf_counter() - started:.0f} s; metrics {models.headline_metrics(card, 4)}")
    return card


@click.command()
@click.option("--only", multiple=True, type=click.Choice(sorted(RELEASES)), help="Build only this model (repeatable).")
@click.option("--clock-entry", default=RELEASES["clock"]["entry"], show_default=True)
@click.option("--clock-run", default=RELEASES["clock"]["run"], show_default=True, help="Its run folder (trained into if empty).")
@click.option("--clock-data", default=None, help="Dataset for training/exporting the clock reader.")
@click.option("--clock-upright", multiple=True, default=RELEASES["clock"]["upright"], show_default=True, metavar="RUN",
              help="A clock_upright run folder (trained into if empty) to put in front of the reader; repeat it "
                   "for several stages that vote.")
@click.option("--no-upright", is_flag=True, help="Ship the clock reader alone, without an upright stage.")
@click.option("--clock-prior-weight", type=float, default=RELEASES["clock"]["prior_weight"], show_default=True,
              help="Weight of the quarter prior against the upright stages (zoo upright --prior-weight).")
@click.option("--faces-entry", default=RELEASES["faces"]["entry"], show_default=True)
@click.option("--faces-run", default=RELEASES["faces"]["run"], show_default=True, help="Its run folder (trained into if empty).")
@click.option("--faces-data", default=None, help="CelebA for training the generator (a zip or folder).")
@click.option("--epochs", type=int, default=None, help="Training epochs when a model must be trained.")
@click.option("--weights", type=click.Choice(["auto", "float32", "float16"]), default="auto", show_default=True,
              help="auto: float16 weights for models over 8 MB when within the parity tolerance.")
@click.option("--out", "out_dir", default=None, help="The release folder [default: the package's serve/release].")
def main(only, clock_entry, clock_run, clock_data, clock_upright, no_upright, clock_prior_weight, faces_entry, faces_run,
         faces_data, epochs, weights, out_dir):
    """Build the release models (serve/release/clock.onnx and faces.onnx, with their cards)."""
    settings = {
        "clock": (clock_entry, clock_run, clock_data),
        "faces": (faces_entry, faces_run, faces_data),
    }
    try:
        for name in only or sorted(RELEASES):
            entry, run, data = settings[name]
            build(name, entry, run, data=data, epochs=epochs, out_dir=out_dir, weights=weights,
                  upright=clock_upright if name == "clock" and not no_upright else None,
                  prior_weight=clock_prior_weight)
    except errors.ZooError as error:
        raise click.ClickException(str(error)) from None


if __name__ == "__main__":
    main()
