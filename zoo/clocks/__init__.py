"""Task 2 of the report: telling the time from images of analog clocks.

- :mod:`zoo.clocks.clockface`: the training renderer (numpy and Pillow).
- :mod:`zoo.clocks.heldout`: renderers written apart from it, to test readers on clocks they never saw.
- :mod:`zoo.clocks.data`: rendered sets cached on disk, splits, targets, tf.data pipelines.
- :mod:`zoo.clocks.layers`, :mod:`zoo.clocks.losses`, :mod:`zoo.clocks.backbone`: the readers' parts.
- :mod:`zoo.clocks.report`, :mod:`zoo.clocks.hands`, :mod:`zoo.clocks.polar`: the readers;
  :mod:`zoo.clocks.upright`: the stage that turns a clock upright in front of one.
- :mod:`zoo.clocks.entries`: their registration, decoding and scoring.
- :mod:`zoo.clocks.study`, :mod:`zoo.clocks.reading`: the report's studies, and where a reader fails.
- :mod:`zoo.clocks.cli`: the clock commands.

This package imports nothing at import time, so ``zoo --help`` stays fast.
"""
