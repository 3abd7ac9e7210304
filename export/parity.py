"""The parity gates: Keras, ONNX and SavedModel agree on the same inputs.

Per output, at batch 1 and batch 32: the same shape, dtype float32 and values within
the entry's absolute tolerance. For classifiers, also the same predicted class on the
whole test set. A failure raises :class:`GateError` whose message names the output,
the runtime and the difference.
"""

import numpy as np

from zoo import errors

BATCH_SIZES = (1, 32)
PREDICT_BATCH = 256


class GateError(errors.ZooError):
    """An export gate failed: the exported model is not the trained model.

    Not a usage error, so the CLI exits 1, not 2.
    """

    exit_code = 1


def onnx_session(path, threads=0):
    """An onnxruntime CPU session on ``path`` (parity and timing are CPU figures).

    Args:
        path: the ONNX file.
        threads: intra-op threads; 0 lets onnxruntime choose.

    Raises:
        GateError: onnxruntime cannot load the file.
    """
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads
    options.log_severity_level = 3
    try:
        return onnxruntime.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as error:  # onnxruntime raises its own Fail/InvalidGraph types.
        raise GateError(f"onnxruntime cannot load {path}: {errors.one_line(error, 300)}") from error


def run_onnx(session, inputs, batch_size=PREDICT_BATCH):
    """Outputs of an onnxruntime session as ``{name: array}``, in batches."""
    names = [output.name for output in session.get_outputs()]
    count = len(next(iter(inputs.values())))
    chunks = []
    for start in range(0, count, batch_size):
        feed = {name: np.ascontiguousarray(value[start:start + batch_size]) for name, value in inputs.items()}
        chunks.append(session.run(names, feed))
    return {name: np.concatenate([chunk[index] for chunk in chunks]) for index, name in enumerate(names)}


def run_keras(network, signature, inputs, batch_size=PREDICT_BATCH):
    """Outputs of the Keras network in inference mode as ``{name: array}``."""
    from export import convert

    count = len(next(iter(inputs.values())))
    chunks = []
    for start in range(0, count, batch_size):
        tensors = [inputs[name][start:start + batch_size] for name in signature.inputs]
        outputs = network(tensors[0] if len(tensors) == 1 else tensors, training=False)
        named = convert.outputs_by_name(outputs, signature)
        chunks.append({name: np.asarray(value) for name, value in named.items()})
    return {name: np.concatenate([chunk[name] for chunk in chunks]) for name in signature.outputs}


def load_saved_model(path):
    """The ``serving_default`` signature of a SavedModel."""
    import tensorflow as tf

    return tf.saved_model.load(str(path)).signatures["serving_default"]


def run_saved_model(function, inputs, batch_size=PREDICT_BATCH):
    """Outputs of a SavedModel signature as ``{name: array}``, in batches."""
    import tensorflow as tf

    count = len(next(iter(inputs.values())))
    chunks = []
    for start in range(0, count, batch_size):
        feed = {name: tf.constant(value[start:start + batch_size]) for name, value in inputs.items()}
        chunks.append({name: value.numpy() for name, value in function(**feed).items()})
    return {name: np.concatenate([chunk[name] for chunk in chunks]) for name in chunks[0]}


def compare(reference, candidate, names, tolerance, runtime, batch_size):
    """Check ``candidate``'s outputs against ``reference``'s: shape, dtype, values.

    Returns:
        ``{output: max absolute difference}``.

    Raises:
        GateError: an output is missing, or differs in shape, dtype or value.
    """
    differences = {}
    for name in names:
        if name not in candidate:
            raise GateError(f"parity: {runtime} has no output {name!r} (it has {', '.join(sorted(candidate))})")
        expected, received = np.asarray(reference[name]), np.asarray(candidate[name])
        if received.shape != expected.shape:
            raise GateError(
                f"parity: output {name!r} of {runtime} has shape {list(received.shape)}, Keras {list(expected.shape)} "
                f"(batch {batch_size})"
            )
        if received.dtype != np.float32:
            raise GateError(
                f"parity: output {name!r} of {runtime} is {received.dtype}, expected float32 (batch {batch_size})"
            )
        difference = (float(np.max(np.abs(received.astype(np.float64) - expected.astype(np.float64))))
                      if received.size else 0.0)
        # NaN never passes: a comparison with NaN is False.
        if not difference <= tolerance:
            raise GateError(
                f"parity: output {name!r} of {runtime} differs from Keras by {difference:.3g} at batch {batch_size} "
                f"(tolerance {tolerance:g})"
            )
        differences[name] = difference
    return differences


def check_parity(network, signature, session, saved_model, inputs, batch_sizes=BATCH_SIZES):
    """The value gate: Keras vs ONNX and Keras vs SavedModel at each batch size.

    Args:
        network: the Keras network that was exported.
        signature: the entry's signature (names and tolerance).
        session: an onnxruntime session on the exported file.
        saved_model: the SavedModel's serving signature.
        inputs: ``{input name: float32 array}`` with at least ``max(batch_sizes)`` rows.
        batch_sizes: the batch sizes to check.

    Returns:
        dict: ``max_abs_diff`` per runtime and output (over all batches), ``batches``.

    Raises:
        GateError: the first output that differs.
    """
    worst = {"onnx": {}, "saved_model": {}}
    for batch_size in batch_sizes:
        batch = {name: value[:batch_size] for name, value in inputs.items()}
        reference = run_keras(network, signature, batch)
        for runtime, outputs in (
            ("onnx", run_onnx(session, batch)),
            ("saved_model", run_saved_model(saved_model, batch)),
        ):
            differences = compare(reference, outputs, signature.outputs, signature.tolerance, runtime, batch_size)
            for name, difference in differences.items():
                worst[runtime][name] = max(worst[runtime].get(name, 0.0), difference)
    return {"batches": list(batch_sizes), "max_abs_diff": worst}


def check_argmax(network, signature, session, saved_model, images, labels, output, input_name):
    """The classifier gate: the same predicted class from all three on every test image.

    Images where Keras' two best probabilities are within the parity tolerance of
    each other are ties: a float rounding difference may legitimately pick the other
    class there, so they are counted but do not fail the gate.

    Returns:
        dict of test-set figures (examples, mismatches, ties, accuracies) plus the ONNX
        model's predicted classes under ``"_onnx_classes"`` (for the int8 comparison).

    Raises:
        GateError: a runtime predicts another class on a non-tied image.
    """
    inputs = {input_name: images}
    keras_probabilities = run_keras(network, signature, inputs)[output]
    top_two = np.sort(keras_probabilities, axis=1)[:, -2:]
    ties = (top_two[:, 1] - top_two[:, 0]) <= signature.tolerance
    keras_classes = keras_probabilities.argmax(axis=1)
    report = {"examples": int(len(images)), "ties": int(ties.sum()), "accuracy": {}}
    report["accuracy"]["keras"] = float(np.mean(keras_classes == labels))
    for runtime, outputs in (
        ("onnx", run_onnx(session, inputs)),
        ("saved_model", run_saved_model(saved_model, inputs)),
    ):
        classes = outputs[output].argmax(axis=1)
        differ = classes != keras_classes
        hard = int(np.sum(differ & ~ties))
        report[f"{runtime}_mismatches"] = int(differ.sum())
        report["accuracy"][runtime] = float(np.mean(classes == labels))
        if hard:
            first = int(np.flatnonzero(differ & ~ties)[0])
            raise GateError(
                f"parity: {runtime} predicts another class than Keras on {hard} of {len(images)} test images "
                f"(first: image {first}, {runtime} {classes[first]} vs Keras {keras_classes[first]}, "
                f"output {output!r})"
            )
        if runtime == "onnx":
            report["_onnx_classes"] = classes
    return report
