"""The HTTP API as OpenAPI 3: ``serve/http/openapi.json``, and the copy ``GET /openapi.json`` serves.

The file describes any ``zoo serve``: the Open Inference Protocol's REST API (its schemas
follow the protocol's own ``open_inference_rest.yaml``) and the zoo's endpoints. The served
copy names this server's models: the ``name`` path parameter and each ``model`` query
parameter become enums of the models that fit, ``top`` is bounded by the classifiers'
classes, and without a ``--token`` the document asks for none. ``tests/test_openapi.py``
fuzzes the running server against it (Schemathesis).
"""

import copy
import json
import pathlib

SPEC = pathlib.Path(__file__).resolve().with_name("openapi.json")


def load():
    """The packaged document (a dict)."""
    return json.loads(SPEC.read_text(encoding="utf-8"))


def _enum(parameter, names, empty=False):
    """Name ``names`` as the parameter's values (``empty``: and "", which means the default)."""
    if names:  # no model of a kind: any name is accepted (and answered 404)
        parameter["schema"] = {"type": "string", "enum": list(names) + ([""] if empty else [])}


def document(served, token_required, classes=None):
    """The served copy: ``bytes`` of JSON.

    Args:
        served: ``{name: Served}`` (``is_clock``, ``is_classifier``, ``is_image``).
        token_required: whether requests need the bearer token.
        classes: ``{name: number of classes}`` of the served classifiers.
    """
    spec = copy.deepcopy(load())
    parameters = spec["components"]["parameters"]
    _enum(parameters["name"], served)
    _enum(parameters["clockModel"], [name for name, item in served.items() if item.is_clock], empty=True)
    _enum(parameters["classifierModel"], [name for name, item in served.items() if item.is_classifier], empty=True)
    _enum(parameters["generatorModel"], [name for name, item in served.items() if item.is_image], empty=True)
    if classes:
        for parameter in spec["paths"]["/classify"]["post"]["parameters"]:
            if parameter.get("name") == "top":
                parameter["schema"]["anyOf"][0]["maximum"] = max(classes.values())
    if not token_required:
        spec.pop("security", None)
    return json.dumps(spec, separators=(",", ":"), ensure_ascii=False).encode()
