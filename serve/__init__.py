"""Serve: the zoo's exported models on onnxruntime, without TensorFlow or Keras.

``zoo predict-time`` reads the time on clock images, ``zoo generate-faces`` and
``zoo interpolate`` draw faces, ``zoo models`` and ``zoo info`` describe the models.
Modules: :mod:`serve.models` (finding models, cards, checksums, sessions),
:mod:`serve.images` (decoding and preprocessing), :mod:`serve.predict`,
:mod:`serve.generate`, :mod:`serve.grid`. :mod:`serve.release` (``make release``) and
:mod:`serve.bench` (``zoo bench``) are the two that import TensorFlow, inside their
functions, and nothing on the serving path imports them.
"""
