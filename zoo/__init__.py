"""zoo: a Keras model zoo with export tooling."""

__version__ = "0.1.0"
