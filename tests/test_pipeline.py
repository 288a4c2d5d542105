"""The tf.data training pipeline: shapes, alignment, FOV weights, centres, determinism, resume."""

import dataclasses

import cv2
import numpy as np
import pytest
from conftest import DRIVE_DIR, needs_drive

from vesselnet.data import read_drive
from vesselnet.data.augment import AugmentConfig
from vesselnet.data.pipeline import (
    PatchConfig,
    default_preprocess,
    make_training_dataset,
    steps_per_epoch,
)
from vesselnet.data.records import ImageRecord
from vesselnet.training.distribute import op_determinism

GEOMETRY_ONLY = AugmentConfig(brightness=False, contrast=False, gamma=False)


def encoded_record(seed, height=96, width=88, inset=18):
    """Red channel = FOV, green channel = vessels, so x encodes what y must hold."""
    rng = np.random.default_rng(seed)
    vessels = np.zeros((height, width), np.uint8)
    for _ in range(7):
        ends = rng.integers(0, [width, height], size=(2, 2))
        cv2.line(vessels, tuple(map(int, ends[0])), tuple(map(int, ends[1])), 1,
                 int(rng.integers(1, 4)))
    fov = np.zeros((height, width), np.uint8)
    cv2.ellipse(fov, (width // 2, height // 2), (width // 2 - inset, height // 2 - inset),
                0, 0, 360, 1, -1)
    image = np.zeros((height, width, 3), np.uint8)
    image[..., 0], image[..., 1] = fov * 255, vessels * 255
    return ImageRecord(f"encoded_{seed}", image, fov.astype(bool), vessels.astype(bool))


def fov_and_vessels(image):
    return image[..., :2].astype(np.float32) / 255.0


RECORDS = [encoded_record(seed) for seed in range(3)]


def first_batches(dataset, count):
    return [(x.numpy(), y.numpy()) for x, y in dataset.take(count)]


def centre(array, size):
    start = (array.shape[1] - size) // 2
    return array[:, start : start + size, start : start + size]


@pytest.mark.parametrize("input_size, output_size", [(32, 32), (36, 20)])
def test_shapes_labels_and_alignment_without_augmentation(input_size, output_size):
    config = PatchConfig(input_size=input_size, output_size=output_size, patches_per_image=8,
                         batch_size=8, seed=1)
    (x, y), = first_batches(make_training_dataset(RECORDS, fov_and_vessels, config), 1)
    assert x.shape == (8, input_size, input_size, 2) and x.dtype == np.float32
    assert y.shape == (8, output_size, output_size, 2) and y.dtype == np.float32
    assert set(np.unique(y[..., 0])) == {0.0, 1.0}
    np.testing.assert_array_equal(y[..., 0], centre(x[..., 1], output_size))
    # weight == FOV everywhere in the tile (the inset FOV keeps tiles inside the image)
    np.testing.assert_array_equal(y[..., 1], centre(x[..., 0], output_size))


def test_weight_is_zero_in_mirrored_area_outside_the_image():
    record = encoded_record(5, inset=0)
    full_fov = ImageRecord("full", record.image, np.ones(record.shape, bool), record.vessels)
    config = PatchConfig(input_size=60, output_size=60, patches_per_image=32, batch_size=32)
    (x, y), = first_batches(make_training_dataset([full_fov], None, config), 1)
    zero_weight = y[..., 1] == 0
    assert 0.1 < zero_weight.mean() < 0.9  # tiles overhang the 96x88 image
    assert np.all(y[..., 1][~zero_weight] == 1.0)
    overhang = zero_weight.any(axis=(1, 2))
    assert np.all(x[overhang].std(axis=(1, 2)) > 0)  # mirrored content, not blank padding


def test_alignment_with_geometric_augmentation():
    config = PatchConfig(input_size=40, output_size=40, patches_per_image=16, batch_size=16)
    batches = first_batches(make_training_dataset(RECORDS, fov_and_vessels, config,
                                                  GEOMETRY_ONLY), 2)
    for x, y in batches:
        assert set(np.unique(y[..., 0])) <= {0.0, 1.0}
        assert np.mean(np.abs(x[..., 1] - y[..., 0]) > 0.5) < 0.03
        assert np.mean((x[..., 0] > 0.5) != (y[..., 1] > 0)) < 0.03


def test_centres_inside_fov_and_vessel_share():
    share = 0.6
    config = PatchConfig(input_size=33, output_size=21, patches_per_image=150, batch_size=50,
                         vessel_centre_share=share, seed=4)
    dataset = make_training_dataset(RECORDS, fov_and_vessels, config, repeat=False)
    y = np.concatenate([y for _, y in first_batches(dataset, 100)])
    assert y.shape[0] == 450
    assert np.all(y[:, 10, 10, 1] == 1.0)  # centre pixel inside the FOV
    fraction = np.mean([(r.vessels & r.fov).sum() / r.fov.sum() for r in RECORDS])
    assert y[:, 10, 10, 0].mean() == pytest.approx(share + (1 - share) * fraction, abs=0.08)


def test_every_image_gives_patches_per_image_samples_per_epoch():
    records = [encoded_record(seed, height=40 + 8 * seed) for seed in range(3)]  # sizes differ
    arrays = [np.full(r.shape + (1,), 10.0 * (n + 1), np.float32) for n, r in enumerate(records)]
    config = PatchConfig(input_size=16, output_size=16, patches_per_image=7, batch_size=4)
    dataset = make_training_dataset(records, arrays, config, repeat=False)
    batches = first_batches(dataset, 100)
    assert [len(x) for x, _ in batches] == [4, 4, 4, 4, 4, 1]
    values = np.concatenate([x[:, 8, 8, 0] for x, _ in batches])
    np.testing.assert_array_equal(np.bincount(values.astype(int) // 10), [0, 7, 7, 7])
    assert not np.array_equal(values, np.sort(values))  # shuffled


def test_weight_map_values_inside_fov():
    config = PatchConfig(input_size=32, output_size=32, patches_per_image=16, batch_size=16,
                         use_weight_map=True)
    (x, y), = first_batches(make_training_dataset(RECORDS, fov_and_vessels, config), 1)
    inside = x[..., 0] > 0.5
    assert np.all(y[..., 1][~inside] == 0) and np.all(y[..., 1][inside] > 0.3)
    assert y[..., 1].max() > 4.0  # vessel class weight and border term exceed 1


def test_deterministic_and_resumable():
    # as in training, which runs under op determinism (training.deterministic, the default)
    config = PatchConfig(input_size=24, output_size=16, patches_per_image=10, batch_size=6, seed=9)
    augment = AugmentConfig()
    steps = steps_per_epoch(len(RECORDS), config)
    assert steps == 5
    with op_determinism(True):
        run = first_batches(make_training_dataset(RECORDS, None, config, augment), 2 * steps + 2)
        again = first_batches(make_training_dataset(RECORDS, None, config, augment), 3)
        for (x1, y1), (x2, y2) in zip(run, again):
            np.testing.assert_array_equal(x1, x2)
            np.testing.assert_array_equal(y1, y2)
        resumed = first_batches(
            make_training_dataset(RECORDS, None, config, augment, epoch=1, start_step=3), 3
        )
        for (x1, y1), (x2, y2) in zip(run[steps + 3 :], resumed):
            np.testing.assert_array_equal(x1, x2)
            np.testing.assert_array_equal(y1, y2)
        other_seed = PatchConfig.from_dict({**config.to_dict(), "seed": 10})
        (x3, _), = first_batches(make_training_dataset(RECORDS, None, other_seed, augment), 1)
        assert not np.array_equal(run[0][0], x3)
        assert not np.array_equal(run[0][0], run[steps][0])  # epoch 1 differs from epoch 0


def test_default_preprocess_is_green_over_255():
    image = np.zeros((2, 2, 3), np.uint8)
    image[..., 1] = [[0, 51], [255, 102]]
    np.testing.assert_allclose(default_preprocess(image)[..., 0], [[0, 0.2], [1, 0.4]])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"input_size": 32, "output_size": 40}, "output_size 40 is larger than input_size 32"),
        ({"input_size": 33, "output_size": 20}, "is odd"),
        ({"patches_per_image": 0}, "patches_per_image must be >= 1, got 0"),
        ({"vessel_centre_share": 1.5}, r"vessel_centre_share must be in \[0, 1\], got 1.5"),
        ({"vessel_centre_share": -0.1}, "got -0.1"),
        ({"batch_size": 0}, "batch_size must be >= 1, got 0"),
        ({"sigma": 0.0}, "sigma > 0"),
    ],
)
def test_bad_patch_configs_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        PatchConfig(**kwargs)


def test_bad_pipeline_arguments_raise():
    config = PatchConfig(input_size=16, output_size=16, patches_per_image=2, batch_size=64)
    with pytest.raises(ValueError, match="less than one batch"):
        make_training_dataset(RECORDS, None, config)
    unlabelled = ImageRecord("x", RECORDS[0].image, RECORDS[0].fov)
    with pytest.raises(ValueError, match="no.*'x'"):
        make_training_dataset([unlabelled], None, PatchConfig())
    with pytest.raises(ValueError, match="preprocessed shape"):
        make_training_dataset(RECORDS[:1], [np.zeros((5, 5, 1))], PatchConfig())
    with pytest.raises(ValueError, match="unknown PatchConfig keys"):
        PatchConfig.from_dict({"tile": 3})


def test_synthetic_retinas_with_weight_map_and_full_augmentation():
    synthetic = pytest.importorskip("vesselnet.data.synthetic")
    records = [synthetic.synthetic_retina(seed, size=(128, 120)) for seed in range(2)]
    config = PatchConfig(input_size=44, output_size=28, patches_per_image=8, batch_size=8,
                         use_weight_map=True)
    (x, y), = first_batches(make_training_dataset(records, None, config, AugmentConfig()), 1)
    assert x.shape == (8, 44, 44, 1) and y.shape == (8, 28, 28, 2)
    assert 0.0 <= x.min() and x.max() <= 1.0
    assert set(np.unique(y[..., 0])) == {0.0, 1.0}
    assert np.all(np.isfinite(y[..., 1])) and y[..., 1].min() >= 0.0 and y[..., 1].max() > 1.0


@needs_drive
def test_drive_batches_are_aligned_augmented_and_weighted():
    """Real DRIVE images: the red channel is replaced by the vessel mask, so after the full
    geometric augmentation (flips, turns, rotation, elastic) x still shows where y's labels
    are; the U-Net weight map rides along and is 0 exactly outside the FOV."""
    records = []
    for record in read_drive(DRIVE_DIR, "training")[:3]:
        image = record.image.copy()
        image[..., 0] = record.vessels * 255
        records.append(dataclasses.replace(record, image=image))
    augment = AugmentConfig(brightness=False, contrast=False, gamma=False, elastic_alpha=3.0)
    config = PatchConfig(input_size=92, output_size=60, patches_per_image=16, batch_size=16,
                         seed=3, use_weight_map=True)
    dataset = make_training_dataset(records, lambda image: image[..., :2] / 255.0, config,
                                    augment)
    (x, y), = first_batches(dataset, 1)
    assert x.shape == (16, 92, 92, 2) and y.shape == (16, 60, 60, 2)
    labels, weights = y[..., 0], y[..., 1]
    assert set(np.unique(labels)) == {0.0, 1.0}
    drawn = centre(x[..., 0], 60) > 0.5  # bilinear image vs nearest label: edges may differ
    assert (drawn == (labels > 0.5)).mean() > 0.985  # measured 0.995; 2 px off: 0.89
    # class balance + border term: vessel pixels > 1, background near vessels well above 1
    inside = weights > 0
    assert inside.mean() > 0.5 and weights.max() > 3.0
    assert weights[inside & (labels == 1)].min() > 1.0
    # an augmented batch differs from the plain one cut at the same centres
    (x_plain, _), = first_batches(make_training_dataset(
        records, lambda image: image[..., :2] / 255.0, config, None), 1)
    assert not np.array_equal(x_plain, x)
