"""``zoo bench``'s serving half: latency and throughput, and cold start.

Serving, on the same rendered clock images (one preprocessed array fed to every
runtime):

- latency p50/p99 at batch 1 and throughput at batch 64 of the clock reader with
  onnxruntime, Keras ``model.predict``, a direct Keras call ``model(x, training=False)``
  and the SavedModel's ``serving_default`` signature (the last three when the run
  folder and its export are there), and whether they read the same times;
- the wall time of a cold ``zoo predict-time one.png`` and of
  ``zoo generate-faces --count 64`` (fresh subprocesses, median of several runs).

The training half and the ``zoo bench`` command are :mod:`zoo.bench`. TensorFlow is
imported only here, inside the functions that time Keras, never by the serve
commands. Figures are only meaningful on an idle machine: the load average is
recorded with them.
"""

import json
import os
import pathlib
import platform
import statistics
import subprocess
import sys
import tempfile
import time

import click
import numpy as np

from serve import generate, models, predict
from serve import images as imaging
from zoo import errors
from zoo.common import clocktime, decoding

TARGETS = {
    "cold_predict_time_seconds": 1.0,
    "onnxruntime_p50_ms": 5.0,
    "predict_over_onnxruntime": 10.0,
    "generate_faces_64_seconds": 2.0,
}
THROUGHPUT_BATCH = 64
IMAGE_SIZE = 150  # the Leiden clocks' size: every image goes through a real resize


def machine_facts():
    """The machine and the versions, for the JSON; TensorFlow's only if already imported."""
    import onnxruntime
    import PIL

    facts = {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": models.cpu_threads(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "pillow": PIL.__version__,
        "onnxruntime": onnxruntime.__version__,
        "onnxruntime_providers": onnxruntime.get_available_providers(),
    }
    if "tensorflow" in sys.modules:
        import keras
        import tensorflow as tf

        facts.update(tensorflow=tf.__version__, keras=keras.__version__)
    try:
        facts["load_average"] = [round(value, 2) for value in os.getloadavg()]
    except OSError:
        pass
    return facts


def _summary(seconds):
    values = np.asarray(seconds) * 1000.0
    return {
        "p50_ms": round(float(np.percentile(values, 50)), 3),
        "p99_ms": round(float(np.percentile(values, 99)), 3),
        "mean_ms": round(float(values.mean()), 3),
        "runs": int(len(values)),
    }


def latency(call, rows, repeats, warmup=5):
    """p50/p99 of ``call(row)`` over ``repeats`` runs, cycling through ``rows`` (batch 1)."""
    for index in range(warmup):
        call(rows[index % len(rows)])
    seconds = []
    for index in range(repeats):
        row = rows[index % len(rows)]
        started = time.perf_counter()
        call(row)
        seconds.append(time.perf_counter() - started)
    return _summary(seconds)


def throughput(call, batch, runs=10, warmup=2):
    """Images per second of ``call(batch)``, from the median of ``runs`` runs."""
    for _ in range(warmup):
        call(batch)
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        call(batch)
        seconds.append(time.perf_counter() - started)
    median = statistics.median(seconds)
    return {"images_per_second": round(len(batch) / median, 1), "batch": int(len(batch)),
            "median_ms": round(median * 1000, 2), "runs": runs}


def render_images(folder, count, seed=2026):
    """``count`` rendered clocks (150x150 PNG) in ``folder``; returns their paths and labels."""
    from PIL import Image

    from zoo.clocks import clockface

    pictures, labels = clockface.render_batch(count, seed=seed, size=IMAGE_SIZE)
    paths = []
    for index, picture in enumerate(pictures):
        path = pathlib.Path(folder) / f"clock_{index:03d}.png"
        Image.fromarray(picture).save(path)
        paths.append(path)
    return paths, labels


def _zoo_command(*args):
    return [sys.executable, "-m", "zoo.cli", *map(str, args)]


def wall_time(command, runs, cwd=None):
    """Median wall time of a fresh subprocess running ``command`` (each must succeed)."""
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        result = subprocess.run(command, capture_output=True, text=True, cwd=cwd)
        seconds.append(time.perf_counter() - started)
        if result.returncode != 0:
            message = (result.stderr.strip().splitlines() or ["no output"])[-1]
            raise errors.ZooError(f"`{' '.join(map(str, command[2:]))}` failed: {message}")
    return {
        "median_seconds": round(statistics.median(seconds), 3),
        "min_seconds": round(min(seconds), 3),
        "runs": runs,
        "all_seconds": [round(value, 3) for value in seconds],
        "command": "zoo " + " ".join(map(str, command[3:])),
    }


def _clock_onnx(clock_run, clock_model):
    """The ONNX clock reader to time: --clock-model, else CLOCK_RUN/export, else the release one."""
    if clock_model:
        return models.load(clock_model, require="clock", session=False)[0]
    export = pathlib.Path(clock_run) / "export" / "model.onnx"
    if export.is_file():
        return models.load(str(export), require="clock", session=False)[0]
    try:
        return models.load(None, default="clock", require="clock", session=False)[0]
    except errors.ZooError:
        return None


def _keras_runtimes(clock_run, model, log):
    """``{runtime: call(batch) -> {output: array}}`` for Keras and the SavedModel, or a reason."""
    run = pathlib.Path(clock_run)
    if not (run / "model.keras").is_file():
        return {}, f"no Keras run folder at {run} (model.keras): Keras and SavedModel rows skipped"
    from zoo import registry, training
    from zoo.common import commands

    commands.quiet_tensorflow()
    import tensorflow as tf

    from export import convert

    registry.names()  # imports the model families, whose custom layers load_run needs
    keras_model, _ = training.load_run(run)
    entry_name = json.loads((run / "run.json").read_text()).get("entry") if (run / "run.json").is_file() else None
    network = keras_model
    if entry_name in registry.names():
        network = convert.network_to_export(keras_model, registry.get(entry_name))
    wanted = [output["name"] for output in model.card["outputs"]]

    def named(outputs):
        if isinstance(outputs, dict):
            return {key: np.asarray(value) for key, value in outputs.items() if key in wanted}
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        return {name: np.asarray(value) for name, value in zip(wanted, outputs)}

    runtimes = {
        "keras_predict": lambda batch: named(network.predict(batch, verbose=0)),
        "keras_call": lambda batch: named(network(batch, training=False)),
    }
    saved_model = pathlib.Path(model.path).parent / "saved_model"
    if not saved_model.is_dir():
        saved_model = run / "export" / "saved_model"
    reason = None
    if saved_model.is_dir():
        serving = tf.saved_model.load(str(saved_model)).signatures["serving_default"]
        input_name = model.card["inputs"][0]["name"]
        runtimes["saved_model"] = lambda batch: named({
            key: value.numpy() for key, value in serving(**{input_name: tf.constant(batch)}).items()
        })
    else:
        reason = f"no SavedModel beside {model.path} or in {run / 'export'}: its row is skipped"
    log(f"[bench] Keras model from {run} ({entry_name or keras_model.name}); "
        f"SavedModel {saved_model if not reason else 'missing'}")
    return runtimes, reason


def bench_serving(clock_run, clock_model, faces_model, image_count, repeats, cold_runs, log):
    """The serving half of the benchmark; returns its JSON section."""
    section = {"notes": []}
    model = _clock_onnx(clock_run, clock_model)
    with tempfile.TemporaryDirectory(prefix="zoo-bench-") as folder:
        paths, labels = render_images(folder, image_count)
        if model is None:
            section["notes"].append(f"no ONNX clock reader ({models.HOW_TO_GET}): clock rows skipped")
        else:
            section.update(_bench_clock(model, clock_run, paths, labels, repeats, cold_runs, folder, log))
        section.update(_bench_faces(faces_model, cold_runs, folder, log))
    return section


def _bench_clock(model, clock_run, paths, labels, repeats, cold_runs, folder, log):
    result = {"notes": []}
    session = models.open_session(model.path, "cpu")
    preprocessing = predict.effective_preprocessing(model.card)
    images = np.stack([imaging.load(path, preprocessing) for path in paths]).astype(np.float32)
    rows = [images[index:index + 1] for index in range(len(images))]
    batch = np.concatenate([images] * -(-THROUGHPUT_BATCH // len(images)))[:THROUGHPUT_BATCH]
    input_name = model.card["inputs"][0]["name"]
    output_names = [output.name for output in session.get_outputs()]
    runtimes = {"onnxruntime": lambda x: dict(zip(output_names, session.run(output_names, {input_name: x})))}
    keras_runtimes, reason = _keras_runtimes(clock_run, model, log)
    runtimes.update(keras_runtimes)
    if reason:
        result["notes"].append(reason)
    result["clock_model"] = {"path": str(model.path), "entry": model.entry, "decode": model.kind,
                             "megabytes": round(model.path.stat().st_size / 1e6, 2),
                             "input": model.card["inputs"][0]["shape"], "provider": session.get_providers()[0]}
    result["images"] = {"count": len(paths), "source": f"zoo.clockface.render_batch, {IMAGE_SIZE}x{IMAGE_SIZE} PNG",
                        "preprocessed_shape": list(images.shape)}
    result["latency_batch1"], result["throughput_batch64"], readings = {}, {}, {}
    for name, call in runtimes.items():
        log(f"[bench] {name}: latency at batch 1 ({repeats} runs), throughput at batch {THROUGHPUT_BATCH}")
        result["latency_batch1"][name] = latency(call, rows, repeats)
        result["throughput_batch64"][name] = throughput(call, batch)
        minutes, _ = decoding.decode_outputs(call(images), model.decode)
        readings[name] = minutes
    truth = clocktime.to_minutes(labels[:, 0], labels[:, 1])
    reference = readings["onnxruntime"]
    result["readings"] = {
        name: {
            "same_minute_as_onnxruntime": float(np.mean(np.abs(clocktime.common_sense_error(value, reference)) < 0.5)),
            "cse_mean_minutes": round(float(np.mean(clocktime.common_sense_error(value, truth))), 2),
        }
        for name, value in readings.items()
    }
    if "keras_predict" in result["latency_batch1"]:
        result["predict_over_onnxruntime_p50"] = round(
            result["latency_batch1"]["keras_predict"]["p50_ms"] / result["latency_batch1"]["onnxruntime"]["p50_ms"], 1)
    release_clock = (models.release_dir() / "clock.onnx").is_file()
    command = _zoo_command("predict-time", paths[0].name, *([] if release_clock else ["--model", model.path]))
    log(f"[bench] cold `zoo predict-time one.png` x{cold_runs}")
    result["cold_predict_time"] = wall_time(command, cold_runs, cwd=folder)
    return result


def _bench_faces(faces_model, cold_runs, folder, log):
    try:
        model = models.load(faces_model, default="faces", require="image", session=False)[0]
    except errors.ZooError as error:
        return {"notes_faces": f"generate-faces skipped: {error}"}
    out = pathlib.Path(folder) / "faces.png"
    command = _zoo_command("generate-faces", "--count", 64, "--out", out.name,
                           *(["--model", faces_model] if faces_model else []))
    log(f"[bench] `zoo generate-faces --count 64` x{cold_runs}")
    timing = wall_time(command, cold_runs, cwd=folder)
    session = models.open_session(model.path, "cpu")
    z = np.random.default_rng(0).standard_normal((64, generate.latent_dim(model))).astype(np.float32)
    timing["in_process_64_ms"] = throughput(lambda batch: generate.generate(session, model, batch), z,
                                            runs=5)["median_ms"]
    return {"faces_model": {"path": str(model.path), "entry": model.entry,
                            "megabytes": round(model.path.stat().st_size / 1e6, 2),
                            "weights": (model.card.get("quantization") or {}).get("weights", "float32")},
            "generate_faces_64": timing}


# ----------------------------------------------------------------------------- report


def check_targets(serve):
    """Each serving figure against its target in ``TARGETS`` (``met`` is None when not measured)."""
    checks = []
    cold = (serve.get("cold_predict_time") or {}).get("median_seconds")
    p50 = ((serve.get("latency_batch1") or {}).get("onnxruntime") or {}).get("p50_ms")
    ratio = serve.get("predict_over_onnxruntime_p50")
    faces = (serve.get("generate_faces_64") or {}).get("median_seconds")
    for name, value, target, higher in (
        ("cold `zoo predict-time one.png` (s)", cold, TARGETS["cold_predict_time_seconds"], False),
        ("clock reader p50 at batch 1, onnxruntime (ms)", p50, TARGETS["onnxruntime_p50_ms"], False),
        ("model.predict p50 / onnxruntime p50", ratio, TARGETS["predict_over_onnxruntime"], True),
        ("`zoo generate-faces --count 64` (s)", faces, TARGETS["generate_faces_64_seconds"], False),
    ):
        met = None if value is None else (value >= target if higher else value <= target)
        checks.append({"figure": name, "value": value, "target": (">= " if higher else "<= ") + f"{target:g}",
                       "met": met})
    return checks


def print_report(report):
    """The machine and the serving section as tables (:func:`zoo.bench.print_training` adds training)."""
    serve = report.get("serve") or {}
    machine = report["machine"]
    click.echo(f"machine: {machine['processor']}, {machine['cpus_usable']} cores usable, "
               f"load {machine.get('load_average')}; onnxruntime {machine['onnxruntime']}"
               + (f", TensorFlow {machine['tensorflow']}" if "tensorflow" in machine else ""))
    if "latency_batch1" in serve:
        model = serve["clock_model"]
        click.echo(f"\nclock reader {model['entry']} ({model['megabytes']} MB, input {model['input']}), "
                   f"{serve['images']['count']} rendered clocks")
        header = f"{'runtime':<16} {'p50 ms':>9} {'p99 ms':>9} {'img/s @64':>10} {'same reading':>13} {'CSE min':>8}"
        click.echo(header + "\n" + "-" * len(header))
        for name, figures in serve["latency_batch1"].items():
            readings = serve["readings"][name]
            click.echo(f"{name:<16} {figures['p50_ms']:>9.2f} {figures['p99_ms']:>9.2f} "
                       f"{serve['throughput_batch64'][name]['images_per_second']:>10.0f} "
                       f"{readings['same_minute_as_onnxruntime']:>13.2f} {readings['cse_mean_minutes']:>8.1f}")
    for key in ("cold_predict_time", "generate_faces_64"):
        if key in serve:
            timing = serve[key]
            click.echo(f"{timing['command']}: median {timing['median_seconds']:.3f} s over {timing['runs']} runs "
                       f"(min {timing['min_seconds']:.3f} s)")
    for note in serve.get("notes", []) + ([serve["notes_faces"]] if "notes_faces" in serve else []):
        click.echo(f"note: {note}")
    if serve:
        click.echo("\ntargets:")
        for check in report["targets"]:
            verdict = "not measured" if check["met"] is None else ("met" if check["met"] else "NOT met")
            value = "-" if check["value"] is None else f"{check['value']:g}"
            click.echo(f"  {check['figure']:<48} {value:>9} (target {check['target']}): {verdict}")
