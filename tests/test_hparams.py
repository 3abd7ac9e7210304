import json
import pathlib

import pytest

from zoo import errors, hparams, registry, training


def test_parse_value_literals_and_bare_strings():
    assert hparams.parse_value("1e-3") == 0.001
    assert hparams.parse_value("12") == 12
    assert hparams.parse_value("adam") == "adam"
    assert hparams.parse_value("True") is True and hparams.parse_value("false") is False
    assert hparams.parse_value("none") is None
    assert hparams.parse_value("(32, 64)") == (32, 64)


def test_resolve_applies_layers_in_order_and_coerces():
    defaults = {"units": 512, "learning_rate": 1e-3, "widths": (1, 2), "optimizer": "rmsprop", "flag": False}
    resolved = hparams.resolve(defaults, {"units": 256, "learning_rate": 1}, {"units": 128, "widths": [3, 4]})
    assert resolved == {"units": 128, "learning_rate": 1.0, "widths": (3, 4), "optimizer": "rmsprop", "flag": False}
    assert isinstance(resolved["learning_rate"], float)


@pytest.mark.parametrize(
    "layer, fragment",
    [
        ({"unit": 3}, "unknown hyperparameter 'unit'"),
        ({"units": "many"}, "expects int"),
        ({"units": 1.5}, "expects int"),
        ({"flag": 1}, "expects bool"),
        ({"optimizer": 3}, "expects str"),
    ],
)
def test_resolve_rejects_bad_overrides(layer, fragment):
    defaults = {"units": 512, "flag": False, "optimizer": "rmsprop"}
    with pytest.raises(errors.HyperparameterError, match=fragment):
        hparams.resolve(defaults, layer)


def test_parse_overrides_needs_equals():
    assert hparams.parse_overrides(["a=1", "b=x"]) == {"a": 1, "b": "x"}
    with pytest.raises(errors.HyperparameterError, match="key=value"):
        hparams.parse_overrides(["novalue"])


def test_read_file_unwraps_tuning_results(tmp_path):
    (tmp_path / "best.json").write_text('{"hparams": {"units": 64}, "score": 0.9}')
    assert hparams.read_file(tmp_path / "best.json") == {"units": 64}
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(errors.HyperparameterError, match="cannot read"):
        hparams.read_file(tmp_path / "bad.json")
    with pytest.raises(errors.HyperparameterError, match="not found"):
        hparams.read_file(tmp_path / "missing.json")


def test_shipped_recipes_resolve_against_their_entries():
    """tuning/best/*.json are the README's best settings; each must still fit its entry
    (a renamed or retyped hyperparameter would make `zoo train --hparams` refuse it)."""
    recipes = sorted((pathlib.Path(__file__).parents[1] / "tuning" / "best").glob("*.json"))
    assert {path.stem for path in recipes} >= {"mnist_mlp", "cifar10_cnn"}
    for path in recipes:
        recipe = json.loads(path.read_text())
        assert recipe["entry"] == path.stem
        config = training.resolve_config(registry.get(path.stem), path)
        assert {key: config[key] for key in recipe["hparams"]} == recipe["hparams"]


def test_none_is_a_word_for_string_settings_and_refused_for_numbers():
    from zoo import hparams

    assert hparams.coerce("regularizer", hparams.parse_value("none"), "dropout") == "none"
    with pytest.raises(errors.HyperparameterError, match="expects int"):
        hparams.coerce("units", hparams.parse_value("none"), 512)
