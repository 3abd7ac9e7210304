"""Serve commands: ``zoo predict-time``, ``classify``, ``generate-faces``, ``interpolate``,
``models`` and ``info`` (``zoo bench``, which times Keras too, is :mod:`zoo.bench`).

Importing this module imports click only; each command imports numpy, Pillow and
onnxruntime when it runs, and none of them ever imports TensorFlow or Keras. A test
checks it.
"""

import json
import os
import sys

import click

from zoo.common import commands

# Above this many files a progress bar is shown (on a terminal).
PROGRESS_THRESHOLD = 64
MAX_BATCH_SIZE = 4096


def _provider_option(function):
    return click.option(
        "--provider", type=click.Choice(["auto", "cuda", "cpu"]), default="auto", show_default=True,
        help="onnxruntime execution provider: auto takes CUDA when it works, else the CPU.",
    )(function)


def _model_option(what):
    return click.option(
        "--model", "model_spec", default=None, metavar="PATH",
        help=f"A model.onnx, an export folder or a release name [default: the release {what}].",
    )


def _check_out(out):
    import pathlib

    from zoo import errors

    path = pathlib.Path(out)
    if path.suffix.lower() != ".png":
        raise errors.ZooError(f"--out must name a .png file; received {out!r}")
    if path.is_dir():
        raise errors.ZooError(f"--out {out} is a folder; give the .png file to write")
    return path


def _progress(total, unit, enabled):
    """A tqdm bar on stderr (when it is a terminal and the work is long), else None."""
    if not enabled or not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit=unit, file=sys.stderr, leave=False)


def _write_error(error):
    from zoo import errors

    message = errors.one_line(error, limit=None)
    if isinstance(error, OSError) and error.filename:
        message = f"cannot write {error.filename}: {error.strerror}"
    raise errors.ZooError(message) from None


def _answer_each(items, answers, as_json, line):
    """Print each answer as it comes, ``line(item, result)`` on stdout and each error as
    one line on stderr (nothing with ``as_json``); return ``(results, answered, failed)``.

    ``answers(progress)`` yields ``(item, result)``. A bar shows the progress through many
    files; a reader that goes away (``zoo classify dir/ | head``) stops the command
    quietly, as Unix tools do.
    """
    bar = _progress(len(items), "image", len(items) > PROGRESS_THRESHOLD)
    results, answered, failed = [], 0, 0
    try:
        for item, result in answers(bar.update if bar else None):
            if "error" in result:
                failed += 1
                if not as_json:
                    click.echo(f"Error: {result['error']}", err=True)
            else:
                answered += 1
                if not as_json:
                    click.echo(line(item, result))
            results.append({"file": item.name, **result})
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
    finally:
        if bar is not None:
            bar.close()
    return results, answered, failed


def _finish(report, as_json):
    """Print the JSON report (with ``as_json``); exit 1 if some files failed, 2 if all did."""
    if as_json:
        click.echo(json.dumps(report, indent=2))
    if report["failed"]:
        sys.exit(1 if report["answered"] else 2)


@click.command("predict-time", cls=commands.Command)
@click.argument("images", nargs=-1, required=True, metavar="IMAGE...")
@_model_option("clock reader")
@click.option("--json", "as_json", is_flag=True,
              help="Print JSON: file, time, hour, minute, confidence, sure; the provider.")
@click.option("--batch-size", type=int, default=32, show_default=True, help="Images per onnxruntime run.")
@click.option("--recursive", "-r", is_flag=True, help="Also read the images in sub-folders of folder arguments.")
@click.option("--turns", is_flag=True,
              help="Read each clock at four quarter turns and keep the reading the model's turn selector chooses "
                   "(from `zoo fit-turns`, in its card): for clocks hung sideways; four times the work.")
@click.option("--find/--no-find", default=None,
              help="Find the clock in each photo first (it may be off-centre, a fifth of the photo's width across), "
                   "read it there and give its box (2-4 reader passes a photo), or read the centred square as it "
                   "stands. [default: --find for readers with a keypoint output, as the release reader has; "
                   "--no-find with --turns]")
@_provider_option
def predict_time(images, model_spec, as_json, batch_size, recursive, turns, find, provider):
    """Read the time on analog clocks in IMAGE files, folders or glob patterns.

    A reader with keypoints (the release reader) first finds the clock in each
    photo (it may be off-centre, a fifth of the width across), reads it there and
    gives its box; --no-find reads the centred square as it stands.

    Prints HH:MM on a 12-hour dial (12:05 for five past twelve) and the reader's
    confidence, marking readings under 0.5 as unsure (a calibrated reader's sure
    readings were within 5 minutes at least 90% of the time on its validation
    clocks). Takes PNG, JPEG, BMP, GIF, TIFF and WebP of any size and mode (RGB,
    RGBA on white, grey, palette, 16-bit), respecting EXIF orientation. A folder
    gives the images directly inside it (--recursive: its whole tree); patterns
    are expanded here, so quoting them works. A file that cannot be read is
    reported on its own line while the others are answered; the exit code is then
    1 (2 if no file could be read).

    \b
    Examples:
      zoo predict-time photo.jpg
      zoo predict-time clocks/ --json > times.json
      zoo predict-time 'scans/**/*.png' --model artifacts/clock_polar/export
      zoo predict-time tilted.jpg --turns --model artifacts/clock_polar/export
      zoo predict-time street.jpg --json            the clock's box in the photo too
      zoo predict-time cropped.png --no-find        read the centred square as it stands
    """
    from serve import generate, models, predict
    from serve import images as imaging
    from zoo import errors

    if not 1 <= batch_size <= MAX_BATCH_SIZE:
        raise errors.ZooError(f"--batch-size must be between 1 and {MAX_BATCH_SIZE}; received {batch_size}")
    model, session = models.load(model_spec, default="clock", provider=provider, require="clock")
    generate.check_batch(batch_size, model)
    predict.check_modes(turns, find)
    if turns:
        predict.turn_selector(model)  # no selector: say so before reading anything
    items = imaging.expand_inputs(images, recursive=recursive)

    def line(item, result):
        turned = f", read turned {90 * result['turn']} degrees" if result.get("turn") else ""
        unsure = "" if result["sure"] else ", unsure"
        found = " at [" + ", ".join(f"{value:.0f}" for value in result["box"]) + "]" if "box" in result else ""
        return f"{item.name}: {result['time']}  (confidence {result['confidence']:.2f}{unsure}{turned}){found}"

    results, answered, failed = _answer_each(
        items, lambda progress: predict.predict(session, model, items, batch_size, progress, turns=turns, find=find),
        as_json, line)
    _finish({"model": model.name, "entry": model.entry, "decode": model.kind, "provider": models.provider_used(session),
             "answered": answered, "failed": failed, "results": results}, as_json)


@click.command("classify", cls=commands.Command)
@click.argument("images", nargs=-1, required=True, metavar="IMAGE|FOLDER...")
@click.option("--model", "model_spec", default=None, metavar="NAME|PATH",
              help="A release name (mnist, cifar10), a model.onnx or an export folder of an image classifier "
                   "[default: mnist, the release digit classifier].")
@click.option("--top", type=int, default=1, show_default=True, metavar="K",
              help="Also give the K most probable classes.")
@click.option("--json", "as_json", is_flag=True,
              help="Print JSON: file, class, index, probability and the top classes; the provider.")
@click.option("--batch-size", type=int, default=32, show_default=True, help="Images per onnxruntime run.")
@click.option("--recursive", "-r", is_flag=True, help="Also read the images in sub-folders of folder arguments.")
@_provider_option
def classify(images, model_spec, top, as_json, batch_size, recursive, provider):
    """Classify the images in IMAGE files, folders or glob patterns: a digit with the
    release digit classifier (mnist), a photo's object with --model cifar10, or any
    exported image classifier.

    Each image is converted and resized as the model's card says, whatever its size
    and mode (as predict-time takes them). MNIST's digits are white on black: for a
    classifier whose card says so (polarity light_on_dark: the MNIST and Fashion-MNIST
    models), a picture whose border is mostly light, a dark digit on white paper, is
    inverted first.

    Prints the most probable class and its probability (--top K: the K most probable).
    A folder gives the images directly inside it (--recursive: its whole tree). A file
    that cannot be read is reported on its own line while the others are answered;
    the exit code is then 1 (2 if no file could be read).

    \b
    Examples:
      zoo classify digit.png
      zoo classify scans/ --top 3
      zoo classify photo.jpg --model cifar10 --json
      zoo classify 'pets/**/*.jpg' --model artifacts/cifar10_airbench/export
    """
    from serve import classifier, generate, models
    from serve import images as imaging
    from zoo import errors

    if not 1 <= batch_size <= MAX_BATCH_SIZE:
        raise errors.ZooError(f"--batch-size must be between 1 and {MAX_BATCH_SIZE}; received {batch_size}")
    model, session = models.load(model_spec, default="mnist", provider=provider, require="classifier")
    generate.check_batch(batch_size, model)
    classifier.check_top(top, model)
    items = imaging.expand_inputs(images, recursive=recursive)

    def line(item, result):
        others = ", ".join(f"{other['class']} ({other['probability']:.2f})" for other in result["top"][1:])
        then = f"; then {others}" if others else ""
        return f"{item.name}: {result['class']} (p {result['probability']:.2f}){then}"

    results, answered, failed = _answer_each(
        items, lambda progress: classifier.classify(session, model, items, batch_size, progress, top), as_json, line)
    _finish({"model": model.name, "entry": model.entry, "provider": models.provider_used(session),
             "answered": answered, "failed": failed, "results": results}, as_json)


def _generator(model_spec, provider):
    from serve import models

    return models.load(model_spec, default="faces", provider=provider, require="image")


@click.command("generate-faces", cls=commands.Command)
@click.option("--count", type=int, default=16, show_default=True, help="How many faces.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the latent vectors z ~ N(0, I).")
@_model_option("face generator")
@click.option("--out", required=True, metavar="GRID.png", help="The grid of faces to write (PNG).")
@click.option("--each", "each_dir", default=None, metavar="DIR", help="Also write each face as DIR/face_NNNN.png.")
@click.option("--columns", type=int, default=None, help="Faces per row [default: a square grid].")
@_provider_option
def generate_faces(count, seed, model_spec, out, each_dir, columns, provider):
    """Generate faces from random latent vectors and write them as a grid.

    Face i of --seed S is row i of numpy's default_rng(S).standard_normal((COUNT, D)),
    so the same seed gives the same faces, and `zoo interpolate --seeds S T`
    starts at the first face of seed S.

    \b
    Examples:
      zoo generate-faces --out faces.png
      zoo generate-faces --count 64 --seed 7 --out grid.png --each faces/
    """
    from serve import generate, models
    from zoo.common import imagegrid
    from zoo import errors

    out_path = _check_out(out)
    if columns is not None and columns < 1:
        raise errors.ZooError(f"--columns must be at least 1; received {columns}")
    if each_dir and os.path.exists(each_dir) and not os.path.isdir(each_dir):
        raise errors.ZooError(f"--each {each_dir} is a file; give a folder for the faces")
    model, session = _generator(model_spec, provider)
    generate.check_count(count, model)
    bar = _progress(count, "face", count >= 256)
    try:
        z = imagegrid.latent_samples(count, generate.latent_dim(model), seed=_seed(seed))
        faces = generate.generate(session, model, z, progress=bar.update if bar else None)
    finally:
        if bar is not None:
            bar.close()
    rows, columns = imagegrid.grid_shape(count, columns)
    try:
        imagegrid.write_png(out_path, imagegrid.tile(faces, columns=columns))
        if each_dir:
            generate.write_each(faces, each_dir)
    except OSError as error:
        _write_error(error)
    extra = f" and {count} files in {each_dir}" if each_dir else ""
    click.echo(f"wrote {out_path} ({count} faces, {rows}x{columns}, seed {seed}){extra}; "
               f"model {model.name} ({model.entry}) on {models.provider_used(session)}")


def _seed(seed):
    from zoo import errors

    if seed < 0:
        raise errors.ZooError(f"seeds must be non-negative (numpy's default_rng); received {seed}")
    return seed


@click.command("interpolate", cls=commands.Command)
@click.option("--seeds", type=int, nargs=2, default=(0, 1), show_default=True, metavar="A B",
              help="The seeds of the two end faces (face 0 of generate-faces --seed A and --seed B).")
@click.option("--steps", type=int, default=8, show_default=True, help="Faces in the strip, both ends included.")
@click.option("--spherical", is_flag=True, help="Spherical interpolation (slerp) instead of linear.")
@_model_option("face generator")
@click.option("--out", required=True, metavar="STRIP.png", help="The strip of faces to write (PNG).")
@_provider_option
def interpolate(seeds, steps, spherical, model_spec, out, provider):
    """Walk the latent space from one face to another and write the faces as a strip.

    Linear interpolation by default; --spherical follows the great circle between
    the two latent vectors, which keeps their norm where the generator was trained.

    \b
    Examples:
      zoo interpolate --out strip.png
      zoo interpolate --seeds 3 14 --steps 12 --spherical --out strip.png
    """
    from serve import generate, models
    from zoo.common import imagegrid
    from zoo import errors

    out_path = _check_out(out)
    if steps < 2:
        raise errors.ZooError(f"--steps must be at least 2; received {steps}")
    model, session = _generator(model_spec, provider)
    generate.check_count(steps, model, option="--steps")
    dim = generate.latent_dim(model)
    start, end = (imagegrid.latent_samples(1, dim, seed=_seed(seed))[0] for seed in seeds)
    kind = "spherical" if spherical else "linear"
    faces = generate.generate(session, model, imagegrid.interpolate(start, end, steps, kind))
    try:
        imagegrid.write_png(out_path, imagegrid.tile(faces, columns=steps))
    except OSError as error:
        _write_error(error)
    click.echo(f"wrote {out_path} ({steps} faces, {kind}, seeds {seeds[0]} to {seeds[1]}); "
               f"model {model.name} ({model.entry}) on {models.provider_used(session)}")


@click.command("models", cls=commands.Command)
@click.option("--model", "extra", multiple=True, metavar="PATH", help="Also list this model (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_models(extra, as_json):
    """List the models serve can run: the release models shipped with the package,
    then those given with --model or in $ZOO_MODELS (paths separated by ':').

    \b
    Examples:
      zoo models
      zoo models --model artifacts/clock_polar/export --json
    """
    from serve import models

    rows = models.listed_models(extra)
    failed = sum(1 for model, _, _ in rows if model is None)
    if as_json:
        click.echo(json.dumps({
            "release_dir": str(models.release_dir()),
            "models": [model.summary() if model else {"name": spec, "error": error} for model, spec, error in rows],
        }, indent=2))
    elif not rows:
        click.echo(f"No models: none in {models.release_dir()} and none given; {models.HOW_TO_GET}.")
    else:
        header = f"{'name':<16} {'entry':<22} {'task':<14} {'decode':<16} {'input':<18} {'MB':>6}  metrics"
        click.echo(header)
        click.echo("-" * len(header))
        for model, spec, error in rows:
            if model is None:
                click.echo(f"{spec:<16} error: {error}")
                continue
            row = model.summary()
            metrics = ", ".join(f"{key} {value:.4g}" for key, value in row["metrics"].items()) or "-"
            click.echo(f"{_cut(row['name'], 16):<16} {row['entry']:<22} {row['task']:<14} {row['kind']:<16} "
                       f"{row['input']:<18} {row['megabytes']:>6.2f}  {metrics}")
    if failed:
        sys.exit(1)


def _cut(text, width):
    return text if len(text) <= width else "..." + text[-(width - 3):]


@click.command("info", cls=commands.Command)
@click.argument("model_spec", metavar="MODEL")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@_provider_option
def info(model_spec, as_json, provider):
    """Show a model's card in full, with the execution provider it would run on.

    MODEL is a release name (clock, faces, mnist, cifar10), a model.onnx or an export folder.

    \b
    Examples:
      zoo info clock
      zoo info artifacts/clock_polar/export --provider cpu --json
    """
    from serve import models

    model, session = models.load(model_spec, provider=provider)
    facts = {
        "name": model.name,
        "path": str(model.path),
        "megabytes": round(model.path.stat().st_size / 1e6, 3),
        "release": model.release,
        "card_source": model.card_source,
        "checksum": model.checksum,
        "provider": models.provider_used(session),
        "providers_requested": provider,
        "inputs": [{"name": item.name, "shape": item.shape, "type": item.type} for item in session.get_inputs()],
        "outputs": [{"name": item.name, "shape": item.shape, "type": item.type} for item in session.get_outputs()],
    }
    if as_json:
        click.echo(json.dumps({**facts, "card": model.card}, indent=2))
        return
    for key in ("name", "path", "megabytes", "release", "card_source", "checksum", "provider"):
        click.echo(f"{key:<12} {facts[key]}")
    for key in ("inputs", "outputs"):
        described = ", ".join(f"{item['name']} {item['shape']} {item['type']}" for item in facts[key])
        click.echo(f"{key:<12} {described}")
    click.echo("card:")
    click.echo(json.dumps(model.card, indent=2))


COMMANDS = [predict_time, classify, generate_faces, interpolate, list_models, info]
