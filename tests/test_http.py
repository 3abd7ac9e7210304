"""zoo serve: the HTTP server, started for real in a subprocess and called over loopback.

The server runs the release models shipped in serve/release (clock.onnx, faces.onnx);
every answer is checked against onnxruntime called directly here on the same input,
or against the CLI's own output (predict.reading, zoo generate-faces, zoo interpolate).
"""

import concurrent.futures
import io
import json
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import zlib

import numpy as np
import pytest
from PIL import Image

from conftest import ROOT, assert_one_line_error, make_images, run_zoo
from serve import images as imaging
from serve import locate, models, predict
from serve.http import loadtest
from zoo.clocks import clockface

TOKEN = "test-token-123"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
MAX_BODY_MB = 2
RELEASE = ROOT / "serve" / "release"

pytestmark = pytest.mark.skipif(not (RELEASE / "clock.onnx").is_file() or not (RELEASE / "faces.onnx").is_file(),
                                reason="the release models are not built (make release)")


def server_env():
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    env.pop("ZOO_RELEASE_DIR", None)
    env.pop("ZOO_SERVE_TOKEN", None)
    return env


def Server(tmp_path, *args):
    """``zoo serve --port 0 ARGS`` on loopback, started and ready (loadtest's server
    process, as serve-bench starts it), with this checkout on its path."""
    log = tmp_path / f"serve-{time.monotonic_ns()}.log"
    return loadtest.ServerProcess(args, env=server_env(), log_path=log, timeout=60).start()


def request(server, method, path, body=None, headers=None, timeout=60):
    """``(status, headers, body bytes)`` of one request (errors too)."""
    headers = AUTH if headers is None else headers
    call = urllib.request.Request(server.url + path, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(call, timeout=timeout) as answer:
            return answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def post_json(server, path, payload, headers=None):
    status, _, body = request(server, "POST", path, json.dumps(payload).encode(),
                              {"Content-Type": "application/json", **(AUTH if headers is None else headers)})
    return status, json.loads(body)


def assert_json_error(answer, status, *fragments):
    code, headers, body = answer
    assert code == status, (code, body[:300])
    assert headers.get("content-type", headers.get("Content-Type", "")).startswith("application/json")
    payload = json.loads(body)
    assert list(payload) == ["error"] and isinstance(payload["error"], str), payload
    assert "\n" not in payload["error"] and "Traceback" not in payload["error"], payload
    for fragment in fragments:
        assert fragment in payload["error"], (fragment, payload["error"])


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    running = Server(tmp_path_factory.mktemp("serve"), "--token", TOKEN, "--max-body-mb", str(MAX_BODY_MB),
                     "--quiet")
    yield running
    running.stop()


@pytest.fixture(scope="module")
def direct():
    """The release models, opened here as the server opens them."""
    clock = models.load("clock", provider="auto", require="clock")
    faces = models.load("faces", provider="auto", require="image")
    return {"clock": clock, "faces": faces}


@pytest.fixture(scope="module")
def clocks(tmp_path_factory):
    """Rendered clocks as PNG files: ``[(path, bytes)]``."""
    folder = tmp_path_factory.mktemp("clocks")
    images, _ = clockface.render_batch(3, 11, 128)
    files = []
    for index, image in enumerate(images):
        path = folder / f"clock{index}.png"
        Image.fromarray(image).save(path)
        files.append((path, path.read_bytes()))
    return files


# ----------------------------------------------------------------------------- Open Inference Protocol


def test_health_and_metadata_follow_the_cards(server, direct):
    for path in ("/v2/health/live", "/v2/health/ready"):
        status, _, body = request(server, "GET", path, headers={})  # open without the token
        assert status == 200 and json.loads(body) in ({"live": True}, {"ready": True})
    status, _, body = request(server, "GET", "/v2")
    assert status == 200 and json.loads(body)["name"] == "zoo"
    for name, (model, session) in direct.items():
        status, _, body = request(server, "GET", f"/v2/models/{name}")
        metadata = json.loads(body)
        assert status == 200 and metadata["name"] == name
        assert [(item["name"], item["datatype"]) for item in metadata["inputs"]] == \
            [(item.name, "FP32") for item in session.get_inputs()]
        assert [item["shape"] for item in metadata["inputs"]] == \
            [[-1 if size is None else size for size in item["shape"]] for item in model.card["inputs"]]
        assert [item["name"] for item in metadata["outputs"]] == [item.name for item in session.get_outputs()]
        assert all(item["shape"][0] == -1 and item["datatype"] == "FP32" for item in metadata["outputs"])
        status, _, body = request(server, "GET", f"/v2/models/{name}/ready")
        assert status == 200 and json.loads(body)["ready"] is True


def test_infer_equals_onnxruntime(server, direct, clocks):
    model, session = direct["faces"]
    z = np.random.default_rng(7).standard_normal((3, 128)).astype(np.float32)
    status, answer = post_json(server, "/v2/models/faces/infer",
                               {"id": "a1", "inputs": [{"name": "z", "shape": [3, 128], "datatype": "FP32",
                                                        "data": z.ravel().tolist()}]})
    assert status == 200, answer
    (expected,) = session.run(["image"], {"z": z})
    (output,) = answer["outputs"]
    assert answer["id"] == "a1" and output["name"] == "image" and output["datatype"] == "FP32"
    assert output["shape"] == list(expected.shape)
    np.testing.assert_array_equal(np.asarray(output["data"], np.float32).reshape(expected.shape), expected)

    model, session = direct["clock"]
    image = np.asarray(Image.open(io.BytesIO(clocks[0][1])), np.float32)[None, :, :, None]
    status, answer = post_json(server, "/v2/models/clock/infer",
                               {"inputs": [{"name": "image", "shape": list(image.shape), "datatype": "FP32",
                                            "data": image.tolist()}],  # nested data
                                "outputs": [{"name": "minute"}, {"name": "keypoints"}]})
    assert status == 200, answer
    assert [output["name"] for output in answer["outputs"]] == ["minute", "keypoints"]
    expected = dict(zip(["minute", "keypoints"], session.run(["minute", "keypoints"], {"image": image})))
    for output in answer["outputs"]:
        np.testing.assert_array_equal(np.asarray(output["data"], np.float32).reshape(output["shape"]),
                                      expected[output["name"]])


def test_tritonclient_speaks_to_zoo_serve(server, direct):
    http = pytest.importorskip("tritonclient.http")
    client = http.InferenceServerClient(url=server.url.removeprefix("http://"))
    try:
        assert client.is_server_ready(headers=dict(AUTH)) and client.is_model_ready("faces", headers=dict(AUTH))
        metadata = client.get_model_metadata("faces", headers=dict(AUTH))
        assert metadata["inputs"] == [{"name": "z", "datatype": "FP32", "shape": [-1, 128]}]
        model, session = direct["faces"]
        z = np.random.default_rng(3).standard_normal((2, 128)).astype(np.float32)
        (expected,) = session.run(["image"], {"z": z})
        for binary in (True, False):  # Triton's binary tensor extension, then plain JSON
            tensor = http.InferInput("z", list(z.shape), "FP32")
            tensor.set_data_from_numpy(z, binary_data=binary)
            result = client.infer("faces", [tensor], outputs=[http.InferRequestedOutput("image", binary_data=binary)],
                                  headers=dict(AUTH))
            np.testing.assert_array_equal(result.as_numpy("image"), expected)
    finally:
        client.close()


# ----------------------------------------------------------------------------- the zoo's endpoints


def test_time_answers_what_predict_time_answers(server, direct, clocks):
    model, session = direct["clock"]
    preprocessing = predict.effective_preprocessing(model.card)
    for index, (path, data) in enumerate(clocks):
        minutes, confidence, box = locate.find_and_read(session, model, imaging.open_image(path))
        expected = {**predict.reading(minutes, confidence), "box": box}  # predict-time's default: find the dial
        if index == 0:  # a multipart upload, as a browser's form sends it
            boundary = "zooboundary7"
            body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"c.png\"\r\n"
                    f"Content-Type: image/png\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
            answer = request(server, "POST", "/time", body,
                             {**AUTH, "Content-Type": f"multipart/form-data; boundary={boundary}"})
        else:
            answer = request(server, "POST", "/time", data, {**AUTH, "Content-Type": "image/png"})
        assert answer[0] == 200, answer[2]
        assert json.loads(answer[2]) == expected
        assert set(expected) == {"time", "hour", "minute", "confidence", "sure", "minutes", "box"}
    status, _, body = request(server, "POST", "/time?find=0", clocks[0][1], AUTH)
    assert status == 200
    minutes, confidence = predict.read_arrays(session, model, imaging.load(clocks[0][0], preprocessing)[None])
    found = locate.find_and_read(session, model, imaging.open_image(clocks[0][0]))
    assert json.loads(body) == {**predict.reading(minutes[0], confidence[0]), "box": found[2]}


def test_face_pictures_equal_the_cli_files(server, tmp_path):
    grid, strip = tmp_path / "grid.png", tmp_path / "strip.png"
    made = run_zoo("generate-faces", "--count", 6, "--seed", 5, "--out", grid, env={"ZOO_RELEASE_DIR": str(RELEASE)})
    assert made.returncode == 0, made.stderr
    made = run_zoo("interpolate", "--seeds", 2, 9, "--steps", 5, "--spherical", "--out", strip,
                   env={"ZOO_RELEASE_DIR": str(RELEASE)})
    assert made.returncode == 0, made.stderr
    status, headers, body = request(server, "GET", "/faces.png?count=6&seed=5")
    assert status == 200 and headers["content-type"] == "image/png" and body == grid.read_bytes()
    status, headers, body = request(server, "GET", "/interpolate.png?seeds=2,9&steps=5&spherical=1")
    assert status == 200 and body == strip.read_bytes()


def test_page_is_served_with_its_script(server):
    status, headers, body = request(server, "GET", "/", headers={})  # the page is open; its requests send the token
    assert status == 200 and headers["content-type"].startswith("text/html")
    assert b'<script src="app.js">' in body and b'id="drop"' in body
    status, headers, body = request(server, "GET", "/app.js", headers={})
    assert status == 200 and b"Authorization" in body and b"time" in body


# ----------------------------------------------------------------------------- classify


@pytest.fixture(scope="module")
def classify_server(tmp_path_factory, classifier_export):
    """zoo serve with the tiny classifier (conftest) as ``digits`` beside the release clock reader."""
    running = Server(tmp_path_factory.mktemp("classify"), "--model", f"digits={classifier_export}", "--model", "clock",
                     "--token", TOKEN, "--quiet")
    yield running
    running.stop()


def multipart(data, field="image"):
    boundary = "zooboundary7"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"d.png\"\r\n"
            f"Content-Type: image/png\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return body, {**AUTH, "Content-Type": f"multipart/form-data; boundary={boundary}"}


def test_classify_answers_what_zoo_classify_answers(classify_server, classifier_export, tmp_path):
    images, _ = make_images(3, (28, 28), 1)
    paths = []
    for index, image in enumerate(images):
        paths.append(tmp_path / f"digit{index}.png")
        Image.fromarray(255 - image if index else image).save(paths[-1])  # dark on light too: inverted alike
    made = run_zoo("classify", *paths, "--model", classifier_export, "--top", 3, "--json")
    assert made.returncode == 0, made.stderr
    for index, (path, expected) in enumerate(zip(paths, json.loads(made.stdout)["results"])):
        if index == 0:  # a multipart upload, as a browser's form sends it
            answer = request(classify_server, "POST", "/classify?top=3&model=digits", *multipart(path.read_bytes()))
        else:
            answer = request(classify_server, "POST", "/classify?top=3", path.read_bytes(),
                             {**AUTH, "Content-Type": "image/png"})
        assert answer[0] == 200, answer[2]
        assert json.loads(answer[2]) == {"model": "digits", **{key: value for key, value in expected.items()
                                                                if key != "file"}}
    status, _, body = request(classify_server, "POST", "/classify", paths[0].read_bytes())
    assert status == 200 and len(json.loads(body)["top"]) == 1
    assert 'endpoint="classify",model="digits"' in request(classify_server, "GET", "/metrics")[2].decode()


def test_classify_refusals_are_one_line_json(classify_server, tmp_path):
    assert_json_error(request(classify_server, "POST", "/classify", b"this is not an image"), 400, "not an image")
    assert_json_error(request(classify_server, "POST", "/classify", b""), 400, "no image")
    assert_json_error(request(classify_server, "POST", "/classify", *multipart(b"x", field="photo")), 400,
                      "field named 'image'")
    assert_json_error(request(classify_server, "POST", "/classify?model=nope", b"x"), 404, "unknown model 'nope'",
                      "digits, clock")
    assert_json_error(request(classify_server, "POST", "/classify?model=clock", b"x"), 400, "not a classifier")
    assert_json_error(request(classify_server, "POST", "/classify?top=11", b"x"), 400, "top must be between 1 and 10")
    assert_json_error(request(classify_server, "POST", "/classify", b"x", headers={}), 401)
    assert_json_error(request(classify_server, "GET", "/classify"), 405)
    faces_only = Server(tmp_path, "--model", "faces", "--quiet")
    try:
        assert_json_error(request(faces_only, "POST", "/classify", b"x"), 404, "no classifier")
    finally:
        faces_only.stop()


# ----------------------------------------------------------------------------- refusals


def write_bomb(width, height):
    """A tiny PNG whose header claims ``width`` x ``height`` pixels."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
            + chunk(b"IEND", b""))


def test_refusals_are_one_line_json(server, clocks):
    z = {"name": "z", "shape": [1, 128], "datatype": "FP32", "data": [0.0] * 128}
    infer = "/v2/models/faces/infer"
    assert_json_error(request(server, "GET", "/v2/models/faces", headers={}), 401, "bearer token")
    assert_json_error(request(server, "GET", "/metrics", headers={"Authorization": "Bearer wrong"}), 401, "wrong")
    assert_json_error(request(server, "POST", "/time", clocks[0][1], headers={}), 401)
    assert_json_error(request(server, "GET", "/v2/models/nope"), 404, "unknown model 'nope'", "clock, faces")
    assert_json_error(request(server, "POST", "/v2/models/..%2Fclock/infer", b"{}"), 404)
    assert_json_error(request(server, "POST", "/v2/models/nope/infer", json.dumps({"inputs": [z]}).encode()), 404)
    assert_json_error(request(server, "GET", "/nothing/here"), 404, "no such endpoint")
    assert_json_error(request(server, "GET", "/time"), 405)
    bad_tensors = [
        (b"{not json", "not JSON"),
        (b"[1, 2]", "JSON object"),
        (json.dumps({"inputs": []}).encode(), "non-empty list"),
        (json.dumps({"inputs": [{**z, "name": "x"}]}).encode(), "unknown input 'x'"),
        (json.dumps({"inputs": [{**z, "datatype": "INT64"}]}).encode(), "datatype must be FP32"),
        (json.dumps({"inputs": [{**z, "shape": [1, 64]}]}).encode(), "does not fit the model's [-1, 128]"),
        (json.dumps({"inputs": [{**z, "shape": [2, 128]}]}).encode(), "do not fill the shape"),
        (json.dumps({"inputs": [{**z, "data": [[0.0] * 100, [0.0] * 28]}]}).encode(), "ragged"),
        (json.dumps({"inputs": [{**z, "data": ["a"] * 128}]}).encode(), "numbers"),
        (json.dumps({"inputs": [{**z, "shape": "1x128"}]}).encode(), "shape must be"),
        (json.dumps({"inputs": [z], "outputs": [{"name": "nope"}]}).encode(), "unknown output 'nope'"),
    ]
    for body, fragment in bad_tensors:
        assert_json_error(request(server, "POST", infer, body, {**AUTH, "Content-Type": "application/json"}),
                          400, fragment)
    assert_json_error(request(server, "POST", "/time", b"this is not an image"), 400, "not an image")
    assert_json_error(request(server, "POST", "/time", b""), 400, "no image")
    assert_json_error(request(server, "POST", "/time", write_bomb(20_000, 20_000)), 413, "megapixels limit")
    assert_json_error(request(server, "POST", "/time", b"\0" * (MAX_BODY_MB * 1_000_000 + 1)), 413, "2 MB limit")
    assert_json_error(request(server, "GET", "/faces.png?count=0"), 400, "count must be between 1 and")
    assert_json_error(request(server, "GET", "/faces.png?seed=-1"), 400, "seed must be between 0")
    assert_json_error(request(server, "GET", "/interpolate.png?seeds=1"), 400, "seeds must be two")
    assert_json_error(request(server, "GET", "/time?model=faces", headers=dict(AUTH)), 405)
    assert_json_error(request(server, "POST", "/time?model=faces", clocks[0][1]), 400, "not a clock reader")
    # ... and it goes on answering.
    status, answer = post_json(server, infer, {"inputs": [z]})
    assert status == 200 and answer["outputs"][0]["shape"] == [1, 64, 64, 3]


def degenerate_png(width, height):
    """A real, tiny PNG of ``width`` x ``height`` grey pixels (1000x1 is 75 bytes)."""
    buffer = io.BytesIO()
    Image.new("L", (width, height), 128).save(buffer, "PNG")
    return buffer.getvalue()


def test_hostile_requests_are_bounded_and_answered_4xx(server):
    """Issue #45's table: each case that cost gigabytes or gave a 500 now gets a quick 4xx."""
    z = {"name": "z", "shape": [1, 128], "datatype": "FP32", "data": [0.0] * 128}
    infer = "/v2/models/faces/infer"
    json_headers = {**AUTH, "Content-Type": "application/json"}
    for width, height in ((1000, 1), (100_000, 1), (1, 5000)):
        started = time.monotonic()
        assert_json_error(request(server, "POST", "/time", degenerate_png(width, height)), 413, "aspect-ratio limit")
        assert time.monotonic() - started < 10  # refused from its header, not after cutting 1,999 squares
    many = {"inputs": [{**z, "shape": [1024, 128], "data": [0.0] * (1024 * 128)}]}
    assert_json_error(request(server, "POST", infer, json.dumps(many).encode(), json_headers), 413, "256 rows")
    answer = {"inputs": [{**z, "shape": [200, 128], "data": [0.0] * (200 * 128)}]}
    assert_json_error(request(server, "POST", infer, json.dumps(answer).encode(), json_headers), 413, "answer limit")
    deep = b"[" * 100_000 + b"]" * 100_000
    assert_json_error(request(server, "POST", infer, deep, json_headers), 400, "nested too deeply")
    not_a_number = json.dumps({"inputs": [z]}).replace("0.0", "NaN", 1).encode()
    assert_json_error(request(server, "POST", infer, not_a_number, json_headers), 400, "NaN")
    for seeds in ("%C2%B2,1", "%E2%91%A0,1"):  # "²,1" and "①,1"
        assert_json_error(request(server, "GET", f"/interpolate.png?seeds={seeds}"), 400, "seeds must be two")
    lower = {"Authorization": f"bearer {TOKEN}"}  # RFC 7235: the scheme is case-insensitive
    status, _, _ = request(server, "GET", "/v2/models/faces", headers=lower)
    assert status == 200
    huge = {"inputs": [{**z, "data": [1e38] * 128}]}
    status, _, body = request(server, "POST", infer, json.dumps(huge).encode(), json_headers)
    assert status in (200, 422), body[:200]
    if status == 200:
        json.loads(body, parse_constant=lambda name: pytest.fail(f"the answer holds {name}"))
    status, answer = post_json(server, infer, {"inputs": [z]})
    assert status == 200 and answer["outputs"][0]["shape"] == [1, 64, 64, 3]


# ----------------------------------------------------------------------------- load, metrics


def test_a_concurrent_burst_is_batched_and_answered_exactly(server, direct):
    model, session = direct["faces"]
    clients, each = 16, 20
    rng = np.random.default_rng(11)
    latents = rng.standard_normal((clients, each, 128)).astype(np.float32)
    (expected,) = session.run(["image"], {"z": latents.reshape(-1, 128)})
    expected = expected.reshape(clients, each, *expected.shape[1:])
    start_line = threading.Barrier(clients)

    def client(index):
        start_line.wait()
        failures = []
        for step in range(each):
            status, answer = post_json(server, "/v2/models/faces/infer", {"inputs": [
                {"name": "z", "shape": [1, 128], "datatype": "FP32", "data": latents[index, step].tolist()}]})
            if status != 200:
                failures.append(answer)
                continue
            got = np.asarray(answer["outputs"][0]["data"], np.float32).reshape(1, *expected.shape[2:])
            if not np.allclose(got[0], expected[index, step], atol=1e-5):
                failures.append(f"client {index} request {step}: another request's rows")
        return failures

    before = metric_values(server)
    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        failures = [failure for found in pool.map(client, range(clients)) for failure in found]
    seconds = time.perf_counter() - started
    assert failures == [], failures[:3]
    after = metric_values(server)
    answered = after[('zoo_http_requests_total', (("code", "200"), ("endpoint", "infer"), ("model", "faces")))]
    answered -= before.get(('zoo_http_requests_total', (("code", "200"), ("endpoint", "infer"), ("model", "faces"))), 0)
    assert answered == clients * each
    faces = (("model", "faces"),)
    runs = after[("zoo_batch_rows_count", faces)] - before.get(("zoo_batch_rows_count", faces), 0)
    rows = after[("zoo_batch_rows_sum", faces)] - before.get(("zoo_batch_rows_sum", faces), 0)
    assert rows == clients * each and runs < rows, (runs, rows)  # some runs held several requests
    print(f"\n{clients}x{each} infer requests in {seconds:.2f} s, {rows / runs:.1f} rows per onnxruntime run")


def test_a_request_over_max_batch_runs_in_slices(server, direct):
    # Issue #36: onnxruntime's arena keeps what its largest run needed, so a request of more
    # than --max-batch rows (16 here) runs as 16 + 4 rows, and answers as one run would.
    model, session = direct["faces"]
    z = np.random.default_rng(5).standard_normal((20, 128)).astype(np.float32)
    (expected,) = session.run(["image"], {"z": z})
    before = metric_values(server)
    status, answer = post_json(server, "/v2/models/faces/infer", {"inputs": [
        {"name": "z", "shape": [20, 128], "datatype": "FP32", "data": z.ravel().tolist()}]})
    assert status == 200, answer
    assert answer["outputs"][0]["shape"] == list(expected.shape)
    np.testing.assert_allclose(np.asarray(answer["outputs"][0]["data"], np.float32).reshape(expected.shape),
                               expected, atol=1e-5)
    after = metric_values(server)
    faces = (("model", "faces"),)
    runs = after[("zoo_batch_rows_count", faces)] - before.get(("zoo_batch_rows_count", faces), 0)
    rows = after[("zoo_batch_rows_sum", faces)] - before.get(("zoo_batch_rows_sum", faces), 0)
    assert (runs, rows) == (2, 20)


def metric_values(server):
    """``{(metric name, sorted labels): value}`` from /metrics."""
    status, headers, body = request(server, "GET", "/metrics")
    assert status == 200 and headers["content-type"].startswith("text/plain")
    values = {}
    for line in body.decode().splitlines():
        found = re.match(r"^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$", line)
        if found:
            labels = tuple(sorted(re.findall(r'(\w+)="([^"]*)"', found.group(2) or "")))
            values[(found.group(1), labels)] = float(found.group(3))
    return values


def test_metrics_count_requests_errors_and_latency(server):
    before = metric_values(server)
    key = ("zoo_http_requests_total", (("code", "404"), ("endpoint", "model_metadata"), ("model", "unknown")))
    errors_key = ("zoo_http_request_errors_total", (("endpoint", "model_metadata"), ("model", "unknown")))
    for _ in range(3):
        request(server, "GET", "/v2/models/nothing")
    request(server, "GET", "/v2/models/clock")
    after = metric_values(server)
    assert after[key] - before.get(key, 0) == 3
    assert after[errors_key] - before.get(errors_key, 0) == 3
    latency = ("zoo_http_request_duration_seconds_count", (("endpoint", "model_metadata"), ("model", "clock")))
    assert after[latency] - before.get(latency, 0) == 1
    assert ("zoo_http_requests_total", (("code", "401"), ("endpoint", "model_metadata"), ("model", "faces"))) in after


# ----------------------------------------------------------------------------- the command


def test_serve_imports_no_tensorflow():
    script = """
import asyncio, json, sys
from serve.http import app as application, cli  # noqa: F401 (cli imports uvicorn lazily: import it too)
import uvicorn  # noqa: F401
app = application.create_app(application.Settings())

async def call(method, path, body=b""):
    scope = {"type": "http", "method": method, "path": path, "raw_path": path.encode(), "query_string": b"count=2",
             "headers": [(b"content-length", str(len(body)).encode())], "scheme": "http", "http_version": "1.1",
             "server": ("127.0.0.1", 80), "client": ("127.0.0.1", 1), "root_path": ""}
    sent, messages = [], [{"type": "http.request", "body": body, "more_body": False}]
    async def receive():
        return messages.pop(0) if messages else {"type": "http.disconnect"}
    async def send(message):
        sent.append(message)
    await app(scope, receive, send)
    return sent[0]["status"]

async def main():
    import io
    from PIL import Image
    image = io.BytesIO()
    Image.new("L", (64, 64), 255).save(image, format="PNG")
    return [await call("POST", "/time", image.getvalue()), await call("GET", "/faces.png"),
            await call("GET", "/v2/models/clock")]

codes = asyncio.run(main())
print(json.dumps({"codes": codes, "tf_like": sorted(name for name in sys.modules
                                                    if name.split(".")[0] in ("tensorflow", "keras", "tf2onnx"))}))
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=server_env(),
                            timeout=120)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report == {"codes": [200, 200, 200], "tf_like": []}


def test_bad_options_are_one_line_errors(tmp_path):
    assert_one_line_error(run_zoo("serve", "--port", "x"), "--port")
    assert_one_line_error(run_zoo("serve", "--max-batch", "0"), "--max-batch must be between 1 and")
    assert_one_line_error(run_zoo("serve", "--batch-window-ms", "-1"), "--batch-window-ms")
    assert_one_line_error(run_zoo("serve", "--model", "no/such/model.onnx"), "no such file")
    assert_one_line_error(run_zoo("serve", "--model", "../x=y"), "must be letters")
    assert_one_line_error(run_zoo("serve", "--token", "two words"), "--token")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        assert_one_line_error(run_zoo("serve", "--port", taken.getsockname()[1], "--model", "faces"),
                              "cannot listen on 127.0.0.1:")
    help_text = run_zoo("serve", "--help")
    assert help_text.returncode == 0 and "Examples:" in help_text.stdout and "/v2/models/NAME/infer" in help_text.stdout


def test_sigterm_lets_requests_in_flight_finish(tmp_path):
    running = Server(tmp_path, "--quiet")
    try:
        answers = []

        def slow_request():
            answer = request(running, "GET", "/faces.png?count=256&seed=1", headers={})
            answers.append((*answer, time.monotonic()))

        worker = threading.Thread(target=slow_request)
        worker.start()
        time.sleep(0.3)  # the request is in flight (256 faces take longer than that)
        signalled = time.monotonic()
        running.process.send_signal(signal.SIGTERM)
        worker.join(60)
        assert answers and answers[0][3] > signalled
        # uvicorn stops gracefully, then re-raises the signal: the shell sees 143 as after any SIGTERM.
        assert running.process.wait(timeout=60) in (0, -signal.SIGTERM)
        assert "Finished server process" in running.log_text()
        assert answers and answers[0][0] == 200 and answers[0][2][:8] == b"\x89PNG\r\n\x1a\n"
        with pytest.raises(urllib.error.URLError):  # it stopped listening
            request(running, "GET", "/v2/health/live", headers={}, timeout=5)
    finally:
        running.stop()
