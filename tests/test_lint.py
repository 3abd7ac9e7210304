"""ruff finds nothing in the code, with the project's configuration (pyproject.toml's [tool.ruff])."""

import importlib.util
import pathlib
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGES = ["zoo", "tuning", "export", "serve", "tests"]


def ruff_command():
    """``python -m ruff`` when the ruff package is installed, else a ruff binary beside the
    interpreter or on PATH; None without ruff."""
    if importlib.util.find_spec("ruff") is not None:
        return [sys.executable, "-m", "ruff"]
    beside = pathlib.Path(sys.executable).parent / "ruff"
    found = str(beside) if beside.is_file() else shutil.which("ruff")
    return [found] if found else None


def test_ruff_finds_nothing():
    command = ruff_command()
    if command is None:
        pytest.skip("ruff is not installed (pip install 'zoo[test]')")
    # From the repository, with its pyproject.toml named: no user-level ruff configuration
    # applies, and no cache is written into the tree.
    result = subprocess.run([*command, "check", "--config", str(ROOT / "pyproject.toml"), "--no-cache", *PACKAGES],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
