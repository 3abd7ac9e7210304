"""Hyperparameter studies of the zoo's entries on KerasTuner.

``zoo tune ENTRY --study NAME`` runs one study (see :mod:`tuning.studies`) with
:mod:`tuning.search` and writes its results with :mod:`tuning.results`;
:mod:`tuning.task1` chains the report's Task 1 studies into one table. Importing this
package loads neither TensorFlow nor KerasTuner.
"""
