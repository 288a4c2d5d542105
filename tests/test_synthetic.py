"""Synthetic retinas: determinism, shapes, DRIVE-like statistics and the on-disk layouts."""

import time

import cv2
import numpy as np
import pytest
from skimage.morphology import skeletonize

from vesselnet.data import synthetic_dataset, synthetic_retina, write_synthetic_dataset

SEEDS = (0, 1, 2, 3)


@pytest.fixture(scope="module")
def retinas():
    return [synthetic_retina(seed) for seed in SEEDS]


def test_same_seed_gives_identical_arrays():
    first, second = synthetic_retina(11, (160, 150)), synthetic_retina(11, (160, 150))
    assert np.array_equal(first.image, second.image)
    assert np.array_equal(first.vessels, second.vessels)
    assert np.array_equal(first.fov, second.fov)


def test_different_seeds_give_different_images():
    first, second = synthetic_retina(11, (160, 150)), synthetic_retina(12, (160, 150))
    assert not np.array_equal(first.vessels, second.vessels)
    assert np.mean(first.image != second.image) > 0.5


@pytest.mark.parametrize("size", [(584, 565), (64, 80), (121, 96)])
def test_shapes_and_dtypes(size):
    record = synthetic_retina(5, size)
    assert record.image.shape == (*size, 3) and record.image.dtype == np.uint8
    assert record.fov.shape == size and record.fov.dtype == bool
    assert record.vessels.shape == size and record.vessels.dtype == bool
    assert record.second_observer is None and record.path is None and not record.fov_derived
    assert record.name == "synthetic_5"


def test_vessel_share_inside_fov_is_drive_like(retinas):
    shares = [record.vessels[record.fov].mean() for record in retinas]
    assert all(0.08 <= share <= 0.15 for share in shares), shares


def test_widths_range_from_wide_to_one_or_two_pixels(retinas):
    for record in retinas:
        skeleton = skeletonize(record.vessels)
        distance = cv2.distanceTransform(record.vessels.astype(np.uint8), cv2.DIST_L2, 5)
        widths = 2 * distance[skeleton]
        assert (widths >= 6).mean() > 0.05, f"{record.name}: too few wide vessels"
        assert (widths <= 2).mean() > 0.3, f"{record.name}: too few thin vessels"


def test_vessels_are_darker_than_their_surroundings_mostly_in_green(retinas):
    for record in retinas:
        vessels = record.vessels.astype(np.uint8)
        near = cv2.dilate(vessels, np.ones((9, 9), np.uint8)) > 0
        touching = cv2.dilate(vessels, np.ones((5, 5), np.uint8)) > 0
        ring = near & ~touching & record.fov
        contrast = [
            1 - record.image[..., c][record.vessels].mean() / record.image[..., c][ring].mean()
            for c in range(3)
        ]
        red, green, blue = contrast
        assert green > 0.1, f"{record.name}: green contrast {green:.3f}"
        assert green > red and green > blue, f"{record.name}: contrasts {contrast}"


def test_background_is_reddish_orange_and_outside_is_dark(retinas):
    for record in retinas:
        red, green, blue = (np.median(record.image[..., c][record.fov]) for c in range(3))
        assert red > green > blue, (red, green, blue)
        assert np.percentile(record.image[~record.fov], 99) < 15


def test_vignetting_darkens_the_rim(retinas):
    for record in retinas:
        height, width = record.fov.shape
        yy, xx = np.mgrid[0:height, 0:width]
        radius = np.sqrt(record.fov.sum() / np.pi)
        relative = np.hypot(yy - height / 2, xx - width / 2) / radius
        red = record.image[..., 0].astype(float)
        background = record.fov & ~record.vessels
        rim = red[background & (relative > 0.85)].mean()
        middle = red[background & (relative < 0.3)].mean()
        assert rim < 0.9 * middle, (rim, middle)


def test_fov_is_a_circle_holding_every_vessel_pixel(retinas):
    for record in retinas:
        assert not np.any(record.vessels & ~record.fov)
        rows, cols = np.nonzero(record.fov)
        radius = np.sqrt(len(rows) / np.pi)
        distance = np.hypot(rows - rows.mean(), cols - cols.mean())
        assert distance.max() <= radius + 1.0
        disc = np.zeros_like(record.fov)
        height, width = disc.shape
        yy, xx = np.mgrid[0:height, 0:width]
        disc = np.hypot(yy - rows.mean(), xx - cols.mean()) <= radius
        assert np.sum(disc != record.fov) < 2 * np.pi * radius  # at most one ring of pixels


def test_one_drive_sized_image_takes_under_half_a_second():
    synthetic_retina(0)  # warm up caches
    best = min(_timed(lambda: synthetic_retina(21)) for _ in range(3))
    assert best < 0.5, f"{best:.3f} s"


def _timed(function):
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def test_dataset_is_deterministic_and_prefix_stable():
    small = synthetic_dataset(2, seed=4, size=(64, 64))
    large = synthetic_dataset(3, seed=4, size=(64, 64))
    assert [record.name for record in large] == ["synthetic_000", "synthetic_001", "synthetic_002"]
    for first, second in zip(small, large):
        assert np.array_equal(first.image, second.image)
    assert not np.array_equal(large[0].vessels, large[1].vessels)
    assert not np.array_equal(large[0].image, synthetic_dataset(1, seed=5, size=(64, 64))[0].image)


@pytest.mark.parametrize(
    "layout, options, expected",
    [
        (
            "drive",
            {"split": "test"},
            [
                "test/1st_manual/01_manual1.gif",
                "test/1st_manual/02_manual1.gif",
                "test/2nd_manual/01_manual2.gif",
                "test/2nd_manual/02_manual2.gif",
                "test/images/01_test.tif",
                "test/images/02_test.tif",
                "test/mask/01_test_mask.gif",
                "test/mask/02_test_mask.gif",
            ],
        ),
        (
            "chase_db1",
            {},
            [
                "Image_01L.jpg",
                "Image_01L_1stHO.png",
                "Image_01L_2ndHO.png",
                "Image_01R.jpg",
                "Image_01R_1stHO.png",
                "Image_01R_2ndHO.png",
            ],
        ),
        (
            "stare",
            {"compress": True},
            [
                "im0001.ah.ppm.gz",
                "im0001.ppm.gz",
                "im0001.vk.ppm.gz",
                "im0002.ah.ppm.gz",
                "im0002.ppm.gz",
                "im0002.vk.ppm.gz",
            ],
        ),
        (
            "hrf",
            {},
            [
                "images/01_dr.JPG",
                "images/01_g.JPG",
                "manual1/01_dr.tif",
                "manual1/01_g.tif",
                "mask/01_dr_mask.tif",
                "mask/01_g_mask.tif",
            ],
        ),
        (
            "generic",
            {},
            [
                "fov/synthetic_000.png",
                "fov/synthetic_001.png",
                "images/synthetic_000.png",
                "images/synthetic_001.png",
                "masks/synthetic_000.png",
                "masks/synthetic_001.png",
            ],
        ),
    ],
)
def test_write_synthetic_dataset_file_names(tmp_path, layout, options, expected):
    records = write_synthetic_dataset(tmp_path, layout, 2, seed=0, size=(48, 48), **options)
    written = sorted(str(path.relative_to(tmp_path)) for path in tmp_path.rglob("*.*"))
    assert written == sorted(expected)
    assert [record.path.parent for record in records] == [records[0].path.parent] * 2


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: synthetic_retina(0, (16, 100)), "size must be"),
        (lambda: synthetic_retina(-1), "seed must be"),
        (lambda: synthetic_dataset(-2, 0), "n must be"),
        (lambda: write_synthetic_dataset("unused", "messidor", 1, 0), "layout must be"),
        (lambda: write_synthetic_dataset("unused", "drive", 1, 0, split="val"), "split"),
    ],
)
def test_bad_arguments_raise(call, message):
    with pytest.raises(ValueError, match=message):
        call()
