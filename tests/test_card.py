"""The model card: one typed, versioned dataclass, read and written by vesselnet.card only."""

import dataclasses
import json
import math

import pytest

from vesselnet.bundle import PRETRAINED_DIR
from vesselnet.card import (
    CARD_VERSION,
    Architecture,
    CardError,
    ExportRecord,
    Member,
    ModelCard,
    TrainingRecord,
    card_markdown,
    read_card_file,
)
from vesselnet.inference import TileGeometry
from vesselnet.preprocessing import CLASSIC_CONFIG, PreprocessConfig, Step

CURVE = ({"step": 10, "seconds": 60.0, "f1": 0.5, "auc": 0.9},
         {"step": 20, "seconds": 120.0, "f1": 0.6, "auc": 0.95})


def full_card() -> ModelCard:
    member = Member("runs/a/best", Architecture("unet", filters=4, depth=2, padding="same"),
                    TrainingRecord(steps=20, total_steps=20, wall_seconds=120.0,
                                   best_validation={"step": 20, "f1": 0.6},
                                   validation_curve=CURVE),
                    config={"model": {"arch": "unet"}}, validation={"f1": 0.61, "auc": 0.95})
    return ModelCard(
        Architecture("ensemble", padding="same", n_classes=2, channels=1,
                     output_activation="log_softmax", parameters=1234, rule="probability",
                     members=(member, member)),
        PreprocessConfig(grayscale=None, steps=(Step("minmax"),)),
        tile_geometry=TileGeometry(48, 48, 8),
        training=TrainingRecord(dataset="DRIVE", split="training", train_images=("21", "22"),
                                validation_images=("37",), wall_seconds=240.0,
                                best_validation={"f1": 0.62, "auc": math.nan}),
        notes="Both members are tiny.",
        export=ExportRecord("tflite", TileGeometry(96, 96, 8), "log_softmax", "0.1.0",
                            "2026-12-03T00:00:00+00:00", name="v", quantization="int8",
                            calibration_tiles=8),
        vesselnet_version="0.1.0", created="2026-12-03T00:00:00+00:00")


def test_a_card_round_trips_through_json_with_every_section():
    card = full_card()
    data = json.loads(card.to_json())
    assert (data["format"], data["format_version"]) == ("vesselnet.bundle", CARD_VERSION)
    assert data["training"]["best_validation"]["auc"] is None  # NaN is written as null
    assert data["preprocessing"]["grayscale"] is None  # RGB, as PreprocessConfig writes it
    back = ModelCard.from_dict(data)
    expected = dataclasses.replace(card, training=dataclasses.replace(
        card.training, best_validation={"f1": 0.62, "auc": None}))
    assert back == expected
    assert back.model.members[1].training.validation_curve == CURVE
    assert back.export.tile_geometry == TileGeometry(96, 96, 8)
    assert back.validation_images == ("37",)


def test_the_shipped_version_1_card_reads_and_renders_its_readme_unchanged():
    ensemble = PRETRAINED_DIR / "drive-ensemble"
    card = read_card_file(ensemble / "card.json")
    assert card.model.arch == "ensemble" and len(card.model.members) == 3
    assert card.preprocessing == CLASSIC_CONFIG
    assert card.tile_geometry == TileGeometry(48, 48, 8)
    assert card.validation_images == ("37_training", "38_training", "39_training",
                                      "40_training")
    assert card.best_validation["f1"] == pytest.approx(0.8228, abs=5e-5)
    assert card_markdown(card) == (ensemble / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("change, message", [
    (lambda data: data.update(format="other"), "format 'other', expected 'vesselnet.bundle'"),
    (lambda data: data.update(format_version=3), "version 3 is newer than this vesselnet reads"),
    (lambda data: data.pop("format_version"), "version None is not one this vesselnet reads"),
    (lambda data: data.update(colour="red"), r"unknown ModelCard keys \['colour'\]"),
    (lambda data: data["model"].update(output_key="final"), "unknown key 'model.output_key'"),
    (lambda data: data["model"].update(depth="deep"), "model.depth must be of type int, got 'deep'"),
    (lambda data: data["model"].update(depth=True), "model.depth must be of type int, got True"),
    (lambda data: data["training"].update(train_images="21"),
     "training.train_images must be of type tuple, got '21'"),
    (lambda data: data["preprocessing"]["steps"].append({"name": "blur"}),
     "unknown preprocessing step 'blur'"),
    (lambda data: data.update(tile_geometry={"input_size": 40, "output_size": 35}),
     "input_size=40, output_size=35"),
])
def test_bad_cards_raise_a_card_error_naming_the_file(tmp_path, change, message):
    data = json.loads(full_card().to_json())
    change(data)
    path = tmp_path / "card.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(CardError, match=message) as caught:
        read_card_file(path)
    assert str(caught.value).startswith(str(path))


def test_a_version_1_card_drops_its_unused_output_key(tmp_path):
    data = json.loads(full_card().to_json())
    data["format_version"] = 1
    data["model"]["output_key"] = None
    data["model"]["members"][0]["training"]["validation_curve"] = None  # a member without one
    card = ModelCard.from_dict(data)
    assert card.model.rule == "probability"
    assert card.model.members[0].training.validation_curve == ()
    assert card.model.members[1].training.validation_curve == CURVE


def test_a_file_that_is_no_json_is_named(tmp_path):
    path = tmp_path / "card.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(CardError, match="card.json: cannot read the model card"):
        read_card_file(path)
