"""Export: every registry entry exports through its gates; cards, manifests, failures,
the CLI, int8, and a second runtime (onnxruntime for Node.js).

Models are tiny (the entries' ``tiny`` overrides) and untrained unless a test needs
accuracy; data is generated (conftest). Exports are shared at module scope.
"""

import dataclasses
import json
import shutil
import subprocess

import numpy as np
import pytest

from conftest import assert_one_line_error, run_zoo
from export import card as cards
from export import convert, exporter, nodejs, parity
from zoo import registry, training

ENTRIES = registry.names()
# Generated data for the datasets the conftest can fake; other entries export with
# random parity inputs (their data loaders are tested by their own families).
DATA_FIXTURES = {"mnist": "mnist_npz", "fashion_mnist": "mnist_npz", "cifar10": "cifar_npz"}


def quiet(message):
    pass


def make_run(entry, folder, config=None):
    """A run folder holding an untrained tiny model, as `zoo train` would lay it out."""
    config = config or entry.resolve(entry.tiny)
    model = entry.build(config)
    folder.mkdir(parents=True, exist_ok=True)
    model.save(folder / "model.keras")
    (folder / "hparams.json").write_text(json.dumps(config, default=list))
    (folder / "metrics.json").write_text(json.dumps({"note": "untrained test model"}))
    (folder / "run.json").write_text(json.dumps({"entry": entry.name, "seed": 0, "epochs": 0}))
    return folder


def data_for(entry, request):
    fixture = DATA_FIXTURES.get(entry.dataset)
    return request.getfixturevalue(fixture) if fixture else False


@pytest.fixture(scope="module", params=ENTRIES)
def exported(request, tmp_path_factory):
    """Every entry, exported from a tiny run folder: (entry, run folder, export folder, card)."""
    entry = registry.get(request.param)
    root = tmp_path_factory.mktemp(entry.name)
    run = make_run(entry, root / "run")
    out = root / "export"
    card = exporter.export_entry(entry.name, run, out, data=data_for(entry, request), log=quiet)
    return entry, run, out, card


def network_of(run, entry):
    model, _ = training.load_run(run)
    return convert.network_to_export(model, entry)


def test_every_entry_passes_its_gates(exported):
    entry, run, out, card = exported
    assert sorted(path.name for path in out.iterdir()) == ["SHA256SUMS", "card.json", "model.onnx", "saved_model"]
    assert not list(out.parent.glob(".export.*")), "temporary folders left behind"
    assert card["parity"]["passed"] is True
    for runtime in ("onnx", "saved_model"):
        differences = card["parity"]["max_abs_diff"][runtime]
        assert set(differences) == set(entry.signature.outputs)
        assert all(0 <= value <= entry.signature.tolerance for value in differences.values())
    if entry.task == "classification":
        test_set = card["parity"]["test_set"]
        assert test_set["checked"] and test_set["examples"] > 0
        assert test_set["accuracy"]["onnx"] == pytest.approx(test_set["accuracy"]["keras"],
                                                             abs=test_set["ties"] / test_set["examples"])


def test_onnx_has_the_signature_names_and_a_dynamic_batch(exported):
    import onnx

    entry, run, out, card = exported
    proto = onnx.load(str(out / "model.onnx"))
    inputs, outputs = convert.onnx_names(proto)
    assert inputs == list(entry.signature.inputs)
    assert outputs == list(entry.signature.outputs)
    for value in [*proto.graph.input, *proto.graph.output]:
        dims = value.type.tensor_type.shape.dim
        assert dims[0].dim_param == "batch", value.name
        assert all(dim.HasField("dim_value") for dim in dims[1:]), value.name
        assert value.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    text = str(proto.graph.input) + str(proto.graph.output)
    assert "keras_tensor" not in text and "unk__" not in text
    random_ops = {"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial", "Dropout"}
    assert not random_ops & {node.op_type for node in proto.graph.node}


def test_card_schema_and_metadata_round_trip(exported):
    entry, run, out, card = exported
    on_disk = json.loads((out / "card.json").read_text())
    assert on_disk == json.loads(cards.to_json(card))
    assert tuple(on_disk) == cards.FIELDS
    assert on_disk["format"] == "zoo-card/1" and on_disk["entry"] == entry.name and on_disk["task"] == entry.task
    assert on_disk["opset"] == 17 and on_disk["onnx_file"] == "model.onnx"
    assert on_disk["onnx_sha256"] == cards.sha256_of(out / "model.onnx")
    assert len(on_disk["source_commit"]) == 40 or on_disk["source_commit"] == "unknown"
    assert [item["name"] for item in on_disk["inputs"]] == list(entry.signature.inputs)
    assert [item["name"] for item in on_disk["outputs"]] == list(entry.signature.outputs)
    for item in on_disk["inputs"] + on_disk["outputs"]:
        assert item["shape"][0] is None and all(isinstance(size, int) for size in item["shape"][1:])
        assert item["dtype"] == "float32"
    described = json.loads(json.dumps(entry.describe(entry, entry.resolve(entry.tiny))))
    moved = set(exporter.PREPROCESSING_KEYS) | {"preprocessing", "input_range"}
    assert on_disk["decode"] == {key: value for key, value in described.items() if key not in moved}
    assert "kind" in on_disk["decode"]
    for key in exporter.PREPROCESSING_KEYS:
        if key in described:
            assert on_disk["preprocessing"][key] == described[key]
    assert on_disk["hparams"] == json.loads((run / "hparams.json").read_text())
    assert on_disk["training"]["entry"] == entry.name
    if on_disk["inputs"][0]["range"] == [0, 255]:
        size = on_disk["inputs"][0]["shape"][1:3]
        assert on_disk["preprocessing"]["size"] == size and on_disk["preprocessing"]["layout"] == "NHWC"
    embedded = cards.read_embedded(out / "model.onnx")
    assert embedded["zoo.card"] == {key: value for key, value in on_disk.items() if key != "onnx_sha256"}
    assert embedded["zoo.entry"] == entry.name and embedded["zoo.task"] == entry.task


def test_manifest_verifies_with_sha256sum(exported, tmp_path):
    entry, run, out, card = exported
    listed = [line.split("  ", 1)[1] for line in (out / "SHA256SUMS").read_text().splitlines()]
    on_disk = sorted(path.relative_to(out).as_posix() for path in out.rglob("*") if path.is_file())
    assert sorted(listed + ["SHA256SUMS"]) == on_disk
    if shutil.which("sha256sum"):
        result = subprocess.run(["sha256sum", "--check", "--quiet", "SHA256SUMS"], cwd=out, capture_output=True,
                                text=True)
        assert result.returncode == 0, result.stdout + result.stderr
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    assert cards.verify_manifest(copy) == []
    with open(copy / "model.onnx", "ab") as file:
        file.write(b"\0")
    assert cards.verify_manifest(copy) == ["model.onnx"]


def test_saved_model_serving_signature(exported):
    entry, run, out, card = exported
    signature = parity.load_saved_model(out / "saved_model")
    assert set(signature.structured_input_signature[1]) == set(entry.signature.inputs)
    assert set(signature.structured_outputs) == set(entry.signature.outputs)


def test_node_runtime_matches_keras(exported):
    reason = nodejs.available()
    if reason:
        pytest.skip(reason)
    entry, run, out, card = exported
    network = network_of(run, entry)
    rng = np.random.default_rng(3)
    for batch in (1, 5):
        inputs = {
            item["name"]: (
                rng.uniform(0, 255, (batch, *item["shape"][1:])) if item["range"]
                else rng.standard_normal((batch, *item["shape"][1:]))
            ).astype(np.float32)
            for item in card["inputs"]
        }
        expected = parity.run_keras(network, entry.signature, inputs)
        outputs, report = nodejs.run(out / "model.onnx", inputs)
        assert report["runtime"] == "onnxruntime-node"
        assert report["inputMetadata"][0]["shape"][0] == "batch"
        for name in entry.signature.outputs:
            assert outputs[name].shape == expected[name].shape
            np.testing.assert_allclose(outputs[name], expected[name], atol=entry.signature.tolerance, rtol=0)


# ----------------------------------------------------------------------------- failures


def corrupt_first_weight(original):
    """Wrap convert.to_onnx so the exported graph computes something else."""

    def to_onnx(network, signature, opset):
        import onnx.numpy_helper

        proto = original(network, signature, opset)
        weights = max(proto.graph.initializer, key=lambda tensor: int(np.prod(tensor.dims)))
        array = onnx.numpy_helper.to_array(weights) * 1.5 + 0.1
        weights.CopyFrom(onnx.numpy_helper.from_array(array.astype(np.float32), weights.name))
        return proto

    return to_onnx


@pytest.fixture(scope="module")
def mnist_run(tmp_path_factory):
    entry = registry.get("mnist_cnn")
    return make_run(entry, tmp_path_factory.mktemp("mnist_cnn") / "run")


def test_failed_parity_gate_leaves_nothing(mnist_run, mnist_npz, tmp_path, monkeypatch):
    monkeypatch.setattr(convert, "to_onnx", corrupt_first_weight(convert.to_onnx))
    out = tmp_path / "new" / "export"
    with pytest.raises(parity.GateError,
                       match=r"output 'probabilities' of onnx differs from Keras by [0-9.e+-]+ at batch 1"):
        exporter.export_entry("mnist_cnn", mnist_run, out, data=mnist_npz, log=quiet)
    assert not out.exists() and not (tmp_path / "new").exists()


def test_failed_gate_keeps_the_previous_export(mnist_run, mnist_npz, tmp_path, monkeypatch):
    out = tmp_path / "export"
    exporter.export_entry("mnist_cnn", mnist_run, out, data=mnist_npz, log=quiet)
    before = (out / "SHA256SUMS").read_text()
    monkeypatch.setattr(convert, "to_onnx", corrupt_first_weight(convert.to_onnx))
    with pytest.raises(parity.GateError, match="tolerance 0.0001"):
        exporter.export_entry("mnist_cnn", mnist_run, out, data=mnist_npz, log=quiet)
    assert (out / "SHA256SUMS").read_text() == before and cards.verify_manifest(out) == []
    assert sorted(path.name for path in tmp_path.iterdir()) == ["export"]


def test_wrong_entry_for_the_run_is_refused(mnist_run, tmp_path):
    from zoo import errors

    with pytest.raises(errors.ZooError, match="holds a model of entry 'mnist_cnn', not 'mnist_mlp'"):
        exporter.export_entry("mnist_mlp", mnist_run, tmp_path / "out", data=False, log=quiet)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "args, fragments",
    [
        (["export", "no_such_entry", "--model", "{run}"], ["unknown entry 'no_such_entry'"]),
        (["export", "mnist_cnn", "--model", "/nonexistent/run"], ["no model at /nonexistent/run"]),
        (["export", "mnist_cnn", "--model", "{run}", "--opset", "99"], ["--opset", "99"]),
        (["export", "mnist_cnn", "--model", "{run}", "--data", "/nonexistent.npz"],
         ["--data /nonexistent.npz does not exist"]),
        (["export", "mnist_cnn", "--model", "{run}", "--data", "x.npz", "--no-data"], ["--data or --no-data"]),
    ],
    ids=["unknown-entry", "missing-model", "bad-opset", "missing-data", "data-and-no-data"],
)
def test_cli_errors_are_one_line(args, fragments, mnist_run, tmp_path):
    out = tmp_path / "out"
    args = [arg.format(run=mnist_run) for arg in args] + ["--out", str(out)]
    assert_one_line_error(run_zoo(*args), *fragments)
    assert not out.exists()


def invoke_in_process(*args):
    """Run ``zoo ARGS`` in this process (monkeypatches apply), as a CompletedProcess-like result."""
    import types

    from click.testing import CliRunner

    from zoo import cli

    result = CliRunner().invoke(cli.cli, [str(arg) for arg in args], prog_name="zoo")
    return types.SimpleNamespace(returncode=result.exit_code, stdout=result.stdout, stderr=result.stderr)


def test_cli_gate_failure_is_one_line_exit_1(mnist_run, tmp_path, monkeypatch):
    """A corrupt ONNX graph through the CLI: one line naming the output, exit 1, nothing written."""
    monkeypatch.setattr(convert, "to_onnx", corrupt_first_weight(convert.to_onnx))
    out = tmp_path / "out"
    result = invoke_in_process("export", "mnist_cnn", "--model", mnist_run, "--out", out, "--no-data")
    assert_one_line_error(result, "output 'probabilities' of onnx differs from Keras", code=1)
    assert not out.exists()


def test_cli_export_without_data_says_so(mnist_run, tmp_path):
    out = tmp_path / "out"
    result = invoke_in_process("export", "mnist_cnn", "--model", mnist_run, "--out", out, "--no-data")
    assert result.returncode == 0, result.stderr
    assert "no test data (data disabled by the caller)" in result.stdout
    assert "test-set class check is skipped" in result.stdout
    card = json.loads((out / "card.json").read_text())
    assert card["parity"]["data"]["found"] is False
    assert card["parity"]["test_set"] == {"checked": False, "reason": "no test data: data disabled by the caller"}


# ----------------------------------------------------------------------------- sub-networks


@pytest.fixture(scope="module")
def autoencoder_entry():
    """A temporary generation entry whose signature exports its nested ``decoder``."""
    import keras

    def tiny_autoencoder(name, latent_dim=4):
        """An autoencoder whose decoder maps z to 8x8 grayscale images in [0, 1]."""
        z = keras.Input(shape=(latent_dim,), name="z")
        x = keras.layers.Dense(4 * 4 * 2, activation="relu")(z)
        x = keras.layers.Reshape((4, 4, 2))(x)
        x = keras.layers.Conv2DTranspose(1, 3, strides=2, padding="same", activation="sigmoid")(x)
        decoder = keras.Model(z, x, name="decoder")
        images = keras.Input(shape=(8, 8, 1), name="image")
        code = keras.layers.Dense(latent_dim)(keras.layers.Flatten()(images))
        model = keras.Model(images, {"image": decoder(code)}, name=name)
        model.compile(optimizer="adam", loss="mse")
        return model

    def describe(entry, config):
        return {"kind": "image", "input": "z", "latent_dim": config["latent_dim"], "output": "image",
                "output_range": [0, 1], "prior": "standard_normal"}

    registry.register(
        name="test_autoencoder", task="generation", dataset="celeba", data=None, evaluate=None,
        defaults=dict(latent_dim=4), fit=dict(epochs=1, batch_size=8), describe=describe,
        signature=registry.Signature(inputs=("z",), outputs=("image",), export="decoder", tolerance=1e-3),
    )(tiny_autoencoder)
    try:
        yield registry.get("test_autoencoder")
    finally:
        registry._ENTRIES.pop("test_autoencoder", None)


def test_sub_network_exports_with_z_input(autoencoder_entry, tmp_path):
    run = make_run(autoencoder_entry, tmp_path / "run")
    card = exporter.export_entry("test_autoencoder", run, tmp_path / "export", log=quiet)
    assert card["inputs"] == [{"name": "z", "shape": [None, 4], "dtype": "float32", "range": None}]
    assert card["outputs"] == [{"name": "image", "shape": [None, 8, 8, 1], "dtype": "float32"}]
    assert card["preprocessing"] is None and card["decode"]["prior"] == "standard_normal"
    assert card["parity"]["data"]["inputs"].startswith("standard normal")
    session = parity.onnx_session(tmp_path / "export" / "model.onnx")
    z = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    images = parity.run_onnx(session, {"z": z})["image"]
    assert images.shape == (3, 8, 8, 1) and 0 <= images.min() and images.max() <= 1
    decoder = keras_model(run).get_layer("decoder")
    np.testing.assert_allclose(images, np.asarray(decoder(z)), atol=1e-5)


def test_sub_network_int8_is_judged_by_output_error(autoencoder_entry, tmp_path):
    run = make_run(autoencoder_entry, tmp_path / "run")
    card = exporter.export_entry(
        "test_autoencoder", run, tmp_path / "export", quantize="int8", max_output_error=1000.0, min_speedup=0.0,
        log=quiet,
    )
    section = card["quantization"]
    # z inputs calibrate on the standard normal prior: no dataset needed.
    assert section["calibration_examples"] > 0 and section["kept"] is True
    assert section["metric"] == "output_error" and 0 <= section["value"] <= 1000.0
    for candidate in section["candidates"]:
        assert "error" not in candidate, candidate
        assert set(candidate["error_by_output"]) == {"image"}
        assert candidate["evaluator"]["int8"] == {"feasible": False, "reason": "no test data"}
    assert (tmp_path / "export" / "model.int8.onnx").exists()


def keras_model(run):
    model, _ = training.load_run(run)
    return model


def test_missing_sub_network_is_an_error(autoencoder_entry, tmp_path, monkeypatch):
    from zoo import errors

    run = make_run(autoencoder_entry, tmp_path / "run")
    broken = dataclasses.replace(
        autoencoder_entry, signature=dataclasses.replace(autoencoder_entry.signature, export="generator"),
    )
    monkeypatch.setitem(registry._ENTRIES, "test_autoencoder", broken)
    with pytest.raises(errors.ZooError, match="no 'generator' sub-network"):
        exporter.export_entry("test_autoencoder", run, tmp_path / "export", log=quiet)


# ----------------------------------------------------------------------------- int8


@pytest.fixture(scope="module")
def trained_mlp(mnist_npz, tmp_path_factory):
    """A small MNIST-shaped MLP trained for two epochs on the generated digits."""
    out = tmp_path_factory.mktemp("int8") / "mnist_mlp"
    training.train(
        "mnist_mlp", data=mnist_npz, epochs=2, overrides={"units": 32, "learning_rate": 0.003}, out=out,
        verbose=0, plots=False,
    )
    return out


def test_int8_is_measured_and_kept_within_the_threshold(trained_mlp, mnist_npz, tmp_path):
    out = tmp_path / "export"
    card = exporter.export_entry(
        "mnist_mlp", trained_mlp, out, data=mnist_npz, quantize="int8", max_accuracy_drop=100.0, min_speedup=0.0,
        log=quiet,
    )
    section = card["quantization"]
    assert section["kept"] is True and section["file"] == "model.int8.onnx"
    assert section["metric"] == "test_accuracy" and section["unit"] == "points"
    assert {candidate["method"] for candidate in section["candidates"]} == {"static", "static-qdq", "dynamic"}
    # The kept one is the fastest of the accurate enough candidates.
    assert section["speedup"] == max(candidate["speedup"] for candidate in section["candidates"])
    batched = section["batch_latency"]  # and its speed at the parity batch, as batched serving sees it
    assert batched["batch"] == max(parity.BATCH_SIZES) and batched["ms"]["float32"] > 0 and batched["ms"]["int8"] > 0
    assert batched["speedup"] == pytest.approx(batched["ms"]["float32"] / batched["ms"]["int8"], rel=1e-2)
    for candidate in section["candidates"]:
        assert "error" not in candidate, candidate
        assert candidate["latency_ms_p50"]["float32"] > 0 and candidate["latency_ms_p50"]["int8"] > 0
        assert candidate["change"] == pytest.approx((candidate["value"] - candidate["float"]) * 100, abs=1e-3)
    # The recorded figures are the int8 file's: score it again independently.
    import onnx

    int8 = onnx.load(str(out / "model.int8.onnx"))
    assert {node.op_type for node in int8.graph.node} & {"QuantizeLinear", "DynamicQuantizeLinear", "MatMulInteger",
                                                         "QLinearMatMul"}
    with np.load(mnist_npz) as data:
        images, labels = data["x_test"][..., None].astype(np.float32), data["y_test"]
    probabilities = parity.run_onnx(parity.onnx_session(out / "model.int8.onnx"), {"image": images})["probabilities"]
    assert float(np.mean(probabilities.argmax(axis=1) == labels)) == pytest.approx(section["value"], abs=1e-9)
    assert section["float"] == pytest.approx(card["parity"]["test_set"]["accuracy"]["onnx"], abs=1e-9)
    assert cards.read_embedded(out / "model.int8.onnx")["zoo.card"]["quantization"]["kept"] is True
    assert "model.int8.onnx" in (out / "SHA256SUMS").read_text()


def test_int8_dropped_when_over_the_threshold_says_so_and_exits_0(trained_mlp, mnist_npz, tmp_path):
    out = tmp_path / "export"
    result = run_zoo(
        "export", "mnist_mlp", "--model", trained_mlp, "--out", out, "--data", mnist_npz, "--quantize", "int8",
        "--quantize-method", "dynamic", "--max-accuracy-drop", "-1",
    )
    assert result.returncode == 0, result.stderr
    dropped = [line for line in result.stdout.splitlines() if "int8 dropped" in line]
    assert len(dropped) == 1 and "a drop of at most -1 is allowed" in dropped[0]
    assert not (out / "model.int8.onnx").exists()
    section = json.loads((out / "card.json").read_text())["quantization"]
    assert section["kept"] is False and section["file"] is None
    assert "dynamic:" in section["reason"] and section["candidates"][0]["within"] is False


def test_int8_slower_than_required_is_dropped_with_its_speed(trained_mlp, mnist_npz, tmp_path):
    out = tmp_path / "export"
    card = exporter.export_entry(
        "mnist_mlp", trained_mlp, out, data=mnist_npz, quantize="int8", quantize_method="static",
        max_accuracy_drop=100.0, min_speedup=1000.0, log=quiet,
    )
    section = card["quantization"]
    assert section["kept"] is False and section["min_speedup"] == 1000.0
    assert "at least 1000x is required" in section["reason"]
    assert section["candidates"][0]["within"] is True and section["candidates"][0]["fast_enough"] is False
    assert not (out / "model.int8.onnx").exists()


def test_static_int8_quantises_only_matmul_conv_and_gemm(trained_mlp, mnist_npz, tmp_path):
    import onnx

    out = tmp_path / "export"
    exporter.export_entry(
        "mnist_mlp", trained_mlp, out, data=mnist_npz, quantize="int8", quantize_method="static",
        max_accuracy_drop=100.0, min_speedup=0.0, log=quiet,
    )
    ops = {node.op_type for node in onnx.load(str(out / "model.int8.onnx")).graph.node}
    assert ops & {"QLinearMatMul", "QGemm"} and "QuantizeLinear" in ops
    assert not ops & {"QLinearAdd", "QLinearMul", "QLinearSoftmax", "QLinearSigmoid"}
    assert "Relu" not in ops  # folded into the quantised range, not dequantised around


def test_int8_without_data_is_not_made(mnist_run, tmp_path):
    card = exporter.export_entry("mnist_cnn", mnist_run, tmp_path / "export", data=False, quantize="int8", log=quiet)
    assert card["quantization"]["kept"] is False
    assert "no training data to calibrate on" in card["quantization"]["reason"]
    assert not (tmp_path / "export" / "model.int8.onnx").exists()


def test_image_convolutions_stay_float(tmp_path):
    """Convolutions over raw pixels (1 or 3 channels) are left out of static int8."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from export import quantize

    weights = [numpy_helper.from_array(np.zeros(shape, np.float32), name) for name, shape in
               (("w_image", (8, 1, 3, 3)), ("w_hidden", (8, 8, 3, 3)))]
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w_image"], ["h"], name="first"),
         helper.make_node("Conv", ["h", "w_hidden"], ["y"], name="second")],
        "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], initializer=weights,
    )
    path = tmp_path / "two_convs.onnx"
    onnx.save(helper.make_model(graph), str(path))
    assert quantize.image_convolutions(path) == ["first"]


def test_scalar_constants_take_the_rank_of_their_operand():
    """Rank-0 constants of element-wise ops are reshaped to (1, ..., 1): same values,
    and no slow per-element broadcast in onnxruntime (convert.rank_scalar_constants)."""
    import onnx
    import onnxruntime
    from onnx import TensorProto, helper, numpy_helper

    scale = numpy_helper.from_array(np.array(1 / 255, np.float32), "scale")
    shift = numpy_helper.from_array(np.array(0.5, np.float32), "shift")  # shared by a rank-4 and a rank-2 Add
    graph = helper.make_graph(
        [
            helper.make_node("Mul", ["image", "scale"], ["scaled"]),
            helper.make_node("Add", ["shift", "scaled"], ["out4"]),
            helper.make_node("Add", ["vector", "shift"], ["out2"]),
            helper.make_node("Div", ["vector", "vector"], ["ratio"]),  # no constant: untouched
        ],
        "g",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 4, 4, 1]),
         helper.make_tensor_value_info("vector", TensorProto.FLOAT, ["batch", 3])],
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)
         for name, shape in (("out4", ["batch", 4, 4, 1]), ("out2", ["batch", 3]), ("ratio", ["batch", 3]))],
        [scale, shift],
    )
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    proto.ir_version = 8
    feed = {"image": np.random.default_rng(0).uniform(0, 255, (2, 4, 4, 1)).astype(np.float32),
            "vector": np.arange(1, 7, dtype=np.float32).reshape(2, 3)}
    before = onnxruntime.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, feed)

    assert convert.rank_scalar_constants(proto) == 3
    onnx.checker.check_model(proto, full_check=True)
    shapes = {tensor.name: list(tensor.dims) for tensor in proto.graph.initializer}
    assert shapes == {"scale": [1, 1, 1, 1], "shift__rank4": [1, 1, 1, 1], "shift": [1, 1]}
    after = onnxruntime.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, feed)
    for old, new in zip(before, after):
        assert old.shape == new.shape
        np.testing.assert_array_equal(old, new)
    assert convert.rank_scalar_constants(proto) == 0  # idempotent


def test_exported_graphs_have_no_rank_0_elementwise_constants(exported):
    import onnx
    from onnx import numpy_helper

    entry, run, out, card = exported
    proto = onnx.load(str(out / "model.onnx"))
    scalars = {tensor.name for tensor in proto.graph.initializer if len(numpy_helper.to_array(tensor).shape) == 0}
    offenders = [node.name for node in proto.graph.node
                 if node.op_type in ("Add", "Sub", "Mul", "Div") and scalars & set(node.input)]
    assert not offenders
