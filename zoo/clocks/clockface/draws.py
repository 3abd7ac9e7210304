"""Scalar random draws for the renderer, buffered from a numpy Generator."""

import math


class Stream:
    """Fast scalar random draws, buffered from a numpy Generator.

    A clock takes a few hundred scalar draws and a Generator call per draw is
    slow, so uniforms are fetched in blocks and handed out from a python list.
    Array draws go to ``generator`` directly. Everything stays deterministic
    for a given Generator state.
    """

    _BLOCK = 256

    def __init__(self, generator):
        self.generator = generator
        self._buffer = []
        self._index = 0

    def random(self):
        """Uniform float in [0, 1)."""
        if self._index >= len(self._buffer):
            self._buffer = self.generator.random(self._BLOCK).tolist()
            self._index = 0
        value = self._buffer[self._index]
        self._index += 1
        return value

    def uniform(self, low, high):
        """Uniform float in [low, high)."""
        return low + (high - low) * self.random()

    def integers(self, low, high=None):
        """Uniform int in [low, high), or [0, low) when high is None."""
        if high is None:
            low, high = 0, low
        return min(high - 1, low + int(self.random() * (high - low)))

    def normal(self, mean, deviation):
        """Normal draw by the Box-Muller transform."""
        radius = math.sqrt(-2.0 * math.log(1.0 - self.random()))
        return mean + deviation * radius * math.cos(2.0 * math.pi * self.random())


def pick(stream, items, weights=None):
    """Draw one of ``items`` with optional (unnormalised) weights."""
    if weights is None:
        return items[stream.integers(len(items))]
    target = stream.random() * sum(weights)
    running = 0.0
    for item, weight in zip(items, weights):
        running += weight
        if target < running:
            return item
    return items[-1]
