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


def one_line(error, limit=200):
    """An error as one short line: the first non-empty line of ``str(error)``, stripped
    and cut to ``limit`` characters (``limit=None``: not cut), or the exception's type
    name when its text is empty. For messages that must stay on one line (the CLI's
    ``Error: ...``, zoo serve's JSON errors, the reasons written into cards and results).

    Example:
        >>> one_line(ValueError("\\n  bad shape (1, 2)  \\nTraceback: ..."))
        'bad shape (1, 2)'
        >>> one_line(KeyError())
        'KeyError'
        >>> one_line(RuntimeError("x" * 500), limit=3)
        'xxx'
    """
    text = next((line.strip() for line in str(error).splitlines() if line.strip()), type(error).__name__)
    return text if limit is None else text[:limit]
