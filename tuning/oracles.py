"""KerasTuner's oracles, made safe to kill and to share between workers.

Two changes to KerasTuner 1.4.8's stock oracles, both small:

- Every state file (``oracle.json``, each ``trial.json``) is written to a temporary
  name and renamed into place, so a search killed with ``kill -9`` in the middle of
  a write leaves the previous complete file, never a truncated one.
- :class:`GridOracle` replaces ``GridSearchOracle``'s bookkeeping. The stock oracle
  keeps its place in the grid only in memory (``_ordered_ids``, ``_populate_next``),
  so a reloaded grid search stops early or crashes (keras-team/keras-tuner#1055);
  and it derives each new combination from a finished trial, so parallel workers
  mostly wait on each other. This one walks the same order (KerasTuner's own
  ``_get_next_combination``) and hands every request the first combination that no
  trial holds yet, judged by the oracle's saved hashes of tried values. Resumed and
  parallel searches therefore cover every combination exactly once.
"""

import os

import keras_tuner

from zoo.common import files

from keras_tuner.src.engine import trial as trial_module


def write_json_atomic(path, data):
    """Write ``data`` as compact JSON through a temporary file and a rename (KerasTuner's state files)."""
    files.write_json(path, data, indent=None)


class AtomicSaves:
    """Oracle mixin: state files are replaced whole or not at all."""

    def save(self):
        write_json_atomic(self._get_oracle_fname(), self.get_state())

    def _save_trial(self, trial):
        write_json_atomic(os.path.join(self._get_trial_dir(trial.trial_id), "trial.json"), trial.get_state())


class GridOracle(AtomicSaves, keras_tuner.oracles.GridSearchOracle):
    """Exhaustive search over a discrete space, resumable and parallel (see the module)."""

    def combinations(self):
        """Every combination of the space's active values, in KerasTuner's grid order.

        Conditional hyperparameters appear only where their condition holds, so
        equivalent configurations (Adam with and without a momentum it ignores) are
        one combination.
        """
        space = self.get_space()
        values = {hp.name: hp.default for hp in space.space if space.is_active(hp)}
        while values is not None:
            yield dict(values)
            values = self._get_next_combination(values)

    def populate_space(self, trial_id):
        for values in self.combinations():
            if not self._duplicate(values):
                return {"status": trial_module.TrialStatus.RUNNING, "values": values}
        # Every combination is taken. Combinations still running belong to other
        # workers; this one may stop (the chief waits for the running ones).
        return {"status": trial_module.TrialStatus.STOPPED, "values": None}


class RandomOracle(AtomicSaves, keras_tuner.oracles.RandomSearchOracle):
    """KerasTuner's random search with atomic state files."""


class BayesianOracle(AtomicSaves, keras_tuner.oracles.BayesianOptimizationOracle):
    """KerasTuner's Gaussian-process Bayesian optimisation with atomic state files."""


class HyperbandOracle(AtomicSaves, keras_tuner.oracles.HyperbandOracle):
    """KerasTuner's Hyperband with atomic state files."""


def make_oracle(tuner, objective, max_trials, epochs, seed):
    """The oracle of ``tuner`` (``grid``, ``random``, ``bayes``, ``hyperband``).

    Args:
        tuner: the search algorithm's name.
        objective: a ``keras_tuner.Objective``.
        max_trials: the trial budget, or None (the whole grid; Hyperband's own budget).
        epochs: the most epochs a trial trains (Hyperband's ``max_epochs``).
        seed: the oracle's random seed.

    Returns:
        A KerasTuner oracle.
    """
    # Three failed trials in a row stop the search (KerasTuner's default); a trial
    # whose loss diverges is not a failure, it scores its (poor) accuracy.
    common = dict(objective=objective, seed=seed, max_consecutive_failed_trials=3)
    if tuner == "grid":
        return GridOracle(max_trials=max_trials, **common)
    if tuner == "random":
        return RandomOracle(max_trials=max_trials, **common)
    if tuner == "bayes":
        return BayesianOracle(max_trials=max_trials, **common)
    if tuner == "hyperband":
        oracle = HyperbandOracle(max_epochs=epochs, factor=3, **common)
        # Hyperband sizes itself from max_epochs; a trial budget caps it on top,
        # through the base oracle's own max_trials check.
        oracle.max_trials = max_trials
        return oracle
    raise ValueError(f"tuner must be grid, random, bayes or hyperband; received {tuner!r}")


def grid_configurations(space):
    """All configurations a grid search over ``space`` trains (no training: the
    oracle alone is walked). Used to size progress bars and by tests.

    Args:
        space: ``space(hp) -> dict`` as in :mod:`tuning.studies`.

    Returns:
        list of dicts of active hyperparameter values.
    """
    hp = keras_tuner.HyperParameters()
    space(hp)
    oracle = GridOracle(objective=keras_tuner.Objective("score", "max"))
    oracle.update_space(hp)
    return list(oracle.combinations())
