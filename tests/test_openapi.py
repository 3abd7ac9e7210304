"""zoo serve's API as OpenAPI 3 (serve/http/openapi.json), and the running server fuzzed against it.

Schemathesis (over Hypothesis) generates requests from the document the server serves at
GET /openapi.json, valid ones and invalid ones, and checks every answer: no 5xx, the
status code documented for the operation, the content type and the body's schema
documented for it, invalid data refused with a 4xx, the token enforced, 405 with an
``Allow`` header for the methods an endpoint has not. Here a short run, seeded and
derandomized (some 300 requests in 10-20 s); ``make fuzz`` runs every phase on every
operation with more examples (``ZOO_FUZZ_EXAMPLES``, ``ZOO_FUZZ_SEED``).
"""

import collections
import json
import os
import types

import pytest

from serve.http import openapi
from test_http import RELEASE, TOKEN, Server, assert_json_error, request

schemathesis = pytest.importorskip("schemathesis")

from schemathesis.config import SchemathesisConfig  # noqa: E402

# Examples per operation in the fuzzing phase; the coverage phase adds its own cases (boundary
# values, missing parameters, undeclared methods: some 700 requests over every operation).
LONG = bool(os.environ.get("ZOO_FUZZ_EXAMPLES"))
EXAMPLES = int(os.environ.get("ZOO_FUZZ_EXAMPLES") or 6)
SEED = int(os.environ.get("ZOO_FUZZ_SEED") or 45)
# What a schema cannot promise: tensors that fit the model, bytes that are an image.
MODEL_DEPENDENT = ["POST /v2/models/{name}/infer", "POST /v2/models/{name}/versions/{version}/infer",
                   "POST /time", "POST /classify"]
# Pictures cost up to 2 s each (256 faces); fewer examples keep the short run short.
PICTURES = ["GET /faces.png", "GET /interpolate.png"]
# The short run leaves the coverage phase of these to the long one (make fuzz): the pictures and
# the image uploads (costly), and the operations that share a handler with another one.
LONG_COVERAGE = [*PICTURES, "POST /time", "POST /classify", "GET /index.html",
                 "GET /v2/models/{name}/versions/{version}", "GET /v2/models/{name}/versions/{version}/ready",
                 "POST /v2/models/{name}/versions/{version}/infer"]

pytestmark = pytest.mark.skipif(not all((RELEASE / f"{name}.onnx").is_file() for name in ("clock", "faces", "mnist")),
                                reason="the release models are not built (make release)")

SENT = collections.Counter()
# The fuzzed server's models, as GET /openapi.json names them (the test below checks it does).
MODELS = {"clock": types.SimpleNamespace(is_clock=True, is_classifier=False, is_image=False),
          "faces": types.SimpleNamespace(is_clock=False, is_classifier=False, is_image=True),
          "mnist": types.SimpleNamespace(is_clock=False, is_classifier=True, is_image=False)}
SERVED_DOCUMENT = json.loads(openapi.document(MODELS, token_required=True, classes={"mnist": 10}))


def fuzz_config():
    pictures = max(2, EXAMPLES // 4)
    return SchemathesisConfig.from_dict({
        "seed": SEED,
        "request-timeout": 60,
        "auth": {"openapi": {"bearerAuth": {"bearer": TOKEN}}},
        "generation": {"max-examples": EXAMPLES, "deterministic": True, "database": "none", "mode": "all"},
        "phases": {"examples": {"enabled": False}, "stateful": {"enabled": False}},
        "checks": {"negative_data_rejection": {"expected-statuses": ["400", "401", "404", "405", "408", "413",
                                                                     "415", "422"]}},
        "operations": [
            {"include-name": MODEL_DEPENDENT, "checks": {"positive_data_acceptance": {"enabled": False}}},
            {"include-name": PICTURES, "generation": {"max-examples": pictures}},
            *([] if LONG else [{"include-name": LONG_COVERAGE, "phases": {"coverage": {"enabled": False}}}]),
        ],
    })


# Loaded here, not from a fixture: schemathesis.pytest.from_fixture needs pytest's private
# Function._nodeid, which pytest 9 no longer has; the base URL comes at call time instead.
schema = schemathesis.openapi.from_dict(SERVED_DOCUMENT, config=fuzz_config())


def test_the_document_is_openapi_3_and_covers_every_route():
    from schemathesis.specs.openapi import definitions

    from serve.http import app as application

    document = openapi.load()
    errors = [str(error) for error in definitions.OPENAPI_30_VALIDATOR.iter_errors(document)]
    assert errors == [] and document["openapi"].startswith("3.0")
    inner = application.create_app(application.Settings(), served={})
    while not hasattr(inner, "routes"):  # Metrics(BodyDeadline(Token(BodyLimit(Starlette))))
        inner = inner.app
    routes = {(method, route.path) for route in inner.routes for method in route.methods - {"HEAD"}}
    documented = {(method.upper(), path) for path, item in document["paths"].items()
                  for method in item if method != "parameters"}
    assert routes == documented
    # The protocol's objects keep their names and required fields (open_inference_rest.yaml).
    schemas = document["components"]["schemas"]
    assert set(schemas["inference_request"]["required"]) == {"inputs"}
    assert set(schemas["request_input"]["required"]) == {"name", "shape", "datatype", "data"}
    assert {"model_name", "outputs"} <= set(schemas["inference_response"]["required"])
    assert set(schemas["metadata_server_response"]["required"]) == {"name", "version", "extensions"}
    assert schemas["error"]["required"] == ["error"]


@pytest.fixture(scope="module")
def fuzzed_server(tmp_path_factory):
    """zoo serve with a clock reader, a generator and a classifier, a token and small limits."""
    running = Server(tmp_path_factory.mktemp("fuzz"), "--model", "clock", "--model", "faces", "--model", "mnist",
                     "--token", TOKEN, "--max-body-mb", "1", "--quiet")
    yield running
    running.stop()


def test_the_document_is_served_with_the_models_named(fuzzed_server):
    status, headers, body = request(fuzzed_server, "GET", "/openapi.json")
    assert status == 200 and headers["content-type"].startswith("application/json")
    assert json.loads(body) == SERVED_DOCUMENT
    assert_json_error(request(fuzzed_server, "GET", "/openapi.json", headers={}), 401, "bearer token")


@schema.parametrize()
def test_the_server_answers_as_its_document_says(case, fuzzed_server):
    SENT[case.operation.label] += 1
    case.call_and_validate(base_url=fuzzed_server.url)


def test_the_fuzzer_ran_and_the_server_goes_on(fuzzed_server):
    """After the fuzzing: every operation was sent requests, and the server still answers."""
    if not SENT:
        pytest.skip("the fuzzing test did not run in this session")
    print(f"\nschemathesis sent {sum(SENT.values())} requests: "
          + ", ".join(f"{label} {count}" for label, count in sorted(SENT.items())))
    operations = [f"{method.upper()} {path}" for path, item in SERVED_DOCUMENT["paths"].items()
                  for method in item if method != "parameters"]
    assert sorted(SENT) == sorted(operations)
    status, _, body = request(fuzzed_server, "GET", "/v2/health/ready", headers={})
    assert status == 200 and json.loads(body) == {"ready": True}


def test_parameters_are_read_as_documented(fuzzed_server):
    """What Python's int() and str.strip() take but the document does not: refused; an empty value: the default."""
    for query in ("count=%D9%A5", "count=1_0", "count=%205", "count=+5", "count=5%20", "seed=%EF%BC%95"):
        assert_json_error(request(fuzzed_server, "GET", f"/faces.png?{query}"), 400, "must be an integer")
    for seeds in ("%1C1,2", "1,2%E2%80%83", "1,%0A2"):
        assert_json_error(request(fuzzed_server, "GET", f"/interpolate.png?seeds={seeds}"), 400, "seeds must be two")
    for query in ("count=&seed=&columns=&model=", "count=2&seed=0"):  # empty: the default
        status, headers, _ = request(fuzzed_server, "GET", f"/faces.png?{query}")
        assert status == 200 and headers["content-type"] == "image/png"
    status, _, body = request(fuzzed_server, "GET", "/interpolate.png?seeds=%203%20,%204&steps=2")
    assert status == 200 and body[:8] == b"\x89PNG\r\n\x1a\n"
