"""Searches over registry entries on KerasTuner: the hypermodel, the tuners, resume
checks and the distributed launch.

A study lives in one directory (``<directory>/<entry>/<study>-<tuner>``)::

    study.json          what was searched (the fingerprint checked on every start)
    trials/             KerasTuner's project: oracle.json, trial_*/trial.json,
                        trial_*/checkpoint.weights.h5 (best epoch), and our
                        trial_*/zoo_trial.json (who ran it, seconds, history, memory)
    test_results.json   test figures of every finished trial, after the search
    results.csv, results.md, <study>.png, best_hparams.json   (see tuning.results)
    logs/               the chief's and workers' output under --workers

Run the same command again to resume: KerasTuner reloads its oracle (``overwrite=False``),
finished trials are kept and a trial cut short is run again. A directory written by a
different study (entry, study, tuner, search space, epochs, data, fixed values, seed)
is refused.
"""

import dataclasses
import gc
import hashlib
import json
import logging
import os
import pathlib
import signal
import socket
import subprocess
import sys
import time

from zoo import errors, hparams, registry

from tuning import studies
from tuning.studies import TUNER_NAMES, epochs_text, space_keys  # noqa: F401 (search.* for callers)

TUNERS = ("grid", "random", "bayes", "hyperband")
# Trials of a random or Bayesian search when --max-trials is not given.
DEFAULT_MAX_TRIALS = 10
DEFAULT_DIRECTORY = pathlib.Path("artifacts") / "tune"
PROJECT = "trials"
# Seconds a worker waits before asking again when the oracle answers "idle" (no
# trial can start until running ones finish); KerasTuner itself asks in a busy loop.
IDLE_WAIT = 1.0


@dataclasses.dataclass
class Study:
    """Everything that defines one search; see :func:`prepare`."""

    entry: object
    study: str
    tuner: str
    space: object
    epochs: int
    max_trials: int | None
    directory: pathlib.Path
    data: str | None
    limit: int | None
    seed: int
    fixed: dict

    @property
    def project_dir(self):
        return self.directory / PROJECT

    @property
    def objective_name(self):
        return "val_accuracy" if self.entry.task == "classification" else "val_loss"

    @property
    def objective_direction(self):
        return "max" if self.entry.task == "classification" else "min"

    def describe(self):
        """One line: what this study searches."""
        budget = f", at most {self.max_trials} trials" if self.max_trials else ""
        limit = f", {self.limit} training examples (random subset)" if self.limit else ""
        return (f"{self.entry.name} / {self.study} ({TUNER_NAMES[self.tuner]}{budget}), "
                f"{epochs_text(self.epochs)} per trial{limit}, seed {self.seed}")


def study_directory(root, entry_name, study, tuner):
    """Where a study lives: ``<root>/<entry>/<study>-<tuner>``."""
    return pathlib.Path(root or DEFAULT_DIRECTORY) / entry_name / f"{study}-{tuner}"


def check_options(study, tuner, max_trials, epochs, workers, limit):
    """Validate the options that need no TensorFlow, with one-line errors."""
    studies.check_study(study)
    if tuner not in TUNERS:
        raise errors.ZooError(f"--tuner must be one of {', '.join(TUNERS)}; received {tuner!r}")
    if max_trials is not None and max_trials < 1:
        raise errors.ZooError(f"--max-trials must be at least 1; received {max_trials}")
    if epochs is not None and epochs < 1:
        raise errors.ZooError(f"--epochs must be at least 1; received {epochs}")
    if workers is not None and workers < 0:
        raise errors.ZooError(f"--workers must be 0 (one process) or more; received {workers}")
    if limit is not None and limit < 1:
        raise errors.ZooError(f"--limit must be at least 1; received {limit}")


def prepare(entry_name, study, tuner="grid", max_trials=None, epochs=None, directory=None, data=None, limit=None,
            seed=42, overrides=(), space=None):
    """Check a study's options and resolve them into a :class:`Study`.

    Args:
        entry_name: a registry entry (``mnist_mlp``).
        study: one of :data:`tuning.studies.STUDIES`.
        tuner: one of :data:`TUNERS`.
        max_trials: the trial budget (default: the whole grid; 10 for random and bayes;
            Hyperband's own schedule).
        epochs: epochs per trial (Hyperband's most); the entry's epochs if None.
        directory: root of the study directories (``artifacts/tune``).
        data: a ``--data`` path, or None for ``$ZOO_DATA_DIR`` and the Keras cache.
        limit: train on ``limit`` training examples only (a fixed random subset).
        seed: the seed of weights, shuffling and the oracle.
        overrides: ``["key=value", ...]`` or a dict of values held fixed in every trial.
        space: a search space to use instead of the study's (tests, custom studies).

    Returns:
        :class:`Study`.
    """
    check_options(study, tuner, max_trials, epochs, 0, limit)
    entry = registry.get(entry_name)
    fixed = dict(overrides) if isinstance(overrides, dict) else hparams.parse_overrides(overrides)
    entry.resolve(fixed)  # unknown keys and wrong types fail here, before anything runs
    space = space or studies.space_of(entry, study)
    tuned = set(space_keys(space))
    clash = sorted(tuned & set(fixed))
    if clash:
        raise errors.ZooError(f"--hp {clash[0]} fixes a value the {study} study tunes; drop it or pick another study")
    unknown = tuned - set(entry.settings)
    if unknown:
        raise errors.ZooError(f"the search space names hyperparameters {entry.name} does not have: {sorted(unknown)}")
    if max_trials is None and tuner in ("random", "bayes"):
        max_trials = DEFAULT_MAX_TRIALS
    return Study(
        entry=entry, study=study, tuner=tuner, space=space, epochs=epochs or entry.fit.get("epochs", 10),
        max_trials=max_trials, directory=study_directory(directory, entry.name, study, tuner),
        data=None if data is None else str(data), limit=limit, seed=seed, fixed=fixed,
    )


def space_config(space):
    """The space's hyperparameters as KerasTuner describes them (names, values,
    defaults, conditions): the part of the fingerprint that notices an edited space."""
    import keras_tuner

    hp = keras_tuner.HyperParameters()
    space(hp)
    return [{"class_name": type(parameter).__name__, "config": parameter.get_config()} for parameter in hp.space]


# ----------------------------------------------------------------------------- data


def load_arrays(study):
    """The entry's dataset in memory, read once for the whole search, or None when
    the entry's data function cannot take preloaded arrays."""
    import inspect

    if "arrays" not in inspect.signature(study.entry.data).parameters:
        return None
    from zoo import datasets

    return datasets.load(study.entry.dataset, study.data)


def data_identity(study, arrays):
    """What the fingerprint records of the data: sizes and a content hash, so that
    the same data under another path (another machine) still matches."""
    identity = {"dataset": study.entry.dataset, "limit": study.limit}
    if arrays is None:
        from zoo import datasets

        found = datasets.locate(study.entry.dataset, study.data)
        identity["file"] = None if found is None else found.name
        identity["bytes"] = None if found is None else _size(found)
        return identity
    digest = hashlib.sha256()
    for array in (arrays.x_train, arrays.y_train, arrays.x_test, arrays.y_test):
        digest.update(str(array.shape).encode())
        digest.update(array.tobytes())
    identity.update(train=int(len(arrays.x_train)), test=int(len(arrays.x_test)), sha256=digest.hexdigest()[:16])
    return identity


def _size(path):
    path = pathlib.Path(path)
    if path.is_file():
        return path.stat().st_size
    return sum(child.stat().st_size for child in path.rglob("*") if child.is_file())


# ----------------------------------------------------------------------------- fingerprint


def fingerprint(study, arrays):
    """The parts of a study that must not change under a resumed search."""
    parts = {
        "entry": study.entry.name,
        "study": study.study,
        "tuner": study.tuner,
        "space": space_config(study.space),
        "epochs": study.epochs,
        "data": data_identity(study, arrays),
        "fixed": study.fixed,
        "seed": study.seed,
    }
    return json.loads(json.dumps(parts, default=str))


def check_or_record(study, parts, command=None):
    """Refuse a directory written by a different study; record this one if new.

    Raises:
        ZooError: ``study.json`` differs (the message names what changed), or the
            directory holds a KerasTuner project that ``zoo tune`` did not write.
    """
    from tuning import oracles

    record = study.directory / "study.json"
    if record.exists():
        try:
            stored = json.loads(record.read_text())["fingerprint"]
        except (ValueError, KeyError, OSError):
            raise errors.ZooError(f"{record} is unreadable; delete {study.directory} to start the study over") from None
        changed = [key for key in parts if stored.get(key) != parts[key]]
        if changed:
            details = ", ".join(
                f"{key} ({stored.get(key)!r} then, {parts[key]!r} now)" if isinstance(parts[key], (int, str)) else key
                for key in changed
            )
            raise errors.ZooError(
                f"{study.directory} holds a search whose {details} differ from this command's (the space or settings "
                f"changed since it was written); use another --directory, or delete it to start over"
            )
        return False
    if (study.project_dir / "oracle.json").exists():
        raise errors.ZooError(
            f"{study.directory} holds a KerasTuner search without study.json; use another --directory"
        )
    oracles.write_json_atomic(str(record), {
        "format": "zoo-study/1",
        "fingerprint": parts,
        "objective": {"name": study.objective_name, "direction": study.objective_direction},
        "max_trials": study.max_trials,
        "limit": study.limit,
        "data_path": study.data,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": command,
    })
    return True


# ----------------------------------------------------------------------------- hypermodel


def make_hypermodel(study, arrays, jit=False):
    """A ``keras_tuner.HyperModel`` over the study's entry (see :class:`EntryHyperModel`)."""
    import keras
    import keras_tuner

    from zoo import training

    class EntryHyperModel(keras_tuner.HyperModel):
        """Builds and trains a registry entry from a trial's hyperparameters.

        ``build(hp)`` resolves the entry's config (defaults, the study's fixed values,
        the trial's active values, the study's epochs) and calls ``entry.build``;
        ``fit(hp, model)`` rebuilds the tf.data pipelines with the trial's batch size
        from arrays loaded once, so batch size is tuned like any other value.
        """

        def __init__(self):
            super().__init__(name=study.entry.name)

        def config(self, hp):
            """The full, type-checked config of the trial ``hp``."""
            chosen = studies.chosen_values(study.space, hp)
            return study.entry.resolve(study.fixed, chosen, {"epochs": study.epochs})

        def build(self, hp):
            config = self.config(hp)
            # Every trial starts from the same seed, as the report's loops did, so a
            # one-factor study compares the factor and not the initial weights.
            keras.utils.set_random_seed(study.seed)
            model = study.entry.build(config)
            model.jit_compile = jit
            return model

        def splits(self, config):
            """The entry's train/val/test pipelines for ``config`` (its batch size)."""
            options = dict(path=study.data, seed=study.seed, limit=study.limit)
            if arrays is not None:
                options["arrays"] = arrays
            return study.entry.data(study.entry, config, **options)

        def fit(self, hp, model, *args, callbacks=None, epochs=None, initial_epoch=0, verbose=1, **kwargs):
            config = self.config(hp)
            splits = self.splits(config)
            fitted = training.fitting_model(model)
            fitted.jit_compile = model.jit_compile
            training.adapt_layers(fitted, splits.train)
            epochs = epochs or config["epochs"]
            callbacks = [*(callbacks or []), *splits.callbacks]
            if config.get("schedule", "constant") != "constant":
                Schedule, _ = training.callbacks_module()
                callbacks.insert(0, Schedule(config["schedule"], splits.steps_per_epoch * epochs))
            return fitted.fit(
                splits.train, validation_data=splits.val, epochs=epochs, initial_epoch=initial_epoch,
                callbacks=callbacks, verbose=verbose, shuffle=False,  # the pipeline shuffles
            )

    return EntryHyperModel()


# ----------------------------------------------------------------------------- tuners


def _tuner_classes():
    import keras
    import keras_tuner

    from tuning import oracles

    class RecordingTuner(keras_tuner.Tuner):
        """KerasTuner's Keras tuner, which also records who ran each trial and how
        long it took (``trial_*/zoo_trial.json``), clears the Keras session after
        every trial, and waits a moment instead of spinning when the oracle is idle."""

        def __init__(self, oracle, hypermodel, **kwargs):
            # Called directly so that Hyperband's __init__, which only builds its own
            # oracle, is skipped for ours.
            keras_tuner.Tuner.__init__(self, oracle=oracle, hypermodel=hypermodel, **kwargs)
            self.records = {}
            self._asked = False

        def pre_create_trial(self):
            # Two requests without a trial starting in between: the oracle answered
            # "idle" (other workers' trials must finish first).
            if self._asked:
                time.sleep(IDLE_WAIT)
            self._asked = True

        def on_trial_begin(self, trial):
            self._asked = False
            self.records[trial.trial_id] = {
                "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "clock": time.perf_counter(),
            }
            super().on_trial_begin(trial)

        def run_trial(self, trial, *args, **kwargs):
            histories = super().run_trial(trial, *args, **kwargs)
            history = getattr(histories[0], "history", {}) if histories else {}
            record = self.records.setdefault(trial.trial_id, {"clock": time.perf_counter()})
            record["history"] = {key: [float(value) for value in values] for key, values in history.items()}
            record["epochs"] = len(next(iter(history.values()), []))
            return histories

        def on_trial_end(self, trial):
            # KerasTuner clears the session before building the next model; clearing
            # here too frees the finished trial's graphs before anything else runs,
            # and before the memory figure below is taken.
            keras.backend.clear_session()
            gc.collect()
            record = self.records.pop(trial.trial_id, {})
            clock = record.pop("clock", None)
            record.update(
                trial_id=trial.trial_id,
                tuner_id=self.tuner_id,
                host=socket.gethostname(),
                pid=os.getpid(),
                status=trial.status,
                seconds=None if clock is None else round(time.perf_counter() - clock, 2),
                finished=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                rss_mb=resident_megabytes(),
            )
            # Written before the oracle records the trial as ended: a process killed
            # in between runs the trial again rather than keep it without its record.
            oracles.write_json_atomic(os.path.join(self.get_trial_dir(trial.trial_id), "zoo_trial.json"), record)
            super().on_trial_end(trial)
            if trial.status not in ("COMPLETED",):
                last = (trial.message or "").strip().splitlines()[-1:] or ["no message"]
                print(f"[zoo] trial {trial.trial_id} {trial.status.lower()}: {last[0]}", file=sys.stderr, flush=True)

    class RecordingHyperband(RecordingTuner, keras_tuner.Hyperband):
        """Hyperband's trial logic (epochs per round, weights carried between rounds)
        with the recording above."""

    return RecordingTuner, RecordingHyperband


def make_tuner(study, hypermodel):
    """A KerasTuner tuner over ``study``, reloading the directory's state if any."""
    import keras_tuner

    from tuning import oracles

    objective = keras_tuner.Objective(study.objective_name, study.objective_direction)
    oracle = oracles.make_oracle(study.tuner, objective, study.max_trials, study.epochs, study.seed)
    RecordingTuner, RecordingHyperband = _tuner_classes()
    cls = RecordingHyperband if study.tuner == "hyperband" else RecordingTuner
    return cls(oracle, hypermodel, directory=str(study.directory), project_name=PROJECT, overwrite=False)


def resident_megabytes():
    """This process's resident memory in MB (Linux ``/proc``), or None elsewhere."""
    try:
        with open("/proc/self/statm") as file:
            pages = int(file.read().split()[1])
        return round(pages * os.sysconf("SC_PAGE_SIZE") / 2**20, 1)
    except (OSError, ValueError, IndexError):
        return None


# ----------------------------------------------------------------------------- distribution


def distributed_role():
    """``None`` (one process), ``"chief"`` or ``"worker"``, from KerasTuner's variables.

    Raises:
        ZooError: ``KERASTUNER_ORACLE_IP`` is set without the port or the tuner id.
    """
    if "KERASTUNER_ORACLE_IP" not in os.environ:
        return None
    for name in ("KERASTUNER_ORACLE_PORT", "KERASTUNER_TUNER_ID"):
        if not os.environ.get(name):
            raise errors.ZooError(f"KERASTUNER_ORACLE_IP is set but {name} is not; set all three or none")
    return "chief" if "chief" in os.environ["KERASTUNER_TUNER_ID"] else "worker"


def serve(tuner, poll=0.5):
    """Run the chief: serve the oracle to the workers until every trial is done.

    This is KerasTuner's own chief (its ``OracleServicer`` over gRPC, the same
    protocol and variables); only the wait differs: KerasTuner's ``start_server``
    checks for the end every 20 seconds and never stops its server, this checks
    every ``poll`` seconds and stops it.
    """
    from concurrent import futures

    import grpc
    from keras_tuner.src import protos
    from keras_tuner.src.distribute import oracle_chief

    address = f"{os.environ['KERASTUNER_ORACLE_IP']}:{os.environ['KERASTUNER_ORACLE_PORT']}"
    tuner.save()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
    servicer = oracle_chief.OracleServicer(tuner.oracle)
    protos.get_service_grpc().add_OracleServicer_to_server(servicer, server)
    try:
        bound = server.add_insecure_port(address)
    except RuntimeError:
        bound = 0
    if not bound:
        raise errors.ZooError(f"the chief cannot listen on {address} (port in use, or not this machine's address)")
    server.start()
    print(f"[zoo] chief serving the oracle on {address}", flush=True)
    try:
        while not (servicer.stop_triggered and oracle_chief.exit_chief(tuner.oracle)):
            time.sleep(poll)
    finally:
        server.stop(grace=2)


def wait_for_workers(study, tuner_id, timeout=600.0):
    """Under ``zoo tune --workers N``: start searching only when all N workers are
    up, so that trials are spread over all of them from the first one."""
    count = int(os.environ.get("ZOO_TUNE_WORKERS", "0") or 0)
    if count < 2:
        return
    ready = study.directory / "logs" / "ready"
    ready.mkdir(parents=True, exist_ok=True)
    (ready / tuner_id).touch()
    deadline = time.monotonic() + timeout
    while len(list(ready.iterdir())) < count:
        if time.monotonic() > deadline:
            started = len(list(ready.iterdir()))
            raise errors.ZooError(f"only {started} of {count} workers started within {timeout:.0f} s")
        time.sleep(0.2)


def free_port(host="127.0.0.1"):
    """A TCP port that is free on ``host`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def command_line(study, verbose):
    """The ``zoo tune`` command that reproduces ``study`` (for the chief and workers)."""
    command = [sys.executable, "-m", "zoo.cli", "tune", study.entry.name, "--study", study.study,
               "--tuner", study.tuner, "--epochs", str(study.epochs), "--seed", str(study.seed),
               "--directory", str(study.directory.parent.parent)]
    if study.max_trials:
        command += ["--max-trials", str(study.max_trials)]
    if study.data:
        command += ["--data", study.data]
    if study.limit:
        command += ["--limit", str(study.limit)]
    for key, value in study.fixed.items():
        command += ["--hp", f"{key}={value!r}"]
    if not verbose:
        command.append("--quiet")
    return command


def launch(study, workers, verbose=1, expected=None):
    """Run the study as a chief and ``workers`` workers on 127.0.0.1 and wait.

    Each process is the same ``zoo tune`` command with KerasTuner's variables set;
    their output goes to ``logs/<tuner id>.log`` in the study directory. A progress
    bar counts finished trials.

    Raises:
        ZooError: a process failed (the message names its log).
    """
    from tqdm import tqdm

    logs = study.directory / "logs"
    ready = logs / "ready"
    if ready.exists():
        for stale in ready.iterdir():
            stale.unlink()
    logs.mkdir(parents=True, exist_ok=True)
    port = free_port()
    base = {**os.environ, "KERASTUNER_ORACLE_IP": "127.0.0.1", "KERASTUNER_ORACLE_PORT": str(port),
            "ZOO_TUNE_LAUNCHED": "1", "ZOO_TUNE_WORKERS": str(workers)}
    command = command_line(study, verbose=0)
    processes = {}
    try:
        for tuner_id in ["chief", *(f"tuner{index}" for index in range(workers))]:
            log = open(logs / f"{tuner_id}.log", "w")
            processes[tuner_id] = (subprocess.Popen(command, env={**base, "KERASTUNER_TUNER_ID": tuner_id},
                                                    stdout=log, stderr=subprocess.STDOUT), log)
        print(f"[zoo] chief on 127.0.0.1:{port} and {workers} workers; logs in {logs}", flush=True)
        with tqdm(total=expected, desc="trials", unit="trial", disable=not verbose) as progress:
            while True:
                progress.update(count_finished(study) - progress.n)
                codes = {tuner_id: process.poll() for tuner_id, (process, _) in processes.items()}
                failed = [tuner_id for tuner_id, code in codes.items() if code not in (None, 0)]
                if failed:
                    tuner_id = failed[0]
                    raise errors.ZooError(
                        f"{tuner_id} exited with code {codes[tuner_id]}: {_last_line(logs / f'{tuner_id}.log')} "
                        f"(log: {logs / f'{tuner_id}.log'})"
                    )
                if all(code == 0 for code in codes.values()):
                    progress.update(count_finished(study) - progress.n)
                    break
                time.sleep(0.5)
    finally:
        for process, _log in processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        for process, log in processes.values():
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            log.close()


def _last_line(path):
    try:
        lines = [line for line in pathlib.Path(path).read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return "no log"
    return lines[-1][:300] if lines else "no output"


def count_finished(study):
    """Trials of the study's directory that ended (completed or failed)."""
    finished = 0
    for path in study.project_dir.glob("trial_*/trial.json"):
        try:
            status = json.loads(path.read_text()).get("status")
        except (OSError, ValueError):
            continue
        finished += status in ("COMPLETED", "FAILED", "INVALID")
    return finished


# ----------------------------------------------------------------------------- the search


def run(study, workers=0, verbose=1, top=5, command=None):
    """Search, then write the results (see :mod:`tuning.results`).

    Args:
        study: a :class:`Study` from :func:`prepare`.
        workers: 0 for one process; N > 0 for a chief and N workers on 127.0.0.1.
        verbose: 0 quiet, 1 KerasTuner's and Keras' progress.
        top: how many of the best trials to print.
        command: the command line, recorded in ``study.json``.

    Returns:
        The result rows (ranked dicts), or None for a worker.

    Example:
        >>> run(prepare("mnist_mlp", "optimizers", data="mnist.npz"))  # doctest: +SKIP
    """
    import warnings

    from tuning import oracles, results

    # Hyperband and the test evaluation load checkpoints into freshly compiled
    # models; the optimiser state in them is not needed and Keras says so per trial.
    warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
    # Every trial builds new tf.functions by design; TensorFlow's retracing advice
    # is noise here.
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    role = distributed_role()
    if workers and role:
        raise errors.ZooError("--workers starts its own chief and workers; unset KERASTUNER_ORACLE_IP to use it")
    arrays = load_arrays(study)
    parts = fingerprint(study, arrays)
    created = check_or_record(study, parts, command=command)
    done = count_finished(study)
    if not created and role != "worker":
        print(f"[zoo] resuming {study.directory}: {done} trials finished", flush=True)
    hypermodel = make_hypermodel(study, arrays)
    if workers:
        expected = len(oracles.grid_configurations(study.space)) if study.tuner == "grid" else study.max_trials
        if study.tuner == "grid" and study.max_trials:
            expected = min(expected, study.max_trials)
        launch(study, workers, verbose=verbose, expected=expected)
    else:
        tuner = make_tuner(study, hypermodel)
        if role == "chief":
            serve(tuner)
        else:
            wait_for_workers(study, tuner.tuner_id)
            tuner.search(verbose=verbose)
        if role == "worker":
            print(f"[zoo] {tuner.tuner_id}: no trials left", flush=True)
            return None
        if role == "chief" and os.environ.get("ZOO_TUNE_LAUNCHED"):
            return None  # the launching process writes the results
    return results.write(study, hypermodel, top=top, verbose=verbose)
