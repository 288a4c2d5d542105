"""Random patch centres and mirror-padded patch extraction, in TensorFlow ops for ``tf.data``.

Whole preprocessed images, their labels and weights are held in memory as ONE flat pixel
table (``[sum(H * W), C + 2]``: image channels, vessel label, loss weight), so images of
different sizes need no padding to a common shape. A patch is a single ``tf.gather`` of
flat indices. Coordinates outside an image are mirrored (reflect-101, the edge pixel is not
repeated, as ``numpy.pad(mode="reflect")``), and the weight channel is set to 0 there, so a
patch centred near the border is valid but only its in-image part is learned from.

Patch centres are drawn uniformly from the field-of-view (FOV) pixels; with probability
``vessel_centre_share`` a centre is drawn from the vessel pixels inside the FOV instead
(images without FOV vessel pixels fall back to the FOV). All random draws are stateless, so a
centre is a pure function of its seed.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow as tf


@dataclasses.dataclass(frozen=True)
class PatchSource:
    """Images, labels and weights as tensors, ready for patch sampling inside ``tf.data``.

    Build it with :func:`build_patch_source`.

    Args:
        pixels: float32 ``[sum(H * W), C + 2]``: image channels, vessel label, loss weight.
        offsets: int64 ``[N]``: first row of each image in ``pixels``.
        heights: int64 ``[N]``.
        widths: int64 ``[N]``.
        fov_indices: int64, flat in-image indices of every image's FOV pixels, concatenated.
        fov_starts: int64 ``[N]``: start of each image's run in ``fov_indices``.
        fov_counts: int64 ``[N]``.
        vessel_indices: int64, flat in-image indices of vessel pixels inside the FOV.
        vessel_starts: int64 ``[N]``.
        vessel_counts: int64 ``[N]``.
        num_image_channels: ``C``.

    Example:
        >>> source = build_patch_source([image], [vessels], [weights], [fov])
        >>> row, col = sample_patch_centre(source, 0, seed=[1, 2], vessel_centre_share=0.5)
        >>> tile = extract_patch(source, 0, row, col, size=64)  # [64, 64, C + 2]
    """

    pixels: tf.Tensor
    offsets: tf.Tensor
    heights: tf.Tensor
    widths: tf.Tensor
    fov_indices: tf.Tensor
    fov_starts: tf.Tensor
    fov_counts: tf.Tensor
    vessel_indices: tf.Tensor
    vessel_starts: tf.Tensor
    vessel_counts: tf.Tensor
    num_image_channels: int

    @property
    def num_images(self) -> int:
        """Number of images."""
        return int(self.offsets.shape[0])


def _runs(index_lists: list[np.ndarray]) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    counts = np.array([len(indices) for indices in index_lists], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    flat = np.concatenate(index_lists).astype(np.int64)
    return tf.constant(flat), tf.constant(starts), tf.constant(counts)


def build_patch_source(
    images: list[np.ndarray],
    labels: list[np.ndarray],
    weights: list[np.ndarray],
    fovs: list[np.ndarray],
) -> PatchSource:
    """Stack preprocessed images with their labels and weights into a :class:`PatchSource`.

    Args:
        images: float32 ``[H, W, C]`` preprocessed images (C equal for all; sizes may differ).
        labels: vessel masks ``[H, W]`` (bool or {0, 1}).
        weights: loss weights ``[H, W]``, expected 0 outside the FOV.
        fovs: bool FOV masks ``[H, W]``; patch centres are drawn from them.

    Returns:
        The :class:`PatchSource`.

    Example:
        >>> source = build_patch_source([green / 255.0], [vessels], [fov * 1.0], [fov])
    """
    if not images:
        raise ValueError("need at least one image, got 0")
    if not len(images) == len(labels) == len(weights) == len(fovs):
        raise ValueError(
            f"got {len(images)} images, {len(labels)} labels, {len(weights)} weight maps and "
            f"{len(fovs)} FOV masks; the counts must be equal"
        )
    channels = {np.shape(image)[-1] for image in images}
    if len(channels) != 1 or any(np.ndim(image) != 3 for image in images):
        raise ValueError(
            f"images must be [H, W, C] with one C, got shapes {[np.shape(i) for i in images]}"
        )
    tables, fov_lists, vessel_lists, shapes = [], [], [], []
    for number, (image, label, weight, fov) in enumerate(zip(images, labels, weights, fovs)):
        height, width = np.shape(image)[:2]
        if height < 2 or width < 2:
            raise ValueError(f"image {number} is {height}x{width}; mirroring needs at least 2x2")
        for name, array in (("label", label), ("weight", weight), ("fov", fov)):
            if np.shape(array) != (height, width):
                raise ValueError(
                    f"image {number}: {name} has shape {np.shape(array)}, expected {(height, width)}"
                )
        fov = np.asarray(fov, dtype=bool)
        if not fov.any():
            raise ValueError(f"image {number} has an empty FOV; no patch centre can be drawn")
        label = np.asarray(label).astype(np.float32)
        table = np.concatenate(
            [np.asarray(image, np.float32), label[..., None], np.asarray(weight, np.float32)[..., None]],
            axis=-1,
        )
        tables.append(table.reshape(height * width, -1))
        fov_lists.append(np.flatnonzero(fov))
        vessel_lists.append(np.flatnonzero(fov & (label > 0.5)))
        shapes.append((height, width))
    sizes = np.array([h * w for h, w in shapes], dtype=np.int64)
    fov_indices, fov_starts, fov_counts = _runs(fov_lists)
    vessel_indices, vessel_starts, vessel_counts = _runs(vessel_lists)
    return PatchSource(
        pixels=tf.constant(np.concatenate(tables, axis=0)),
        offsets=tf.constant(np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)),
        heights=tf.constant([h for h, _ in shapes], dtype=tf.int64),
        widths=tf.constant([w for _, w in shapes], dtype=tf.int64),
        fov_indices=fov_indices,
        fov_starts=fov_starts,
        fov_counts=fov_counts,
        vessel_indices=vessel_indices,
        vessel_starts=vessel_starts,
        vessel_counts=vessel_counts,
        num_image_channels=int(channels.pop()),
    )


def reflect_coordinates(coordinates: tf.Tensor, length: tf.Tensor) -> tf.Tensor:
    """Mirror integer coordinates into ``[0, length)`` (reflect-101, any distance outside).

    Example:
        >>> reflect_coordinates(tf.constant([-2, -1, 0, 3, 4, 5]), 4).numpy().tolist()
        [2, 1, 0, 3, 2, 1]
    """
    period = 2 * (length - 1)
    folded = tf.math.floormod(coordinates, period)
    return tf.where(folded >= length, period - folded, folded)


def sample_patch_centre(
    source: PatchSource, image_index, seed, vessel_centre_share: float
) -> tuple[tf.Tensor, tf.Tensor]:
    """Draw one patch centre (row, column) inside the FOV of image ``image_index``.

    Args:
        source: the :class:`PatchSource`.
        image_index: int scalar (tensor or Python).
        seed: stateless seed, shape ``[2]`` integer.
        vessel_centre_share: probability that the centre is a vessel pixel inside the FOV.

    Returns:
        int64 scalars ``(row, col)``.
    """
    choice_seed, fov_seed, vessel_seed = tf.unstack(
        tf.random.experimental.stateless_split(seed, num=3)
    )
    vessel_count = tf.gather(source.vessel_counts, image_index)
    on_vessel = tf.logical_and(
        tf.random.stateless_uniform([], choice_seed) < vessel_centre_share, vessel_count > 0
    )
    fov_pick = tf.random.stateless_uniform(
        [], fov_seed, minval=0, maxval=tf.gather(source.fov_counts, image_index), dtype=tf.int64
    )
    vessel_pick = tf.random.stateless_uniform(
        [], vessel_seed, minval=0, maxval=tf.maximum(vessel_count, 1), dtype=tf.int64
    )
    flat = tf.where(
        on_vessel,
        tf.gather(source.vessel_indices,
                  tf.gather(source.vessel_starts, image_index) + vessel_pick),
        tf.gather(source.fov_indices, tf.gather(source.fov_starts, image_index) + fov_pick),
    )
    width = tf.gather(source.widths, image_index)
    return flat // width, flat % width


def extract_patch(source: PatchSource, image_index, centre_row, centre_col, size: int) -> tf.Tensor:
    """Cut a ``size x size`` tile whose pixel ``(size // 2, size // 2)`` is the centre.

    Outside the image the content is mirrored and the weight (last channel) is 0.

    Args:
        source: the :class:`PatchSource`.
        image_index: int scalar.
        centre_row: int scalar.
        centre_col: int scalar.
        size: tile side in pixels (Python int).

    Returns:
        float32 ``[size, size, C + 2]``.
    """
    height = tf.gather(source.heights, image_index)
    width = tf.gather(source.widths, image_index)
    steps = tf.range(size, dtype=tf.int64) - size // 2
    rows = tf.cast(centre_row, tf.int64) + steps
    cols = tf.cast(centre_col, tf.int64) + steps
    inside = tf.logical_and(
        tf.logical_and(rows >= 0, rows < height)[:, None],
        tf.logical_and(cols >= 0, cols < width)[None, :],
    )
    flat = (
        tf.gather(source.offsets, image_index)
        + reflect_coordinates(rows, height)[:, None] * width
        + reflect_coordinates(cols, width)[None, :]
    )
    tile = tf.gather(source.pixels, flat)
    channels = source.num_image_channels + 2
    tile.set_shape([size, size, channels])
    weight = tile[..., -1] * tf.cast(inside, tf.float32)
    return tf.concat([tile[..., :-1], weight[..., None]], axis=-1)


def crop_centre(tile: tf.Tensor, size: int) -> tf.Tensor:
    """Centre crop ``[S, S, K] -> [size, size, K]``; ``S - size`` must be even.

    Example:
        >>> crop_centre(tf.zeros([64, 64, 2]), 52).shape
        TensorShape([52, 52, 2])
    """
    margin = tile.shape[0] - size
    if margin < 0 or margin % 2:
        raise ValueError(f"cannot centre-crop {tile.shape[0]} to {size}: margin must be even >= 0")
    start = margin // 2
    return tile[start : start + size, start : start + size, :]
