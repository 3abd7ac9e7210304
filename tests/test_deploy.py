"""Deploying the release models elsewhere, and zoo serve under load.

- ``zoo triton-repository``: each config.pbtxt written is parsed with Triton's own
  protobuf (``tritonclient.grpc.model_config_pb2.ModelConfig``) and checked against the
  ONNX graph and against what ``zoo serve`` says of the model; ``make test`` installs
  tritonclient (with --no-deps: it pins an ml-dtypes older than TensorFlow's).
- ``zoo serve-bench``, bounded (8 clients for 3 s, one memory phase): every request answered, right.
"""

import json
import os
import subprocess
import sys

import pytest

from conftest import ROOT, assert_one_line_error, run_zoo

RELEASE = ROOT / "serve" / "release"

pytestmark = pytest.mark.skipif(not (RELEASE / "clock.onnx").is_file() or not (RELEASE / "faces.onnx").is_file(),
                                reason="the release models are not built (make release)")

# The command run in-process, to see that it imports no TensorFlow.
TF_FREE = """
import json, sys
from zoo import cli
try:
    cli.cli.main(sys.argv[1:], prog_name="zoo", standalone_mode=False)
    code = 0
except SystemExit as exit:
    code = exit.code
print(json.dumps({"code": code, "tf_like": sorted(name for name in sys.modules
                                                  if name.split(".")[0] in ("tensorflow", "keras", "tf2onnx"))}))
"""


def model_config_pb2():
    try:
        from google.protobuf import text_format
        from tritonclient.grpc import model_config_pb2 as configs
    except ImportError as error:
        pytest.skip(f"tritonclient's model_config_pb2 is not importable ({error}); make test installs tritonclient")
    return configs, text_format


def test_triton_repository_configs_parse_as_triton_model_configs(tmp_path):
    configs, text_format = model_config_pb2()
    from serve import models
    from serve.http import oip

    out = tmp_path / "repository"
    result = subprocess.run([sys.executable, "-c", TF_FREE, "triton-repository", "--out", str(out)],
                            capture_output=True, text=True, timeout=300,
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report == {"code": 0, "tf_like": []}
    release = [name for name in models.RELEASE_MODELS if (RELEASE / f"{name}.onnx").is_file()]
    assert sorted(path.name for path in out.iterdir()) == sorted(release)  # no temporary folders left
    for name in release:
        model, session = models.load(name, provider="cpu")
        config = text_format.Parse((out / name / "config.pbtxt").read_text(), configs.ModelConfig())
        assert config.name == name and config.platform == "onnxruntime_onnx" and config.backend == "onnxruntime"
        assert config.max_batch_size == 16
        assert config.dynamic_batching.max_queue_delay_microseconds == 5000
        assert [(group.kind, group.count) for group in config.instance_group] == [
            (configs.ModelInstanceGroup.KIND_CPU, 1)]
        for tensors, items in ((config.input, session.get_inputs()), (config.output, session.get_outputs())):
            assert [tensor.name for tensor in tensors] == [item.name for item in items]
            for tensor, item in zip(tensors, items):
                assert configs.DataType.Name(tensor.data_type) == "TYPE_FP32" and item.type == "tensor(float)"
                assert list(tensor.dims) == [size if isinstance(size, int) else -1 for size in item.shape[1:]]
        # The same names and shapes as zoo serve's /v2/models/NAME (batch dimension -1 there).
        served = {item["name"]: item["shape"] for item in oip.tensor_spec(model.card["inputs"] + model.card["outputs"])}
        assert {tensor.name: [-1, *tensor.dims] for tensor in (*config.input, *config.output)} == served
        assert (out / name / "1" / "model.onnx").read_bytes() == model.path.read_bytes()

    # A fixed batch dimension cannot be batched: max_batch_size 0 and the full dims.
    from serve import triton

    fixed = text_format.Parse(triton.model_config("m", [("x", "TYPE_FP32", [1, 3])], [("y", "TYPE_FP32", [1])], 16, 0),
                              configs.ModelConfig())
    assert fixed.max_batch_size == 0 and list(fixed.input[0].dims) == [1, 3] and not fixed.HasField("dynamic_batching")


def test_triton_repository_refuses_and_replaces(tmp_path):
    configs, text_format = model_config_pb2()
    out = tmp_path / "repository"
    made = run_zoo("triton-repository", "--out", out, "--model", "clock", "--max-batch", 32, "--batch-window-ms", 2)
    assert made.returncode == 0, made.stderr
    assert "wrote" in made.stdout and "tritonserver --model-repository" in made.stdout
    config = text_format.Parse((out / "clock" / "config.pbtxt").read_text(), configs.ModelConfig())
    assert config.max_batch_size == 32 and config.dynamic_batching.max_queue_delay_microseconds == 2000
    assert_one_line_error(run_zoo("triton-repository", "--out", out, "--model", "clock"), "already holds files",
                          "--force")
    renamed = run_zoo("triton-repository", "--out", out, "--model", f"reader={RELEASE / 'clock.onnx'}", "--force")
    assert renamed.returncode == 0, renamed.stderr
    replaced = run_zoo("triton-repository", "--out", out, "--model", "clock", "--force")
    assert replaced.returncode == 0, replaced.stderr
    assert sorted(path.name for path in out.iterdir()) == ["clock", "reader"]
    assert_one_line_error(run_zoo("triton-repository", "--out", out, "--model", "nope"), "--model nope")
    assert_one_line_error(run_zoo("triton-repository", "--out", out, "--model", "clock", "--model", "clock",
                                  "--force"), "is taken")
    assert_one_line_error(run_zoo("triton-repository", "--out", out, "--max-batch", 0), "--max-batch")
    assert_one_line_error(run_zoo("triton-repository", "--out", out / "clock" / "config.pbtxt"), "is a file")
    assert_one_line_error(run_zoo("triton-repository"), "--out")


def test_serve_bench_bounded_load_answers_every_request(tmp_path):
    out = tmp_path / "bench.json"
    result = run_zoo("serve-bench", "--clients", 8, "--seconds", 3, "--requests", 20, "--batch", 8,
                     "--infer-repeats", 2, "--phases", 1, "--out", out, timeout=300)
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text())
    assert report["failed_requests"] == 0 and report["wrong_readings"] == 0, report
    assert report["concurrent"]["answered"] > 0 and report["concurrent"]["first_failures"] == []
    assert report["one_client"]["latency"]["requests"] == 20 and report["one_client"]["reading"]
    assert 0 < report["cold_start_seconds"] < 180
    for kind in ("http_binary", "http_json"):  # the server's outputs are onnxruntime's here
        assert report["infer"][kind]["max_abs_difference"] < 1e-5 and report["infer"][kind]["requests"] == 2
    assert report["server_rss_megabytes"]["ready"] is None or report["server_rss_megabytes"]["after_infer"] > 0
    assert report["memory_phases"]["phases"] == 1 and report["memory_phases"]["answered"] > 0
    assert len(report["server_rss_megabytes"]["after_phase"]) == 1 and "steady_state" in report["rss_growth_percent"]
    for kind in ("time", "infer_batch_1"):  # the server against this process at the same concurrency
        part = report["served_against_in_process"][kind]
        assert part["served"]["answered"] > 0 and part["in_process"]["answered"] > 0 and part["throughput_ratio"] > 0
        assert part["served"]["wrong_readings"] == 0
    assert "ratio" in result.stdout
    table = out.with_suffix(".csv").read_text().splitlines()
    assert table[0] == "figure,value" and any(line.startswith("concurrent.requests_per_second,") for line in table)
    assert "cold start to ready" in result.stdout
    assert "server RSS, steady state" in result.stdout and "server RSS, ready to end" in result.stdout
    assert_one_line_error(run_zoo("serve-bench", "--clients", 0), "--clients must be between 1 and")
    assert_one_line_error(run_zoo("serve-bench", "--out", tmp_path / "x.txt"), "--out must name a .json")


def test_docs_screenshots_are_small_pngs():
    for name in ("page-phone.png", "page-desktop.png"):  # tests/page_browser.py writes them (make page-screenshots)
        path = ROOT / "docs" / name
        assert path.is_file() and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert path.stat().st_size < 300_000, (name, path.stat().st_size)
