"""Geometric and photometric augmentation of stacked (image, label, weight) tiles in TF ops.

Image, vessel label and weight (which is 0 outside the FOV) travel as channels of ONE tile,
and one sampling grid moves them all: a random element of the square's symmetry group (flips,
90-degree rotations), a small rotation, a random zoom (``scale_jitter``: magnified by a factor
in ``1 +- scale_jitter``, as if the photograph had been resampled by it) and an elastic
deformation are composed into a single map from output pixels to source coordinates, applied
in one resampling pass. The
deformation follows Simard, Steinkraus and Platt, "Best practices for convolutional neural
networks applied to visual document analysis" (ICDAR 2003): white noise smoothed by a
Gaussian of width ``elastic_sigma``, here rescaled so each displacement component has
standard deviation ``elastic_alpha`` pixels. Ronneberger et al. (U-Net, 2015) used elastic
deformations the same way.

Interpolation: image channels bilinear; label and weight nearest-neighbour, so labels stay
exactly {0, 1} and weights keep their values (no thresholding). Flips and 90-degree rotations
land on integer coordinates and are exact.

To avoid blank corners, the caller cuts a larger region (:meth:`AugmentConfig.region_size`)
around the patch centre; the transform is sampled on the centred output grid and never
leaves that region. Photometric jitter (gamma, contrast, brightness, in that order) touches
the image channels only and clips them to [0, 1] (preprocessed images lie in [0, 1]). A
camera's degradations come before it: a Gaussian blur (``max_blur_sigma``, reflected at the
tile's edges) and, after the jitter, additive Gaussian noise (``max_noise_std``), each of a
strength drawn per patch from zero up, so clean patches stay among them.
"""

from __future__ import annotations

import math

import tensorflow as tf

from vesselnet.config.augment import TRUNCATE_SIGMAS, AugmentConfig

_ZOOM_STREAM = 3  # the zoom's seed is folded out of the patch seed, so that the other
# transforms draw exactly what they drew before scale_jitter existed
_BLUR_STREAM = 4  # the same for blur and noise, folded out of the colour seed
_NOISE_STREAM = 5


def _dihedral_matrix(seed, config: AugmentConfig) -> tf.Tensor:
    flip_seed, turn_seed = tf.unstack(tf.random.experimental.stateless_split(seed, num=2))
    signs = tf.ones([2])
    if config.flips:
        flips = tf.random.stateless_uniform([2], flip_seed) < 0.5
        signs = tf.where(flips, -1.0, 1.0)
    matrix = tf.linalg.diag(signs)
    if config.rot90:
        turns = tf.random.stateless_uniform([], turn_seed, minval=0, maxval=4, dtype=tf.int32)
        angle = tf.cast(turns, tf.float32) * (math.pi / 2)
        rotation = tf.round(tf.stack([[tf.cos(angle), -tf.sin(angle)],
                                      [tf.sin(angle), tf.cos(angle)]]))
        matrix = rotation @ matrix
    return matrix


def _smoothed_field(seed, size: int, config: AugmentConfig) -> tf.Tensor:
    """Displacement field ``[size, size, 2]`` with per-component std ``elastic_alpha``.

    White noise is smoothed on a grid ``spacing`` times coarser than the pixels (the
    Gaussian, sigma / spacing ~ 3 grid steps, removes everything finer than that grid anyway)
    and upsampled bilinearly: the same field statistics as full-resolution smoothing at a
    fraction of the cost (bilinear upsampling of so smooth a field lowers the std by < 2 %).
    """
    spacing = max(int(round(config.elastic_sigma / 3.0)), 1)
    sigma = config.elastic_sigma / spacing
    radius = max(int(math.ceil(TRUNCATE_SIGMAS * sigma)), 1)
    taps = tf.range(-radius, radius + 1, dtype=tf.float32)
    kernel = tf.exp(-(taps**2) / (2.0 * sigma**2))
    kernel /= tf.reduce_sum(kernel)
    coarse = -(-size // spacing) + 1
    noise = tf.random.stateless_normal([2, coarse + 2 * radius, coarse + 2 * radius, 1], seed)
    field = tf.nn.conv2d(noise, tf.reshape(kernel, [-1, 1, 1, 1]), strides=1, padding="VALID")
    field = tf.nn.conv2d(field, tf.reshape(kernel, [1, -1, 1, 1]), strides=1, padding="VALID")
    # Smoothed unit white noise has std sqrt(sum k2d^2) = sum k1d^2; rescale to alpha.
    field *= config.elastic_alpha / tf.reduce_sum(kernel**2)
    if spacing > 1:
        field = tf.image.resize(field, [coarse * spacing, coarse * spacing], method="bilinear")
    limit = TRUNCATE_SIGMAS * config.elastic_alpha
    field = tf.clip_by_value(field[:, :size, :size, 0], -limit, limit)
    return tf.transpose(field, [1, 2, 0])


def zoom_factor(seed, jitter: float) -> tf.Tensor:
    """The zoom of one patch: uniform in ``[1 - jitter, 1 + jitter]``, float32 scalar.

    Example:
        >>> float(zoom_factor([3, 4], 0.15))  # some value in [0.85, 1.15]
    """
    return tf.random.stateless_uniform([], seed, 1.0 - jitter, 1.0 + jitter)


def sample_coordinates(seed, output_size: int, region_size: int, config: AugmentConfig):
    """Source (row, col) coordinates in the region for every output pixel, ``[S, S, 2]``."""
    dihedral_seed, angle_seed, field_seed = tf.unstack(
        tf.random.experimental.stateless_split(seed, num=3)
    )
    matrix = _dihedral_matrix(dihedral_seed, config)
    if config.rotation and config.max_rotation_degrees > 0:
        limit = math.radians(config.max_rotation_degrees)
        angle = tf.random.stateless_uniform([], angle_seed, minval=-limit, maxval=limit)
        rotation = tf.stack([[tf.cos(angle), -tf.sin(angle)], [tf.sin(angle), tf.cos(angle)]])
        matrix = rotation @ matrix
    if config.scale_jitter > 0:  # a zoom by z reads source pixels 1 / z apart
        zoom_seed = tf.random.experimental.stateless_fold_in(seed, _ZOOM_STREAM)
        matrix = matrix / zoom_factor(zoom_seed, config.scale_jitter)
    steps = tf.range(output_size, dtype=tf.float32) - (output_size - 1) / 2
    rows, cols = tf.meshgrid(steps, steps, indexing="ij")
    relative = tf.stack([rows, cols], axis=-1)
    coordinates = tf.einsum("ij,hwj->hwi", matrix, relative) + (region_size - 1) / 2
    if config.elastic and config.elastic_alpha > 0:
        coordinates += _smoothed_field(field_seed, output_size, config)
    return tf.clip_by_value(coordinates, 0.0, float(region_size - 1))


def resample(region: tf.Tensor, coordinates: tf.Tensor, num_image_channels: int) -> tf.Tensor:
    """Sample ``region [R, R, K]`` at ``coordinates [S, S, 2]`` (inside ``[0, R - 1]``).

    The first ``num_image_channels`` channels are interpolated bilinearly, the others
    (label, weight) take the nearest pixel (ties at exactly .5 go to the lower index).
    """
    size = region.shape[0]
    flat = tf.reshape(region, [size * size, -1])
    top_left = tf.floor(coordinates)
    fraction = coordinates - top_left
    top_left = tf.cast(top_left, tf.int32)
    bottom_right = tf.minimum(top_left + 1, size - 1)
    row0, col0 = top_left[..., 0], top_left[..., 1]
    row1, col1 = bottom_right[..., 0], bottom_right[..., 1]
    corners = tf.stack([row0 * size + col0, row0 * size + col1,
                        row1 * size + col0, row1 * size + col1])  # [4, S, S]
    values = tf.gather(flat[:, :num_image_channels], corners)  # [4, S, S, C]
    f_row, f_col = fraction[..., 0:1], fraction[..., 1:2]
    top = values[0] + (values[1] - values[0]) * f_col
    bottom = values[2] + (values[3] - values[2]) * f_col
    blended = top + (bottom - top) * f_row
    nearest_row = tf.where(fraction[..., 0] > 0.5, row1, row0)
    nearest_col = tf.where(fraction[..., 1] > 0.5, col1, col0)
    masks = tf.gather(flat[:, num_image_channels:], nearest_row * size + nearest_col)
    return tf.concat([blended, masks], axis=-1)


def gaussian_blur(image: tf.Tensor, sigma, max_sigma: float) -> tf.Tensor:
    """``image [S, S, C]`` blurred by a Gaussian of width ``sigma`` (a scalar tensor up to
    ``max_sigma``), channel by channel, the edges reflected; ``sigma`` near 0 keeps it."""
    radius = max(1, math.ceil(TRUNCATE_SIGMAS * max_sigma))
    offsets = tf.range(-radius, radius + 1, dtype=tf.float32)
    weights = tf.exp(-0.5 * tf.square(offsets / tf.maximum(sigma, 1e-3)))
    weights /= tf.reduce_sum(weights)
    channels = image.shape[-1]
    padded = tf.pad(image[None], [[0, 0], [radius, radius], [radius, radius], [0, 0]], "REFLECT")
    rows = tf.tile(tf.reshape(weights, [-1, 1, 1, 1]), [1, 1, channels, 1])
    cols = tf.tile(tf.reshape(weights, [1, -1, 1, 1]), [1, 1, channels, 1])
    blurred = tf.nn.depthwise_conv2d(padded, rows, [1, 1, 1, 1], "VALID")
    return tf.nn.depthwise_conv2d(blurred, cols, [1, 1, 1, 1], "VALID")[0]


def photometric(image: tf.Tensor, seed, config: AugmentConfig) -> tf.Tensor:
    """Blur, then gamma, contrast and brightness jitter, then noise, of an image in [0, 1],
    clipped to [0, 1]."""
    if not config.changes_intensity:
        return image
    gamma_seed, contrast_seed, brightness_seed = tf.unstack(
        tf.random.experimental.stateless_split(seed, num=3)
    )
    image = tf.clip_by_value(image, 0.0, 1.0)
    if config.max_blur_sigma > 0:
        blur_seed = tf.random.experimental.stateless_fold_in(seed, _BLUR_STREAM)
        sigma = tf.random.stateless_uniform([], blur_seed, 0.0, config.max_blur_sigma)
        image = gaussian_blur(image, sigma, config.max_blur_sigma)
    if config.gamma and config.max_gamma_change > 0:
        change = config.max_gamma_change
        gamma = tf.random.stateless_uniform([], gamma_seed, 1.0 - change, 1.0 + change)
        image = tf.pow(image, gamma)
    if config.contrast and config.max_contrast_change > 0:
        change = config.max_contrast_change
        factor = tf.random.stateless_uniform([], contrast_seed, 1.0 - change, 1.0 + change)
        mean = tf.reduce_mean(image)
        image = (image - mean) * factor + mean
    if config.brightness and config.max_brightness_delta > 0:
        delta = config.max_brightness_delta
        image += tf.random.stateless_uniform([], brightness_seed, -delta, delta)
    if config.max_noise_std > 0:
        std_seed, pixel_seed = tf.unstack(tf.random.experimental.stateless_split(
            tf.random.experimental.stateless_fold_in(seed, _NOISE_STREAM), num=2))
        std = tf.random.stateless_uniform([], std_seed, 0.0, config.max_noise_std)
        image += std * tf.random.stateless_normal(tf.shape(image), pixel_seed)
    return tf.clip_by_value(image, 0.0, 1.0)


def augment_tile(
    region: tf.Tensor, seed, config: AugmentConfig, output_size: int, num_image_channels: int
) -> tf.Tensor:
    """Augment a stacked region ``[R, R, C + K]`` and return the centred ``output_size`` tile.

    Args:
        region: float32 tile, image channels first, then label / weight channels. ``R`` must be
            at least ``config.region_size(output_size)`` for blank-free results.
        seed: stateless seed, shape ``[2]`` integer; equal seeds give equal results.
        config: the :class:`AugmentConfig`.
        output_size: side of the returned tile; ``R - output_size`` must be even.
        num_image_channels: number of leading image channels ``C``.

    Returns:
        float32 ``[output_size, output_size, C + K]``.

    Example:
        >>> config = AugmentConfig()
        >>> tile = augment_tile(region, [7, 0], config, 64, 1)  # region: [R, R, 3]
    """
    region_size = region.shape[0]
    if region_size is None or (region_size - output_size) % 2 or region_size < output_size:
        raise ValueError(
            f"region side {region_size} must be static, >= {output_size} and differ by an even"
            " number of pixels"
        )
    geometry_seed, colour_seed = tf.unstack(tf.random.experimental.stateless_split(seed, num=2))
    if config.moves_pixels:
        coordinates = sample_coordinates(geometry_seed, output_size, region_size, config)
        tile = resample(region, coordinates, num_image_channels)
    else:
        start = (region_size - output_size) // 2
        tile = region[start : start + output_size, start : start + output_size, :]
    image = photometric(tile[..., :num_image_channels], colour_seed, config)
    tile = tf.concat([image, tile[..., num_image_channels:]], axis=-1)
    tile.set_shape([output_size, output_size, region.shape[-1]])
    return tile
