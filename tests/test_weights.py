"""U-Net weight maps: hand-computed values, class balancing, cut-off, caching."""

import math

import numpy as np
import pytest
import scipy.ndimage
from conftest import DRIVE_TRAINING

from vesselnet.data.records import ImageRecord
from vesselnet.data.weights import (
    border_weights,
    class_balance_weights,
    clear_weight_map_cache,
    record_weight_map,
    unet_weight_map,
)

DRIVE = DRIVE_TRAINING


def border(d1, d2, w0=10.0, sigma=5.0):
    return w0 * math.exp(-((d1 + d2) ** 2) / (2 * sigma**2))


def brute_force_border(mask, w0=10.0, sigma=5.0, cutoff_sigmas=4.0):
    labels, count = scipy.ndimage.label(mask, structure=np.ones((3, 3)))
    if count < 2:
        return np.zeros(mask.shape)
    distances = np.sort(
        np.stack([scipy.ndimage.distance_transform_edt(labels != k) for k in range(1, count + 1)]),
        axis=0,
    )
    total = distances[0] + distances[1]
    weights = w0 * np.exp(-(total**2) / (2 * sigma**2))
    weights[(total > cutoff_sigmas * sigma) | mask] = 0
    return weights


def two_points():
    mask = np.zeros((11, 11), bool)
    mask[5, 2] = mask[5, 8] = True
    return mask


@pytest.mark.parametrize(
    "pixel, expected",
    [
        ((5, 5), 1 + border(3, 3)),  # midpoint, objects 6 px apart
        ((5, 0), 1 + border(2, 8)),
        ((5, 4), 1 + border(2, 4)),
        ((0, 5), 1 + border(math.sqrt(34), math.sqrt(34))),
        ((0, 0), 1 + border(math.sqrt(29), math.sqrt(89))),
        ((5, 2), 1.0),  # an object pixel keeps w_c only
    ],
)
def test_two_single_pixel_objects(pixel, expected):
    weights = unet_weight_map(two_points(), class_balance=False)
    assert weights.dtype == np.float32
    assert weights[pixel] == pytest.approx(expected, rel=1e-6)


def test_segment_between_objects_carries_the_maximum():
    weights = border_weights(two_points())
    # d1 + d2 = 6 on the whole segment between the objects, larger everywhere else
    np.testing.assert_allclose(weights[5, 3:8], 10 * math.exp(-36 / 50), rtol=1e-6)
    assert weights.max() == pytest.approx(10 * math.exp(-36 / 50), rel=1e-6)
    assert weights[4, 5] < weights[5, 5]
    assert weights[5, 5] > weights[0, 5] > 0


def test_cut_off_drops_far_pairs_exactly():
    mask = np.zeros((5, 40), bool)
    mask[2, 2] = mask[2, 32] = True  # d1 + d2 = 30 > 4 sigma = 20 everywhere
    assert np.all(border_weights(mask) == 0)
    wide = border_weights(mask, cutoff_sigmas=7.0)
    assert wide[2, 17] == pytest.approx(10 * math.exp(-900 / 50), rel=1e-5)


def test_one_component_gives_no_border_term():
    mask = np.zeros((9, 9), bool)
    mask[2, 2] = mask[3, 3] = True  # diagonal neighbours: one 8-connected object
    assert np.all(border_weights(mask) == 0)


def test_matches_brute_force_on_many_components():
    rng = np.random.default_rng(0)
    mask = scipy.ndimage.binary_dilation(rng.random((120, 100)) < 0.004, iterations=1)
    assert scipy.ndimage.label(mask, structure=np.ones((3, 3)))[1] > 20
    np.testing.assert_allclose(border_weights(mask), brute_force_border(mask), atol=1e-5)


def test_background_between_close_vessels_gets_high_weight():
    mask = np.zeros((40, 40), bool)
    mask[:, 10] = mask[:, 14] = True  # two vessels 4 px apart
    weights = unet_weight_map(mask, class_balance=False)
    gap = weights[:, 12]
    far = weights[:, 35]
    assert np.all(gap == pytest.approx(1 + border(2, 2), rel=1e-6))  # 1 + 10 exp(-16 / 50)
    assert np.all(far == 1.0)  # d1 + d2 = 46 beyond the cut-off


def test_class_balance_term():
    mask = np.zeros((4, 4), bool)
    mask[0, :] = True
    weights = class_balance_weights(mask)
    np.testing.assert_allclose(weights[0], 2.0)  # 16 / (2 * 4)
    np.testing.assert_allclose(weights[1:], 16 / 24)
    assert weights.mean() == pytest.approx(1.0)

    fov = np.zeros((4, 4), bool)
    fov[:, :2] = True  # 8 FOV pixels, 2 of them vessels
    weights = class_balance_weights(mask, fov)
    np.testing.assert_allclose(weights[0, :2], 2.0)
    np.testing.assert_allclose(weights[1:, :2], 8 / 12)
    assert np.all(weights[:, 2:] == 0)


def test_single_class_and_fov_zeroing():
    assert np.all(class_balance_weights(np.zeros((3, 3), bool)) == 1.0)
    fov = np.zeros((11, 11), bool)
    fov[:, :6] = True
    weights = unet_weight_map(two_points(), fov, class_balance=False)
    assert np.all(weights[:, 6:] == 0)
    assert weights[5, 5] == pytest.approx(1 + border(3, 3), rel=1e-6)


@pytest.mark.parametrize(
    "kwargs", [{"w0": -1.0}, {"sigma": 0.0}, {"cutoff_sigmas": 0.0}, {"sigma": -5.0}]
)
def test_bad_parameters_raise(kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        border_weights(two_points(), **kwargs)


def make_record(name, mask):
    image = np.zeros(mask.shape + (3,), np.uint8)
    return ImageRecord(name, image, np.ones(mask.shape, bool), mask)


def test_record_cache_in_memory_and_on_disk(tmp_path):
    clear_weight_map_cache()
    record = make_record("a", two_points())
    first = record_weight_map(record, cache_dir=tmp_path)
    assert record_weight_map(record, cache_dir=tmp_path) is first
    files = list(tmp_path.glob("a-*.npy"))
    assert len(files) == 1
    clear_weight_map_cache()
    np.testing.assert_array_equal(record_weight_map(record, cache_dir=tmp_path), first)
    other_mask = two_points()
    other_mask[5, 8] = False  # same name, changed annotation: no stale reuse
    other = record_weight_map(make_record("a", other_mask))
    assert not np.array_equal(other, first)
    assert record_weight_map(record, sigma=3.0)[5, 5] != first[5, 5]


@pytest.mark.slow
@pytest.mark.skipif(not DRIVE.exists(), reason="DRIVE training set not present")
def test_drive_mask_matches_brute_force():
    from PIL import Image

    mask = np.array(Image.open(DRIVE / "1st_manual" / "21_manual1.gif")) > 128
    np.testing.assert_allclose(border_weights(mask), brute_force_border(mask), atol=1e-5)
