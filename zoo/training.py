"""Training and evaluation of registry entries: one function each, used by the CLI,
the tuner and the tests.

A run writes, into its output folder (``artifacts/<entry>`` by default):
``model.keras``, ``hparams.json`` (resolved), ``history.json``, ``metrics.json`` (test
figures), ``run.json`` (compile state, timing, throughput, machine, data),
``learning_curves.png`` and TensorBoard logs in ``logs/``; a model's
``extra_callbacks(run_dir[, splits])`` may add more (the faces write sample grids).

The run is written into ``<out>.partial`` and renamed into place when it is
complete, so an interrupted run never leaves a half-written model where a good
one was; the same command resumes it from Keras' ``BackupAndRestore`` state.
Under ``distributed`` (:mod:`zoo.distributed`) the chief writes the run so; the
other workers back up into a folder of their own, removed when training ends.
"""

import contextlib
import dataclasses
import hashlib
import inspect
import json
import math
import os
import pathlib
import platform
import re
import shutil
import sys
import time

from zoo import errors, hparams, registry

from zoo.common import clocktime, files

JIT_POLICIES = ("auto", "on", "off")
PRECISIONS = ("float32", "mixed_bfloat16", "auto")


def gpu_available():
    """Whether TensorFlow sees a GPU."""
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))


def resolve_jit(policy):
    """The XLA setting to ask for under ``policy``.

    ``auto`` compiles with XLA where a GPU is present and not on CPU, where it made
    the zoo's models slower (``zoo bench --train`` measures it). ``on`` and ``off``
    force it.
    """
    if policy not in JIT_POLICIES:
        raise errors.ZooError(f"--jit must be one of {', '.join(JIT_POLICIES)}; received {policy!r}")
    if policy == "auto":
        return gpu_available()
    return policy == "on"


def cpu_has_bfloat16():
    """Whether the CPU does bfloat16 arithmetic in hardware (AMX or AVX-512 BF16), read
    from ``/proc/cpuinfo`` (False where there is none)."""
    try:
        flags = pathlib.Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return re.search(r"\b(amx_bf16|avx512_bf16)\b", flags) is not None


def resolve_precision(policy):
    """The Keras dtype policy to train under for ``policy``.

    ``mixed_bfloat16`` computes in bfloat16 and keeps float32 weights; ``auto`` picks
    it on a CPU with bfloat16 hardware and no GPU, float32 elsewhere (where bfloat16
    would be emulated). Whatever the policy, what is evaluated, saved and exported is
    a float32 model (:func:`float32_twin`). Whether it pays depends on the model:
    ``zoo bench --train`` measures it per entry.
    """
    if policy not in PRECISIONS:
        raise errors.ZooError(f"--precision must be one of {', '.join(PRECISIONS)}; received {policy!r}")
    if policy == "auto":
        return "mixed_bfloat16" if cpu_has_bfloat16() and not gpu_available() else "float32"
    return policy


@contextlib.contextmanager
def dtype_policy(name):
    """Build layers under Keras' dtype policy ``name`` (the global one is restored after)."""
    import keras

    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def float32_twin(entry, config, trained):
    """The entry built again in float32 and given ``trained``'s weights: the model a
    mixed-precision run evaluates, saves and exports (ONNX runtimes compute float32;
    the weights were float32 all along). Its optimiser starts afresh, as after
    ``zoo rebuild``.

    Raises:
        ZooError: the two builds' weights differ (names or shapes).
    """
    with dtype_policy("float32"):
        twin = entry.build(config)
    mismatch = _weight_mismatch(trained, twin)
    if mismatch:
        raise errors.ZooError(f"{entry.name} built in float32 does not take its mixed-precision weights ({mismatch})")
    return _take_weights(twin, trained)


def _weight_mismatch(source, target):
    """Where ``target``'s weights differ from ``source``'s in names or shapes, or None."""
    before = [(weight.path, tuple(weight.shape)) for weight in source.weights]
    after = [(weight.path, tuple(weight.shape)) for weight in target.weights]
    if before == after:
        return None
    differing = next((pair for pair in zip(before, after) if pair[0] != pair[1]), None)
    return f"{differing[0]} vs {differing[1]}" if differing else f"{len(before)} vs {len(after)} weights"


def _take_weights(target, source):
    """``target`` given ``source``'s weights, with a fresh optimiser state (so that
    loading the saved model finds what it expects)."""
    target.set_weights(source.get_weights())
    if target.optimizer is not None and not target.optimizer.built:
        target.optimizer.build(target.trainable_variables)
    return target


def machine():
    """A short description of the machine and stack, stored with every run."""
    import keras
    import tensorflow as tf

    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "gpu": gpu_available(),
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
    }


def learning_rate_factor(schedule, progress, warmup=0.2):
    """The multiplier of the peak learning rate at ``progress`` in [0, 1].

    Args:
        schedule: ``constant``; ``onecycle`` (linear warm-up over ``warmup``, then
            cosine decay to zero); ``triangular`` (airbench: 0.2 to 1 over ``warmup``,
            then linear to zero); ``cosine`` (cosine decay from the start).
        progress: fraction of training done.
        warmup: fraction of training spent warming up.

    Example:
        >>> learning_rate_factor("triangular", 1.0)
        0.0
    """
    if schedule == "constant":
        return 1.0
    if schedule == "cosine":
        return 0.5 * (1 + math.cos(math.pi * progress))
    if schedule == "onecycle":
        if progress < warmup:
            return progress / warmup
        return 0.5 * (1 + math.cos(math.pi * (progress - warmup) / (1 - warmup)))
    if schedule == "triangular":
        if progress < warmup:
            return 0.2 + 0.8 * progress / warmup
        return max(0.0, (1 - progress) / (1 - warmup))
    raise ValueError(f"schedule must be constant, cosine, onecycle or triangular; received {schedule!r}")


def callbacks_module():
    """The callbacks below, defined on first use so that importing this module is cheap."""
    import keras
    import numpy as np

    class Schedule(keras.callbacks.Callback):
        """Sets the learning rate every step from the peak rate and a schedule shape."""

        def __init__(self, schedule, total_steps):
            super().__init__()
            self.schedule = schedule
            self.total_steps = max(1, total_steps)
            self.step = 0
            self.peak = None

        def on_train_begin(self, logs=None):
            if self.peak is None:
                self.peak = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
            self.step = None

        def on_train_batch_begin(self, batch, logs=None):
            if self.step is None:
                # Resumed runs start at the optimiser's iteration count, which BackupAndRestore
                # (after this callback) restores in its own on_train_begin.
                self.step = int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))
            factor = learning_rate_factor(self.schedule, min(1.0, self.step / self.total_steps))
            self.model.optimizer.learning_rate.assign(self.peak * factor)
            self.step += 1

        def on_epoch_end(self, epoch, logs=None):
            if logs is not None:
                logs["learning_rate"] = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))

    class Throughput(keras.callbacks.Callback):
        """Times each epoch; the first one includes tracing, so it is kept apart."""

        def __init__(self, samples_per_epoch):
            super().__init__()
            self.samples_per_epoch = samples_per_epoch
            self.epoch_seconds = []

        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            seconds = time.perf_counter() - self.started
            self.epoch_seconds.append(seconds)
            if logs is not None:
                logs["epoch_seconds"] = seconds

        def samples_per_second(self):
            steady = self.epoch_seconds[1:] or self.epoch_seconds
            return self.samples_per_epoch / float(np.median(steady)) if steady else 0.0

    return Schedule, Throughput


def adapt_layers(model, dataset, batches=10):
    """Adapt every layer of ``model`` that has ``adapt`` (e.g. patch whitening) on
    training images, as the layer sees them, before training starts."""
    import keras
    import numpy as np

    pending = [layer for layer in model.layers if hasattr(layer, "adapt") and not getattr(layer, "is_adapted", True)]
    for layer in pending:
        probe = keras.Model(model.inputs, layer.input)
        samples = [probe.predict_on_batch(images) for images, _ in dataset.take(batches)]
        layer.adapt(np.concatenate(samples))


def fitting_model(model):
    """The model to fit for ``model``: the ``zoo_trainer`` twin it carries (a training
    graph that shares its weights and takes extra inputs), or ``model`` itself."""
    trainer = getattr(model, "zoo_trainer", None)
    return model if trainer is None else trainer.model


def resolve_config(entry, hparams_file=None, overrides=(), epochs=None, recipe=None):
    """The entry's defaults under a named recipe, a tuning file, ``--hp`` overrides and
    ``--epochs``, each over the one before."""
    layers = [entry.recipe(recipe)] if recipe else []
    if hparams_file:
        layers.append(hparams.read_file(hparams_file))
    if isinstance(overrides, dict):
        layers.append(overrides)
    elif overrides:
        layers.append(hparams.parse_overrides(overrides))
    if epochs is not None:
        if epochs < 1:
            raise errors.ZooError(f"--epochs must be at least 1; received {epochs}")
        layers.append({"epochs": epochs})
    return entry.resolve(*layers)


def write_json(path, data):
    """Write ``data`` as indented JSON through a temporary file (numpy scalars become numbers)."""
    files.write_json(path, data)


def train(
    name, data=None, epochs=None, overrides=(), hparams_file=None, seed=42, jit="auto", out=None,
    limit=None, verbose=1, plots=True, precision="float32", recipe=None, distributed=False,
):
    """Train a registry entry and write its run folder.

    Args:
        name: the entry's name.
        data: a ``--data`` path, or None to search the usual places.
        epochs: overrides the entry's epochs.
        overrides: ``["key=value", ...]`` or a dict of hyperparameters.
        hparams_file: a JSON file of hyperparameters (``zoo tune`` writes them).
        seed: the seed of weights, shuffling and augmentation.
        jit: the XLA policy, ``auto`` | ``on`` | ``off``.
        out: the run folder; ``artifacts/<name>`` if None.
        limit: train on the first ``limit`` examples only (quick runs).
        verbose: the progress shown (:mod:`zoo.progress`): 0 none, 1 each step and each
            epoch, 2 a line per epoch. Keras' own display stays off.
        plots: write ``learning_curves.png``.
        precision: ``float32`` | ``mixed_bfloat16`` | ``auto`` (:func:`resolve_precision`).
        recipe: a named recipe of the entry (``Entry.recipes``) under the other overrides.
        distributed: train on the cluster of ``TF_CONFIG`` with MultiWorkerMirroredStrategy
            (:mod:`zoo.distributed`); the entry's batch size is the global batch.

    Returns:
        dict: the run's summary (``run.json``'s content, with ``metrics`` and ``path``).
        A worker other than the chief writes no run: its summary has ``path`` and
        ``metrics`` None and the ``weights_sha256`` it trained to.

    Raises:
        ZooError: bad settings or data; under ``distributed``, a missing or malformed
            ``TF_CONFIG``, ``jit`` on without a GPU, a model with its own training step,
            workers that disagree or a worker lost.

    Example:
        >>> train("mnist_mlp", data="mnist.npz", epochs=1)  # doctest: +SKIP
    """
    entry = registry.get(name)
    config = resolve_config(entry, hparams_file, overrides, epochs, recipe)
    # Under --distributed, XLA only when asked for (and refused on CPU, below).
    want_jit = resolve_jit(jit) and (jit == "on" or not distributed)
    policy = resolve_precision(precision)
    out = pathlib.Path(out or pathlib.Path("artifacts") / name)
    partial = out.with_name(out.name + ".partial")
    place = strategy = None
    if distributed:
        from zoo import distributed as distributing

        place = distributing.cluster()
        if want_jit and not gpu_available():
            raise errors.ZooError("--distributed cannot use --jit on without a GPU: XLA has no collective ops for "
                                  "CPU devices; use --jit off or auto")
        if not place.is_chief:
            partial = distributing.worker_folder(out, place)
        strategy = distributing.strategy(place)  # before any TensorFlow op, which would fix the runtime's setup
    # An interrupted run of the same configuration resumes from its backup; a
    # different configuration starts afresh rather than resuming foreign state.
    started_config = partial / "hparams.json"
    if partial.exists() and (not started_config.exists()
                             or json.loads(started_config.read_text()) != json.loads(json.dumps(config))):
        shutil.rmtree(partial)
    partial.mkdir(parents=True, exist_ok=True)
    write_json(started_config, config)

    import keras

    keras.utils.set_random_seed(seed)
    splits = entry.data(entry, config, path=data, seed=seed, limit=limit)
    if strategy is not None:
        # Every worker builds the same pipelines from the same data and seed; each takes
        # its part of every batch, so all of them take the same number of steps.
        splits = dataclasses.replace(splits, train=distributing.shard_by_data(splits.train),
                                     val=distributing.shard_by_data(splits.val))
    # The model's variables are mirrored on every worker when it is built (and compiled)
    # under the strategy.
    with dtype_policy(policy), (strategy.scope() if strategy is not None else contextlib.nullcontext()):
        model = entry.build(config)
    # Some models train through a twin that shares their weights (clock_polar's
    # teacher forcing); the model itself is what is evaluated and saved.
    fitted = fitting_model(model)
    if strategy is not None:
        distributing.check_trainable(fitted, name)
    model.jit_compile = fitted.jit_compile = want_jit
    # The same configuration built by changed code is not the same network: its
    # backup cannot be restored, so that run starts afresh too.
    architecture = hashlib.sha256(fitted.to_json().encode()).hexdigest()
    built = partial / "architecture.sha256"
    if built.exists() and built.read_text() != architecture:
        shutil.rmtree(partial / "backup", ignore_errors=True)
    built.write_text(architecture)
    adapt_layers(fitted, splits.train)

    Schedule, Throughput = callbacks_module()
    fit_epochs = config["epochs"]
    throughput = Throughput(splits.steps_per_epoch * config.get("batch_size", 1))
    callbacks = [
        throughput,
        keras.callbacks.TensorBoard(log_dir=str(partial / "logs"), write_graph=False),
        keras.callbacks.BackupAndRestore(backup_dir=str(partial / "backup")),
    ]
    if strategy is not None:
        # After BackupAndRestore, which sets the epoch each worker resumes from.
        callbacks.append(distributing.agreement_callback(strategy, {
            "settings": distributing.number(json.dumps(config, sort_keys=True)),
            "network": distributing.number(architecture),
            "seed": seed,
            "training examples": int(splits.info.get("train", -1)),
            "steps per epoch": splits.steps_per_epoch,
        }))
    if config.get("schedule", "constant") != "constant":
        callbacks.insert(0, Schedule(config["schedule"], splits.steps_per_epoch * fit_epochs))
    callbacks.extend(splits.callbacks)
    extra_callbacks = getattr(model, "extra_callbacks", None)
    if extra_callbacks is not None:
        # Models that draw from the data each epoch (reconstructions) take the splits too.
        takes_splits = "splits" in inspect.signature(extra_callbacks).parameters
        callbacks.extend(extra_callbacks(partial, splits=splits) if takes_splits else extra_callbacks(partial))
    from zoo import progress as progressing

    # Last, so that its epoch line shows what the other callbacks add to the logs.
    shown = progressing.callback(verbose, samples_per_step=config.get("batch_size"))
    if shown is not None:
        callbacks.append(shown)

    print(f"[zoo] training {name}: {registry.trained_parameters(model):,} parameters, "
          f"jit_compile={model.jit_compile} (asked {want_jit}, policy {jit}), {policy}, {fit_epochs} epochs, "
          f"data {splits.info.get('source')}", flush=True)
    if place is not None:
        print(f"[zoo] distributed: {place.describe()}; {splits.steps_per_epoch} steps of "
              f"{config.get('batch_size')} examples per epoch over all workers; "
              f"{'writing ' + str(out) if place.is_chief else 'backups in ' + str(partial)}", flush=True)
    started = time.perf_counter()
    with distributing.fitting(strategy) if strategy is not None else contextlib.nullcontext():
        history = fitted.fit(
            splits.train, validation_data=splits.val, epochs=fit_epochs, callbacks=callbacks, verbose=0,
            shuffle=False,  # the pipeline shuffles
        )
    train_seconds = time.perf_counter() - started
    if strategy is not None:
        distributing.average_statistics(strategy, model)
        digest = distributing.weights_digest(model)
        distributing.check_agreement(strategy, {"trained weights": distributing.number(digest)})
        print(f"[zoo] {place.describe()}: trained weights sha256 {digest}", flush=True)
        if not place.is_chief:
            # The chief evaluates and writes the run; this worker's backups and logs go.
            shutil.rmtree(partial, ignore_errors=True)
            return {"entry": name, "seed": seed, "epochs": fit_epochs, "train_seconds": round(train_seconds, 2),
                    "distributed": dataclasses.asdict(place), "weights_sha256": digest, "metrics": None,
                    "path": None}
    if policy != "float32" or strategy is not None:
        # A model built outside the strategy, so that evaluating and saving it on the
        # chief needs no other worker.
        model = float32_twin(entry, config, model)
        model.jit_compile = want_jit
    metrics = entry.evaluate(model, splits, config)
    warning = clocktime.no_better_than_guessing(metrics)
    if warning:  # every caller (zoo train, make demo, the studies) hears it
        print(f"[zoo] {warning}", file=sys.stderr, flush=True)

    model.save(partial / "model.keras")
    history_data = {key: [float(value) for value in values] for key, values in history.history.items()}
    write_json(partial / "history.json", history_data)
    write_json(partial / "metrics.json", metrics)
    run = {
        "entry": name,
        "seed": seed,
        **({"recipe": recipe} if recipe else {}),
        "jit_policy": jit,
        "jit_compile": bool(model.jit_compile),
        "precision": policy,
        "epochs": fit_epochs,
        "train_seconds": round(train_seconds, 2),
        "samples_per_second": round(throughput.samples_per_second(), 1),
        "data": splits.info,
        **({"distributed": {"workers": place.workers, "strategy": "MultiWorkerMirroredStrategy"}} if place else {}),
        "machine": machine(),
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    write_json(partial / "run.json", run)
    if plots:
        from zoo import plots as plotting

        plotting.learning_curves(history_data, partial / "learning_curves.png", title=name)
    shutil.rmtree(partial / "backup", ignore_errors=True)
    files.publish_folder(partial, out)
    return {**run, "metrics": metrics, "path": str(out)}


def load_run(model_dir):
    """Load a run folder's model and resolved hyperparameters (settings added to its
    entry since it was saved at the values it was built with: ``Entry.saved``).

    Raises:
        ZooError: the folder or its files are missing or unreadable.
    """
    model_dir = pathlib.Path(model_dir)
    model_file = model_dir / "model.keras" if model_dir.is_dir() else model_dir
    if not model_file.exists():
        raise errors.ZooError(f"no model at {model_file} (train one with `zoo train ENTRY --out DIR`)")
    config_file = model_file.parent / "hparams.json"
    config = json.loads(config_file.read_text()) if config_file.exists() else None
    run_file = model_file.parent / "run.json"
    entry_name = json.loads(run_file.read_text()).get("entry") if run_file.exists() else None
    if config is not None and entry_name in registry.names():
        check_current(entry_name, config, model_file.parent)
    import keras

    try:
        model = keras.saving.load_model(model_file)
    except Exception as error:  # Keras wraps corrupt archives in several exception types.
        raise errors.ZooError(f"cannot load {model_file}: {errors.one_line(error)}") from None
    if config is not None and entry_name is None and model.name in registry.names():
        check_current(model.name, config, model_file.parent)
    return model, config


def check_current(entry_name, config, where):
    """Refuse a run saved with settings the entry no longer has: the code that built
    it is gone (git history keeps it), so it would not rebuild as it trained."""
    gone = sorted(set(config) - set(registry.get(entry_name).settings))
    if gone:
        raise errors.ZooError(
            f"{where} was saved by older code: {entry_name} no longer has {', '.join(gone)}; retrain it "
            f"(`zoo train {entry_name}`), or serve its exported model.onnx, which needs no builder")


def run_folder(path):
    """A run folder given as itself or as its ``model.keras``."""
    path = pathlib.Path(path)
    return path.parent if path.name == "model.keras" else path


def derived_run(model, config, metrics, source, out, **provenance):
    """Write a run folder made from the trained run ``source`` (rebuilt, or joined to
    another): the model, its settings and figures, ``source``'s run facts with
    ``provenance`` added, and its history and curves; via ``.partial``, then renamed."""
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    model.save(partial / "model.keras")
    write_json(partial / "hparams.json", config)
    write_json(partial / "metrics.json", metrics)
    run_file = source / "run.json"
    run = json.loads(run_file.read_text()) if run_file.exists() else {"entry": model.name}
    run.update(provenance)
    write_json(partial / "run.json", run)
    for name in ("history.json", "learning_curves.png"):
        if (source / name).exists():
            shutil.copy2(source / name, partial / name)
    files.publish_folder(partial, out)
    return {**run, "metrics": metrics, "path": str(out)}


def rebuild(model_dir, overrides=(), out=None, data=None):
    """Rebuild a trained run's model from the current code under new hyperparameters
    that do not change its weights (clock_polar's ``decode_window``), carry the
    weights over, re-evaluate, and write the result as a new run folder.

    Raises:
        ZooError: no run there, ``out`` is the run itself, or the rebuilt model's
            weights differ from the run's (names or shapes).
    """
    model_dir = run_folder(model_dir)
    registry.entries()  # registers the entries' custom layers before loading
    old, config = load_run(model_dir)
    if config is None:
        raise errors.ZooError(f"no hparams.json in {model_dir}: cannot tell how the run was built")
    out = pathlib.Path(out) if out else model_dir.with_name(model_dir.name + "_rebuilt")
    if out.resolve() == model_dir.resolve():
        raise errors.ZooError("--out must differ from the run being rebuilt")
    entry = registry.get(old.name)
    changes = hparams.parse_overrides(overrides) if not isinstance(overrides, dict) else dict(overrides)
    config = entry.resolve(config, changes)
    model = entry.build(config)
    mismatch = _weight_mismatch(old, model)
    if mismatch:
        raise errors.ZooError(f"the rebuilt {entry.name} does not take the run's weights ({mismatch}); "
                              "only settings that leave the weights alone can be rebuilt")
    _take_weights(model, old)
    splits = entry.data(entry, config, path=data)
    metrics = entry.evaluate(model, splits, config)

    return derived_run(model, config, metrics, model_dir, out, rebuilt_from=str(model_dir), rebuilt_with=changes,
                        rebuilt=time.strftime("%Y-%m-%dT%H:%M:%S%z"))


def evaluate(name, model_dir, data=None, limit=None, seed=None):
    """Test figures of a trained run of entry ``name`` (the registry's evaluator).

    ``seed`` re-draws what the evaluator samples (a generator's z and its metric's random
    projections), to measure how much a figure moves between draws. A generator may
    also be scored from its exported ``.onnx`` (and card), as it ships.
    """
    entry = registry.get(name)
    if pathlib.Path(model_dir).suffix == ".onnx":
        if entry.load_export is None:
            raise errors.ZooError(f"{name} evaluates from its run folder; only generators evaluate an exported .onnx")
        model, config = entry.load_export(model_dir, name)
    else:
        model, config = load_run(model_dir)
    config = entry.resolve(config or {})
    if seed is not None:
        config = {**config, "eval_seed": int(seed)}
    splits = entry.data(entry, config, path=data, limit=limit)
    return entry.evaluate(model, splits, config)
