"""A photograph brought to the scale a network learned, and its probability map back, in TF ops.

A network learns vessels at the scale of its training photographs: their field of view (FOV)
is about as many pixels across as theirs was (DRIVE: about 540). A photograph from another
camera is resampled by ``factor = learned diameter / its FOV diameter`` before prediction,
and the map is resampled back to the photograph's own grid. The same ops run eagerly (the
``vesselnet`` commands, LiteRT on the host) and inside the exported SavedModel graph, so both
resample identically.

- Shrinking (``factor < 1``): area averaging, which does not alias thin vessels.
- Enlarging: bicubic, clipped to the photograph's range.
- The FOV: resampled as a fraction of FOV per pixel (area or bilinear), kept where >= 0.5.
- Back to the photograph: bilinear.

Example:
    >>> small, small_fov = resample_photograph(image, fov, 0.587)  # CHASE_DB1 -> DRIVE scale
    >>> probability = resample_map(small_probability, image.shape[:2])
"""

from __future__ import annotations

import tensorflow as tf

SHRINK_METHOD = "area"
ENLARGE_METHOD = "bicubic"
BACK_METHOD = "bilinear"


def scaled_size(height, width, factor):
    """``(round(height * factor), round(width * factor))``, each at least 1, as int32 tensors."""
    factor = tf.cast(factor, tf.float32)
    sides = tf.cast(tf.round(tf.cast(tf.stack([height, width]), tf.float32) * factor), tf.int32)
    return tf.maximum(sides, 1)


def _resize(image, size, factor):
    """``image [H, W, C]`` float32 resized to ``size``: area when shrinking, else bicubic."""
    return tf.cond(tf.cast(factor, tf.float32) < 1.0,
                   lambda: tf.image.resize(image, size, method=SHRINK_METHOD),
                   lambda: tf.image.resize(image, size, method=ENLARGE_METHOD))


def resample_photograph(image, fov, factor):
    """A photograph and its FOV resampled by ``factor`` (both sides).

    Args:
        image: RGB photograph ``[H, W, 3]`` (uint8, or float in 0..255); H, W may be unknown.
        fov: its field of view, bool ``[H, W]``.
        factor: the scale factor (> 0): a Python number or a scalar tensor.

    Returns:
        ``(image, fov)``: uint8 ``[h, w, 3]`` rounded and clipped to 0..255, and bool ``[h, w]``.
    """
    image = tf.convert_to_tensor(image)
    fov = tf.convert_to_tensor(fov)
    size = scaled_size(tf.shape(image)[0], tf.shape(image)[1], factor)
    resized = _resize(tf.cast(image, tf.float32), size, factor)
    resized = tf.cast(tf.round(tf.clip_by_value(resized, 0.0, 255.0)), tf.uint8)
    share = _resize(tf.cast(fov, tf.float32)[..., None], size, factor)[..., 0]
    return resized, share >= 0.5


def resample_map(probability, size):
    """A probability map ``[h, w]`` resampled bilinearly to ``size`` ``(H, W)``, clipped to
    [0, 1]."""
    probability = tf.convert_to_tensor(probability, tf.float32)
    resized = tf.image.resize(probability[..., None], size, method=BACK_METHOD)[..., 0]
    return tf.clip_by_value(resized, 0.0, 1.0)


def resample_share(mask, factor):
    """A mask ``[H, W]`` resampled by ``factor`` as the share of mask in each new pixel.

    The photograph's rule (area averaging when shrinking, bicubic when enlarging), so the
    share follows the resampled photograph's edges; thresholding it at 0.5 gives the mask at
    the new scale (``resample_photograph`` does so for the FOV).

    Args:
        mask: bool (or 0/1) ``[H, W]``; H, W may be unknown.
        factor: the scale factor (> 0): a Python number or a scalar tensor.

    Returns:
        float32 ``[h, w]`` of ``scaled_size(H, W, factor)``, clipped to [0, 1].

    Example:
        >>> vessels = resample_share(record.vessels, 0.5) >= 0.5
    """
    mask = tf.cast(tf.convert_to_tensor(mask), tf.float32)
    size = scaled_size(tf.shape(mask)[0], tf.shape(mask)[1], factor)
    return tf.clip_by_value(_resize(mask[..., None], size, factor)[..., 0], 0.0, 1.0)
