"""``zoo train --distributed``: two worker processes on loopback train one model together
through the real CLI; bad cluster specs are one-line errors."""

import concurrent.futures
import json
import re
import socket

import numpy as np
import pytest

from conftest import assert_one_line_error, make_images, run_zoo
from zoo import distributed, errors, registry, training


def free_ports(count):
    """Ports free on 127.0.0.1 now (held open together, so that they differ)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for held in sockets:
            held.bind(("127.0.0.1", 0))
        return [held.getsockname()[1] for held in sockets]
    finally:
        for held in sockets:
            held.close()


def tf_config(ports, index):
    return json.dumps({"cluster": {"worker": [f"127.0.0.1:{port}" for port in ports]},
                       "task": {"type": "worker", "index": index}})


def tiny_mlp_args(data, out):
    """A tiny mnist_mlp for one epoch: 540 training images in batches of 128, 4 steps."""
    hp = [f"--hp={key}={value}" for key, value in registry.get("mnist_mlp").tiny.items()]
    return ("train", "mnist_mlp", "--data", data, "--epochs", "1", *hp, "--out", out, "--quiet", "--distributed")


def trained_digest(stdout):
    found = re.findall(r"trained weights sha256 ([0-9a-f]{64})$", stdout, re.M)
    assert len(found) == 1, stdout
    return found[0]


def train_together(tmp_path, workers):
    """Run ``zoo train --distributed`` as a cluster on 127.0.0.1 of one worker per
    ``(data, extra arguments)``, each with its own --out (as on machines of their own);
    their results, the chief's first."""
    ports = free_ports(len(workers))
    with concurrent.futures.ThreadPoolExecutor(len(workers)) as pool:
        runs = [pool.submit(run_zoo, *tiny_mlp_args(data, tmp_path / f"worker{index}" / "run"), *extra,
                            env={"TF_CONFIG": tf_config(ports, index)}, timeout=120)
                for index, (data, extra) in enumerate(workers)]
        return [run.result() for run in runs]


def test_two_workers_train_one_model_and_the_chief_alone_writes_it(tmp_path):
    # Each worker reads different images (the same counts): the workers can only end
    # with equal weights if every step applied gradients averaged over both, where two
    # independent runs would each fit their own images.
    data_files = []
    for seed in (0, 10):
        x_train, y_train = make_images(600, (28, 28), seed)
        x_test, y_test = make_images(200, (28, 28), seed + 1)
        data_files.append(tmp_path / f"images{seed}.npz")
        np.savez(data_files[-1], x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    chief, other = train_together(tmp_path, [(data, ()) for data in data_files])
    assert chief.returncode == 0, chief.stdout + chief.stderr
    assert other.returncode == 0, other.stdout + other.stderr

    # Both took the same 4 steps of the global batch of 128 (540 // 128).
    assert "worker 0 (chief), 2 workers; 4 steps of 128 examples per epoch" in chief.stdout
    assert "worker 1, 2 workers; 4 steps of 128 examples per epoch" in other.stdout
    digest = trained_digest(chief.stdout)
    assert trained_digest(other.stdout) == digest
    import keras

    chief_out = tmp_path / "worker0" / "run"
    assert distributed.weights_digest(keras.saving.load_model(chief_out / "model.keras")) == digest

    # The chief wrote the run; the other worker wrote nothing that remains.
    assert json.loads((chief_out / "run.json").read_text())["distributed"]["workers"] == 2
    assert len(json.loads((chief_out / "history.json").read_text())["loss"]) == 1
    assert not chief_out.with_name("run.partial").exists()
    assert list((tmp_path / "worker1").iterdir()) == []
    assert "the chief writes the run" in other.stdout


def test_workers_that_disagree_stop_in_one_line_instead_of_waiting(mnist_npz, tmp_path):
    # --limit gives the second worker fewer training examples, hence fewer steps per
    # epoch: unchecked, the chief would wait for steps that never come.
    for result in train_together(tmp_path, [(mnist_npz, ()), (mnist_npz, ("--limit", "300"))]):
        assert_one_line_error(result, "the workers disagree", "training examples 540, 300", "steps per epoch 4, 2")


def test_a_cluster_of_one_worker_trains(mnist_npz, tmp_path):
    out = tmp_path / "run"
    result = run_zoo(*tiny_mlp_args(mnist_npz, out), env={"TF_CONFIG": tf_config(free_ports(1), 0)}, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "worker 0 (chief), 1 worker;" in result.stdout
    assert json.loads((out / "run.json").read_text())["distributed"]["workers"] == 1
    assert (out / "model.keras").exists() and not tmp_path.joinpath("run.partial").exists()


ONE_WORKER = '{"cluster": {"worker": ["127.0.0.1:2"]}, "task": {"type": "worker", "index": 0}}'


@pytest.mark.parametrize("config, extra, fragment", [
    (None, (), "--distributed needs TF_CONFIG"),
    ('{"cluster": {"ps": ["127.0.0.1:2"], "worker": ["127.0.0.1:3"]}, "task": {"type": "worker", "index": 0}}', (),
     "TF_CONFIG names ps tasks"),
    pytest.param(ONE_WORKER, ("--jit", "on"), "cannot use --jit on without a GPU",
                 marks=pytest.mark.skipif(training.gpu_available(), reason="XLA's collectives need no refusal on GPU")),
])
def test_cli_refuses_a_missing_or_unsupported_cluster_in_one_line(config, extra, fragment, mnist_npz, tmp_path,
                                                                  monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    result = run_zoo(*tiny_mlp_args(mnist_npz, tmp_path / "run"), *extra, env={"TF_CONFIG": config} if config else None)
    assert_one_line_error(result, fragment)
    assert not any(tmp_path.iterdir())  # nothing written


@pytest.mark.parametrize("text, fragment", [
    ("", "needs TF_CONFIG"),
    ("{cluster", "TF_CONFIG is not JSON"),
    ('{"task": {"type": "worker", "index": 0}}', 'needs a "cluster"'),
    ('{"cluster": {"evaluator": ["a:1"]}, "task": {"type": "evaluator", "index": 0}}', "names evaluator tasks"),
    ('{"cluster": {"worker": "a:1"}, "task": {"type": "worker", "index": 0}}', "must be a list"),
    ('{"cluster": {"worker": ["a"]}, "task": {"type": "worker", "index": 0}}', "'a', not a host:port"),
    ('{"cluster": {"worker": ["a:1", "a:1"]}, "task": {"type": "worker", "index": 0}}', "gives a:1 to two tasks"),
    ('{"cluster": {"worker": ["a:1"]}}', 'needs this process\'s "task"'),
    ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "chief", "index": 0}}', "task type 'chief' is not in"),
    ('{"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "worker", "index": 2}}', "from 0 to 1"),
])
def test_malformed_cluster_specs_are_refused(text, fragment):
    with pytest.raises(errors.ZooError, match=re.escape(fragment)):
        distributed.cluster({"TF_CONFIG": text})


def test_the_chief_is_the_chief_task_or_else_worker_0():
    spec = {"cluster": {"chief": ["c:1"], "worker": ["a:1", "b:1"]}, "task": {"type": "worker", "index": 1}}
    place = distributed.cluster({"TF_CONFIG": json.dumps(spec)})
    assert (place.workers, place.rank, place.is_chief) == (3, 2, False)
    spec = {"cluster": {"worker": ["[::1]:2222", "host.example.com:2222"]}, "task": {"type": "worker", "index": 0}}
    assert distributed.cluster({"TF_CONFIG": json.dumps(spec)}).is_chief


def test_models_with_their_own_training_step_are_refused():
    face_vae = registry.get("face_vae")
    with pytest.raises(errors.ZooError, match="its model has its own training step"):
        distributed.check_trainable(training.fitting_model(face_vae.build(face_vae.resolve(face_vae.tiny))), "face_vae")
    mlp = registry.get("mnist_mlp")
    distributed.check_trainable(training.fitting_model(mlp.build(mlp.resolve(mlp.tiny))), "mnist_mlp")
