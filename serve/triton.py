"""``zoo triton-repository``: the serve models as a Triton model repository.

For each model it writes ``OUT/NAME/config.pbtxt`` and ``OUT/NAME/1/model.onnx`` (a
copy), the layout NVIDIA Triton Inference Server and KServe's Triton runtime load,
on Triton's ONNX Runtime backend. The config's inputs and outputs (names, data types,
dims without the batch dimension) come from the ONNX session, which is what Triton
checks the config against; a dimension the graph leaves symbolic takes the model
card's size when the card has one. Models are named as ``zoo serve`` names them, so
``/v2/models/NAME/...`` is the same URL on both servers.

Importing this module imports click only; the command imports onnxruntime when it
runs, never TensorFlow or Keras.
"""

import pathlib
import shutil
import sys
import tempfile

import click

from zoo.common import commands
from zoo.common import files

# ONNX tensor element type -> Triton's DataType (model_config.proto).
TRITON_TYPES = {
    "tensor(float)": "TYPE_FP32", "tensor(double)": "TYPE_FP64", "tensor(float16)": "TYPE_FP16",
    "tensor(bfloat16)": "TYPE_BF16", "tensor(bool)": "TYPE_BOOL", "tensor(string)": "TYPE_STRING",
    "tensor(int8)": "TYPE_INT8", "tensor(int16)": "TYPE_INT16", "tensor(int32)": "TYPE_INT32",
    "tensor(int64)": "TYPE_INT64", "tensor(uint8)": "TYPE_UINT8", "tensor(uint16)": "TYPE_UINT16",
    "tensor(uint32)": "TYPE_UINT32", "tensor(uint64)": "TYPE_UINT64",
}
MAX_BATCH = 1024
MAX_DELAY_MS = 1000.0


def _quote(text):
    """A protobuf text-format string."""
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"') + '"'


def tensor_dims(onnx_shape, card_shape):
    """Each dimension as an int, -1 where neither the graph nor the card fixes it."""
    card_shape = list(card_shape or [])
    dims = []
    for index, size in enumerate(onnx_shape):
        if isinstance(size, int) and size >= 0:
            dims.append(size)
        elif index < len(card_shape) and isinstance(card_shape[index], int):
            dims.append(card_shape[index])
        else:
            dims.append(-1)
    return dims


def _tensors(items, card_items, model_name):
    """``[(name, Triton type, full dims)]`` of a session's inputs or outputs."""
    card_shapes = {item.get("name"): item.get("shape") for item in card_items or []}
    tensors = []
    for item in items:
        kind = TRITON_TYPES.get(item.type)
        if kind is None:
            from zoo import errors

            raise errors.ZooError(f"model {model_name}: {item.name!r} has the type {item.type}, which Triton's "
                                  f"ONNX Runtime backend does not take")
        tensors.append((item.name, kind, tensor_dims(item.shape, card_shapes.get(item.name))))
    return tensors


def model_config(name, inputs, outputs, max_batch, delay_us, instances=1):
    """The text of ``config.pbtxt`` (protobuf text format of Triton's ``ModelConfig``).

    Args:
        inputs, outputs: ``[(name, Triton type, full dims)]``, the batch dimension first.
        max_batch: ``max_batch_size`` when every tensor's first dimension is free;
            otherwise the model cannot batch and gets 0 with its full dims.
        delay_us: the dynamic batcher's ``max_queue_delay_microseconds``.
    """
    batching = max_batch > 0 and all(dims and dims[0] == -1 for _, _, dims in (*inputs, *outputs))

    def block(key, tensors):
        rows = []
        for tensor_name, kind, dims in tensors:
            shown = dims[1:] if batching else dims
            rows.append(f"  {{\n    name: {_quote(tensor_name)}\n    data_type: {kind}\n"
                        f"    dims: [ {', '.join(str(size) for size in shown)} ]\n  }}")
        return f"{key} [\n" + ",\n".join(rows) + "\n]\n"

    text = (f"# Written by `zoo triton-repository`: Triton's ONNX Runtime backend on the CPU.\n"
            f"name: {_quote(name)}\nplatform: \"onnxruntime_onnx\"\nbackend: \"onnxruntime\"\n"
            f"default_model_filename: \"model.onnx\"\nmax_batch_size: {max_batch if batching else 0}\n")
    text += block("input", inputs) + block("output", outputs)
    if batching:
        text += f"dynamic_batching {{\n  max_queue_delay_microseconds: {int(delay_us)}\n}}\n"
    text += f"instance_group [\n  {{\n    count: {int(instances)}\n    kind: KIND_CPU\n  }}\n]\n"
    return text


def _publish(partial, target, force):
    """Rename the finished folder ``partial`` to ``target``; with ``force`` the old one
    goes only once the new one is in place."""
    if target.exists() and not (target.is_dir() and not any(target.iterdir())) and not force:
        raise FileExistsError(target)
    files.publish_folder(partial, target)  # an empty folder is replaced too


@click.command("triton-repository", cls=commands.Command)
@click.option("--out", required=True, metavar="DIR", help="The model repository to write (created if missing).")
@click.option("--model", "specs", multiple=True, metavar="NAME|FILE",
              help="A model to put in (repeatable): a release name (clock, faces), a model.onnx or an export "
                   "folder, or NAME=PATH, as zoo serve takes them [default: every release model].")
@click.option("--max-batch", type=int, default=16, show_default=True,
              help="max_batch_size: most rows Triton's dynamic batcher puts in one run.")
@click.option("--batch-window-ms", type=float, default=5.0, show_default=True,
              help="max_queue_delay_microseconds, in milliseconds: how long a request waits for others.")
@click.option("--instances", type=int, default=1, show_default=True,
              help="Model instances on the CPU (instance_group count); each onnxruntime run uses every core.")
@click.option("--force", is_flag=True, help="Replace model folders that already hold files.")
def triton_repository(out, specs, max_batch, batch_window_ms, instances, force):
    """Write a Triton model repository: OUT/NAME/config.pbtxt and OUT/NAME/1/model.onnx.

    The config runs the model on Triton's ONNX Runtime backend (platform
    onnxruntime_onnx) on the CPU, with the dynamic batcher; inputs and outputs (data
    types, dims without the batch dimension) come from the ONNX graph and the card.
    Serve it with Triton (tritonserver --model-repository OUT) or a KServe
    InferenceService; the same Open Inference Protocol clients talk to it and to
    zoo serve (docs/deploy.md). Each model folder is written in a temporary folder
    and renamed into place; a folder that already holds files is kept unless --force.

    \b
    Examples:
      zoo triton-repository --out models/
      zoo triton-repository --out models/ --model clock --max-batch 32 --force
      zoo triton-repository --out models/ --model reader=artifacts/clock_polar/export
    """
    from serve import models
    from serve.http.app import named_models
    from zoo import errors

    if not 1 <= max_batch <= MAX_BATCH:
        raise errors.ZooError(f"--max-batch must be between 1 and {MAX_BATCH}; received {max_batch}")
    if not 0 <= batch_window_ms <= MAX_DELAY_MS:
        raise errors.ZooError(f"--batch-window-ms must be between 0 and {MAX_DELAY_MS:g}; received {batch_window_ms:g}")
    if not 1 <= instances <= 64:
        raise errors.ZooError(f"--instances must be between 1 and 64; received {instances}")
    root = pathlib.Path(out)
    if root.exists() and not root.is_dir():
        raise errors.ZooError(f"--out {out} is a file; give a folder for the repository")
    # Every model is opened and checked before anything is written.
    planned = {}
    for name, path in named_models(specs):
        target = root / name
        if target.exists() and not force and not (target.is_dir() and not any(target.iterdir())):
            raise errors.ZooError(f"{target} already holds files; give --force to replace it")
        model, session = models.load(path, provider="cpu")
        config = model_config(name, _tensors(session.get_inputs(), model.card.get("inputs"), name),
                              _tensors(session.get_outputs(), model.card.get("outputs"), name),
                              max_batch, round(batch_window_ms * 1000), instances)
        planned[name] = (model, target, config)

    try:
        root.mkdir(parents=True, exist_ok=True)
        for name, (model, target, config) in planned.items():
            partial = pathlib.Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".partial", dir=root))
            try:
                (partial / "1").mkdir()
                shutil.copyfile(model.path, partial / "1" / "model.onnx")
                (partial / "config.pbtxt").write_text(config)
                partial.chmod(0o755)
                _publish(partial, target, force)
            except BaseException:
                shutil.rmtree(partial, ignore_errors=True)
                raise
            size = model.path.stat().st_size / 1e6
            click.echo(f"wrote {target}/ (config.pbtxt, 1/model.onnx {size:.1f} MB: {model.entry}, "
                       f"{model.path.name})")
    except FileExistsError as error:
        raise errors.ZooError(f"{error.args[0]} already holds files; give --force to replace it") from None
    except OSError as error:
        message = (f"cannot write {error.filename}: {error.strerror}" if error.filename
                   else errors.one_line(error, limit=None))
        raise errors.ZooError(message) from None
    click.echo(f"serve it: tritonserver --model-repository {root.resolve()}")
    sys.stdout.flush()


COMMANDS = [triton_repository]
