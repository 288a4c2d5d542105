"""Per-image intensity operations for fundus photographs, as TensorFlow ops.

Every op takes one image ``[H, W, C]`` or a batch ``[B, H, W, C]`` (statistics are always per
image: reduced over height, width and channels) and returns float32. They trace with unknown
shapes, so they run in ``tf.data.Dataset.map``, inside Keras models and in exported SavedModels.

The classic retina pipeline they make up (grayscale, data-set z-score, per-image min-max to
0..255, CLAHE, gamma, scale to [0, 1]) is the one of the retina-unet code (D. Cortinovis,
orobix/retina-unet, 2016, ``lib/pre_processing.py``) that later U-Net papers on DRIVE reuse,
among them G. Alfonso Francia et al., "Chaining a U-Net With a Residual U-Net for Retinal Blood
Vessels Segmentation", IEEE Access 8, 2020 (grayscale, min-max and z-score normalisation,
CLAHE, gamma).
"""

from __future__ import annotations

import math
import numbers

import tensorflow as tf

from vesselnet.config.preprocess import (  # noqa: F401 (re-exported: the grayscale presets)
    DEFAULT_GRAYSCALE,
    GRAYSCALE_PRESETS,
    GREEN_WEIGHTS,
    ITU_R_601_WEIGHTS,
    resolve_grayscale_weights,
)


def _as_float(image) -> tf.Tensor:
    image = tf.convert_to_tensor(image)
    if image.shape.rank not in (3, 4):
        raise ValueError(f"image must be [H, W, C] or [B, H, W, C], got shape {image.shape}")
    return tf.cast(image, tf.float32)


def _as_mask(mask, image) -> tf.Tensor:
    """Float 0/1 mask broadcastable to ``image``, from ``[.., H, W]`` or ``[.., H, W, 1]``."""
    mask = tf.convert_to_tensor(mask)
    if mask.shape.rank == image.shape.rank - 1:
        mask = mask[..., None]
    if mask.shape.rank != image.shape.rank:
        raise ValueError(f"mask of shape {mask.shape} does not fit image of shape {image.shape}")
    return tf.cast(tf.cast(mask, tf.bool), tf.float32)


def _reduce_per_image(values, mask=None):
    """Sum and count over the last three axes (H, W, C), keeping dims."""
    axes = [-3, -2, -1]
    if mask is None:
        count = tf.cast(tf.reduce_prod(tf.shape(values)[-3:]), tf.float32)
        return tf.reduce_sum(values, axes, keepdims=True), count
    weights = tf.broadcast_to(mask, tf.shape(values))
    return (
        tf.reduce_sum(values * weights, axes, keepdims=True),
        tf.reduce_sum(weights, axes, keepdims=True),
    )


def grayscale(image, weights=DEFAULT_GRAYSCALE) -> tf.Tensor:
    """Weighted sum of the RGB channels, ``[..., H, W, 3] -> [..., H, W, 1]`` float32.

    Args:
        image: RGB image ``[H, W, 3]`` or batch ``[B, H, W, 3]``, any real dtype.
        weights: preset name (``"green"``, ``"itu_r_601"``) or three weights (r, g, b).
            Defaults to ``DEFAULT_GRAYSCALE``.

    Returns:
        float32 tensor with one channel, in the input's value range.
    """
    weights = resolve_grayscale_weights(weights)
    image = _as_float(image)
    if image.shape[-1] not in (None, 3):
        raise ValueError(f"grayscale needs 3 channels (RGB), got shape {image.shape}")
    kernel = tf.constant(weights, tf.float32)
    return tf.reduce_sum(image * kernel, axis=-1, keepdims=True)


def minmax_normalize(image, low=0.0, high=1.0, mask=None) -> tf.Tensor:
    """Per-image linear rescale so that the minimum becomes ``low`` and the maximum ``high``.

    Args:
        image: ``[H, W, C]`` or ``[B, H, W, C]``.
        low: value of the image minimum. Defaults to 0.0.
        high: value of the image maximum. Defaults to 1.0.
        mask: optional ``[.., H, W]`` or ``[.., H, W, 1]`` mask (e.g. the FOV); minimum and
            maximum are then taken inside it (pixels outside may fall outside [low, high]).

    Returns:
        float32 tensor of the input shape; a constant image maps to ``low``.
    """
    image = _as_float(image)
    axes = [-3, -2, -1]
    if mask is None:
        minimum = tf.reduce_min(image, axes, keepdims=True)
        maximum = tf.reduce_max(image, axes, keepdims=True)
    else:
        inside = tf.broadcast_to(_as_mask(mask, image), tf.shape(image)) > 0
        minimum = tf.reduce_min(tf.where(inside, image, math.inf), axes, keepdims=True)
        maximum = tf.reduce_max(tf.where(inside, image, -math.inf), axes, keepdims=True)
        minimum = tf.where(tf.math.is_finite(minimum), minimum, 0.0)
        maximum = tf.where(tf.math.is_finite(maximum), maximum, 0.0)
    unit = tf.math.divide_no_nan(image - minimum, maximum - minimum)
    return low + unit * (high - low)


def zscore_normalize(image, mean=None, std=None, mask=None, epsilon=1e-6) -> tf.Tensor:
    """``(image - mean) / std`` with per-image or given (data-set) statistics.

    Args:
        image: ``[H, W, C]`` or ``[B, H, W, C]``.
        mean: data-set mean (e.g. from ``fit_statistics``), or None for the image's own mean.
        std: data-set standard deviation, or None for the image's own (population) std.
            Give both or neither.
        mask: optional FOV mask; per-image statistics are then computed inside it.
        epsilon: lower bound on the std, so a constant image does not divide by zero.
            Defaults to 1e-6.

    Returns:
        float32 tensor of the input shape.
    """
    if (mean is None) != (std is None):
        raise ValueError(f"give both mean and std or neither, got mean={mean!r}, std={std!r}")
    if std is not None and not std > 0:
        raise ValueError(f"std must be > 0, got {std!r}")
    image = _as_float(image)
    if mean is None:
        weights = None if mask is None else _as_mask(mask, image)
        total, count = _reduce_per_image(image, weights)
        mean = tf.math.divide_no_nan(total, count)
        squares, _ = _reduce_per_image(tf.square(image - mean), weights)
        std = tf.sqrt(tf.math.divide_no_nan(squares, count))
    return (image - mean) / tf.maximum(tf.cast(std, tf.float32), epsilon)


def adjust_gamma(image, gamma=1.2, max_value=255.0) -> tf.Tensor:
    """Gamma correction ``max_value * (image / max_value) ** (1 / gamma)``.

    ``gamma > 1`` brightens dark regions, as in retina-unet's ``adjust_gamma`` (which applies
    ``1 / gamma`` through a uint8 lookup table; here the result stays float, so it differs from
    that table by less than one grey level).

    Args:
        image: ``[H, W, C]`` or ``[B, H, W, C]`` with values in ``[0, max_value]``.
        gamma: positive gamma. Defaults to 1.2.
        max_value: top of the value range. Defaults to 255.0.

    Returns:
        float32 tensor in ``[0, max_value]``.
    """
    if isinstance(gamma, bool) or not isinstance(gamma, numbers.Real) or not gamma > 0:
        raise ValueError(f"gamma must be a positive number, got {gamma!r}")
    image = _as_float(image)
    unit = tf.clip_by_value(image / max_value, 0.0, 1.0)
    return max_value * tf.pow(unit, 1.0 / gamma)


def to_uint8(image, rounding="truncate") -> tf.Tensor:
    """Converts float grey levels to uint8 after clipping them to [0, 255].

    Args:
        image: float tensor in (about) 0..255.
        rounding: ``"truncate"`` (drop the fraction, as NumPy's ``astype(np.uint8)`` in
            retina-unet) or ``"round"`` (nearest, halves to even). Defaults to ``"truncate"``.

    Returns:
        uint8 tensor of the input shape.
    """
    if rounding not in ("truncate", "round"):
        raise ValueError(f"rounding must be 'truncate' or 'round', got {rounding!r}")
    image = tf.clip_by_value(tf.cast(image, tf.float32), 0.0, 255.0)
    image = tf.floor(image) if rounding == "truncate" else tf.round(image)
    return tf.cast(image, tf.uint8)
