"""Export: trained zoo entries to ONNX and SavedModel, checked, with a model card.

``export_entry(name, model_dir, out, ...)`` is the library function behind
``zoo export``; see :mod:`export.exporter`. Importing this package imports nothing
heavy: ``export_entry`` loads :mod:`export.exporter` (numpy) on first use, and
TensorFlow loads inside the functions that need it, so ``zoo --help`` stays quick.
"""

__all__ = ["export_entry"]


def __getattr__(name):
    if name == "export_entry":
        from export.exporter import export_entry

        return export_entry
    raise AttributeError(f"module 'export' has no attribute {name!r}")
