"""The ``zoo`` command line: one click group, every subcommand thin.

Commands import their libraries inside their bodies, so ``zoo --help`` and the
serve commands start without TensorFlow. A :class:`zoo.errors.ZooError` reaches
the user as ``Error: <one line>`` and exit code 2, never as a traceback.
"""

import json
import os
import pathlib
import sys

import click

from zoo import __version__, errors


class ZooGroup(click.Group):
    """A click group that turns the zoo's errors into one line and an exit code."""

    def invoke(self, context):
        try:
            return super().invoke(context)
        except errors.ZooError as error:
            click.echo(f"Error: {error}", err=True)
            sys.exit(error.exit_code)
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            sys.exit(130)


@click.group(cls=ZooGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="zoo")
def cli():
    """zoo: the models of a deep-learning study, trained, searched, exported and served.

    \b
    Common invocations:
      zoo list                                  the entries, their data and sizes
      zoo train mnist_cnn --data mnist.npz      train an entry, artifacts/mnist_cnn/
      zoo evaluate mnist_cnn --model artifacts/mnist_cnn
    """


def _quiet_tensorflow():
    """Import TensorFlow with its start-up chatter hidden.

    On CPU-only machines TensorFlow logs its CUDA probing before its logging is
    configured, so no environment variable hides it; the import runs with file
    descriptor 2 pointed at /dev/null instead. Errors still raise as exceptions.
    Users who want TensorFlow's logs set TF_CPP_MIN_LOG_LEVEL themselves.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if "tensorflow" in sys.modules or os.environ["TF_CPP_MIN_LOG_LEVEL"] != "3":
        return
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import tensorflow  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


@cli.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def list_entries(as_json):
    """List the registry's entries: name, task, dataset, input shape, parameters."""
    _quiet_tensorflow()
    from zoo import registry

    rows = [registry.summary(entry) for entry in registry.entries()]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    header = f"{'name':<22} {'task':<15} {'dataset':<14} {'input':<14} {'parameters':>11}  description"
    click.echo(header)
    click.echo("-" * len(header))
    for row in rows:
        shape = "x".join(str(size) for size in row["input_shape"])
        click.echo(
            f"{row['name']:<22} {row['task']:<15} {row['dataset']:<14} {shape:<14} {row['parameters']:>11,}  "
            f"{_shorten(row['description'], 70)}"
        )


def _shorten(text, width):
    return text if len(text) <= width else text[: width - 3].rsplit(" ", 1)[0] + "..."


data_option = click.option(
    "--data", type=click.Path(), default=None,
    help="Dataset file or folder (.npz, IDX files, image folders or their .zip). "
    "Default: $ZOO_DATA_DIR, then the Keras cache.",
)


@cli.command()
@click.argument("entry")
@data_option
@click.option("--epochs", type=int, default=None, help="Override the entry's epochs.")
@click.option("--hp", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a hyperparameter (repeatable).")
@click.option("--hparams", "hparams_file", type=click.Path(), default=None, help="JSON of hyperparameters (from zoo tune).")
@click.option("--seed", type=int, default=42, show_default=True, help="Seed of weights, shuffling and augmentation.")
@click.option("--jit", type=click.Choice(["auto", "on", "off"]), default="auto", show_default=True,
              help="XLA: auto = on with a GPU, off on CPU (where it is slower).")
@click.option("--precision", type=click.Choice(["float32", "mixed_bfloat16", "auto"]), default="float32",
              show_default=True, help="Compute in bfloat16 with float32 weights (auto: where the CPU has bfloat16 "
              "hardware). The saved and exported model is float32 either way.")
@click.option("--out", type=click.Path(), default=None, help="Run folder [default: artifacts/ENTRY].")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Train on N examples only (a fixed random subset for classifiers).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def train(entry, data, epochs, overrides, hparams_file, seed, jit, precision, out, limit, quiet):
    """Train ENTRY and write its run folder (model, hparams, history, metrics, plots).

    \b
    Examples:
      zoo train mnist_mlp --data ../shared/datasets/mnist.npz
      zoo train mnist_cnn --hp optimizer=adam --epochs 12
      zoo train cifar10_airbench --data cifar10-jpg.zip --out runs/air
    """
    _quiet_tensorflow()
    from zoo import training

    result = training.train(
        entry, data=data, epochs=epochs, overrides=overrides, hparams_file=hparams_file, seed=seed, jit=jit,
        out=out, limit=limit, verbose=2 if quiet else 1, precision=precision,
    )
    click.echo(f"[zoo] {entry}: {json.dumps(result['metrics'])}")
    click.echo(f"[zoo] {result['train_seconds']:.0f} s of training, {result['samples_per_second']:.0f} samples/s, "
               f"jit_compile={result['jit_compile']}, {result['precision']}; wrote {result['path']}")


@cli.command()
@click.argument("entry")
@click.option("--model", "model_dir", type=click.Path(), required=True, help="A run folder (or its model.keras).")
@data_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--out", "out_file", type=click.Path(dir_okay=False), default=None, help="Also write the figures as JSON to this file.")
@click.option("--seed", type=click.IntRange(min=0), default=None,
              help="Generators: re-draw z and the metric's random projections with this seed "
                   "(default: the fixed draw every report uses).")
def evaluate(entry, model_dir, data, as_json, out_file, seed):
    """Evaluate a trained ENTRY on its test set.

    \b
    Examples:
      zoo evaluate mnist_cnn --model artifacts/mnist_cnn
      zoo evaluate face_gan --model artifacts/face_gan --data celeba-subset.zip --out gan-metrics.json
    """
    _quiet_tensorflow()
    from zoo import training

    metrics = training.evaluate(entry, model_dir, data=data, seed=seed)
    if out_file:
        training.write_json(out_file, metrics)
    if as_json:
        click.echo(json.dumps(metrics, indent=2))
    else:
        for key, value in metrics.items():
            click.echo(f"{key:<24} {value:.4f}" if isinstance(value, float) else f"{key:<24} {value}")


@cli.command()
@click.option("--model", "model_dir", type=click.Path(), required=True, help="A run folder (or its model.keras).")
@click.option("--hp", "overrides", multiple=True, metavar="KEY=VALUE", help="A setting to change (repeatable).")
@click.option("--out", type=click.Path(), default=None, help="The new run folder [default: RUN_rebuilt].")
@data_option
def rebuild(model_dir, overrides, out, data):
    """Rebuild a trained run from the current code, keeping its weights.

    For settings that change how a model reads its outputs but not its weights
    (clock_polar's decode_window), and for runs saved by older code. Re-evaluates
    on the test set and writes a new run folder that `zoo export` takes.

    \b
    Examples:
      zoo rebuild --model artifacts/clock_polar --hp decode_window=3
      zoo rebuild --model artifacts/clock_polar --hp decode_window=0 --out runs/polar-mean
    """
    _quiet_tensorflow()
    from zoo import training

    result = training.rebuild(model_dir, overrides=overrides, out=out, data=data)
    click.echo(f"[zoo] {result['entry']}: {json.dumps(result['metrics'])}")
    click.echo(f"[zoo] wrote {result['path']}")


@cli.command("upright")
@click.option("--reader", "reader_dir", type=click.Path(), required=True, help="Run folder of a trained clock reader.")
@click.option("--upright", "upright_dirs", type=click.Path(), required=True, multiple=True,
              help="Run folder of a trained clock_upright (zoo train clock_upright); repeat it to average the "
                   "votes of several.")
@click.option("--prior-weight", type=float, default=1.0, show_default=True,
              help="Weight of the rendered quarter prior (most clocks hang upright) against the stages' say; "
                   "below 1 trusts the stages more.")
@click.option("--out", type=click.Path(), default=None, help="Run folder to write (default: READER_upright).")
@click.option("--data", type=click.Path(), default=None, help="Leiden-format clocks to evaluate on instead of rendered ones.")
def upright(reader_dir, upright_dirs, prior_weight, out, data):
    """Put an upright stage in front of a clock reader.

    The clock_upright run picks how many quarter turns the clock is off upright
    (trusting it only where the dial shows its 12), the image is turned back, and
    the reader reads it. Re-evaluates on the test set and writes one run folder of
    the reader's entry, which `zoo export` takes.

    \b
    Examples:
      zoo train clock_upright
      zoo upright --reader artifacts/clock_polar --upright artifacts/clock_upright
      zoo upright --reader artifacts/clock_polar --upright artifacts/clock_upright \\
                  --upright artifacts/clock_upright_polar
    """
    _quiet_tensorflow()
    from zoo import training

    result = training.attach_upright(reader_dir, upright_dirs, out=out, data=data, prior_weight=prior_weight)
    click.echo(f"[zoo] {result['entry']} with an upright stage: {json.dumps(result['metrics'])}")
    click.echo(f"[zoo] wrote {result['path']}")


def _tags(text):
    return tuple(tag.strip() for tag in text.split(",") if tag.strip()) if text else None


# zoo.clockface.RENDERERS, spelt out so that `zoo --help` need not import the renderer.
CLOCK_RENDERERS = ("zoo", "matplotlib")


@cli.command("render-clocks")
@click.option("--count", type=click.IntRange(min=1), required=True, help="Number of clocks.")
@click.option("--size", type=click.IntRange(min=32, max=1024), default=150, show_default=True, help="Width and height.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Render seed.")
@click.option("--out", type=click.Path(), required=True, help="Folder to write (images.npy, labels.npy).")
@click.option("--png", is_flag=True, help="Also write png/NNNNN.png and labels.csv.")
@click.option("--include", default=None, metavar="TAGS", help="Comma-separated style tags every clock has (e.g. roman).")
@click.option("--exclude", default=None, metavar="TAGS", help="Comma-separated style tags no clock has (e.g. roman,square).")
@click.option("--overwrite", is_flag=True, help="Replace a non-empty --out folder.")
@click.option("--renderer", type=click.Choice(CLOCK_RENDERERS), default="zoo", show_default=True,
              help="The project's renderer (the one readers train on), or an independent matplotlib one "
                   "(no style tags).")
def render_clocks(count, size, seed, out, png, include, exclude, overwrite, renderer):
    """Render analog clocks in the Leiden "tell the time" format.

    Writes images.npy (N, H, W) uint8 grayscale and labels.npy (N, 2) [hour 0-11,
    minute 0-59]; the same seed always gives the same clocks.

    \b
    Examples:
      zoo render-clocks --count 1000 --out clocks/
      zoo render-clocks --count 48 --size 150 --png --include roman --out roman/
      zoo render-clocks --count 2000 --renderer matplotlib --out unseen/
    """
    import numpy
    import tqdm

    from zoo import clockface

    target = pathlib.Path(out)
    if target.exists() and (not target.is_dir() or any(target.iterdir())) and not overwrite:
        raise errors.ZooError(f"--out {out} exists and is not empty; pass --overwrite to replace it")
    if renderer != "zoo" and (include or exclude):
        raise errors.ZooError(f"--include and --exclude are style tags of the zoo renderer; the {renderer} "
                              "renderer has none")
    try:  # Check the tags before drawing anything.
        clockface.sample_style(numpy.random.default_rng(0), _tags(include), _tags(exclude))
    except ValueError as error:
        raise errors.ZooError(str(error)) from None
    with tqdm.tqdm(total=count, desc="rendering", unit="clock") as bar:
        def progress(done):
            bar.update(done - bar.n)

        try:
            path = clockface.write_dataset(
                out, count, seed, size=size, png=png, include=_tags(include), exclude=_tags(exclude),
                progress=progress, overwrite=overwrite, renderer=renderer,
            )
        except ValueError as error:
            raise errors.ZooError(str(error)) from None
    click.echo(f"wrote {count} clocks to {path}")


@cli.command("clock-study")
@click.argument("study", type=click.Choice(["bins", "loss", "multihead", "generalisation"]))
@click.option("--out", type=click.Path(), default=None, help="Study folder [default: artifacts/clock-study-STUDY].")
@click.option("--epochs", type=click.IntRange(min=1), default=None, help="Epochs of every row.")
@click.option("--train-count", type=click.IntRange(min=64), default=None, help="Rendered training clocks per row.")
@click.option("--image-size", type=click.IntRange(min=32, max=512), default=None, help="Input size of every row.")
@click.option("--entry", default=None, help="The reader of the generalisation study [default: clock_hands].")
@click.option("--hp", "overrides", multiple=True, metavar="KEY=VALUE",
              help="A hyperparameter for every row (repeatable); the study's own setting of a row wins.")
@click.option("--seed", type=int, default=42, show_default=True)
@data_option
def clock_study(study, out, epochs, train_count, image_size, entry, overrides, seed, data):
    """Reproduce one of the report's clock studies on rendered clocks.

    \b
    STUDY is one of:
      bins            table 5: the bin classifier for N = 24 ... 720 bins
      loss            table 6: the regressor with MAE and with MSE
      multihead       table 7: hour classification + minute regression, beside clock_hands
      generalisation  a reader trained without roman numerals and square dials, scored
                      on its own styles and on each held-out style

    Writes results.csv/.md/.json, errors.png and worst_<row>.png galleries.

    \b
    Examples:
      zoo clock-study bins --epochs 10 --train-count 20000
      zoo clock-study generalisation --entry clock_polar --epochs 8 --hp teacher_forcing=0.5
    """
    _quiet_tensorflow()
    from zoo import clockstudy, hparams

    out = out or f"artifacts/clock-study-{study}"
    clockstudy.run_study(study, out, epochs=epochs, train_count=train_count, image_size=image_size, seed=seed,
                         entry=entry, data=data, common=hparams.parse_overrides(overrides))
    click.echo((pathlib.Path(out) / "results.md").read_text())
    click.echo(f"wrote {out}")


@cli.command("clock-errors")
@click.option("--model", "model_dir", required=True,
              help="A trained reader's run folder (Keras), or an exported one: a .onnx file, an export folder or "
                   "a release name such as clock (onnxruntime).")
@click.option("--count", type=click.IntRange(min=1), default=2000, show_default=True, help="Test clocks to render.")
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Folder for the tables and figures [default: MODEL/styles, artifacts/styles-NAME for a release; "
                   "-matplotlib appended for --renderer matplotlib].")
@click.option("--renderer", type=click.Choice(CLOCK_RENDERERS), default="zoo", show_default=True,
              help="Draw the test clocks with the project's renderer (the one readers train on) or with an "
                   "independent matplotlib one the reader has never seen.")
@click.option("--turns", is_flag=True,
              help="Read every clock at four quarter turns and keep the reading the model's turn selector chooses "
                   "(`zoo fit-turns`); written apart (-turns appended to the folder).")
def clock_errors(model_dir, count, out, renderer, turns):
    """Where a clock reader fails: its error on the test clocks by clock style.

    Renders the test clocks (the held-out seed) with their styles and breaks the
    common-sense error down by rotation, dial shape, numerals, ticks, hands, face and
    background, with each group's share of the mean error. Writes styles.csv/.json/.md,
    styles.png (bars) and worst.png. With --renderer matplotlib the clocks are drawn
    by a second renderer, written apart from the first, and broken down by its own
    factors: how the reader copes with clocks from a renderer it never saw.

    \b
    Examples:
      zoo clock-errors --model artifacts/clock_polar
      zoo clock-errors --model clock        the release reader, through onnxruntime
      zoo clock-errors --model clock --renderer matplotlib
      zoo clock-errors --model artifacts/clock_polar --turns
    """
    _quiet_tensorflow()
    from zoo import clockstudy

    run = pathlib.Path(model_dir)
    suffix = ("" if renderer == "zoo" else f"-{renderer}") + ("-turns" if turns else "")
    if out is None and not run.exists():
        out = f"artifacts/styles-{run.name}{suffix}"
    out = out or str((run if run.is_dir() else run.parent) / f"styles{suffix}")
    clockstudy.errors_by_style(model_dir, out, count=count, renderer=renderer, turns=turns)
    click.echo((pathlib.Path(out) / "styles.md").read_text())
    click.echo(f"wrote {out}")


@cli.command("fit-turns")
@click.option("--model", "model_dir", required=True, type=click.Path(), help="A trained clock reader's run folder.")
@click.option("--count", type=click.IntRange(min=64), default=None,
              help="Validation clocks to fit on [default: all the run's].")
def fit_turns(model_dir, count):
    """Learn when a clock reader should read a clock turned by a quarter.

    Reads the run's validation clocks at 0, 90, 180 and 270 degrees (the time is
    read against the dial's 12, so a turned image shows the same time), and fits
    which of the four readings to keep from the readings alone: their confidences
    and how many of them agree (a conditional logit, seven weights). Writes
    RUN/turns.json when that beats the unturned reading on those clocks; export
    the run again to carry it into the card, then use `zoo clock-errors --turns`
    and `zoo predict-time --turns`. Reading at four turns takes four times as long.

    \b
    Example:
      zoo fit-turns --model artifacts/clock_polar
    """
    _quiet_tensorflow()
    from zoo import clockstudy

    selector = clockstudy.fit_turns(model_dir, count=count)
    fitted = selector["fitted"]
    for label, key in (("unturned", "unturned"), ("chosen among four turns", "chosen"), ("best of four (oracle)", "best_of_turns")):
        row = fitted[key]
        click.echo(f"{label:>24}: mean {row['mean']:.2f} min, median {row['median']:.2f}, "
                   f"within 1 min {100 * row['within_1']:.1f}%, within 5 {100 * row['within_5']:.1f}%")
    click.echo(f"on {fitted['on']}; {100 * fitted['turned_share']:.1f}% take a turned reading")
    click.echo(f"wrote {clockstudy.selector_file(model_dir)}")


@cli.command()
@click.option("--root", type=click.Path(), default="artifacts", show_default=True, help="Where the run folders are.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def results(root, as_json):
    """Test figures of every finished run under ROOT, beside the report's figures.

    \b
    Example:
      zoo results > results.md
    """
    _quiet_tensorflow()
    from zoo import results as collecting

    rows = collecting.collect(root)
    if not rows:
        raise errors.ZooError(f"no finished runs under {root} (train one with `zoo train ENTRY`)")
    click.echo(json.dumps(rows, indent=2) if as_json else collecting.markdown(rows))


# Subcommands that live with their packages. Each module defines ``COMMANDS``, a list
# of click commands, and must not import TensorFlow at import time.
COMMAND_MODULES = ("export.cli", "tuning.cli", "serve.cli", "zoo.faces_cli")


def _add_package_commands():
    import importlib
    import importlib.util

    for module_name in COMMAND_MODULES:
        if importlib.util.find_spec(module_name.split(".")[0]) is None:
            continue
        if importlib.util.find_spec(module_name) is None:
            continue
        for command in importlib.import_module(module_name).COMMANDS:
            cli.add_command(command)


_add_package_commands()


def main():
    """The console script's entry point."""
    cli(prog_name="zoo")


if __name__ == "__main__":
    main()
