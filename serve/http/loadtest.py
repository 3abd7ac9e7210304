"""``zoo serve-bench``: a load test and the serving benchmark of ``zoo serve``.

It starts ``zoo serve`` as a subprocess and measures, over loopback:

- cold start: from the process's start to the first 200 from ``/v2/health/ready``;
- ``POST /time`` latency for one client (p50, p99 over N requests of a rendered clock
  PNG, on one keep-alive connection);
- throughput with C concurrent clients for D seconds: requests per second, failed
  requests, answers that differ from the one client's reading, compared to one client;
- ``POST /v2/models/clock/infer`` at batch B (Triton's binary tensor extension, and
  plain JSON) against onnxruntime called in this process on the same batch, and
  whether their outputs are the same;
- the server's throughput against this process's at C threads on the same inputs, as a
  ratio: ``/time`` on the PNG (decoded, the dial found, read) and binary infer at batch 1;
- the server's resident memory (RSS): when ready, after each of those, and after each
  of P more equal load phases (C clients for D seconds, then the batch-B infer
  requests). The headline is the growth over those P phases, after the first (warm-up)
  one: onnxruntime's CPU arena, glibc's malloc arenas and the threads serving requests
  grow to the largest load they have seen and keep that memory, so growth that stops
  after the first phases is a high-water mark, growth in every phase a leak. The raw
  growth from ready to the end is reported too.

Every request's answer is checked; the command exits 1 if any failed. numpy, Pillow,
onnxruntime and the standard library only (``http.client`` threads), never TensorFlow.
Figures are only meaningful on an idle machine: the load average goes with them.
"""

import concurrent.futures
import csv
import http.client
import json
import os
import pathlib
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

from zoo import errors

READY_TIMEOUT = 180.0
URL_PATTERN = re.compile(r"http://(127\.0\.0\.1|\[::1\]|localhost):(\d+)/")


class ServerProcess:
    """``zoo serve --port 0 ARGS`` in a subprocess, on loopback.

    ``cold_start_seconds`` is the time from the process's start to the first 200 from
    ``/v2/health/ready``. Use as a context manager; leaving it sends SIGTERM (graceful)
    and kills the server only if it has not stopped 30 s later. ``env`` is the
    server's whole environment (default: this process's).
    """

    def __init__(self, args=(), env=None, log_path=None, timeout=READY_TIMEOUT):
        self.args, self.timeout = list(map(str, args)), timeout
        self.env = dict(os.environ if env is None else env)
        self.env.pop("ZOO_SERVE_TOKEN", None)  # the token, if any, comes from args
        self._own_log = log_path is None
        self.log_path = pathlib.Path(log_path or tempfile.mkstemp(prefix="zoo-serve-", suffix=".log")[1])
        self.process, self.url, self.port, self.cold_start_seconds = None, None, None, None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def log_text(self):
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def _failure(self, what):
        lines = [line for line in self.log_text().strip().splitlines() if line.strip()]
        last = lines[-1] if lines else "no output"
        self.stop()
        return errors.ZooError(f"zoo serve {what}: {last[:300]}")

    def start(self):
        command = [sys.executable, "-m", "zoo.cli", "serve", "--host", "127.0.0.1", "--port", "0", *self.args]
        with open(self.log_path, "wb") as log:
            started = time.perf_counter()
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            env=self.env)
        deadline = started + self.timeout
        while self.url is None:
            if self.process.poll() is not None:
                raise self._failure(f"exited with code {self.process.returncode}")
            found = URL_PATTERN.search(self.log_text())
            if found:
                self.port = int(found.group(2))
                self.url = f"http://127.0.0.1:{self.port}"
            elif time.perf_counter() > deadline:
                raise self._failure(f"printed no address in {self.timeout:g} s")
            else:
                time.sleep(0.005)
        while True:
            try:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                connection.request("GET", "/v2/health/ready")
                if connection.getresponse().status == 200:
                    self.cold_start_seconds = time.perf_counter() - started
                    connection.close()
                    return self
                connection.close()
            except OSError:
                pass
            if self.process.poll() is not None:
                raise self._failure(f"exited with code {self.process.returncode}")
            if time.perf_counter() > deadline:
                raise self._failure(f"was not ready in {self.timeout:g} s")
            time.sleep(0.005)

    def rss_megabytes(self):
        """The server's resident memory in MB (Linux /proc), or None."""
        try:
            for line in pathlib.Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return round(int(line.split()[1]) / 1024.0, 1)
        except (OSError, ValueError, IndexError):
            return None
        return None

    def stop(self):
        if self.process is not None:
            terminate(self.process)
        if self._own_log:
            self.log_path.unlink(missing_ok=True)


def terminate(process, timeout=30):
    """Stop a server process as a deployment would: SIGTERM (requests in flight finish),
    then SIGKILL if it has not exited within ``timeout`` seconds."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _summary(seconds):
    if not seconds:
        return {"p50_ms": None, "p99_ms": None, "mean_ms": None, "requests": 0}
    values = np.asarray(seconds) * 1000.0
    return {"p50_ms": round(float(np.percentile(values, 50)), 2), "p99_ms": round(float(np.percentile(values, 99)), 2),
            "mean_ms": round(float(values.mean()), 2), "requests": int(len(values))}


def _post(connection, path, body, headers):
    connection.request("POST", path, body, headers)
    answer = connection.getresponse()
    return answer.status, answer.getheaders(), answer.read()


def _reading(status, body):
    """The time a /time answer gives, or None for a failure."""
    if status != 200:
        return None
    try:
        return json.loads(body)["time"]
    except (ValueError, KeyError, TypeError):
        return None


def one_client(port, image, requests, warmup=10, headers=None):
    """``(latency summary, the reading, failures, requests per second)`` of one client
    sending ``image`` to ``POST /time`` ``requests`` times on one keep-alive connection."""
    headers = {"Content-Type": "image/png", **(headers or {})}
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    failures, expected = 0, None
    for _ in range(warmup):
        status, _, body = _post(connection, "/time", image, headers)
        expected = expected or _reading(status, body)
    seconds = []
    started = time.perf_counter()
    for _ in range(requests):
        begun = time.perf_counter()
        try:
            status, _, body = _post(connection, "/time", image, headers)
        except (OSError, http.client.HTTPException):
            failures += 1
            connection.close()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            continue
        reading = _reading(status, body)
        if reading is None:
            failures += 1
            continue
        seconds.append(time.perf_counter() - begun)
        expected = expected or reading
    elapsed = time.perf_counter() - started
    connection.close()
    return _summary(seconds), expected, failures, round(len(seconds) / elapsed, 2)


def _hammer(clients, duration, attempt, connect=None):
    """``clients`` threads, each on its own connection (``connect()``, or None in process),
    calling ``attempt(connection) -> (ok, wrong, message)`` for ``duration`` seconds."""
    start_line = threading.Barrier(clients + 1)
    stop_at = [None]

    def client(_):
        connection = connect() if connect else None
        seconds, failed, wrong, messages = [], 0, 0, []
        start_line.wait()
        while time.perf_counter() < stop_at[0]:
            begun = time.perf_counter()
            try:
                ok, differs, message = attempt(connection)
            except (OSError, http.client.HTTPException) as error:
                ok, differs, message = False, False, f"{type(error).__name__}: {error}"[:200]
                if connection is not None:
                    connection.close()
                    connection = connect()
            took = time.perf_counter() - begun
            if not ok:
                failed += 1
                messages.append(message)
                continue
            seconds.append(took)
            wrong += bool(differs)
        if connection is not None:
            connection.close()
        return seconds, failed, wrong, messages[:3]

    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        futures = [pool.submit(client, index) for index in range(clients)]
        started = time.perf_counter()
        stop_at[0] = started + duration  # read by the clients once the barrier lets them go
        start_line.wait()
        results = [future.result() for future in futures]
    elapsed = time.perf_counter() - started
    seconds = [value for result in results for value in result[0]]
    return {
        "clients": clients, "seconds": round(elapsed, 2),
        "requests_per_second": round(len(seconds) / elapsed, 2),
        "answered": len(seconds),
        "failed": sum(result[1] for result in results),
        "wrong_readings": sum(result[2] for result in results),
        "latency": _summary(seconds),
        "first_failures": [message for result in results for message in result[3]][:5],
    }


def _connect(port):
    return lambda: http.client.HTTPConnection("127.0.0.1", port, timeout=60)


def many_clients(port, image, clients, duration, expected, headers=None):
    """Throughput of ``clients`` threads, each on its own keep-alive connection, sending
    ``image`` to ``POST /time`` for ``duration`` seconds; every answer is checked."""
    headers = {"Content-Type": "image/png", **(headers or {})}

    def attempt(connection):
        status, _, body = _post(connection, "/time", image, headers)
        reading = _reading(status, body)
        if reading is None:
            return False, False, f"HTTP {status}: {body[:160]!r}"
        return True, expected is not None and reading != expected, None

    return _hammer(clients, duration, attempt, _connect(port))


def many_infer_clients(port, input_name, row, expected, clients, duration, headers=None):
    """Throughput of ``clients`` threads sending one ``row`` (batch 1) to
    ``POST /v2/models/clock/infer`` as binary tensors; outputs checked against ``expected``."""
    body, request_headers = infer_request(input_name, row, list(expected), True)
    request_headers.update(headers or {})

    def attempt(connection):
        try:
            outputs = infer_outputs(*_post(connection, "/v2/models/clock/infer", body, request_headers))
        except (errors.ZooError, ValueError, KeyError) as error:
            return False, False, errors.one_line(error)
        differs = any(float(np.max(np.abs(outputs[name] - value))) > 1e-4 for name, value in expected.items())
        return True, differs, None

    return _hammer(clients, duration, attempt, _connect(port))


def in_process_time(model, session, path, clients, duration, expected):
    """The same reading as ``POST /time`` (the file decoded, the dial found, read) by
    ``clients`` threads in this process: what the server's /time throughput is held to."""
    from serve import images as imaging
    from serve import predict

    item = imaging.Item(str(path), path)

    def attempt(_):
        ((_, result),) = predict.predict(session, model, [item])
        if "error" in result:
            return False, False, result["error"]
        return True, expected is not None and result["time"] != expected, None

    return _hammer(clients, duration, attempt)


def in_process_infer(model, session, row, clients, duration):
    """``session.run`` at batch 1 by ``clients`` threads in this process."""
    from serve import predict

    input_name = model.card["inputs"][0]["name"]
    names = [output.name for output in session.get_outputs()]

    def attempt(_):
        predict.run_session(session, model, names, {input_name: row})
        return True, False, None

    return _hammer(clients, duration, attempt)


def clock_batch(model, count, seed=2026, size=128):
    """``count`` rendered clocks, preprocessed as the card says: float32 NHWC."""
    from PIL import Image

    from serve import images as imaging
    from serve import predict
    from zoo.clocks import clockface

    pictures, _ = clockface.render_batch(count, seed=seed, size=size)
    preprocessing = predict.effective_preprocessing(model.card)
    with tempfile.TemporaryDirectory(prefix="zoo-serve-bench-") as folder:
        rows = []
        for index, picture in enumerate(pictures):
            path = pathlib.Path(folder) / f"clock_{index:03d}.png"
            Image.fromarray(picture).save(path)
            rows.append(imaging.load(path, preprocessing))
    return np.stack(rows).astype(np.float32)


def infer_request(input_name, batch, outputs, binary):
    """``(body, headers)`` of an Open Inference Protocol request for ``batch``."""
    tensor = {"name": input_name, "shape": list(batch.shape), "datatype": "FP32"}
    wanted = [{"name": name, "parameters": {"binary_data": binary}} for name in outputs]
    if not binary:
        head = json.dumps({"inputs": [{**tensor, "data": batch.ravel().tolist()}], "outputs": wanted}).encode()
        return head, {"Content-Type": "application/json"}
    raw = np.ascontiguousarray(batch, dtype="<f4").tobytes()
    head = json.dumps({"inputs": [{**tensor, "parameters": {"binary_data_size": len(raw)}}],
                       "outputs": wanted}).encode()
    return head + raw, {"Content-Type": "application/octet-stream", "Inference-Header-Content-Length": str(len(head))}


def infer_outputs(status, headers, body):
    """``{name: array}`` of an inference answer (JSON or binary tensors)."""
    if status != 200:
        raise errors.ZooError(f"infer answered HTTP {status}: {body[:200]!r}")
    length = dict((key.lower(), value) for key, value in headers).get("inference-header-content-length")
    head, tail = (body[:int(length)], body[int(length):]) if length else (body, b"")
    arrays, offset = {}, 0
    for tensor in json.loads(head)["outputs"]:
        size = (tensor.get("parameters") or {}).get("binary_data_size")
        if size is None:
            values = np.asarray(tensor["data"], np.float32)
        else:
            values = np.frombuffer(tail[offset:offset + size], "<f4")
            offset += size
        arrays[tensor["name"]] = values.reshape(tensor["shape"])
    return arrays


def infer_versus_onnxruntime(port, model, session, batch, repeats, headers=None, warmup=2):
    """``POST /v2/models/clock/infer`` at ``len(batch)`` rows (binary and JSON) against
    ``session.run`` on the same batch here: p50/p99 and the largest output difference."""
    from serve import predict

    input_name = model.card["inputs"][0]["name"]
    names = [output.name for output in session.get_outputs()]
    expected = dict(zip(names, predict.run_session(session, model, names, {input_name: batch})))
    result = {"batch": int(len(batch)), "repeats": repeats}
    timings = []
    for _ in range(warmup):
        predict.run_session(session, model, names, {input_name: batch})
    for _ in range(repeats):
        begun = time.perf_counter()
        predict.run_session(session, model, names, {input_name: batch})
        timings.append(time.perf_counter() - begun)
    result["onnxruntime_in_process"] = _summary(timings)
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    failures = 0
    for kind, binary in (("http_binary", True), ("http_json", False)):
        body, request_headers = infer_request(input_name, batch, names, binary)
        request_headers.update(headers or {})
        timings, difference = [], 0.0
        for index in range(warmup + repeats):
            begun = time.perf_counter()
            try:
                answer = _post(connection, "/v2/models/clock/infer", body, request_headers)
                outputs = infer_outputs(*answer)
            except (OSError, http.client.HTTPException, errors.ZooError, ValueError, KeyError):
                failures += 1
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
                continue
            if index >= warmup:
                timings.append(time.perf_counter() - begun)
            difference = max([difference] + [float(np.max(np.abs(outputs[name] - expected[name]))) for name in names])
        result[kind] = {**_summary(timings), "request_megabytes": round(len(body) / 1e6, 2),
                        "max_abs_difference": difference}
        if result[kind]["p50_ms"] and result["onnxruntime_in_process"]["p50_ms"]:
            result[kind]["over_in_process_p50"] = round(
                result[kind]["p50_ms"] / result["onnxruntime_in_process"]["p50_ms"], 2)
    connection.close()
    result["failed"] = failures
    return result


def infer_load(port, input_name, batch, expected, repeats, headers=None):
    """``(failures, largest output difference)`` of ``repeats`` binary and ``repeats`` JSON
    ``POST /v2/models/clock/infer`` requests of ``batch``, checked against ``expected``
    (``{output name: array}``); the memory phases' share of infer load (nothing timed)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    failures, difference = 0, 0.0
    for binary in (True, False):
        body, request_headers = infer_request(input_name, batch, list(expected), binary)
        request_headers.update(headers or {})
        for _ in range(repeats):
            try:
                outputs = infer_outputs(*_post(connection, "/v2/models/clock/infer", body, request_headers))
                difference = max([difference] + [float(np.max(np.abs(outputs[name] - value)))
                                                  for name, value in expected.items()])
            except (OSError, http.client.HTTPException, errors.ZooError, ValueError, KeyError):
                failures += 1
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    connection.close()
    return failures, difference


def _growth(before, after):
    return round(100.0 * (after - before) / before, 1) if before and after else None


def run(clients=32, duration=10.0, requests=200, batch=32, infer_repeats=20, phases=3, serve_args=(), log=None):
    """The whole benchmark; returns its report (a dict)."""
    from PIL import Image

    from serve import bench, models, predict
    from zoo.clocks import clockface

    log = log or (lambda message: None)
    model, session = models.load("clock", provider="auto", require="clock")
    picture, _ = clockface.render_batch(1, seed=3, size=128)
    with tempfile.TemporaryDirectory(prefix="zoo-serve-bench-") as folder:
        path = pathlib.Path(folder) / "clock.png"
        Image.fromarray(picture[0]).save(path)
        image = path.read_bytes()
    inputs = clock_batch(model, batch)
    report = {"machine": bench.machine_facts(), "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
              "settings": {"clients": clients, "seconds": duration, "requests": requests, "batch": batch,
                           "infer_repeats": infer_repeats, "phases": phases,
                           "serve_args": list(map(str, serve_args)),
                           "image": f"zoo.clocks.clockface.render_batch(1, seed=3, size=128), PNG, {len(image)} bytes"}}
    log("[serve-bench] starting zoo serve")
    with ServerProcess(["--quiet", *serve_args]) as server:
        report["cold_start_seconds"] = round(server.cold_start_seconds, 3)
        rss = {"ready": server.rss_megabytes()}
        log(f"[serve-bench] ready in {server.cold_start_seconds:.2f} s; one client, {requests} POST /time")
        latency, expected, failed, per_second = one_client(server.port, image, requests)
        report["one_client"] = {"latency": latency, "failed": failed, "requests_per_second": per_second,
                                "reading": expected}
        rss["after_one_client"] = server.rss_megabytes()
        log(f"[serve-bench] {clients} clients for {duration:g} s")
        report["concurrent"] = many_clients(server.port, image, clients, duration, expected)
        rss["after_concurrent"] = server.rss_megabytes()
        if per_second:
            report["concurrent"]["over_one_client"] = round(report["concurrent"]["requests_per_second"] / per_second, 2)
        log(f"[serve-bench] /v2/models/clock/infer at batch {batch} x{infer_repeats} against onnxruntime here")
        report["infer"] = infer_versus_onnxruntime(server.port, model, session, inputs, infer_repeats)
        rss["after_infer"] = server.rss_megabytes()
        # The server against onnxruntime in this process, at the same concurrency on the same
        # inputs: /time on the PNG, and binary infer at batch 1 (issue #45: at least 0.8).
        input_name = model.card["inputs"][0]["name"]
        names = [output.name for output in session.get_outputs()]
        row = inputs[:1]
        row_expected = dict(zip(names, predict.run_session(session, model, names, {input_name: row})))
        log(f"[serve-bench] {clients} clients: /time and infer at batch 1, served and in this process")
        against = {}
        with tempfile.TemporaryDirectory(prefix="zoo-serve-bench-") as folder:
            path = pathlib.Path(folder) / "clock.png"
            path.write_bytes(image)
            for kind, served, here in (
                    ("time", lambda: many_clients(server.port, image, clients, duration, expected),
                     lambda: in_process_time(model, session, path, clients, duration, expected)),
                    ("infer_batch_1", lambda: many_infer_clients(server.port, input_name, row, row_expected,
                                                                 clients, duration),
                     lambda: in_process_infer(model, session, row, clients, duration))):
                served_figures, here_figures = served(), here()
                against[kind] = {"served": served_figures, "in_process": here_figures,
                                 "throughput_ratio": round(served_figures["requests_per_second"]
                                                           / here_figures["requests_per_second"], 3)
                                 if here_figures["requests_per_second"] else None}
        report["served_against_in_process"] = against
        rss["after_against_in_process"] = server.rss_megabytes()
        # The memory phases: the same load again, RSS after each (see the module's docstring).
        reference = dict(zip(names, predict.run_session(session, model, names, {input_name: inputs})))
        rss["after_phase"], load = [], {"phases": phases, "answered": 0, "failed": 0, "wrong_readings": 0,
                                        "infer_failed": 0, "infer_max_abs_difference": 0.0}
        for phase in range(1, phases + 1):
            log(f"[serve-bench] memory phase {phase}/{phases}: {clients} clients for {duration:g} s, "
                f"{2 * infer_repeats} infer requests at batch {batch}")
            figures = many_clients(server.port, image, clients, duration, expected)
            failed, difference = infer_load(server.port, input_name, inputs, reference, infer_repeats)
            for key in ("answered", "failed", "wrong_readings"):
                load[key] += figures[key]
            load["infer_failed"] += failed
            load["infer_max_abs_difference"] = max(load["infer_max_abs_difference"], difference)
            rss["after_phase"].append(server.rss_megabytes())
    report["memory_phases"] = load
    report["server_rss_megabytes"] = rss
    steps = [rss["after_infer"], *rss["after_phase"]]
    report["rss_growth_percent"] = {
        "steady_state": _growth(steps[0], steps[-1]) if phases else None,
        "per_phase": [_growth(before, after) for before, after in zip(steps, steps[1:])],
        "warm_up": _growth(rss["ready"], rss["after_infer"]),
        "ready_to_end": _growth(rss["ready"], steps[-1]),
        "what": f"steady_state: RSS growth over the {phases} load phases after the warm-up one (the headline: a leak "
                "grows in every phase, a high-water mark stops); warm_up: ready to the end of the first phase; "
                "ready_to_end: ready to the end (raw, the warm-up's high-water marks included)",
    }
    against = report["served_against_in_process"].values()
    report["failed_requests"] = (report["one_client"]["failed"] + report["concurrent"]["failed"]
                                 + report["infer"]["failed"] + load["failed"] + load["infer_failed"]
                                 + sum(part["served"]["failed"] + part["in_process"]["failed"] for part in against))
    report["wrong_readings"] = (report["concurrent"]["wrong_readings"] + load["wrong_readings"]
                                + sum(part["served"]["wrong_readings"] for part in against))
    report["machine"]["load_average_at_end"] = bench.machine_facts().get("load_average")
    return report


def flat_rows(report, prefix=""):
    """``[(figure, value)]``: the report's numbers, keys joined with dots, lists of numbers
    numbered from 1 (for the CSV)."""
    rows = []
    for key, value in report.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            rows += flat_rows(value, name + ".")
        elif isinstance(value, (int, float, str)) or value is None:
            rows.append((name, value))
        elif isinstance(value, list) and all(isinstance(item, (int, float)) or item is None for item in value):
            rows += [(f"{name}.{index}", item) for index, item in enumerate(value, 1)]  # after_phase.1 ...
    return rows


def write(report, out):
    """``out`` (JSON) and the same figures as ``figure,value`` rows beside it (.csv)."""
    from zoo.common import files

    out = pathlib.Path(out)
    files.write_json(out, report)
    table = out.with_suffix(".csv")
    partial = files.temporary_path(table)
    try:
        with open(partial, "w", newline="") as file:
            writer = csv.writer(file)
            writer.writerow(["figure", "value"])
            writer.writerows(flat_rows({key: value for key, value in report.items() if key != "machine"}))
        os.replace(partial, table)
    finally:
        partial.unlink(missing_ok=True)
    return out, table


def _signed(percent):
    return "-" if percent is None else f"{percent:+.1f}%"


def _steady_line(report):
    """The memory headline: RSS growth over the load phases after the warm-up one."""
    rss, growth = report["server_rss_megabytes"], report.get("rss_growth_percent") or {}
    phases = rss.get("after_phase") or []
    if not phases:
        return "server RSS, steady state   not measured (--phases 0)"
    return (f"server RSS, steady state   {_signed(growth.get('steady_state'))} over {len(phases)} load phases after a "
            f"warm-up one ({rss.get('after_infer')} -> {phases[-1]} MB; per phase "
            + ", ".join(_signed(value) for value in growth.get("per_phase") or []) + ")")


def describe(report):
    """The figures as a few lines of text."""
    one, many, infer = report["one_client"], report["concurrent"], report["infer"]
    rss = report["server_rss_megabytes"]
    growth = report.get("rss_growth_percent") or {}
    lines = [
        f"cold start to ready        {report['cold_start_seconds']:.2f} s",
        f"POST /time, one client     p50 {one['latency']['p50_ms']} ms, p99 {one['latency']['p99_ms']} ms, "
        f"{one['requests_per_second']} req/s ({one['latency']['requests']} requests, {one['failed']} failed)",
        f"POST /time, {many['clients']} clients     {many['requests_per_second']} req/s "
        f"(x{many.get('over_one_client', '-')} one client), p50 {many['latency']['p50_ms']} ms, "
        f"p99 {many['latency']['p99_ms']} ms; {many['latency']['requests']} answered in {many['seconds']} s, "
        f"{many['failed']} failed, {many['wrong_readings']} wrong",
        _steady_line(report),
        f"server RSS, ready to end   {rss.get('ready')} MB ready, {rss.get('after_one_client')} after one client, "
        f"{rss.get('after_concurrent')} after the first load, {rss.get('after_infer')} after the first infer phase, "
        f"{(rss.get('after_phase') or [rss.get('after_infer')])[-1]} at the end "
        f"({_signed(growth.get('ready_to_end'))}: raw, the warm-up's high-water marks included)",
        f"infer at batch {infer['batch']:<3}         onnxruntime here "
        f"p50 {infer['onnxruntime_in_process']['p50_ms']} ms; "
        + "; ".join(f"{kind.replace('_', ' ')} p50 {infer[kind]['p50_ms']} ms "
                    f"(x{infer[kind].get('over_in_process_p50', '-')}, "
                    f"{infer[kind]['request_megabytes']} MB, max diff {infer[kind]['max_abs_difference']:.1e})"
                    for kind in ("http_binary", "http_json")),
        *(f"{kind.replace('_', ' ')+', ' + str(part['served']['clients']) + ' clients':<27}"
          f"served {part['served']['requests_per_second']} req/s "
          f"(p50 {part['served']['latency']['p50_ms']} ms, p99 {part['served']['latency']['p99_ms']} ms) against "
          f"{part['in_process']['requests_per_second']} in process (p50 {part['in_process']['latency']['p50_ms']} ms): "
          f"ratio {part['throughput_ratio']}"
          for kind, part in report.get("served_against_in_process", {}).items()),
        f"machine                    load average {report['machine'].get('load_average')} at the start, "
        f"{report['machine'].get('load_average_at_end')} at the end; "
        f"{report['machine'].get('cpus_usable')} cores usable",
    ]
    return "\n".join(lines)
