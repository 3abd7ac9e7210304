"""zoo serve's connection layer over raw sockets (serve/http/protocol.py, guards.BodyDeadline).

What an HTTP client library would not send: requests uvicorn's parser refuses, headers a
few bytes at a time, bodies that never finish. Each gets one line of JSON with a 4xx
status (or, for a connection that says nothing, a quiet close) within its deadline, and
the server answers everyone else meanwhile.
"""

import json
import socket
import threading
import time

import pytest

from conftest import assert_one_line_error, run_zoo
from test_http import RELEASE, Server, request

TOKEN = "wire-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
HEADER_TIMEOUT, BODY_TIMEOUT, KEEP_ALIVE = 1.0, 1.5, 3.0
SLACK = 1.5  # scheduling on a busy machine

pytestmark = pytest.mark.skipif(not (RELEASE / "faces.onnx").is_file(),
                                reason="the release models are not built (make release)")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    running = Server(tmp_path_factory.mktemp("wire"), "--model", "faces", "--token", TOKEN, "--quiet",
                     "--header-timeout", HEADER_TIMEOUT, "--body-timeout", BODY_TIMEOUT,
                     "--keep-alive-timeout", KEEP_ALIVE)
    yield running
    running.stop()


def connect(server, timeout=15):
    return socket.create_connection(("127.0.0.1", server.port), timeout=timeout)


def read_until_closed(connection):
    """Everything the server sends until it closes the connection: ``(bytes, seconds)``."""
    started, data = time.monotonic(), b""
    while True:
        try:
            chunk = connection.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
    return data, time.monotonic() - started


def parse(answer):
    """``(status, {header: value}, body)`` of one raw HTTP/1.1 answer."""
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), {key.lower(): value for key, value in headers.items()}, body


def assert_json_line(answer, status, *fragments):
    code, headers, body = parse(answer)
    assert code == status, answer[:300]
    assert headers["content-type"] == "application/json" and headers["connection"] == "close"
    assert int(headers["content-length"]) == len(body) and b"\n" not in body
    payload = json.loads(body)
    assert list(payload) == ["error"] and "Traceback" not in payload["error"], payload
    for fragment in fragments:
        assert fragment in payload["error"], (fragment, payload["error"])


def exchange(server, data):
    with connect(server) as connection:
        connection.sendall(data)
        return read_until_closed(connection)[0]


def trickle(connection, data, every):
    """Send ``data`` a byte every ``every`` seconds until the server stops listening; the seconds it took."""
    started = time.monotonic()
    try:
        for byte in data:
            connection.sendall(bytes([byte]))
            time.sleep(every)
    except OSError:  # the server closed the connection
        pass
    return time.monotonic() - started


def test_parser_errors_are_one_line_json(server):
    cases = [
        (b"POST /time HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", 400, "bad Content-Length"),
        (b"GET /v2 HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400, "Content-Length"),
        (b"NOT HTTP AT ALL\r\n\r\n", 400, "illegal request line"),
        (b"GET /v2 HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n", 400, "illegal header line"),
        (b"GET /v2 HTTP/1.1\r\n\r\n", 400, "Host"),
        (b"GET /v2 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 400, "Transfer-Encoding"),  # h11: 501
        # h11 bounds the headers it holds unfinished (a whole block that arrives at once may be longer).
        (b"GET /v2 HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20_000, 431, "over the 16.384 kB limit"),
    ]
    for data, status, fragment in cases:
        answer = exchange(server, data)
        assert_json_line(answer, status, fragment)
        assert b"bytearray" not in answer  # h11's quote of the request is left out
    # A body the parser refuses after the application has the request: still one line of JSON.
    answer = exchange(server, b"POST /v2/models/faces/infer HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                              b"Authorization: Bearer " + TOKEN.encode() + b"\r\n\r\nnot-a-chunk-size\r\n")
    assert_json_line(answer, 400, "illegal chunk header")
    status, _, _ = request(server, "GET", "/v2/health/live", headers={})
    assert status == 200


def test_headers_a_byte_at_a_time_get_408_within_the_limit(server):
    with connect(server) as slow:
        answered = []

        def meanwhile():  # a normal client is answered while the slow one holds its connection
            time.sleep(0.3)
            started = time.monotonic()
            answered.append((request(server, "GET", "/v2/models/faces", headers=AUTH)[0], time.monotonic() - started))

        other = threading.Thread(target=meanwhile)
        other.start()
        seconds = trickle(slow, b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n", every=0.25)
        answer, _ = read_until_closed(slow)
        other.join(30)
    assert seconds < HEADER_TIMEOUT + SLACK
    assert_json_line(answer, 408, f"headers did not arrive within {HEADER_TIMEOUT:g} s", "--header-timeout")
    assert answered and answered[0][0] == 200 and answered[0][1] < 5


def test_a_connection_that_says_nothing_is_closed(server):
    with connect(server) as idle:
        answer, seconds = read_until_closed(idle)
    assert answer == b"" and seconds < HEADER_TIMEOUT + SLACK  # closed quietly: no request, no answer


def test_the_header_deadline_starts_again_on_a_kept_alive_connection(server):
    with connect(server) as connection:
        connection.sendall(b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n")
        first = b""
        while b'{"live":true}' not in first:
            first += connection.recv(65536)
        assert parse(first)[0] == 200
        time.sleep(HEADER_TIMEOUT + 0.5)  # idle, within the keep-alive timeout: still open
        connection.sendall(b"GET /v2/health/ready HTTP/1.1\r\nHost: x\r\n\r\n")
        second = b""
        while b'{"ready":true}' not in second:
            chunk = connection.recv(65536)
            assert chunk, "the kept-alive connection was closed before the keep-alive timeout"
            second += chunk
        assert parse(second)[0] == 200
        seconds = trickle(connection, b"GET /v2 HTTP/1.1\r\nHost: x\r\n\r\n", every=0.25)  # then a slow third
        answer, _ = read_until_closed(connection)
    assert seconds < HEADER_TIMEOUT + SLACK
    assert_json_line(answer, 408, "--header-timeout")


def test_a_slow_body_gets_408_within_the_limit(server):
    head = (b"POST /v2/models/faces/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Authorization: Bearer " + TOKEN.encode() + b"\r\nContent-Length: 1000\r\n\r\n")
    with connect(server) as slow:
        slow.sendall(head)
        started = time.monotonic()
        trickle(slow, b"x" * 1000, every=0.1)
        answer, _ = read_until_closed(slow)
        seconds = time.monotonic() - started
    assert seconds < BODY_TIMEOUT + SLACK
    assert_json_line(answer, 408, f"did not arrive within {BODY_TIMEOUT:g} s", "--body-timeout")
    # The 408 is the application's: /metrics counts it.
    metrics = request(server, "GET", "/metrics", headers=AUTH)[2].decode()
    assert 'zoo_http_requests_total{code="408",endpoint="infer",model="faces"}' in metrics


def test_a_body_nobody_reads_is_cut_off_at_the_deadline(server):
    # Refused at once (no token), then the client goes on sending its body a byte at a time.
    head = b"POST /v2/models/faces/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n"
    with connect(server) as slow:
        slow.sendall(head)
        started = time.monotonic()
        seconds = trickle(slow, b"x" * 1000, every=0.1)
        answer, _ = read_until_closed(slow)
    assert parse(answer)[0] == 401 and seconds < BODY_TIMEOUT + SLACK
    assert time.monotonic() - started < BODY_TIMEOUT + SLACK


def test_a_client_gone_before_its_body_is_no_error(server):
    # Starlette raises ClientDisconnect; the endpoints used to log it as a bug (a traceback, a 500).
    with connect(server) as gone:
        gone.sendall(b"POST /v2/models/faces/infer HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + TOKEN.encode()
                     + b"\r\nContent-Length: 1000\r\n\r\n" + b"{" * 10)
        time.sleep(0.2)
    time.sleep(0.5)
    assert request(server, "GET", "/v2/health/live", headers={})[0] == 200
    log = server.log_text()
    assert "Traceback" not in log and "error answering" not in log, log[-2000:]


def test_a_prompt_client_is_not_hurried(server):
    # Headers in three pieces and a body in two, each well within the deadlines.
    body = json.dumps({"inputs": [{"name": "z", "shape": [1, 128], "datatype": "FP32", "data": [0.0] * 128}]}).encode()
    data = (b"POST /v2/models/faces/infer HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + TOKEN.encode()
            + b"\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: "
            + str(len(body)).encode() + b"\r\n\r\n" + body)
    pieces = [data[:20], data[20:60], data[60:-100], data[-100:]]
    with connect(server) as connection:
        for piece in pieces:
            connection.sendall(piece)
            time.sleep(0.2)
        answer, _ = read_until_closed(connection)
    status, headers, payload = parse(answer)
    assert status == 200 and json.loads(payload)["outputs"][0]["shape"] == [1, 64, 64, 3]


def test_the_deadline_options(tmp_path):
    assert_one_line_error(run_zoo("serve", "--header-timeout", "0"), "--header-timeout")
    assert_one_line_error(run_zoo("serve", "--body-timeout", "x"), "--body-timeout")
    help_text = run_zoo("serve", "--help").stdout
    assert "--header-timeout" in help_text and "--body-timeout" in help_text and "/openapi.json" in help_text
