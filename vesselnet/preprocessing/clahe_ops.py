"""The CLAHE kernel: OpenCV's 8-bit CLAHE, step for step, vectorised over planes and tiles.

Implements CLAHE (K. Zuiderveld, "Contrast Limited Adaptive Histogram Equalization",
Graphics Gems IV, 1994) exactly as OpenCV's ``cv::CLAHE::apply`` computes it for 8-bit
images (``modules/imgproc/src/clahe.cpp``, CPU path), so that a model trained on
OpenCV-preprocessed images sees the same pixels when the preprocessing runs inside the graph:

1. If the height is not a multiple of the tiles down the image *or* the width is not a
   multiple of the tiles across, the image is padded at the bottom by
   ``tiles_y - H % tiles_y`` rows and at the right by ``tiles_x - W % tiles_x`` columns
   (both sides, even the divisible one, which then gains a whole tile) with
   ``BORDER_REFLECT_101``. Tiles are ``padded_size / tiles`` pixels.
2. One 256-bin histogram per tile. With ``clip_limit > 0`` the integer limit is
   ``max(int(clip_limit * tile_area / 256), 1)``; the excess above it is redistributed as
   ``excess // 256`` to every bin plus one more to ``excess % 256`` bins spaced
   ``max(256 // residual, 1)`` apart from bin 0. ``clip_limit == 0`` disables clipping.
3. ``lut = round_half_even(float32(cumsum) * float32(255 / tile_area))``.
4. Each pixel of the unpadded image blends the LUTs of its four nearest tiles with the
   float32 weights ``t = float32(i) * float32(1 / tile_size) - 0.5`` computed as OpenCV does.

Bit-exactness holds for graph and eager execution. Under XLA (``jit_compile=True``) the float32
multiply-adds of step 4 get fused (FMA) and about one pixel in 10^5 ends one grey level off.
The checked public entry points are in ``vesselnet.preprocessing.clahe``.
"""

from __future__ import annotations

import tensorflow as tf

HISTOGRAM_BINS = 256


def _reflect_101(index, length):
    """Folds indices >= ``length`` back into ``[0, length)`` like ``cv::BORDER_REFLECT_101``."""
    period = tf.maximum(2 * (length - 1), 1)
    folded = tf.math.floormod(index, period)
    return tf.where(folded < length, folded, period - folded)


def _tile_luts(histograms, clip_limit, tile_area):
    """Clips and redistributes ``[tiles, 256]`` int32 histograms; returns float32 LUTs."""
    limit = tf.cast(
        tf.minimum(clip_limit * tf.cast(tile_area, tf.float64) / HISTOGRAM_BINS, 2.0**30),
        tf.int32,
    )
    limit = tf.where(clip_limit > 0, tf.maximum(limit, 1), 0)
    excess = tf.reduce_sum(tf.maximum(histograms - limit, 0), axis=-1, keepdims=True)
    per_bin = excess // HISTOGRAM_BINS
    residual = excess - per_bin * HISTOGRAM_BINS
    step = tf.maximum(HISTOGRAM_BINS // tf.maximum(residual, 1), 1)
    bins = tf.range(HISTOGRAM_BINS)[None, :]
    one_more = tf.logical_and(bins % step == 0, bins // step < residual)
    clipped = tf.minimum(histograms, limit) + per_bin + tf.cast(one_more, tf.int32)
    histograms = tf.where(limit > 0, clipped, histograms)
    lut_scale = tf.constant(HISTOGRAM_BINS - 1, tf.float32) / tf.cast(tile_area, tf.float32)
    cumulative = tf.cast(tf.cumsum(histograms, axis=-1), tf.float32)
    return tf.clip_by_value(tf.round(cumulative * lut_scale), 0.0, 255.0)


def _blend_weights(size, tile_size, tiles):
    """OpenCV's per-row (or per-column) tile indices and float32 bilinear weights."""
    inverse = tf.constant(1.0, tf.float32) / tf.cast(tile_size, tf.float32)
    position = tf.cast(tf.range(size), tf.float32) * inverse - 0.5
    first = tf.floor(position)
    weight = position - first
    first = tf.cast(first, tf.int32)
    second = tf.minimum(first + 1, tiles - 1)
    return tf.maximum(first, 0), second, weight, 1.0 - weight


def _pad_reflect_101(values, padded_height, padded_width):
    """Pads ``[N, H, W]`` at the bottom and right like ``cv::copyMakeBorder(BORDER_REFLECT_101)``."""
    height, width = tf.shape(values)[1], tf.shape(values)[2]
    extra_rows = _reflect_101(tf.range(height, padded_height), height)
    values = tf.concat([values, tf.gather(values, extra_rows, axis=1)], axis=1)
    extra_columns = _reflect_101(tf.range(width, padded_width), width)
    return tf.concat([values, tf.gather(values, extra_columns, axis=2)], axis=2)


def _tile_histograms(values, padded_height, padded_width, tiles_x, tiles_y):
    """``[N * tiles, 256]`` int32 histograms of the padded planes, in one ``bincount``."""
    count = tf.shape(values)[0]
    padded = _pad_reflect_101(values, padded_height, padded_width)
    tile_rows = tf.range(padded_height) // (padded_height // tiles_y)
    tile_columns = tf.range(padded_width) // (padded_width // tiles_x)
    tile_of_pixel = (tile_rows * tiles_x)[:, None] + tile_columns[None, :]
    num_tiles = tiles_x * tiles_y
    plane_offset = tf.range(count)[:, None, None] * num_tiles
    bin_index = (plane_offset + tile_of_pixel[None]) * HISTOGRAM_BINS + padded
    total_bins = count * num_tiles * HISTOGRAM_BINS
    histograms = tf.math.bincount(
        tf.reshape(bin_index, [-1]), minlength=total_bins, maxlength=total_bins, dtype=tf.int32
    )
    return tf.reshape(histograms, [count * num_tiles, HISTOGRAM_BINS])


def _blend_luts(values, luts, tile_height, tile_width, tiles_x, tiles_y):
    """Per pixel, the four nearest tiles' LUTs blended in OpenCV's float32 order:
    ``(tl * xa1 + tr * xa) * ya1 + (bl * xa1 + br * xa) * ya``."""
    shape = tf.shape(values)
    count, height, width = shape[0], shape[1], shape[2]
    ty1, ty2, ya, ya1 = _blend_weights(height, tile_height, tiles_y)
    tx1, tx2, xa, xa1 = _blend_weights(width, tile_width, tiles_x)
    plane_offset = tf.range(count)[:, None, None] * (tiles_x * tiles_y * HISTOGRAM_BINS)
    grey_level_index = plane_offset + values

    def lookup(tile_rows, tile_columns):
        tiles = (tile_rows * tiles_x * HISTOGRAM_BINS)[:, None] + tile_columns * HISTOGRAM_BINS
        return tf.gather(luts, grey_level_index + tiles[None])

    xa, xa1 = xa[None, None, :], xa1[None, None, :]
    ya, ya1 = ya[None, :, None], ya1[None, :, None]
    top = lookup(ty1, tx1) * xa1 + lookup(ty1, tx2) * xa
    bottom = lookup(ty2, tx1) * xa1 + lookup(ty2, tx2) * xa
    return top * ya1 + bottom * ya


def clahe_planes(planes, clip_limit, tiles_x, tiles_y):
    """CLAHE of a stack of uint8 planes ``[N, H, W]``, vectorised over planes and tiles.

    Args:
        planes: ``uint8`` tensor ``[N, H, W]``; every plane is equalised on its own.
        clip_limit: float64 scalar (tensor or number) >= 0, OpenCV's ``clipLimit``.
        tiles_x: int32 scalar, tiles across the width.
        tiles_y: int32 scalar, tiles down the height.

    Returns:
        ``uint8`` tensor ``[N, H, W]`` equal to OpenCV's result plane by plane.
    """
    height, width = tf.shape(planes)[1], tf.shape(planes)[2]
    divisible = tf.logical_and(height % tiles_y == 0, width % tiles_x == 0)
    padded_height = height + tf.where(divisible, 0, tiles_y - height % tiles_y)
    padded_width = width + tf.where(divisible, 0, tiles_x - width % tiles_x)
    tile_height, tile_width = padded_height // tiles_y, padded_width // tiles_x
    values = tf.cast(planes, tf.int32)
    histograms = _tile_histograms(values, padded_height, padded_width, tiles_x, tiles_y)
    luts = tf.reshape(_tile_luts(histograms, clip_limit, tile_height * tile_width), [-1])
    result = _blend_luts(values, luts, tile_height, tile_width, tiles_x, tiles_y)
    return tf.cast(tf.clip_by_value(tf.round(result), 0.0, 255.0), tf.uint8)
