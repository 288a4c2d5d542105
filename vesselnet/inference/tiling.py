"""Overlap-tile prediction in TensorFlow ops (Ronneberger et al. 2015, U-Net, Fig. 2).

The image is mirrored at its borders so every output pixel gets a full input context; output
tiles lie on a grid with a chosen overlap, each read from an input tile larger by the
valid-padding margin; tiles go through the network ``batch_size`` at a time inside a
``tf.while_loop``, and the outputs are blended with a smooth window into one ``[H, W]``
accumulator. Everything is TF ops on the dynamic shape, so it runs eagerly or inside a
``tf.function`` / SavedModel signature taking images of any size.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from vesselnet.core.checks import check_int, is_int
from vesselnet.inference.geometry import TileGeometry

WINDOWS = ("cosine", "uniform")
WINDOW_FLOOR = 1e-3  # the blending window never reaches 0: border pixels keep a weight


def mirror_pad(image: tf.Tensor, top, bottom, left, right) -> tf.Tensor:
    """Reflect-pad ``[H, W, C]`` by any amount, also more than ``size - 1``.

    ``tf.pad(mode="REFLECT")`` cannot pad more than ``size - 1``; this gathers the periodic
    mirror extension (period ``2 * (size - 1)``), which equals reflecting again and again.
    Same convention as ``numpy.pad(mode="reflect")`` (the edge pixel is not repeated).

    Example:
        >>> mirror_pad(tf.reshape(tf.range(3.0), [1, 3, 1]), 0, 0, 4, 0)[0, :, 0].numpy()
        array([0., 1., 2., 1., 0., 1., 2.], dtype=float32)
    """
    shape = tf.shape(image)
    rows = _reflect_indices(shape[0], top, bottom)
    columns = _reflect_indices(shape[1], left, right)
    return tf.gather(tf.gather(image, rows, axis=0), columns, axis=1)


def _reflect_indices(size, before, after):
    indices = tf.range(-before, size + after)
    period = tf.maximum(2 * (size - 1), 1)
    indices = tf.math.floormod(indices, period)
    return tf.where(indices >= size, period - indices, indices)


def blend_window(size: int, window: str = "cosine") -> np.ndarray:
    """1-D weights of an output tile; tiles are weighted by the outer product of two.

    ``"cosine"``: a raised cosine (Hann) at pixel centres, lifted to a floor of
    ``WINDOW_FLOOR`` so it never reaches 0: a pixel covered by one tile only (image border, no
    overlap) keeps its prediction after normalisation. ``"uniform"``: plain averaging.

    Example:
        >>> blend_window(4).round(3)
        array([0.147, 0.854, 0.854, 0.147], dtype=float32)
    """
    if window not in WINDOWS:
        raise ValueError(f"window must be one of {WINDOWS}, got {window!r}")
    if window == "uniform":
        return np.ones(size, np.float32)
    hann = np.sin(np.pi * (np.arange(size) + 0.5) / size) ** 2
    return (WINDOW_FLOOR + (1 - WINDOW_FLOOR) * hann).astype(np.float32)


def tile_step(tile: int, overlap: int, alignment: int = 1) -> int:
    """Distance between tile starts: ``tile - overlap`` rounded down to a multiple of
    ``alignment`` (the overlap only grows), or ``tile - overlap`` when that is below it."""
    if not is_int(overlap) or not 0 <= overlap < tile:
        raise ValueError(f"overlap must be an integer in [0, {tile}) (the output tile), "
                         f"got {overlap!r}")
    step = tile - overlap
    return step - step % alignment if step >= alignment else step


def tile_count(size, tile: int, step: int):
    """Tiles along an axis of ``size`` pixels (works on ints and scalar tensors)."""
    return 1 + tf.maximum(0, (size - tile + step - 1) // step)


def check_context(context: int, geometry: TileGeometry) -> None:
    """Raise ValueError unless ``context`` leaves at least one output pixel per tile."""
    if not is_int(context) or not 0 <= 2 * context < geometry.output_size:
        raise ValueError(f"context must be an integer in [0, {(geometry.output_size + 1) // 2})"
                         f" for output tiles of {geometry.output_size}, got {context!r}")


def overlap_tile_predict_tf(model_fn, image, geometry: TileGeometry, overlap: int,
                            batch_size: int, *, context: int = 0,
                            window: str = "cosine", on_batch=None) -> tf.Tensor:
    """Predict a whole image ``[H, W, C]`` of any size tile by tile, in TensorFlow ops.

    Output tiles of ``geometry.output_size - 2 * context`` pixels start at multiples of
    :func:`tile_step` (aligned to the pooling period); the grid covers the image and runs into
    the mirror-padded border. Each input tile is larger by ``geometry.margin + context`` per
    side. Tiles are read from the padded image and predicted ``batch_size`` at a time in a
    ``tf.while_loop``; the window-weighted outputs are added into one float32 accumulator and
    divided by the summed weights (separable, so one row and one column vector). Memory: the
    padded image, the accumulator and one batch of activations.

    Args:
        model_fn: tiles ``[B, I, I, C]`` -> vessel probability ``[B, T, T]`` (float), with
            ``I, T`` from ``geometry``; e.g. a Keras model followed by
            :func:`~vesselnet.inference.outputs.vessel_probability`.
        image: float32 ``[H, W, C]``; H and W may be unknown (``None``) when traced.
        geometry: the network's :class:`TileGeometry`.
        overlap: minimum overlap of neighbouring output tiles, in ``[0, tile)``.
        batch_size: tiles per network call.
        context: output pixels dropped on each side of every tile (useful with same padding,
            where tile borders see zero padding inside the network). Defaults to 0.
        window: ``"cosine"`` or ``"uniform"``, see :func:`blend_window`. Defaults to
            ``"cosine"``.
        on_batch: a Python function called as ``on_batch(tiles_done, tiles_total)`` after
            each network call (through ``tf.py_function``, so not for exported graphs).
            Defaults to None.

    Returns:
        float32 ``[H, W]``: the blended vessel probability.

    Example:
        >>> model_fn = lambda tiles: vessel_probability(model(tiles), "log_softmax")
        >>> overlap_tile_predict_tf(model_fn, image, tile_geometry(model), 32, 4).shape
        TensorShape([584, 565])
    """
    check_context(context, geometry)
    check_int("batch_size", batch_size, 1)
    tile = geometry.output_size - 2 * context
    step = tile_step(tile, overlap, geometry.alignment)
    margin = geometry.margin + context
    inputs = geometry.input_size
    image = tf.convert_to_tensor(image, tf.float32)
    channels = image.shape[-1]
    if image.shape.rank != 3 or channels is None:
        raise ValueError(f"image must be [H, W, C] with a known C, got shape {image.shape}")
    height, width = tf.shape(image)[0], tf.shape(image)[1]
    rows, columns = tile_count(height, tile, step), tile_count(width, tile, step)
    padded_height, padded_width = (rows - 1) * step + tile, (columns - 1) * step + tile
    padded = mirror_pad(image, margin, margin + padded_height - height,
                        margin, margin + padded_width - width)

    starts_y = tf.repeat(tf.range(rows) * step, columns)
    starts_x = tf.tile(tf.range(columns) * step, [rows])
    tiles_total = rows * columns
    weights_1d = blend_window(tile, window)
    weights_2d = tf.constant(np.outer(weights_1d, weights_1d))
    offsets = tf.range(tile)

    def read_tile(start):
        return tf.slice(padded, [start[0], start[1], 0], [inputs, inputs, channels])

    def predict_batch(first, accumulator):
        last = tf.minimum(first + batch_size, tiles_total)
        starts = tf.stack([starts_y[first:last], starts_x[first:last]], axis=1)
        tiles = tf.map_fn(read_tile, starts, fn_output_signature=tf.TensorSpec(
            [inputs, inputs, channels], tf.float32))
        probability = tf.cast(model_fn(tiles), tf.float32)
        if context:
            probability = probability[:, context:context + tile, context:context + tile]
        count = last - first
        rows_index = tf.broadcast_to((starts[:, 0:1] + offsets)[:, :, None], [count, tile, tile])
        columns_index = tf.broadcast_to((starts[:, 1:2] + offsets)[:, None, :],
                                        [count, tile, tile])
        indices = tf.stack([rows_index, columns_index], axis=-1)
        accumulator = tf.tensor_scatter_nd_add(accumulator, indices, probability * weights_2d)
        if on_batch is not None:
            reported = tf.py_function(_reporter(on_batch), [last, tiles_total], tf.int32)
            with tf.control_dependencies([reported]):
                accumulator = tf.identity(accumulator)
        return last, accumulator

    _, accumulator = tf.while_loop(
        lambda first, _: first < tiles_total, predict_batch,
        (tf.constant(0), tf.zeros([padded_height, padded_width], tf.float32)),
        parallel_iterations=1,
    )
    row_weights = _summed_weights(rows, step, tile, weights_1d, padded_height)
    column_weights = _summed_weights(columns, step, tile, weights_1d, padded_width)
    return accumulator[:height, :width] / (row_weights[:height, None]
                                           * column_weights[None, :width])


def _reporter(on_batch):
    def report(done, total):
        on_batch(int(done), int(total))
        return np.int32(0)

    return report


def _summed_weights(count, step, tile, weights, length):
    """Sum of the 1-D windows of ``count`` tiles ``step`` apart along an axis of ``length``."""
    positions = (tf.range(count) * step)[:, None] + tf.range(tile)
    updates = tf.tile(weights[None, :], [count, 1])
    return tf.tensor_scatter_nd_add(tf.zeros([length]), tf.reshape(positions, [-1, 1]),
                                    tf.reshape(updates, [-1]))
