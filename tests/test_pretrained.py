"""Bundled pretrained models: listed by `vesselnet models`, usable by name, and the shipped one."""

import json

import keras
import numpy as np
import pytest
from click.testing import CliRunner

import vesselnet.bundle as bundle_module
from vesselnet.bundle import (
    CARD_FILE,
    MODEL_FILE,
    pretrained_bundles,
    read_card,
    resolve_bundle,
    save_bundle,
)
from vesselnet.card import Architecture, ModelCard, TrainingRecord
from vesselnet.cli import main
from vesselnet.data import synthetic_retina
from vesselnet.loading import DEFAULT_MODEL, InferenceOptions, load_model
from vesselnet.metrics import segmentation_metrics
from vesselnet.models import build_model
from vesselnet.preprocessing import CLASSIC_CONFIG


@pytest.fixture
def pretrained_dir(tmp_path, monkeypatch):
    """A temporary pretrained folder holding one tiny bundle with validation figures."""
    keras.utils.set_random_seed(2)
    folder = tmp_path / "pretrained"
    save_bundle(folder / "tiny-unet", build_model("unet", filters=2, depth=2),
                ModelCard(Architecture("unet", filters=2, depth=2, parameters=1234),
                          CLASSIC_CONFIG,
                          training=TrainingRecord(best_validation={"f1": 0.5, "auc": 0.75})))
    (folder / "not-a-bundle").mkdir()
    monkeypatch.setattr(bundle_module, "PRETRAINED_DIR", folder)
    return folder


def test_models_lists_pretrained_bundles_with_their_validation_figures(pretrained_dir):
    assert list(pretrained_bundles()) == ["tiny-unet"]
    listing = CliRunner().invoke(main, ["models"])
    assert listing.exit_code == 0, listing.output
    assert "tiny-unet" in listing.output and "F1 0.5000, AUC 0.7500" in listing.output
    report = json.loads(CliRunner().invoke(main, ["models", "--json"]).output)
    assert report["pretrained"]["tiny-unet"]["parameters"] == 1234
    assert report["pretrained"]["tiny-unet"]["best_validation"]["f1"] == 0.5


def test_a_bundled_model_is_found_by_name(pretrained_dir):
    runner = load_model("tiny-unet", InferenceOptions())
    assert runner.model.name == "unet"
    with pytest.raises(ValueError, match="no-such-model"):
        load_model("no-such-model", InferenceOptions())


def test_resolve_bundle_maps_none_and_names_to_bundled_folders(pretrained_dir, tmp_path):
    assert resolve_bundle("tiny-unet") == pretrained_dir / "tiny-unet"
    assert resolve_bundle(tmp_path / "mine") == tmp_path / "mine"  # a path stays a path
    assert resolve_bundle(None) == bundle_module.DEFAULT_MODEL


def test_resolve_bundle_without_a_bundled_model_says_what_to_pass(monkeypatch, tmp_path):
    monkeypatch.setattr(bundle_module, "DEFAULT_MODEL", tmp_path / "absent")
    with pytest.raises(ValueError, match="pass a model with --model"):
        resolve_bundle(None)


def test_read_card_refuses_other_folders(tmp_path):
    with pytest.raises(ValueError, match="not a model bundle"):
        read_card(tmp_path)


@pytest.mark.skipif(not DEFAULT_MODEL.is_dir(), reason="no pretrained model bundled")
def test_the_shipped_default_model_is_small_documented_and_predicts():
    card = read_card(DEFAULT_MODEL)
    size = sum(path.stat().st_size for path in DEFAULT_MODEL.iterdir())
    assert size <= 10 * 2**20 and (DEFAULT_MODEL / MODEL_FILE).is_file()
    assert (DEFAULT_MODEL / CARD_FILE).is_file() and (DEFAULT_MODEL / "README.md").is_file()
    best = card.best_validation
    assert 0.5 < best["f1"] <= 1 and 0.5 < best["auc"] <= 1
    trainings = [member.training for member in card.model.members] or [card.training]
    assert all(training.validation_curve for training in trainings)
    assert card.preprocessing.steps
    record = synthetic_retina(0, size=(292, 282))
    probability = load_model(None, InferenceOptions()).probability(record.image, record.fov)
    assert probability.shape == (292, 282)
    assert np.isfinite(probability).all() and 0 <= probability.min() <= probability.max() <= 1
    # It finds the vessels of a synthetic retina it never saw (trained on real photographs
    # only); measured for multi-chained: F1 0.865, AUC 0.999 (drive-ensemble, the default
    # before it: F1 0.835, AUC 0.994).
    scores = segmentation_metrics(probability, record.vessels, record.fov)
    assert scores["f1"] > 0.65 and scores["auc_roc"] > 0.97, scores


def test_every_bundle_carries_a_model_card_built_from_its_figures(pretrained_dir):
    text = (pretrained_dir / "tiny-unet" / "README.md").read_text()
    assert text.startswith("# vesselnet model: unet")
    assert "1,234 parameters" in text
    assert "| 0.5000 | 0.7500 | n/a |" in text  # f1, auc, then a figure the card lacks


def test_predict_without_input_segments_the_bundled_sample(pretrained_dir, tmp_path):
    result = CliRunner().invoke(main, ["predict", "--model", "tiny-unet", "--out",
                                       str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "bundled sample" in result.stderr
    written = sorted(path.name for path in (tmp_path / "out").glob("synthetic_retina_*.png"))
    assert written == ["synthetic_retina_mask.png", "synthetic_retina_overlay.png",
                       "synthetic_retina_probability.png"]
