"""Distances between two sets of images that need no downloaded network: numpy only.

- :func:`sliced_wasserstein`: the Sliced Wasserstein Distance between 7x7 patches of
  the images' Laplacian pyramids, as in the ProGAN paper (Karras et al., 2018,
  section 5 and their ``metrics/sliced_wasserstein.py``): 128 random patches per image
  and level, each patch set normalised per colour channel, 4 repeats of 128 random
  unit directions (512 in all); the distance of each level is the mean absolute
  difference of the sorted projections. Reported, as in the paper's tables, times
  1,000, per level (``swd_64``, ``swd_32``, ``swd_16`` for 64x64 images: fine
  detail to coarse layout) and averaged (``swd``).
- :func:`frechet_distance` and :func:`kernel_distance`: the Fréchet distance between
  Gaussians fitted to two sets of feature vectors (FID's formula) and the unbiased
  squared MMD with a cubic polynomial kernel (KID's formula). The features come
  from any network; the faces use a CIFAR-10 classifier the project trains itself
  (see :mod:`zoo.faces.features`), since Inception weights cannot be downloaded here.

A number alone means little: :func:`distance_report` gives each distance beside a
floor (two disjoint real samples) and ceilings (noise, shuffled pixels).

Example:
    >>> rng = np.random.default_rng(0)
    >>> real = rng.uniform(size=(64, 32, 32, 3))
    >>> sliced_wasserstein(real, real)["swd"]
    0.0
"""

import numpy as np

# The binomial approximation of a Gaussian that ProGAN's pyramid uses.
_GAUSSIAN_TAPS = np.array([1.0, 4.0, 6.0, 4.0, 1.0]) / 16.0


def _filter_axis(images, axis, taps):
    """Convolve along ``axis`` (1 = rows, 2 = columns) with reflected borders."""
    radius = len(taps) // 2
    pad = [(0, 0)] * images.ndim
    pad[axis] = (radius, radius)
    padded = np.pad(images, pad, mode="reflect")
    length = images.shape[axis]
    result = np.zeros_like(images)
    for offset, weight in enumerate(taps):
        result += weight * np.take(padded, np.arange(offset, offset + length), axis=axis)
    return result


def _blur(images, gain=1.0):
    return _filter_axis(_filter_axis(images, 1, _GAUSSIAN_TAPS * gain), 2, _GAUSSIAN_TAPS * gain)


def _downsample(images):
    return _blur(images)[:, ::2, ::2]


def _upsample(images, shape):
    upsampled = np.zeros((images.shape[0], shape[1], shape[2], images.shape[3]), images.dtype)
    upsampled[:, ::2, ::2] = images
    # Zero insertion keeps a quarter of the samples, so the blur gains 2 per axis.
    return _blur(upsampled, gain=2.0)


def laplacian_pyramid(images, levels):
    """The Laplacian pyramid of a batch: band-pass levels from fine to coarse, then
    the low-pass residual.

    Args:
        images: (N, H, W, C) float array.
        levels: number of levels; level ``k`` has size ``H / 2**k``.

    Returns:
        A list of ``levels`` float32 arrays; summing each level with the upsampled
        coarser ones rebuilds the images.

    Example:
        >>> [level.shape for level in laplacian_pyramid(np.zeros((2, 16, 16, 3)), 3)]
        [(2, 16, 16, 3), (2, 8, 8, 3), (2, 4, 4, 3)]
    """
    current = np.asarray(images, np.float32)
    pyramid = []
    for _ in range(levels - 1):
        smaller = _downsample(current)
        pyramid.append(current - _upsample(smaller, current.shape))
        current = smaller
    pyramid.append(current)
    return pyramid


def pyramid_levels(size, smallest=16):
    """The ProGAN levels for square images of ``size``: size, size/2, ... down to 16.

    Example:
        >>> pyramid_levels(64)
        [64, 32, 16]
    """
    levels = []
    while size >= smallest:
        levels.append(size)
        size //= 2
    return levels or [size]


def _patches(level, patches_per_image, patch_size, rng):
    """Random ``patch_size`` squares of every image, normalised per colour channel."""
    count, height, width, channels = level.shape
    size = min(patch_size, height, width)
    rows = rng.integers(0, height - size + 1, (count, patches_per_image))
    columns = rng.integers(0, width - size + 1, (count, patches_per_image))
    span = np.arange(size)
    patches = level[
        np.arange(count)[:, None, None, None],
        (rows[:, :, None] + span)[:, :, :, None],
        (columns[:, :, None] + span)[:, :, None, :],
    ]  # (N, P, size, size, C)
    patches = patches.reshape(-1, size, size, channels).astype(np.float32)
    mean = patches.mean(axis=(0, 1, 2), keepdims=True, dtype=np.float64)
    std = np.sqrt(np.mean(np.square(patches - mean.astype(np.float32)), axis=(0, 1, 2), keepdims=True,
                          dtype=np.float64))
    patches = (patches - mean.astype(np.float32)) / (std.astype(np.float32) + 1e-8)
    return patches.reshape(len(patches), -1)


def _sorted_projections(descriptors, directions):
    # (directions, descriptors), so that each sort runs over contiguous memory.
    return np.sort(directions.T @ descriptors.T, axis=1)


def sliced_wasserstein_many(
    reference, candidates, patches_per_image=128, patch_size=7, directions_per_repeat=128, repeats=4, seed=0,
):
    """ProGAN's Sliced Wasserstein Distance from one reference set to several sets, times 1,000.

    The reference's patches and sorted projections are computed once and shared, and
    the sorts (most of the cost) run in threads (numpy releases the GIL while sorting).

    Args:
        reference: (N, H, W, C) images, floats in [0, 1] or uint8 (the scale does not
            matter: patches are normalised per channel).
        candidates: ``{name: images}``, each of the reference's shape.
        patches_per_image: random patches per image and level (ProGAN: 128).
        patch_size: the patch side (ProGAN: 7).
        directions_per_repeat: random projection directions per repeat (ProGAN: 128).
        repeats: repeats with fresh directions, averaged (ProGAN: 4).
        seed: the seed of patch positions and directions, shared by all sets (common
            random numbers: less noise, and a set is at distance 0 from itself); the
            metric is deterministic.

    Returns:
        ``{name: {"swd_<size>": ..., "swd": mean over levels}}``, each times 1,000.

    Raises:
        ValueError: a set differs from the reference in shape or count, or is not a
            batch of images.
    """
    import concurrent.futures
    import os

    def as_float(images, name):
        images = np.asarray(images)
        if images.ndim != 4 or images.shape != reference_shape:
            raise ValueError(
                f"{name} must be an image batch of the reference's shape {reference_shape}; received {images.shape}"
            )
        return images / np.float32(255.0) if images.dtype == np.uint8 else images.astype(np.float32)

    reference_shape = np.shape(reference)
    if len(reference_shape) != 4:
        raise ValueError(f"reference must be an image batch (N, H, W, C); received shape {reference_shape}")
    names = list(candidates)
    sets = [as_float(reference, "reference")] + [as_float(candidates[name], name) for name in names]
    sizes = pyramid_levels(reference_shape[1])
    pyramids = [laplacian_pyramid(images, len(sizes)) for images in sets]
    distances = {name: {} for name in names}
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        for index, size in enumerate(sizes):
            descriptors = [
                _patches(pyramid[index], patches_per_image, patch_size, np.random.default_rng([seed, index]))
                for pyramid in pyramids
            ]
            rng = np.random.default_rng([seed, index, 1])
            per_repeat = {name: [] for name in names}
            for _ in range(repeats):
                directions = rng.standard_normal((descriptors[0].shape[1], directions_per_repeat)).astype(np.float32)
                directions /= np.linalg.norm(directions, axis=0, keepdims=True)
                projected = list(pool.map(_sorted_projections, descriptors, [directions] * len(descriptors)))
                for name, candidate in zip(names, projected[1:]):
                    per_repeat[name].append(float(np.mean(np.abs(projected[0] - candidate))))
            for name in names:
                distances[name][f"swd_{size}"] = 1e3 * float(np.mean(per_repeat[name]))
    for name in names:
        distances[name]["swd"] = float(np.mean([distances[name][f"swd_{size}"] for size in sizes]))
    return distances


def sliced_wasserstein(first, second, **options):
    """ProGAN's Sliced Wasserstein Distance between two image sets, times 1,000.

    Args:
        first: (N, H, W, C) images, floats in [0, 1] or uint8.
        second: images of the same shape and count.
        **options: see :func:`sliced_wasserstein_many`.

    Returns:
        ``{"swd_<size>": ..., "swd": mean over levels}`` for each pyramid level
        (``swd_64`` fine detail ... ``swd_16`` coarse layout for 64x64 images).

    Example:
        >>> rng = np.random.default_rng(0)
        >>> a, b = rng.uniform(size=(2, 8, 16, 16, 3))
        >>> sorted(sliced_wasserstein(a, b))
        ['swd', 'swd_16']
    """
    return sliced_wasserstein_many(first, {"second": second}, **options)["second"]


def _check_features(first, second):
    first, second = np.asarray(first, np.float64), np.asarray(second, np.float64)
    if first.ndim != 2 or second.ndim != 2 or first.shape[1] != second.shape[1]:
        raise ValueError(
            f"features must be two (N, D) arrays with the same D; received {first.shape} and {second.shape}"
        )
    if len(first) < 2 or len(second) < 2:
        raise ValueError(f"need at least 2 feature vectors per set; received {len(first)} and {len(second)}")
    return first, second


def frechet_distance(first, second):
    """The Fréchet distance between Gaussians fitted to two sets of feature vectors.

    ``|mu1 - mu2|^2 + tr(C1 + C2 - 2 (C1 C2)^(1/2))`` (Heusel et al., 2017). The trace
    of the matrix square root is computed as the sum of square roots of the
    eigenvalues of ``C1^(1/2) C2 C1^(1/2)``, which is symmetric, so only ``eigh`` is
    needed (no scipy).

    Args:
        first: (N, D) features.
        second: (M, D) features.

    Returns:
        float, >= 0 up to rounding.

    Example:
        >>> features = np.random.default_rng(0).normal(size=(500, 4))
        >>> round(frechet_distance(features, features), 6)
        0.0
    """
    first, second = _check_features(first, second)
    mean_gap = first.mean(axis=0) - second.mean(axis=0)
    first_covariance = np.atleast_2d(np.cov(first, rowvar=False))
    second_covariance = np.atleast_2d(np.cov(second, rowvar=False))
    eigenvalues, eigenvectors = np.linalg.eigh(first_covariance)
    first_root = (eigenvectors * np.sqrt(np.clip(eigenvalues, 0, None))) @ eigenvectors.T
    middle = first_root @ second_covariance @ first_root
    cross_trace = np.sum(np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), 0, None)))
    distance = mean_gap @ mean_gap + np.trace(first_covariance) + np.trace(second_covariance) - 2 * cross_trace
    return float(max(distance, 0.0))


def kernel_distance(first, second, subsets=10, subset_size=1000, seed=0):
    """KID's unbiased squared MMD with the kernel ``(x.y / D + 1)^3``, averaged over
    random subsets (Binkowski et al., 2018), times 1,000.

    Unlike the Fréchet distance it has no bias that depends on the sample size, so
    small samples compare fairly; it can be slightly negative for identical
    distributions.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> abs(kernel_distance(rng.normal(size=(400, 8)), rng.normal(size=(400, 8)))) < 1
        True
    """
    first, second = _check_features(first, second)
    size = min(subset_size, len(first), len(second))
    dimension = first.shape[1]
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(subsets):
        x = first[rng.choice(len(first), size, replace=False)]
        y = second[rng.choice(len(second), size, replace=False)]
        kxx = (x @ x.T / dimension + 1) ** 3
        kyy = (y @ y.T / dimension + 1) ** 3
        kxy = (x @ y.T / dimension + 1) ** 3
        within = (kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (size * (size - 1))
        values.append(within - 2 * kxy.mean())
    return 1e3 * float(np.mean(values))


def shuffled_pixels(images, seed=0):
    """Each image with its pixels (colour triplets) permuted: the colour histogram of
    real images without any structure, a ceiling for the distances."""
    images = np.asarray(images)
    rng = np.random.default_rng(seed)
    count, height, width, channels = images.shape
    flat = images.reshape(count, height * width, channels)
    order = np.argsort(rng.random((count, height * width)), axis=1)
    return np.take_along_axis(flat, order[:, :, None], axis=1).reshape(images.shape)


def gaussian_noise(like, seed=0):
    """Gaussian noise with the per-channel mean and standard deviation of ``like``
    (images in [0, 1]), clipped to [0, 1]: another ceiling."""
    like = np.asarray(like)
    like = like / np.float32(255.0) if like.dtype == np.uint8 else like.astype(np.float32)
    mean = like.mean(axis=(0, 1, 2))
    std = like.std(axis=(0, 1, 2))
    noise = np.random.default_rng(seed).standard_normal(like.shape).astype(np.float32) * std + mean
    return np.clip(noise, 0.0, 1.0)


def distance_report(real, generated, reference, features=None, seed=0):
    """Distances from held-out real faces to generated ones, with a floor and ceilings.

    - floor: ``reference``, real faces disjoint from ``real``, as many: what a perfect
      generator would score at this sample size;
    - ``ceiling_noise``: Gaussian noise with the real faces' per-channel mean and
      standard deviation;
    - ``ceiling_shuffled``: ``reference`` with each image's pixels shuffled (real
      colours, no structure).

    ``*_relative`` places the model between the floor (0) and the nearer ceiling
    (1): below 0.5 the model is closer to real faces than to the ceiling.

    Args:
        real: (N, S, S, 3) real faces, uint8.
        generated: (N, S, S, 3) generated faces, floats in [0, 1].
        reference: (N, S, S, 3) other real faces, uint8.
        features: a :class:`zoo.faces.features.FeatureNetwork` (any callable from
            images to (N, D) features) for ``frechet`` and ``kid``; SWD only if None.
        seed: the seed of the noise, shuffles and SWD directions.

    Returns:
        A flat dict: ``swd``, ``swd_64``/``swd_32``/``swd_16``, ``swd_floor``,
        ``swd_ceiling_noise``, ``swd_ceiling_shuffled``, ``swd_relative`` (the SWD times
        1,000, ProGAN's unit), the same for ``frechet`` and ``kid`` (KID times 1,000)
        when ``features`` is given, and ``eval_images``.
    """
    count = min(len(real), len(generated), len(reference))
    real, generated, reference = real[:count], generated[:count], reference[:count]
    comparisons = {
        "model": generated,
        "floor": reference,
        "ceiling_noise": gaussian_noise(real, seed),
        "ceiling_shuffled": shuffled_pixels(reference, seed),
    }
    result = {"eval_images": int(count)}

    def place(metric, values):
        result[metric] = values["model"]
        for name in ("floor", "ceiling_noise", "ceiling_shuffled"):
            result[f"{metric}_{name}"] = values[name]
        ceiling = min(values["ceiling_noise"], values["ceiling_shuffled"])
        span = ceiling - values["floor"]
        result[f"{metric}_relative"] = (values["model"] - values["floor"]) / span if span > 0 else float("nan")

    scores = distances(real, comparisons, features, seed)
    place("swd", {name: values["swd"] for name, values in scores.items()})
    result.update({key: value for key, value in scores["model"].items() if key.startswith("swd_")})
    if features is not None:
        for metric in ("frechet", "kid"):
            place(metric, {name: values[metric] for name, values in scores.items()})
    return result


def distances(real, comparisons, features=None, seed=0):
    """``{name: {swd, swd_64, ... (and frechet, kid given features)}}`` of each named
    image set against the ``real`` faces; the scores behind :func:`distance_report`."""
    scores = sliced_wasserstein_many(real, comparisons, seed=seed)
    if features is not None:
        real_features = features(real)
        for name, images in comparisons.items():
            image_features = features(images)
            scores[name]["frechet"] = frechet_distance(real_features, image_features)
            scores[name]["kid"] = kernel_distance(real_features, image_features, seed=seed)
    return scores
