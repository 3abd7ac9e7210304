"""Latent vectors, interpolation, image grids and atomic PNG writing, for the generators.

The same functions training uses, from :mod:`zoo.imagegrid` (numpy and Pillow only,
so serve stays TensorFlow-free).

Seeds: face ``i`` of ``zoo generate-faces --seed S`` is row ``i`` of
``latent_samples(count, D, seed=S)``, and ``zoo interpolate --seeds A B`` starts at
``latent_samples(1, D, seed=A)[0]``, so an interpolation from seed A starts at the
first face of ``generate-faces --seed A``.
"""

from zoo.imagegrid import (  # noqa: F401 (re-exported for serve's modules)
    INTERPOLATIONS,
    grid_shape,
    interpolate,
    latent_samples,
    lerp,
    slerp,
    tile,
    to_uint8,
    write_png,
)
