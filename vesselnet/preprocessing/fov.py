"""Field of view in TensorFlow ops, for exported graphs that receive only a photograph.

:func:`derive_fov_tf` follows steps 1-3 and 5 of :func:`vesselnet.data.derive_fov` (red
channel, 5x5 median with replicated border, background and retina levels from percentiles,
threshold, the bright-corner fallback) with the same numbers (``np.percentile``'s linear
interpolation, ``np.median``, Python's half-to-even ``round`` for the corner side). Step 4, the
clean-up (largest 8-connected component, holes filled, optional erosion), has no simple TF
equivalent and is left out, so the in-graph mask can differ from ``derive_fov`` by:

- isolated bright specks outside the retina (kept here, dropped by the largest component);
- dark holes inside the retina darker than the threshold (not filled here). The threshold lies
  just above the dark surround (10 % of the way to the retina level), so vessels and the
  fovea stay above it in fundus photographs.

On the 20 DRIVE training photographs and on synthetic retinas the two masks came out
identical (the clean-up changed nothing there); ``tests/test_export.py`` checks both.
"""

from __future__ import annotations

import tensorflow as tf

CORNER_FRACTION = 1 / 20  # as vesselnet.data.fov.CORNER_FRACTION
MEDIAN_SIZE = 5


def _median_blur(plane: tf.Tensor) -> tf.Tensor:
    """``cv2.medianBlur(plane, 5)`` of a uint8 ``[H, W]`` plane (replicated border), exactly.

    The median of the 25 window values is found bit by bit, from the highest: it is the
    largest grey level ``v`` with at least 13 window values ``>= v``. Eight passes of
    comparisons are about three times faster than sorting every window.
    """
    height, width = tf.shape(plane)[0], tf.shape(plane)[1]
    half = MEDIAN_SIZE // 2
    rows = tf.clip_by_value(tf.range(-half, height + half), 0, height - 1)
    columns = tf.clip_by_value(tf.range(-half, width + half), 0, width - 1)
    padded = tf.gather(tf.gather(plane, rows, axis=0), columns, axis=1)
    window = tf.stack([padded[dy:dy + height, dx:dx + width]
                       for dy in range(MEDIAN_SIZE) for dx in range(MEDIAN_SIZE)], axis=-1)
    majority = MEDIAN_SIZE * MEDIAN_SIZE // 2 + 1
    median = tf.zeros([height, width], tf.uint8)
    for bit in (128, 64, 32, 16, 8, 4, 2, 1):
        candidate = median + bit
        count = tf.reduce_sum(tf.cast(window >= candidate[..., None], tf.uint8), axis=-1)
        median = tf.where(count >= majority, candidate, median)
    return median


def percentile(values: tf.Tensor, fraction: float) -> tf.Tensor:
    """``np.percentile(values, 100 * fraction)`` (linear interpolation) of a 1-D tensor, float64.

    Example:
        >>> percentile(tf.constant([1.0, 2.0, 3.0, 4.0]), 0.5).numpy()
        2.5
    """
    ordered = tf.sort(tf.cast(values, tf.float64))
    position = fraction * tf.cast(tf.size(ordered) - 1, tf.float64)
    below = tf.floor(position)
    weight = position - below
    low = tf.gather(ordered, tf.cast(below, tf.int32))
    high = tf.gather(ordered, tf.cast(tf.math.ceil(position), tf.int32))
    # numpy's _lerp: the same value from the nearer end, so that weight 1 gives exactly high
    return tf.where(weight >= 0.5, high - (high - low) * (1.0 - weight),
                    low + (high - low) * weight)


def derive_fov_tf(image: tf.Tensor, *, threshold_fraction: float = 0.1,
                  dark_corner_ratio: float = 0.5) -> tf.Tensor:
    """Field of view of one RGB photograph ``[H, W, 3]`` as TF ops (H, W may be unknown).

    Args:
        image: RGB photograph, uint8 (other dtypes are cast to uint8), at least 1x1.
        threshold_fraction: threshold position between background and retina levels, in
            (0, 1). Defaults to 0.1, as ``derive_fov``.
        dark_corner_ratio: corners darker than this share of the centre's median count as
            surround; else the whole image is the FOV. Defaults to 0.5, as ``derive_fov``.

    Returns:
        bool ``[H, W]``: ``derive_fov`` without its connected-component clean-up.

    Example:
        >>> fov = derive_fov_tf(synthetic_retina(seed=0).image)
        >>> fov.shape, fov.dtype
        (TensorShape([584, 565]), tf.bool)
    """
    if not 0.0 < threshold_fraction < 1.0:
        raise ValueError(f"threshold_fraction must be in (0, 1), got {threshold_fraction!r}")
    if not 0.0 < dark_corner_ratio:
        raise ValueError(f"dark_corner_ratio must be > 0, got {dark_corner_ratio!r}")
    image = tf.convert_to_tensor(image)
    if image.shape.rank != 3:
        raise ValueError(f"image must be RGB [H, W, 3], got shape {image.shape}")
    red = tf.cast(_median_blur(tf.cast(image[..., 0], tf.uint8)), tf.float32)
    height, width = tf.shape(red)[0], tf.shape(red)[1]
    shorter = tf.cast(tf.minimum(height, width), tf.float64)
    side = tf.maximum(2, tf.cast(tf.round(shorter * CORNER_FRACTION), tf.int32))
    corners = tf.concat([
        tf.reshape(red[:side, :side], [-1]), tf.reshape(red[:side, -side:], [-1]),
        tf.reshape(red[-side:, :side], [-1]), tf.reshape(red[-side:, -side:], [-1]),
    ], axis=0)
    centre = red[height // 4:height - height // 4, width // 4:width - width // 4]
    corners_median = percentile(corners, 0.5)
    centre_median = percentile(tf.reshape(centre, [-1]), 0.5)
    background = percentile(corners, 0.99)
    retina = percentile(tf.reshape(red, [-1]), 0.75)
    threshold = background + threshold_fraction * tf.maximum(retina - background, 0.0)
    bright = tf.cast(red, tf.float64) > threshold
    corners_bright = corners_median > dark_corner_ratio * centre_median
    return tf.logical_or(bright, corners_bright)
