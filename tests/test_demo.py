"""The main job end to end: make demo's module with tiny settings."""

import subprocess
import sys

from conftest import ROOT


def test_quick_demo_renders_trains_exports_and_reads(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "zoo.demo", "--quick", "--count", "3", "--out", str(tmp_path / "demo")],
        capture_output=True, text=True, cwd=ROOT, timeout=900,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "mean error on these 3 clocks" in result.stdout
    assert "[5/5]" in result.stdout and "recipe quick" in result.stdout
    assert "the release reader" in result.stdout  # the demo says how far it is from the product
    for name in ("reader/model.keras", "export/model.onnx", "export/card.json", "fresh/labels.csv"):
        assert (tmp_path / "demo" / name).exists(), name
    assert result.stdout.count(":") >= 6  # three rows of true and read times
