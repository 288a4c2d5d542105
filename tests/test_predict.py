"""``vesselnet predict``: inputs, thresholds, file formats, overlays, FOVs, bad files, models."""

import functools
import json
from pathlib import Path

import cv2
import keras
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image
from skimage.filters import threshold_otsu

from conftest import save_tiny_unet_bundle

import vesselnet.bundle as bundle_module
from vesselnet.bundle import load_bundle
from vesselnet.cli import main
from vesselnet.data import derive_fov, read_photograph, write_synthetic_dataset
from vesselnet.inference import predict_image
from vesselnet.jobs.outputs import encode_probability, overlay
from vesselnet.jobs.photographs import collect_inputs
from vesselnet.jobs.predict import PredictionOptions, parse_threshold, predict_files
from vesselnet.preprocessing import preprocess

SIZE = (96, 96)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return save_tiny_unet_bundle(tmp_path_factory.mktemp("model"))


@pytest.fixture(scope="module")
def photographs(tmp_path_factory):
    """Two synthetic photographs (PNG) and a third, grayscale, one (JPEG)."""
    root = tmp_path_factory.mktemp("data")
    records = write_synthetic_dataset(root, "generic", 3, seed=1, size=SIZE)
    grey = cv2.cvtColor(records[2].image, cv2.COLOR_RGB2GRAY)
    records[2].path.unlink()
    Image.fromarray(grey).save(root / "images" / "grey.jpg", quality=95)
    return root / "images"


@functools.lru_cache(maxsize=2)
def reference_model(bundle_path):
    return load_bundle(bundle_path)


def expected_probability(bundle_path, image_path, fov=None):
    """The map predict should write, computed with the library pieces directly."""
    model, card = reference_model(bundle_path)
    image = read_photograph(image_path, grayscale="replicate")
    fov = derive_fov(image) if fov is None else fov
    config = card.preprocessing
    probability = predict_image(model, np.asarray(preprocess(image, config)))
    return np.where(fov, probability, 0.0).astype(np.float32), image, fov


def read_png(path):
    return cv2.imread(str(path), cv2.IMREAD_UNCHANGED)


# ------------------------------------------------------------------------------- inputs


def test_collect_inputs_expands_folders_and_globs_and_flags_problems(tmp_path):
    for name in ("b.png", "a.tif", "notes.txt"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "a.jpg").write_bytes(b"x")
    (tmp_path / "empty").mkdir()
    items = collect_inputs([tmp_path, str(tmp_path / "b.png"), str(tmp_path / "other" / "*.jpg"),
                            str(tmp_path / "missing.png"), str(tmp_path / "*.bmp"),
                            tmp_path / "empty"])
    found = [(item.path.name, item.error) for item in items]
    assert found[:2] == [("a.tif", None), ("b.png", None)]  # folder: sorted, .txt skipped
    assert found[2][0] == "a.jpg" and "same output name 'a'" in found[2][1]  # not b.png again
    assert found[3] == ("missing.png", "file not found")
    assert found[4] == ("*.bmp", "no image files match this pattern")
    assert found[5][0] == "empty" and found[5][1].startswith("no image files in the folder")
    assert len(items) == 6
    with pytest.raises(ValueError, match="no inputs"):
        collect_inputs([])


@pytest.mark.parametrize("text, expected", [
    ("0.5", 0.5), ("0", 0.0), ("1", 1.0), (" OTSU ", "otsu"), (0.25, 0.25),
])
def test_parse_threshold_accepts(text, expected):
    assert parse_threshold(text) == expected


@pytest.mark.parametrize("bad", ["1.5", "-0.1", "half", True, None, float("nan")])
def test_parse_threshold_rejects(bad):
    with pytest.raises(ValueError, match="threshold must be a number in \\[0, 1\\] or 'otsu'"):
        parse_threshold(bad)


@pytest.mark.parametrize("options, message", [
    ({"map_format": "jpeg"}, "map_format must be one of"),
    ({"threshold": 2}, "threshold must be"),
])
def test_prediction_options_reject_bad_values(options, message):
    with pytest.raises(ValueError, match=message):
        PredictionOptions(**options)


# ------------------------------------------------------------------------------ encoding


@pytest.mark.parametrize("map_format, expected", [
    ("png8", np.array([[0, 128], [255, 64]], np.uint8)),  # round(255 p), half to even
    ("png16", np.array([[0, 32768], [65535, 16384]], np.uint16)),
])
def test_probability_png_encodings_by_hand(map_format, expected):
    probability = np.array([[0.0, 0.5], [1.0, 0.25]], np.float32)
    decoded = cv2.imdecode(np.frombuffer(encode_probability(probability, map_format), np.uint8),
                           cv2.IMREAD_UNCHANGED)
    assert decoded.dtype == expected.dtype
    np.testing.assert_array_equal(decoded, expected)


def test_overlay_tints_only_the_mask_pixels():
    image = np.array([[[100, 50, 0], [10, 20, 30]]], np.uint8)
    mask = np.array([[True, False]])
    result = overlay(image, mask)  # green at opacity 0.6: 0.4 * pixel + 0.6 * (0, 255, 0)
    np.testing.assert_array_equal(result, [[[40, 173, 0], [10, 20, 30]]])


# ---------------------------------------------------------------------------- the command


def test_predict_writes_exact_maps_masks_overlays_and_reports_bad_files(bundle, photographs,
                                                                        tmp_path):
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    for path in photographs.iterdir():
        (inputs / path.name).write_bytes(path.read_bytes())
    (inputs / "broken.png").write_bytes(b"not a png")
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["predict", str(inputs), "--model", str(bundle),
                                       "--out", str(out), "--format", "npy"])
    assert result.exit_code == 1, result.output
    problems = [line for line in result.stderr.splitlines() if "broken.png" in line]
    assert problems == [f"{inputs / 'broken.png'}: not a readable image file (9 bytes)"]
    assert "1 input(s) failed" in result.stderr
    assert "predicted 3 of 4 image(s)" in result.stdout
    for name in ("grey", "synthetic_000", "synthetic_001"):
        suffix = ".jpg" if name == "grey" else ".png"
        expected, image, fov = expected_probability(bundle, inputs / f"{name}{suffix}")
        probability = np.load(out / f"{name}_probability.npy")
        np.testing.assert_allclose(probability, expected, atol=1e-6)
        assert probability[~fov].max(initial=0.0) == 0.0
        vessels = (probability > 0.5) & fov
        assert 0 < vessels.sum() < fov.sum()  # the random net splits at 0.5: a real test
        np.testing.assert_array_equal(read_png(out / f"{name}_mask.png"), vessels * 255)
        tinted = cv2.cvtColor(read_png(out / f"{name}_overlay.png"), cv2.COLOR_BGR2RGB)
        np.testing.assert_array_equal(tinted[~vessels], image[~vessels])
        np.testing.assert_array_equal(tinted[vessels], overlay(image, vessels)[vessels])
    assert not [path for path in out.iterdir() if path.name.startswith(".")]  # no temporaries
    summary = json.loads((out / "predictions.json").read_text())
    assert (summary["images"], summary["failed"]) == (4, 1)
    errors = {Path(result["input"]).name: result["error"] for result in summary["results"]}
    assert errors == {"broken.png": problems[0], "grey.jpg": None, "synthetic_000.png": None,
                      "synthetic_001.png": None}


def test_predict_otsu_png8_and_fov_folder(bundle, photographs, tmp_path):
    fov_dir = tmp_path / "fov"
    fov_dir.mkdir()
    given = np.zeros(SIZE, bool)
    given[10:80, 5:60] = True  # a FOV unlike the derived disc
    Image.fromarray(given.astype(np.uint8) * 255).save(fov_dir / "synthetic_000_mask.png")
    image_path = photographs / "synthetic_000.png"
    report = predict_files([image_path], bundle, tmp_path / "npy",
                           PredictionOptions(map_format="npy", threshold="otsu", fov=fov_dir))
    (outcome,) = report.outcomes
    probability = np.load(outcome.outputs["probability"])
    expected, _, _ = expected_probability(bundle, image_path, given)
    np.testing.assert_allclose(probability, expected, atol=1e-6)
    assert outcome.threshold == pytest.approx(threshold_otsu(probability[given]), abs=1e-6)
    np.testing.assert_array_equal(read_png(outcome.outputs["mask"]) > 0,
                                  (probability > outcome.threshold) & given)
    assert outcome.vessel_fraction == pytest.approx(
        np.count_nonzero((probability > outcome.threshold) & given) / given.sum())

    result = CliRunner().invoke(main, ["predict", str(image_path), "--model", str(bundle),
                                       "--out", str(tmp_path / "png"), "--fov", str(fov_dir)])
    assert result.exit_code == 0, result.output
    png8 = read_png(tmp_path / "png" / "synthetic_000_probability.png")
    assert png8.dtype == np.uint8
    np.testing.assert_array_equal(png8, np.rint(probability * 255).astype(np.uint8))


def test_predict_reports_fov_problems_per_image(bundle, photographs, tmp_path):
    small = tmp_path / "small_fov.png"
    Image.fromarray(np.full((50, 40), 255, np.uint8)).save(small)
    report = predict_files([photographs / "synthetic_000.png"], bundle, tmp_path / "a",
                           PredictionOptions(fov=small))
    assert report.failed[0].error == (
        f"{photographs / 'synthetic_000.png'}: photograph is 96x96 but its FOV mask {small} "
        "is 40x50 (width x height)")
    report = predict_files([photographs / "synthetic_000.png"], bundle, tmp_path / "b",
                           PredictionOptions(fov=tmp_path / "a"))  # a folder without masks
    assert "no FOV mask synthetic_000.*" in report.failed[0].error


# -------------------------------------------------------------------------------- models


def test_predict_loads_a_plain_keras_file(bundle, photographs, tmp_path):
    model, _ = reference_model(bundle)
    model.save(tmp_path / "net.keras")
    report = predict_files([photographs / "synthetic_001.png"], tmp_path / "net.keras",
                           tmp_path / "out", PredictionOptions(map_format="npy"))
    expected, _, _ = expected_probability(bundle, photographs / "synthetic_001.png")
    np.testing.assert_allclose(np.load(report.outcomes[0].outputs["probability"]), expected,
                               atol=1e-6)  # a plain .keras file means classic preprocessing


def test_model_errors_name_the_file(photographs, tmp_path, monkeypatch):
    (tmp_path / "net.tflite").write_bytes(b"x")
    (tmp_path / "exported").mkdir()
    (tmp_path / "exported" / "saved_model.pb").write_bytes(b"x")
    (tmp_path / "weights.bin").write_bytes(b"x")
    (tmp_path / "broken.keras").write_bytes(b"not a zip")
    monkeypatch.setattr(bundle_module, "DEFAULT_MODEL", tmp_path / "pretrained" / "none")
    cases = [
        (["--model", str(tmp_path / "net.tflite")], "net.tflite: cannot load the model"),
        (["--model", str(tmp_path / "exported")], "exported: cannot load the model"),
        (["--model", str(tmp_path / "weights.bin")], "weights.bin: unknown model format '.bin'"),
        (["--model", str(tmp_path / "broken.keras")], "broken.keras: cannot load the model"),
        (["--model", str(tmp_path / "nowhere")], "nowhere: model not found"),
        ([], "no pretrained model is bundled yet"),
    ]
    for arguments, message in cases:
        result = CliRunner().invoke(main, ["predict", str(photographs), "--out",
                                           str(tmp_path / "out"), *arguments])
        assert result.exit_code == 1, (arguments, result.output)
        assert message in result.stderr, (arguments, result.stderr)
    assert "pass a model with --model" in result.stderr
    assert not (tmp_path / "out").exists()  # nothing written before the model loads


def test_predict_cli_rejects_bad_options(photographs):
    result = CliRunner().invoke(main, ["predict", str(photographs), "--threshold", "high"])
    assert result.exit_code == 2 and "threshold must be a number" in result.stderr
    result = CliRunner().invoke(main, ["predict", str(photographs), "--format", "jpg"])
    assert result.exit_code == 2
    result = CliRunner().invoke(main, ["predict", str(photographs), "--model", str(photographs),
                                       "--batch-size", "0"])
    assert result.exit_code == 1 and "batch_size must be an integer >= 1" in result.stderr


def test_predict_runs_an_exported_tflite_model_like_its_bundle(bundle, photographs, tmp_path):
    from vesselnet.export.tflite import export_tflite

    model, card = reference_model(bundle)
    paths = export_tflite(model, card, tmp_path / "edge", name="tiny", tile_size=76,
                          quantizations=["float32"])
    result = CliRunner().invoke(main, ["predict", str(photographs / "synthetic_000.png"),
                                       "--model", str(paths["float32"]), "--format", "npy",
                                       "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    keras_map, _, _ = expected_probability(bundle, photographs / "synthetic_000.png")
    tflite_map = np.load(tmp_path / "out" / "synthetic_000_probability.npy")
    assert tflite_map.shape == keras_map.shape
    np.testing.assert_allclose(tflite_map, keras_map, atol=1e-4)
