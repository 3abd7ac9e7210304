"""zoo.errors.one_line: every error shown to a user or written into a card as one short line."""

import pytest

from zoo import errors


@pytest.mark.parametrize(("error", "limit", "expected"), [
    (ValueError("bad shape"), 200, "bad shape"),
    (ValueError("\n\n   first line  \nsecond line\n"), 200, "first line"),
    (RuntimeError("x" * 500), 200, "x" * 200),
    (RuntimeError("abcdef"), 3, "abc"),
    (RuntimeError("y" * 500 + "\nmore"), None, "y" * 500),
    (KeyError(), 200, "KeyError"),
    (OSError("  \n \t\n"), 200, "OSError"),
    ("a plain string\nand more", 200, "a plain string"),
])
def test_one_line(error, limit, expected):
    assert errors.one_line(error, limit) == expected


def test_one_line_default_limit_is_200():
    assert errors.one_line(errors.ZooError("z" * 300)) == "z" * 200
