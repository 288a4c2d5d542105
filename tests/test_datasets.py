"""One run on several data sets: ``[[data.sets]]`` in the config, patches shared out by weight,
per-set validation in history, TensorBoard and the card, and the ``multi`` preset.

Synthetic folders (:func:`vesselnet.data.synthetic_layouts.write_synthetic_dataset`) stand in
for the data sets; the preset's real folders are read only when they are present.
"""

import dataclasses
import json
import tomllib
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from click.testing import CliRunner
from conftest import without_none

from vesselnet.bundle import load_bundle
from vesselnet.card import (
    CARD_VERSION,
    Architecture,
    DataSetRecord,
    ModelCard,
    TrainingRecord,
    card_markdown,
)
from vesselnet.cli import main
from vesselnet.config import (
    KNOWN_TERMS,
    DataSetConfig,
    PatchConfig,
    config_to_dict,
    load_config,
    load_config_text,
    to_toml,
)
from vesselnet.data.pipeline import make_training_dataset, patch_quotas
from vesselnet.data.synthetic import synthetic_dataset
from vesselnet.data.synthetic_layouts import write_synthetic_dataset
from vesselnet.training import fit
from vesselnet.training.sources import load_run_images

REPOSITORY = Path(__file__).resolve().parents[1]
SHARED = REPOSITORY.parent / "shared" / "datasets"
TWO_SETS = """
[[data.sets]]
name = "A"
dataset = "drive"
data_dir = "/data/DRIVE"
validation_images = ["37"]

[[data.sets]]
name = "B"
dataset = "generic"
data_dir = "/data/B"
split = "all"
validation_count = 1
"""




# -------------------------------------------------------------------------- configuration


@pytest.mark.parametrize("text", [TWO_SETS, (REPOSITORY / "vesselnet/config/presets/multi.toml")
                                  .read_text(encoding="utf-8")])
def test_several_sets_round_trip_through_the_toml_writer_as_arrays_of_tables(text):
    config = load_config_text(text)
    written = to_toml(config)
    assert load_config_text(written) == config
    assert tomllib.loads(written) == without_none(config_to_dict(config))
    assert written.count("[[data.sets]]") == len(config.data.sets) >= 2


def test_a_single_set_config_is_one_set_of_its_single_keys():
    config = load_config("drive", ['data.data_dir="/data/DRIVE"'])
    assert config.data.sets == ()
    (only,) = config.data.data_sets
    assert (only.name, only.dataset, only.data_dir, only.validation_images) == (
        "DRIVE", "DRIVE", "/data/DRIVE", ("37", "38", "39", "40"))
    assert only.terms == KNOWN_TERMS["drive"] and only.weight is None
    assert "sets = []" in to_toml(config).splitlines()  # one set: written as before, plus this


@pytest.mark.parametrize("given, terms", [
    ({"dataset": "drive"}, KNOWN_TERMS["drive"]),
    ({"dataset": "chase_db1"}, KNOWN_TERMS["chase_db1"]),
    ({"dataset": "generic", "name": "LES-AV"}, "scientific use only; commercial use forbidden"),
    ({"dataset": "generic", "name": "mine"}, ""),
    ({"dataset": "drive", "terms": "ours"}, "ours"),
])
def test_known_sets_get_their_terms_by_default(given, terms):
    assert DataSetConfig(data_dir="x", **given).terms == terms


@pytest.mark.parametrize("extra, message", [
    ('[[data.sets]]\ndataset = "drive"\ndata_dir = "x"\ncolour = 1',
     r"unknown key 'data.sets\[2\].colour'"),
    ("[[data.sets]]\ndata_dir = 'x'", r"data.sets\[2\].*'dataset'"),
    ('[[data.sets]]\ndataset = "nope"\ndata_dir = "x"', "dataset must be one of drive"),
    ('[[data.sets]]\ndataset = "drive"', "data_dir is empty"),
    ('[[data.sets]]\nname = "A"\ndataset = "drive"\ndata_dir = "y"', r"names \['A'\] are used twice"),
    ('[[data.sets]]\nname = "C"\ndataset = "drive"\ndata_dir = "y"\nweight = 0',
     r"data.sets\[2\]: weight must be > 0, got 0.0"),
    ('[[data.sets]]\nname = "C"\ndataset = "drive"\ndata_dir = "y"\nweight = -1.5',
     "weight must be > 0, got -1.5"),
    ('[[data.sets]]\nname = "C"\ndataset = "drive"\ndata_dir = "y"\nweight = 2',
     "give a weight to every set or to none"),
    (('[[data.sets]]\nname = "C"\ndataset = "drive"\ndata_dir = "y"\nimages = ["21"]\n'
      'validation_images = ["21"]'), r"images \['21'\] are both trained on"),
    ('[[data.sets]]\nname = "C D"\ndataset = "drive"\ndata_dir = "y"', "name must be letters"),
])
def test_bad_sets_raise_value_error_naming_the_key(extra, message):
    with pytest.raises(ValueError, match=message):
        load_config_text(TWO_SETS + extra)


@pytest.mark.parametrize("setting, key", [
    ({"data.data_dir": "/data/DRIVE"}, "data_dir"),  # what --data-dir sets
    ({"data.dataset": "drive"}, "dataset"),
    ({"data.validation_count": 2}, "validation_count"),
])
def test_single_set_keys_are_refused_beside_sets(setting, key):
    with pytest.raises(ValueError, match=f"give each set its own {key}"):
        load_config_text(TWO_SETS, settings=setting)


def test_an_empty_set_table_is_refused_and_an_empty_list_is_the_single_set():
    with pytest.raises(ValueError, match=r"data.sets\[0\]"):
        load_config_text("[[data.sets]]\n")
    assert load_config_text("[data]\nsets = []").data.data_sets[0].dataset == "synthetic"


# -------------------------------------------------------------------------- patches by weight


@pytest.mark.parametrize("total, weights, expected", [
    (10, [3, 1, 1], [6, 2, 2]),
    (5, [1, 1], [3, 2]),          # the left-over sample goes to the first on a tie
    (7, [1, 2, 4], [1, 2, 4]),
    (9, [0.5, 0.25, 0.25], [5, 2, 2]),
    (0, [1.0], [0]),
])
def test_patch_quotas_share_samples_by_weight(total, weights, expected):
    assert patch_quotas(total, weights).tolist() == expected


@pytest.mark.parametrize("weights", [[], [1.0, 0.0], [1.0, -1.0], [float("nan")]])
def test_patch_quotas_refuse_weights_that_are_not_positive(weights):
    with pytest.raises(ValueError, match="weights must be finite numbers > 0"):
        patch_quotas(10, weights)


RECORDS = synthetic_dataset(4, 3, (64, 64))  # image 0 is set A, images 1-3 set B
VALUES = [0.25, 0.75, 0.75, 0.75]  # constant inputs tell the sets apart


def drawn_from_a(image_weights, steps=20, **options):
    config = PatchConfig(input_size=16, output_size=16, patches_per_image=100, batch_size=20,
                         seed=5)
    inputs = [np.full((64, 64, 1), value, np.float32) for value in VALUES]
    dataset = make_training_dataset(RECORDS, inputs, config, None,
                                    image_weights=image_weights, **options)
    batches = [x.numpy() for x, _ in dataset.take(steps)]
    means = np.concatenate([batch.mean(axis=(1, 2, 3)) for batch in batches])
    return int(np.sum(np.isclose(means, 0.25))), batches


@pytest.mark.parametrize("set_weights, expected", [
    (None, 100),          # in proportion to the images: 1 of 4
    ((1.0, 1.0), 200),    # half each
    ((3.0, 1.0), 300),
    ((1.0, 3.0), 100),
])
def test_patches_are_drawn_from_the_sets_by_their_weights(set_weights, expected):
    image_weights = None if set_weights is None else \
        [set_weights[0]] + [set_weights[1] / 3] * 3  # a set's weight shared by its images
    count, _ = drawn_from_a(image_weights)  # 400 samples: one epoch of 4 x 100
    assert count == expected


def test_a_weighted_stream_resumes_with_the_same_batches():
    _, uninterrupted = drawn_from_a([1.0, 1.0, 1.0, 1.0], steps=25)  # into the second epoch
    _, resumed = drawn_from_a([1.0, 1.0, 1.0, 1.0], steps=3, epoch=1, start_step=2)
    for first, second in zip(uninterrupted[22:], resumed):
        np.testing.assert_array_equal(first, second)


# -------------------------------------------------------------------------- images of the run


@pytest.fixture(scope="module")
def two_folders(tmp_path_factory):
    """Set A: 3 DRIVE-layout retinas of 96 px; set B: 3 generic ones of 144 px (1.5 x A's)."""
    root = tmp_path_factory.mktemp("sets")
    write_synthetic_dataset(root / "A", "drive", 3, 1, size=(96, 96))
    write_synthetic_dataset(root / "B", "generic", 3, 2, size=(144, 144))
    return root


def two_set_config(root, *overrides, weights=None):
    text = TWO_SETS.replace("/data/DRIVE", str(root / "A")).replace("/data/B", str(root / "B"))
    text = text.replace('["37"]', '["23"]')
    if weights:
        text = text.replace('validation_images = ["23"]',
                            f'validation_images = ["23"]\nweight = {weights[0]}')
        text = text.replace("validation_count = 1", f"validation_count = 1\nweight = {weights[1]}")
    tiny = ["model.filters=4", "model.depth=2", "patches.input_size=36",
            "patches.patches_per_image=8", "augment.elastic=false", "training.batch_size=2",
            "training.validate_every=2", "training.checkpoint_every=2", "training.log_every=2",
            "optimizer.warmup_steps=0", 'optimizer.schedule="constant"', 'optimizer.name="sgd"',
            "optimizer.learning_rate=0.05", "training.steps=4", *overrides]
    return load_config_text(text, tiny)


def test_every_set_is_held_out_on_its_own_and_brought_to_the_first_sets_scale(two_folders):
    images = load_run_images(two_set_config(two_folders).data)
    assert [r.name for r in images.train] == ["A:21_training", "A:22_training",
                                              "B:synthetic_000", "B:synthetic_001"]
    assert [r.name for r in images.validation] == ["A:23_training", "B:synthetic_002"]
    first, second = images.sets
    assert (first.train, first.validation, second.train, second.validation) == (
        (0, 2), (0, 1), (2, 4), (1, 2))
    assert second.fov_diameter == pytest.approx(1.5 * first.fov_diameter, rel=0.03)
    assert images.fov_diameter == first.fov_diameter  # "auto": the first set's median
    assert {r.shape for r in images.train[:2]} == {(96, 96)}
    assert all(abs(side - 96) <= 2 for r in images.train[2:] for side in r.shape)  # by ~2/3
    assert images.validation[1].shape == (144, 144)  # scored on its own grid
    assert images.validation_groups == {"A": range(1), "B": range(1, 2)}
    assert images.image_weights is None
    weighted = load_run_images(two_set_config(two_folders, weights=(3, 1)).data)
    assert weighted.image_weights == (1.5, 1.5, 0.5, 0.5)


def test_a_held_out_image_not_in_its_set_is_one_error_naming_the_set(two_folders):
    config = two_set_config(two_folders)
    text = to_toml(config).replace('validation_images = ["23"]', 'validation_images = ["99"]')
    with pytest.raises(ValueError, match=r"data.sets\[0\] \(A\).validation_images \['99'\] "
                                         r"are not in the split"):
        load_run_images(load_config_text(text).data)


# -------------------------------------------------------------------------- a run on two sets


@pytest.fixture(scope="module")
def two_set_run(two_folders, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("run") / "two"
    config = two_set_config(two_folders, weights=(1, 1))
    return run_dir, fit(config, run_dir)


def test_history_holds_each_sets_figures_beside_the_pooled_ones(two_set_run):
    run_dir, result = two_set_run
    history = json.loads((run_dir / "history.json").read_text())
    assert [entry["step"] for entry in history["validation"]] == [2, 4]
    for entry in history["validation"]:
        assert set(entry["sets"]) == {"A", "B"}
        for figures in entry["sets"].values():
            assert {"f1", "auc", "sensitivity", "precision"} <= set(figures)
            assert 0.0 <= figures["auc"] <= 1.0
        # pooled over all FOV pixels: between the two sets' own figures
        low, high = sorted(entry["sets"][name]["sensitivity"] for name in ("A", "B"))
        assert low - 1e-9 <= entry["sensitivity"] <= high + 1e-9
    best = max(history["validation"], key=lambda entry: entry["f1"])
    assert result.best_step == best["step"]  # chosen by the pooled F1


def test_tensorboard_has_validation_scalars_per_set(two_set_run):
    run_dir, _ = two_set_run
    tags = set()
    for path in (run_dir / "logs").iterdir():
        for record in tf.data.TFRecordDataset(str(path)):
            event = tf.compat.v1.Event.FromString(record.numpy())
            tags.update(value.tag for value in event.summary.value)
    assert {"validation/f1", "validation/A/f1", "validation/B/f1", "validation/B/auc"} <= tags


def test_the_card_records_every_set_with_its_terms_and_figures(two_set_run):
    run_dir, result = two_set_run
    _, card = load_bundle(run_dir / "best")
    training = card.training
    assert training.dataset == "A+B" and training.split == "training+all"
    assert training.validation_images == ("A:23_training", "B:synthetic_002")
    first, second = training.sets
    assert (first.name, first.dataset, second.name, second.dataset) == ("A", "drive", "B",
                                                                        "generic")
    assert first.train_images == ("A:21_training", "A:22_training")
    assert second.validation_images == ("B:synthetic_002",)
    assert (first.terms, second.terms, first.weight) == (KNOWN_TERMS["drive"], "", 1.0)
    assert second.fov_diameter == pytest.approx(1.5 * first.fov_diameter, rel=0.03)
    history = json.loads((run_dir / "history.json").read_text())
    best = next(e for e in history["validation"] if e["step"] == result.best_step)
    assert first.best_validation["f1"] == pytest.approx(best["sets"]["A"]["f1"])
    assert second.best_validation["step"] == result.best_step
    text = card_markdown(card)
    assert "  - A (drive, split training): 2 training images, 1 held-out image" in text
    assert f"terms: {KNOWN_TERMS['drive']}" in text and "terms: not recorded" in text
    assert "| all sets pooled |" in text


def test_a_single_set_run_card_has_its_one_set_with_the_pooled_figures(tmp_path):
    from vesselnet.training.card import set_records

    config = load_config(None, ["data.synthetic_images=3", "data.synthetic_size=[64, 64]",
                                "data.validation_count=1"])
    images = load_run_images(config.data)
    (record,) = set_records(images, {"step": 5, "f1": 0.5, "auc": 0.9})
    assert (record.name, record.train_images, record.validation_images) == (
        "synthetic", ("synthetic_000", "synthetic_001"), ("synthetic_002",))
    assert record.best_validation == {"step": 5, "f1": 0.5, "auc": 0.9}


def test_cards_with_sets_round_trip_and_stay_version_2():
    sets = (DataSetRecord("DRIVE", "drive", "training", ("DRIVE:21_training",),
                          ("DRIVE:37_training",), KNOWN_TERMS["drive"], 537.7, None,
                          {"f1": 0.8, "step": 3}),)
    card = ModelCard(Architecture("unet"), training=TrainingRecord(dataset="DRIVE", sets=sets))
    data = json.loads(card.to_json())
    assert data["format_version"] == CARD_VERSION == 2
    assert ModelCard.from_dict(data) == card
    del data["training"]["sets"]  # a card written before
    assert ModelCard.from_dict(data).training.sets == ()


# -------------------------------------------------------------------------- the multi preset


def test_multi_preset_trains_three_sets_at_the_first_sets_scale():
    config = load_config("multi")
    names = [item.name for item in config.data.sets]
    assert names == ["DRIVE", "CHASE_DB1", "LES_AV"]
    drive, chase, les_av = config.data.sets
    assert drive.validation_images == ("37", "38", "39", "40") and drive.split == "training"
    assert chase.validation_images == ("Image_09L", "Image_09R", "Image_10L", "Image_10R")
    assert (chase.split, les_av.split, les_av.dataset, les_av.validation_count) == (
        "all", "all", "generic", 3)
    assert les_av.terms == "scientific use only; commercial use forbidden"
    assert config.data.fov_diameter is None and config.augment.scale_jitter == 0.15
    assert all(item.weight is None for item in config.data.sets)
    drive_preset = load_config("drive", ['data.data_dir="x"'])
    # The drive preset's network and loss; 64-px patches, 18 per batch (the same pixels per
    # step as its 32 of 48 px) and averaged weights, as measured in the preset's comments.
    assert (config.model, config.loss) == (drive_preset.model, drive_preset.loss)
    assert config.optimizer == dataclasses.replace(drive_preset.optimizer, ema_momentum=0.999)
    assert config.training.batch_size == 18
    assert 18 * 64**2 == drive_preset.training.batch_size * drive_preset.patches.input_size**2
    assert config.patches == dataclasses.replace(drive_preset.patches, input_size=64,
                                                 output_size=64, patches_per_image=1125,
                                                 batch_size=18)
    assert all(item.data_dir == f"../shared/datasets/{item.name}" for item in config.data.sets)


REAL_SETS = all((SHARED / name).is_dir() for name in ("DRIVE", "CHASE_DB1", "LES_AV"))


@pytest.mark.slow
@pytest.mark.skipif(not REAL_SETS, reason=f"DRIVE, CHASE_DB1 or LES_AV not found in {SHARED}")
def test_fit_with_the_multi_preset_reads_the_real_folders(tmp_path, monkeypatch):
    monkeypatch.chdir(REPOSITORY)  # the preset's folders are relative to the repository
    run_dir = tmp_path / "multi"
    result = CliRunner().invoke(main, ["fit", str(run_dir), "--config", "multi",
                                                       "--steps", "2"])
    assert result.exit_code == 0, result.output
    _, card = load_bundle(run_dir / "final")
    assert [item.name for item in card.training.sets] == ["DRIVE", "CHASE_DB1", "LES_AV"]
    assert [len(item.train_images) for item in card.training.sets] == [16, 16, 8]
    assert card.training.sets[2].validation_images == ("LES_AV:49", "LES_AV:53", "LES_AV:90")
    assert card.learned_fov_diameter == pytest.approx(537.7, abs=3)
    history = json.loads((run_dir / "history.json").read_text())
    assert set(history["validation"][-1]["sets"]) == {"DRIVE", "CHASE_DB1", "LES_AV"}
