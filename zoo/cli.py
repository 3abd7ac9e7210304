"""The ``zoo`` command line: one click group, every subcommand thin.

Commands import their libraries inside their bodies, so ``zoo --help`` and the
serve commands start without TensorFlow. A :class:`zoo.errors.ZooError` reaches
the user as ``Error: <one line>`` and exit code 2, never as a traceback.
"""

import json
import os
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
@click.option("--out", type=click.Path(), default=None, help="Run folder [default: artifacts/ENTRY].")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Train on the first N examples only.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def train(entry, data, epochs, overrides, hparams_file, seed, jit, out, limit, quiet):
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
        out=out, limit=limit, verbose=2 if quiet else 1,
    )
    click.echo(f"[zoo] {entry}: {json.dumps(result['metrics'])}")
    click.echo(f"[zoo] {result['train_seconds']:.0f} s of training, {result['samples_per_second']:.0f} samples/s, "
               f"jit_compile={result['jit_compile']}; wrote {result['path']}")


@cli.command()
@click.argument("entry")
@click.option("--model", "model_dir", type=click.Path(), required=True, help="A run folder (or its model.keras).")
@data_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--out", "out_file", type=click.Path(dir_okay=False), default=None, help="Also write the figures as JSON to this file.")
def evaluate(entry, model_dir, data, as_json, out_file):
    """Evaluate a trained ENTRY on its test set.

    \b
    Examples:
      zoo evaluate mnist_cnn --model artifacts/mnist_cnn
      zoo evaluate face_gan --model artifacts/face_gan --data celeba-subset.zip --out gan-metrics.json
    """
    _quiet_tensorflow()
    from zoo import training

    metrics = training.evaluate(entry, model_dir, data=data)
    if out_file:
        training.write_json(out_file, metrics)
    if as_json:
        click.echo(json.dumps(metrics, indent=2))
    else:
        for key, value in metrics.items():
            click.echo(f"{key:<24} {value:.4f}" if isinstance(value, float) else f"{key:<24} {value}")


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
