"""Ensembles: the averaging layer, ``ensemble_model`` and ``vesselnet ensemble`` bundles."""

import json
import math

import keras
import numpy as np
import pytest
from click.testing import CliRunner
from conftest import DRIVE_DIR, needs_drive

from vesselnet.bundle import load_bundle, save_bundle
from vesselnet.card import Architecture, ModelCard, TrainingRecord
from vesselnet.cli import main
from vesselnet.inference import TileGeometry, output_activation, predict_image, tile_geometry
from vesselnet.jobs.ensemble import make_ensemble
from vesselnet.layers import ClassProbabilityMean
from vesselnet.models import build_model, ensemble_model
from vesselnet.preprocessing import CLASSIC_CONFIG, PreprocessConfig

HELD_OUT = ["37_training", "38_training", "39_training", "40_training"]
TRAIN = [f"{number}_training" for number in range(21, 37)]


def test_probability_mean_of_two_pixels_computed_by_hand():
    # pixel 1: p = (0.2, 0.8), q = (0.6, 0.4); pixel 2: p = (0.5, 0.5), q = (0.9, 0.1)
    p = np.array([[[[0.2, 0.8], [0.5, 0.5]]]], np.float32)
    q = np.array([[[[0.6, 0.4], [0.9, 0.1]]]], np.float32)
    arithmetic = ClassProbabilityMean(["log_softmax", "softmax"])([np.log(p), q])
    np.testing.assert_allclose(np.exp(arithmetic),
                               [[[[0.4, 0.6], [0.7, 0.3]]]], atol=1e-6)
    geometric = ClassProbabilityMean(["softmax", "softmax"], "log_probability")([p, q])
    # mean of the logs: log sqrt(0.2 * 0.6), log sqrt(0.8 * 0.4) (normalised later)
    np.testing.assert_allclose(geometric[0, 0, 0],
                               [0.5 * math.log(0.12), 0.5 * math.log(0.32)], atol=1e-6)


@pytest.mark.parametrize("arguments, message", [
    ((["sigmoid"],), "activations must list"),
    (([],), "activations must list"),
    ((["softmax"], "median"), "rule must be one of"),
])
def test_probability_mean_refuses_bad_settings(arguments, message):
    with pytest.raises(ValueError, match=message):
        ClassProbabilityMean(*arguments)


def _members():
    keras.utils.set_random_seed(0)
    chained = build_model("chained", filters=4, depth=3, padding="same")
    unet = build_model("unet", filters=4, depth=2, padding="same", output_activation="softmax")
    return chained, unet


def test_ensemble_model_averages_the_members_probabilities():
    chained, unet = _members()
    model = ensemble_model([chained, unet])
    image = np.random.default_rng(0).random((1, 40, 48, 1), np.float32)
    expected = (np.exp(chained(image)["final"]) + unet(image)) / 2
    np.testing.assert_allclose(np.exp(model(image)), expected, atol=1e-6)
    assert output_activation(model) == "log_softmax"
    assert tile_geometry(model, 48).alignment == 4  # the chained member pools twice
    geometric = np.sqrt(np.exp(chained(image)["final"]) * unet(image))
    np.testing.assert_allclose(np.exp(ensemble_model([chained, unet], "log_probability")(image)),
                               geometric / geometric.sum(-1, keepdims=True), atol=1e-6)


def test_ensemble_model_saves_loads_and_leaves_its_members_unchanged(tmp_path):
    chained, unet = _members()
    model = ensemble_model([chained, unet])
    assert (chained.name, unet.name) == ("chained", "unet")
    model.save(tmp_path / "ensemble.keras")
    loaded = keras.saving.load_model(tmp_path / "ensemble.keras", compile=False)
    image = np.random.default_rng(1).random((64, 64, 1), np.float32)
    np.testing.assert_allclose(predict_image(loaded, image), predict_image(model, image),
                               atol=1e-6)


def test_valid_padding_members_of_equal_margins_give_the_same_smaller_output():
    keras.utils.set_random_seed(3)
    unet = build_model("unet", filters=4, depth=2)  # valid padding: 44 -> 28
    resunet = build_model("resunet", filters=4, depth=2)
    model = ensemble_model([unet, resunet])
    image = np.random.default_rng(3).random((1, 44, 44, 1), np.float32)
    assert model(image).shape == unet(image).shape == (1, 28, 28, 2)
    expected = (np.exp(unet(image)) + np.exp(resunet(image))) / 2
    np.testing.assert_allclose(np.exp(model(image)), expected, atol=1e-6)


def test_ensemble_model_refuses_members_that_cannot_be_averaged():
    chained, unet = _members()
    with pytest.raises(ValueError, match="at least two members"):
        ensemble_model([chained])
    sigmoid = build_model("unet", filters=4, depth=2, padding="same", n_classes=1,
                          output_activation="sigmoid")
    with pytest.raises(ValueError, match=r"member 2 \(unet\): output 'sigmoid'"):
        ensemble_model([chained, sigmoid])
    valid = build_model("unet", filters=4, depth=2, padding="valid")
    with pytest.raises(ValueError, match="margins"):
        ensemble_model([chained, valid])
    rgb = build_model("unet", filters=4, depth=2, padding="same", channels=3)
    with pytest.raises(ValueError, match="input channels"):
        ensemble_model([chained, rgb])


def _bundle(path, model, train=TRAIN, held_out=HELD_OUT, preprocessing=None, wall=60.0):
    card = ModelCard(
        Architecture(model.name, filters=4, depth=2, padding="same", n_classes=2, channels=1,
                     output_activation="log_softmax", parameters=model.count_params()),
        PreprocessConfig.from_dict(preprocessing) if preprocessing else CLASSIC_CONFIG,
        tile_geometry=TileGeometry(48, 48, 4),
        training=TrainingRecord(steps=10, total_steps=10, wall_seconds=wall, dataset="DRIVE",
                                train_images=tuple(train), validation_images=tuple(held_out),
                                best_validation={"step": 10, "f1": 0.5, "auc": 0.9}),
    )
    return save_bundle(path, model, card)


def test_make_ensemble_refuses_members_that_would_not_be_an_honest_average(tmp_path):
    chained, unet = _members()
    first = _bundle(tmp_path / "a", chained)
    other = CLASSIC_CONFIG.to_dict() | {"grayscale": [0.3, 0.6, 0.1]}
    cases = [
        (_bundle(tmp_path / "b", unet, preprocessing=other), "preprocessing differs"),
        (_bundle(tmp_path / "c", unet, held_out=HELD_OUT[:3]), "share their held-out images"),
        (_bundle(tmp_path / "d", unet, train=TRAIN + HELD_OUT[:1]),
         r"trained on \['37_training'\]"),
    ]
    for second, message in cases:
        with pytest.raises(ValueError, match=message):
            make_ensemble(tmp_path / "out", [first, second])
    with pytest.raises(ValueError, match="overwrite one of its members"):
        make_ensemble(first, [first, _bundle(tmp_path / "e", unet)])
    with pytest.raises(ValueError, match="not a model bundle"):
        make_ensemble(tmp_path / "out", [first, tmp_path / "missing"])
    assert not (tmp_path / "out").exists()


def test_ensemble_command_names_the_member_in_a_one_line_error(tmp_path):
    chained, unet = _members()
    other = CLASSIC_CONFIG.to_dict() | {"grayscale": [0.3, 0.6, 0.1]}
    first = _bundle(tmp_path / "a", chained)
    second = _bundle(tmp_path / "b", unet, preprocessing=other)
    result = CliRunner().invoke(main, ["ensemble", str(tmp_path / "out"), str(first),
                                       str(second)])
    assert result.exit_code == 1
    assert f"Error: {second}: its preprocessing differs" in result.output
    assert "Traceback" not in result.output


@needs_drive
def test_ensemble_bundle_is_scored_on_the_held_out_drive_images(tmp_path):
    chained, unet = _members()
    first = _bundle(tmp_path / "a", chained, wall=60.0)
    second = _bundle(tmp_path / "b", unet, wall=30.0)
    (tmp_path / "notes.md").write_text("Both members are untrained.\n")
    result = CliRunner().invoke(main, ["ensemble", str(tmp_path / "out"), str(first),
                                       str(second), "--data-dir", str(DRIVE_DIR),
                                       "--notes", str(tmp_path / "notes.md")])
    assert result.exit_code == 0, result.output
    assert "ensemble: F1" in result.output
    model, card = load_bundle(tmp_path / "out")
    assert card.model.arch == "ensemble"
    assert card.model.parameters == chained.count_params() + unet.count_params()
    assert [member.source for member in card.model.members] == [str(first), str(second)]
    training = card.training
    assert list(training.validation_images) == HELD_OUT and training.wall_seconds == 90.0
    scores = [member.validation for member in card.model.members]
    ensemble = training.best_validation
    assert all(0 <= entry["auc"] <= 1 for entry in scores + [ensemble])
    # the untrained members differ, so their scores do too
    assert scores[0]["auc"] != scores[1]["auc"]
    readme = (tmp_path / "out" / "README.md").read_text()
    assert "ensemble of 2 networks" in readme and f"| ensemble | {ensemble['f1']:.4f}" in readme
    assert "## Notes\n\nBoth members are untrained." in readme
    assert json.loads((tmp_path / "out" / "card.json").read_text())["model"]["rule"] \
        == "probability"
    image = np.random.default_rng(2).random((48, 48, 1), np.float32)
    assert predict_image(model, image).shape == (48, 48)
