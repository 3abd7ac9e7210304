"""The ``zoo serve`` application (Starlette): the serve models over HTTP.

Endpoints (docs/deploy.md has curl examples):

- Open Inference Protocol (KServe v2, what Triton and KServe speak): ``GET /v2/health/live``,
  ``/v2/health/ready``, ``/v2`` (server metadata), ``/v2/models/{name}`` (metadata from
  the card), ``/v2/models/{name}/ready``, ``POST /v2/models/{name}/infer`` (JSON tensors,
  or Triton's binary tensor extension); concurrent infer requests of one model are
  batched (:mod:`serve.http.batching`).
- ``POST /time``: a clock photo (the raw body, or a multipart field ``image``) read as
  ``zoo predict-time --json`` reads it, plus the dial's ``box`` found by
  :func:`serve.locate.find_and_read`; like ``predict-time``, a reader with keypoints reads
  the dial it found (``?find=0``: the centred square as it stands).
- ``POST /classify[?model=NAME&top=K]``: an image (as for ``/time``) classified as
  ``zoo classify --json`` classifies it: one of its results, with the model's name.
- ``GET /faces.png?count=N&seed=S[&columns=C]`` and
  ``GET /interpolate.png?seeds=A,B&steps=K&spherical=0|1``: the PNGs ``zoo generate-faces``
  and ``zoo interpolate`` write for the same arguments, byte for byte.
- ``GET /``: a page to try them; ``GET /metrics``: Prometheus text; ``GET /openapi.json``:
  the API as OpenAPI 3 (:mod:`serve.http.openapi`), naming this server's models.

Every error is ``{"error": "<one line>"}`` with a 4xx or 5xx status; nothing here
imports TensorFlow or Keras (a test checks it).
"""

import contextlib
import dataclasses
import functools
import logging
import os
import pathlib
import re
import tempfile
import urllib.parse

from starlette.exceptions import HTTPException as StarletteHTTPException

from serve import classifier, generate, predict
from serve import images as imaging
from serve import models as serving
from serve.http import batching, guards, oip, openapi
from zoo import __version__, errors
from zoo.common import imagegrid

log = logging.getLogger("zoo.serve")

STATIC = pathlib.Path(__file__).resolve().parent / "static"
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
MAX_FACES = 256
MAX_STEPS = 64
MAX_SEED = 2**63 - 1
VERSION = "1"


class HTTPError(Exception):
    """An answer other than 200: ``status`` and a one-line message."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


@dataclasses.dataclass
class Served:
    """One model the server runs."""

    name: str
    model: serving.ServedModel
    session: object
    inputs: dict  # name -> (datatype, shape with None for free dimensions)
    outputs: list  # names, in the card's order
    batcher: batching.Batcher = None

    @functools.cached_property
    def output_specs(self):
        """``{output: (datatype, shape)}`` from the card, for the answer-size limit."""
        return {spec.get("name"): (oip.datatype_of(spec.get("dtype", "float32")), spec.get("shape") or [None])
                for spec in self.model.card.get("outputs") or []}

    @property
    def is_clock(self):
        return self.model.task == "clock" and self.model.kind in serving.CLOCK_KINDS

    @property
    def is_image(self):
        return self.model.kind in serving.IMAGE_KINDS

    @property
    def is_classifier(self):
        return serving.is_image_classifier(self.model.card)

    def metadata(self):
        return {"name": self.name, "versions": [VERSION], "platform": "onnxruntime_onnx",
                "inputs": oip.tensor_spec(self.model.card.get("inputs")),
                "outputs": oip.tensor_spec(self.model.card.get("outputs"))}


@dataclasses.dataclass
class Settings:
    """What ``zoo serve``'s options say."""

    specs: tuple = ()
    provider: str = "auto"
    token: str = None
    max_batch: int = 16
    batch_window_ms: float = 5.0
    max_body_bytes: int = 16_000_000
    # The work one infer request may ask for (issue #45): rows, and the answer's size
    # (a JSON number costs about 24 bytes, a binary FP32 one 4).
    max_rows: int = 256
    max_answer_bytes: int = 32_000_000
    # Seconds a request's body may take to arrive, from the end of its headers (408 after).
    body_timeout: float = 60.0


def _name_for(spec):
    """``(name, spec to load)`` of a ``--model`` value: ``NAME=PATH``, a release name, or a
    path (named after its file, or its folder for ``model.onnx`` and export folders)."""
    text = str(spec)
    if "=" in text and not os.path.exists(text):
        name, _, path = text.partition("=")
        if not NAME_PATTERN.match(name):
            raise errors.ZooError(f"--model {text}: the name {name!r} must be letters, digits, '_', '.' or '-'")
        return name, path
    if text in serving.RELEASE_MODELS and not os.path.exists(text):
        return text, text
    path = pathlib.Path(text).resolve()
    if path.name.endswith(".onnx") and path.name != "model.onnx":
        return _clean(path.name[:-len(".onnx")], text), text
    for folder in (path, *path.parents):  # model.onnx, export/: the run folder's name
        if folder.name not in ("export", "model.onnx", ""):
            return _clean(folder.name, text), text
    return "model", text


@contextlib.contextmanager
def uploaded(data):
    """An uploaded image as a temporary file, the :class:`serve.images.Item` the CLI's
    readers take (they read files, so a request reads as ``zoo predict-time`` would)."""
    with tempfile.NamedTemporaryFile(prefix="zoo-serve-", suffix=".upload") as file:
        file.write(data)
        file.flush()
        yield imaging.Item("upload", pathlib.Path(file.name))


def named_models(specs):
    """``[(name, spec to load)]`` of ``--model`` values (none: the release models present),
    as ``zoo serve`` and ``zoo triton-repository`` name them.

    Raises:
        ZooError: two models have one name, or there are none.
    """
    specs = list(specs) or [name for name in serving.RELEASE_MODELS
                            if (serving.release_dir() / f"{name}.onnx").is_file()]
    if not specs:
        raise errors.ZooError(f"no release models in {serving.release_dir()}: {serving.HOW_TO_GET}")
    named = {}
    for spec in specs:
        name, path = _name_for(spec)
        if name in named:
            raise errors.ZooError(f"--model {spec}: the name {name!r} is taken; give NAME=PATH")
        named[name] = path
    return list(named.items())


def _clean(name, spec):
    cleaned = re.sub(r"[^A-Za-z0-9_.-]", "_", name).lstrip("_.-")[:64] or "model"
    if not NAME_PATTERN.match(cleaned):
        raise errors.ZooError(f"--model {spec}: cannot name it; give NAME={spec}")
    return cleaned


def load_models(settings):
    """The models to serve, sessions open: ``{name: Served}``.

    With no ``--model``, the release models present (clock, faces, mnist, cifar10).

    Raises:
        ZooError: a model cannot be loaded, two have one name, or there are none.
    """
    served = {}
    for name, path in named_models(settings.specs):
        model, session = serving.load(path, provider=settings.provider, memory_pattern=False)  # issue #36
        card_inputs = model.card.get("inputs") or []
        inputs = {item["name"]: (oip.datatype_of(item.get("dtype", "float32")), tuple(item.get("shape") or []))
                  for item in card_inputs}
        for item in session.get_inputs():  # inputs the card leaves out (none in zoo exports)
            inputs.setdefault(item.name,
                              ("FP32", tuple(size if isinstance(size, int) else None for size in item.shape)))
        outputs = ([item["name"] for item in model.card.get("outputs") or []]
                   or [item.name for item in session.get_outputs()])
        served[name] = Served(name, model, session, inputs, outputs)
    return served


def error_response(status, message, headers=None):
    from starlette.responses import JSONResponse

    return JSONResponse({"error": message}, status_code=status, headers=headers)


def _answers(function):
    """Turn every failure of an endpoint into a one-line JSON error."""
    from starlette.requests import ClientDisconnect

    async def endpoint(request):
        try:
            return await function(request)
        except HTTPError as error:
            return error_response(error.status, str(error))
        except guards.BodyTimeout as error:
            return error_response(408, str(error), {"connection": "close"})
        except ClientDisconnect:  # gone before its body arrived: nobody reads this answer, and it is no bug
            return error_response(400, "the client disconnected before its body arrived", {"connection": "close"})
        except StarletteHTTPException as error:  # a malformed multipart body...
            return error_response(error.status_code, errors.one_line(error.detail, 300), error.headers)
        except guards.BodyTooLarge as error:
            return error_response(413, str(error), {"connection": "close"})
        except oip.NonFiniteOutput as error:
            return error_response(422, errors.one_line(error, 300))
        except oip.TensorError as error:
            return error_response(400, errors.one_line(error, 300))
        except errors.LimitError as error:  # work over a limit, whatever raised it
            return error_response(413, errors.one_line(error, 300))
        except imaging.ImageError as error:
            return error_response(400, errors.one_line(error, 300))
        except errors.ZooError as error:
            return error_response(400, errors.one_line(error, 300))
        except Exception as error:  # a bug: logged in full here, one line for the client
            log.exception("error answering %s %s", request.method, request.url.path)
            return error_response(500, f"internal error ({type(error).__name__}); the server's log has the details")

    endpoint.__name__ = function.__name__
    return endpoint


def _integer(request, key, default, low, high):
    text = request.query_params.get(key)
    if text is None or text == "":
        return default
    # ASCII digits only: int() also takes ' 5', '1_0', '+5' and '٥' (an Arabic-Indic five).
    if not re.fullmatch(r"-?[0-9]{1,20}", text):
        raise HTTPError(400, f"{key} must be an integer; received {text[:40]!r}")
    value = int(text)
    if not low <= value <= high:
        raise HTTPError(400, f"{key} must be between {low} and {high}; received {value}")
    return value


def _flag(request, key, default=False):
    text = request.query_params.get(key)
    if text is None or text == "":
        return default
    text = text.lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise HTTPError(400, f"{key} must be 0 or 1; received {text[:40]!r}")


def create_app(settings, served=None):
    """The ASGI application: Starlette with the guards round it.

    Args:
        settings: :class:`Settings`.
        served: ``{name: Served}`` (default: :func:`load_models`).
    """
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.datastructures import UploadFile
    from starlette.exceptions import HTTPException
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    served = load_models(settings) if served is None else served
    registry = CollectorRegistry()
    batch_rows = Histogram("zoo_batch_rows", "Rows in each onnxruntime run of batched infer requests.", ("model",),
                           registry=registry, buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256))
    batch_seconds = Histogram("zoo_batch_seconds", "Time of each onnxruntime run of batched infer requests.",
                              ("model",), registry=registry,
                              buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5))
    for item in served.values():
        names = list(item.outputs)
        fixed = next(iter(item.inputs.values()))[1][:1] != (None,)

        def run(feed, item=item, names=names):
            return dict(zip(names, predict.run_session(item.session, item.model, names, feed)))

        def observe(rows, seconds, name=item.name):
            batch_rows.labels(name).observe(rows)
            batch_seconds.labels(name).observe(seconds)

        item.batcher = batching.Batcher(run, 1 if fixed else settings.max_batch, settings.batch_window_ms / 1000.0,
                                        observe, split=not fixed)

    def default_of(check):
        preferred = [item for item in served.values() if check(item)]
        return preferred[0].name if preferred else None

    default_clock = ("clock" if "clock" in served and served["clock"].is_clock
                     else default_of(lambda item: item.is_clock))
    default_image = ("faces" if "faces" in served and served["faces"].is_image
                     else default_of(lambda item: item.is_image))
    default_classifier = ("mnist" if "mnist" in served and served["mnist"].is_classifier
                          else default_of(lambda item: item.is_classifier))

    def lookup(name):
        item = served.get(name)
        if item is None:
            raise HTTPError(404, f"unknown model {name[:64]!r}; this server has {', '.join(served) or 'none'}")
        return item

    def chosen(request, default, check, what):
        name = request.query_params.get("model") or default
        if name is None:
            raise HTTPError(404, f"this server has no {what}")
        item = lookup(name)
        if not check(item):
            raise HTTPError(400, f"model {name!r} is not a {what}")
        return item

    def check_version(request):
        version = request.path_params.get("version")
        if version is not None and version != VERSION:
            raise HTTPError(404, f"unknown version {version[:20]!r} of model {request.path_params['name'][:64]!r}; "
                                 f"it has version {VERSION}")

    # ------------------------------------------------------------------ Open Inference Protocol
    @_answers
    async def live(request):
        return JSONResponse({"live": True})

    @_answers
    async def ready(request):
        return JSONResponse({"ready": True})

    @_answers
    async def server_metadata(request):
        return JSONResponse({"name": "zoo", "version": __version__, "extensions": ["binary_tensor_data"]})

    @_answers
    async def model_metadata(request):
        item = lookup(request.path_params["name"])
        check_version(request)
        return JSONResponse(item.metadata())

    @_answers
    async def model_ready(request):
        item = lookup(request.path_params["name"])
        check_version(request)
        return JSONResponse({"name": item.name, "ready": True})

    @_answers
    async def infer(request):
        item = lookup(request.path_params["name"])
        check_version(request)
        body = await request.body()
        # Parsing and answering run off the event loop: a big JSON body must not hold
        # up health checks and small requests.
        request_id, feed, wanted = await run_in_threadpool(parse_infer, item, body,
                                                           request.headers.get(oip.HEADER_LENGTH))
        outputs = await item.batcher.infer(feed)
        content, headers = await run_in_threadpool(oip.response, item.name, request_id, outputs, wanted)
        return Response(content, headers=headers)

    def parse_infer(item, body, header_length):
        message, tail = oip.split_body(body, header_length)
        request_id = message.get("id")
        if request_id is not None and not isinstance(request_id, str):
            raise oip.TensorError("the request's id must be a string")
        feed = oip.parse_inputs(message, tail, item.inputs)
        wanted = oip.requested_outputs(message, item.outputs)
        rows = next(iter(feed.values())).shape[0]
        if rows > settings.max_rows:
            raise errors.LimitError(f"{rows} rows is over the limit of {settings.max_rows} rows per infer request "
                                    "(zoo serve --max-rows)")
        answer = oip.answer_bytes(item.output_specs, wanted, rows)
        if answer > settings.max_answer_bytes:
            raise errors.LimitError(f"the answer would be about {guards.format_bytes(answer)}, over the "
                                    f"{guards.format_bytes(settings.max_answer_bytes)} answer limit (zoo serve "
                                    "--max-answer-mb): ask for fewer rows, or for binary outputs")
        return request_id, feed, wanted

    # ------------------------------------------------------------------ the zoo's own endpoints
    async def image_body(request):
        if request.headers.get("content-type", "").startswith("multipart/form-data"):
            async with request.form(max_files=1, max_fields=16) as form:
                upload = form.get("image")
                if not isinstance(upload, UploadFile):
                    raise HTTPError(400, "the multipart body needs a file field named 'image'")
                data = await upload.read()
        else:
            data = await request.body()
        if not data:
            raise HTTPError(400, "no image: send the image as the request body or as a multipart field 'image'")
        return data

    def refuse(result):
        """Raise the typed error behind a reader's ``{"error": ...}`` answer (a limit is a 413)."""
        raise getattr(result, "exception", None) or imaging.ImageError(result["error"])

    def read_clock(item, data, find):
        with uploaded(data) as upload:
            ((_, result),) = predict.predict(item.session, item.model, [upload], find=find)
            if "error" in result:
                refuse(result)
            if not find and "keypoints" in item.outputs:
                from serve import locate

                with imaging.decoding(upload.path):
                    image = imaging.open_image(upload.path, "upload")
                    result["box"] = locate.find_and_read(item.session, item.model, image)[2]
                    del image
        return result

    @_answers
    async def read_time(request):
        item = chosen(request, default_clock, lambda served_item: served_item.is_clock, "clock reader")
        # As predict-time: a reader with keypoints finds the dial first unless find=0.
        find = _flag(request, "find", default="keypoints" in item.outputs)
        if find and "keypoints" not in item.outputs:
            raise HTTPError(400, f"{item.name} has no keypoint output, so it cannot find a clock; read without find=1")
        data = await image_body(request)
        return JSONResponse(await run_in_threadpool(read_clock, item, data, find))

    def classify_upload(item, data, top):
        with uploaded(data) as upload:
            ((_, result),) = classifier.classify(item.session, item.model, [upload], top=top)
            if "error" in result:
                refuse(result)
        return {"model": item.name, **result}

    @_answers
    async def classify_image(request):
        item = chosen(request, default_classifier, lambda served_item: served_item.is_classifier, "classifier")
        top = _integer(request, "top", 1, 1, len(classifier.class_names(item.model)))
        data = await image_body(request)
        return JSONResponse(await run_in_threadpool(classify_upload, item, data, top))

    def faces_png(item, count, seed, columns):
        generate.check_count(count, item.model, option="count")
        z = imagegrid.latent_samples(count, generate.latent_dim(item.model), seed=seed)
        faces = generate.generate(item.session, item.model, z)
        return imagegrid.png_bytes(imagegrid.tile(faces, columns=imagegrid.grid_shape(count, columns)[1]))

    @_answers
    async def faces(request):
        item = chosen(request, default_image, lambda served_item: served_item.is_image, "face generator")
        count = _integer(request, "count", 16, 1, MAX_FACES)
        seed = _integer(request, "seed", 0, 0, MAX_SEED)
        columns = _integer(request, "columns", None, 1, MAX_FACES)
        content = await run_in_threadpool(faces_png, item, count, seed, columns)
        return Response(content, media_type="image/png")

    def strip_png(item, seeds, steps, kind):
        generate.check_count(steps, item.model, option="steps")
        dim = generate.latent_dim(item.model)
        start, end = (imagegrid.latent_samples(1, dim, seed=seed)[0] for seed in seeds)
        faces = generate.generate(item.session, item.model, imagegrid.interpolate(start, end, steps, kind))
        return imagegrid.png_bytes(imagegrid.tile(faces, columns=steps))

    @_answers
    async def interpolate(request):
        item = chosen(request, default_image, lambda served_item: served_item.is_image, "face generator")
        text = request.query_params.get("seeds") or "0,1"
        parts = text.split(",")
        # ASCII digits only: str.isdigit() also takes '²' and '①', which int() refuses; spaces
        # round them, but not str.strip()'s other whitespace ('\x1c', '\u2003').
        if len(parts) != 2 or not all(re.fullmatch(r" *[0-9]{1,18} *", part) for part in parts):
            raise HTTPError(400, f"seeds must be two non-negative integers A,B; received {text[:40]!r}")
        seeds = tuple(int(part.strip(" ")) for part in parts)
        if max(seeds) > MAX_SEED:
            raise HTTPError(400, f"seeds must be at most {MAX_SEED}")
        steps = _integer(request, "steps", 8, 2, MAX_STEPS)
        kind = "spherical" if _flag(request, "spherical") else "linear"
        content = await run_in_threadpool(strip_png, item, seeds, steps, kind)
        return Response(content, media_type="image/png")

    @_answers
    async def metrics(request):
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    classes = {name: len(classifier.class_names(item.model)) for name, item in served.items() if item.is_classifier}
    document = openapi.document(served, settings.token is not None, classes)

    @_answers
    async def api_document(request):
        return Response(document, media_type="application/json")

    @_answers
    async def page(request):
        return Response((STATIC / "index.html").read_bytes(), media_type="text/html; charset=utf-8")

    @_answers
    async def script(request):
        return Response((STATIC / "app.js").read_bytes(), media_type="text/javascript; charset=utf-8")

    async def http_error(request, error):
        status = getattr(error, "status_code", 500)
        if status == 404:
            message = f"no such endpoint: {request.method} {request.url.path[:100]}"
        elif status == 405:
            message = f"{request.method} is not allowed on {request.url.path[:100]}"
        else:
            message = errors.one_line(getattr(error, "detail", error), 300)
        return error_response(status, message, getattr(error, "headers", None))

    async def crash(request, error):
        return error_response(500, f"internal error ({type(error).__name__})")

    routes = [
        Route("/v2/health/live", live), Route("/v2/health/ready", ready), Route("/v2", server_metadata),
        Route("/v2/models/{name}", model_metadata), Route("/v2/models/{name}/versions/{version}", model_metadata),
        Route("/v2/models/{name}/ready", model_ready),
        Route("/v2/models/{name}/versions/{version}/ready", model_ready),
        Route("/v2/models/{name}/infer", infer, methods=["POST"]),
        Route("/v2/models/{name}/versions/{version}/infer", infer, methods=["POST"]),
        Route("/time", read_time, methods=["POST"]), Route("/classify", classify_image, methods=["POST"]),
        Route("/faces.png", faces), Route("/interpolate.png", interpolate),
        Route("/metrics", metrics), Route("/", page), Route("/index.html", page), Route("/app.js", script),
        Route("/openapi.json", api_document),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app):
        for item in served.values():
            item.batcher.start()
        yield
        for item in served.values():
            await item.batcher.stop()

    app = Starlette(routes=routes, lifespan=lifespan,
                    exception_handlers={HTTPException: http_error, Exception: crash})
    app.state.served = served

    def classify(scope):
        path = scope["path"]
        parts = path.strip("/").split("/")
        if path.startswith("/v2/health/"):
            return "health", ""
        if path == "/v2":
            return "server_metadata", ""
        if parts[:2] == ["v2", "models"] and len(parts) >= 3:
            model = parts[2] if parts[2] in served else "unknown"
            rest = parts[3:]
            if rest[:1] == ["versions"]:
                rest = rest[2:]
            endpoint = {(): "model_metadata", ("ready",): "model_ready", ("infer",): "infer"}.get(tuple(rest), "other")
            return endpoint, model
        known = {"/time": ("time", default_clock), "/classify": ("classify", default_classifier),
                 "/faces.png": ("faces", default_image),
                 "/interpolate.png": ("interpolate", default_image)}
        if path in known:
            endpoint, model = known[path]
            asked = urllib.parse.parse_qs(scope.get("query_string", b"").decode("latin-1")).get("model")
            if asked:
                model = asked[0] if asked[0] in served else "unknown"
            return endpoint, model or ""
        if path == "/metrics":
            return "metrics", ""
        if path == "/openapi.json":
            return "openapi", ""
        if path in ("/", "/index.html", "/app.js"):
            return "page", ""
        return "other", ""

    guarded = guards.BodyLimit(app, settings.max_body_bytes)
    guarded = guards.Token(guarded, settings.token)
    guarded = guards.BodyDeadline(guarded, settings.body_timeout)
    return guards.Metrics(guarded, registry, classify)
