"""``zoo tune``: the report's studies on KerasTuner. Thin: options in, one library call.

TensorFlow loads inside the command body, after the options are checked.
"""

import sys

import click

from zoo import errors

from tuning import studies


@click.command()
@click.argument("entry")
@click.option("--study", required=True, metavar="NAME",
              help=f"The study: {', '.join(studies.STUDIES)}.")
@click.option("--tuner", default="grid", show_default=True, metavar="NAME",
              help="Search algorithm: grid, random, bayes or hyperband.")
@click.option("--max-trials", default=None, metavar="N",
              help="Trial budget [default: the whole grid; 10 for random and bayes; Hyperband's own].")
@click.option("--epochs", type=int, default=None, help="Epochs per trial (Hyperband: the most) [default: the entry's].")
@click.option("--directory", type=click.Path(), default=None,
              help="Root of the study folders; the study lives in DIR/ENTRY/STUDY-TUNER [default: artifacts/tune].")
@click.option("--data", type=click.Path(), default=None,
              help="Dataset file or folder. Default: $ZOO_DATA_DIR, then the Keras cache.")
@click.option("--limit", type=int, default=None, help="Train on N training examples only (a fixed random subset).")
@click.option("--workers", type=int, default=0, show_default=True,
              help="Run a chief and N worker processes on 127.0.0.1 (KerasTuner's distributed mode).")
@click.option("--seed", type=int, default=42, show_default=True, help="Seed of weights, shuffling and the oracle.")
@click.option("--hp", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Hold a hyperparameter fixed in every trial (repeatable).")
@click.option("--top", type=int, default=5, show_default=True, help="How many of the best trials to print.")
@click.option("--quiet", is_flag=True, help="No per-trial tables or progress bars.")
def tune(entry, study, tuner, max_trials, epochs, directory, data, limit, workers, seed, overrides, top, quiet):
    """Search ENTRY's hyperparameters with KerasTuner and rank every trial.

    The search picks on validation accuracy (a split carved from the training set);
    the test set is evaluated once per trial after it ends. The same command resumes
    an interrupted search. Results go to DIR/ENTRY/STUDY-TUNER: results.csv,
    results.md, STUDY.png (one-factor studies), best_hparams.json (for zoo train
    --hparams).

    \b
    Examples:
      zoo tune mnist_mlp --study optimizers --data ../shared/datasets/mnist.npz
      zoo tune mnist_mlp --study joint --tuner random --max-trials 20
      zoo tune mnist_cnn --study joint --tuner hyperband --epochs 9 --limit 12000
      zoo tune mnist_mlp --study activations --workers 2
      zoo train mnist_mlp --hparams artifacts/tune/mnist_mlp/optimizers-grid/best_hparams.json
    """
    from tuning import search

    max_trials = _whole_number("--max-trials", max_trials)
    search.check_options(study, tuner, max_trials, epochs, workers, limit)
    from zoo.common import commands

    commands.quiet_tensorflow()
    prepared = search.prepare(
        entry, study, tuner=tuner, max_trials=max_trials, epochs=epochs, directory=directory, data=data,
        limit=limit, seed=seed, overrides=overrides,
    )
    try:
        search.run(prepared, workers=workers, verbose=0 if quiet else 1, top=top, command=sys.argv)
    except RuntimeError as error:
        # KerasTuner stops a search after three failed trials in a row.
        raise errors.ZooError(f"the search stopped: {errors.one_line(error, limit=None)}") from None


@click.command("task1")
@click.option("--directory", type=click.Path(), default=None,
              help="Root of the study folders written by zoo tune [default: artifacts/tune].")
@click.option("--cifar-data", type=click.Path(), default=None,
              help="CIFAR-10 file or folder. Default: $ZOO_DATA_DIR, then the Keras cache.")
@click.option("--epochs", "epoch_counts", type=int, multiple=True, default=(12, 24), show_default=True,
              help="CIFAR-10 epochs (repeatable).")
@click.option("--out", type=click.Path(), default=None,
              help="Where the table and CIFAR-10 runs go [default: DIR/task1].")
@click.option("--seed", type=int, default=42, show_default=True, help="Seed of the CIFAR-10 runs.")
@click.option("--skip-cifar", is_flag=True, help="Only tabulate the MNIST studies.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
def task1(directory, cifar_data, epoch_counts, out, seed, skip_cifar, quiet):
    """The report's Task 1 table: MNIST study winners, carried to CIFAR-10.

    Reads the mnist_mlp and mnist_cnn studies under DIR, trains cifar10_mlp and
    cifar10_cnn with the winners (the one-factor winners together, and the joint
    winner) at each --epochs, and writes DIR/task1/task1.md and task1.csv beside the
    report's figures. Finished CIFAR-10 runs are reused.

    \b
    Examples:
      make study-task1
      zoo task1 --directory artifacts/tune --cifar-data ../shared/datasets/cifar10-jpg.zip
      zoo task1 --skip-cifar
    """
    if any(count < 1 for count in epoch_counts):
        raise errors.ZooError(f"--epochs must be at least 1; received {min(epoch_counts)}")
    from zoo.common import commands

    commands.quiet_tensorflow()
    from tuning import task1 as pipeline

    pipeline.run(root=directory, out=out, cifar_data=cifar_data, epochs=epoch_counts, seed=seed,
                 verbose=2 if quiet else 1, skip_cifar=skip_cifar)


def _whole_number(option, text):
    """Parse an integer option here rather than through click, whose type errors
    print the usage text: a bad value is one ``Error:`` line like every other."""
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        raise errors.ZooError(f"{option} must be a whole number; received {text!r}") from None


COMMANDS = [tune, task1]
