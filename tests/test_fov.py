"""Derived field-of-view masks: hand-made cases, synthetic retinas and DRIVE's official masks."""

import cv2
import numpy as np
import pytest
from conftest import DRIVE_DIR, needs_drive

from vesselnet.data import derive_fov, read_drive, synthetic_retina
from vesselnet.data.fov import mask_agreement


def disc_image(size=(120, 110), radius=50, level=(200, 100, 50)):
    """A bright disc (the retina) of ``radius`` on a black surround, and its exact mask."""
    image = np.zeros((*size, 3), np.uint8)
    cv2.circle(image, (size[1] // 2, size[0] // 2), radius, level, thickness=-1)
    return image, image[..., 0] > 0


@pytest.mark.parametrize(
    "predicted, reference, dice, accuracy",
    [
        ([[1, 1], [0, 0]], [[1, 0], [0, 0]], 2 / 3, 3 / 4),
        ([[1, 1], [1, 1]], [[1, 1], [1, 1]], 1.0, 1.0),
        ([[1, 0], [0, 0]], [[0, 0], [0, 1]], 0.0, 2 / 4),
        ([[0, 0], [0, 0]], [[0, 0], [0, 0]], 1.0, 1.0),
        ([[1, 1, 1], [0, 0, 0], [0, 0, 0]], [[1, 1, 0], [1, 0, 0], [0, 0, 0]], 4 / 6, 7 / 9),
    ],
)
def test_mask_agreement_hand_computed(predicted, reference, dice, accuracy):
    got = mask_agreement(np.array(predicted, bool), np.array(reference, bool))
    assert got == pytest.approx((dice, accuracy))


def test_bright_disc_is_recovered():
    image, expected = disc_image()
    fov = derive_fov(image)
    assert fov.dtype == bool and fov.shape == expected.shape
    assert np.sum(fov != expected) <= 8  # the 5x5 median filter may shave the outline slightly


def test_dark_vessels_and_fovea_inside_are_filled():
    image, expected = disc_image()
    cv2.line(image, (20, 60), (90, 60), (20, 10, 5), 3)
    cv2.circle(image, (55, 60), 8, (5, 3, 2), -1)
    fov = derive_fov(image)
    assert np.all(fov[expected & (image[..., 0] < 30)])
    assert np.sum(fov != expected) <= 8


def test_bright_specks_outside_are_dropped():
    image, expected = disc_image(radius=40)
    image[2:12, 50:60] = 200  # a reflection in the surround, not a corner
    fov = derive_fov(image)
    assert not fov[2:12, 50:60].any()
    assert np.sum(fov != expected) <= 8


def test_dim_rim_stays_inside():
    image, _ = disc_image(level=(200, 100, 50))
    cv2.circle(image, (55, 60), 48, (40, 20, 10), thickness=3)  # a dim (vignetted) rim
    expected = image[..., 0] > 0
    fov = derive_fov(image)
    assert fov[image[..., 0] == 40].mean() > 0.99  # the median filter may shave a few
    assert np.sum(fov != expected) <= 8


def test_erosion_shrinks_inside_the_plain_mask():
    image, _ = disc_image()
    plain, eroded = derive_fov(image), derive_fov(image, erosion_radius=3)
    assert np.all(plain[eroded])
    rows = np.flatnonzero(plain[:, 55])
    eroded_rows = np.flatnonzero(eroded[:, 55])
    assert eroded_rows[0] == rows[0] + 3 and eroded_rows[-1] == rows[-1] - 3


def test_image_without_dark_surround_is_all_fov():
    image = np.full((64, 80, 3), 150, np.uint8)
    assert derive_fov(image).all()


@pytest.mark.parametrize(
    "image, options, message",
    [
        (np.zeros((20, 20), np.uint8), {}, "expects an RGB uint8"),
        (np.zeros((20, 20, 3), np.float32), {}, "expects an RGB uint8"),
        (np.zeros((20, 20, 3), np.uint8), {"threshold_fraction": 0.0}, "threshold_fraction"),
        (np.zeros((20, 20, 3), np.uint8), {"erosion_radius": -1}, "erosion_radius"),
    ],
)
def test_bad_arguments_raise(image, options, message):
    with pytest.raises(ValueError, match=message):
        derive_fov(image, **options)


def test_agreement_on_synthetic_retinas():
    # Measured over seeds 0..11: Dice 0.99949-0.99971, accuracy 0.99930-0.99961.
    for seed in range(4):
        record = synthetic_retina(seed)
        dice, accuracy = mask_agreement(derive_fov(record.image), record.fov)
        assert dice >= 0.999 and accuracy >= 0.999, (seed, dice, accuracy)


@pytest.mark.parametrize("corner", ["top_left", "bottom_right"])
def test_a_crop_keeping_some_dark_corners_finds_the_fov_of_the_crop(corner):
    # A crop of a quarter of the photograph: one corner square is retina, three are surround
    # (or the reverse); the surround level must come from the dark corners only. Measured:
    # Dice 0.956 and 0.9996; dark structures cut open by the crop's
    # edge are not holes, so fill-in cannot close them, hence the lower first figure.
    record = synthetic_retina(0)
    rows = slice(0, 300) if corner == "top_left" else slice(284, None)
    cols = slice(0, 290) if corner == "top_left" else slice(275, None)
    dice, _ = mask_agreement(derive_fov(record.image[rows, cols]), record.fov[rows, cols])
    assert dice >= 0.95, dice


@needs_drive
def test_agreement_with_drive_official_masks():
    # Measured: Dice mean 0.99863 (min 0.99506), pixel accuracy mean 0.99812 (min 0.99323).
    records = read_drive(DRIVE_DIR, "training")
    scores = np.array([mask_agreement(derive_fov(record.image), record.fov) for record in records])
    assert len(records) == 20
    dice, accuracy = scores[:, 0], scores[:, 1]
    assert dice.mean() >= 0.998 and dice.min() >= 0.995, dice
    assert accuracy.mean() >= 0.9975 and accuracy.min() >= 0.993, accuracy
