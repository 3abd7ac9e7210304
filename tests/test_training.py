"""Training through the real CLI on tiny generated data: files, metrics, errors."""

import json
import pathlib

import pytest

from conftest import assert_one_line_error, run_zoo
from zoo import training


def test_jit_policy_is_off_on_cpu():
    assert training.resolve_jit("auto") is training.gpu_available()
    assert training.resolve_jit("on") is True and training.resolve_jit("off") is False


def test_precision_policy():
    assert training.resolve_precision("float32") == "float32"
    assert training.resolve_precision("mixed_bfloat16") == "mixed_bfloat16"
    expected = "mixed_bfloat16" if training.cpu_has_bfloat16() and not training.gpu_available() else "float32"
    assert training.resolve_precision("auto") == expected
    with pytest.raises(training.errors.ZooError, match="--precision must be one of"):
        training.resolve_precision("float16")


def test_mixed_precision_run_saves_a_float32_model_with_the_trained_weights(mnist_npz, tmp_path):
    out = tmp_path / "run"
    result = run_zoo(
        "train", "mnist_mlp", "--data", mnist_npz, "--epochs", "2", "--hp", "units=32", "--hp", "learning_rate=0.003",
        "--precision", "mixed_bfloat16", "--out", out, "--quiet",
    )
    assert result.returncode == 0, result.stderr
    assert json.loads((out / "run.json").read_text())["precision"] == "mixed_bfloat16"
    import keras

    model = keras.saving.load_model(out / "model.keras")
    assert {layer.dtype_policy.name for layer in model.layers} == {"float32"}
    # The trained weights, not a fresh float32 build's: the squares are learnt.
    assert json.loads((out / "metrics.json").read_text())["test_accuracy"] > 0.5


def test_training_shows_each_step_unless_quiet(mnist_npz, tmp_path, capsys, monkeypatch):
    import re

    from zoo import progress, registry

    # Off a terminal a line is written at each tenth of an epoch once some seconds have
    # passed since the last; without the wait a tiny run writes every one.
    showing = progress.callback
    monkeypatch.setattr(progress, "callback", lambda verbose, **options: showing(verbose, line_seconds=0, **options))
    tiny = registry.get("mnist_mlp").tiny  # 540 training images in batches of 128: 4 steps
    training.train("mnist_mlp", data=mnist_npz, epochs=1, overrides=tiny, out=tmp_path / "run", plots=False)
    shown = capsys.readouterr().out
    steps = re.findall(r"^epoch 1/1: (\d)/4 steps \(\d+%\) \[.*, loss [\d.]+, .*samples/s\]$", shown, re.M)
    assert steps == ["1", "2", "3"]  # the epoch line reports the last
    assert re.search(r"^epoch 1/1: loss [\d.]+, accuracy [\d.]+, val_loss [\d.]+, val_accuracy [\d.]+, [\d.]+ s$",
                     shown, re.M)
    assert "\r" not in shown and "\u2501" not in shown  # neither tqdm's redraws nor Keras' own bar

    quiet = run_zoo("train", "mnist_mlp", "--data", mnist_npz, "--epochs", "1", "--hp", "units=16",
                    "--out", tmp_path / "quiet", "--quiet")
    assert quiet.returncode == 0, quiet.stderr
    assert "steps" not in quiet.stdout and re.search(r"^epoch 1/1: loss ", quiet.stdout, re.M)


@pytest.mark.parametrize("schedule", ["onecycle", "triangular", "cosine"])
def test_schedules_start_and_end_sensibly(schedule):
    values = [training.learning_rate_factor(schedule, step / 100) for step in range(101)]
    assert max(values) == pytest.approx(1.0, abs=0.02)
    assert values[-1] == pytest.approx(0.0, abs=1e-9)
    assert all(0.0 <= value <= 1.0 for value in values)


def test_train_and_evaluate_through_cli(mnist_npz, tmp_path):
    out = tmp_path / "run"
    result = run_zoo(
        "train", "mnist_mlp", "--data", mnist_npz, "--epochs", "2", "--hp", "units=32", "--hp", "learning_rate=0.003",
        "--out", out, "--quiet",
    )
    assert result.returncode == 0, result.stderr
    for name in ("model.keras", "hparams.json", "history.json", "metrics.json", "run.json", "learning_curves.png"):
        assert (out / name).exists(), name
    assert (out / "logs").is_dir()
    assert not out.with_name("run.partial").exists()
    hparams = json.loads((out / "hparams.json").read_text())
    assert hparams["units"] == 32 and hparams["epochs"] == 2 and hparams["learning_rate"] == 0.003
    run = json.loads((out / "run.json").read_text())
    assert run["jit_compile"] is False and run["samples_per_second"] > 0
    metrics = json.loads((out / "metrics.json").read_text())
    # The generated classes are a bright square at a fixed place: learnable in two epochs.
    assert metrics["test_accuracy"] > 0.5
    history = json.loads((out / "history.json").read_text())
    assert len(history["loss"]) == 2 and "val_accuracy" in history

    evaluated = run_zoo("evaluate", "mnist_mlp", "--model", out, "--data", mnist_npz, "--json")
    assert evaluated.returncode == 0, evaluated.stderr
    assert json.loads(evaluated.stdout)["test_accuracy"] == pytest.approx(metrics["test_accuracy"], abs=1e-6)


def test_patch_whitening_is_adapted_before_training(cifar_npz, tmp_path):
    run = training.train(
        "cifar10_airbench", data=cifar_npz, epochs=1, overrides={"widths": (4, 8, 8), "batch_size": 64},
        out=tmp_path / "air", verbose=0, plots=False,
    )
    import keras
    import numpy as np

    model = keras.saving.load_model(tmp_path / "air" / "model.keras")
    layer = model.get_layer("whiten")
    assert layer.is_adapted
    kernel = np.asarray(layer.kernel)
    # Whitening filters come in +/- pairs.
    np.testing.assert_allclose(kernel[..., :12], -kernel[..., 12:], atol=1e-6)
    assert {"test_accuracy_flip", "test_accuracy_tta"} <= set(run["metrics"])


def test_airbench_layers_whiten_patches_and_start_as_identities():
    import keras
    import numpy as np

    from zoo import classifiers

    # Correlated colour images: after adapting, the whitened patches are centred, with
    # (nearly) unit variance in every direction but the least-varying few (epsilon).
    rng = np.random.default_rng(0)
    base = rng.uniform(0, 1, (400, 8, 8, 1))
    images = np.concatenate([base, 0.8 * base + 0.2 * rng.uniform(0, 1, base.shape), 1 - base], axis=-1) + 0.3
    layer = classifiers.PatchWhitening(epsilon=1e-6)
    layer.build(images.shape)
    layer.adapt(images.astype("float32"))
    whitened = np.asarray(layer(images.astype("float32")))[..., :12].reshape(-1, 12)
    assert np.abs(whitened.mean(axis=0)).max() < 0.05
    variances = np.sort(np.diag(np.cov(whitened.T)))
    assert np.all(np.abs(variances[-8:] - 1) < 0.05)
    # A convolution whose kernel starts as PartialIdentity passes its input through on
    # its first input-many channels.
    x = rng.standard_normal((2, 6, 6, 4)).astype("float32")
    conv = keras.layers.Conv2D(6, 3, padding="same", use_bias=False, kernel_initializer=classifiers.PartialIdentity())
    np.testing.assert_allclose(np.asarray(conv(x))[..., :4], x, atol=1e-6)
    assert np.abs(np.asarray(conv.kernel)[..., 4:]).max() <= 1 / np.sqrt(9 * 4)


@pytest.mark.parametrize(
    "args, fragments",
    [
        (["train", "no_such_entry"], ["unknown entry"]),
        (["train", "mnist_mlp", "--hp", "nope=1"], ["unknown hyperparameter 'nope'"]),
        (["train", "mnist_mlp", "--hp", "units=big"], ["expects int"]),
        (["train", "mnist_mlp", "--epochs", "0"], ["--epochs"]),
        (["evaluate", "mnist_mlp", "--model", "/nonexistent/run"], ["no model"]),
    ],
)
def test_cli_usage_errors_are_one_line(args, fragments, mnist_npz):
    if args[0] == "train":
        args = [*args, "--data", str(mnist_npz)]
    assert_one_line_error(run_zoo(*args), *fragments)


def test_list_json():
    result = run_zoo("list", "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    names = {row["name"] for row in rows}
    assert {"mnist_mlp", "mnist_cnn", "cifar10_airbench"} <= names
    mlp = next(row for row in rows if row["name"] == "mnist_mlp")
    assert mlp["input_shape"] == [28, 28, 1] and mlp["parameters"] == 669706


def test_a_backup_of_a_changed_network_is_not_restored(mnist_npz, tmp_path):
    # An interrupted run resumes from its backup, unless the code now builds a different
    # network for the same settings: then it starts afresh instead of failing to load.
    out = tmp_path / "run"
    args = ("train", "mnist_mlp", "--data", mnist_npz, "--epochs", "1", "--hp", "units=16", "--out", out, "--quiet")
    assert run_zoo(*args).returncode == 0
    partial = tmp_path / "run.partial"
    (partial / "backup").mkdir(parents=True)
    (partial / "hparams.json").write_text((out / "hparams.json").read_text())
    (partial / "backup" / "training_metadata.json").write_text(json.dumps({"epoch": 0, "batch": -1}))
    (partial / "backup" / "latest.weights.h5").write_bytes(b"weights of a network that no longer exists")
    (partial / "architecture.sha256").write_text("0" * 64)
    result = run_zoo(*args)
    assert result.returncode == 0, result.stderr
    assert not partial.exists() and (out / "model.keras").exists()


def test_results_lists_runs_with_the_commands_that_made_them(tmp_path):
    from zoo import results

    def run_folder(name, run, metrics, hparams):
        folder = tmp_path / name
        folder.mkdir()
        for file, content in (("run.json", run), ("metrics.json", metrics), ("hparams.json", hparams)):
            (folder / file).write_text(json.dumps(content))

    facts = {"entry": "clock_polar", "epochs": 20, "train_seconds": 600.0, "samples_per_second": 100.0,
             "jit_compile": False, "data": {"source": "rendered by zoo.clockface"}}
    run_folder("reader", facts, {"test_cse_mean": 30.0}, {"epochs": 20, "turn_upright": True})
    run_folder("joined", {**facts, "upright_from": ["a", "b"], "upright_train_seconds": 300.0,
                          "upright_prior_weight": 0.7}, {"test_cse_mean": 20.0}, {"epochs": 20, "turn_upright": True})
    run_folder("unfinished", {"entry": "clock_polar"}, {}, {})
    rows = {pathlib.Path(row["run"]).name: row for row in results.collect(tmp_path)}
    assert sorted(rows) == ["joined", "reader"]
    assert rows["reader"]["command"] == "zoo train clock_polar --epochs 20 --hp turn_upright=True"
    assert rows["reader"]["value"] == 30.0 and rows["reader"]["train_minutes"] == 10.0
    assert rows["joined"]["command"] == rows["reader"]["command"] + \
        ", then zoo upright --reader RUN --upright a --upright b --prior-weight 0.7"
    assert rows["joined"]["train_minutes"] == 15.0
    assert "| clock_polar | test_cse_mean | 20.0000 |" in results.markdown([rows["joined"]])


def test_a_resumed_schedule_continues_from_the_restored_step():
    # BackupAndRestore restores the optimiser's step count after the schedule's
    # on_train_begin; the schedule must continue from it, not from 0.
    import keras

    entry = training.registry.get("mnist_mlp")
    model = entry.build(entry.resolve(entry.tiny))
    model.optimizer.build(model.trainable_variables)
    Schedule, _ = training.callbacks_module()
    schedule = Schedule("cosine", total_steps=10)
    schedule.set_model(model)
    schedule.on_train_begin()
    model.optimizer.iterations.assign(5)  # as a restore does
    schedule.on_train_batch_begin(0)
    peak = schedule.peak
    assert float(keras.ops.convert_to_numpy(model.optimizer.learning_rate)) == pytest.approx(0.5 * peak)


def test_curves_plots_runs_against_minutes_and_refuses_other_folders(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "history.json").write_text(json.dumps({"val_accuracy": [0.5, 0.8], "epoch_seconds": [30.0, 30.0]}))
    (run / "metrics.json").write_text(json.dumps({"test_accuracy": 0.81, "test_accuracy_flip": 0.83}))
    out = tmp_path / "curves.png"
    made = run_zoo("curves", str(run), "--target", "0.9", "--out", str(out))
    assert made.returncode == 0, made.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and not list(tmp_path.glob(".*partial"))
    assert_one_line_error(run_zoo("curves", str(tmp_path), "--out", str(out)), "not a finished run folder")
    assert_one_line_error(run_zoo("curves", str(run), "--out", str(tmp_path / "c.jpg")), "--out must name a .png")
