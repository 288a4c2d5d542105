"""``vesselnet evaluate``: metrics.json equals metrics recomputed on the saved maps; second
observer, chained stage 1, EM errors and morphology; layouts DRIVE, CHASE_DB1 and generic."""

import csv
import json
import math

import cv2
import keras
import numpy as np
import pytest
from click.testing import CliRunner

from vesselnet.bundle import load_bundle, save_bundle
from vesselnet.card import Architecture, ModelCard
from vesselnet.cli import main
from vesselnet.data import read_dataset, write_synthetic_dataset
from vesselnet.inference import predict_image
from vesselnet.jobs.plots import error_map
from vesselnet.jobs.report import per_image_csv
from vesselnet.metrics import (
    METRIC_NAMES,
    MetricAccumulator,
    em_metrics,
    segmentation_metrics,
    ssim_map,
)
from vesselnet.metrics.morphology import vessel_morphology
from vesselnet.metrics.scoring import ScorePool
from vesselnet.models import build_model
from vesselnet.preprocessing import CLASSIC_CONFIG, preprocess

SIZE = (96, 96)


def tiny_bundle(folder, arch):
    keras.utils.set_random_seed(11)
    model = build_model(arch, filters=4, depth=3)
    return save_bundle(folder / arch, model, ModelCard(Architecture(arch), CLASSIC_CONFIG))


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    return {arch: tiny_bundle(folder, arch) for arch in ("unet", "chained")}


def evaluate(*arguments):
    result = CliRunner().invoke(main, ["evaluate", *map(str, arguments)])
    return result


def assert_same_scores(reported: dict, expected: dict, keys=METRIC_NAMES):
    """Equal up to float rounding; NaN (undefined) is null in the JSON."""
    for key in keys:
        if math.isnan(expected[key]):
            assert reported[key] is None, key
        else:
            assert reported[key] == pytest.approx(expected[key], rel=1e-12, abs=1e-15), key


def mean_of(entries, key):
    values = [entry[key] for entry in entries if not math.isnan(entry[key])]
    return sum(values) / len(values) if values else math.nan


# ----------------------------------------------------------------------------- morphology


def line_mask(rows, columns=slice(5, 25), shape=(6, 30)):
    mask = np.zeros(shape, bool)
    mask[rows, columns] = True
    return mask


LEFT_HALF = np.zeros((6, 30), bool)
LEFT_HALF[:, :15] = True


@pytest.mark.parametrize("vessels, fov, expected", [
    # a 1-pixel line: 20 skeleton pixels, distance 1 everywhere -> calibre 2 (w + 1, w odd)
    (line_mask(2), None, (20 / 180, 20.0, 2.0)),
    # a 2-pixel band: skeleton one row of 20, distance 1 -> calibre 2 (exact for even w)
    (line_mask(slice(2, 4)), None, (40 / 180, 20.0, 2.0)),
    # the FOV cuts the line in half: 10 of its pixels in a 90-pixel FOV
    (line_mask(2), LEFT_HALF, (10 / 90, 10.0, 2.0)),
    (np.zeros((6, 30), bool), None, (0.0, 0.0, math.nan)),
    (line_mask(2), np.zeros((6, 30), bool), (math.nan, 0.0, math.nan)),
])
def test_vessel_morphology_by_hand(vessels, fov, expected):
    result = vessel_morphology(vessels, fov)
    values = (result["vessel_density"], result["skeleton_length"], result["mean_calibre"])
    np.testing.assert_allclose(values, expected, equal_nan=True)


def test_vessel_morphology_rejects_bad_shapes():
    with pytest.raises(ValueError, match="2-D mask"):
        vessel_morphology(np.zeros((2, 3, 4), bool))
    with pytest.raises(ValueError, match=r"fov must have the shape of vessels \(4, 4\)"):
        vessel_morphology(np.zeros((4, 4), bool), np.ones((3, 4), bool))


# ------------------------------------------------------------------- scores and report parts


def test_score_pool_pools_pixels_and_averages_images():
    pool = ScorePool(em=True)
    first = pool.add(np.array([[0.9, 0.8]]), np.array([[1, 0]]), np.ones((1, 2), bool))
    second = pool.add(np.array([[0.3, 0.1]]), np.array([[1, 0]]), np.ones((1, 2), bool))
    assert (first["auc_roc"], first["f1"], first["pixel_error"]) == (1.0, pytest.approx(2 / 3),
                                                                    0.5)
    assert (second["auc_roc"], second["f1"], second["pixel_error"]) == (1.0, 0.0, 0.5)
    pooled = pool.aggregate()  # scores 0.9+ 0.8- 0.3+ 0.1-: 3 of 4 pairs ordered
    assert pooled["auc_roc"] == 0.75 and pooled["pixel_error"] == 0.5
    assert pool.mean()["f1"] == pytest.approx(1 / 3) and pool.mean()["auc_roc"] == 1.0
    curves = pool.curves()
    assert (curves["fpr"][0], curves["tpr"][0], curves["fpr"][-1], curves["tpr"][-1]) == (
        0.0, 0.0, 1.0, 1.0)
    assert curves["precision"][0] == 1.0 and curves["precision"][-1] == 0.5


def test_error_map_colours_by_hand():
    truth = np.array([[True, True], [False, False]])
    predicted = np.array([[True, False], [True, False]])
    fov = np.array([[True, True], [True, False]])
    np.testing.assert_array_equal(error_map(truth, predicted, fov), [
        [[255, 255, 255], [30, 144, 255]], [[255, 140, 0], [48, 48, 48]]])


def test_per_image_csv_flattens_and_leaves_undefined_empty():
    text = per_image_csv([{"name": "a", "f1": 0.5, "stage1": {"f1": math.nan}},
                          {"name": "b", "f1": 0.25, "extra": 1}])
    assert text == "name,f1,stage1.f1,extra\na,0.5,,\nb,0.25,,1\n"


# ------------------------------------------------------------------------- the command


def test_evaluate_drive_test_split_matches_independent_metrics(bundles, tmp_path):
    data = tmp_path / "DRIVE"
    write_synthetic_dataset(data, "drive", 2, seed=3, size=SIZE, split="test")
    out = tmp_path / "eval"
    result = evaluate("--model", bundles["unet"], "--dataset", "drive", "--data-dir", data,
                      "--out", out)  # default split: test
    assert result.exit_code == 0, result.output
    assert "drive test: 2 images" in result.stdout and "2nd observer" in result.stdout
    metrics = json.loads((out / "metrics.json").read_text())
    assert (metrics["model"], metrics["dataset"], metrics["split"], metrics["threshold"]) == (
        str(bundles["unet"]), "drive", "test", 0.5)
    records = read_dataset("drive", data, "test")
    maps = [np.load(out / "probabilities" / f"{record.name}.npy") for record in records]
    pooled, observer = MetricAccumulator(), MetricAccumulator()
    expected_images = []
    for record, probability, entry in zip(records, maps, metrics["per_image"]):
        assert entry["name"] == record.name
        assert probability[~record.fov].max() == 0.0
        expected = segmentation_metrics(probability, record.vessels, record.fov)
        assert 0.0 < expected["sensitivity"] < 1.0  # the random net splits at 0.5
        assert_same_scores(entry, expected)
        expected_images.append(expected)
        pooled.update(probability, record.vessels, record.fov)
        second = record.second_observer.astype(np.float64)
        observer.update(second, record.vessels, record.fov)
        assert_same_scores(entry["second_observer"],
                           segmentation_metrics(second, record.vessels, record.fov))
        for source, mask in (("prediction", probability > 0.5), ("ground_truth", record.vessels)):
            np.testing.assert_allclose(
                [entry["morphology"][source][key] for key in ("vessel_density",
                                                              "skeleton_length")],
                [vessel_morphology(mask, record.fov)[key] for key in ("vessel_density",
                                                                      "skeleton_length")])
    assert_same_scores(metrics["aggregate"], pooled.result())
    assert_same_scores(metrics["second_observer"]["aggregate"], observer.result())
    assert_same_scores(metrics["mean"], {key: mean_of(expected_images, key)
                                         for key in METRIC_NAMES})
    assert metrics["second_observer"]["images"] == 2
    assert "stage1" not in metrics and "pixel_error" not in metrics["aggregate"]

    with open(out / "per_image.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["name"] for row in rows] == ["01_test", "02_test"]
    assert float(rows[1]["auc_roc"]) == metrics["per_image"][1]["auc_roc"]
    assert float(rows[0]["second_observer.f1"]) == metrics["per_image"][0]["second_observer"]["f1"]
    for name in ("roc_curve.png", "pr_curve.png", "images/01_test.png", "images/02_test.png"):
        picture = cv2.imread(str(out / name))
        assert picture is not None and picture.shape[0] > 100, name
    assert not [path for path in out.rglob(".*")]  # no temporary files left

    # predict with the official masks gives the very maps that were scored
    predicted = tmp_path / "predicted"
    result = CliRunner().invoke(main, [
        "predict", str(data / "test" / "images"), "--model", str(bundles["unet"]),
        "--fov", str(data / "test" / "mask"), "--format", "npy", "--out", str(predicted)])
    assert result.exit_code == 0, result.output
    for record, probability in zip(records, maps):
        np.testing.assert_array_equal(np.load(predicted / f"{record.name}_probability.npy"),
                                      probability)


def test_evaluate_chained_model_on_training_split_scores_stage1(bundles, tmp_path):
    data = tmp_path / "DRIVE"
    write_synthetic_dataset(data, "drive", 2, seed=4, size=SIZE, split="training")
    out = tmp_path / "eval"
    result = evaluate("--model", bundles["chained"], "--dataset", "drive", "--data-dir", data,
                      "--split", "training", "--out", out, "--no-figures")
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert "second_observer" not in metrics  # DRIVE training has one annotation
    assert not (out / "images").exists() and not (out / "roc_curve.png").exists()
    model, _ = load_bundle(bundles["chained"])
    similarities = []
    for record, entry in zip(read_dataset("drive", data, "training"), metrics["per_image"]):
        network_input = np.asarray(preprocess(record.image, CLASSIC_CONFIG))
        stage1 = np.where(record.fov, predict_image(model, network_input, output="stage1"), 0)
        final = np.load(out / "probabilities" / f"{record.name}.npy")
        expected = segmentation_metrics(stage1, record.vessels, record.fov)
        for key in METRIC_NAMES:
            assert entry["stage1"][key] == pytest.approx(expected[key], rel=1e-5, abs=1e-6), key
        similarity = ssim_map(stage1, final)[record.fov]
        assert entry["stage1_final_ssim"] == pytest.approx(similarity.mean(), rel=1e-5)
        similarities.append(similarity)
    pooled_ssim = np.concatenate(similarities).mean()
    assert metrics["stage1_final_ssim"]["aggregate"] == pytest.approx(pooled_ssim, rel=1e-5)
    assert set(metrics["stage1"]) == {"aggregate", "mean"}


def test_evaluate_scores_only_the_images_asked_for(bundles, tmp_path):
    data = tmp_path / "DRIVE"
    records = write_synthetic_dataset(data, "drive", 3, seed=6, size=SIZE, split="training")
    number = records[1].name.split("_")[0]  # DRIVE-style "NN_training": select by number
    out = tmp_path / "eval"
    result = evaluate("--model", bundles["unet"], "--dataset", "drive", "--data-dir", data,
                      "--split", "training", "--images", f" {number} ", "--out", out,
                      "--no-figures", "--no-save-maps")
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert [entry["name"] for entry in metrics["per_image"]] == [records[1].name]
    missing = evaluate("--model", bundles["unet"], "--dataset", "drive", "--data-dir", data,
                       "--split", "training", "--images", f"{number},99", "--out", out)
    assert missing.exit_code == 1 and "--images ['99'] are not in the split" in missing.stderr


def test_evaluate_chase_db1_derives_fovs_and_scores_the_second_observer(bundles, tmp_path):
    write_synthetic_dataset(tmp_path / "CHASE", "chase_db1", 2, seed=5, size=SIZE)
    result = evaluate("--model", bundles["unet"], "--dataset", "chase_db1", "--data-dir",
                      tmp_path / "CHASE", "--split", "all", "--out", tmp_path / "eval",
                      "--no-figures", "--no-save-maps")
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert [entry["name"] for entry in metrics["per_image"]] == ["Image_01L", "Image_01R"]
    assert metrics["fov_derived_images"] == 2
    assert metrics["second_observer"]["aggregate"]["sensitivity"] == 1.0  # 2nd = 1st dilated
    assert not (tmp_path / "eval" / "probabilities").exists()


def test_evaluate_generic_layout_adds_pixel_and_rand_error(bundles, tmp_path):
    write_synthetic_dataset(tmp_path / "em", "generic", 2, seed=6, size=SIZE)
    out = tmp_path / "eval"
    result = evaluate("--model", bundles["unet"], "--dataset", "generic", "--data-dir",
                      tmp_path / "em", "--out", out, "--no-figures")
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["split"] == "all" and "second_observer" not in metrics
    records = read_dataset("generic", tmp_path / "em", "all")
    for record, entry in zip(records, metrics["per_image"]):
        probability = np.load(out / "probabilities" / f"{record.name}.npy")
        expected = em_metrics(probability, record.vessels, record.fov)
        assert entry["pixel_error"] == pytest.approx(expected["pixel_error"], rel=1e-12)
        assert entry["rand_error"] == pytest.approx(expected["rand_error"], rel=1e-12)
        assert 0.0 < entry["rand_error"] < 1.0
    assert metrics["aggregate"]["pixel_error"] == pytest.approx(
        1.0 - metrics["aggregate"]["accuracy"], rel=1e-12)
    assert metrics["mean"]["rand_error"] == pytest.approx(
        mean_of(metrics["per_image"], "rand_error"), rel=1e-12)


def test_evaluate_errors_name_the_problem(bundles, tmp_path):
    write_synthetic_dataset(tmp_path / "CHASE", "chase_db1", 2, seed=5, size=SIZE)
    unlabelled = tmp_path / "unlabelled"
    write_synthetic_dataset(unlabelled, "generic", 1, seed=7, size=SIZE)
    for path in (unlabelled / "masks").iterdir():
        path.unlink()
    (unlabelled / "masks").rmdir()
    cases = [
        (["--dataset", "kaggle", "--data-dir", tmp_path], "unknown data set 'kaggle'"),
        (["--dataset", "chase_db1", "--data-dir", tmp_path / "CHASE"],  # default split: test
         "the CHASE_DB1 test split is defined on the 28 official images, found 2"),
        (["--dataset", "generic", "--data-dir", unlabelled],
         f"{unlabelled / 'images' / 'synthetic_000.png'}: no vessel annotation"),
        (["--dataset", "drive", "--data-dir", tmp_path, "--model", tmp_path / "m.tflite"],
         "not a DRIVE folder"),  # the data are checked before the model is loaded
    ]
    for arguments, message in cases:
        result = evaluate("--model", bundles["unet"], *arguments, "--out", tmp_path / "out")
        assert result.exit_code == 1, (arguments, result.output)
        assert message in result.stderr, (arguments, result.stderr)
    assert not (tmp_path / "out").exists()
    result = evaluate("--dataset", "drive", "--data-dir", tmp_path, "--out", tmp_path / "out",
                      "--threshold", "1.5")
    assert result.exit_code == 2
