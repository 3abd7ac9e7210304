"""Tensors of the Open Inference Protocol (KServe v2, the protocol Triton speaks), REST form.

An inference request is JSON::

    {"id": "optional", "inputs": [{"name": "z", "shape": [2, 128], "datatype": "FP32",
                                   "data": [...flat or nested...]}],
     "outputs": [{"name": "image"}]}

and the answer gives each output as ``{"name", "datatype", "shape", "data"}`` (data
flat, row-major). Triton's binary tensor extension is understood too: with an
``Inference-Header-Content-Length`` header the body is that many bytes of JSON followed
by the raw little-endian tensors of the inputs whose ``parameters.binary_data_size``
is set, and outputs asked for with ``parameters.binary_data`` are answered the same
way. numpy only; every problem is a :class:`TensorError` (one line, HTTP 400).
"""

import json
import math

import numpy as np

from zoo import errors

HEADER_LENGTH = "inference-header-content-length"
# numpy dtype name (as the model card says it) <-> the protocol's datatype.
DATATYPES = {
    "float32": "FP32", "float64": "FP64", "float16": "FP16",
    "int8": "INT8", "int16": "INT16", "int32": "INT32", "int64": "INT64",
    "uint8": "UINT8", "uint16": "UINT16", "uint32": "UINT32", "uint64": "UINT64", "bool": "BOOL",
}
NUMPY_OF = {datatype: np.dtype(name) for name, datatype in DATATYPES.items()}


class TensorError(ValueError):
    """A malformed request or tensor; the message is one line."""


class NonFiniteOutput(TensorError):
    """An answer that strict JSON cannot carry (answered 422)."""


def datatype_of(dtype):
    """The protocol datatype of a numpy dtype or a card's dtype name (``float32`` -> ``FP32``)."""
    name = np.dtype(dtype).name if not isinstance(dtype, str) else dtype
    return DATATYPES.get(name, name.upper())


def tensor_spec(items):
    """A card's ``inputs`` or ``outputs`` as protocol metadata: batch dimension -1."""
    return [{"name": item.get("name"), "datatype": datatype_of(item.get("dtype", "float32")),
             "shape": [-1 if size is None else int(size) for size in item.get("shape") or []]}
            for item in items or []]


def _refuse_constant(name):
    """Strict JSON: NaN, Infinity and -Infinity are not JSON numbers."""
    raise TensorError(f"the request holds {name}, which is not a JSON number (strict JSON only)")


def split_body(body, header_length):
    """``(JSON header dict, binary tail bytes)`` of a request body.

    Raises:
        TensorError: not JSON, not an object, or a header length that does not fit.
    """
    if header_length is not None:
        try:
            length = int(header_length)
        except ValueError:
            raise TensorError(
                f"Inference-Header-Content-Length must be a number; received {header_length[:40]!r}"
            ) from None
        if not 0 < length <= len(body):
            raise TensorError(f"Inference-Header-Content-Length {length} does not fit the body of {len(body)} bytes")
        head, tail = body[:length], body[length:]
    else:
        head, tail = body, b""
    try:
        request = json.loads(head, parse_constant=_refuse_constant)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise TensorError(f"the request is not JSON ({errors.one_line(error, 120)})") from None
    except RecursionError:
        raise TensorError("the request's JSON is nested too deeply") from None
    if not isinstance(request, dict):
        raise TensorError(f"the request must be a JSON object; received {type(request).__name__}")
    return request, tail


def _shape(value, name):
    if not isinstance(value, list) or not value or not all(
            isinstance(size, int) and not isinstance(size, bool) and size >= 0 for size in value):
        raise TensorError(
            f"input {name!r}: shape must be a non-empty list of non-negative integers; received {value!r:.80}"
        )
    return tuple(value)


def parse_inputs(request, tail, expected):
    """The request's input tensors, checked against the model's.

    Args:
        request: the JSON header (dict).
        tail: the binary tensors after it (bytes; empty without the extension).
        expected: ``{name: (datatype, shape with None for free dimensions)}``.

    Returns:
        ``{name: numpy array}`` of every expected input, batch dimension first.

    Raises:
        TensorError: anything missing, unknown, of the wrong type or shape, or data
            that does not fill the shape.
    """
    inputs = request.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise TensorError("the request needs 'inputs': a non-empty list of tensors")
    feed, offset = {}, 0
    for item in inputs:
        if not isinstance(item, dict):
            raise TensorError(
                f"each input must be an object with name, shape, datatype and data; received {item!r:.60}"
            )
        name = item.get("name")
        if not isinstance(name, str) or name not in expected:
            raise TensorError(f"unknown input {name!r:.60}; the model takes {', '.join(expected)}")
        if name in feed:
            raise TensorError(f"input {name!r} is given twice")
        datatype, free_shape = expected[name]
        if item.get("datatype") != datatype:
            raise TensorError(f"input {name!r}: datatype must be {datatype}; received {item.get('datatype')!r:.40}")
        shape = _shape(item.get("shape"), name)
        if len(shape) != len(free_shape) or any(want is not None and want != size
                                                for want, size in zip(free_shape, shape)):
            wanted = "[" + ", ".join("-1" if size is None else str(size) for size in free_shape) + "]"
            raise TensorError(f"input {name!r}: shape {list(shape)} does not fit the model's {wanted}")
        if shape[0] < 1:
            raise TensorError(f"input {name!r}: the batch dimension must be at least 1")
        count = math.prod(shape)
        dtype = NUMPY_OF[datatype]
        parameters = item.get("parameters") or {}
        if not isinstance(parameters, dict):
            raise TensorError(f"input {name!r}: parameters must be an object")
        size = parameters.get("binary_data_size")
        if size is not None:
            if not isinstance(size, int) or size != count * dtype.itemsize or offset + size > len(tail):
                raise TensorError(f"input {name!r}: binary_data_size {size!r:.20} does not fit "
                                  f"{count} {datatype} values or the {len(tail) - offset} bytes left in the body")
            array = np.frombuffer(tail[offset:offset + size], dtype=dtype.newbyteorder("<")).astype(dtype)
            offset += size
        else:
            data = item.get("data")
            if not isinstance(data, list):
                raise TensorError(f"input {name!r}: data must be a list of numbers (flat or nested)")
            try:
                raw = np.asarray(data)
                if raw.dtype.kind not in "biuf":
                    raise TypeError(raw.dtype)
                array = raw.astype(dtype)
            except (ValueError, TypeError, OverflowError, RecursionError):
                raise TensorError(f"input {name!r}: data must be numbers in a regular (not ragged) list") from None
            if array.size != count:
                raise TensorError(
                    f"input {name!r}: {array.size} values do not fill the shape {list(shape)} ({count} values)"
                )
        if array.dtype.kind == "f" and not np.isfinite(array).all():
            raise TensorError(f"input {name!r}: NaN or infinite values (only finite numbers are accepted)")
        feed[name] = np.ascontiguousarray(array.reshape(shape))
    if offset != len(tail):
        raise TensorError(f"{len(tail) - offset} bytes after the JSON header belong to no input")
    missing = [name for name in expected if name not in feed]
    if missing:
        raise TensorError(f"missing input {', '.join(map(repr, missing))}")
    batches = {array.shape[0] for array in feed.values()}
    if len(batches) > 1:
        raise TensorError(f"the inputs' batch dimensions differ: {sorted(batches)}")
    return feed


def requested_outputs(request, names):
    """``[(name, binary)]``: the outputs asked for (all of them when none is named)."""
    parameters = request.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise TensorError("the request's parameters must be an object")
    binary_default = bool(parameters.get("binary_data_output", False))
    asked = request.get("outputs")
    if asked is None:
        return [(name, binary_default) for name in names]
    if not isinstance(asked, list):
        raise TensorError("'outputs' must be a list of {\"name\": ...} objects")
    chosen = []
    for item in asked:
        name = item.get("name") if isinstance(item, dict) else None
        if name not in names:
            raise TensorError(f"unknown output {name!r:.60}; the model gives {', '.join(names)}")
        options = item.get("parameters") or {}
        if not isinstance(options, dict):
            raise TensorError(f"output {name!r}: parameters must be an object")
        chosen.append((name, bool(options.get("binary_data", binary_default))))
    return chosen


# What one value of an answer costs: a JSON number is written with up to 17 digits.
JSON_BYTES_PER_VALUE = 24


def answer_bytes(outputs, chosen, rows):
    """About how many bytes the answer to ``rows`` rows takes, before running anything.

    Args:
        outputs: ``{name: (datatype, shape with None for free dimensions)}``.
        chosen: :func:`requested_outputs`.
    """
    total = 0
    for name, binary in chosen:
        datatype, shape = outputs.get(name, ("FP64", [None]))
        per_row = math.prod(1 if size is None else int(size) for size in shape[1:])
        total += rows * per_row * (NUMPY_OF.get(datatype, np.dtype("float64")).itemsize if binary
                                   else JSON_BYTES_PER_VALUE)
    return total


def response(model_name, request_id, outputs, chosen):
    """``(body bytes, headers)`` of an inference answer.

    Args:
        outputs: ``{name: numpy array}``.
        chosen: :func:`requested_outputs`.
    """
    answer = {"model_name": model_name, "model_version": "1"}
    if request_id is not None:
        answer["id"] = request_id
    tensors, tail = [], []
    for name, binary in chosen:
        array = np.asarray(outputs[name])
        tensor = {"name": name, "datatype": datatype_of(array.dtype), "shape": list(array.shape)}
        if binary:
            raw = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes()
            tensor["parameters"] = {"binary_data_size": len(raw)}
            tail.append(raw)
        else:
            tensor["data"] = array.ravel().tolist()
        tensors.append(tensor)
    answer["outputs"] = tensors
    try:
        head = json.dumps(answer, separators=(",", ":"), allow_nan=False).encode()
    except ValueError:  # strict JSON never carries NaN or infinities
        raise NonFiniteOutput("the model's output holds NaN or infinite values for this input; "
                              "ask for it as binary data (parameters.binary_data) to see it") from None
    if not tail:
        return head, {"content-type": "application/json"}
    return head + b"".join(tail), {"content-type": "application/octet-stream", HEADER_LENGTH: str(len(head))}
