"""zoo tune: real KerasTuner searches over mnist_mlp with tiny units on tiny generated
data: the files a study writes, conditional grids, resume after kill -9, refusal of
a changed study, memory across trials, a chief with two workers, one-line errors."""

import csv
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import ROOT, assert_one_line_error, run_zoo

# Tiny and fast: 8 units, one epoch, 96 training and 24 validation examples.
TINY = ["--hp", "units=8", "--epochs", "1", "--limit", "96", "--quiet"]
# Seconds a search may take: a few seconds per trial on an idle machine, but the
# suite may share two cores with other work.
PATIENCE = 1800


def read_csv(path):
    with open(path, newline="") as file:
        return list(csv.DictReader(file))


def trial_states(study_dir):
    states = {}
    for path in sorted((study_dir / "trials").glob("trial_*/trial.json")):
        state = json.loads(path.read_text())
        states[state["trial_id"]] = state
    return states


@pytest.fixture(scope="module")
def regularizers_run(mnist_npz, tmp_path_factory):
    """One single-process grid study through the CLI, shared by the tests below."""
    root = tmp_path_factory.mktemp("tune")
    result = run_zoo("tune", "mnist_mlp", "--study", "regularizers", "--data", mnist_npz, "--directory", root, *TINY,
                     timeout=PATIENCE)
    return result, root / "mnist_mlp" / "regularizers-grid"


def test_one_factor_values_are_accepted_by_the_builders():
    from zoo import blocks

    from tuning import studies

    allowed = {"initializer": blocks.INITIALIZERS, "activation": blocks.ACTIVATIONS,
               "optimizer": blocks.OPTIMIZERS, "regularizer": blocks.REGULARIZERS}
    for key, values in studies.ONE_FACTOR.values():
        assert set(values) <= set(allowed[key]), key


def test_grid_study_end_to_end(regularizers_run, mnist_npz, tmp_path):
    result, study_dir = regularizers_run
    assert result.returncode == 0, result.stderr
    written = ("study.json", "results.csv", "results.md", "regularizers.png", "best_hparams.json", "test_results.json")
    for name in written:
        assert (study_dir / name).exists(), name
    rows = read_csv(study_dir / "results.csv")
    assert sorted(row["regularizer"] for row in rows) == sorted(["none", "l1", "l2", "l1_l2", "dropout"])
    assert [row["rank"] for row in rows] == ["1", "2", "3", "4", "5"]
    for row in rows:
        assert row["status"] == "completed"
        assert 0.0 <= float(row["val_accuracy"]) <= 1.0 and 0.0 <= float(row["test_accuracy"]) <= 1.0
        assert float(row["seconds"]) > 0 and row["tuner_id"] == "tuner0"
    accuracies = [float(row["val_accuracy"]) for row in rows]
    assert accuracies == sorted(accuracies, reverse=True)
    # The test figures are the checkpoints' real accuracy on the 200 generated test images.
    assert all(abs(float(row["test_accuracy"]) * 200 - round(float(row["test_accuracy"]) * 200)) < 1e-3 for row in rows)
    markdown = (study_dir / "results.md").read_text()
    assert markdown.count("\n| ") == 1 + len(rows) and "96 training" in markdown
    assert "Top 5 of 5" in result.stdout and "regularizer" in result.stdout

    from PIL import Image

    with Image.open(study_dir / "regularizers.png") as image:
        assert image.format == "PNG" and image.size[0] > 300

    best = json.loads((study_dir / "best_hparams.json").read_text())
    assert best["hparams"] == {"units": 8, "regularizer": rows[0]["regularizer"], "epochs": 1}
    assert best["trial"] == rows[0]["trial"]
    out = tmp_path / "trained"
    trained = run_zoo("train", "mnist_mlp", "--hparams", study_dir / "best_hparams.json", "--data", mnist_npz,
                      "--limit", "64", "--out", out, "--quiet", timeout=PATIENCE)
    assert trained.returncode == 0, trained.stderr
    hparams = json.loads((out / "hparams.json").read_text())
    assert hparams["regularizer"] == rows[0]["regularizer"] and hparams["units"] == 8


def _effective(values):
    """What actually trains: the Keras optimiser's config, batch size, regulariser."""
    from zoo import blocks

    optimizer = blocks.optimizer(
        values["optimizer"], values["learning_rate"], momentum=values.get("momentum", 0.0),
        epsilon=values.get("epsilon", 1e-7), nesterov=values.get("nesterov", False),
    ).get_config()
    optimizer.pop("name")
    if values["optimizer"] == "sgd" and optimizer["momentum"] == 0:
        optimizer.pop("nesterov")  # Keras' SGD applies Nesterov only with momentum
    return json.dumps([optimizer, values["batch_size"], values.get("regularizer")], sort_keys=True)


@pytest.mark.parametrize("entry, expected", [("mnist_mlp", 66), ("mnist_cnn", 198)])
def test_joint_grid_never_holds_equivalent_configurations(entry, expected):
    import collections

    import keras_tuner

    from zoo import registry

    from tuning import oracles, studies

    space = studies.space_of(registry.get(entry), "joint")
    combinations = oracles.grid_configurations(space)
    assert len(combinations) == expected
    chosen = []
    for values in combinations:
        hp = keras_tuner.HyperParameters()
        space(hp)
        hp.values = dict(values)
        chosen.append(studies.chosen_values(space, hp))
    assert all(None not in values.values() for values in chosen)
    effective = [_effective(values) for values in chosen]
    duplicates = [key for key, count in collections.Counter(effective).items() if count > 1]
    assert not duplicates, duplicates[:2]
    per_optimizer = collections.Counter(values["optimizer"] for values in chosen)
    scale = expected // 66
    assert per_optimizer == {"sgd": 18 * scale, "rmsprop": 24 * scale, "adam": 12 * scale, "adadelta": 12 * scale}


def restricted_space(hp):
    """SGD with conditional momentum and Nesterov, Adam with a conditional epsilon:
    5 distinct configurations, where a space without conditions has 2x2x2x2 = 16."""
    optimizer = hp.Choice("optimizer", ["sgd", "adam"])
    chosen = {"optimizer": optimizer, "learning_rate": hp.Choice("learning_rate", [0.01])}
    with hp.conditional_scope("optimizer", ["sgd"]):
        chosen["momentum"] = hp.Choice("momentum", [0.0, 0.9])
        with hp.conditional_scope("momentum", [0.9]):
            chosen["nesterov"] = hp.Boolean("nesterov")
    with hp.conditional_scope("optimizer", ["adam"]):
        chosen["epsilon"] = hp.Choice("epsilon", [1e-4, 1e-8])
    return chosen


def test_conditional_grid_trains_each_configuration_once(mnist_npz, tmp_path):
    from tuning import search

    study = search.prepare("mnist_mlp", "joint", data=mnist_npz, directory=tmp_path, epochs=1, limit=64,
                           overrides={"units": 8}, space=restricted_space)
    rows = search.run(study, verbose=0)
    assert len(rows) == 5 and all(row["status"] == "completed" for row in rows)
    trained = {(row["optimizer"], row["momentum"], row["nesterov"], row["epsilon"]) for row in rows}
    assert trained == {
        ("sgd", 0.0, None, None), ("sgd", 0.9, False, None), ("sgd", 0.9, True, None),
        ("adam", None, None, 1e-4), ("adam", None, None, 1e-8),
    }
    # The builder never saw a value that does not apply: the best config's file
    # holds only active values.
    best = json.loads((study.directory / "best_hparams.json").read_text())["hparams"]
    assert None not in best.values()


def test_resume_after_kill_and_refusal_of_a_changed_study(mnist_npz, tmp_path):
    from zoo import errors

    from tuning import search

    def command(epochs):
        return ["tune", "mnist_mlp", "--study", "activations", "--data", mnist_npz, "--directory", tmp_path,
                "--hp", "units=8", "--epochs", str(epochs), "--limit", "96", "--quiet"]

    args = command(epochs=1)
    study_dir = tmp_path / "mnist_mlp" / "activations-grid"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen([sys.executable, "-m", "zoo.cli", *map(str, args)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + PATIENCE
    try:
        while True:
            done = {key: state for key, state in trial_states(study_dir).items() if state["status"] == "COMPLETED"}
            if len(done) >= 2 or process.poll() is not None or time.monotonic() > deadline:
                break
            time.sleep(0.1)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert len(done) >= 2, "the search did not finish two trials"
    records = {key: (study_dir / "trials" / f"trial_{key}" / "zoo_trial.json").read_text() for key in done}
    assert len(done) < 8, "killed too late to test a resume"

    resumed = run_zoo(*args, timeout=PATIENCE)
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming" in resumed.stdout
    states = trial_states(study_dir)
    assert all(state["status"] == "COMPLETED" for state in states.values())
    activations = sorted(state["hyperparameters"]["values"]["activation"] for state in states.values())
    assert activations == sorted(["relu", "sigmoid", "tanh", "linear", "softmax", "elu", "gelu", "swish"])
    for key, state in done.items():
        # Finished trials were kept as they were, not run again.
        assert states[key]["score"] == state["score"]
        assert states[key]["hyperparameters"]["values"] == state["hyperparameters"]["values"]
        assert (study_dir / "trials" / f"trial_{key}" / "zoo_trial.json").read_text() == records[key]
    assert len(read_csv(study_dir / "results.csv")) == 8

    changed = run_zoo(*command(epochs=2))
    assert_one_line_error(changed, "epochs", "differ")
    # An edited search space (here: one activation fewer) is refused the same way.
    study = search.prepare("mnist_mlp", "activations", data=mnist_npz, directory=tmp_path, epochs=1, limit=96,
                           overrides={"units": 8}, space=lambda hp: {"activation": hp.Choice("activation", ["relu"])})
    with pytest.raises(errors.ZooError, match="space"):
        search.check_or_record(study, search.fingerprint(study, search.load_arrays(study)))


MEMORY_SCRIPT = """
import sys
from tuning import search
study = search.prepare("mnist_mlp", "joint", tuner="random", max_trials=20, epochs=1, directory=sys.argv[1],
                       data=sys.argv[2], limit=64, overrides={"units": 8})
arrays = search.load_arrays(study)
search.check_or_record(study, search.fingerprint(study, arrays))
search.make_tuner(study, search.make_hypermodel(study, arrays)).search(verbose=0)
"""


def test_memory_does_not_grow_across_trials(tmp_path):
    import numpy as np

    from conftest import make_images

    # A large test set (16 MB): every trial builds pipelines over it, so a trial
    # whose data or graphs outlived it would add ~16 MB or more, ~300 MB over 18 trials.
    x_train, y_train = make_images(300, (28, 28), 10)
    x_test, y_test = make_images(20000, (28, 28), 11)
    data = tmp_path / "mnist.npz"
    np.savez(data, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-c", MEMORY_SCRIPT, str(tmp_path), str(data)], env=env,
                            capture_output=True, text=True, timeout=PATIENCE)
    assert result.returncode == 0, result.stderr[-2000:]
    records = [json.loads(path.read_text()) for path in tmp_path.glob("mnist_mlp/joint-random/trials/*/zoo_trial.json")]
    assert len(records) == 20
    memory = [record["rss_mb"] for record in sorted(records, key=lambda record: record["trial_id"])]
    assert memory[19] <= 1.5 * memory[1], memory
    # Tighter than the 1.5x: under 8 MB per trial on average (about 5 measured,
    # Keras' and TensorFlow's own per-model bookkeeping).
    assert (memory[19] - memory[1]) / 18 < 8, memory


def test_chief_and_two_workers_share_the_trials(regularizers_run, mnist_npz, tmp_path):
    result = run_zoo("tune", "mnist_mlp", "--study", "regularizers", "--data", mnist_npz, "--directory", tmp_path,
                     "--workers", "2", *TINY, timeout=PATIENCE)
    assert result.returncode == 0, result.stderr
    study_dir = tmp_path / "mnist_mlp" / "regularizers-grid"
    states = trial_states(study_dir)
    assert len(states) == 5 and all(state["status"] == "COMPLETED" for state in states.values())
    rows = read_csv(study_dir / "results.csv")
    assert {row["tuner_id"] for row in rows} == {"tuner0", "tuner1"}
    assert sorted(row["regularizer"] for row in rows) == sorted(["none", "l1", "l2", "l1_l2", "dropout"])
    # The same table as a one-process run of the same study.
    single = read_csv(regularizers_run[1] / "results.csv")
    assert list(rows[0]) == list(single[0])
    for name in ("chief.log", "tuner0.log", "tuner1.log"):
        assert (study_dir / "logs" / name).exists()


@pytest.mark.parametrize(
    "args, fragments",
    [
        (["--study", "colours"], ["--study", "colours"]),
        (["--study", "optimizers", "--tuner", "anneal"], ["--tuner", "anneal"]),
        (["--study", "optimizers", "--max-trials", "0"], ["--max-trials", "0"]),
        (["--study", "optimizers", "--max-trials", "many"], ["--max-trials", "many"]),
        (["--study", "optimizers", "--workers", "-1"], ["--workers"]),
        (["--study", "optimizers", "--hp", "optimizer=adam"], ["optimizer", "tunes"]),
    ],
)
def test_usage_errors_are_one_line(args, fragments, mnist_npz, tmp_path):
    result = run_zoo("tune", "mnist_mlp", *args, "--data", mnist_npz, "--directory", tmp_path)
    assert_one_line_error(result, *fragments)


def test_study_an_entry_lacks_is_refused(mnist_npz, tmp_path):
    result = run_zoo("tune", "mnist_bncnn", "--study", "initializers", "--data", mnist_npz, "--directory", tmp_path)
    assert_one_line_error(result, "initializer", "mnist_bncnn")


def test_task1_table_carries_the_winners_to_cifar10(regularizers_run, cifar_npz, tmp_path):
    from tuning import task1

    root = regularizers_run[1].parent.parent
    markdown = task1.run(root=root, out=tmp_path / "task1", cifar_data=cifar_npz, epochs=(1,), verbose=0)
    rows = read_csv(tmp_path / "task1" / "task1.csv")
    by_study = {(row["model"], row["study or configuration"]): row for row in rows}
    studied = by_study[("mnist_mlp", "regularizers")]
    best = json.loads((regularizers_run[1] / "best_hparams.json").read_text())
    assert studied["best values"] == f"regularizer={best['hparams']['regularizer']}"
    assert studied["test_accuracy"] == f"{best['test_accuracy']:.4f}"
    assert studied["what ran"] == "GridSearch, 5/5 trials, 1 epoch, 96 training examples (random subset)"
    assert by_study[("mnist_mlp", "optimizers")]["what ran"] == "not run"
    assert by_study[("mnist_mlp", "optimizers")]["report"] == "0.9843 (adam)"
    # Only the regularisation study exists, so only the MLP's "parameters" configuration
    # is carried: one CIFAR-10 run at one epoch, trained for real.
    carried = [row for row in rows if row["data"] == "CIFAR-10"]
    assert [(row["model"], row["study or configuration"], row["epochs"]) for row in carried] == [
        ("cifar10_mlp", "MNIST parameters", "1")]
    run_dir = tmp_path / "task1" / "cifar10" / "cifar10_mlp-parameters-1e"
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert carried[0]["test_accuracy"] == f"{metrics['test_accuracy']:.4f}"
    assert json.loads((run_dir / "hparams.json").read_text())["regularizer"] == best["hparams"]["regularizer"]
    assert "mnist_cnn: no joint study" in markdown
    assert not any(row["study or configuration"] == "refine" for row in rows)  # not run, so not listed


def test_refine_study_searches_schedule_dropout_and_shifts_and_is_carried(mnist_npz, tmp_path):
    from tuning import task1

    # Bayesian optimisation: its oracle needs scikit-learn and scipy, which setup.cfg installs.
    result = run_zoo("tune", "mnist_mlp", "--study", "refine", "--tuner", "bayes", "--max-trials", "2",
                     "--data", mnist_npz, "--directory", tmp_path, *TINY, timeout=PATIENCE)
    assert result.returncode == 0, result.stderr
    study_dir = tmp_path / "mnist_mlp" / "refine-bayes"
    rows = read_csv(study_dir / "results.csv")
    assert len(rows) == 2 and all(row["status"] == "completed" for row in rows)
    best = json.loads((study_dir / "best_hparams.json").read_text())["hparams"]
    assert {"optimizer", "learning_rate", "schedule", "dropout_rate", "translate"} <= set(best)
    assert best["schedule"] in ("constant", "cosine") and best["translate"] in (0.0, 0.05, 0.1)
    # The winner trains through zoo train --hparams, and Task 1 carries it to CIFAR-10 with flips.
    configurations, _ = task1.carried_configurations(tmp_path, "mlp")
    assert configurations["refined"] == {**{k: v for k, v in best.items() if k != "epochs"}, "flip": True}
    rows = task1.table(tmp_path, [])
    refine_row = next(row for row in rows if row["study or configuration"] == "refine")
    assert refine_row["report"] == "beyond the report"
    assert refine_row["what ran"].startswith("BayesianOptimization, 2/2 trials")


def test_refine_is_refused_for_entries_without_it(mnist_npz, tmp_path):
    result = run_zoo("tune", "mnist_bncnn", "--study", "refine", "--data", mnist_npz, "--directory", tmp_path)
    assert_one_line_error(result, "refine", "mnist_bncnn")


def test_refine_flips_only_where_the_classes_survive_a_mirror():
    import keras_tuner

    from zoo import registry

    from tuning import studies

    def keys(entry):
        return set(studies.space_of(registry.get(entry), "refine")(keras_tuner.HyperParameters()))

    assert "flip" in keys("cifar10_cnn") and "flip" in keys("cifar10_mlp")
    assert "flip" not in keys("mnist_cnn") and "flip" not in keys("mnist_mlp")
    assert {"dropout_rate", "dense_dropout_rate", "schedule", "translate"} <= keys("mnist_cnn")
