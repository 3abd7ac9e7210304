"""Run an exported model in onnxruntime for Node.js (``export/node/run.js``).

A second runtime, outside Python, for the "other runtimes" check: the tests feed the
same inputs to Keras and to Node and compare. Install the runtime once with
``make node-runtime`` (``npm ci --ignore-scripts --prefix export/node``).
"""

import json
import pathlib
import shutil
import subprocess
import tempfile

import numpy as np

NODE_DIR = pathlib.Path(__file__).resolve().parent / "node"
RUNNER = NODE_DIR / "run.js"


def available():
    """Why Node cannot run models here (a sentence), or None when it can."""
    if shutil.which("node") is None:
        return "node is not installed"
    if not (NODE_DIR / "node_modules" / "onnxruntime-node" / "package.json").exists():
        return f"onnxruntime-node is not installed in {NODE_DIR} (run `make node-runtime`)"
    return None


def run(model_path, inputs, timeout=120):
    """Run ``model_path`` in onnxruntime-node on ``inputs``.

    Args:
        model_path: an ONNX file.
        inputs: ``{input name: float32 array}``.
        timeout: seconds before the Node process is stopped.

    Returns:
        ``(outputs, report)``: ``{output name: float32 array}`` and the runner's
        ``outputs.json`` (runtime version, declared shapes).

    Raises:
        RuntimeError: Node failed; the message carries its error line.

    Example:
        >>> outputs, report = run("export/model.onnx", {"image": images})  # doctest: +SKIP
        >>> report["runtime"]
        'onnxruntime-node'
    """
    reason = available()
    if reason:
        raise RuntimeError(reason)
    with tempfile.TemporaryDirectory(prefix="zoo-node-") as folder:
        folder = pathlib.Path(folder)
        listing = []
        for name, value in inputs.items():
            array = np.ascontiguousarray(value, dtype="<f4")
            file = f"{name}.in.bin"
            (folder / file).write_bytes(array.tobytes())
            listing.append({"name": name, "shape": list(array.shape), "file": file})
        (folder / "inputs.json").write_text(json.dumps(listing))
        result = subprocess.run(
            ["node", str(RUNNER), str(pathlib.Path(model_path).resolve()), str(folder)],
            capture_output=True, text=True, timeout=timeout,
        )
        if result.returncode != 0:
            raise RuntimeError(f"node {RUNNER.name} failed ({result.returncode}): {result.stderr.strip()[-500:]}")
        report = json.loads((folder / "outputs.json").read_text())
        outputs = {}
        for output in report["outputs"]:
            raw = (folder / output["file"]).read_bytes()
            outputs[output["name"]] = np.frombuffer(raw, dtype="<f4").reshape(output["shape"]).copy()
        return outputs, report
