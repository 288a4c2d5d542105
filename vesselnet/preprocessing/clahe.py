"""CLAHE bit-exact with OpenCV's ``cv2.createCLAHE(clip_limit, tile_grid).apply``, in TF ops.

Implements CLAHE (K. Zuiderveld, "Contrast Limited Adaptive Histogram Equalization",
Graphics Gems IV, 1994) exactly as OpenCV computes it for 8-bit images (the algorithm, step
for step, is in ``clahe_ops``). Everything is TensorFlow ops (no NumPy, no ``py_function``):
it traces with unknown height and width, runs in ``tf.data`` and inside Keras models, and
exports into a SavedModel. Only the parity reference ``clahe_reference`` calls OpenCV.

Equality with OpenCV holds in eager and graph mode (checked on CPU); under XLA
(``jit_compile=True``) fused multiply-adds move about one pixel in 10^5 by one grey level.
"""

from __future__ import annotations

import tensorflow as tf

from vesselnet.config.steps import check_clip_limit, check_tile_grid
from vesselnet.preprocessing.clahe_ops import clahe_planes


def _is_tensor(value) -> bool:
    return isinstance(value, (tf.Tensor, tf.Variable))


def check_clahe_arguments(clip_limit, tile_grid) -> None:
    """Raises ``ValueError`` (with the received value) for bad Python CLAHE arguments.

    Args:
        clip_limit: a real number >= 0 (tensors are checked at run time instead).
        tile_grid: two positive ints ``(tiles_x, tiles_y)`` (tensors are checked at run time).
    """
    if not _is_tensor(clip_limit):
        check_clip_limit(clip_limit)
    if not _is_tensor(tile_grid):
        check_tile_grid(tile_grid)


def _grid_tensors(clip_limit, tile_grid):
    clip = tf.cast(clip_limit, tf.float64)
    grid = tf.cast(tile_grid, tf.int32)
    if _is_tensor(clip_limit):
        with tf.control_dependencies([tf.debugging.assert_non_negative(clip, "clip_limit < 0")]):
            clip = tf.identity(clip)
    if _is_tensor(tile_grid):
        grid = tf.ensure_shape(grid, [2])
        with tf.control_dependencies([tf.debugging.assert_positive(grid, "tile_grid < 1")]):
            grid = tf.identity(grid)
    return clip, grid[0], grid[1]


def _check_uint8(image, name: str) -> tf.Tensor:
    image = tf.convert_to_tensor(image)
    if image.dtype != tf.uint8:
        raise ValueError(f"{name} must be uint8 (as cv2.CLAHE.apply takes), got {image.dtype.name}")
    return image


def clahe(image, clip_limit=2.0, tile_grid=(8, 8)) -> tf.Tensor:
    """CLAHE of one grey image, equal bit for bit to ``cv2.createCLAHE(...).apply``.

    Args:
        image: ``uint8`` tensor ``[H, W]`` or ``[H, W, 1]``; H and W may be unknown.
        clip_limit: OpenCV's ``clipLimit`` (>= 0; 0 disables clipping). Defaults to 2.0.
            A float64 scalar tensor is accepted too (checked at run time).
        tile_grid: ``(tiles_x, tiles_y)``, OpenCV's ``tileGridSize``: tiles across the width,
            then tiles down the height. Defaults to (8, 8). An int32 ``[2]`` tensor works too.

    Returns:
        ``uint8`` tensor of the same shape and rank as ``image``.

    Example:
        >>> out = clahe(tf.zeros([584, 565], tf.uint8), clip_limit=2.0, tile_grid=(8, 8))
    """
    check_clahe_arguments(clip_limit, tile_grid)
    image = _check_uint8(image, "image")
    rank = image.shape.rank
    if rank == 2:
        planes = image[None]
    elif rank == 3:
        if image.shape[-1] not in (None, 1):
            raise ValueError(f"image [H, W, 1] must have one channel, got shape {image.shape}")
        planes = tf.ensure_shape(image, [None, None, 1])[None, :, :, 0]
    else:
        raise ValueError(f"image must have shape [H, W] or [H, W, 1], got shape {image.shape}")
    clip, tiles_x, tiles_y = _grid_tensors(clip_limit, tile_grid)
    result = clahe_planes(planes, clip, tiles_x, tiles_y)[0]
    return result[:, :, None] if rank == 3 else result


def clahe_batch(images, clip_limit=2.0, tile_grid=(8, 8)) -> tf.Tensor:
    """CLAHE of a batch ``[B, H, W, C]``, every image and channel equalised on its own.

    Vectorised over the batch, the channels and the tiles (no ``map_fn``), so it runs inside a
    Keras model with unknown batch size, height and width.

    Args:
        images: ``uint8`` tensor ``[B, H, W, C]``.
        clip_limit: OpenCV's ``clipLimit`` (>= 0). Defaults to 2.0.
        tile_grid: ``(tiles_x, tiles_y)`` in OpenCV's order. Defaults to (8, 8).

    Returns:
        ``uint8`` tensor ``[B, H, W, C]``.

    Example:
        >>> out = clahe_batch(tf.zeros([4, 64, 64, 1], tf.uint8))
    """
    check_clahe_arguments(clip_limit, tile_grid)
    images = _check_uint8(images, "images")
    if images.shape.rank != 4:
        raise ValueError(f"images must have shape [B, H, W, C], got shape {images.shape}")
    shape = tf.shape(images)
    planes = tf.reshape(_transpose_grey_levels(images, [0, 3, 1, 2]), [-1, shape[1], shape[2]])
    clip, tiles_x, tiles_y = _grid_tensors(clip_limit, tile_grid)
    result = clahe_planes(planes, clip, tiles_x, tiles_y)
    result = tf.reshape(result, [shape[0], shape[3], shape[1], shape[2]])
    return tf.ensure_shape(_transpose_grey_levels(result, [0, 2, 3, 1]), images.shape)


def _transpose_grey_levels(images: tf.Tensor, perm: list[int]) -> tf.Tensor:
    """``tf.transpose`` of uint8 grey levels, done in float32: TF 2.21's oneDNN transpose of
    uint8 (and int32) prints an "E0000 ... oneDNN supports DT_UINT8 only ..." line; float32
    holds every grey level exactly."""
    return tf.cast(tf.transpose(tf.cast(images, tf.float32), perm), tf.uint8)


def clahe_reference(np_image, clip_limit=2.0, tile_grid=(8, 8)):
    """OpenCV's CLAHE on a NumPy ``uint8`` image ``[H, W]`` or ``[H, W, 1]`` (for parity tests).

    Args:
        np_image: ``uint8`` NumPy array.
        clip_limit: OpenCV's ``clipLimit``. Defaults to 2.0.
        tile_grid: ``(tiles_x, tiles_y)``, OpenCV's ``tileGridSize``. Defaults to (8, 8).

    Returns:
        ``uint8`` NumPy array of the same shape as ``np_image``.
    """
    import cv2  # Only the reference path needs OpenCV.

    check_clahe_arguments(clip_limit, tile_grid)
    if np_image.dtype.name != "uint8" or np_image.ndim not in (2, 3):
        raise ValueError(
            f"np_image must be uint8 [H, W] or [H, W, 1], got {np_image.dtype} {np_image.shape}"
        )
    equaliser = cv2.createCLAHE(clipLimit=float(clip_limit), tileGridSize=tuple(tile_grid))
    result = equaliser.apply(np_image.reshape(np_image.shape[:2]))
    return result.reshape(np_image.shape)
