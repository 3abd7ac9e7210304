"""The registry: one declaration per entry, on its builder (timm's pattern).

An entry ties together a builder (plain keyword arguments in, compiled Functional
model out), its dataset, default hyperparameters, fit settings, a KerasTuner search
space and an export signature. The entry's name is the registry key, the Makefile
target suffix, the artifact folder and the Keras model's name.

Model families are imported lazily, on the first lookup, so that ``import zoo``,
``zoo --help`` and the TensorFlow-free serve commands never load TensorFlow.
"""

import dataclasses
import importlib
import inspect
from typing import Callable

from zoo import errors, hparams

# The modules that declare entries, imported on the first lookup.
FAMILIES = ("zoo.classifiers", "zoo.clocks.entries", "zoo.faces.entries")

_ENTRIES = {}
_LOADED = False


@dataclasses.dataclass(frozen=True)
class Signature:
    """What an exported entry looks like from outside.

    Shapes and dtypes are read from the built model, never declared here, so a
    tuned size cannot drift from the exported one.

    Attributes:
        inputs: names of the input tensors, in order (``("image",)``, ``("z",)``).
        outputs: names of the output tensors (``("probabilities",)``, ``("hour", "minute")``).
        export: attribute of the trained model holding the deterministic network
            to export (``"generator"``, ``"decoder"``), or None for the model itself.
        tolerance: absolute tolerance of the export parity check.
    """

    inputs: tuple = ("image",)
    outputs: tuple = ("probabilities",)
    export: str | None = None
    tolerance: float = 1e-4


@dataclasses.dataclass(frozen=True)
class Entry:
    """One model of the zoo; see :func:`register`."""

    name: str
    builder: Callable
    task: str
    dataset: str
    data: Callable
    evaluate: Callable
    defaults: dict
    fit: dict
    constants: dict
    space: Callable | None
    signature: Signature
    describe: Callable | None
    tiny: dict
    description: str
    family: str
    recipes: dict = dataclasses.field(default_factory=dict)
    # The family's hook for scoring an exported model: ``load_export(path, entry_name) ->
    # (model, config)`` (a face generator's .onnx), or None when only run folders evaluate.
    load_export: Callable | None = None

    @property
    def settings(self):
        """Every tunable key with its default: builder keywords, then fit settings."""
        return {**self.defaults, **self.fit}

    def recipe(self, name):
        """The overrides of the named recipe (settings and ``epochs``), e.g. ``demo``.

        Raises:
            ZooError: the entry has no recipe of that name (the message lists its recipes).
        """
        if name not in self.recipes:
            known = ", ".join(sorted(self.recipes)) or "none"
            raise errors.ZooError(f"{self.name} has no recipe {name!r}; its recipes: {known}")
        return dict(self.recipes[name])

    def resolve(self, *layers):
        """Defaults overridden by each dict in ``layers``, type-checked."""
        return hparams.resolve(self.settings, *layers, entry=self.name)

    def builder_kwargs(self, config):
        """The builder's keywords out of a resolved config."""
        return {**self.constants, **{key: config[key] for key in self.defaults}}

    def build(self, config=None):
        """Build and compile the model for a resolved config (defaults if None)."""
        config = self.resolve() if config is None else config
        return self.builder(name=self.name, **self.builder_kwargs(config))


def _require(condition, message):
    """A registration mistake, raised even under ``python -O`` (which strips asserts)."""
    if not condition:
        raise ValueError(message)


def register(
    *,
    task,
    dataset,
    data,
    evaluate,
    fit,
    defaults=None,
    name=None,
    constants=None,
    space=None,
    signature=Signature(),
    describe=None,
    tiny=None,
    recipes=None,
    load_export=None,
):
    """Declare a registry entry on its builder.

    Args:
        task: ``"classification"``, ``"clock"`` or ``"generation"``.
        dataset: the dataset's name (``"mnist"``, ``"clocks"``, ``"celeba"``).
        data: ``data(entry, config, path=None, seed=42, limit=None) -> zoo.datasets.Splits``.
        evaluate: ``evaluate(model, splits, config) -> dict`` of test figures.
        defaults: where the entry departs from its builder's defaults (one builder
            registered for several datasets). Every keyword the builder gives a default
            is a setting, so a default is declared once, on the builder.
        fit: fit settings (``epochs``, ``batch_size``, schedule); keys disjoint from ``defaults``.
        name: the entry's name; the builder's function name if None.
        constants: builder keywords fixed by the dataset (``input_shape``, ``num_classes``).
        space: ``space(hp) -> dict`` of KerasTuner hyperparameters, keys a subset of
            ``defaults`` and ``fit``.
        signature: the export signature.
        describe: ``describe(entry, config) -> dict`` of decoding facts for the model card.
        tiny: overrides that make the model small and fast, for tests.
        recipes: named sets of overrides (settings and ``epochs``) that a make target
            or the release trains with (``zoo train ENTRY --recipe NAME``), declared
            here once.
        load_export: ``load_export(path, entry_name) -> (model, config)``: how ``zoo
            evaluate`` scores an exported ``.onnx`` of the entry (the face generators'), so
            the trainer never names a family.

    Returns:
        A decorator that records the entry and returns the builder unchanged, so one
        builder can be registered under several names (one per dataset).

    Example:
        >>> @register(task="classification", dataset="mnist", data=..., evaluate=...,
        ...           defaults=dict(units=512), fit=dict(epochs=12, batch_size=128))
        ... def mnist_mlp(name, input_shape, num_classes, units): ...
    """

    def decorator(builder):
        entry_name = name or builder.__name__
        parameters = inspect.signature(builder).parameters
        # Every keyword the builder gives a default is a setting, at that default unless
        # the entry departs from it (one builder, several entries).
        tunable = {key: parameter.default for key, parameter in parameters.items()
                   if parameter.default is not inspect.Parameter.empty and key not in (constants or {})}
        stray = set(defaults or {}) - set(tunable)
        _require(not stray, f"{entry_name}: defaults for keywords the builder does not default: {stray}")
        tunable.update(defaults or {})
        overlap = set(tunable) & set(fit)
        _require(not overlap, f"{entry_name}: keys both in defaults and fit: {overlap}")
        missing = set(tunable) | set(constants or {}) | {"name"}
        missing -= set(parameters)
        _require(not missing, f"{entry_name}: builder lacks keywords {missing}")
        _require(entry_name not in _ENTRIES, f"entry {entry_name} registered twice")
        for recipe, overrides in (recipes or {}).items():
            stray = set(overrides) - set(tunable) - set(fit)
            _require(not stray, f"{entry_name}: recipe {recipe} sets unknown keys {stray}")
        doc = inspect.getdoc(builder) or ""
        _ENTRIES[entry_name] = Entry(
            name=entry_name,
            builder=builder,
            task=task,
            dataset=dataset,
            data=data,
            evaluate=evaluate,
            defaults=dict(tunable),
            fit=dict(fit),
            constants=dict(constants or {}),
            space=space,
            signature=signature,
            describe=describe,
            tiny=dict(tiny or {}),
            description=" ".join(doc.split("\n\n")[0].split()),
            family=builder.__module__,
            recipes={key: dict(value) for key, value in (recipes or {}).items()},
            load_export=load_export,
        )
        return builder

    return decorator


def _load():
    global _LOADED
    if not _LOADED:
        for module in FAMILIES:
            if importlib.util.find_spec(module) is not None:
                importlib.import_module(module)
        _LOADED = True


def names():
    """All entry names, sorted."""
    _load()
    return sorted(_ENTRIES)


def get(name):
    """Look an entry up by name.

    Raises:
        ZooError: no entry has that name (the message lists the known ones).
    """
    _load()
    try:
        return _ENTRIES[name]
    except KeyError:
        raise errors.ZooError(f"unknown entry {name!r}; known: {', '.join(sorted(_ENTRIES))}") from None


def entries():
    """All entries, sorted by name."""
    return [_ENTRIES[name] for name in names()]


def trained_parameters(model):
    """The parameters a model trains: all of them but a GAN's weight average."""
    average = getattr(model, "ema_generator", None)
    return int(model.count_params() - (average.count_params() if average is not None else 0))


def summary(entry):
    """One row of ``zoo list``: name, task, dataset, input shape, parameter count.

    For generative entries the input is that of the exported sub-network (``z``); the
    parameters count every network the entry trains (not a GAN's weight average).
    """
    model = entry.build()
    network = getattr(model, entry.signature.export) if entry.signature.export else model
    shapes = [tuple(tensor.shape[1:]) for tensor in network.inputs]
    return {
        "name": entry.name,
        "task": entry.task,
        "dataset": entry.dataset,
        "input_shape": list(shapes[0]) if len(shapes) == 1 else [list(s) for s in shapes],
        "parameters": trained_parameters(model),
        "recipes": sorted(entry.recipes),
        "description": entry.description,
    }


def sanity_check_space(entry):
    """Assert that a search space only names keys the entry knows (a test calls this)."""
    if entry.space is None:
        return set()
    import keras_tuner

    hp = keras_tuner.HyperParameters()
    chosen = entry.space(hp)
    unknown = set(chosen) - set(entry.settings)
    return unknown


