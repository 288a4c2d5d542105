"""Patch centres and mirror-padded patch extraction."""

import numpy as np
import pytest
import tensorflow as tf

from vesselnet.data.patches import (
    build_patch_source,
    crop_centre,
    extract_patch,
    reflect_coordinates,
    sample_patch_centre,
)


def ramp_source(shapes=((7, 9),), channels=1):
    """Images whose pixel values are their own index, label = even pixels, weight = 1 + row."""
    images, labels, weights, fovs = [], [], [], []
    for number, (height, width) in enumerate(shapes):
        values = np.arange(height * width, dtype=np.float32).reshape(height, width) + 1000 * number
        images.append(np.repeat(values[..., None], channels, axis=-1))
        labels.append(values.astype(int) % 2 == 0)
        weights.append(np.broadcast_to(1.0 + np.arange(height)[:, None], (height, width)))
        fovs.append(np.ones((height, width), bool))
    return build_patch_source(images, labels, weights, fovs), images, labels, weights


@pytest.mark.parametrize("length", [2, 3, 5])
def test_reflect_matches_numpy(length):
    coordinates = np.arange(-12, length + 12)
    expected = np.pad(np.arange(length), 12, mode="reflect")
    result = reflect_coordinates(tf.constant(coordinates, tf.int64), tf.constant(length, tf.int64))
    np.testing.assert_array_equal(result.numpy(), expected)


@pytest.mark.parametrize("centre, size", [((0, 0), 5), ((6, 8), 6), ((3, 4), 7), ((1, 7), 12)])
def test_extract_patch_mirrors_and_zeroes_weight_outside(centre, size):
    source, images, labels, weights = ramp_source()
    tile = extract_patch(source, 0, centre[0], centre[1], size).numpy()
    assert tile.shape == (size, size, 3)
    pad = size + 2
    start_row, start_col = centre[0] - size // 2 + pad, centre[1] - size // 2 + pad
    window = (slice(start_row, start_row + size), slice(start_col, start_col + size))
    np.testing.assert_array_equal(tile[..., 0], np.pad(images[0][..., 0], pad, "reflect")[window])
    np.testing.assert_array_equal(tile[..., 1], np.pad(labels[0], pad, "reflect")[window])
    expected_weight = np.pad(weights[0], pad, "constant")[window]
    np.testing.assert_array_equal(tile[..., 2], expected_weight)
    assert tile[size // 2, size // 2, 0] == images[0][centre][0]


def test_images_of_different_sizes_in_one_source():
    source, images, _, _ = ramp_source(shapes=((7, 9), (12, 5), (4, 4)), channels=3)
    assert source.num_images == 3 and source.num_image_channels == 3
    tile = extract_patch(source, 1, 11, 4, 3).numpy()
    expected = np.pad(images[1][..., 0], 1, "reflect")[11:14, 4:7]
    np.testing.assert_array_equal(tile[..., 2], expected)
    assert tile[1, 1, 0] == 1000 + 11 * 5 + 4


def sample_centres(source, image_index, share, count=600, seed=7):
    dataset = tf.data.Dataset.range(count).map(
        lambda i: tf.stack(sample_patch_centre(source, image_index, tf.stack([i, seed]), share))
    )
    return next(iter(dataset.batch(count))).numpy()


def disk_source(vessel_rows=(20, 21)):
    size = 48
    rows, cols = np.mgrid[:size, :size]
    fov = (rows - 24) ** 2 + (cols - 24) ** 2 < 20**2
    vessels = np.isin(rows, vessel_rows) | (cols == 5)  # column 5 lies outside the FOV
    image = vessels[..., None].astype(np.float32)
    source = build_patch_source([image], [vessels], [fov * 1.0], [fov])
    return source, fov, vessels


@pytest.mark.parametrize("share", [0.0, 0.3, 0.7, 1.0])
def test_centres_inside_fov_and_vessel_share(share):
    source, fov, vessels = disk_source()
    centres = sample_centres(source, 0, share)
    assert np.all(fov[centres[:, 0], centres[:, 1]])
    on_vessel = vessels[centres[:, 0], centres[:, 1]].mean()
    vessel_fraction = (vessels & fov).sum() / fov.sum()
    expected = share + (1 - share) * vessel_fraction
    assert on_vessel == pytest.approx(expected, abs=0.07)
    assert len({tuple(c) for c in centres}) > 60  # spread out, not one repeated pixel


def test_centres_are_deterministic_and_fall_back_to_fov_without_vessels():
    source, fov, _ = disk_source(vessel_rows=())
    source_vessels, _, _ = disk_source()
    first = sample_centres(source_vessels, 0, 0.5, count=50)
    np.testing.assert_array_equal(first, sample_centres(source_vessels, 0, 0.5, count=50))
    assert not np.array_equal(first, sample_centres(source_vessels, 0, 0.5, count=50, seed=8))
    centres = sample_centres(source, 0, 1.0, count=100)  # column-5 vessels are outside the FOV
    assert np.all(fov[centres[:, 0], centres[:, 1]])


def test_crop_centre():
    tile = tf.reshape(tf.range(36.0), [6, 6, 1])
    np.testing.assert_array_equal(crop_centre(tile, 2)[..., 0].numpy(), [[14, 15], [20, 21]])
    with pytest.raises(ValueError, match="margin"):
        crop_centre(tile, 3)
    with pytest.raises(ValueError, match="margin"):
        crop_centre(tile, 8)


@pytest.mark.parametrize(
    "arguments, message",
    [
        (([], [], [], []), "at least one image"),
        (([np.zeros((4, 4, 1))], [], [], []), "counts must be equal"),
        (([np.zeros((1, 4, 1))], [np.zeros((1, 4))], [np.zeros((1, 4))], [np.ones((1, 4))]),
         "at least 2x2"),
        (([np.zeros((4, 4, 1))], [np.zeros((4, 4))], [np.zeros((4, 4))], [np.zeros((4, 4))]),
         "empty FOV"),
        (([np.zeros((4, 4, 1))], [np.zeros((4, 3))], [np.zeros((4, 4))], [np.ones((4, 4))]),
         r"label has shape \(4, 3\)"),
        (([np.zeros((4, 4, 1)), np.zeros((4, 4, 3))], [np.zeros((4, 4))] * 2,
          [np.zeros((4, 4))] * 2, [np.ones((4, 4))] * 2), "one C"),
    ],
)
def test_bad_sources_raise(arguments, message):
    with pytest.raises(ValueError, match=message):
        build_patch_source(*arguments)
