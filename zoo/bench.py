"""``zoo bench``: training throughput, and the command that runs both benchmarks.

Training (``--train``): for each registry entry at its default size, samples per
second over synthetic batches with XLA off and on (``model.jit_compile``) and, XLA
off, in mixed bfloat16 precision (``zoo train --precision``), the ratios, and what
the ``auto`` policies pick. The serving half (onnxruntime against Keras, cold starts)
is :mod:`serve.bench`; the command here joins the two into one ``bench.json``.

Importing this module imports click only (``zoo --help`` loads it); TensorFlow comes
in when a timing runs. Figures are only meaningful on an idle machine: the load
average is recorded with them.
"""

import json
import time

import click

from zoo.common import commands
from zoo import errors


def _synthetic_batch(model, entry, batch_size, rng):
    """Inputs (and targets) shaped like the model's, for throughput only."""
    import numpy as np

    if entry.task == "generation":
        # GAN/VAE train steps take real images: the discriminator's or encoder's input.
        network = getattr(model, "discriminator", None) or getattr(model, "encoder", None) or model
        shape = tuple(network.inputs[0].shape[1:])
        return rng.uniform(0, 1, (batch_size, *shape)).astype(np.float32), None
    inputs = [rng.uniform(0, 255, (batch_size, *tensor.shape[1:])).astype(np.float32) for tensor in model.inputs]
    structure = model.output
    if isinstance(structure, dict):
        items = structure.items()
    else:
        items = enumerate(structure if isinstance(structure, (list, tuple)) else [structure])
    targets = {}
    for key, tensor in items:
        # clock_polar's reading loss takes the true keypoints, not a target its output's shape.
        shape = structure["keypoints"].shape[1:] if key == "polar_training" else tensor.shape[1:]
        value = rng.uniform(0, 1, (batch_size, *shape)).astype(np.float32)
        # Rows summing to one are valid targets for cross-entropy and harmless for MSE.
        targets[key] = value / value.sum(axis=-1, keepdims=True)
    if not isinstance(structure, dict):
        targets = [targets[key] for key in sorted(targets)]
        targets = targets[0] if len(targets) == 1 else targets
    return inputs[0] if len(inputs) == 1 else inputs, targets


def time_training(entry, jit, steps, batch_cap=128, budget_seconds=20.0, seed=0, precision="float32"):
    """Samples per second of ``entry`` (default size) on synthetic batches, XLA ``jit``,
    built under the dtype policy ``precision``.

    One warm-up step (the compilation, reported apart), two steps to estimate the
    step time, then as many of the remaining ``steps`` as fit in ``budget_seconds``
    (XLA can make a CNN many times slower on a CPU; the budget keeps ``make bench`` short).

    Returns:
        dict: samples_per_second, steps, batch_size, compile_seconds, jit_compile (as
        Keras resolved it: it turns XLA off for models that cannot compile).
    """
    import keras
    import numpy as np
    import tensorflow as tf

    from zoo import training

    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    config = entry.resolve()
    with training.dtype_policy(precision):
        model = entry.build(config)
    model.jit_compile = jit
    batch_size = int(min(config.get("batch_size", 32), batch_cap))
    x, y = _synthetic_batch(model, entry, batch_size, np.random.default_rng(seed))
    dataset = tf.data.Dataset.from_tensors(x if y is None else (x, y)).repeat()
    if y is not None:
        training.adapt_layers(model, dataset, batches=1)

    def fit(count):
        started = time.perf_counter()
        model.fit(dataset, steps_per_epoch=count, epochs=1, verbose=0, shuffle=False)
        return time.perf_counter() - started

    compile_seconds = fit(1)
    probe = min(2, steps)
    elapsed, done = fit(probe), probe
    remaining = min(steps - done, int((budget_seconds - elapsed) / (elapsed / done)))
    if remaining > 0:
        elapsed += fit(remaining)
        done += remaining
    return {
        "samples_per_second": round(done * batch_size / elapsed, 1),
        "steps": done,
        "batch_size": batch_size,
        "compile_seconds": round(compile_seconds, 2),
        "jit_compile": bool(model.jit_compile),
    }


def bench_training(entries, steps, log):
    """The training half: each entry with XLA off and on, and in bfloat16; returns its JSON section."""
    from zoo import registry, training

    commands.quiet_tensorflow()
    names = registry.names() if not entries else [name.strip() for name in entries.split(",") if name.strip()]
    for name in names:
        registry.get(name)  # an unknown name fails before any timing
    auto = training.resolve_jit("auto")
    auto_precision = training.resolve_precision("auto")
    rows = {}
    for name in names:
        entry = registry.get(name)
        row = {}
        for label, jit, precision in (("xla_off", False, "float32"), ("xla_on", True, "float32"),
                                      ("bfloat16", False, "mixed_bfloat16")):
            log(f"[bench] training {name}, XLA {'on' if jit else 'off'}, {precision}")
            try:
                row[label] = time_training(entry, jit, steps, precision=precision)
            except Exception as error:  # one entry failing to compile must not hide the others
                row[label] = {"error": f"{type(error).__name__}: {errors.one_line(error)}"}
        off, on = row["xla_off"].get("samples_per_second"), row["xla_on"].get("samples_per_second")
        row["xla_speedup"] = round(on / off, 2) if off and on else None
        row["auto_picks"] = "on" if auto else "off"
        row["auto_is_faster"] = None if row["xla_speedup"] is None else (row["xla_speedup"] >= 1.0) == auto
        half = row["bfloat16"].get("samples_per_second")
        row["bfloat16_speedup"] = round(half / off, 2) if off and half else None
        rows[name] = row
    return {"steps": steps, "auto_policy_jit": auto, "auto_precision": auto_precision, "entries": rows}


def print_training(train):
    """The training section of the report as a table."""
    click.echo(f"\ntraining throughput, synthetic batches (up to {train['steps']} steps after a warm-up step); "
               f"auto policies: XLA {'on' if train['auto_policy_jit'] else 'off'}, "
               f"{train.get('auto_precision', 'float32')}")
    header = (f"{'entry':<22} {'batch':>5} {'XLA off /s':>11} {'XLA on /s':>10} {'on/off':>7} {'compile on s':>13}  "
              f"{'auto':<5} {'bf16 /s':>8} {'bf16/f32':>8}")
    click.echo(header + "\n" + "-" * len(header))
    for name, row in train["entries"].items():
        off, on = row["xla_off"], row["xla_on"]
        if "error" in off or "error" in on:
            click.echo(f"{name:<22} error: {off.get('error') or on.get('error')}")
            continue
        half = row["bfloat16"]
        half_text = (f"{'error':>8} {'-':>8}" if "error" in half
                     else f"{half['samples_per_second']:>8.0f} {row['bfloat16_speedup']:>8.2f}")
        click.echo(f"{name:<22} {off['batch_size']:>5} {off['samples_per_second']:>11.0f} "
                   f"{on['samples_per_second']:>10.0f} {row['xla_speedup']:>7.2f} {on['compile_seconds']:>13.1f}  "
                   f"{row['auto_picks']:<5} {half_text}"
                   + ("" if on["jit_compile"] else " (Keras turned XLA off)"))


def main(clock_run, clock_model, faces_model, image_count, repeats, cold_runs, serve_part, train_part, entries, steps,
         as_json, out):
    """``zoo bench``'s body: the serving half, the training half, one JSON and the tables."""
    from serve import bench as serving

    from zoo.common import files

    for option, value, low in (("--images", image_count, 1), ("--repeats", repeats, 1), ("--cold-runs", cold_runs, 1),
                               ("--steps", steps, 1)):
        if value < low:
            raise errors.ZooError(f"{option} must be at least {low}; received {value}")

    def log(message):
        click.echo(message, err=True)

    machine = serving.machine_facts()
    report = {"machine": machine, "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    if serve_part:
        report["serve"] = serving.bench_serving(clock_run, clock_model, faces_model, image_count, repeats, cold_runs,
                                                log)
        report["targets"] = serving.check_targets(report["serve"])
    if train_part:
        report["train"] = bench_training(entries, steps, log)
    report["machine"] = {**serving.machine_facts(), "load_average_at_start": machine.get("load_average")}
    files.write_json(out, report)
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    serving.print_report(report)
    if report.get("train"):
        print_training(report["train"])
    click.echo(f"\nwrote {out}")


# serve's command class: usage errors are one line, like the serve commands'.
@click.command("bench", cls=commands.Command)
@click.option("--clock-run", default="artifacts/clock_polar", show_default=True, metavar="DIR",
              help="The clock reader's run folder (model.keras; export/ with model.onnx and saved_model/).")
@click.option("--clock-model", default=None, metavar="PATH",
              help="The ONNX clock reader [default: CLOCK_RUN/export, else the release clock].")
@click.option("--faces-model", default=None, metavar="PATH",
              help="The ONNX face generator [default: the release faces].")
@click.option("--images", "image_count", type=int, default=64, show_default=True,
              help="Clock images rendered for the latency and throughput runs.")
@click.option("--repeats", type=int, default=200, show_default=True, help="Batch-1 runs per runtime (p50, p99).")
@click.option("--cold-runs", type=int, default=5, show_default=True, help="Cold `zoo predict-time` runs (median).")
@click.option("--train", "train_part", is_flag=True, help="Also time training with XLA on and off, for each entry.")
@click.option("--train-only", is_flag=True, help="Only the training part.")
@click.option("--entries", default=None, metavar="A,B", help="Restrict --train to these entries.")
@click.option("--steps", type=int, default=30, show_default=True, help="--train: timed steps per entry and setting.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
@click.option("--out", default="bench.json", show_default=True, metavar="FILE", help="Where to write the JSON.")
def bench(clock_run, clock_model, faces_model, image_count, repeats, cold_runs, train_part, train_only, entries,
          steps, as_json, out):
    """Benchmark serving (onnxruntime against Keras and the SavedModel) and, with
    --train, training throughput with XLA on and off.

    Serving, on the same rendered clock images: latency p50/p99 at batch 1 and
    throughput at batch 64 with onnxruntime, Keras model.predict, a direct Keras
    call and the SavedModel's serving signature (the last three need CLOCK_RUN);
    the wall time of a cold `zoo predict-time one.png` (median of subprocess runs);
    and of `zoo generate-faces --count 64`. Writes bench.json (with the machine's
    facts) and prints a table. Run it on an idle machine.

    \b
    Examples:
      zoo bench
      zoo bench --train --entries mnist_cnn,clock_hands --steps 30
      make bench ARGS="--train"
    """
    main(
        clock_run=clock_run, clock_model=clock_model, faces_model=faces_model, image_count=image_count,
        repeats=repeats, cold_runs=cold_runs, serve_part=not train_only, train_part=train_part or train_only,
        entries=entries, steps=steps, as_json=as_json, out=out,
    )


COMMANDS = [bench]
