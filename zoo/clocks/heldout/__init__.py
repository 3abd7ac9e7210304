"""Renderers written apart from the training renderer (:mod:`zoo.clocks.clockface`),
used only to measure readers on clocks they never saw."""
