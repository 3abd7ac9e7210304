"""``zoo serve``: the serve models over HTTP, on Starlette and uvicorn, without TensorFlow.

Modules: :mod:`serve.http.cli` (the click command; imports click only),
:mod:`serve.http.app` (the Starlette application: the Open Inference Protocol
endpoints, ``/time``, ``/faces.png``, ``/interpolate.png``, ``/metrics`` and the page),
:mod:`serve.http.oip` (JSON and binary tensors of the Open Inference Protocol),
:mod:`serve.http.batching` (concurrent requests batched for onnxruntime) and
:mod:`serve.http.guards` (token, body limit and metrics, as ASGI middleware).
docs/deploy.md shows how to run it.
"""
