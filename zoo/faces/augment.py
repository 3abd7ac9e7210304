"""Differentiable augmentation (DiffAugment; Zhao et al., 2020) for GANs on small data.

A discriminator trained on 14,000 faces learns them by heart within a few epochs,
and its gradient stops telling the generator anything. Augmenting what the
discriminator sees stops that, but only if generated images are augmented too and
the generator's gradient flows through the augmentation, or the generator learns to
draw augmented faces. Every transform here is differentiable in the images and
draws its randomness per image:

- ``color``: brightness shift in [-0.5, 0.5], saturation scale in [0, 2], contrast
  scale in [0.5, 1.5] (images in [-1, 1]);
- ``translation``: a shift of up to 1/8 of the side, zero padding;
- ``cutout``: a square of half the side set to zero at a random place.

Example:
    >>> images = keras.ops.ones((2, 16, 16, 3))
    >>> diff_augment(images, ("translation",), keras.random.SeedGenerator(0)).shape
    TensorShape([2, 16, 16, 3])
"""

import keras

from zoo import errors

POLICIES = ("color", "translation", "cutout")


def parse_policy(policy):
    """``"color,translation"`` (or a tuple of names) -> a tuple of transform names; "" -> ()."""
    names = (tuple(name.strip() for name in policy.split(",") if name.strip()) if isinstance(policy, str)
             else tuple(policy))
    unknown = [name for name in names if name not in POLICIES]
    if unknown:
        raise errors.ZooError(f"augment must list some of {', '.join(POLICIES)}; received {', '.join(unknown)}")
    return names


def _uniform(shape, seed, low=0.0, high=1.0):
    return keras.random.uniform(shape, minval=low, maxval=high, seed=seed)


def _color(images, seed):
    batch = keras.ops.shape(images)[0]
    images = images + _uniform((batch, 1, 1, 1), seed, -0.5, 0.5)
    mean = keras.ops.mean(images, axis=3, keepdims=True)
    images = (images - mean) * _uniform((batch, 1, 1, 1), seed, 0.0, 2.0) + mean
    mean = keras.ops.mean(images, axis=(1, 2, 3), keepdims=True)
    return (images - mean) * _uniform((batch, 1, 1, 1), seed, 0.5, 1.5) + mean


def _translation(images, seed, ratio=0.125):
    import tensorflow as tf

    batch, height, width = tf.shape(images)[0], images.shape[1], images.shape[2]
    pad_y, pad_x = int(height * ratio + 0.5), int(width * ratio + 0.5)
    shift_y = tf.cast(tf.floor(_uniform((batch, 1), seed, 0.0, 2 * pad_y + 1)), "int32")
    shift_x = tf.cast(tf.floor(_uniform((batch, 1), seed, 0.0, 2 * pad_x + 1)), "int32")
    padded = tf.pad(images, [[0, 0], [pad_y, pad_y], [pad_x, pad_x], [0, 0]])
    rows = tf.range(height)[None, :] + shift_y
    columns = tf.range(width)[None, :] + shift_x
    # One crop per image: rows, then columns, each gathered per batch element.
    images = tf.gather(padded, rows, axis=1, batch_dims=1)
    return tf.gather(images, columns, axis=2, batch_dims=1)


def _cutout(images, seed, ratio=0.5):
    batch, height, width = keras.ops.shape(images)[0], images.shape[1], images.shape[2]
    size_y, size_x = int(height * ratio + 0.5), int(width * ratio + 0.5)
    # The square's top-left corner, so that it may hang over any edge by half its size.
    top = keras.ops.floor(_uniform((batch, 1, 1, 1), seed, 0.0, height + 1 - size_y % 2)) - size_y // 2
    left = keras.ops.floor(_uniform((batch, 1, 1, 1), seed, 0.0, width + 1 - size_x % 2)) - size_x // 2
    rows = keras.ops.reshape(keras.ops.arange(height, dtype="float32"), (1, height, 1, 1))
    columns = keras.ops.reshape(keras.ops.arange(width, dtype="float32"), (1, 1, width, 1))
    inside = (rows >= top) & (rows < top + size_y) & (columns >= left) & (columns < left + size_x)
    return images * keras.ops.cast(keras.ops.logical_not(inside), images.dtype)


_TRANSFORMS = {"color": _color, "translation": _translation, "cutout": _cutout}


def diff_augment(images, policy, seed):
    """Apply the transforms of ``policy`` (a tuple from :func:`parse_policy`) in order.

    Args:
        images: float (batch, H, W, C), the discriminator's inputs in [-1, 1].
        policy: transform names, in :data:`POLICIES`.
        seed: a ``keras.random.SeedGenerator``.

    Returns:
        The augmented images, same shape and dtype; gradients flow to ``images``.
    """
    for name in policy:
        images = _TRANSFORMS[name](images, seed)
    return images
