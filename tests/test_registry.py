"""Parametrised over the registry: a new entry is tested without writing a test."""

import numpy as np
import pytest

from zoo import registry

ENTRIES = registry.names()


def test_registry_is_not_empty():
    assert len(ENTRIES) >= 9


@pytest.mark.parametrize("name", ENTRIES)
def test_entry_builds_runs_and_round_trips(name, tmp_path):
    import keras

    entry = registry.get(name)
    config = entry.resolve(entry.tiny)
    model = entry.build(config)
    assert model.name == name

    def exported(model):
        # Generative entries export a deterministic sub-network (decoder, generator).
        return getattr(model, entry.signature.export) if entry.signature.export else model

    network = exported(model)
    assert [tensor.name for tensor in network.inputs] == list(entry.signature.inputs)
    inputs = [np.random.default_rng(0).uniform(0, 255, (2, *tensor.shape[1:])).astype("float32")
              for tensor in network.inputs]
    outputs = network(inputs[0] if len(inputs) == 1 else inputs, training=False)
    # Every signature output exists; a network may carry training-only extras
    # (clock_polar's polar_training), which export leaves out.
    assert set(entry.signature.outputs) <= set(outputs)
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    assert loaded.name == name
    again = exported(loaded)(inputs[0] if len(inputs) == 1 else inputs, training=False)
    for key in outputs:
        np.testing.assert_allclose(np.asarray(outputs[key]), np.asarray(again[key]), atol=1e-5)


@pytest.mark.parametrize("name", ENTRIES)
def test_search_space_keys_are_known(name):
    entry = registry.get(name)
    assert registry.sanity_check_space(entry) == set()


@pytest.mark.parametrize("name", ENTRIES)
def test_entry_declaration_is_consistent(name):
    entry = registry.get(name)
    assert entry.description, "the builder needs a docstring"
    assert entry.task in ("classification", "clock", "generation")
    assert {"epochs", "batch_size"} <= set(entry.fit)
    assert entry.resolve() == entry.settings


def test_unknown_entry_lists_known_ones():
    from zoo import errors

    with pytest.raises(errors.ZooError, match="mnist_mlp"):
        registry.get("no_such_entry")


@pytest.mark.parametrize("name", ENTRIES)
def test_defaults_are_the_builders_own(name):
    # Each default is declared once: on the builder, or as the entry's departure from it.
    import inspect

    entry = registry.get(name)
    parameters = inspect.signature(entry.builder).parameters
    for key in entry.defaults:
        assert parameters[key].default is not inspect.Parameter.empty, key
    assert set(entry.defaults) | set(entry.constants) | {"name"} == set(parameters)


@pytest.mark.parametrize("name", [name for name in ENTRIES if registry.get(name).recipes])
def test_recipes_resolve_against_their_entry(name):
    entry = registry.get(name)
    for recipe in entry.recipes:
        config = entry.resolve(entry.recipe(recipe))
        assert {key: config[key] for key in entry.recipes[recipe]} == {
            key: (tuple(value) if isinstance(value, list) else value) for key, value in entry.recipes[recipe].items()}


def test_unknown_recipe_is_one_line(tmp_path):
    from conftest import assert_one_line_error, run_zoo

    assert_one_line_error(run_zoo("train", "clock_polar", "--recipe", "nope", "--out", tmp_path / "x"),
                          "its recipes: demo, quick")
    assert not (tmp_path / "x").exists()
