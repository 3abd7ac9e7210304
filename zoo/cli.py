"""The ``zoo`` command line: one click group, every subcommand thin.

Commands import their libraries inside their bodies, so ``zoo --help`` and the
serve commands start without TensorFlow. A :class:`zoo.errors.ZooError` reaches
the user as ``Error: <one line>`` and exit code 2, never as a traceback.
"""

import json
import pathlib
import sys

import click

from zoo import __version__, errors
from zoo.common import commands


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


@cli.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def list_entries(as_json):
    """List the registry's entries: name, task, dataset, input shape, parameters."""
    commands.quiet_tensorflow()
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
@click.option("--hparams", "hparams_file", type=click.Path(), default=None,
              help="JSON of hyperparameters (from zoo tune).")
@click.option("--recipe", default=None, metavar="NAME",
              help="A named recipe of the entry (`zoo list --json` lists them), under --hparams, --hp and --epochs.")
@click.option("--seed", type=int, default=42, show_default=True, help="Seed of weights, shuffling and augmentation.")
@click.option("--jit", type=click.Choice(["auto", "on", "off"]), default="auto", show_default=True,
              help="XLA: auto = on with a GPU, off on CPU (where it is slower).")
@click.option("--precision", type=click.Choice(["float32", "mixed_bfloat16", "auto"]), default="float32",
              show_default=True, help="Compute in bfloat16 with float32 weights (auto: where the CPU has bfloat16 "
              "hardware). The saved and exported model is float32 either way.")
@click.option("--out", type=click.Path(), default=None, help="Run folder [default: artifacts/ENTRY].")
@click.option("--limit", type=click.IntRange(min=1), default=None,
              help="Train on N examples only (a fixed random subset for classifiers).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option("--distributed", is_flag=True,
              help="Train on several machines (MultiWorkerMirroredStrategy): run the same command on each, with "
              "TF_CONFIG giving the cluster and the machine's task; the batch size is global; the chief alone "
              "writes --out (docs/scaling.md).")
def train(entry, data, epochs, overrides, hparams_file, recipe, seed, jit, precision, out, limit, quiet, distributed):
    """Train ENTRY and write its run folder (model, hparams, history, metrics, plots).

    \b
    Examples:
      zoo train mnist_mlp --data ../shared/datasets/mnist.npz
      zoo train mnist_cnn --hp optimizer=adam --epochs 12
      zoo train cifar10_airbench --data cifar10-jpg.zip --out runs/air
      zoo train clock_polar --recipe demo
      TF_CONFIG='{"cluster": ..., "task": ...}' zoo train mnist_cnn --distributed   (on each machine)
    """
    commands.quiet_tensorflow()
    from zoo import training

    result = training.train(
        entry, data=data, epochs=epochs, overrides=overrides, hparams_file=hparams_file, seed=seed, jit=jit,
        out=out, limit=limit, verbose=2 if quiet else 1, precision=precision, recipe=recipe, distributed=distributed,
    )
    if result["path"] is None:  # a worker other than the chief: the chief writes the run
        click.echo(f"[zoo] {entry}: trained with the chief in {result['train_seconds']:.0f} s; "
                   "the chief writes the run")
        return
    click.echo(f"[zoo] {entry}: {json.dumps(result['metrics'])}")
    click.echo(f"[zoo] {result['train_seconds']:.0f} s of training, {result['samples_per_second']:.0f} samples/s, "
               f"jit_compile={result['jit_compile']}, {result['precision']}; wrote {result['path']}")


@cli.command()
@click.argument("entry")
@click.option("--model", "model_dir", type=click.Path(), required=True,
              help="A run folder (or its model.keras); for a generator also an exported model.onnx with its card.")
@data_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--out", "out_file", type=click.Path(dir_okay=False), default=None,
              help="Also write the figures as JSON to this file.")
@click.option("--seed", type=click.IntRange(min=0), default=None,
              help="Generators: re-draw z and the metric's random projections with this seed "
                   "(default: the fixed draw every report uses).")
def evaluate(entry, model_dir, data, as_json, out_file, seed):
    """Evaluate a trained ENTRY on its test set.

    \b
    Examples:
      zoo evaluate mnist_cnn --model artifacts/mnist_cnn
      zoo evaluate face_gan --model artifacts/face_gan --data celeba-subset.zip --out gan-metrics.json
      zoo evaluate face_gan --model serve/release/faces.onnx --data celeba-subset.zip --seed 1
    """
    commands.quiet_tensorflow()
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
    (clock_polar's decode_window). Re-evaluates on the test set and writes a new
    run folder that `zoo export` takes.

    \b
    Examples:
      zoo rebuild --model artifacts/clock_polar --hp decode_window=3
      zoo rebuild --model artifacts/clock_polar --hp decode_window=0 --out runs/polar-mean
    """
    commands.quiet_tensorflow()
    from zoo import training

    result = training.rebuild(model_dir, overrides=overrides, out=out, data=data)
    click.echo(f"[zoo] {result['entry']}: {json.dumps(result['metrics'])}")
    click.echo(f"[zoo] wrote {result['path']}")


@cli.command()
@click.option("--entry", help="Only this entry (and the report's figure for it).")
@click.option("--data", "data_text", help="Only rows whose data mentions this (case-insensitive), e.g. matplotlib.")
@click.option("--metric", help="Only metrics starting with this, e.g. test_cse_mean.")
@click.option("--root", type=click.Path(), default="artifacts", show_default=True,
              help="Where finished run folders are folded in from.")
@click.option("--results", "results_dir", type=click.Path(), default=None,
              help="The folder of results tables (default: results/ beside the zoo package).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (a list of rows).")
def results(entry, data_text, metric, root, results_dir, as_json):
    """The measured figures: results/*.csv, then the finished runs under ROOT.

    \b
    Examples:
      zoo results                                     every figure, as a table
      zoo results --entry clock_polar --metric test_cse_mean --data matplotlib
      zoo results --json > results.json
    """
    import shutil

    from zoo import results as collecting

    try:
        rows = collecting.read_table(results_dir)
    except errors.DataError as error:
        if not collecting.has_runs(root):
            raise
        click.echo(f"[zoo] {error}; showing the runs under {root} only", err=True)
        rows = []
    if collecting.has_runs(root):  # reading runs needs the registry, hence TensorFlow
        commands.quiet_tensorflow()
        rows += collecting.run_rows(root)
    rows = collecting.select(rows, entry=entry, data=data_text, metric=metric)
    if not rows:
        raise errors.ZooError("no figures match the filters given (see zoo results --help)")
    if as_json:
        click.echo(json.dumps(rows, indent=2))
    else:
        # Cut to the terminal (200 columns when piped); --json keeps every character.
        click.echo(collecting.table(rows, width=shutil.get_terminal_size((200, 24)).columns))


@cli.command()
@click.argument("runs", nargs=-1, required=True, type=click.Path(), metavar="RUN...")
@click.option("--out", required=True, metavar="PLOT.png", help="The PNG to write.")
@click.option("--metric", default="val_accuracy", show_default=True, help="The history metric to plot.")
@click.option("--target", type=float, default=None, help="Mark a goal with a dashed line.")
@click.option("--title", default="", help="The plot's title.")
def curves(runs, out, metric, target, title):
    """Plot a metric against training minutes for finished run folders, each run's
    test figure starred at its end: how fast each reaches its accuracy.

    \b
    Example:
      zoo curves artifacts/cifar10_airbench runs/air32 --target 0.9 --out curves.png
    """
    import os

    from zoo import plots
    from zoo.common import files

    if not out.lower().endswith(".png"):
        raise errors.ZooError(f"--out must name a .png file; received {out!r}")
    lines = []
    for run in runs:
        folder = pathlib.Path(run)
        try:
            history = json.loads((folder / "history.json").read_text())
            metrics = json.loads((folder / "metrics.json").read_text())
        except (OSError, ValueError):
            raise errors.ZooError(f"{run} is not a finished run folder (history.json and metrics.json)") from None
        if metric not in history or "epoch_seconds" not in history:
            raise errors.ZooError(f"{run}'s history has no {metric!r} with epoch times")
        test = metrics.get("test_" + metric.removeprefix("val_"))  # one pass, as the exported model
        lines.append((folder.name, history, test))
    partial = files.temporary_path(out)
    try:
        plots.metric_against_minutes(lines, partial, metric=metric, title=title, target=target)
        os.replace(partial, out)
    except OSError as error:
        raise errors.ZooError(f"cannot write {out}: {error.strerror or error}") from None
    finally:
        partial.unlink(missing_ok=True)
    click.echo(f"wrote {out} ({len(lines)} run{'s' if len(lines) > 1 else ''})")


# Subcommands that live with their packages. Each module defines ``COMMANDS``, a list
# of click commands, and must not import TensorFlow at import time.
COMMAND_MODULES = ("export.cli", "tuning.cli", "serve.cli", "serve.http.cli", "zoo.bench", "zoo.bench_classify",
                   "zoo.clocks.cli", "zoo.faces.cli")


def _add_package_commands():
    """Add every command module's commands; a missing module is a broken install, and
    fails loudly rather than hiding its commands."""
    import importlib

    for module_name in COMMAND_MODULES:
        for command in importlib.import_module(module_name).COMMANDS:
            cli.add_command(command)


_add_package_commands()


def main():
    """The console script's entry point."""
    cli(prog_name="zoo")


if __name__ == "__main__":
    main()
