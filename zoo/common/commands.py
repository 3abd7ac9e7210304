"""What every ``zoo`` command module shares, at the bottom of the layers: click commands
whose usage errors are one line, and TensorFlow imported quietly (or a one-line error in
the serving install, which leaves it out). Library code and command modules import it
from here, never from the CLI on top."""

import importlib.util
import os
import sys

import click

from zoo import errors


class Command(click.Command):
    """A click command whose usage errors are one line (``Error: ...``, exit 2), like the
    rest of the zoo's errors, instead of click's usage block."""

    def parse_args(self, context, args):
        try:
            return super().parse_args(context, args)
        except click.UsageError as error:
            help_request = getattr(click.exceptions, "NoArgsIsHelpError", ())
            if help_request and isinstance(error, help_request):
                raise
            raise errors.ZooError(error.format_message()) from None


def quiet_tensorflow():
    """Import TensorFlow with its start-up chatter hidden.

    On CPU-only machines TensorFlow logs its CUDA probing before its logging is
    configured, so no environment variable hides it; the import runs with file
    descriptor 2 pointed at /dev/null instead. Errors still raise as exceptions.
    Users who want TensorFlow's logs set TF_CPP_MIN_LOG_LEVEL themselves.

    Raises:
        ZooError: TensorFlow is not installed (the serving install): says what to install.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if "tensorflow" in sys.modules:
        return
    if importlib.util.find_spec("tensorflow") is None:
        # The base install serves; training, tuning and export are the train extra's.
        raise errors.ZooError("this command trains, tunes or exports and needs TensorFlow, which the serving "
                              "install leaves out: pip install 'zoo[train]'")
    if os.environ["TF_CPP_MIN_LOG_LEVEL"] != "3":
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
