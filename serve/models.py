"""The models serve runs: where they are, their cards, their checksums and their sessions.

A model is an ONNX file with a model card (schema ``zoo-card/1``, see docs/model-card.md).
The card is read from, in order:

1. ``<stem>.card.json`` beside ``<stem>.onnx`` (the release models: ``clock.onnx``
   with ``clock.card.json``);
2. ``card.json`` beside it when that card describes this file (an export folder:
   ``model.onnx``, or ``model.int8.onnx`` through the card's quantization section);
3. the copy inside the ONNX file (``metadata_props["zoo.card"]``), read through
   onnxruntime's model metadata, so a lone ``.onnx`` file works too.

The file's SHA-256 is checked on every load (streamed, nothing cached) against the
card's ``onnx_sha256`` or, for other files of an export folder, its ``SHA256SUMS``.

Release models ship in the package's ``serve/release/`` (``make release`` writes them);
``$ZOO_RELEASE_DIR`` points elsewhere. ``$ZOO_MODELS`` adds models (files or export
folders, separated by ``os.pathsep``) to ``zoo models``.

This module imports onnxruntime only inside :func:`open_session`.
"""

import dataclasses
import json
import os
import pathlib

from zoo import errors
from zoo.common.files import sha256_of  # noqa: F401 (models.sha256_of for callers)

CARD_FORMAT = "zoo-card/1"
CARD_KEY = "zoo.card"
MANIFEST = "SHA256SUMS"
RELEASE_ENV = "ZOO_RELEASE_DIR"
MODELS_ENV = "ZOO_MODELS"
# Release name -> what it is, for messages.
RELEASE_MODELS = {"clock": "clock reader", "faces": "face generator", "mnist": "digit classifier",
                  "cifar10": "CIFAR-10 classifier"}
PROVIDERS = ("auto", "cuda", "cpu")
CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"
# What each command needs: (the card's task, the decode kinds it accepts).
CLOCK_KINDS = ("clock_bins", "clock_regression", "clock_multihead", "clock_hands")
IMAGE_KINDS = ("image",)
CLASSIFIER_KINDS = ("argmax",)
HOW_TO_GET = "run `make release` to build the release models, or pass --model PATH to an exported model.onnx"


def release_dir():
    """The folder of the release models: ``$ZOO_RELEASE_DIR`` or the package's ``serve/release``."""
    configured = os.environ.get(RELEASE_ENV)
    return pathlib.Path(configured) if configured else pathlib.Path(__file__).resolve().parent / "release"


@dataclasses.dataclass
class ServedModel:
    """An ONNX model and its card, checksum checked.

    Attributes:
        name: the release name (``clock``) or the file's path as given.
        path: the ``.onnx`` file.
        card: the model card (dict).
        card_source: where the card came from (a card.json path, or ``"metadata"``).
        checksum: how the file was verified (``"sha256 ok (card.json)"``...) or why not.
        release: whether it is one of the release models.
    """

    name: str
    path: pathlib.Path
    card: dict
    card_source: str
    checksum: str
    release: bool = False

    @property
    def entry(self):
        return self.card.get("entry", "?")

    @property
    def task(self):
        return self.card.get("task", "?")

    @property
    def decode(self):
        return self.card.get("decode") or {}

    @property
    def kind(self):
        return self.decode.get("kind", "?")

    def summary(self):
        """One row of ``zoo models``: name, entry, task, decode kind, input, size, metrics, created."""
        inputs = self.card.get("inputs") or [{}]
        shape = inputs[0].get("shape") or []
        return {
            "name": self.name,
            "entry": self.entry,
            "task": self.task,
            "kind": self.kind,
            "input": f"{inputs[0].get('name', '?')} " + "x".join("N" if size is None else str(size) for size in shape),
            "megabytes": round(self.path.stat().st_size / 1e6, 2),
            "metrics": headline_metrics(self.card),
            "created": self.card.get("created"),
            "quantization": (self.card.get("quantization") or {}).get("weights")
                            or ("int8" if self.path.name.endswith(".int8.onnx") else None),
            "path": str(self.path),
            "checksum": self.checksum,
        }


def headline_metrics(card, limit=3):
    """The card's first few scalar test metrics, for one-line summaries."""
    metrics = card.get("metrics") or {}
    figures = {key: value for key, value in metrics.items()
               if isinstance(value, (int, float)) and not isinstance(value, bool)}
    return dict(list(figures.items())[:limit])


def _read_json(path):
    try:
        return json.loads(pathlib.Path(path).read_text())
    except PermissionError:
        raise errors.ZooError(f"cannot read the model card {path}: permission denied") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise errors.ZooError(f"the model card {path} is not readable JSON ({errors.one_line(error, 120)})") from None


def _check_card(card, source):
    if not isinstance(card, dict) or card.get("format") != CARD_FORMAT:
        found = card.get("format") if isinstance(card, dict) else type(card).__name__
        raise errors.ZooError(f"{source} is not a zoo model card (format {found!r}, expected {CARD_FORMAT!r})")
    for key in ("entry", "task", "inputs", "outputs", "decode"):
        if key not in card:
            raise errors.ZooError(f"the model card {source} lacks {key!r}")
    return card


def _manifest_digest(folder, file_name):
    manifest = folder / MANIFEST
    if not manifest.is_file():
        return None
    try:
        for line in manifest.read_text().splitlines():
            digest, _, name = line.partition("  ")
            if name.strip() == file_name:
                return digest.strip()
    except OSError:
        return None
    return None


def locate(spec, default):
    """The ``.onnx`` file named by ``--model``, or the release model ``default``.

    Args:
        spec: ``--model``: a ``.onnx`` file, an export folder (``model.onnx`` inside),
            a run folder (``export/model.onnx`` inside), a release name, or None.
        default: the release name to use when ``spec`` is None (``clock``, ``faces``).

    Returns:
        ``(name, path, release)``.

    Raises:
        ZooError: nothing usable there (the message says how to get a model).
    """
    if spec is None:
        return default, _release_file(default), True
    path = pathlib.Path(spec)
    if path.is_dir():
        for candidate in (path / "model.onnx", path / "export" / "model.onnx"):
            if candidate.is_file():
                return str(spec), candidate, False
        raise errors.ZooError(f"--model {spec}: no model.onnx in this folder (give an export folder or a .onnx file)")
    if path.exists():
        return str(spec), path, False
    if str(spec) in RELEASE_MODELS:
        return str(spec), _release_file(str(spec)), True
    raise errors.ZooError(
        f"--model {spec}: no such file or folder (give a model.onnx, an export folder, or a release name: "
        f"{', '.join(RELEASE_MODELS)})"
    )


def _release_file(name):
    path = release_dir() / f"{name}.onnx"
    if not path.is_file():
        what = RELEASE_MODELS.get(name, name)
        raise errors.ZooError(f"no release {what} ({path} is missing): {HOW_TO_GET}")
    return path


def _card_file_for(path, release):
    """``(card dict, its path, whether the card hashes this very file)`` or None."""
    paired = path.with_name(path.name[: -len(".onnx")] + ".card.json") if path.name.endswith(".onnx") else None
    if paired is not None and paired.is_file():
        return _check_card(_read_json(paired), paired), paired, True
    shared = path.parent / "card.json"
    if not release and shared.is_file():
        card = _check_card(_read_json(shared), shared)
        quantized = (card.get("quantization") or {}).get("file")
        if card.get("onnx_file") == path.name:
            return card, shared, True
        if quantized == path.name:
            return card, shared, False
    return None


def _verify(path, card, card_path, hashes_this_file):
    """Check the file's SHA-256; return how it was verified (or why it could not be)."""
    if card_path is not None and hashes_this_file:
        expected, against = card.get("onnx_sha256"), card_path.name
    else:
        expected, against = _manifest_digest(path.parent, path.name), MANIFEST
    if not expected:
        return "not verified (no checksum for this file in a card or SHA256SUMS)"
    try:
        actual = sha256_of(path)
    except PermissionError:
        raise errors.ZooError(f"cannot read the model {path}: permission denied") from None
    except OSError as error:
        raise errors.ZooError(f"cannot read the model {path}: {error.strerror or error}") from None
    if actual != expected:
        raise errors.ZooError(
            f"the model {path} does not match its card: sha256 {actual[:12]}... but {against} says {expected[:12]}... "
            "(the file was changed or replaced; re-export it)"
        )
    return f"sha256 ok ({against})"


def load(spec, default=None, provider="auto", require=None, session=True, memory_pattern=True):
    """Find a model, read and check its card, verify its checksum, open its session.

    Args:
        spec: ``--model`` (see :func:`locate`), or None for the release model ``default``.
        default: the release name used when ``spec`` is None.
        provider: ``auto``, ``cuda`` or ``cpu`` (see :func:`open_session`).
        require: ``"clock"``, ``"image"`` or ``"classifier"``: refuse a model of another kind.
        session: open an onnxruntime session (False: card and checksum only).
        memory_pattern: see :func:`session_options` (zoo serve turns it off).

    Returns:
        ``(ServedModel, session or None)``.

    Raises:
        ZooError: missing, corrupt or mismatched model; wrong kind; unusable provider.

    Example:
        >>> model, session = load(None, default="clock", require="clock")  # doctest: +SKIP
        >>> model.card["decode"]["kind"], session.get_providers()[0]
        ('clock_hands', 'CPUExecutionProvider')
    """
    name, path, release = locate(spec, default)
    found = _card_file_for(path, release)
    card, card_path, hashes_this_file = found if found else (None, None, False)
    if card is not None:
        _check_kind(name, card, require)
    checksum = _verify(path, card, card_path, hashes_this_file)
    opened = open_session(path, provider, memory_pattern) if session or card is None else None
    if card is None:
        card = _check_card(_embedded_card(opened, path), f"{path} (metadata {CARD_KEY})")
        _check_kind(name, card, require)
        if not session:
            opened = None
    model = ServedModel(name, path, card, str(card_path) if card_path else "metadata", checksum, release)
    if opened is not None:
        _check_io(model, opened)
    return model, opened


def _embedded_card(session, path):
    metadata = session.get_modelmeta().custom_metadata_map
    if CARD_KEY not in metadata:
        raise errors.ZooError(
            f"the model {path} has no model card (no card.json beside it and no {CARD_KEY!r} in its metadata); "
            "export it with `zoo export`"
        )
    try:
        return json.loads(metadata[CARD_KEY])
    except json.JSONDecodeError:
        raise errors.ZooError(f"the model {path} holds a corrupt card in its metadata") from None


def is_image_classifier(card):
    """Whether a card describes an image classifier: decode kind ``argmax`` on an image input."""
    return (card.get("decode") or {}).get("kind") in CLASSIFIER_KINDS and bool(card.get("preprocessing"))


def _check_kind(name, card, require):
    if require is None:
        return
    kind = (card.get("decode") or {}).get("kind")
    if require == "clock" and (card.get("task") != "clock" or kind not in CLOCK_KINDS):
        raise errors.ZooError(
            f"--model {name} is a {card.get('task')} model ({card.get('entry')}, decode {kind!r}); "
            "predict-time needs a clock reader (task clock)"
        )
    if require == "clock" and (card.get("decode") or {}).get("confidence") is not None:
        from zoo.common import confidence

        confidence.check(card["decode"]["confidence"], f"{name}'s card")
    if require == "image" and kind not in IMAGE_KINDS:
        raise errors.ZooError(
            f"--model {name} is a {card.get('task')} model ({card.get('entry')}, decode {kind!r}); "
            "this command needs an image generator (decode kind 'image', input z)"
        )
    if require == "classifier" and not is_image_classifier(card):
        raise errors.ZooError(
            f"--model {name} is a {card.get('task')} model ({card.get('entry')}, decode {kind!r}); "
            "classify needs an image classifier (decode kind 'argmax', an image input)"
        )


def _check_io(model, session):
    """The session's inputs and outputs are the ones the card names."""
    inputs = {item.name for item in session.get_inputs()}
    outputs = {item.name for item in session.get_outputs()}
    for item in model.card.get("inputs") or []:
        if item.get("name") not in inputs:
            raise errors.ZooError(
                f"the model {model.path} has inputs {sorted(inputs)}, but its card names {item.get('name')!r}"
            )
    for item in model.card.get("outputs") or []:
        if item.get("name") not in outputs:
            raise errors.ZooError(
                f"the model {model.path} has outputs {sorted(outputs)}, but its card names {item.get('name')!r}"
            )


def cpu_threads():
    """The cores this process may run on (2 on the project's machine)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def session_options(memory_pattern=True):
    """onnxruntime options for a small CPU: every graph optimisation, one intra-op thread
    per available core, one inter-op thread (these graphs are chains), sequential execution.

    ``memory_pattern=False`` turns off onnxruntime's memory pattern (``enable_mem_pattern``),
    for zoo serve (issue #36). With it, from the second run of an input shape on, a run
    takes all its intermediate tensors as one block planned for that shape; the CPU
    arena, which keeps all it has grown to, cannot fit that block in the space the
    tensor-by-tensor first run left free and grows again (the release clock reader at
    batch 32: +36 MB on the first run, +38 MB more on the second). Without it the
    tensors come from the arena one by one and reuse its free space; under serve-bench's
    load the server's RSS levels off 25 to 35 MB lower.
    """
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    options.intra_op_num_threads = cpu_threads()
    options.inter_op_num_threads = 1
    options.enable_mem_pattern = memory_pattern
    # onnxruntime-gpu logs an error for every CUDA library it cannot load before it
    # falls back to the CPU; the fallback is reported (and refused for --provider cuda)
    # by open_session, so the log would only be noise on the user's terminal.
    options.log_severity_level = 4
    return options


def requested_providers(provider):
    """The providers to ask onnxruntime for under ``--provider``.

    Raises:
        ZooError: an unknown value, or ``cuda`` when this onnxruntime has no CUDA provider.
    """
    import onnxruntime

    if provider not in PROVIDERS:
        raise errors.ZooError(f"--provider must be one of {', '.join(PROVIDERS)}; received {provider!r}")
    available = onnxruntime.get_available_providers()
    if provider == "cpu":
        return [CPU]
    if provider == "cuda":
        if CUDA not in available:
            raise errors.ZooError(
                f"--provider cuda: this onnxruntime has no CUDA provider (it has {', '.join(available)}); "
                "install onnxruntime-gpu, or use --provider cpu"
            )
        return [CUDA, CPU]
    return [name for name in (CUDA, CPU) if name in available]


def open_session(path, provider="auto", memory_pattern=True):
    """An onnxruntime session on ``path`` with the providers ``provider`` asks for.

    onnxruntime falls back to the CPU silently when CUDA cannot start (onnxruntime-gpu
    lists CUDA as available even without a GPU or its libraries), so the provider
    actually used is ``session.get_providers()[0]``; under ``--provider cuda`` a
    fallback is an error. ``memory_pattern``: see :func:`session_options`.

    Raises:
        ZooError: the file is not a model onnxruntime can load, or CUDA was required
            and is not usable.
    """
    import onnxruntime

    onnxruntime.set_default_logger_severity(4)  # see session_options
    providers = requested_providers(provider)
    try:
        session = onnxruntime.InferenceSession(str(path), sess_options=session_options(memory_pattern),
                                               providers=providers)
    except Exception as error:  # onnxruntime raises its own Fail/InvalidProtobuf/... types
        message = errors.one_line(error, limit=None)
        if "Protobuf parsing failed" in message or "INVALID_PROTOBUF" in message:
            message = "not a valid ONNX file (corrupt or truncated)"
        raise errors.ZooError(f"cannot load the model {path}: {message[:240]}") from None
    used = session.get_providers()[0]
    if provider == "cuda" and used != CUDA:
        raise errors.ZooError(
            "--provider cuda: onnxruntime could not start CUDA here (no usable GPU, or its CUDA/cuDNN "
            f"libraries are missing) and would run on {used}; use --provider auto or cpu"
        )
    return session


def provider_used(session):
    """The execution provider a session actually runs on."""
    return session.get_providers()[0]


def listed_models(extra=()):
    """The release models present, then the models in ``extra`` and ``$ZOO_MODELS``.

    Returns:
        list of ``(ServedModel or None, spec, error or None)``: a model that cannot be
        read is listed with its error rather than hiding the others.
    """
    specs = [name for name in RELEASE_MODELS if (release_dir() / f"{name}.onnx").is_file()]
    configured = [part for part in os.environ.get(MODELS_ENV, "").split(os.pathsep) if part]
    specs += [str(spec) for spec in (*extra, *configured)]
    rows, seen = [], set()
    for spec in specs:
        try:
            model, _ = load(spec, session=False)
        except errors.ZooError as error:
            rows.append((None, spec, str(error)))
            continue
        key = os.path.realpath(model.path)
        if key not in seen:
            seen.add(key)
            rows.append((model, spec, None))
    return rows


def run_batch(session, model, batch):
    """Raw outputs for a float32 NHWC batch: ``{output name: array}``."""
    input_name = model.card["inputs"][0]["name"]
    names = [output.name for output in session.get_outputs()]
    return dict(zip(names, run_session(session, model, names, {input_name: batch})))


def run_session(session, model, names, feed):
    """``session.run``, with onnxruntime's failures (an input the card describes wrongly)
    as one-line errors."""
    try:
        return session.run(names, feed)
    except Exception as error:  # onnxruntime raises its own InvalidArgument/Fail types
        raise errors.ZooError(f"onnxruntime cannot run {model.name}: {errors.one_line(error, 240)}") from None
