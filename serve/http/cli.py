"""``zoo serve``: the HTTP server's command. Importing this module imports click only."""

import os
import sys

import click

from serve.cli import _provider_option
from zoo.common import commands

TOKEN_ENV = "ZOO_SERVE_TOKEN"
MAX_BATCH = 1024
MAX_WINDOW_MS = 1000.0


@click.command("serve", cls=commands.Command)
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Only this machine by default; 0.0.0.0 opens it to the network "
                   "(then give a --token).")
@click.option("--port", type=int, default=8000, show_default=True, help="TCP port to listen on.")
@click.option("--model", "specs", multiple=True, metavar="NAME|FILE",
              help="A model to serve (repeatable): a release name (clock, faces, mnist, cifar10), a model.onnx or an "
                   "export folder, or NAME=PATH to name it [default: the release models].")
@click.option("--token", default=None, metavar="TOKEN",
              help=f"Require 'Authorization: Bearer TOKEN' on every request but the health checks and the page "
                   f"[default: ${TOKEN_ENV}, else none].")
@click.option("--max-batch", type=int, default=16, show_default=True,
              help="Most rows in one onnxruntime run when concurrent infer requests are batched (1: no batching).")
@click.option("--batch-window-ms", type=float, default=5.0, show_default=True,
              help="How long the first infer request of a batch waits for others, in milliseconds.")
@click.option("--max-body-mb", type=float, default=16.0, show_default=True,
              help="Largest request body, in megabytes; bigger ones get 413.")
@click.option("--max-rows", type=click.IntRange(1, 65536), default=256, show_default=True,
              help="Rows at most in one infer request (413 above).")
@click.option("--max-answer-mb", type=click.FloatRange(0.001, 4096), default=32.0, show_default=True,
              help="The largest answer an infer request may ask for, in MB "
                   "(413 above; binary outputs are ~6x smaller).")
@click.option("--keep-alive-timeout", type=click.FloatRange(0.1, 3600), default=5.0, show_default=True,
              help="Seconds an idle keep-alive connection is kept open.")
@click.option("--header-timeout", type=click.FloatRange(0.1, 3600), default=10.0, show_default=True,
              help="Seconds a request's headers may take, from the connection's opening or the next request's "
                   "first byte (408 after; a connection that sends nothing is closed).")
@click.option("--body-timeout", type=click.FloatRange(0.1, 3600), default=60.0, show_default=True,
              help="Seconds a request's body may take to arrive after its headers (408 after).")
@_provider_option
@click.option("--quiet", is_flag=True, help="No access log.")
def serve_command(host, port, specs, token, max_batch, batch_window_ms, max_body_mb, max_rows, max_answer_mb,
                  keep_alive_timeout, header_timeout, body_timeout, provider, quiet):
    """Serve the models over HTTP: the Open Inference Protocol (KServe v2, as Triton
    speaks it), clock reading, image classes, face pictures, Prometheus metrics and a page to try them.

    \b
    Endpoints:
      GET  /                              a page: read a clock photo, faces, a walk between two
      GET  /v2/health/ready               readiness (also /v2/health/live)
      GET  /v2/models/NAME                inputs and outputs (FP32, -1 for the batch)
      POST /v2/models/NAME/infer          JSON tensors in, JSON tensors out (batched)
      POST /time[?find=1]                 an image in; time, confidence, sure, the dial's box
      POST /classify[?model=NAME&top=K]   an image in; class, probability, the K likeliest (zoo classify)
      GET  /faces.png?count=N&seed=S      as zoo generate-faces --count N --seed S
      GET  /interpolate.png?seeds=A,B&steps=K&spherical=1    as zoo interpolate
      GET  /metrics                       Prometheus text: requests, errors, latency
      GET  /openapi.json                  this API as OpenAPI 3, naming the models served

    SIGTERM or Ctrl-C stops it after the requests in flight are answered.

    \b
    Examples:
      zoo serve                                        the release models on 127.0.0.1:8000
      zoo serve --port 9000 --model clock              the clock reader only
      zoo serve --model mine=artifacts/clock_polar/export --model faces
      ZOO_SERVE_TOKEN=s3cret zoo serve --host 0.0.0.0
      curl --data-binary @photo.jpg http://127.0.0.1:8000/time
    """
    from zoo import errors

    if token is None:
        token = os.environ.get(TOKEN_ENV) or None
    if token is not None and (not token.strip() or any(ord(character) < 33 or ord(character) > 126
                                                       for character in token)):
        raise errors.ZooError("--token must be printable ASCII without spaces")
    if not 0 <= port <= 65535:
        raise errors.ZooError(f"--port must be between 0 and 65535; received {port}")
    if not 1 <= max_batch <= MAX_BATCH:
        raise errors.ZooError(f"--max-batch must be between 1 and {MAX_BATCH}; received {max_batch}")
    if not 0 <= batch_window_ms <= MAX_WINDOW_MS:
        raise errors.ZooError(
            f"--batch-window-ms must be between 0 and {MAX_WINDOW_MS:g}; received {batch_window_ms:g}"
        )
    if not 0.001 <= max_body_mb <= 4096:
        raise errors.ZooError(f"--max-body-mb must be between 0.001 and 4096; received {max_body_mb:g}")

    import uvicorn

    from serve import memory, models
    from serve.http import app as application
    from serve.http import protocol

    settings = application.Settings(specs=specs, provider=provider, token=token, max_batch=max_batch,
                                    batch_window_ms=batch_window_ms, max_body_bytes=int(max_body_mb * 1e6),
                                    max_rows=max_rows, max_answer_bytes=int(max_answer_mb * 1e6),
                                    body_timeout=body_timeout)
    served = application.load_models(settings)
    listener = _listen(host, port, errors)
    app = application.create_app(settings, served)
    memory.map_big_allocations()  # big pictures' buffers go back to the system when freed (serve.memory)
    bound_host, bound_port = listener.getsockname()[:2]
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    described = ", ".join(f"{name} ({item.model.entry}, {item.model.kind})" for name, item in served.items())
    first = next(iter(served.values()))
    click.echo(f"zoo serve: {described} on {models.provider_used(first.session)}; http://{shown}:{bound_port}/"
               + (" (bearer token required)" if token else ""))
    if token is None and host not in ("127.0.0.1", "localhost", "::1"):
        click.echo(f"zoo serve: warning: listening on {host} with no token: anyone who reaches it can use it",
                   err=True)
    sys.stdout.flush()
    # uvicorn's h11 protocol with JSON parser errors and the header and body deadlines (serve.http.protocol).
    config = uvicorn.Config(app, log_level="info", access_log=not quiet, timeout_graceful_shutdown=30,
                            timeout_keep_alive=keep_alive_timeout, lifespan="on", server_header=False,
                            http=protocol.protocol_class(header_timeout, body_timeout))
    uvicorn.Server(config).run(sockets=[listener])


def _listen(host, port, errors):
    """A listening socket on ``host:port``, or a one-line error (port taken, no such address)."""
    import socket

    try:
        family, kind, protocol, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                                flags=socket.AI_PASSIVE)[0]
    except socket.gaierror as error:
        raise errors.ZooError(f"--host {host}: not an address of this machine ({error.strerror})") from None
    listener = socket.socket(family, kind, protocol)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(address)
        listener.listen(2048)
    except OSError as error:
        listener.close()
        raise errors.ZooError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    listener.set_inheritable(True)
    return listener


@click.command("serve-bench", cls=commands.Command)
@click.option("--clients", type=int, default=32, show_default=True, help="Concurrent clients of the load phase.")
@click.option("--seconds", type=float, default=10.0, show_default=True, help="How long the load phase lasts.")
@click.option("--requests", type=int, default=200, show_default=True,
              help="POST /time requests of the one client (p50, p99), after 10 warm-up requests.")
@click.option("--batch", type=int, default=32, show_default=True,
              help="Rows of the /v2/models/clock/infer requests timed against onnxruntime in this process.")
@click.option("--infer-repeats", type=int, default=20, show_default=True, help="Timed infer requests of each kind.")
@click.option("--phases", type=int, default=3, show_default=True,
              help="Equal load phases after the first (warm-up) one, the server's RSS after each: its growth over "
                   "them is the memory headline (a leak grows in every phase, a high-water mark stops).")
@click.option("--serve-arg", "serve_args", multiple=True, metavar="ARG",
              help="An option for the zoo serve started (repeatable), e.g. --serve-arg=--max-batch=32.")
@click.option("--out", default="serve-bench.json", show_default=True, metavar="FILE.json",
              help="Where to write the figures (JSON, and the same as CSV beside it).")
def serve_bench(clients, seconds, requests, batch, infer_repeats, phases, serve_args, out):
    """Load-test and benchmark zoo serve: it starts the server itself, on loopback.

    Measures the cold start (process start to /v2/health/ready), POST /time latency
    for one client (p50, p99) on a rendered clock PNG, throughput with --clients
    concurrent clients for --seconds (requests/s against one client, failed and
    wrong answers), and /v2/models/clock/infer at --batch rows (binary tensors and
    JSON) against onnxruntime in this process on the same batch. Then --phases more
    of that load (clients, then infer requests), for memory: the headline is the
    server's RSS growth over them, after the warm-up; the raw growth from ready to
    the end is given too. Writes FILE.json and FILE.csv; exits 1 if any request failed.
    Run it on an idle machine: the figures carry the load average.

    \b
    Examples:
      zoo serve-bench
      zoo serve-bench --clients 8 --seconds 3 --requests 50 --out /tmp/quick.json
    """
    from serve.http import loadtest
    from zoo import errors

    for option, value, low, high in (("--clients", clients, 1, 1024), ("--requests", requests, 1, 1_000_000),
                                     ("--batch", batch, 1, MAX_BATCH), ("--infer-repeats", infer_repeats, 1, 10_000),
                                     ("--phases", phases, 0, 100)):
        if not low <= value <= high:
            raise errors.ZooError(f"{option} must be between {low} and {high}; received {value}")
    if not 0.1 <= seconds <= 3600:
        raise errors.ZooError(f"--seconds must be between 0.1 and 3600; received {seconds:g}")
    if not out.lower().endswith(".json"):
        raise errors.ZooError(f"--out must name a .json file (the .csv goes beside it); received {out!r}")
    try:
        report = loadtest.run(clients=clients, duration=seconds, requests=requests, batch=batch,
                              infer_repeats=infer_repeats, phases=phases, serve_args=serve_args,
                              log=lambda message: click.echo(message, err=True))
        written = loadtest.write(report, out)
    except OSError as error:
        raise errors.ZooError(f"{error.filename}: {error.strerror}" if error.filename else str(error)) from None
    click.echo(loadtest.describe(report))
    click.echo(f"wrote {written[0]} and {written[1]}")
    if report["failed_requests"] or report["wrong_readings"]:
        click.echo(f"Error: {report['failed_requests']} requests failed and {report['wrong_readings']} answers "
                   f"differed under load (see {out})", err=True)
        sys.exit(1)


# zoo triton-repository writes what Triton and KServe serve the same models from.
from serve.triton import triton_repository  # noqa: E402 (click only, like this module)

COMMANDS = [serve_command, serve_bench, triton_repository]
