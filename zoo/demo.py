"""``make demo``: the main job end to end, on built-in data.

1. render analog clocks (training, validation and held-out test sets, from seeds);
2. train a clock reader on them (``zoo train``);
3. fit its turn selector on the validation clocks (``zoo fit-turns``: when to read a
   clock turned by a quarter) and score the test clocks read at four turns;
4. export it to ONNX and SavedModel through every export gate (``zoo export``);
5. render a handful of fresh clocks as PNG files, from a seed training never saw;
6. read their time with the TensorFlow-free onnxruntime CLI (``zoo predict-time
   --turns``), printing the true time beside the reading.

Everything lands in ``artifacts/demo/``. ``--quick`` shrinks every step to seconds
(the test suite runs it); the default trains for 8-23 minutes on two cores.
"""

import json
import pathlib
import subprocess
import sys
import time

import click

ENTRY = "clock_polar"
# The demo reader: the two-stage polar reader (the release model's architecture),
# 30,000 clocks x 8 epochs, 8-23 minutes of training on 2 cores (README); its polar head
# is taught in the true dial frame over the first half (teacher forcing) so that it
# learns while the localiser is still poor.
SETTINGS = dict(image_size=128, train_count=30000, val_count=1000, test_count=2000, teacher_forcing=0.5, epochs=8)
QUICK = dict(image_size=64, width=8, polar_width=4, train_count=128, val_count=64, test_count=64, teacher_forcing=0.5,
             epochs=1)
FRESH_SEED = 777  # The clocks read at the end; training renders from seed 42.


STEPS = 6


def choose_turns(run, quick):
    """Fit the reader's turn selector (``zoo fit-turns``) and score the test clocks read
    at four turns; False (the demo reads unturned) when choosing does not help."""
    from zoo import clockstudy, errors
    from zoo.common import clocktime

    started = time.perf_counter()
    reader = clockstudy.open_reader(run, turns=False)
    try:
        selector = clockstudy.fit_turns(run, progress=False, reader=reader)
    except errors.ZooError as error:
        click.echo(f"no turn selector: {error}; the fresh clocks are read unturned")
        return False
    fitted = selector["fitted"]
    click.echo(f"validation clocks ({fitted['clocks']}): mean error {fitted['unturned']['mean']:.1f} min unturned, "
               f"{fitted['chosen']['mean']:.1f} min choosing among four turns "
               f"({100 * fitted['turned_share']:.0f}% read turned)")
    reader = reader._replace(turns=selector)
    count = 64 if quick else 2000
    images, labels, _ = clockstudy.held_out_clocks(count, reader.size)
    truth = clocktime.to_minutes(labels[:, 0], labels[:, 1])
    summary = clocktime.cse_summary(clockstudy.read_clocks(reader, images, turns=True), truth)
    click.echo(f"test clocks read at four turns: mean error {summary['mean']:.1f} min, median {summary['median']:.1f} "
               f"min, {100 * summary['within_5']:.0f}% within 5 min ({time.perf_counter() - started:.0f} s)")
    return True


def step(number, text):
    click.secho(f"\n[{number}/{STEPS}] {text}", bold=True)


@click.command()
@click.option("--out", type=click.Path(), default="artifacts/demo", show_default=True, help="Where everything goes.")
@click.option("--count", type=click.IntRange(1, 64), default=8, show_default=True, help="Fresh clocks to read.")
@click.option("--quick", is_flag=True, help="Tiny settings: the whole demo in well under a minute of training.")
def main(out, count, quick):
    """Render clocks, train a reader, export it, and read the time of fresh clocks."""
    from zoo import cli

    cli._quiet_tensorflow()
    from export import export_entry
    from zoo import clock, clockface, errors, registry, training
    from zoo.common import clocktime

    out = pathlib.Path(out)
    settings = dict(QUICK if quick else SETTINGS)
    epochs = settings.pop("epochs")
    try:
        step(1, f"rendering {settings['train_count']} training clocks at {settings['image_size']}x{settings['image_size']}"
                " and the validation and held-out test clocks (cached for the next run)")
        config = training.resolve_config(registry.get(ENTRY), overrides=settings, epochs=epochs)
        started = time.perf_counter()
        clock.load_clocks(config)
        click.echo(f"rendered in {time.perf_counter() - started:.0f} s")
        step(2, f"training {ENTRY} for {epochs} epochs")
        started = time.perf_counter()
        run = training.train(ENTRY, epochs=epochs, overrides=settings, out=out / "reader", verbose=2)
        metrics = run["metrics"]
        click.echo(f"trained in {run['train_seconds']:.0f} s ({time.perf_counter() - started:.0f} s with rendering); "
                   f"test clocks: mean error {metrics['test_cse_mean']:.1f} min, median "
                   f"{metrics['test_cse_median']:.1f} min, {100 * metrics['test_cse_within_5']:.0f}% within 5 min")

        step(3, "reading each clock at four quarter turns: fitting which reading to keep on the validation clocks")
        turns = choose_turns(out / "reader", quick)

        step(4, "exporting to ONNX and SavedModel (checker, onnxruntime session, parity with Keras)")
        started = time.perf_counter()
        card = export_entry(ENTRY, out / "reader", out / "export", log=lambda message: None)
        click.echo(f"exported in {time.perf_counter() - started:.0f} s: {out / 'export' / 'model.onnx'} "
                   f"(sha256 {card['onnx_sha256'][:12]}...)")

        step(5, f"rendering {count} fresh clocks (seed {FRESH_SEED}) as PNG files")
        fresh = clockface.write_dataset(out / "fresh", count, FRESH_SEED, size=150, png=True, overwrite=True)
        labels = {row.split(",")[0]: row.split(",")[1:] for row in (fresh / "labels.csv").read_text().splitlines()[1:]}
    except errors.ZooError as error:
        raise click.ClickException(str(error)) from None

    step(6, "reading them with onnxruntime: zoo predict-time (no TensorFlow)")
    command = [sys.executable, "-m", "zoo.cli", "predict-time", str(fresh / "png"), "--model", str(out / "export"),
               "--json"] + (["--turns"] if turns else [])
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
                   f"{error:>5.1f} min  {item['confidence']:.2f}")
    click.echo(f"\nmean error on these {len(errors_in_minutes)} clocks: "
               f"{sum(errors_in_minutes) / len(errors_in_minutes):.1f} min; everything is in {out}/")


if __name__ == "__main__":
    main()
