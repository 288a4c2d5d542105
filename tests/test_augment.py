"""Augmentation: alignment of image / label / weight, determinism, ranges, config."""

import dataclasses
import math

import numpy as np
import pytest
import tensorflow as tf

from vesselnet.data.augment import (
    AugmentConfig,
    augment_tile,
    gaussian_blur,
    photometric,
    resample,
)

GEOMETRY_ONLY = dict(brightness=False, contrast=False, gamma=False)


def vessel_region(size, seed=0):
    """[size, size, 3]: image = mask (as float), label = mask, weight = 1 + 2 * mask."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[:size, :size]
    mask = np.zeros((size, size), bool)
    for _ in range(5):
        angle, offset = rng.uniform(0, np.pi), rng.uniform(-size / 3, size / 3)
        width = rng.uniform(2, 5)
        along = (rows - size / 2) * np.cos(angle) + (cols - size / 2) * np.sin(angle)
        distance = np.abs(along - offset)
        mask |= distance < width / 2
    stack = np.stack([mask, mask, 1 + 2 * mask], axis=-1).astype(np.float32)
    return tf.constant(stack), mask


def dihedral_variants(array):
    variants = []
    for flipped in (array, array[:, ::-1]):
        variants += [np.rot90(flipped, k) for k in range(4)]
    return variants


def test_flips_and_rot90_are_exact_dihedral_transforms():
    config = AugmentConfig(rotation=False, elastic=False, **GEOMETRY_ONLY)
    assert config.region_size(32) == 32
    region, mask = vessel_region(32)
    seen = set()
    for seed in range(16):
        tile = augment_tile(region, [seed, 1], config, 32, 1).numpy()
        variants = dihedral_variants(mask)
        matches = [k for k, v in enumerate(variants) if np.array_equal(tile[..., 1], v)]
        assert matches, f"seed {seed}: not a flip / rotation of the input"
        np.testing.assert_array_equal(tile[..., 0], tile[..., 1])
        np.testing.assert_array_equal(tile[..., 2], 1 + 2 * tile[..., 1])
        seen.add(matches[0])
    assert len(seen) >= 5  # the transforms really vary


@pytest.mark.parametrize(
    "config",
    [
        AugmentConfig(flips=False, rot90=False, elastic=False, **GEOMETRY_ONLY),
        AugmentConfig(rotation=False, elastic_alpha=3.0, **GEOMETRY_ONLY),
        AugmentConfig(**GEOMETRY_ONLY),
    ],
    ids=["rotation", "elastic", "all-geometric"],
)
def test_resampled_transforms_keep_image_label_weight_aligned(config):
    output_size = 48
    region_size = config.region_size(output_size)
    assert region_size > output_size and (region_size - output_size) % 2 == 0
    region, mask = vessel_region(region_size, seed=3)
    start = (region_size - output_size) // 2
    crop = mask[start : start + output_size, start : start + output_size]
    changed = 0
    for seed in range(6):
        tile = augment_tile(region, [seed, 2], config, output_size, 1).numpy()
        label, image = tile[..., 1], tile[..., 0]
        assert set(np.unique(label)) <= {0.0, 1.0}
        np.testing.assert_array_equal(tile[..., 2], 1 + 2 * label)  # nearest for both: exact
        mismatch = np.mean(np.abs(image - label) > 0.5)  # bilinear image vs nearest label
        assert mismatch < 0.03, f"seed {seed}: {mismatch:.3f} of pixels misaligned"
        assert np.mean(np.abs(image - label)) < 0.08
        changed += not any(np.array_equal(label, v) for v in dihedral_variants(crop))
    assert changed >= 4  # beyond flips / 90-degree turns (a rotation < ~1 degree may not show)


def ramp_region(size):
    """[size, size, 3]: image = row index, label = row index, weight = column index."""
    rows, cols = np.mgrid[:size, :size].astype(np.float32)
    return tf.constant(np.stack([rows, rows, cols], axis=-1))


@pytest.mark.parametrize("jitter", [0.1, 0.15, 0.5])
def test_scale_jitter_zooms_within_its_range_and_keeps_the_channels_aligned(jitter):
    # only the zoom: on a ramp the image's slope is 1 / zoom exactly (bilinear is exact there)
    config = dataclasses.replace(AugmentConfig.disabled(), scale_jitter=jitter)
    output_size = 32
    region_size = config.region_size(output_size)
    region = ramp_region(region_size)
    zooms = []
    for seed in range(24):
        tile = augment_tile(region, [seed, 4], config, output_size, 1).numpy()
        image, label, weight = tile[..., 0], tile[..., 1], tile[..., 2]
        slopes = np.diff(image, axis=0)
        np.testing.assert_allclose(slopes, slopes[0, 0], rtol=1e-4)  # one zoom per patch
        zoom = 1.0 / slopes[0, 0]
        assert 1 - jitter - 1e-4 <= zoom <= 1 + jitter + 1e-4
        zooms.append(zoom)
        assert np.abs(label - image).max() <= 0.5 + 1e-4  # nearest next to bilinear
        np.testing.assert_array_equal(weight, label.T)  # the same zoom along both axes
        np.testing.assert_array_equal(label, np.round(label))  # nearest: region values
        centre = (output_size - 1) / 2  # the zoom is about the centre of the region
        assert np.mean(image) == pytest.approx((region_size - 1) / 2, abs=1e-3)
        assert image[0, 0] == pytest.approx((region_size - 1) / 2 - centre / zoom, abs=1e-3)
    assert min(zooms) < 1 - jitter / 2 and max(zooms) > 1 + jitter / 2  # both directions


@pytest.mark.parametrize("config, output_size, expected", [
    (AugmentConfig.disabled(), 48, 48),
    (dataclasses.replace(AugmentConfig.disabled(), scale_jitter=0.2), 48, 62),  # 23.5/0.8=29.4
    (dataclasses.replace(AugmentConfig.disabled(), scale_jitter=0.5), 32, 64),  # 15.5/0.5=31
    (AugmentConfig(elastic=False, rotation=False, scale_jitter=0.15), 48, 58),  # 23.5/0.85=27.6
])
def test_region_grows_for_zoom_out(config, output_size, expected):
    assert config.region_size(output_size) == expected


def test_scale_jitter_with_every_transform_keeps_image_label_weight_aligned():
    config = AugmentConfig(scale_jitter=0.3, **GEOMETRY_ONLY)
    output_size = 48
    region, _ = vessel_region(config.region_size(output_size), seed=5)
    for seed in range(6):
        tile = augment_tile(region, [seed, 6], config, output_size, 1).numpy()
        label, image = tile[..., 1], tile[..., 0]
        assert set(np.unique(label)) <= {0.0, 1.0}
        np.testing.assert_array_equal(tile[..., 2], 1 + 2 * label)
        assert np.mean(np.abs(image - label) > 0.5) < 0.04
        assert np.mean(np.abs(image - label)) < 0.1


def test_scale_jitter_leaves_the_other_random_transforms_as_they_were():
    # the zoom's seed is folded out of the patch seed, so flips, turns, rotation and elastic
    # field draw what they drew without it: a zoom of 1 +- 1e-6 changes nothing visible
    config = AugmentConfig(**GEOMETRY_ONLY)
    nearly = dataclasses.replace(config, scale_jitter=1e-6)
    region, _ = vessel_region(nearly.region_size(40) + 2, seed=1)
    for seed in range(4):
        plain = augment_tile(region, [seed, 9], config, 40, 1).numpy()
        zoomed = augment_tile(region, [seed, 9], nearly, 40, 1).numpy()
        np.testing.assert_allclose(zoomed[..., 0], plain[..., 0], atol=1e-3)
        assert np.mean(zoomed[..., 1] != plain[..., 1]) < 0.002


def test_deterministic_under_seed():
    config = AugmentConfig()
    region, _ = vessel_region(config.region_size(40), seed=1)
    first = augment_tile(region, [5, 9], config, 40, 1).numpy()
    np.testing.assert_array_equal(first, augment_tile(region, [5, 9], config, 40, 1).numpy())
    assert not np.array_equal(first, augment_tile(region, [5, 10], config, 40, 1).numpy())


def test_resample_bilinear_for_image_nearest_for_masks():
    region = tf.constant([[[0.0, 0.0], [1.0, 1.0]], [[2.0, 0.0], [3.0, 1.0]]])  # [2, 2, 2]
    coordinates = tf.constant([[[0.5, 0.25], [0.0, 1.0]], [[0.2, 0.7], [1.0, 0.0]]])
    result = resample(region, coordinates, 1).numpy()
    np.testing.assert_allclose(result[..., 0], [[1.25, 1.0], [1.1, 2.0]], rtol=1e-6)
    np.testing.assert_array_equal(result[..., 1], [[0.0, 1.0], [1.0, 0.0]])


def constant_tile(value, size=8):
    return tf.constant(np.full((size, size, 2), value, np.float32))


def test_photometric_ranges_and_image_only():
    brightness = dataclasses.replace(AugmentConfig.disabled(), brightness=True)
    gamma = dataclasses.replace(AugmentConfig.disabled(), gamma=True)
    contrast = dataclasses.replace(AugmentConfig.disabled(), contrast=True)
    shifts, powers = [], []
    for seed in range(20):
        shifted = photometric(constant_tile(0.5)[..., :1], [seed, 0], brightness).numpy()
        assert np.all(shifted == shifted[0, 0, 0])
        shifts.append(shifted[0, 0, 0] - 0.5)
        powered = photometric(constant_tile(0.25)[..., :1], [seed, 0], gamma).numpy()[0, 0, 0]
        powers.append(math.log(powered) / math.log(0.25))
        ramp = tf.reshape(tf.linspace(0.3, 0.7, 64), [8, 8, 1])
        stretched = photometric(ramp, [seed, 0], contrast).numpy()
        assert np.mean(stretched) == pytest.approx(0.5, abs=1e-5)
    assert -0.1 <= min(shifts) < -0.02 and 0.02 < max(shifts) <= 0.1
    assert 0.8 - 1e-4 <= min(powers) < 0.95 and 1.05 < max(powers) <= 1.2 + 1e-4

    config = AugmentConfig(max_brightness_delta=1.0, max_contrast_change=0.9)
    region, mask = vessel_region(config.region_size(24), seed=2)
    for seed in range(5):
        tile = augment_tile(region, [seed, 3], config, 24, 1).numpy()
        assert 0.0 <= tile[..., 0].min() and tile[..., 0].max() <= 1.0
        np.testing.assert_array_equal(tile[..., 2], 1 + 2 * tile[..., 1])  # masks untouched


def test_disabled_config_is_the_identity_crop():
    image = tf.constant(np.random.default_rng(0).normal(size=(10, 10, 3)).astype(np.float32) * 3)
    result = augment_tile(image, [0, 0], AugmentConfig.disabled(), 6, 1).numpy()
    np.testing.assert_array_equal(result, image.numpy()[2:8, 2:8])  # no clipping either


def test_config_round_trip_and_errors():
    config = AugmentConfig(rot90=False, max_rotation_degrees=10.0, elastic_alpha=1.5)
    assert AugmentConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="unknown AugmentConfig keys"):
        AugmentConfig.from_dict({"flip": True})
    assert AugmentConfig(max_rotation_degrees=15).region_size(100) >= 100 * (
        math.cos(math.radians(15)) + math.sin(math.radians(15))
    )
    with pytest.raises(ValueError, match="region side"):
        augment_tile(tf.zeros([31, 31, 3]), [0, 0], config, 24, 1)


@pytest.mark.parametrize(
    "field, value",
    [("max_rotation_degrees", 60.0), ("max_rotation_degrees", -1.0), ("elastic_alpha", -0.5),
     ("elastic_sigma", 0.0), ("max_brightness_delta", 1.5), ("max_contrast_change", 1.0),
     ("max_gamma_change", -0.1), ("scale_jitter", -0.1), ("scale_jitter", 0.55),
     ("max_blur_sigma", -1.0), ("max_blur_sigma", 5.0), ("max_noise_std", 0.6)],
)
def test_bad_strengths_raise(field, value):
    with pytest.raises(ValueError, match=f"{field} must be in .*got {value}"):
        AugmentConfig(**{field: value})


def test_gaussian_blur_equals_scipy_with_reflected_edges():
    from scipy import ndimage

    image = np.random.default_rng(4).random((30, 26, 2)).astype(np.float32)
    for sigma in (0.7, 1.5):
        blurred = gaussian_blur(tf.constant(image), tf.constant(sigma), 2.0).numpy()
        for channel in range(2):  # scipy's "mirror" is TF's "REFLECT"; radius 3 * 2.0 = 6
            expected = ndimage.gaussian_filter(image[..., channel], sigma, mode="mirror",
                                               truncate=6 / sigma)
            np.testing.assert_allclose(blurred[..., channel], expected, atol=1e-5)
    sharp = gaussian_blur(tf.constant(image), tf.constant(0.0), 2.0).numpy()
    np.testing.assert_allclose(sharp, image, atol=1e-6)


def test_blur_and_noise_strengths_vary_per_patch_and_leave_the_masks():
    noise = dataclasses.replace(AugmentConfig.disabled(), max_noise_std=0.1)
    stds = [float(np.std(photometric(constant_tile(0.5, 32)[..., :1], [seed, 0], noise)))
            for seed in range(30)]
    assert 0.0 <= min(stds) < 0.03 and 0.07 < max(stds) <= 0.105
    blur = dataclasses.replace(AugmentConfig.disabled(), max_blur_sigma=2.0)
    assert blur.changes_intensity and blur.degrades and not AugmentConfig().degrades
    region, _ = vessel_region(40, seed=3)
    edges = []
    for seed in range(10):
        tile = augment_tile(region, [seed, 1], blur, 40, 1).numpy()
        np.testing.assert_array_equal(tile[..., 1:], region.numpy()[..., 1:])
        edges.append(np.abs(np.diff(tile[..., 0], axis=1)).max())
    assert min(edges) < 0.9 and max(edges) > 0.3  # sharp 0/1 edges softened, by varying sigma


def test_blur_and_noise_leave_the_other_random_draws_as_they_were():
    config = AugmentConfig()
    degraded = dataclasses.replace(config, max_blur_sigma=1e-4, max_noise_std=1e-7)
    region, _ = vessel_region(config.region_size(40), seed=1)
    for seed in range(3):
        plain = augment_tile(region, [seed, 9], config, 40, 1).numpy()
        other = augment_tile(region, [seed, 9], degraded, 40, 1).numpy()
        np.testing.assert_allclose(other, plain, atol=1e-5)
