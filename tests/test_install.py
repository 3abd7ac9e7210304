"""The serving install: ``pip install .`` alone, in a fresh virtual environment, reads a
clock, classifies a digit and makes faces without TensorFlow; training says what to
install (issue #46). Slow (about a minute of pip): ``make test-slow``."""

import json
import pathlib
import subprocess
import sys

import pytest
from PIL import Image

from zoo.clocks import clockface

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_the_serving_install_reads_a_clock_without_tensorflow(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python, zoo = venv / "bin" / "python", venv / "bin" / "zoo"
    installed = subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                                str(ROOT)], capture_output=True, text=True, timeout=900)
    assert installed.returncode == 0, installed.stderr[-2000:]
    missing = subprocess.run([str(python), "-c", "import importlib.util as u; "
                              "print([m for m in ('tensorflow', 'keras', 'tf2onnx', 'matplotlib', 'skia') "
                              "if u.find_spec(m)])"], capture_output=True, text=True)
    assert missing.stdout.strip() == "[]"
    pictures, labels = clockface.render_batch(1, seed=7, size=256)
    Image.fromarray(pictures[0]).save(tmp_path / "clock.png")
    read = subprocess.run([str(zoo), "predict-time", "--json", str(tmp_path / "clock.png")], capture_output=True,
                          text=True, timeout=300, cwd=tmp_path)
    assert read.returncode == 0, read.stderr
    (answer,) = json.loads(read.stdout)["results"]
    truth = (int(labels[0][0]) % 12) * 60 + int(labels[0][1])
    error = abs(answer["minutes"] - truth) % 720
    assert min(error, 720 - error) <= 2, answer  # the sub-minute hands of the drawn clock allow a minute
    faces = subprocess.run([str(zoo), "generate-faces", "--count", "2", "--out", str(tmp_path / "faces.png")],
                           capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert faces.returncode == 0 and (tmp_path / "faces.png").is_file(), faces.stderr
    train = subprocess.run([str(zoo), "train", "mnist_cnn"], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert train.returncode != 0 and "pip install 'zoo[train]'" in train.stderr and "Traceback" not in train.stderr
