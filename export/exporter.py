"""``export_entry``: a trained run folder in, a checked export folder out.

The export folder holds ``model.onnx`` (with the card in its metadata),
``saved_model/``, ``card.json``, ``SHA256SUMS`` and, with ``quantize="int8"`` when
the int8 model is accurate enough, ``model.int8.onnx``. Everything is written into a
temporary folder beside the destination and renamed into place only after every
gate passed; a failed gate leaves the destination as it was.
"""

import json
import os
import pathlib
import shutil
import time
import warnings

import numpy as np

from export import card as cards
from export import convert, parity
from export import quantize as quantizing
from zoo import __version__, errors, registry
from zoo.common import confidence, files, turnvote

PARITY_ROWS = max(parity.BATCH_SIZES)
# Inputs named like this are latent vectors: sampled from the standard normal prior,
# never read from a dataset.
LATENT_INPUTS = ("z",)


def _log_to_stdout(message):
    print(message, flush=True)


def _read_json(path):
    path = pathlib.Path(path)
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise errors.ZooError(f"cannot read {path}: {error}") from None


# Keys of ``entry.describe`` that say how to prepare an image, not how to decode an
# output: they go to the card's ``preprocessing`` section instead of ``decode``.
PREPROCESSING_KEYS = ("layout", "color", "size", "resize", "crop", "note")


def _describe(entry, config):
    """Split ``entry.describe`` into the card's ``decode``, preprocessing overrides and
    the image input's value range.

    ``describe`` may return preprocessing facts flat (``"crop": "center_square"``) or
    under ``"preprocessing"``, and the pixel range as ``"input_range"``; the rest is
    ``decode``, which must have a ``kind``.

    Returns:
        ``(decode, preprocessing overrides, input range or None)``.
    """
    if entry.describe is None:
        raise errors.ZooError(f"{entry.name} has no describe() in the registry: the card cannot say how to decode it")
    facts = dict(entry.describe(entry, config))
    overrides = dict(facts.pop("preprocessing", None) or {})
    for key in PREPROCESSING_KEYS:
        if key in facts:
            overrides[key] = facts.pop(key)
    input_range = facts.pop("input_range", None)
    if "kind" not in facts:
        raise errors.ZooError(
            f"{entry.name}: describe() returned {sorted(facts)}; the card's decode needs a 'kind' "
            "(see docs/model-card.md)"
        )
    return facts, overrides, input_range


class Samples:
    """The inputs the gates and the quantiser use, and where they came from.

    Attributes:
        parity: ``{input: float32 array}`` of :data:`PARITY_ROWS` rows.
        test: ``(images, labels)`` of a classifier's whole test set, or None.
        calibration: ``{input: float32 array}`` for int8 calibration, or None.
        report: the card's account of the data (found or not, source, why not).
        splits: the entry's :class:`zoo.datasets.Splits` when the data was loaded.
        config: the resolved configuration the splits were made with.
    """

    def __init__(self, parity_inputs, test, calibration, report, splits=None, config=None):
        self.parity = parity_inputs
        self.test = test
        self.calibration = calibration
        self.report = report
        self.splits = splits
        self.config = config


def _data_path(data, run):
    """``--data`` if given; else the dataset the run was trained on, if still there."""
    if data is not None:
        return data
    source = ((run or {}).get("data") or {}).get("source")
    if source and pathlib.Path(source).exists():
        return source
    return None


def _take(dataset, input_name, count):
    """The first ``count`` input rows of a batched ``(inputs, targets)`` tf.data pipeline."""
    rows, total = [], 0
    for batch in dataset:
        inputs = batch[0] if isinstance(batch, (tuple, list)) else batch
        if isinstance(inputs, dict):
            inputs = inputs[input_name]
        array = np.asarray(inputs, dtype=np.float32)
        rows.append(array)
        total += len(array)
        if total >= count:
            break
    return np.concatenate(rows)[:count] if rows else None


def _fill_rows(array, count):
    """Repeat ``array``'s rows until it has ``count`` of them (tiny test sets)."""
    repeats = -(-count // len(array))
    return np.concatenate([array] * repeats)[:count]


def gather_samples(entry, config, network, data, run, calibration_examples, seed=0, log=_log_to_stdout):
    """Parity, test and calibration inputs for ``network``.

    Image inputs come from the entry's dataset when it can be loaded (test images for
    parity and the test-set check, training images for calibration); otherwise parity
    uses deterministic uniform noise over the pixel range [0, 255] and the report says
    why. Latent inputs (``z``) are standard normal.

    Args:
        entry: the registry entry.
        config: its resolved configuration.
        network: the Keras network being exported.
        data: ``--data`` (a path), None to look in the usual places, or False to use no data.
        run: the run's ``run.json`` (its data source is the default path).
        calibration_examples: how many training examples to keep for calibration.
        seed: the seed of the synthetic inputs.
        log: where progress lines go.

    Returns:
        :class:`Samples`.
    """
    rng = np.random.default_rng(seed)
    shapes = {name: tuple(tensor.shape[1:]) for name, tensor in zip(entry.signature.inputs, network.inputs)}
    image_inputs = [name for name, shape in shapes.items() if len(shape) == 3 and name not in LATENT_INPUTS]
    parity_inputs, calibration = {}, {}
    for name, shape in shapes.items():
        if name not in image_inputs:
            parity_inputs[name] = rng.standard_normal((PARITY_ROWS, *shape)).astype(np.float32)
            calibration[name] = rng.standard_normal((calibration_examples, *shape)).astype(np.float32)
    if not image_inputs:
        report = {"found": None, "inputs": "standard normal (seed %d)" % seed,
                  "reason": "the inputs are latent vectors"}
        return Samples(parity_inputs, None, calibration, report)

    def synthetic(reason):
        for name in image_inputs:
            parity_inputs[name] = rng.uniform(0, 255, (PARITY_ROWS, *shapes[name])).astype(np.float32)
        log(f"[export] no test data ({reason}): parity on uniform random pixels in [0, 255]"
            + ("; the test-set class check is skipped" if entry.task == "classification" else ""))
        return Samples(parity_inputs, None, None, {
            "found": False, "inputs": f"uniform random pixels in [0, 255] (seed {seed})", "reason": reason,
        })

    if data is False:
        return synthetic("data disabled by the caller")
    if len(image_inputs) != 1:
        return synthetic(f"{len(image_inputs)} image inputs; datasets feed one")
    name = image_inputs[0]
    path = _data_path(data, run)
    try:
        # The run's own seed: entries whose data depends on it (rendered training
        # clocks) then calibrate on the examples the model was trained on.
        splits = entry.data(entry, config, path=path, seed=int((run or {}).get("seed", 42)))
    except errors.ZooError as error:
        if data is not None:
            raise  # the user named the data: a bad path is their error, not a silent fallback
        return synthetic(str(error))
    if splits.test_arrays is not None:
        test_images = np.asarray(splits.test_arrays[0], dtype=np.float32)
        test_labels = np.asarray(splits.test_arrays[1])
    else:
        test_images, test_labels = _take(splits.test, name, PARITY_ROWS), None
    if test_images is not None and test_images.ndim == 3 and shapes[name][-1:] == (1,):
        test_images = test_images[..., None]  # grayscale arrays kept without their channel axis
    if test_images is None or tuple(test_images.shape[1:]) != shapes[name]:
        found = None if test_images is None else list(test_images.shape[1:])
        return synthetic(f"the test images have shape {found}, the model takes {list(shapes[name])}")
    parity_inputs[name] = _fill_rows(test_images[:PARITY_ROWS], PARITY_ROWS)
    calibration_rows = _take(splits.val, name, calibration_examples)
    if calibration_rows is None or len(calibration_rows) < calibration_examples:
        extra = _take(splits.train, name, calibration_examples)
        calibration_rows = (extra if calibration_rows is None
                            else np.concatenate([calibration_rows, extra])[:calibration_examples])
    calibration[name] = calibration_rows
    source = splits.info.get("source") if isinstance(splits.info, dict) else None
    report = {
        "found": True, "source": str(source or path), "inputs": f"the first {PARITY_ROWS} test images",
        "test_examples": int(len(test_images)),
    }
    test = (test_images, test_labels) if entry.task == "classification" and test_labels is not None else None
    return Samples(parity_inputs, test, calibration, report, splits=splits, config=config)


def _card_io(entry, proto, input_range=None):
    """The card's ``inputs`` and ``outputs``: names, shapes (batch as null), dtypes, ranges.

    Image inputs take pixels in ``input_range`` (the entry's, default [0, 255]);
    latent inputs have no range (their prior is in ``decode``).
    """
    pixel_range = [_number(value) for value in input_range] if input_range else [0, 255]
    shapes = convert.onnx_shapes(proto)

    def shape_of(name):
        return [dim if isinstance(dim, int) and dim > 0 else None for dim in shapes[name]]

    inputs = []
    for name in entry.signature.inputs:
        shape = shape_of(name)
        image = len(shape) == 4 and name not in LATENT_INPUTS
        inputs.append({"name": name, "shape": shape, "dtype": "float32", "range": pixel_range if image else None})
    outputs = [{"name": name, "shape": shape_of(name), "dtype": "float32"} for name in entry.signature.outputs]
    return inputs, outputs


def _number(value):
    """255.0 as 255: whole numbers read better in the card."""
    return int(value) if float(value).is_integer() else float(value)


def _quality_function(entry, samples, float_session, decode, max_accuracy_drop, max_output_error):
    """How an int8 candidate is judged (see :func:`export.quantize.quantize`)."""
    if samples.test is not None:
        images, labels = samples.test
        input_name = next(name for name in entry.signature.inputs if name not in LATENT_INPUTS)
        output = decode.get("output", entry.signature.outputs[0])
        float_classes = parity.run_onnx(float_session, {input_name: images})[output].argmax(axis=1)
        float_accuracy = float(np.mean(float_classes == labels))

        def quality(session):
            classes = parity.run_onnx(session, {input_name: images})[output].argmax(axis=1)
            accuracy = float(np.mean(classes == labels))
            change = (accuracy - float_accuracy) * 100.0
            within = -change <= max_accuracy_drop
            return {
                "metric": "test_accuracy", "unit": "points", "float": float_accuracy, "value": accuracy,
                "change": round(change, 4), "threshold": max_accuracy_drop, "within": within,
                "agreement_with_float": float(np.mean(classes == float_classes)), "examples": int(len(labels)),
                "verdict": f"test accuracy {accuracy:.4f} vs {float_accuracy:.4f} float32 ({change:+.2f} points; "
                           f"a drop of at most {max_accuracy_drop:g} is allowed)",
            }

        return quality

    inputs = samples.parity
    float_outputs = parity.run_onnx(float_session, inputs)
    float_figures = _evaluate_onnx(entry, float_session, samples)

    def quality(session):
        outputs = parity.run_onnx(session, inputs)
        errors_by_output = {}
        for name, reference in float_outputs.items():
            spread = float(reference.max() - reference.min()) or 1.0
            errors_by_output[name] = float(np.mean(np.abs(outputs[name] - reference)) / spread * 100.0)
        worst = max(errors_by_output.values())
        within = worst <= max_output_error
        return {
            "metric": "output_error", "unit": "percent of the float32 output range", "float": 0.0, "value": worst,
            "change": round(worst, 4), "threshold": max_output_error, "within": within,
            "error_by_output": errors_by_output, "examples": int(len(next(iter(inputs.values())))),
            "verdict": f"mean output error {worst:.3f}% of the float32 output range "
                       f"(at most {max_output_error:g}% is allowed)",
            "evaluator": {"float32": float_figures, "int8": _evaluate_onnx(entry, session, samples)},
        }

    return quality


class OnnxAsKeras:
    """Just enough of a Keras model (``name``, ``predict``, call) over an onnxruntime
    session for an entry's evaluator to score the exported model."""

    def __init__(self, session, name, input_names):
        self.session = session
        self.name = name
        self.input_names = list(input_names)

    def _inputs(self, inputs):
        if isinstance(inputs, dict):
            return {name: np.asarray(inputs[name], dtype=np.float32) for name in self.input_names}
        if isinstance(inputs, (list, tuple)):
            return {name: np.asarray(value, dtype=np.float32) for name, value in zip(self.input_names, inputs)}
        return {self.input_names[0]: np.asarray(inputs, dtype=np.float32)}

    def predict(self, inputs, batch_size=parity.PREDICT_BATCH, verbose=0, **unused):
        return parity.run_onnx(self.session, self._inputs(inputs), batch_size=batch_size or parity.PREDICT_BATCH)

    def __call__(self, inputs, training=False):
        return self.predict(inputs)


def _evaluate_onnx(entry, session, samples):
    """The entry's own test figures for an ONNX session, or why they cannot be had.

    Evaluators that only ``predict`` (the clock readers) score the ONNX model as they
    score Keras; those that need more of Keras (``model.evaluate``) are not feasible.
    """
    if samples.splits is None or entry.evaluate is None:
        return {"feasible": False, "reason": "no test data"}
    model = OnnxAsKeras(session, entry.name, entry.signature.inputs)
    try:
        figures = entry.evaluate(model, samples.splits, samples.config)
    except Exception as error:  # an evaluator that needs a real Keras model
        return {"feasible": False, "reason": f"{type(error).__name__}: {errors.one_line(error, 150)}"}
    return json.loads(cards.to_json(figures))


def _runtime_versions():
    """What produced the compared outputs, for the card."""
    import keras
    import onnxruntime
    import tensorflow

    return {
        "keras": f"keras {keras.__version__}",
        "onnx": f"onnxruntime {onnxruntime.__version__} (CPUExecutionProvider)",
        "saved_model": f"tensorflow {tensorflow.__version__}",
    }


def check_onnx(path):
    """The checker gate: ``onnx.checker`` with the full check (types and shapes inferred).

    Raises:
        GateError: the checker rejects the file.
    """
    import onnx

    try:
        onnx.checker.check_model(str(path), full_check=True)
    except Exception as error:  # onnx raises ValidationError and InferenceError
        raise parity.GateError(
            f"onnx.checker rejects {pathlib.Path(path).name}: {errors.one_line(error, 300)}"
        ) from error


def export_entry(
    name, model_dir, out, opset=17, quantize=None, data=None, *, quantize_method="auto", max_accuracy_drop=1.0,
    max_output_error=1.0, min_speedup=quantizing.MIN_SPEEDUP, calibration_examples=quantizing.CALIBRATION_EXAMPLES,
    log=_log_to_stdout,
):
    """Export a trained run of entry ``name`` to ONNX and SavedModel, with gates and a card.

    Args:
        name: the registry entry.
        model_dir: the run folder (``model.keras``, ``hparams.json``, ``metrics.json``,
            ``run.json``) or its ``model.keras``.
        out: the export folder to create (replaced only when every gate passed).
        opset: the ONNX opset.
        quantize: None, or ``"int8"`` to also try an int8 model.
        data: the dataset path; None to use the run's own data or the usual places;
            False to use no data (random parity inputs, no test-set check).
        quantize_method: ``auto`` (try every method, keep the fastest acceptable
            one), ``static``, ``static-qdq`` or ``dynamic`` (see :mod:`export.quantize`).
        max_accuracy_drop: classifiers: the largest test-accuracy drop (points) for
            which the int8 model is kept.
        max_output_error: other tasks: the largest mean int8 output error, in percent of
            the float32 output range, for which the int8 model is kept.
        min_speedup: the smallest batch-1 speed-up over float32 for which the int8
            model is kept (0 keeps any accurate enough one).
        calibration_examples: training examples for static calibration.
        log: where progress lines go (``print`` by default; ``lambda message: None`` for quiet).

    Returns:
        dict: the card, as written to ``out/card.json``.

    Raises:
        ZooError: bad arguments or files. GateError (a ZooError): a gate failed.

    Example:
        >>> card = export_entry("mnist_cnn", "artifacts/mnist_cnn", "artifacts/mnist_cnn/export")  # doctest: +SKIP
        >>> card["parity"]["max_abs_diff"]["onnx"]["probabilities"] < 1e-4
        True
    """
    started = time.perf_counter()
    entry = registry.get(name)
    convert.check_opset(opset)
    if quantize not in (None, "int8"):
        raise errors.ZooError(f"--quantize must be int8; received {quantize!r}")
    if quantize_method not in quantizing.METHODS:
        raise errors.ZooError(
            f"--quantize-method must be one of {', '.join(quantizing.METHODS)}; received {quantize_method!r}"
        )
    if calibration_examples < 1:
        raise errors.ZooError(f"calibration_examples must be at least 1; received {calibration_examples}")
    model_dir, out = pathlib.Path(model_dir), pathlib.Path(out)
    if out.exists() and not out.is_dir():
        raise errors.ZooError(f"--out {out} is a file; give a folder to write the export into")

    from zoo import training

    with warnings.catch_warnings():
        # Export needs the weights only; Keras warns when it cannot restore an
        # optimiser's slots, which says nothing about the model.
        warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
        model, config = training.load_run(model_dir)
    run_folder = model_dir if model_dir.is_dir() else model_dir.parent
    run = _read_json(run_folder / "run.json")
    metrics = _read_json(run_folder / "metrics.json")
    trained_for = (run or {}).get("entry") or model.name
    if trained_for != name:
        raise errors.ZooError(f"{model_dir} holds a model of entry {trained_for!r}, not {name!r}")
    hparams = config  # as the run wrote it (None if the run folder has no hparams.json)
    try:
        config = entry.resolve(config or {})
    except errors.ZooError as error:
        raise errors.ZooError(f"{run_folder / 'hparams.json'} does not fit entry {name}: {error}") from None
    network = convert.network_to_export(model, entry)
    decode, preprocessing_overrides, input_range = _describe(entry, config)
    turns_file = run_folder / turnvote.FILE_NAME
    if turns_file.is_file():  # a clock reader's turn selector (`zoo fit-turns`) travels in the card
        decode["turns"] = turnvote.load(turns_file)
        log(f"[export] {name}: the card carries the turn selector {turns_file}")
    confidence_file = run_folder / confidence.FILE_NAME
    if confidence_file.is_file():  # a clock reader's calibrated confidence (`zoo calibrate`)
        decode["confidence"] = confidence.load(confidence_file)
        log(f"[export] {name}: the card carries the confidence calibration {confidence_file}")
    samples = gather_samples(entry, config, network, data, run, calibration_examples, log=log)

    int8 = None if quantize is None else dict(
        method=quantize_method, max_accuracy_drop=max_accuracy_drop, max_output_error=max_output_error,
        min_speedup=min_speedup,
    )
    parent_existed = out.parent.exists()
    out.parent.mkdir(parents=True, exist_ok=True)
    temporary = out.with_name(f".{out.name}.partial-{os.getpid()}")
    shutil.rmtree(temporary, ignore_errors=True)
    temporary.mkdir()
    try:
        card = _export_into(
            entry, network, temporary, opset, int8, samples, decode, preprocessing_overrides, input_range, metrics,
            run, hparams, log,
        )
        files.publish_folder(temporary, out)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        if not parent_existed:
            try:
                out.parent.rmdir()  # only if still empty
            except OSError:
                pass
        raise
    log(f"[export] {name}: wrote {out} in {time.perf_counter() - started:.1f} s")
    return card


def _export_into(entry, network, folder, opset, int8, samples, decode, preprocessing_overrides, input_range,
                 metrics, run, hparams, log):
    """Write everything into ``folder``; ``int8`` is None or the settings of :func:`_quantize`."""
    import onnx

    signature = entry.signature
    step = time.perf_counter()
    proto = convert.to_onnx(network, signature, opset)
    input_names, output_names = convert.onnx_names(proto)
    if input_names != list(signature.inputs) or output_names != list(signature.outputs):
        raise parity.GateError(
            f"names: the ONNX graph has inputs {input_names} and outputs {output_names}; the signature names "
            f"{list(signature.inputs)} and {list(signature.outputs)}"
        )
    onnx_path = folder / "model.onnx"
    onnx.save(proto, str(onnx_path))
    check_onnx(onnx_path)
    session = parity.onnx_session(onnx_path)
    log(f"[export] {entry.name}: ONNX opset {opset}, inputs {input_names}, outputs {output_names}; "
        f"checker and onnxruntime load passed ({time.perf_counter() - step:.1f} s)")

    step = time.perf_counter()
    convert.to_saved_model(network, signature, folder / "saved_model")
    saved_model = parity.load_saved_model(folder / "saved_model")
    parity_report = parity.check_parity(network, signature, session, saved_model, samples.parity)
    worst = max((value for runtime in parity_report["max_abs_diff"].values() for value in runtime.values()),
                default=0.0)
    log(f"[export] {entry.name}: parity at batch {' and '.join(map(str, parity.BATCH_SIZES))} passed, "
        f"max |difference| {worst:.3g} (tolerance {signature.tolerance:g}; {time.perf_counter() - step:.1f} s)")
    parity_section = {
        "tolerance": signature.tolerance,
        "reference": "keras",
        "runtimes": _runtime_versions(),
        "batches": parity_report["batches"],
        "max_abs_diff": parity_report["max_abs_diff"],
        "data": samples.report,
        "passed": True,
    }
    if entry.task == "classification":
        if samples.test is not None:
            step = time.perf_counter()
            images, labels = samples.test
            image_input = next(name for name in signature.inputs if name not in LATENT_INPUTS)
            output = decode.get("output", signature.outputs[0])
            test_report = parity.check_argmax(network, signature, session, saved_model, images, labels, output,
                                              image_input)
            test_report.pop("_onnx_classes")
            parity_section["test_set"] = {"checked": True, **test_report}
            log(f"[export] {entry.name}: same class from Keras, ONNX and SavedModel on all {len(images)} test images "
                f"(ties within tolerance: {test_report['ties']}; "
                f"ONNX test accuracy {test_report['accuracy']['onnx']:.4f}; "
                f"{time.perf_counter() - step:.1f} s)")
        else:
            parity_section["test_set"] = {"checked": False, "reason": f"no test data: {samples.report.get('reason')}"}

    quantization = None
    if int8 is not None:
        quantization = _quantize(entry, folder, onnx_path, samples, decode, log=log, **int8)

    inputs, outputs = _card_io(entry, proto, input_range)
    image_shapes = [item["shape"] for item in inputs if item["range"] is not None]
    preprocessing = cards.preprocessing_for(image_shapes[0], preprocessing_overrides) if image_shapes else None
    card = cards.build(
        entry, opset=opset, inputs=inputs, outputs=outputs, preprocessing=preprocessing, decode=decode,
        metrics=metrics, training=run, hparams=hparams, parity=parity_section,
        quantization=quantization, version=__version__,
    )

    # The card goes into the files that passed the gates; then the final files are
    # loaded again and must compute exactly what was checked.
    reference = parity.run_onnx(session, {name: value[:1] for name, value in samples.parity.items()})
    for file in ("model.onnx", "model.int8.onnx"):
        path = folder / file
        if not path.exists():
            continue
        final = onnx.load(str(path))
        cards.embed(final, card)
        onnx.save(final, str(path))
        check_onnx(path)
        if file == "model.onnx":
            again = parity.run_onnx(parity.onnx_session(path),
                                    {name: value[:1] for name, value in samples.parity.items()})
            for name in signature.outputs:
                if not np.array_equal(again[name], reference[name]):
                    raise parity.GateError(f"model.onnx computes another {name!r} after its card was embedded")
    card["onnx_sha256"] = cards.sha256_of(onnx_path)
    (folder / "card.json").write_text(cards.to_json(card) + "\n")
    cards.write_manifest(folder)
    return card


def _quantize(entry, folder, onnx_path, samples, decode, *, method, max_accuracy_drop, max_output_error, min_speedup,
              log):
    """The card's ``quantization`` section; ``folder/model.int8.onnx`` if kept."""
    if samples.calibration is None or any(value is None for value in samples.calibration.values()):
        reason = f"no training data to calibrate on ({samples.report.get('reason')})"
        log(f"[export] int8 not made: {reason}")
        return {"requested": "int8", "kept": False, "file": None, "reason": reason}
    float_session = parity.onnx_session(onnx_path)
    quality = _quality_function(entry, samples, float_session, decode, max_accuracy_drop, max_output_error)
    latency_feed = {name: value[:1] for name, value in samples.parity.items()}
    section = quantizing.quantize(
        onnx_path, folder, method=method, calibration_inputs=samples.calibration, quality=quality,
        latency_feed=latency_feed, batch_feed=samples.parity, min_speedup=min_speedup, log=log,
    )
    if section["kept"]:
        batched = section.get("batch_latency")
        at_batch = f", {batched['speedup']}x at batch {batched['batch']}" if batched else ""
        log(f"[export] int8 kept ({section['method']}): {section['verdict']}; {section['speedup']}x faster at batch 1"
            f"{at_batch}")
    else:
        log(f"[export] int8 dropped: {section['reason']}")
    return section
