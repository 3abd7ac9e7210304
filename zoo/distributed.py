"""Multi-worker training for ``zoo train ENTRY --distributed`` (docs/scaling.md).

Every machine runs the same command; ``TF_CONFIG`` (TensorFlow's cluster spec, which
Kubernetes' TFJob sets) tells each process the cluster and its own place in it.
``tf.distribute.MultiWorkerMirroredStrategy`` keeps a copy of the model on every
worker and averages the gradients of each step over all of them, so the entry's
batch size is the global batch and each worker computes its share.

The chief (task ``chief``, or ``worker`` 0 when there is no chief) alone writes the
run folder. The other workers keep their Keras backups, logs and whatever a model's
callbacks write in a folder of their own beside ``--out``, which the same command
finds again after a restart, and remove it when training ends. Workers whose
backups end at different epochs (one stopped between the chief's backup and its
own) all resume from the chief's.
"""

import contextlib
import dataclasses
import hashlib
import json
import os
import re

from zoo import errors

ENVIRONMENT = "TF_CONFIG"
EXAMPLE = '{"cluster": {"worker": ["10.0.0.1:12345", "10.0.0.2:12345"]}, "task": {"type": "worker", "index": 0}}'
# The task types MultiWorkerMirroredStrategy trains with; "ps" (parameter servers) and
# "evaluator" belong to other strategies.
TASK_TYPES = ("chief", "worker")
ADDRESS = re.compile(r"^(\[[0-9a-fA-F:.]+\]|[^\s:\[\]]+):\d{1,5}$")


@dataclasses.dataclass(frozen=True)
class Cluster:
    """This process's place in the cluster that ``TF_CONFIG`` describes."""

    task_type: str
    task_index: int
    address: str  # host:port this process listens on
    workers: int  # processes that train: the chief and the workers
    rank: int  # this process's position among them, the chief's 0

    @property
    def is_chief(self):
        return self.rank == 0

    def describe(self):
        role = " (chief)" if self.is_chief else ""
        return f"{self.task_type} {self.task_index}{role}, {self.workers} worker{'s' if self.workers > 1 else ''}"


def cluster(environ=None):
    """The cluster of ``TF_CONFIG``, checked so that a mistake is one line, not a hang or
    a traceback from TensorFlow.

    Raises:
        ZooError: ``TF_CONFIG`` is unset, not JSON, or not a cluster this process can
            train in with MultiWorkerMirroredStrategy (the message says what is wrong).
    """
    environ = os.environ if environ is None else environ
    text = environ.get(ENVIRONMENT, "").strip()
    if not text:
        raise errors.ZooError(f"--distributed needs {ENVIRONMENT}, the cluster as JSON, e.g. {EXAMPLE} "
                              "(docs/scaling.md)")
    try:
        config = json.loads(text)
    except json.JSONDecodeError as error:
        raise errors.ZooError(f"{ENVIRONMENT} is not JSON ({error.msg} at character {error.pos})") from None
    if not isinstance(config, dict) or not isinstance(config.get("cluster"), dict) or not config["cluster"]:
        raise errors.ZooError(f"{ENVIRONMENT} needs a \"cluster\" object of task types and addresses, e.g. {EXAMPLE}")
    tasks = config["cluster"]
    other = sorted(set(tasks) - set(TASK_TYPES))
    if other:
        raise errors.ZooError(f"{ENVIRONMENT} names {', '.join(other)} tasks; --distributed trains with chief and "
                              "worker tasks only (MultiWorkerMirroredStrategy)")
    for task_type, addresses in tasks.items():
        if not isinstance(addresses, list) or not addresses:
            raise errors.ZooError(f"{ENVIRONMENT}'s cluster.{task_type} must be a list of host:port addresses")
        wrong = [address for address in addresses if not isinstance(address, str) or not ADDRESS.match(address)]
        if wrong:
            raise errors.ZooError(f"{ENVIRONMENT}'s cluster.{task_type} has {wrong[0]!r}, not a host:port address")
    if len(tasks.get("chief", [])) > 1:
        raise errors.ZooError(f"{ENVIRONMENT} names {len(tasks['chief'])} chiefs; a cluster has one")
    every = [address for task_type in TASK_TYPES for address in tasks.get(task_type, [])]
    repeated = sorted({address for address in every if every.count(address) > 1})
    if repeated:
        raise errors.ZooError(f"{ENVIRONMENT} gives {repeated[0]} to two tasks")
    task = config.get("task")
    if not isinstance(task, dict) or "type" not in task or "index" not in task:
        raise errors.ZooError(f"{ENVIRONMENT} needs this process's \"task\": {{\"type\": ..., \"index\": ...}}")
    task_type, index = task["type"], task["index"]
    if task_type not in tasks:
        raise errors.ZooError(f"{ENVIRONMENT}'s task type {task_type!r} is not in its cluster "
                              f"({', '.join(sorted(tasks))})")
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(tasks[task_type]):
        raise errors.ZooError(f"{ENVIRONMENT}'s task index must be a number from 0 to {len(tasks[task_type]) - 1} "
                              f"(its {task_type} addresses); received {index!r}")
    # The chief first, then the workers in order: the strategy's own numbering.
    order = [(kind, position) for kind in TASK_TYPES for position in range(len(tasks.get(kind, [])))]
    return Cluster(task_type, index, tasks[task_type][index], len(order), order.index((task_type, index)))


def strategy(place):
    """A MultiWorkerMirroredStrategy for the cluster of ``TF_CONFIG``, in which this
    process is ``place`` (:func:`cluster`). It must be made before TensorFlow runs
    anything (it configures the runtime's collective ops); it listens on this task's
    address and waits for the other workers as their first collective step does.

    Raises:
        ZooError: the strategy cannot start (for example, the address is taken).
    """
    import tensorflow as tf

    try:
        return tf.distribute.MultiWorkerMirroredStrategy()
    except (RuntimeError, ValueError, tf.errors.OpError) as error:
        text = error.message if isinstance(error, tf.errors.OpError) else str(error)
        hint = "; is another process using that port?" if "server" in text.lower() else ""
        raise errors.ZooError(f"cannot start MultiWorkerMirroredStrategy on {place.address} "
                              f"({errors.one_line(text or error)}){hint}") from None


def worker_folder(out, place):
    """Where a worker other than the chief keeps its backups and logs: beside ``out``,
    named after its task, so the same command finds it again after a restart."""
    return out.with_name(f"{out.name}.{place.task_type}-{place.task_index}.partial")


def check_trainable(model, name):
    """Refuse a model with its own ``train_step``: Keras sums the workers' gradients,
    and only the losses Keras computes itself (``compile``'s) are divided by the number
    of workers; a loss computed in the model's own step is not.

    Raises:
        ZooError: ``model``'s class overrides ``train_step``.
    """
    import keras

    if type(model).train_step is not keras.Model.train_step:
        raise errors.ZooError(f"--distributed cannot train {name}: its model has its own training step, whose "
                              "loss is not divided among the workers (only models trained by Keras' own step are)")


def shard_by_data(dataset):
    """``dataset`` split between the workers batch by batch (each takes its part of
    every global batch), rather than by input files, which in-memory pipelines do not
    have: tf.data's AUTO policy would fall back to this with a warning."""
    import tensorflow as tf

    if dataset is None:  # entries without a validation set
        return None
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)


def weights_digest(model):
    """The SHA-256 of ``model``'s weights in order: equal on every worker of one run,
    and equal to that of the model the chief saves."""
    import numpy as np

    digest = hashlib.sha256()
    for weight in model.get_weights():
        array = np.ascontiguousarray(weight)
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def gathered(strategy_, values):
    """Every worker's ``values`` (ints), a row each, the chief's first: a collective step
    that every worker must take at the same point."""
    import numpy as np
    import tensorflow as tf

    local = tf.constant([list(values)], dtype=tf.int64)

    @tf.function
    @tf.autograph.experimental.do_not_convert
    def gather():
        return strategy_.gather(strategy_.run(tf.identity, args=(local,)), axis=0)

    return np.asarray(gather())


def check_agreement(strategy_, facts, advice="run the same command with the same data on every worker"):
    """Compare ``facts`` (name -> int) between the workers (:func:`gathered`).

    Workers that disagree on the data or the settings would wait for one another's
    steps forever or train on inconsistent batches; each of them stops with the same
    message instead, which ends with ``advice``.

    Raises:
        ZooError: a fact differs between workers (the message lists each worker's value).
    """
    names = list(facts)
    rows = gathered(strategy_, [facts[name] for name in names])
    differing = [(index, name) for index, name in enumerate(names) if len(set(rows[:, index].tolist())) > 1]
    if differing:
        described = "; ".join(f"{name} {', '.join(str(value) for value in rows[:, index].tolist())}"
                              for index, name in differing)
        raise errors.ZooError(f"the workers disagree ({described}, chief first): {advice}")


def _reduce_into(strategy_, variables, operation, chief_only=False):
    """Set ``variables`` (the same list on every worker) to the all-reduce ``operation``
    (``SUM``, ``MEAN``) of their values on every worker, or, with ``chief_only``, to
    the chief's values (a sum to which the others add zeros). The values travel as
    float64, exact for weights and step counters."""
    import tensorflow as tf

    values = [tf.cast(tf.convert_to_tensor(variable.value), tf.float64) for variable in variables]

    @tf.function
    @tf.autograph.experimental.do_not_convert
    def reduced():
        def contribute():
            context = tf.distribute.get_replica_context()
            if chief_only:
                chief = tf.equal(context.replica_id_in_sync_group, 0)
                return context.all_reduce(operation, [tf.where(chief, value, tf.zeros_like(value)) for value in values])
            return context.all_reduce(operation, values)

        return strategy_.run(contribute)

    for variable, value in zip(variables, reduced()):
        variable.assign(tf.cast(strategy_.experimental_local_results(value)[0], variable.dtype))


def take_chiefs_state(strategy_, variables):
    """Give every worker the chief's values of ``variables``."""
    _reduce_into(strategy_, variables, "SUM", chief_only=True)


def average_statistics(strategy_, model):
    """Average ``model``'s non-trainable float weights over the workers: batch
    normalisation's moving statistics, which Keras keeps per worker, each from its own
    part of the batches (the trainable weights are the same on every worker)."""
    import tensorflow as tf

    statistics = [weight for weight in model.non_trainable_weights if tf.as_dtype(weight.dtype).is_floating]
    if statistics:
        _reduce_into(strategy_, statistics, "MEAN")


def number(text):
    """A stable int64 fingerprint of ``text`` (JSON, a digest), for :func:`check_agreement`."""
    return int(hashlib.sha256(text.encode()).hexdigest()[:15], 16)


def agreement_callback(strategy_, facts):
    """A Keras callback that, before the first step, checks that the workers agree on
    ``facts`` (:func:`check_agreement`), then on the epoch they start from, which
    ``BackupAndRestore`` (before it in the list) has restored from each worker's own
    backup. A worker stopped between the chief's backup and its own, or that lost its
    backup, would start elsewhere: every worker then takes the chief's state and epoch.
    """
    import keras

    class Agreement(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            optimizer = self.model.optimizer
            variables = list(self.model.variables) + list(optimizer.variables if optimizer is not None else [])
            check_agreement(strategy_, {**facts, "variables": len(variables)})
            starts = gathered(strategy_, [int(getattr(self.model, "_initial_epoch", 0) or 0)])[:, 0].tolist()
            if len(set(starts)) > 1:
                print(f"[zoo] the workers' backups end at epochs {', '.join(map(str, starts))} (chief first): "
                      f"every worker resumes from the chief's", flush=True)
                take_chiefs_state(strategy_, variables)
                self.model._initial_epoch = starts[0] or None

    return Agreement()


@contextlib.contextmanager
def keras_mends(strategy_):
    """Mend, while ``fit`` runs, two bugs of Keras 3's TensorFlow trainer that stop
    MultiWorkerMirroredStrategy with more than one worker (keras-team/keras#20585,
    tensorflow/tensorflow#72388):

    - before the first step it averages one batch over the workers to learn the input
      shapes, and cannot average an (inputs, targets) pair: this worker's own part of
      the batch gives the same shapes;
    - it averages each step's figures (loss, metrics) over the workers along axis 0,
      which a scalar lacks: a scalar is averaged as it is.
    """
    import keras
    import tensorflow as tf
    from keras.src.backend.tensorflow import trainer

    mended = ("TensorFlowTrainer", "reduce_per_replica", "_collective_all_reduce_multi_worker")
    if not all(hasattr(trainer, name) for name in mended) or \
            not hasattr(trainer.TensorFlowTrainer, "_maybe_symbolic_build"):
        raise errors.ZooError(f"--distributed mends Keras 3.15's trainer, which Keras {keras.__version__} has changed; "
                              "check keras-team/keras#20585 and zoo.distributed.keras_mends")

    def local_part(value):
        return strategy_.experimental_local_results(value)[0] if isinstance(value, tf.distribute.DistributedValues) \
            else value

    def symbolic_build(model, iterator=None, data_batch=None):
        if model._distribute_strategy is None:  # built outside the strategy: Keras' own way
            return original_build(model, iterator=iterator, data_batch=data_batch)
        if iterator is not None:
            for _, _, batches in iterator:
                data_batch = tf.nest.map_structure(local_part, next(batches))
                break
        with model.distribute_strategy.scope():
            model._symbolic_build(data_batch=data_batch)

    def reduce_per_replica(values, strategy, reduction):
        if reduction in ("auto", "mean") and trainer._collective_all_reduce_multi_worker(strategy):
            return tf.nest.map_structure(
                lambda value: strategy.reduce("MEAN", value, axis=0 if local_part(value).shape.rank else None), values)
        return original_reduce(values, strategy, reduction)

    original_build, original_reduce = trainer.TensorFlowTrainer._maybe_symbolic_build, trainer.reduce_per_replica
    trainer.TensorFlowTrainer._maybe_symbolic_build, trainer.reduce_per_replica = symbolic_build, reduce_per_replica
    try:
        yield
    finally:
        trainer.TensorFlowTrainer._maybe_symbolic_build, trainer.reduce_per_replica = original_build, original_reduce


@contextlib.contextmanager
def fitting(strategy_):
    """The context of a distributed ``fit``: :func:`keras_mends`, and a worker lost
    mid-training (stopped, unreachable) told in one line rather than TensorFlow's
    traceback of an aborted collective op."""
    import tensorflow as tf

    lost = (tf.errors.UnavailableError, tf.errors.DeadlineExceededError, tf.errors.AbortedError,
            tf.errors.CancelledError)
    try:
        with keras_mends(strategy_):
            yield
    except lost as error:
        raise errors.ZooError(f"a worker stopped or became unreachable during training ({type(error).__name__}); "
                              "run the same command on every worker again to resume from the last epoch's "
                              "backup") from None
