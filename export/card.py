"""The model card (``card.json``, schema ``zoo-card/1`` in docs/model-card.md), its copy in the
ONNX ``metadata_props``, and the SHA-256 manifest.

A runtime holding only ``model.onnx`` reads the card from the file's metadata: key
``zoo.card`` (the card as JSON, without ``onnx_sha256``, which cannot be inside the
file it hashes), plus the flat keys ``zoo.entry`` and ``zoo.task``. This module needs
only the standard library and ``onnx``.
"""

import datetime
import json
import pathlib
import subprocess

# The one streamed file hash, shared with serve (which checks what export writes).
from zoo.common.files import sha256_of  # noqa: F401 (also used as cards.sha256_of)

FORMAT = "zoo-card/1"
CARD_KEY = "zoo.card"
MANIFEST = "SHA256SUMS"
# The card's keys, in the order of the schema in docs/model-card.md.
FIELDS = (
    "format", "entry", "task", "version", "created", "source_commit", "opset", "onnx_file", "onnx_sha256",
    "inputs", "outputs", "preprocessing", "decode", "metrics", "training", "hparams", "parity", "quantization",
)


def source_commit(folder=None):
    """The git commit of the code that exports, or ``"unknown"`` outside a git checkout."""
    folder = pathlib.Path(folder or pathlib.Path(__file__).resolve().parents[1])
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True, timeout=10, check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    commit = result.stdout.strip()
    return commit if len(commit) == 40 else "unknown"


def now():
    """The current time, ISO 8601 with the UTC offset."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def preprocessing_for(input_shape, overrides=None):
    """What a caller does to an image before feeding it, for an NHWC image input.

    Every zoo model takes float32 pixels in [0, 255] and rescales inside its graph,
    so the caller only decodes, converts the colour and resizes.

    Args:
        input_shape: the input's shape, batch axis first (``[None, H, W, C]``).
        overrides: entry-specific keys (``crop``...) from the entry's ``describe``.

    Returns:
        dict, or None when the input is not an image (a generator's ``z``).
    """
    if len(input_shape) != 4:
        return None
    height, width, channels = input_shape[1:]
    facts = {
        "layout": "NHWC",
        "color": "grayscale" if channels == 1 else "rgb",
        "size": [int(height), int(width)],
        "resize": "bilinear",
        "crop": "none",
        "note": "pixels as float32 0..255; the graph rescales itself",
    }
    facts.update(overrides or {})
    return facts


def build(entry, *, opset, inputs, outputs, preprocessing, decode, metrics, training, hparams, parity,
          quantization, version, onnx_file="model.onnx", onnx_sha256=None, created=None, commit=None):
    """Assemble a card with exactly the schema's keys, in the schema's order.

    Returns:
        dict: the card (``onnx_sha256`` None until the final file is hashed).
    """
    card = {
        "format": FORMAT,
        "entry": entry.name,
        "task": entry.task,
        "version": version,
        "created": created or now(),
        "source_commit": commit or source_commit(),
        "opset": int(opset),
        "onnx_file": onnx_file,
        "onnx_sha256": onnx_sha256,
        "inputs": inputs,
        "outputs": outputs,
        "preprocessing": preprocessing,
        "decode": decode,
        "metrics": metrics,
        "training": training,
        "hparams": hparams,
        "parity": parity,
        "quantization": quantization,
    }
    assert tuple(card) == FIELDS
    return card


def to_json(data):
    """Stable JSON for cards: numpy scalars as Python numbers, 2-space indent."""
    return json.dumps(data, indent=2, default=_jsonable, allow_nan=False)


def _jsonable(value):
    try:
        return value.item()
    except AttributeError:
        if isinstance(value, pathlib.Path):
            return str(value)
        raise TypeError(f"not JSON serialisable: {type(value).__name__}") from None


def embedded(card):
    """The card as stored inside the ONNX file: everything but ``onnx_sha256``."""
    return {key: value for key, value in card.items() if key != "onnx_sha256"}


def embed(proto, card):
    """Write the card into an ONNX model's ``metadata_props`` (replacing zoo keys).

    Args:
        proto: ``onnx.ModelProto``, changed in place.
        card: the card dict.

    Returns:
        the same proto.

    Example:
        >>> embed(onnx.load("model.onnx"), card)  # doctest: +SKIP
    """
    kept = [(prop.key, prop.value) for prop in proto.metadata_props if not prop.key.startswith("zoo.")]
    del proto.metadata_props[:]
    for key, value in [
        *kept,
        (CARD_KEY, to_json(embedded(card))),
        ("zoo.entry", card["entry"]),
        ("zoo.task", card["task"]),
    ]:
        prop = proto.metadata_props.add()
        prop.key, prop.value = key, value
    proto.doc_string = f"zoo entry {card['entry']} ({card['task']}); the model card is in metadata_props['{CARD_KEY}']"
    return proto


def read_embedded(path):
    """The zoo metadata of an ONNX file: ``{key: value}`` with ``zoo.card`` parsed."""
    import onnx

    proto = onnx.load(str(path), load_external_data=False)
    props = {prop.key: prop.value for prop in proto.metadata_props}
    if CARD_KEY in props:
        props[CARD_KEY] = json.loads(props[CARD_KEY])
    return props


def write_manifest(folder):
    """Write ``SHA256SUMS`` over every file under ``folder`` (``sha256sum -c`` reads it).

    Returns:
        ``{relative path: hex digest}``.
    """
    folder = pathlib.Path(folder)
    digests = {
        file.relative_to(folder).as_posix(): sha256_of(file)
        for file in sorted(folder.rglob("*"))
        if file.is_file() and file.name != MANIFEST
    }
    # Two spaces: sha256sum's text-mode separator.
    (folder / MANIFEST).write_text("".join(f"{digest}  {name}\n" for name, digest in digests.items()))
    return digests


def verify_manifest(folder):
    """Check every line of ``folder/SHA256SUMS``; return the paths that do not match
    (missing files included). An empty list means the export is intact."""
    folder = pathlib.Path(folder)
    bad = []
    for line in (folder / MANIFEST).read_text().splitlines():
        digest, name = line.split("  ", 1)
        file = folder / name
        if not file.is_file() or sha256_of(file) != digest:
            bad.append(name)
    return bad
