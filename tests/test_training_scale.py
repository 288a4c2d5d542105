"""Training at one scale: the tolerance, the default diameter, resampled records, validation on
the original grid, the card's learned scale and the ensemble's check of its members' scales.

Synthetic retinas have a circular FOV of radius 0.465-0.48 times the shorter side, so their
diameters lie within 3.2 % of each other (inside ``SCALE_TOLERANCE``).
"""

import dataclasses
import statistics

import keras
import numpy as np
import pytest
from conftest import DRIVE_DIR, needs_drive

from vesselnet.bundle import save_bundle
from vesselnet.card import DRIVE_FOV_DIAMETER, Architecture, ModelCard, TrainingRecord
from vesselnet.config import CLASSIC_CONFIG, load_config
from vesselnet.core.scale import SCALE_TOLERANCE, same_scale, scale_factor
from vesselnet.data import synthetic_retina
from vesselnet.jobs import make_ensemble
from vesselnet.metrics import MetricAccumulator
from vesselnet.models import TileGeometry, build_model
from vesselnet.preprocessing import fov_diameter
from vesselnet.preprocessing.resample import resample_map
from vesselnet.training.card import make_card
from vesselnet.training.scale import (
    PhotographScale,
    measure_scale,
    rescale_record,
    rescale_records,
    training_diameter,
)
from vesselnet.training.sources import (
    load_run_images,
    preprocess_records,
    read_records,
    scaled_inputs,
    split_validation,
)
from vesselnet.training.validation import Validator

SMALL = ["data.synthetic_images=5", "data.synthetic_size=[96, 96]", "data.validation_count=1"]


def scale(diameter, name="x"):
    return PhotographScale(name, float(diameter), "circle")


# ------------------------------------------------------------------------- the tolerance


@pytest.mark.parametrize("target, diameter, expected", [
    (540.0, 540.0, 1.0),
    (540.0, 921.0, 540.0 / 921.0),  # CHASE_DB1 -> DRIVE
    (540.0, 1444.0, 540.0 / 1444.0),  # LES-AV -> DRIVE
    (540.0, 270.0, 2.0),
    (540.0, 560.0, 1.0),  # 0.964: within 5 %
    (540.0, 520.0, 1.0),  # 1.038
    (540.0, 570.0, 540.0 / 570.0),  # 0.947: resampled
    (100.0, 95.0, 100.0 / 95.0),  # 1.0526
])
def test_scale_factor_is_one_within_the_tolerance(target, diameter, expected):
    assert SCALE_TOLERANCE == 0.05
    assert scale_factor(target, diameter) == expected


@pytest.mark.parametrize("target, diameter, message", [
    (0.0, 540.0, "target FOV diameter must be > 0"),
    (540.0, 0.0, "FOV diameter must be > 0, got 0.0"),
    (540.0, float("nan"), "FOV diameter must be a finite number"),
])
def test_scale_factor_refuses_bad_diameters(target, diameter, message):
    with pytest.raises(ValueError, match=message):
        scale_factor(target, diameter)


@pytest.mark.parametrize("diameters, expected", [
    ([], True), ([540.0], True), ([540.0, 540.0, 560.0], True), ([540.0, 567.0], True),
    ([540.0, 568.0], False), ([540.0, 921.0], False),
])
def test_same_scale_compares_the_largest_with_the_smallest(diameters, expected):
    assert same_scale(diameters) is expected


# --------------------------------------------------------------------- the training scale


@pytest.mark.parametrize("given, diameters, expected", [
    (None, [530.0, 560.0, 540.0], 540.0),  # the median
    (None, [500.0, 530.0, 550.0, 900.0], 540.0),  # even count: the mean of the middle two
    (None, [921.0], 921.0),
    (270.0, [530.0, 560.0, 540.0], 270.0),  # data.fov_diameter wins
])
def test_training_diameter_is_the_median_unless_given(given, diameters, expected):
    assert training_diameter(given, [scale(d) for d in diameters]) == expected


def test_default_diameter_is_the_median_of_the_training_fovs_only():
    config = load_config("synthetic", SMALL)
    train, held = split_validation(read_records(config.data), config.data)
    measured = [fov_diameter(record.fov).diameter for record in train]
    images = load_run_images(config.data)
    assert images.fov_diameter == pytest.approx(statistics.median(measured), rel=1e-6)
    assert images.fov_diameter != pytest.approx(statistics.median(
        measured + [fov_diameter(held[0].fov).diameter]), rel=1e-9)  # held-out not counted
    assert [s.name for s in images.scales] == [r.name for r in train + held]
    assert {s.method for s in images.scales} == {"circle"} and images.resampled == []


def test_within_tolerance_the_run_images_are_the_records_bit_for_bit():
    config = load_config("synthetic", SMALL)
    train, held = split_validation(read_records(config.data), config.data)
    images = load_run_images(config.data)
    for ours, theirs in zip(images.train + images.validation, train + held):
        for field in ("image", "fov", "vessels"):
            np.testing.assert_array_equal(getattr(ours, field), getattr(theirs, field))
    for ours, theirs in zip(images.train_inputs + images.validation_inputs,
                            preprocess_records(train + held, config.data.preprocessing)):
        np.testing.assert_array_equal(ours, theirs)
    record = train[0]
    diameter = measure_scale(record).diameter
    for target in (diameter * 0.951, diameter, diameter * 1.049):  # factors within 1 +- 0.05
        assert rescale_records([record], [measure_scale(record)], target)[0] is record


def test_a_photograph_at_twice_the_target_is_halved():
    record = synthetic_retina(3)  # 584 x 565, as DRIVE
    measured = measure_scale(record)
    assert measured.method == "circle" and 520 < measured.diameter < 545
    halved = rescale_record(record, measured.factor_to(measured.diameter / 2))
    assert halved.shape == (292, 282) and halved.name == record.name
    assert halved.image.dtype == np.uint8 and halved.fov.dtype == bool
    assert halved.vessels.dtype == bool and halved.second_observer is None
    assert fov_diameter(halved.fov).diameter == pytest.approx(measured.diameter / 2, rel=0.01)
    # the vessel share of the FOV within 15 % (10.5 % here): the 1-pixel vessels of the
    # synthetic tree are half a pixel wide once halved, and a share >= 0.5 keeps only some
    before = record.vessels[record.fov].mean()
    assert halved.vessels[halved.fov].mean() == pytest.approx(before, rel=0.15)
    # the annotation stays on its vessels: darker in the green channel, about as before
    def contrast(r):
        inside, vessel = r.image[..., 1][r.fov].astype(float), r.vessels[r.fov]
        return inside[~vessel].mean() - inside[vessel].mean()

    assert 0.7 * contrast(record) < contrast(halved) <= contrast(record)  # 8.7 against 10.5


def test_doubled_then_halved_is_the_photograph_again():
    record = synthetic_retina(4, (192, 184))
    doubled = rescale_record(record, 2.0)
    assert doubled.shape == (384, 368)
    assert doubled.vessels[doubled.fov].mean() == pytest.approx(
        record.vessels[record.fov].mean(), rel=0.01)
    again = rescale_record(doubled, 0.5)  # every vessel is >= 2 pixels wide now: no loss
    np.testing.assert_array_equal(again.vessels, record.vessels)
    np.testing.assert_array_equal(again.fov, record.fov)
    difference = np.abs(again.image.astype(int) - record.image)
    assert difference.mean() < 1.0 and np.percentile(difference, 99) <= 6  # bicubic, then area


def test_run_at_half_the_scale_trains_on_halved_and_validates_on_original_records():
    config = load_config("synthetic", SMALL)
    native = load_run_images(config.data)
    target = native.fov_diameter / 2
    images = load_run_images(load_config("synthetic", SMALL + [f"data.fov_diameter={target}"])
                             .data)
    assert images.fov_diameter == target and len(images.resampled) == 5
    for ours, theirs, inputs in zip(images.train, native.train, images.train_inputs):
        assert ours.name == theirs.name  # each by its own factor, about 0.5
        assert all(47 <= side <= 50 for side in ours.shape) and inputs.shape[:2] == ours.shape
    assert [r.shape for r in images.validation] == [(96, 96)]  # scored on the original grid
    assert all(47 <= side <= 50 for side in images.validation_inputs[0].shape[:2])
    np.testing.assert_array_equal(images.validation[0].vessels, native.validation[0].vessels)


def test_an_empty_fov_is_refused_naming_the_image():
    record = synthetic_retina(0, (64, 64))
    empty = dataclasses.replace(record, fov=np.zeros_like(record.fov), name="blank_07")
    with pytest.raises(ValueError, match="image 'blank_07': its scale .* cannot be measured"):
        measure_scale(empty)


# ------------------------------------------------------- validation on the original grid


def thresholding_model():
    """A network whose probability is its input thresholded at 0.5 (a 1x1 convolution)."""
    inputs = keras.Input((None, None, 1))
    logits = keras.layers.Conv2D(1, 1, kernel_initializer=keras.initializers.Constant(40.0),
                                 bias_initializer=keras.initializers.Constant(-20.0),
                                 name="threshold")(inputs)
    return keras.Model(inputs, keras.layers.Activation("sigmoid", name="probability")(logits))


def test_validation_predicts_at_the_training_scale_and_scores_on_the_original_grid():
    record = synthetic_retina(5, (160, 152))
    halved = rescale_record(record, 0.5)
    oracle = halved.vessels[..., None].astype(np.float32)  # the "image" is the halved truth
    model = thresholding_model()
    result = Validator([record], [oracle])(model)
    assert result.preview.shape == (160, 3 * 152, 1)  # the original grid
    probability = resample_map(oracle[..., 0], record.shape).numpy()
    expected = MetricAccumulator()
    expected.update(probability, record.vessels, record.fov)
    assert result.f1 == pytest.approx(float(expected.result()["f1"]), abs=1e-6)
    # the halved truth is perfect on the halved grid; against the original annotation it
    # misses what halving lost (the synthetic tree's 1-pixel vessels): scored on the original
    assert 0.5 < result.f1 < 0.8
    np.testing.assert_array_equal(result.preview[:, 2 * 152:, 0], record.vessels)
    same_grid = Validator([record], [record.vessels[..., None].astype(np.float32)])(model)
    assert same_grid.f1 == pytest.approx(1.0)  # an input on the record's grid is not resampled


def test_scaled_inputs_follow_the_learned_scale():
    records = [synthetic_retina(6, (96, 96))]
    diameter = measure_scale(records[0]).diameter
    native = preprocess_records(records, CLASSIC_CONFIG)
    np.testing.assert_array_equal(scaled_inputs(records, CLASSIC_CONFIG, None)[0], native[0])
    np.testing.assert_array_equal(scaled_inputs(records, CLASSIC_CONFIG, diameter * 1.03)[0],
                                  native[0])
    assert scaled_inputs(records, CLASSIC_CONFIG, diameter * 2)[0].shape == (192, 192, 1)


# -------------------------------------------------------------- the card and the ensemble


def test_the_card_records_the_training_scale():
    config = load_config("synthetic", SMALL)
    model = build_model("unet", filters=4, depth=2, padding="valid")
    card = make_card(model, config, CLASSIC_CONFIG, {"steps": 1, "fov_diameter": 135.5})
    assert card.training.fov_diameter == 135.5 and card.learned_fov_diameter == 135.5
    assert ModelCard.from_dict(card.to_dict()).training.fov_diameter == 135.5


def _member(path, model, diameter, dataset="synthetic"):
    card = ModelCard(
        Architecture(model.name, filters=4, depth=2, padding="same", n_classes=2, channels=1,
                     output_activation="log_softmax", parameters=model.count_params()),
        CLASSIC_CONFIG, tile_geometry=TileGeometry(48, 48, 4),
        training=TrainingRecord(dataset=dataset, train_images=("a",), validation_images=("b",),
                                fov_diameter=diameter))
    return save_bundle(path, model, card)


def _models():
    return (build_model("unet", filters=4, depth=2, padding="same"),
            build_model("resunet", filters=4, depth=2, padding="same"))


@pytest.mark.parametrize("first, second, message", [
    (540.0, 921.0, r"a learned FOV diameter 540\.0 px and .*b 921\.0 px, more than 5% apart"),
    (921.0, 540.0, r"b learned FOV diameter 540\.0 px and .*a 921\.0 px, more than 5% apart"),
    (540.0, 568.0, r"more than 5% apart"),
    (None, 540.0, r"a: no learned scale \(FOV diameter\) on the card, but .*b learned 540\.0"),
])
def test_ensemble_refuses_members_of_different_scales_naming_them(tmp_path, first, second,
                                                                  message):
    one, two = _models()
    paths = [_member(tmp_path / "a", one, first), _member(tmp_path / "b", two, second)]
    with pytest.raises(ValueError, match=message):
        make_ensemble(tmp_path / "out", paths)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("first, second, dataset, expected", [
    (540.0, 560.0, "synthetic", 550.0),  # within 5 %: their mean
    (921.0, 921.0, "synthetic", 921.0),
    (None, None, "synthetic", None),  # unknown, as before
    (None, None, "DRIVE", DRIVE_FOV_DIAMETER),  # older DRIVE cards: DRIVE's scale
])
def test_ensemble_card_carries_the_members_shared_scale(tmp_path, first, second, dataset,
                                                        expected):
    one, two = _models()
    paths = [_member(tmp_path / "a", one, first, dataset),
             _member(tmp_path / "b", two, second, dataset)]
    card = make_ensemble(tmp_path / "out", paths).card
    assert card.learned_fov_diameter == expected
    assert [m.training.fov_diameter for m in card.model.members] == [first, second]


# ------------------------------------------------------------------- real data (DRIVE)


@needs_drive
def test_drive_trains_at_its_own_scale_without_resampling():
    config = load_config("drive", [f'data.data_dir="{DRIVE_DIR}"'])
    images = load_run_images(config.data)
    assert images.fov_diameter == pytest.approx(DRIVE_FOV_DIAMETER, rel=SCALE_TOLERANCE)
    assert images.resampled == [] and len(images.scales) == 20
    train, held = split_validation(read_records(config.data), config.data)
    for ours, theirs in zip(images.train + images.validation, train + held):
        np.testing.assert_array_equal(ours.image, theirs.image)
        np.testing.assert_array_equal(ours.vessels, theirs.vessels)
    for ours, theirs in zip(images.validation_inputs,
                            preprocess_records(held, config.data.preprocessing)):
        np.testing.assert_array_equal(ours, theirs)
