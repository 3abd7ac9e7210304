"""Keras to ONNX and SavedModel, with the entry's tensor names and a dynamic batch axis.

Both formats are produced from one ``tf.function`` whose arguments are named
``tf.TensorSpec`` s (the entry's input names) and whose result is a dict keyed by
the entry's output names, so the names in the files are the signature's and never
Keras' automatic ``keras_tensor_N``. ``tf2onnx.convert.from_keras`` is not used: it
fails on Keras 3 models (DESIGN.md); ``from_function`` on the named function works.

TensorFlow, Keras and tf2onnx are imported inside the functions, so importing this
module (and ``zoo export --help``) stays cheap.
"""

import logging
import warnings

from zoo import errors

# tf2onnx 1.17 maps opsets up to 18 to an IR version; below 13 several ops the zoo's
# models use (Softmax on any axis, Resize modes) convert differently or not at all.
MIN_OPSET = 13
MAX_OPSET = 18
BATCH_AXIS_NAME = "batch"


def check_opset(opset):
    """Raise a ZooError unless ``opset`` is one this exporter supports.

    Example:
        >>> check_opset(17)
        17
    """
    if not isinstance(opset, int) or isinstance(opset, bool) or not MIN_OPSET <= opset <= MAX_OPSET:
        raise errors.ZooError(f"--opset must be an integer from {MIN_OPSET} to {MAX_OPSET}; received {opset!r}")
    return opset


def network_to_export(model, entry):
    """The network an entry exports: the model itself, or the deterministic
    sub-network its signature names (``generator``, ``decoder``).

    Raises:
        ZooError: the model lacks the sub-network, or its inputs do not match the signature.
    """
    attribute = entry.signature.export
    network = model if attribute is None else getattr(model, attribute, None)
    if network is None:
        # A sub-network nested as a named layer of a Functional model survives
        # saving and loading as a layer, not as an attribute.
        try:
            network = model.get_layer(attribute)
        except (ValueError, AttributeError):
            network = None
    if network is None:
        raise errors.ZooError(
            f"{entry.name}: the trained model has no {attribute!r} sub-network to export "
            f"(the entry's signature names it)"
        )
    inputs = getattr(network, "inputs", None)
    if not inputs or len(inputs) != len(entry.signature.inputs):
        count = len(inputs) if inputs else 0
        raise errors.ZooError(
            f"{entry.name}: the network to export has {count} inputs, the signature names "
            f"{len(entry.signature.inputs)} ({', '.join(entry.signature.inputs)})"
        )
    return network


def input_specs(network, signature):
    """Named float32 ``tf.TensorSpec`` s with a free batch axis, one per signature input."""
    import tensorflow as tf

    return [
        tf.TensorSpec([None, *tensor.shape[1:]], tf.float32, name=name)
        for name, tensor in zip(signature.inputs, network.inputs)
    ]


def outputs_by_name(outputs, signature):
    """A network's outputs as a dict keyed by the signature's output names.

    Functional zoo models already return dicts; a sub-network that returns a tensor
    (or a list) is mapped onto the signature's names in order.
    """
    if isinstance(outputs, dict):
        missing = [name for name in signature.outputs if name not in outputs]
        if missing:
            raise errors.ZooError(
                f"the network's outputs are {', '.join(sorted(outputs))}; the signature also names {', '.join(missing)}"
            )
        return {name: outputs[name] for name in signature.outputs}
    if not isinstance(outputs, (list, tuple)):
        outputs = [outputs]
    if len(outputs) != len(signature.outputs):
        raise errors.ZooError(
            f"the network has {len(outputs)} outputs; the signature names {len(signature.outputs)} "
            f"({', '.join(signature.outputs)})"
        )
    return dict(zip(signature.outputs, outputs))


def serving_function(network, signature):
    """A ``tf.function`` from named float32 inputs to a dict of named float32 outputs.

    Args:
        network: a Keras model (the whole model or the exported sub-network).
        signature: the entry's :class:`zoo.registry.Signature`.

    Returns:
        ``(function, specs)``: the traced function and its input specs.

    Example:
        >>> function, specs = serving_function(model, entry.signature)  # doctest: +SKIP
        >>> function(image=images)["probabilities"].shape
        TensorShape([32, 10])
    """
    import tensorflow as tf

    specs = input_specs(network, signature)

    def serve(*tensors):
        # Inference mode: dropout off, batch norm on its moving statistics.
        outputs = network(tensors[0] if len(tensors) == 1 else list(tensors), training=False)
        named = outputs_by_name(outputs, signature)
        # tf.identity names the graph's output nodes after the signature.
        return {name: tf.identity(tf.cast(value, tf.float32), name=name) for name, value in named.items()}

    return tf.function(serve, input_signature=specs), specs


def _quiet_tf2onnx():
    """tf2onnx logs every conversion step at INFO; keep its warnings and errors only."""
    for name in ("tf2onnx", "tf2onnx.tfonnx", "tf2onnx.optimizer", "tf2onnx.tf_utils", "tf2onnx.shape_inference"):
        logging.getLogger(name).setLevel(logging.ERROR)


def to_onnx(network, signature, opset):
    """Convert ``network`` to an ONNX ``ModelProto`` with the signature's names.

    The batch axis of every input and output is the symbolic dimension ``batch``
    (tf2onnx names unknown dimensions ``unk__N``).

    Args:
        network: the Keras model to convert.
        signature: the entry's signature (input and output names).
        opset: the ONNX opset (see :func:`check_opset`).

    Returns:
        ``onnx.ModelProto``.

    Raises:
        ZooError: the conversion failed (the message names the first failing op).
    """
    import tf2onnx

    try:
        # Keras' own ONNX export applies this patch: tf2onnx 1.17's constant folding
        # still uses ``np.object``, which numpy 2 removed.
        from keras.src.export.tf2onnx_lib import patch_tf2onnx

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # the patch's own probe of np.object
            patch_tf2onnx()
    except ImportError:
        pass
    _quiet_tf2onnx()
    function, specs = serving_function(network, signature)
    try:
        proto, _ = tf2onnx.convert.from_function(function, input_signature=specs, opset=check_opset(opset))
    except Exception as error:  # tf2onnx raises bare Exceptions and ValueErrors from deep inside.
        message = errors.one_line(error, 300)
        raise errors.ZooError(f"tf2onnx could not convert the model at opset {opset}: {message}") from error
    name_batch_axis(proto)
    order_outputs(proto, signature.outputs)
    rank_scalar_constants(proto)
    return proto


# Element-wise ops whose scalar constant operand :func:`rank_scalar_constants` reshapes.
_ELEMENTWISE = ("Add", "Sub", "Mul", "Div")


def rank_scalar_constants(proto):
    """Give each one-element constant operand of Add, Sub, Mul and Div the rank of
    the other operand, shape ``(1, ..., 1)``, in place; returns the number reshaped.

    Keras' ``Rescaling`` becomes ``Mul(image, 1/255)`` with a rank-0 constant.
    onnxruntime (1.31) broadcasts a rank-0 constant over an NHWC tensor whose last
    axis is 1 (grey images) element by element: 58 us for one 64x64 image and
    1.7 ms for 32 of them on this CPU, against 9 us once the constant has the
    image's rank. Broadcasting gives the same values and shapes either way.
    """
    import numpy as np
    import onnx
    from onnx import numpy_helper

    ranks = {}
    inferred = onnx.shape_inference.infer_shapes(proto)
    for value in [*inferred.graph.input, *inferred.graph.value_info, *inferred.graph.output]:
        if value.type.tensor_type.HasField("shape"):
            ranks[value.name] = len(value.type.tensor_type.shape.dim)
    initializers = {tensor.name: tensor for tensor in proto.graph.initializer}
    users = {}
    for node in proto.graph.node:
        for name in node.input:
            users[name] = users.get(name, 0) + 1
    changed = 0
    for node in proto.graph.node:
        if node.op_type not in _ELEMENTWISE or len(node.input) != 2:
            continue
        for position in (0, 1):
            constant, other = node.input[position], node.input[1 - position]
            tensor = initializers.get(constant)
            rank = ranks.get(other)
            if tensor is None or rank is None or len(tensor.dims) >= rank or int(np.prod(tensor.dims)) != 1:
                continue
            value = numpy_helper.to_array(tensor).reshape((1,) * rank)
            if users.get(constant, 0) > 1:  # shared: give this node its own copy
                name = f"{constant}__rank{rank}"
                if name not in initializers:
                    initializers[name] = numpy_helper.from_array(value, name)
                    proto.graph.initializer.append(initializers[name])
                node.input[position] = name
                users[constant] -= 1
            else:
                tensor.CopyFrom(numpy_helper.from_array(value, constant))
            changed += 1
    outputs = {value.name for value in proto.graph.output}
    unused = [t for t in proto.graph.initializer
              if users.get(t.name, 0) == 0 and t.name in users and t.name not in outputs]
    for tensor in unused:  # scalars whose every user now has its own copy
        proto.graph.initializer.remove(tensor)
    return changed


def order_outputs(proto, names):
    """Put the graph's outputs in the signature's order (tf2onnx sorts dict keys), so
    runtimes that index outputs by position see them as the card lists them."""
    position = {name: index for index, name in enumerate(names)}
    ordered = sorted(proto.graph.output, key=lambda value: position.get(value.name, len(position)))
    copies = [type(value)() for value in ordered]
    for copy, value in zip(copies, ordered):
        copy.CopyFrom(value)
    del proto.graph.output[:]
    proto.graph.output.extend(copies)
    return proto


def name_batch_axis(proto, name=BATCH_AXIS_NAME):
    """Give the first axis of every graph input and output the symbolic name ``name``."""
    for value in [*proto.graph.input, *proto.graph.output]:
        dims = value.type.tensor_type.shape.dim
        if dims and not dims[0].HasField("dim_value"):
            dims[0].dim_param = name
    return proto


def onnx_names(proto):
    """``(input names, output names)`` of an ONNX graph, initialisers excluded."""
    initializers = {tensor.name for tensor in proto.graph.initializer}
    inputs = [value.name for value in proto.graph.input if value.name not in initializers]
    return inputs, [value.name for value in proto.graph.output]


def onnx_shapes(proto):
    """``{name: [dim, ...]}`` of graph inputs and outputs; symbolic dims as their names."""
    shapes = {}
    for value in [*proto.graph.input, *proto.graph.output]:
        dims = []
        for dim in value.type.tensor_type.shape.dim:
            dims.append(dim.dim_value if dim.HasField("dim_value") else (dim.dim_param or None))
        shapes[value.name] = dims
    return shapes


def to_saved_model(network, signature, path):
    """Write ``network`` as a TensorFlow SavedModel with a named serving signature.

    The ``serving_default`` signature (also callable as the ``serve`` endpoint) takes
    the entry's inputs by name and returns a dict of its outputs.

    Args:
        network: the Keras model to write.
        signature: the entry's signature.
        path: the SavedModel folder to create.

    Example:
        >>> to_saved_model(model, entry.signature, "export/saved_model")  # doctest: +SKIP
        >>> tf.saved_model.load("export/saved_model").signatures["serving_default"](image=x)
    """
    import keras

    function, specs = serving_function(network, signature)
    archive = keras.export.ExportArchive()
    archive.track(network)
    archive.add_endpoint(name="serve", fn=function, input_signature=specs)
    archive.write_out(str(path), verbose=False)
