"""Flat hyperparameter dictionaries: parsing and checking of user overrides.

Hyperparameters are one flat dict of literals per entry (nanoGPT's configurator):
``--hp key=value`` is parsed with :func:`ast.literal_eval`, checked against the type
of the default, and an unknown key is an error. This module imports only the
standard library so that the CLI can validate arguments before TensorFlow loads.
"""

import ast
import json
import pathlib

from zoo import errors


def parse_value(text):
    """Parse the value half of ``key=value``.

    Args:
        text: the raw string from the command line.

    Returns:
        A Python literal (int, float, bool, None, tuple, list, str). A string that
        is not a literal (``adam``) is returned as it is, so that quoting is optional.

    Example:
        >>> parse_value("1e-3"), parse_value("adam"), parse_value("(32, 64)")
        (0.001, 'adam', (32, 64))
    """
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("none", "null"):
        return None
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def coerce(key, value, default):
    """Check ``value`` against the type of ``default`` and convert where lossless.

    Args:
        key: the hyperparameter's name, for the error message.
        value: the new value.
        default: the entry's default value, whose type rules.

    Returns:
        The value, converted (an int where a float is expected becomes a float,
        a list where a tuple is expected becomes a tuple).

    Raises:
        HyperparameterError: the value has the wrong type.
    """
    if default is None:
        return value
    if value is None and isinstance(default, str):
        return "none"  # the word, as a string setting's choice (regularizer=none), not Python's None
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
    elif isinstance(default, int):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif isinstance(default, float):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif isinstance(default, str):
        if isinstance(value, str):
            return value
    elif isinstance(default, (tuple, list)):
        if isinstance(value, (tuple, list)):
            return type(default)(value)
    else:
        return value
    raise errors.HyperparameterError(
        f"hyperparameter {key!r} expects {type(default).__name__} like {default!r}, "
        f"received {value!r} ({type(value).__name__})"
    )


def parse_overrides(pairs):
    """Turn ``["key=value", ...]`` into a dict, keeping the order given.

    Raises:
        HyperparameterError: an item has no ``=``.
    """
    result = {}
    for pair in pairs:
        key, separator, text = pair.partition("=")
        if not separator or not key.strip():
            raise errors.HyperparameterError(f"--hp expects key=value, received {pair!r}")
        result[key.strip()] = parse_value(text)
    return result


def read_file(path):
    """Read a flat JSON dict of hyperparameters (as ``zoo tune`` writes them).

    A file with a top-level ``"hparams"`` key (a tuning result) is unwrapped.
    """
    path = pathlib.Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise errors.HyperparameterError(f"hyperparameter file not found: {path}") from None
    except (OSError, ValueError) as error:
        raise errors.HyperparameterError(f"cannot read hyperparameter file {path}: {error}") from None
    if isinstance(data, dict) and isinstance(data.get("hparams"), dict):
        data = data["hparams"]
    if not isinstance(data, dict):
        raise errors.HyperparameterError(f"{path} must hold a JSON object of hyperparameters")
    return data


def resolve(defaults, *layers, entry="entry"):
    """Apply override dicts over the defaults, in order, with type checks.

    Args:
        defaults: the entry's flat defaults (builder keywords and fit settings).
        *layers: dicts applied one after the other (a tuning file, then ``--hp``).
        entry: the entry's name, for the error message.

    Returns:
        A new dict with every key of ``defaults``.

    Raises:
        HyperparameterError: a key is unknown or a value has the wrong type.

    Example:
        >>> resolve({"units": 512, "learning_rate": 1e-3}, {"units": 256})
        {'units': 256, 'learning_rate': 0.001}
    """
    resolved = dict(defaults)
    for layer in layers:
        for key, value in layer.items():
            if key not in defaults:
                known = ", ".join(sorted(defaults))
                raise errors.HyperparameterError(
                    f"unknown hyperparameter {key!r} for {entry} (known: {known})"
                )
            resolved[key] = coerce(key, value, defaults[key])
    return resolved
