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
    # Step 3 fits a turn selector, or says why the clocks are read unturned (a one-epoch
    # reader seldom gains from turning); step 6 reads with --turns only when it has one.
    fitted = "test clocks read at four turns" in result.stdout
    assert fitted or "no turn selector" in result.stdout
    assert ("--turns" in result.stdout) == fitted == (tmp_path / "demo" / "reader" / "turns.json").exists()
    for name in ("reader/model.keras", "export/model.onnx", "export/card.json", "fresh/labels.csv"):
        assert (tmp_path / "demo" / name).exists(), name
    assert result.stdout.count(":") >= 6  # three rows of true and read times
