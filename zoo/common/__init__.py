"""Helpers that training and the TensorFlow-free serve commands share.

Every module here imports only the standard library, numpy and Pillow, so
``import serve`` never pulls in TensorFlow (a test checks it):

- :mod:`zoo.common.clocktime`: times as minutes on a 12-hour dial, the common-sense error, encodings.
- :mod:`zoo.common.turnvote`: reading a clock at four quarter turns and keeping one reading.
- :mod:`zoo.common.imagegrid`: latent vectors, interpolation and image grids.
- :mod:`zoo.common.files`: atomic JSON and PNG writes, checksums.
"""
