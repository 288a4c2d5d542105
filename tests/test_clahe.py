"""CLAHE in TF ops against OpenCV's ``cv2.createCLAHE(...).apply``, bit for bit."""

import numpy as np
import pytest
import tensorflow as tf
from conftest import DRIVE_TRAINING

from vesselnet.preprocessing import clahe, clahe_batch
from vesselnet.preprocessing.clahe import clahe_reference

DRIVE_IMAGES = DRIVE_TRAINING / "images"

# Traced once for every size, clip limit and grid of the parity tests.
_clahe_any_shape = tf.function(
    lambda image, clip_limit, tile_grid: clahe(image, clip_limit, tile_grid),
    input_signature=[
        tf.TensorSpec([None, None], tf.uint8),
        tf.TensorSpec([], tf.float64),
        tf.TensorSpec([2], tf.int32),
    ],
)


def _random_case(seed):
    """A test image (noise, smooth or constant) with a random size, grid and clip limit."""
    rng = np.random.default_rng(seed)
    height, width = (int(n) for n in rng.integers(17, 701, size=2))
    tile_grid = tuple(int(n) for n in rng.integers(1, 17, size=2))
    clip_limit = float(rng.choice([0.0, rng.uniform(0.0, 4.0), rng.uniform(0.0, 40.0)]))
    kind = ("noise", "smooth", "constant")[seed % 3]
    if kind == "noise":
        image = rng.integers(0, 256, size=(height, width), dtype=np.uint8)
    elif kind == "smooth":
        rows, columns = np.mgrid[0:height, 0:width]
        phase = rng.uniform(0, 6.3)
        smooth = 128 + 70 * np.sin(columns / 29.0 + phase) * np.cos(rows / 41.0)
        image = np.clip(smooth + rng.normal(0, 3, smooth.shape), 0, 255).astype(np.uint8)
    else:
        image = np.full((height, width), rng.integers(0, 256), dtype=np.uint8)
    return image, clip_limit, tile_grid


def _assert_equal_images(actual, expected, context):
    actual = np.asarray(actual)
    assert actual.shape == expected.shape, context
    differing = int(np.count_nonzero(actual != expected))
    assert differing == 0, (
        f"{context}: {differing} pixels differ from OpenCV, "
        f"max |diff| {np.abs(actual.astype(int) - expected).max()}"
    )


@pytest.mark.parametrize("seed", range(20))
def test_random_images_match_opencv(seed):
    image, clip_limit, tile_grid = _random_case(seed)
    expected = clahe_reference(image, clip_limit, tile_grid)
    actual = _clahe_any_shape(image, clip_limit, tile_grid)
    _assert_equal_images(actual, expected, f"{image.shape} grid {tile_grid} clip {clip_limit}")


@pytest.mark.parametrize(
    "shape, tile_grid, clip_limit",
    [
        ((64, 64), (8, 8), 2.0),  # divisible: no padding
        ((64, 70), (8, 8), 2.0),  # height divisible, width not: OpenCV pads both
        ((17, 33), (16, 16), 3.0),  # padding nearly as large as the image
        ((40, 300), (16, 2), 1.0),  # non-square grid, wide image
        ((300, 40), (2, 16), 40.0),  # non-square grid, tall image
        ((5, 9), (8, 8), 2.0),  # image smaller than the grid: reflection folds twice
        ((101, 57), (1, 1), 0.0),  # one tile, no clipping: plain histogram equalisation
    ],
)
def test_edge_geometries_match_opencv(shape, tile_grid, clip_limit):
    image = np.random.default_rng(sum(shape)).integers(0, 256, size=shape, dtype=np.uint8)
    expected = clahe_reference(image, clip_limit, tile_grid)
    _assert_equal_images(_clahe_any_shape(image, clip_limit, tile_grid), expected, str(shape))


def test_hand_computed_values():
    # One tile, no clip: histogram {0: 3, 255: 1}, LUT = round(cumsum * 255 / 4).
    image = np.array([[0, 0], [0, 255]], dtype=np.uint8)
    np.testing.assert_array_equal(clahe(image, 0.0, (1, 1)), [[191, 191], [191, 255]])
    # 16x16 constant 100, clip 2.0: limit int(2 * 256 / 256) = 2, 254 clipped pixels spread one
    # each over bins 0..253, so cumsum[100] = 100 + 3 and LUT = round(103 * 255 / 256) = 103.
    constant = np.full((16, 16), 100, dtype=np.uint8)
    np.testing.assert_array_equal(clahe(constant, 2.0, (1, 1)), np.full((16, 16), 103))
    np.testing.assert_array_equal(clahe_reference(constant, 2.0, (1, 1)), np.full((16, 16), 103))


def test_drive_green_channels_match_opencv():
    paths = sorted(DRIVE_IMAGES.glob("*.tif"))
    if not paths:
        pytest.skip(f"DRIVE training images not found under {DRIVE_IMAGES}")
    from PIL import Image

    for path in paths:
        green = np.asarray(Image.open(path).convert("RGB"))[:, :, 1].copy()
        actual = _clahe_any_shape(green, 2.0, (8, 8))
        _assert_equal_images(actual, clahe_reference(green, 2.0, (8, 8)), path.name)
    assert len(paths) == 20


def test_graph_mode_with_unknown_shape_keeps_rank():
    traced = tf.function(
        lambda image: clahe(image, 2.5, (4, 6)),
        input_signature=[tf.TensorSpec([None, None, 1], tf.uint8)],
    )
    rng = np.random.default_rng(3)
    for shape in [(50, 77, 1), (123, 31, 1)]:
        image = rng.integers(0, 256, size=shape, dtype=np.uint8)
        actual = traced(image)
        assert actual.shape == shape and actual.dtype == tf.uint8
        _assert_equal_images(actual, clahe_reference(image, 2.5, (4, 6)), str(shape))
    assert traced.experimental_get_tracing_count() == 1


def test_dataset_map_matches_opencv():
    rng = np.random.default_rng(4)
    images = [rng.integers(0, 256, size=(h, w), dtype=np.uint8) for h, w in [(40, 50), (61, 33)]]
    dataset = tf.data.Dataset.from_generator(
        lambda: iter(images), output_signature=tf.TensorSpec([None, None], tf.uint8)
    ).map(lambda image: clahe(image, 2.0, (3, 5)), num_parallel_calls=tf.data.AUTOTUNE)
    for image, actual in zip(images, dataset):
        _assert_equal_images(actual, clahe_reference(image, 2.0, (3, 5)), str(image.shape))


def test_batch_equalises_every_image_and_channel_on_its_own():
    rng = np.random.default_rng(5)
    images = rng.integers(0, 256, size=(3, 45, 52, 2), dtype=np.uint8)
    images[1] = 7  # a constant image next to noise ones
    actual = tf.function(lambda x: clahe_batch(x, 3.0, (5, 4)))(images).numpy()
    assert actual.shape == images.shape
    for index in range(3):
        for channel in range(2):
            expected = clahe_reference(images[index, :, :, channel], 3.0, (5, 4))
            _assert_equal_images(actual[index, :, :, channel], expected, f"{index}/{channel}")


def test_saved_model_round_trip(tmp_path):
    module = tf.Module()
    module.equalise = tf.function(
        lambda image: clahe(image, 2.0, (8, 8)),
        input_signature=[tf.TensorSpec([None, None], tf.uint8)],
    )
    tf.saved_model.save(module, str(tmp_path / "clahe"))
    restored = tf.saved_model.load(str(tmp_path / "clahe"))
    image = np.random.default_rng(6).integers(0, 256, size=(70, 90), dtype=np.uint8)
    _assert_equal_images(restored.equalise(image), clahe_reference(image, 2.0, (8, 8)), "saved")


@pytest.mark.parametrize(
    "clip_limit, tile_grid, message",
    [
        (-0.5, (8, 8), "-0.5"),
        (float("nan"), (8, 8), "nan"),
        ("2", (8, 8), "'2'"),
        (True, (8, 8), "True"),
        (2.0, (0, 8), r"\(0, 8\)"),
        (2.0, (8, -1), r"\(8, -1\)"),
        (2.0, (8,), r"\(8,\)"),
        (2.0, (8, 8, 8), r"\(8, 8, 8\)"),
        (2.0, (2.5, 8), r"\(2.5, 8\)"),
        (2.0, 8, "8"),
        (2.0, (True, 8), r"\(True, 8\)"),
    ],
)
def test_bad_arguments_raise_with_received_value(clip_limit, tile_grid, message):
    image = np.zeros((16, 16), dtype=np.uint8)
    with pytest.raises(ValueError, match=message):
        clahe(image, clip_limit, tile_grid)
    with pytest.raises(ValueError, match=message):
        clahe_reference(image, clip_limit, tile_grid)


@pytest.mark.parametrize(
    "image, message",
    [
        (np.zeros((16, 16), np.float32), "float32"),
        (np.zeros((16, 16), np.uint16), "uint16"),
        (np.zeros((16,), np.uint8), r"\(16,\)"),
        (np.zeros((2, 16, 16, 1), np.uint8), r"\(2, 16, 16, 1\)"),
        (np.zeros((16, 16, 3), np.uint8), r"\(16, 16, 3\)"),
    ],
)
def test_bad_images_raise_with_received_value(image, message):
    with pytest.raises(ValueError, match=message):
        clahe(image)


def test_bad_tensor_arguments_fail_at_run_time():
    image = np.zeros((16, 16), dtype=np.uint8)
    with pytest.raises(tf.errors.InvalidArgumentError, match="clip_limit"):
        _clahe_any_shape(image, -1.0, (8, 8))
    with pytest.raises(tf.errors.InvalidArgumentError, match="tile_grid"):
        _clahe_any_shape(image, 2.0, (0, 8))
    with pytest.raises(ValueError, match=r"\(2, 16, 16\)"):
        clahe_batch(np.zeros((2, 16, 16), np.uint8))
