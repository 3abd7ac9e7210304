"""Bounding the memory pictures cost, and giving it back afterwards (issue #45).

A 100-megapixel PNG of 300 KB decodes to about 800 MB while it is read. Two things
keep that from taking a server down:

- :data:`DECODING`, a budget of pixels decoded at once in the process: eight such
  pictures sent together are decoded two at a time, not all at once (eight peaked at
  6.2 GB before).
- glibc keeps freed memory in its heaps, and its mmap threshold grows (to 32 MB) each
  time a big block is freed, so after a few big pictures the server held gigabytes it no
  longer used. :func:`map_big_allocations` fixes the threshold, so big buffers are
  mapped and unmapped; :func:`release_freed` hands what the heaps hold back after a big
  picture. Both do nothing where the C library is not glibc.
"""

import contextlib
import ctypes
import functools
import threading

_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter
MAP_THRESHOLD = 1 << 20
"""Allocations from 1 MB up are mapped on their own (glibc's default starts at 128 KB but grows)."""


@functools.lru_cache(maxsize=None)
def _glibc():
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt") else None


def map_big_allocations(threshold=MAP_THRESHOLD):
    """Fix glibc's mmap threshold at ``threshold`` bytes for this process. Returns whether it did."""
    libc = _glibc()
    return bool(libc is not None and libc.mallopt(_M_MMAP_THRESHOLD, int(threshold)))


def release_freed():
    """Give the memory glibc's heaps hold but no longer use back to the system."""
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)


class PixelBudget:
    """At most ``capacity`` pixels decoded at once across threads; a picture bigger than
    the whole budget waits until it has it all. ``release_over``: pictures of at least this
    many pixels hand their memory back (:func:`release_freed`) when they are done."""

    def __init__(self, capacity, release_over=4_000_000):
        self.capacity = int(capacity)
        self.release_over = int(release_over)
        self.used = 0
        self._changed = threading.Condition()

    @contextlib.contextmanager
    def hold(self, pixels):
        pixels = max(0, min(int(pixels), self.capacity))
        with self._changed:
            self._changed.wait_for(lambda: self.used + pixels <= self.capacity)
            self.used += pixels
        try:
            yield
        finally:
            with self._changed:
                self.used -= pixels
                self._changed.notify_all()
            if pixels >= self.release_over:
                release_freed()
