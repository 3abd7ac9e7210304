"""Batches of random clocks, each drawn from its own seeded stream.

Image ``i`` of a batch is drawn from ``np.random.default_rng([seed, start + i])``
only, so disjoint slices can be rendered by separate processes and
concatenated. On one machine renders are bit-for-bit reproducible.
"""

import numpy as np

from zoo.clocks.clockface import backgrounds as photo_backgrounds
from zoo.clocks.clockface import clockstyle, rendering, world, worldstyle

SCENES = ("classic", "world", "mixed")
"""Scene profiles: ``classic`` (the renderer's own clean clocks, unchanged),
``world`` (clocks as photographs show them, see :mod:`~zoo.clocks.clockface.world`)
and ``mixed`` (clock ``i`` classic when ``i % 3 == 2``, world otherwise), so a
reader trained on photographs still sees plain, clean dials."""


def is_world(scenes, index):
    """Whether clock ``index`` of a batch with profile ``scenes`` is a world clock."""
    return scenes == "world" or (scenes == "mixed" and index % 3 != 2)


def check_seed(seed):
    """Validate a non-negative integer seed."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def check_count(count, name="count"):
    """Validate a non-negative image count."""
    if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {count!r}")
    return int(count)


def check_scenes(scenes, backgrounds):
    """Validate a scene profile and its backgrounds; returns (scenes, photo source or None)."""
    if not isinstance(scenes, str) or scenes not in SCENES:
        raise ValueError(f"scenes must be one of {', '.join(SCENES)}, got {scenes!r}")
    if scenes == "classic":
        if backgrounds is not None:
            raise ValueError("backgrounds apply to scenes='world' only; the classic scenes draw their own")
        return scenes, None
    return scenes, photo_backgrounds.source(backgrounds)


def _check_tags(scenes, include, exclude):
    """include/exclude as frozensets of the tags of the scene profile."""
    if scenes == "mixed":
        if include or exclude:
            raise ValueError("the mixed scenes take no style tags: use scenes='world' or 'classic' with tags")
        return frozenset(), frozenset()
    check = clockstyle.check_tags if scenes == "classic" else worldstyle.check_tags
    return check(include, "include"), check(exclude, "exclude")


def _draw_world(seed, index, include, exclude, photos):
    """World clock ``index`` of ``seed``: its stream, time and world style."""
    rng = np.random.default_rng([seed, index])
    hour, minute = divmod(int(rng.integers(720)), 60)
    return rng, hour, minute, worldstyle.sample_world_style(rng, include, exclude, photos is not None)


def _draw(seed, index, include, exclude):
    """Clock ``index`` of ``seed``: its random stream, time and style (drawn in that order;
    the stream then goes on to draw the image)."""
    rng = np.random.default_rng([seed, index])
    hour, minute = divmod(int(rng.integers(720)), 60)
    return rng, hour, minute, clockstyle.sample_style(rng, include, exclude)


def batch_styles(count, seed, include=None, exclude=None, start=0, scenes="classic", backgrounds=None):
    """The :class:`~zoo.clocks.clockface.clockstyle.ClockStyle` (or, for the world
    scenes, :class:`~zoo.clocks.clockface.worldstyle.WorldStyle`) of each clock
    :func:`render_batch` draws for the same arguments, without rendering the images.

    Example:
        >>> batch_styles(3, seed=1) == render_batch(3, seed=1, size=32, return_styles=True)[2]
        True
    """
    count = check_count(count)
    seed = check_seed(seed)
    start = check_count(start, "start")
    scenes, photos = check_scenes(scenes, backgrounds)
    include, exclude = _check_tags(scenes, include, exclude)
    return [(_draw_world(seed, start + offset, include, exclude, photos) if is_world(scenes, start + offset)
             else _draw(seed, start + offset, include, exclude))[3] for offset in range(count)]


def render_batch(count, seed, size=150, include=None, exclude=None, start=0, return_styles=False,
                 return_geometry=False, scenes="classic", backgrounds=None):
    """Render ``count`` random clocks with uniformly random times.

    Image ``i`` is drawn from ``np.random.default_rng([seed, start + i])``
    alone, so rendering slices ``[start, start + count)`` in separate
    processes gives exactly the images of one big render.

    Args:
        count: Number of images.
        seed: Non-negative integer seed.
        size: Output width and height in pixels.
        include: Style tags to restrict to (see :func:`~zoo.clocks.clockface.clockstyle.sample_style`).
        exclude: Style tags to avoid.
        start: Index of the first image within the seed's sequence.
        return_styles: Also return the list of :class:`~zoo.clocks.clockface.clockstyle.ClockStyle` used.
        return_geometry: Also return float32 (count, 5, 2) keypoints, see
            :data:`~zoo.clocks.clockface.rendering.GEOMETRY_POINTS` (returned before the styles).
        scenes: ``"classic"`` or ``"world"`` (see :data:`SCENES`); the world scenes
            take the tags of :data:`~zoo.clocks.clockface.worldstyle.TAGS`.
        backgrounds: For the world scenes, None or the path of a folder or .zip of
            photos (see :mod:`~zoo.clocks.clockface.backgrounds`); image ``i`` then
            depends on the seed, ``start + i`` and this set.

    Returns:
        ``(images, labels)``: uint8 (count, size, size) and int64 (count, 2)
        ``[hour 0-11, minute 0-59]``; with ``return_styles`` a third item,
        the list of styles.

    Example:
        >>> images, labels = render_batch(4, seed=1)
        >>> images.shape, labels.shape
        ((4, 150, 150), (4, 2))
    """
    count = check_count(count)
    seed = check_seed(seed)
    start = check_count(start, "start")
    size = rendering.check_size(size)
    scenes, photos = check_scenes(scenes, backgrounds)
    include, exclude = _check_tags(scenes, include, exclude)
    images = np.empty((count, size, size), dtype=np.uint8)
    labels = np.empty((count, 2), dtype=np.int64)
    geometry = np.empty((count, len(rendering.GEOMETRY_POINTS), 2), dtype=np.float32)
    styles = []
    for offset in range(count):
        if is_world(scenes, start + offset):
            rng, hour, minute, style = _draw_world(seed, start + offset, include, exclude, photos)
            images[offset], geometry[offset] = world.render(hour, minute, rng, size, style, photos)
        else:
            rng, hour, minute, style = _draw(seed, start + offset, include, exclude)
            images[offset], geometry[offset] = rendering.render(hour, minute, rng, size, style, None, "L",
                                                                geometry=True)
        labels[offset] = (hour, minute)
        if return_styles:
            styles.append(style)
    result = (images, labels)
    if return_geometry:
        result += (geometry,)
    if return_styles:
        result += (styles,)
    return result
