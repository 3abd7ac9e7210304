"""Export: trained zoo entries to ONNX and SavedModel, checked, with a model card.

``export_entry(name, model_dir, out, ...)`` is the library function behind
``zoo export``; see :mod:`export.exporter`. Importing this package does not import
TensorFlow: the heavy libraries load inside the functions that need them.
"""

from export.exporter import export_entry

__all__ = ["export_entry"]
