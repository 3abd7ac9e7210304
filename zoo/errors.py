"""Errors that reach the user as one line and an exit code, never a traceback."""


class ZooError(Exception):
    """A problem with the user's input, data or files.

    The CLI prints ``Error: <message>`` on one line and exits with
    ``exit_code`` (2, the usage-error code, unless a subclass says otherwise).
    """

    exit_code = 2


class DataError(ZooError):
    """Data that is missing, corrupt or of the wrong shape."""


class HyperparameterError(ZooError):
    """An unknown hyperparameter, or a value of the wrong type."""


class LimitError(ZooError):
    """Work over one of the limits a request or command may cost (pixels, aspect ratio,
    rows, the size of an answer); the message names the limit. ``zoo serve`` answers 413."""
