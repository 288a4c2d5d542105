"""The ``tf.data`` training pipeline: random patches from whole preprocessed images.

Per epoch every image gives ``patches_per_image`` samples, visited in a random order. Sample
``k`` of epoch ``e`` draws its centre and augmentation from a stateless seed derived from
``(seed, e, k)``, so the stream is a pure function of the configuration: training restarts
from any step with ``epoch=`` / ``start_step=``. Batches are ``(x, y)``:

* ``x`` float32 ``[B, input_size, input_size, C]``: the preprocessed image tile;
* ``y`` float32 ``[B, output_size, output_size, 2]``: ``y[..., 0]`` the vessel label in
  {0, 1}, ``y[..., 1]`` the loss weight (0 outside the FOV and in mirrored area outside the
  image; inside the FOV 1 or the U-Net weight map). ``y`` is centred in ``x``.

With ``image_weights`` (a run on several data sets, weighted), the samples of an epoch are
shared out between the images in proportion to their weights (:func:`patch_quotas`) instead
of ``patches_per_image`` each; the epoch keeps its length and its order stays a pure function
of the seed.

Preprocessing runs once per whole image before any patch is cut (CLAHE tiles are relative to
the whole image); patch sampling and augmentation run in TF ops inside ``tf.data``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import tensorflow as tf

from vesselnet.config.augment import AugmentConfig
from vesselnet.config.patches import PatchConfig
from vesselnet.data.augment import augment_tile
from vesselnet.data.patches import (
    PatchSource,
    build_patch_source,
    crop_centre,
    extract_patch,
    sample_patch_centre,
)
from vesselnet.data.records import ImageRecord
from vesselnet.data.weights import record_weight_map

PreprocessFn = Callable[[np.ndarray], np.ndarray]


def default_preprocess(image: np.ndarray) -> np.ndarray:
    """Green channel scaled to [0, 1]: ``uint8 [H, W, 3] -> float32 [H, W, 1]``."""
    return (np.asarray(image)[..., 1:2] / 255.0).astype(np.float32)


def steps_per_epoch(num_images: int, config: PatchConfig) -> int:
    """Batches per epoch of the repeating stream (the last partial batch is dropped)."""
    return num_images * config.patches_per_image // config.batch_size


def patch_quotas(total: int, weights: Sequence[float]) -> np.ndarray:
    """How many of ``total`` samples each image gets, in proportion to ``weights``.

    Largest remainders: every image gets the floor of its share, the samples left over go
    to the largest fractional parts (the first image on ties), so the counts add up to
    ``total`` exactly.

    Args:
        total: samples to share out (>= 0).
        weights: one weight > 0 per image.

    Returns:
        int64 ``[len(weights)]``.

    Example:
        >>> patch_quotas(10, [3.0, 1.0, 1.0]).tolist()  # shares 6, 2, 2
        [6, 2, 2]
        >>> patch_quotas(5, [1.0, 1.0]).tolist()
        [3, 2]
    """
    weights = np.asarray(weights, np.float64)
    if weights.ndim != 1 or weights.size == 0 or not np.all(np.isfinite(weights)) \
            or not np.all(weights > 0):
        raise ValueError(f"image weights must be finite numbers > 0, got {weights.tolist()}")
    shares = total * weights / weights.sum()
    counts = np.floor(shares).astype(np.int64)
    left = int(total - counts.sum())
    order = np.argsort(-(shares - counts), kind="stable")
    counts[order[:left]] += 1
    return counts


def _preprocessed(records, preprocess_fn) -> list[np.ndarray]:
    if preprocess_fn is None or callable(preprocess_fn):
        function = preprocess_fn or default_preprocess
        images = [np.asarray(function(record.image), dtype=np.float32) for record in records]
    else:
        images = [np.asarray(image, dtype=np.float32) for image in preprocess_fn]
        if len(images) != len(records):
            raise ValueError(f"got {len(images)} preprocessed images for {len(records)} records")
    images = [image[..., None] if image.ndim == 2 else image for image in images]
    for record, image in zip(records, images):
        if image.ndim != 3 or image.shape[:2] != record.shape:
            raise ValueError(
                f"image {record.name!r}: preprocessed shape {image.shape} does not match "
                f"[{record.shape[0]}, {record.shape[1]}, C]"
            )
    return images


def make_patch_source(
    records: Sequence[ImageRecord],
    preprocess_fn: PreprocessFn | Sequence[np.ndarray] | None = None,
    patch_config: PatchConfig | None = None,
    *,
    weight_cache_dir: str | Path | None = None,
) -> PatchSource:
    """Preprocess whole images, build their weights and stack them into a PatchSource.

    Args: as in :func:`make_training_dataset`.

    Returns:
        The :class:`~vesselnet.data.patches.PatchSource`.
    """
    config = patch_config or PatchConfig()
    records = list(records)
    missing = [record.name for record in records if record.vessels is None]
    if missing:
        raise ValueError(f"training needs vessel masks; these images have none: {missing}")
    images = _preprocessed(records, preprocess_fn)
    if config.use_weight_map:
        weights = [
            record_weight_map(
                record, w0=config.w0, sigma=config.sigma,
                cutoff_sigmas=config.weight_cutoff_sigmas, class_balance=config.class_balance,
                cache_dir=weight_cache_dir,
            )
            for record in records
        ]
    else:
        weights = [record.fov.astype(np.float32) for record in records]
    return build_patch_source(
        images, [record.vessels for record in records], weights, [r.fov for r in records]
    )


def dataset_from_source(
    source: PatchSource,
    patch_config: PatchConfig,
    augment_config: AugmentConfig | None = None,
    *,
    repeat: bool = True,
    epoch: int = 0,
    start_step: int = 0,
    image_weights: Sequence[float] | None = None,
) -> tf.data.Dataset:
    """The batched ``(x, y)`` stream from a prepared :class:`PatchSource`.

    Args: as in :func:`make_training_dataset`.
    """
    config = patch_config
    if epoch < 0 or start_step < 0:
        raise ValueError(f"epoch and start_step must be >= 0, got {epoch} and {start_step}")
    num_images = source.num_images
    total = num_images * config.patches_per_image
    used = steps_per_epoch(num_images, config) * config.batch_size if repeat else total
    if used == 0:
        raise ValueError(
            f"{num_images} images x {config.patches_per_image} patches is less than one batch "
            f"of {config.batch_size}; with repeat=True every epoch must fill a batch"
        )
    region_size = config.input_size  # augmentation cuts a larger region, then crops
    if augment_config is not None:
        region_size = augment_config.region_size(config.input_size)
    channels = source.num_image_channels
    seed = tf.constant(config.seed, tf.int64)
    image_of_sample = None  # sample k of an epoch's order comes from image k % num_images
    if image_weights is not None:
        if len(image_weights) != num_images:
            raise ValueError(f"got {len(image_weights)} image weights for {num_images} images")
        quotas = patch_quotas(total, image_weights)
        image_of_sample = tf.constant(np.repeat(np.arange(num_images), quotas), tf.int64)

    def epoch_samples(epoch_number):
        base = tf.stack([seed, epoch_number])
        order_seed = tf.random.experimental.stateless_fold_in(base, -1)
        order = tf.random.experimental.stateless_shuffle(
            tf.range(total, dtype=tf.int64), order_seed
        )[:used]
        numbers = tf.fill([used], epoch_number)
        return tf.data.Dataset.from_tensor_slices((numbers, order))

    def make_sample(epoch_number, sample):
        sample_seed = tf.random.experimental.stateless_fold_in(
            tf.stack([seed, epoch_number]), sample
        )
        centre_seed, augment_seed = tf.unstack(
            tf.random.experimental.stateless_split(sample_seed, num=2)
        )
        if image_of_sample is None:
            image_index = sample % num_images
        else:
            image_index = tf.gather(image_of_sample, sample)
        row, col = sample_patch_centre(
            source, image_index, centre_seed, config.vessel_centre_share
        )
        tile = extract_patch(source, image_index, row, col, region_size)
        if augment_config is not None:
            tile = augment_tile(tile, augment_seed, augment_config, config.input_size, channels)
        x = tile[..., :channels]
        y = crop_centre(tile[..., channels:], config.output_size)
        return x, y

    last = tf.int64.max if repeat else epoch + 1
    dataset = tf.data.Dataset.range(epoch, last).flat_map(epoch_samples)
    dataset = dataset.skip(start_step * config.batch_size)
    dataset = dataset.map(make_sample, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    dataset = dataset.batch(config.batch_size, drop_remainder=repeat)
    return dataset.prefetch(tf.data.AUTOTUNE)


def make_training_dataset(
    records: Sequence[ImageRecord],
    preprocess_fn: PreprocessFn | Sequence[np.ndarray] | None = None,
    patch_config: PatchConfig | None = None,
    augment_config: AugmentConfig | None = None,
    *,
    repeat: bool = True,
    epoch: int = 0,
    start_step: int = 0,
    weight_cache_dir: str | Path | None = None,
    image_weights: Sequence[float] | None = None,
) -> tf.data.Dataset:
    """Random-patch training batches ``(x, y)`` from labelled fundus images.

    Args:
        records: labelled :class:`ImageRecord` s (vessels required; sizes may differ).
        preprocess_fn: ``uint8 [H, W, 3] -> float32 [H, W, C]`` applied once per whole image,
            or the already-preprocessed images (one per record, ``[H, W, C]`` or ``[H, W]``).
            Defaults to :func:`default_preprocess` (green channel / 255).
        patch_config: :class:`PatchConfig`. Defaults to ``PatchConfig()``.
        augment_config: :class:`AugmentConfig`, or None for no augmentation.
        repeat: True: endless, epoch after epoch, each epoch exactly
            :func:`steps_per_epoch` full batches (the last ``< batch_size`` samples of an
            epoch's order are dropped). False: one epoch, last batch may be partial.
        epoch: first epoch (its number seeds its order). Defaults to 0.
        start_step: batches to skip from the start of ``epoch`` (skipped before any patch is
            cut, so resuming is cheap). Defaults to 0.
        weight_cache_dir: on-disk cache for U-Net weight maps. Defaults to None.
        image_weights: one weight > 0 per record: the epoch's ``len(records) *
            patches_per_image`` samples are shared out in proportion to them
            (:func:`patch_quotas`). Defaults to None (``patches_per_image`` per image).

    Returns:
        A ``tf.data.Dataset`` of ``(x, y)``, shapes ``[B, input_size, input_size, C]`` and
        ``[B, output_size, output_size, 2]``, float32.

    Example:
        >>> config = PatchConfig(input_size=64, output_size=64, batch_size=32, seed=3)
        >>> dataset = make_training_dataset(records, None, config, AugmentConfig())
        >>> model.fit(dataset, steps_per_epoch=steps_per_epoch(len(records), config))
        >>> # restart at epoch 5, batch 120 of it: same batches as the uninterrupted run
        >>> dataset = make_training_dataset(records, None, config, AugmentConfig(),
        ...                                 epoch=5, start_step=120)
    """
    config = patch_config or PatchConfig()
    source = make_patch_source(records, preprocess_fn, config, weight_cache_dir=weight_cache_dir)
    return dataset_from_source(
        source, config, augment_config, repeat=repeat, epoch=epoch, start_step=start_step,
        image_weights=image_weights,
    )
