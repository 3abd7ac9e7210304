"""The clock commands: render clocks, reproduce the report's studies, see where a reader
fails, fit its turn selector, and put upright stages in front of it.

Like every command module, this imports no TensorFlow until a command runs.
"""

import json
import pathlib

import click

from zoo import errors
from zoo.common import commands

# The renderers' names, spelt out so that `zoo --help` need not import them
# (zoo.clocks.reading.RENDERERS; a test checks they agree).
CLOCK_RENDERERS = ("zoo", "world", "matplotlib", "skia", "product")
# The drawing stacks render-clocks writes with (zoo.clocks.clockface.RENDERERS); the
# training renderer's world profile is its --scenes world.
DRAWING_RENDERERS = ("zoo", "matplotlib", "skia")
# The training renderer's scene profiles (zoo.clocks.clockface.SCENES).
SCENES = ("classic", "world", "mixed")


data_option = click.option("--data", type=click.Path(), default=None,
                           help="A Leiden-format clock folder (images.npy, labels.npy) instead of rendered clocks.")


def _tags(text):
    return tuple(tag.strip() for tag in text.split(",") if tag.strip()) if text else None


@click.command("upright")
@click.option("--reader", "reader_dir", type=click.Path(), required=True, help="Run folder of a trained clock reader.")
@click.option("--upright", "upright_dirs", type=click.Path(), required=True, multiple=True,
              help="Run folder of a trained clock_upright (zoo train clock_upright); repeat it to average the "
                   "votes of several.")
@click.option("--prior-weight", type=float, default=1.0, show_default=True,
              help="Weight of the rendered quarter prior (most clocks hang upright) against the stages' say; "
                   "below 1 trusts the stages more.")
@click.option("--out", type=click.Path(), default=None, help="Run folder to write (default: READER_upright).")
@click.option("--data", type=click.Path(), default=None,
              help="Leiden-format clocks to evaluate on instead of rendered ones.")
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
    commands.quiet_tensorflow()
    from zoo.clocks import upright as stages

    result = stages.attach_upright(reader_dir, upright_dirs, out=out, data_path=data, prior_weight=prior_weight)
    click.echo(f"[zoo] {result['entry']} with an upright stage: {json.dumps(result['metrics'])}")
    click.echo(f"[zoo] wrote {result['path']}")


@click.command("render-clocks")
@click.option("--count", type=click.IntRange(min=1), required=True, help="Number of clocks.")
@click.option("--size", type=click.IntRange(min=32, max=1024), default=150, show_default=True, help="Width and height.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Render seed.")
@click.option("--out", type=click.Path(), required=True, help="Folder to write (images.npy, labels.npy).")
@click.option("--png", is_flag=True, help="Also write png/NNNNN.png and labels.csv.")
@click.option("--include", default=None, metavar="TAGS",
              help="Comma-separated style tags every clock has (e.g. roman).")
@click.option("--exclude", default=None, metavar="TAGS",
              help="Comma-separated style tags no clock has (e.g. roman,square).")
@click.option("--overwrite", is_flag=True, help="Replace a non-empty --out folder.")
@click.option("--renderer", type=click.Choice(DRAWING_RENDERERS), default="zoo", show_default=True,
              help="The project's renderer (the one readers train on), or one written apart from it "
                   "(matplotlib, skia; no style tags).")
@click.option("--scenes", type=click.Choice(SCENES), default="classic", show_default=True,
              help="The project renderer's scene profile: world adds photographic backgrounds, cases, strong "
                   "perspective, occluders and camera defects.")
@click.option("--backgrounds", type=str, default=None,
              help="A folder or zip of photos for the world profile's backgrounds (e.g. cifar10-jpg.zip); several "
                   "joined by ':' are drawn from equally "
                   "[default: the renderer's own].")
def render_clocks(count, size, seed, out, png, include, exclude, overwrite, renderer, scenes, backgrounds):
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

    from zoo.clocks import clockface

    target = pathlib.Path(out)
    if target.exists() and (not target.is_dir() or any(target.iterdir())) and not overwrite:
        raise errors.ZooError(f"--out {out} exists and is not empty; pass --overwrite to replace it")
    if renderer != "zoo" and (scenes != "classic" or backgrounds):
        raise errors.ZooError(f"--scenes and --backgrounds are the zoo renderer's; the {renderer} renderer has its own")
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
                **({"scenes": scenes, "backgrounds": backgrounds} if scenes != "classic" or backgrounds else {}),
            )
        except ValueError as error:
            raise errors.ZooError(str(error)) from None
    click.echo(f"wrote {count} clocks to {path}")


@click.command("clock-study")
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
    commands.quiet_tensorflow()
    from zoo import hparams
    from zoo.clocks import study as studies

    out = out or f"artifacts/clock-study-{study}"
    studies.run_study(study, out, epochs=epochs, train_count=train_count, image_size=image_size, seed=seed,
                       entry=entry, data=data, common=hparams.parse_overrides(overrides))
    click.echo((pathlib.Path(out) / "results.md").read_text())
    click.echo(f"wrote {out}")


@click.command("clock-errors")
@click.option("--model", "model_dir", required=True,
              help="A trained reader's run folder (Keras), or an exported one: a .onnx file, an export folder or "
                   "a release name such as clock (onnxruntime).")
@click.option("--count", type=click.IntRange(min=1), default=2000, show_default=True, help="Test clocks to render.")
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Folder for the tables and figures [default: MODEL/styles, artifacts/styles-NAME for a release; "
                   "-RENDERER appended for a held-out renderer].")
@click.option("--renderer", type=click.Choice(CLOCK_RENDERERS), default="zoo", show_default=True,
              help="Draw the test clocks with the project's renderer (the one readers train on) or with one "
                   "written apart from it, which the reader has never seen (matplotlib; skia: colour, "
                   "perspective, cases, occluders, degradations; product: plain wall clocks as product photos, "
                   "drawn at 600-2,000 pixels and brought down).")
@click.option("--turns", is_flag=True,
              help="Read every clock at four quarter turns and keep the reading the model's turn selector chooses "
                   "(`zoo fit-turns`); written apart (-turns appended to the folder).")
@click.option("--find", is_flag=True,
              help="Find each clock's dial first and read it there, as `zoo predict-time --find` does "
                   "(an exported reader); written apart (-find appended to the folder).")
def clock_errors(model_dir, count, out, renderer, turns, find):
    """Where a clock reader fails: its error on the test clocks by clock style.

    Renders the test clocks (the held-out seed) with their styles and breaks the
    common-sense error down by rotation, dial shape, numerals, ticks, hands, face and
    background, with each group's share of the mean error. Writes styles.csv/.json/.md,
    styles.png (bars), worst.png, and confidence.json (how many readings are called
    sure, confidence >= 0.5, and how often those are within 5 minutes). With --renderer matplotlib or skia the clocks
    are drawn by a renderer written apart from the training one and broken down by
    its own factors: how the reader copes with clocks from a renderer it never saw.

    \b
    Examples:
      zoo clock-errors --model artifacts/clock_polar
      zoo clock-errors --model clock        the release reader, through onnxruntime
      zoo clock-errors --model clock --renderer matplotlib
      zoo clock-errors --model clock --renderer skia
      zoo clock-errors --model clock --renderer product --find
      zoo clock-errors --model artifacts/clock_polar --turns
    """
    commands.quiet_tensorflow()
    from zoo.clocks import reading

    run = pathlib.Path(model_dir)
    from serve import predict

    predict.check_modes(turns, find)
    suffix = ("" if renderer == "zoo" else f"-{renderer}") + ("-turns" if turns else "") + ("-find" if find else "")
    if out is None and not run.exists():
        out = f"artifacts/styles-{run.name}{suffix}"
    out = out or str((run if run.is_dir() else run.parent) / f"styles{suffix}")
    reading.errors_by_style(model_dir, out, count=count, renderer=renderer, turns=turns, find=find)
    click.echo((pathlib.Path(out) / "styles.md").read_text())
    from zoo.clocks import calibration

    sure = json.loads((pathlib.Path(out) / "confidence.json").read_text())
    click.echo(f"confidence >= 0.5: {calibration.summary_line(sure)}")
    click.echo(f"wrote {out}")


@click.command("fit-turns")
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
    commands.quiet_tensorflow()
    from zoo.clocks import reading

    selector = reading.fit_turns(model_dir, count=count)
    fitted = selector["fitted"]
    for label, key in (("unturned", "unturned"), ("chosen among four turns", "chosen"),
                       ("best of four (oracle)", "best_of_turns")):
        row = fitted[key]
        click.echo(f"{label:>24}: mean {row['mean']:.2f} min, median {row['median']:.2f}, "
                   f"within 1 min {100 * row['within_1']:.1f}%, within 5 {100 * row['within_5']:.1f}%")
    click.echo(f"on {fitted['on']}; {100 * fitted['turned_share']:.1f}% take a turned reading")
    click.echo(f"wrote {reading.selector_file(model_dir)}")

@click.command("calibrate")
@click.option("--model", "model_dir", required=True, type=click.Path(), help="A trained clock reader's run folder.")
@click.option("--count", type=click.IntRange(min=64), default=None,
              help="Validation clocks to fit on [default: all the run's].")
@click.option("--method", type=click.Choice(["logistic", "isotonic"]), default="logistic", show_default=True,
              help="logistic: on the raw confidence and how far the hour hand's own reading is from the time read; "
                   "isotonic: a monotone step function of the raw confidence.")
@click.option("--scenes", type=click.Choice(SCENES), default=None,
              help="Render the validation clocks with this scene profile [default: the run's]; a reader trained on "
                   "mixed scenes is best calibrated on world ones, where its sure line is hardest to keep.")
def calibrate(model_dir, count, method, scenes):
    """Make a clock reader's confidence mean something: the chance it is within 5 minutes.

    Reads the run's validation clocks (rendered as its training clocks were, never
    trained on), fits how the reader's raw confidence and hands map to the share of
    readings within 5 minutes, and picks the confidence from which a reading is
    called sure (0.5, or higher until 90% of sure readings are within 5 minutes).
    Writes RUN/confidence.json; export the run again to carry it into the card,
    where `zoo predict-time` and `zoo clock-errors` use it.

    \b
    Examples:
      zoo calibrate --model artifacts/clock_polar
      zoo calibrate --model artifacts/clock_world --scenes world
    """
    commands.quiet_tensorflow()
    from zoo.clocks import calibration

    fitted = calibration.fit_run(model_dir, count=count, method=method, scenes=scenes)
    click.echo(f"raw confidence >= 0.5: {calibration.summary_line(fitted['fitted']['raw'])}")
    click.echo(f"calibrated, sure from {fitted['sure_at']:.2f}: "
               f"{calibration.summary_line(fitted['fitted']['calibrated'])}")
    click.echo(f"on {fitted['on']}")
    click.echo(f"wrote {calibration.calibration_file(model_dir)}")


COMMANDS = [upright, render_clocks, clock_study, clock_errors, fit_turns, calibrate]
