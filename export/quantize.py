"""int8 quantisation with onnxruntime, kept only when it is accurate enough and faster.

Three candidates are built from the float model and measured on the same inputs:

- ``static``: calibrated (MinMax) on a few hundred training examples, in onnxruntime's
  operator format (``QLinearConv``, ``QLinearMatMul``): uint8 activations, int8
  weights. Conv, MatMul and Gemm are quantised with the Relus, pooling and data
  movement between them (:data:`STATIC_OPS`); element-wise arithmetic, softmaxes,
  soft-argmaxes and resampling stay float32, where quantising them costs accuracy and
  saves little.
  Weights use 7 bits (``reduce_range``) on CPUs without VNNI, where onnxruntime's
  u8s8 kernels may otherwise saturate (its documentation's advice for such CPUs).
- ``static-qdq``: the same, as QuantizeLinear/DequantizeLinear pairs around float
  ops (the format other runtimes and execution providers fuse); on onnxruntime's
  CPU provider the two run at about the same speed (the trained clock_hands: 1.40-1.53x
  against 1.42-1.49x over float32, depending on the run).
- ``dynamic``: int8 weights, activations quantised at run time; MatMul/Gemm only,
  since onnxruntime's CPU ``ConvInteger`` takes uint8 weights only. It suits
  models made of dense layers.

Each candidate's quality (test accuracy for classifiers, otherwise the error of its
outputs against the float model's, relative to their range) and batch-1 latency
(p50, one thread, the same inputs and session options as the float model) are
measured. The fastest candidate that is within the quality threshold *and* at least
``min_speedup`` times faster than float32 is kept: an int8 file that is no faster
has no reason to exist. If none qualifies the int8 model is dropped and the card
says why.
"""

import contextlib
import logging
import pathlib
import time

import numpy as np

from zoo import errors

METHODS = ("auto", "static", "static-qdq", "dynamic")
# What the static candidates quantise: the arithmetic that int8 kernels speed up, the
# activations and pooling that ride on its output range (a quantised Relu is free: it
# becomes the zero point), and pure data movement. Without Relu and the data movement
# every layer would dequantise and requantise its output, which eats most of the gain.
STATIC_OPS = [
    "Conv", "MatMul", "Gemm", "Relu", "Clip", "MaxPool", "AveragePool", "GlobalAveragePool",
    "Reshape", "Flatten", "Transpose", "Squeeze", "Unsqueeze", "Concat", "Resize",
]
MIN_SPEEDUP = 1.05
CALIBRATION_EXAMPLES = 256
LATENCY_RUNS = 300
LATENCY_ROUNDS = 5
BATCH_LATENCY_RUNS = 50


def cpu_has_vnni():
    """Whether this x86 CPU has 8-bit dot-product instructions (AVX-VNNI, AVX512-VNNI, AMX)."""
    try:
        flags = pathlib.Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return any(flag in flags for flag in ("avx512_vnni", "avx_vnni", "amx_int8"))


class ArrayReader:
    """An onnxruntime ``CalibrationDataReader`` over in-memory arrays, in batches."""

    def __init__(self, inputs, batch_size=32):
        self.inputs = inputs
        self.batch_size = batch_size
        self.count = len(next(iter(inputs.values())))
        self.start = 0

    def get_next(self):
        if self.start >= self.count:
            return None
        batch = {name: value[self.start:self.start + self.batch_size] for name, value in self.inputs.items()}
        self.start += self.batch_size
        return batch

    def rewind(self):
        self.start = 0


def _calibration_reader(inputs):
    from onnxruntime import quantization

    # Subclass at call time so that importing this module does not load onnxruntime.
    reader_class = type("Reader", (ArrayReader, quantization.CalibrationDataReader), {})
    return reader_class(inputs)


def image_convolutions(model_path, max_channels=3):
    """Names of the Conv nodes that read raw images (at most ``max_channels`` input
    channels): with a 3x3x1 or 3x3x3 kernel an int8 convolution has too little
    arithmetic to gain anything, and quantising raw pixels costs accuracy: such a
    convolution stays float32."""
    import onnx

    model = onnx.load(str(model_path), load_external_data=False)
    shapes = {tensor.name: list(tensor.dims) for tensor in model.graph.initializer}
    return [
        node.name for node in model.graph.node
        if node.op_type == "Conv" and len(node.input) > 1 and len(shapes.get(node.input[1], [])) == 4
        and shapes[node.input[1]][1] <= max_channels
    ]


@contextlib.contextmanager
def _quiet_root_logger():
    """onnxruntime's quantiser logs on the root logger, printing whole tensor protos
    for tensors it skips (such as int64 shape slices); keep only its errors."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


def make_static(prepared, target, calibration_inputs, quant_format="operator", exclude=()):
    """Write a static int8 model calibrated on ``calibration_inputs``.

    ``quant_format``: ``operator`` (QLinearConv and friends) or ``qdq``; ``exclude``:
    node names left in float32 (see :func:`image_convolutions`).
    """
    from onnxruntime import quantization

    formats = {"operator": quantization.QuantFormat.QOperator, "qdq": quantization.QuantFormat.QDQ}
    with _quiet_root_logger():
        quantization.quantize_static(
            str(prepared), str(target), _calibration_reader(calibration_inputs),
            quant_format=formats[quant_format],
            op_types_to_quantize=list(STATIC_OPS),
            nodes_to_exclude=list(exclude),
            activation_type=quantization.QuantType.QUInt8,
            weight_type=quantization.QuantType.QInt8,
            per_channel=False,
            reduce_range=not cpu_has_vnni(),
            calibrate_method=quantization.CalibrationMethod.MinMax,
        )


def make_dynamic(prepared, target):
    """Write a dynamically quantised int8 model (MatMul and Gemm weights)."""
    from onnxruntime import quantization

    with _quiet_root_logger():
        quantization.quantize_dynamic(
            str(prepared), str(target), op_types_to_quantize=["MatMul", "Gemm"],
            weight_type=quantization.QuantType.QInt8, per_channel=False, reduce_range=not cpu_has_vnni(),
        )


def latency_p50(sessions, feed, runs=LATENCY_RUNS, rounds=LATENCY_ROUNDS):
    """Median latency in milliseconds of each session on the same ``feed``.

    The sessions take turns, ``rounds`` times ``runs / rounds`` calls each, so a
    burst of load from elsewhere on the machine hits them all alike.

    Returns:
        list of p50 milliseconds, one per session.
    """
    names = [[output.name for output in session.get_outputs()] for session in sessions]
    for session, outputs in zip(sessions, names):
        for _ in range(10):  # warm-up: first runs allocate and pick kernels
            session.run(outputs, feed)
    timings = [[] for _ in sessions]
    per_round = max(1, runs // rounds)
    for _ in range(rounds):
        for index, (session, outputs) in enumerate(zip(sessions, names)):
            for _ in range(per_round):
                started = time.perf_counter()
                session.run(outputs, feed)
                timings[index].append(time.perf_counter() - started)
    return [float(np.median(values) * 1000.0) for values in timings]


def quantize(float_path, folder, *, method, calibration_inputs, quality, latency_feed, min_speedup=MIN_SPEEDUP,
             batch_feed=None, log=print):
    """Build int8 candidates of ``float_path``, measure them, and keep the best one.

    Args:
        float_path: the float32 ONNX file (already through the gates).
        folder: where to write ``model.int8.onnx`` (scratch files are removed).
        method: ``auto`` (try every method), ``static``, ``static-qdq`` or ``dynamic``.
        calibration_inputs: ``{input name: float32 array}`` for static calibration.
        quality: ``quality(session) -> dict`` with ``metric``, ``unit``, ``float`` and
            ``value`` (the figure of the float and the int8 model), ``change`` (int8 minus
            float, in ``unit``), ``threshold``, ``within`` (bool: the change is acceptable)
            and ``verdict`` (one sentence saying so).
        latency_feed: ``{input name: batch-1 array}`` for the latency measurement.
        min_speedup: the smallest batch-1 speed-up over float32 for which an int8
            model is kept (0 keeps any accurate enough candidate).
        batch_feed: ``{input name: array}`` of a larger batch: the kept model's
            speed-up is measured on it too (``batch_latency``), as batched serving sees it.
        log: where progress lines go.

    Returns:
        dict for the card's ``quantization`` section; ``kept`` says whether
        ``folder/model.int8.onnx`` exists.
    """
    from onnxruntime.quantization import shape_inference

    from export import parity

    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}; received {method!r}")
    folder = pathlib.Path(folder)
    scratch = folder / ".int8-scratch"
    scratch.mkdir(parents=True, exist_ok=True)
    prepared = scratch / "prepared.onnx"
    # Shape inference and graph optimisation first (onnxruntime's recommended
    # pre-processing): it folds batch norms into convolutions, so they quantise.
    with _quiet_root_logger():
        shape_inference.quant_pre_process(str(float_path), str(prepared), skip_symbolic_shape=True)
    methods = [name for name in METHODS if name != "auto"] if method == "auto" else [method]
    # Read once for both static forms (and not at all for dynamic alone).
    exclude = image_convolutions(prepared) if any(name != "dynamic" for name in methods) else []
    candidates, sessions = [], []
    for name in methods:
        target = scratch / f"{name}.onnx"
        started = time.perf_counter()
        try:
            if name == "dynamic":
                make_dynamic(prepared, target)
            else:
                quant_format = "qdq" if name == "static-qdq" else "operator"
                make_static(prepared, target, calibration_inputs, quant_format=quant_format, exclude=exclude)
            figures = quality(parity.onnx_session(target))
            sessions.append(parity.onnx_session(target, threads=1))
        except Exception as error:  # a quantiser or kernel gap: record it, try the next method
            reason = errors.one_line(error)
            candidates.append({"method": name, "error": reason})
            log(f"[export] int8 {name}: failed ({reason})")
            continue
        candidates.append({
            "method": name, **figures, "size_bytes": target.stat().st_size,
            "seconds": round(time.perf_counter() - started, 2), "_path": target,
        })
    measured = [candidate for candidate in candidates if "error" not in candidate]
    if measured:
        # One interleaved measurement of float32 and every candidate: one baseline for all.
        float_ms, *int8_ms = latency_p50([parity.onnx_session(float_path, threads=1), *sessions], latency_feed)
        for candidate, milliseconds in zip(measured, int8_ms):
            candidate["latency_ms_p50"] = {"float32": round(float_ms, 4), "int8": round(milliseconds, 4)}
            candidate["speedup"] = round(float_ms / milliseconds, 3) if milliseconds > 0 else None
            log(f"[export] int8 {candidate['method']}: {candidate['verdict']}; batch-1 p50 {milliseconds:.3f} ms vs "
                f"{float_ms:.3f} ms float32 ({candidate['speedup']}x)")
    for candidate in measured:
        candidate["fast_enough"] = (candidate["speedup"] or 0.0) >= min_speedup
    usable = [candidate for candidate in measured if candidate["within"] and candidate["fast_enough"]]
    chosen = max(usable, key=lambda candidate: candidate["speedup"] or 0.0) if usable else None
    section = {
        "requested": "int8",
        "method_requested": method,
        "kept": chosen is not None,
        "file": "model.int8.onnx" if chosen else None,
        "method": chosen["method"] if chosen else None,
        "reduce_range": not cpu_has_vnni(),
        "min_speedup": min_speedup,
        "calibration_examples": int(len(next(iter(calibration_inputs.values())))) if calibration_inputs else 0,
        "latency": {"batch": 1, "threads": 1, "statistic": "p50", "runs": LATENCY_RUNS},
        "candidates": [{key: value for key, value in candidate.items() if not key.startswith("_")}
                       for candidate in candidates],
    }
    if chosen and batch_feed:
        rows = len(next(iter(batch_feed.values())))
        float_ms, int8_ms = latency_p50(
            [parity.onnx_session(float_path, threads=1), sessions[measured.index(chosen)]], batch_feed,
            runs=BATCH_LATENCY_RUNS,
        )
        section["batch_latency"] = {
            "batch": rows, "threads": 1, "statistic": "p50", "runs": BATCH_LATENCY_RUNS,
            "ms": {"float32": round(float_ms, 4), "int8": round(int8_ms, 4)},
            "speedup": round(float_ms / int8_ms, 3) if int8_ms > 0 else None,
        }
        log(f"[export] int8 {chosen['method']}: batch-{rows} p50 {int8_ms:.3f} ms vs {float_ms:.3f} ms float32 "
            f"({section['batch_latency']['speedup']}x)")
    if chosen:
        chosen["_path"].replace(folder / "model.int8.onnx")
        section.update({
            key: chosen[key]
            for key in ("metric", "unit", "float", "value", "change", "threshold", "verdict", "speedup",
                        "latency_ms_p50")
        })
    else:
        section["reason"] = _why_dropped(candidates, min_speedup)
    _remove(scratch)
    return section


def _why_dropped(candidates, min_speedup):
    reasons = []
    for candidate in candidates:
        if "error" in candidate:
            reasons.append(f"{candidate['method']} failed: {candidate['error']}")
        elif not candidate["within"]:
            reasons.append(f"{candidate['method']}: {candidate['verdict']}")
        else:
            reasons.append(f"{candidate['method']}: only {candidate['speedup']}x the float32 speed at batch 1 "
                           f"(at least {min_speedup:g}x is required)")
    return "; ".join(reasons) or "no candidate"


def _remove(folder):
    import shutil

    shutil.rmtree(folder, ignore_errors=True)
