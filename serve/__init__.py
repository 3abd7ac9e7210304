"""Serve: the zoo's exported models on onnxruntime, without TensorFlow or Keras.

``zoo predict-time`` reads the time on clock images, ``zoo generate-faces`` and
``zoo interpolate`` draw faces, ``zoo models`` and ``zoo info`` describe the models.
Modules: :mod:`serve.models` (finding models, cards, checksums, sessions),
:mod:`serve.images` (decoding and preprocessing), :mod:`serve.predict`,
:mod:`serve.generate`, and :mod:`serve.bench` (serving latency). Helpers shared with
training come from :mod:`zoo.common`, which imports no TensorFlow either; the
release models are built by :mod:`export.release` (``make release``).
"""
