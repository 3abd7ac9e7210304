"""ASGI middleware round the application: metrics, the body deadline, the bearer token and
the body limit.

Each is plain ASGI (no framework), so it sees every request, including the ones it or
the next layer refuses: ``Metrics(BodyDeadline(Token(BodyLimit(app))))`` counts a 401, a
408 or a 413 too. The deadlines a connection meets before its request reaches the
application (its headers, a body nobody reads) are :mod:`serve.http.protocol`'s.
"""

import asyncio
import hmac
import json
import time

# Open without the token: liveness and readiness probes, and the page itself (it holds
# no data; the page sends the token the person types with each of its requests).
OPEN_PATHS = ("/v2/health/live", "/v2/health/ready", "/", "/index.html", "/app.js", "/favicon.ico")


class BodyTooLarge(Exception):
    """Raised by the wrapped ``receive`` when a body passes the limit (answered 413)."""

    def __init__(self, limit):
        super().__init__(f"the request body is over the {format_bytes(limit)} limit")


class BodyTimeout(Exception):
    """Raised by the wrapped ``receive`` when a body is not in by its deadline (answered 408)."""

    def __init__(self, seconds):
        super().__init__(f"the request body did not arrive within {seconds:g} s (zoo serve --body-timeout)")


def format_bytes(count):
    return f"{count / 1e6:g} MB" if count >= 1e6 else f"{count / 1e3:g} kB"


async def send_json_error(send, status, message, headers=()):
    """Answer ``{"error": message}`` with ``status`` straight on an ASGI ``send``."""
    body = json.dumps({"error": message}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *headers]})
    await send({"type": "http.response.body", "body": body})


# How far past the limit a body is read (and dropped) before a 413, so that simple
# clients get the answer; bigger bodies are refused at once and their connection closed.
DRAIN_BYTES = 16_000_000


async def _drain(receive):
    while True:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body", False):
            return


class BodyLimit:
    """Refuse bodies over ``limit`` bytes: at once when Content-Length says so, else
    when the bytes read pass it (the endpoint then answers 413)."""

    def __init__(self, app, limit):
        self.app, self.limit = app, int(limit)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or ())
        if b"content-length" in headers:
            try:
                declared = int(headers[b"content-length"])
            except ValueError:
                return await send_json_error(send, 400, "Content-Length is not a number")
            if declared > self.limit:
                if b"expect" not in headers and declared <= self.limit + DRAIN_BYTES:
                    # A client that sends its whole body before it reads (no Expect: 100-continue)
                    # would see its connection reset instead of the answer: read a little over
                    # the limit and throw it away first.
                    await _drain(receive)
                return await send_json_error(send, 413, str(BodyTooLarge(self.limit)), [(b"connection", b"close")])
        received = 0

        async def counted():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise BodyTooLarge(self.limit)
            return message

        return await self.app(scope, counted, send)


class BodyDeadline:
    """Give a request's body ``seconds`` to arrive, from the moment its headers did.

    The wrapped ``receive`` waits at most until the deadline, then raises
    :class:`BodyTimeout`; the endpoints answer it 408 (``Connection: close``), and so does
    this layer when it comes from further out. Once the body is in, ``receive`` is the
    server's own again (a wait for the disconnect is not bounded). ``seconds`` None: no deadline.
    """

    def __init__(self, app, seconds):
        self.app, self.seconds = app, seconds

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not self.seconds:
            return await self.app(scope, receive, send)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.seconds
        finished = started = False

        async def timed():
            nonlocal finished
            if finished:
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), max(0.0, deadline - loop.time()))
            except asyncio.TimeoutError:
                raise BodyTimeout(self.seconds) from None
            if message["type"] != "http.request" or not message.get("more_body", False):
                finished = True
            return message

        async def watched(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, timed, watched)
        except BodyTimeout as error:
            if started:
                raise
            await send_json_error(send, 408, str(error), [(b"connection", b"close")])


class Token:
    """Refuse requests without ``Authorization: Bearer <token>`` (401), except
    :data:`OPEN_PATHS`. ``token`` None: everything is open."""

    def __init__(self, app, token):
        self.app = app
        self.expected = None if token is None else token.encode()

    async def __call__(self, scope, receive, send):
        if self.expected is None or scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            return await self.app(scope, receive, send)
        given = b""
        for key, value in scope.get("headers") or ():
            if key == b"authorization":
                given = value
        # RFC 7235: the scheme is case-insensitive ("bearer" is "Bearer").
        scheme, _, credentials = given.strip().partition(b" ")
        if scheme.lower() != b"bearer" or not hmac.compare_digest(credentials.strip(), self.expected):
            reason = "a bearer token is required" if not given else "the bearer token is wrong"
            return await send_json_error(send, 401, f"{reason} (send Authorization: Bearer TOKEN)",
                                         [(b"www-authenticate", b'Bearer realm="zoo"')])
        return await self.app(scope, receive, send)


class Metrics:
    """Count every request and time it, by endpoint and model (Prometheus).

    Args:
        classify: ``classify(scope) -> (endpoint, model)``: labels of bounded
            cardinality (unknown models and paths fold into one label each).
    """

    def __init__(self, app, registry, classify):
        from prometheus_client import Counter, Histogram

        self.app, self.classify = app, classify
        labels = ("endpoint", "model")
        self.requests = Counter("zoo_http_requests", "HTTP requests answered, by status code.",
                                (*labels, "code"), registry=registry)
        self.errors = Counter("zoo_http_request_errors", "HTTP requests answered with a 4xx or 5xx status.",
                              labels, registry=registry)
        self.latency = Histogram("zoo_http_request_duration_seconds", "Time from a request's start to its answer.",
                                 labels, registry=registry,
                                 buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        status = 500

        async def watched(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, watched)
        finally:
            endpoint, model = self.classify(scope)
            self.requests.labels(endpoint, model, str(status)).inc()
            if status >= 400:
                self.errors.labels(endpoint, model).inc()
            self.latency.labels(endpoint, model).observe(time.perf_counter() - started)
