"""The report's studies as KerasTuner search spaces.

A study is a function ``space(hp) -> dict`` in the registry's own convention: it
declares KerasTuner hyperparameters on ``hp`` and returns ``{key: value}`` for the
entry's builder keywords and fit settings. Values of hyperparameters declared under
an inactive ``hp.conditional_scope`` come back as None; :func:`chosen_values` drops
them, so a builder never receives a momentum for Adam.

- One factor at a time, the others at the entry's defaults (the report's loops):
  ``initializers``, ``activations``, ``optimizers``, ``regularizers``.
- ``joint``: the entry's own space (``report_space`` for the report's MLP and CNN:
  optimiser x learning rate x conditional momentum/Nesterov/epsilon x batch size),
  plus the regularisation for the report's CNN, as the report's Table 4.
- ``refine``: beyond the report, the same architecture with what the report never
  varied: a learning-rate schedule, the dropout rates and light shift augmentation
  (and flips where they keep the class, as on CIFAR-10), around the adaptive
  optimisers its studies found best. Too large for a grid
  (162 configurations); run it with ``--tuner bayes|random --max-trials N``.

This module imports neither TensorFlow nor KerasTuner, so the command line checks
a study's name before TensorFlow loads.
"""

from zoo import errors

# The report's factors and the values the issue lists (each accepted by zoo.blocks;
# a test checks the lists against zoo.blocks, whose import would load TensorFlow).
ONE_FACTOR = {
    "initializers": (
        "initializer",
        (
            "zeros", "random_uniform", "random_normal", "glorot_uniform", "glorot_normal",
            "he_normal", "he_uniform", "lecun_normal", "orthogonal",
        ),
    ),
    "activations": ("activation", ("relu", "sigmoid", "tanh", "linear", "softmax", "elu", "gelu", "swish")),
    "optimizers": ("optimizer", ("sgd", "rmsprop", "adam", "adadelta", "nadam", "adamw")),
    "regularizers": ("regularizer", ("none", "l1", "l2", "l1_l2", "dropout")),
}
STUDIES = (*ONE_FACTOR, "joint", "refine")

# What the joint study adds to an entry's own space, by builder: the report tuned
# the CNN's regularisation together with its optimiser (Table 4: Dropout and None),
# and its one-factor study found L2 best for the CNN, so L2 is in as well.
JOINT_EXTRAS = {
    "report_cnn": ("regularizer", ("dropout", "none", "l2")),
}


def _refine(dropouts):
    """The refine study's space for a builder whose dropout rates are ``dropouts``
    (``{keyword: values}``); the rest is shared by the report's MLP and CNN."""

    def space(hp):
        chosen = dict(
            optimizer=hp.Choice("optimizer", ["adam", "nadam", "rmsprop"]),
            learning_rate=hp.Choice("learning_rate", [5e-4, 1e-3, 2e-3]),
            schedule=hp.Choice("schedule", ["constant", "cosine"]),
        )
        chosen.update({key: hp.Choice(key, list(values)) for key, values in dropouts.items()})
        chosen["translate"] = hp.Choice("translate", [0.0, 0.05, 0.1])
        return chosen

    return space


# The refine study's space, by builder.
REFINE = {
    "report_mlp": _refine({"dropout_rate": (0.2, 0.3, 0.4)}),
    "report_cnn": _refine({"dropout_rate": (0.1, 0.25), "dense_dropout_rate": (0.25, 0.5)}),
}


def _with_flips(space):
    """``space`` plus horizontal flips: for entries whose classes survive a mirror
    image (CIFAR-10's do, digits do not), which declare ``flip`` among their fit settings."""

    def flipped(hp):
        return {**space(hp), "flip": hp.Boolean("flip")}

    return flipped


def check_study(study):
    """Raise a ZooError unless ``study`` is a known study name."""
    if study not in STUDIES:
        raise errors.ZooError(f"--study must be one of {', '.join(STUDIES)}; received {study!r}")
    return study


def is_one_factor(study):
    """Whether ``study`` varies a single factor (and gets a bar chart)."""
    return study in ONE_FACTOR


def space_of(entry, study):
    """The search space of ``study`` over registry ``entry``.

    Args:
        entry: a :class:`zoo.registry.Entry`.
        study: one of :data:`STUDIES`.

    Returns:
        ``space(hp) -> dict`` (KerasTuner hyperparameters in, builder values out).

    Raises:
        ZooError: the entry lacks the study's factor, or has no space for ``joint``.

    Example:
        >>> space = space_of(registry.get("mnist_mlp"), "optimizers")  # doctest: +SKIP
        >>> space(keras_tuner.HyperParameters())
        {'optimizer': 'sgd'}
    """
    check_study(study)
    if study == "joint":
        if entry.space is None:
            raise errors.ZooError(f"{entry.name} declares no search space, so it has no joint study")
        extra = JOINT_EXTRAS.get(entry.builder.__name__)

        def joint(hp):
            chosen = dict(entry.space(hp))
            if extra is not None:
                key, values = extra
                chosen[key] = hp.Choice(key, list(values))
            return chosen

        return joint
    if study == "refine":
        space = REFINE.get(entry.builder.__name__)
        if space is None:
            raise errors.ZooError(f"{entry.name} has no refine study (the report's MLP and CNN have one)")
        return _with_flips(space) if "flip" in entry.fit else space
    key, values = ONE_FACTOR[study]
    if key not in entry.defaults:
        tunable = [name for name, (factor, _) in ONE_FACTOR.items() if factor in entry.defaults]
        raise errors.ZooError(
            f"study {study!r} varies {key!r}, which {entry.name} does not have; its studies: "
            f"{', '.join([*tunable, 'joint'] if entry.space else tunable) or 'none'}"
        )

    def one_factor(hp):
        return {key: hp.Choice(key, list(values))}

    return one_factor


def chosen_values(space, hp):
    """The active values of ``space`` under ``hp``: inactive conditional ones dropped.

    Example:
        >>> hp = keras_tuner.HyperParameters()  # doctest: +SKIP
        >>> report_space(hp)  # declares every hyperparameter, at its default
        >>> hp.values.update(optimizer="adam", epsilon=1e-8)
        >>> chosen_values(report_space, hp)  # no momentum or nesterov for Adam
        {'optimizer': 'adam', 'learning_rate': 0.1, 'epsilon': 1e-08, 'batch_size': 64}
    """
    return {key: value for key, value in space(hp).items() if value is not None}


# The tuners by their --tuner names (tuning.search builds them).
TUNER_NAMES = {
    "grid": "GridSearch", "random": "RandomSearch", "bayes": "BayesianOptimization", "hyperband": "Hyperband",
}


def epochs_text(count):
    """``1 epoch``, ``12 epochs``."""
    return f"{count} epoch" if count == 1 else f"{count} epochs"


def space_keys(space):
    """The builder keys a search space sets (a space's hyperparameters may carry other
    names: ``sgd_momentum`` sets ``momentum``)."""
    import keras_tuner

    return list(space(keras_tuner.HyperParameters()))
