"""``make demo``: the main job end to end, on built-in data.

1. render analog clocks (training, validation and held-out test sets, from seeds);
2. train a clock reader on them (``zoo train clock_polar --recipe demo``);
3. calibrate its confidence on the validation clocks (``zoo calibrate``) and export it
   to ONNX and SavedModel through every export gate (``zoo export``);
4. render a handful of fresh clocks as PNG files, from a seed training never saw;
5. read their time with the TensorFlow-free onnxruntime CLI (``zoo predict-time``),
   printing the true time beside the reading.

Everything lands in ``artifacts/demo/``. The demo reader is the release reader's
architecture on a training budget of minutes, so it reads far worse than the release
model (``serve/release/clock.onnx``), whose figures the demo prints beside its own.
``--quick`` shrinks every step to seconds (the test suite runs it).
"""

import json
import pathlib
import subprocess
import sys
import time

import click

ENTRY = "clock_polar"
FRESH_SEED = 777  # The clocks read at the end; training renders from seed 42.
STEPS = 5


def _compare_with_release(metrics):
    """Say how far the demo reader is from the release reader, from the release card."""
    from serve import models

    path = models.release_dir() / "clock.card.json"
    try:
        shipped = json.loads(path.read_text()).get("metrics") or {}
    except (OSError, ValueError):
        return
    if "test_cse_mean" in shipped:
        card = json.loads(path.read_text())
        scenes = (card.get("hparams") or {}).get("scenes", "classic")
        minutes = ((card.get("training") or {}).get("train_seconds") or 0) / 60
        which = {"mixed": "its test clocks (two photographic to one classic)", "world": "photographic test clocks"}
        click.echo(f"(the release reader, serve/release/clock.onnx, trained for {minutes:.0f} minutes, reads "
                   f"{which.get(scenes, 'the test clocks')} at mean {shipped['test_cse_mean']:.1f} min, "
                   f"{100 * shipped.get('test_cse_within_1', 0):.0f}% within 1 min; its figures on clocks from "
                   "renderers it never saw are in results/clocks.csv; the demo shows the pipeline "
                   "on a budget of minutes)")


def step(number, text):
    click.secho(f"\n[{number}/{STEPS}] {text}", bold=True)


@click.command()
@click.option("--out", type=click.Path(), default="artifacts/demo", show_default=True, help="Where everything goes.")
@click.option("--count", type=click.IntRange(1, 64), default=8, show_default=True, help="Fresh clocks to read.")
@click.option("--quick", is_flag=True, help="Tiny settings: the whole demo in well under a minute of training.")
def main(out, count, quick):
    """Render clocks, train a reader, export it, and read the time of fresh clocks."""
    from zoo.common import commands

    commands.quiet_tensorflow()
    from export import export_entry
    from zoo import errors, registry, training
    from zoo.clocks import calibration, clockface, data
    from zoo.common import clocktime

    out = pathlib.Path(out)
    recipe = "quick" if quick else "demo"
    try:
        config = training.resolve_config(registry.get(ENTRY), recipe=recipe)
        step(1, f"rendering {config['train_count']} training clocks at {config['image_size']}x{config['image_size']}"
                " and the validation and held-out test clocks (cached for the next run)")
        started = time.perf_counter()
        data.load_clocks(config)
        click.echo(f"rendered in {time.perf_counter() - started:.0f} s")
        step(2, f"training {ENTRY} (recipe {recipe}: {config['train_count']} clocks, {config['epochs']} epochs)")
        run = training.train(ENTRY, recipe=recipe, out=out / "reader")
        metrics = run["metrics"]
        click.echo(f"trained in {run['train_seconds']:.0f} s; test clocks: mean error {metrics['test_cse_mean']:.1f} "
                   f"min, median {metrics['test_cse_median']:.1f} min, {100 * metrics['test_cse_within_5']:.0f}% "
                   "within 5 min")
        _compare_with_release(metrics)

        step(3, "calibrating its confidence on the validation clocks (zoo calibrate), then exporting to ONNX and "
                "SavedModel (checker, onnxruntime session, parity with Keras)")
        started = time.perf_counter()
        fitted = calibration.fit_run(out / "reader", progress=False)
        click.echo(f"calibrated: {calibration.summary_line(fitted['fitted']['calibrated'])}")
        card = export_entry(ENTRY, out / "reader", out / "export", log=lambda message: None)
        click.echo(f"exported in {time.perf_counter() - started:.0f} s: {out / 'export' / 'model.onnx'} "
                   f"(sha256 {card['onnx_sha256'][:12]}...)")

        step(4, f"rendering {count} fresh clocks (seed {FRESH_SEED}) as PNG files")
        fresh = clockface.write_dataset(out / "fresh", count, FRESH_SEED, size=150, png=True, overwrite=True)
        labels = {row.split(",")[0]: row.split(",")[1:] for row in (fresh / "labels.csv").read_text().splitlines()[1:]}
    except errors.ZooError as error:
        raise click.ClickException(str(error)) from None

    step(5, "reading them with onnxruntime: zoo predict-time (no TensorFlow)")
    command = [sys.executable, "-m", "zoo.cli", "predict-time", str(fresh / "png"), "--model", str(out / "export"),
               "--json"]
    click.echo("$ zoo " + " ".join(command[3:]))
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise click.ClickException(f"predict-time failed: {result.stderr.strip()}")
    readings = json.loads(result.stdout)
    click.echo(f"provider: {readings['provider']}\n")
    click.echo(f"{'file':<16} {'true':>6} {'read':>6} {'error':>9}  confidence")
    errors_in_minutes = []
    for item in readings["results"]:
        name = "png/" + pathlib.Path(item["file"]).name
        hour, minute = (int(value) for value in labels[name])
        truth = clocktime.to_minutes(hour, minute)
        error = float(clocktime.common_sense_error(item["minutes"], truth))
        errors_in_minutes.append(error)
        click.echo(f"{pathlib.Path(item['file']).name:<16} {hour or 12:>3}:{minute:02d} {item['time']:>6} "
                   f"{error:>5.1f} min  {item['confidence']:.2f}{'' if item['sure'] else ' (unsure)'}")
    click.echo(f"\nmean error on these {len(errors_in_minutes)} clocks: "
               f"{sum(errors_in_minutes) / len(errors_in_minutes):.1f} min; everything is in {out}/")


if __name__ == "__main__":
    main()
