"""Prediction at the scale a network learned: the choice of factor, resampling, and the jobs."""

import dataclasses
import json

import keras
import numpy as np
import pytest
from click.testing import CliRunner

from vesselnet.bundle import save_bundle
from vesselnet.card import DRIVE_FOV_DIAMETER, Architecture, ModelCard, TrainingRecord
from vesselnet.cli import main
from vesselnet.core.scale import SCALE_TOLERANCE
from vesselnet.data import synthetic_retina
from vesselnet.inference import InferenceOptions
from vesselnet.inference.scale import choose_scale, parse_scale
from vesselnet.loading import load_model
from vesselnet.models import build_model
from vesselnet.preprocessing import CLASSIC_CONFIG, fov_diameter
from vesselnet.preprocessing.resample import resample_map, resample_photograph, scaled_size


def disc(size, diameter):
    """A bool disc of ``diameter`` pixels centred in a ``size`` image."""
    rows, columns = np.mgrid[:size[0], :size[1]]
    centre = (np.array(size) - 1) / 2
    return (rows - centre[0]) ** 2 + (columns - centre[1]) ** 2 <= (diameter / 2) ** 2


@pytest.mark.parametrize("text, expected", [
    ("auto", "auto"), ("NONE", "none"), ("0.5", 0.5), (2, 2.0), (" 1.25 ", 1.25)])
def test_parse_scale(text, expected):
    assert parse_scale(text) == expected


@pytest.mark.parametrize("bad", ["big", "0", "-1", float("nan"), True, float("inf")])
def test_parse_scale_refuses(bad):
    with pytest.raises(ValueError, match="scale must be 'auto', 'none' or a positive factor"):
        parse_scale(bad)


def test_choose_scale_rules_by_hand():
    fov = disc((300, 320), 270)  # measured diameter about 270
    half = choose_scale("auto", learned=135.0, fov=fov)
    assert half.mode == "auto" and half.factor == pytest.approx(0.5, abs=0.005)
    assert half.fov_diameter == pytest.approx(270, abs=2.7) and half.measured_by == "circle"
    assert choose_scale("auto", learned=135.0, fov=fov, fov_diameter_px=405).factor == (
        pytest.approx(1 / 3))
    within = choose_scale("auto", learned=270 * (1 + SCALE_TOLERANCE / 2), fov=fov)
    assert within.factor == 1.0 and "within" in within.note
    unknown = choose_scale("auto", learned=None, fov=fov)
    assert unknown.factor == 1.0 and "no learned scale" in unknown.note
    empty = choose_scale("auto", learned=540.0, fov=np.zeros((20, 20), bool))
    assert empty.factor == 1.0 and "empty" in empty.note
    assert choose_scale("none", learned=135.0, fov=fov) == dataclasses.replace(
        choose_scale("none", learned=135.0, fov=fov), mode="none", factor=1.0)
    assert choose_scale(0.75, learned=None, fov=fov).factor == 0.75
    with pytest.raises(ValueError, match="applies to scale 'auto' only"):
        choose_scale("none", learned=135.0, fov=fov, fov_diameter_px=300)
    with pytest.raises(ValueError, match="applies to scale 'auto' only"):
        InferenceOptions(scale=0.5, fov_diameter=300)


def test_resampling_sizes_values_and_the_way_back():
    assert [int(side) for side in scaled_size(584, 565, 0.5)] == [292, 282]
    assert [int(side) for side in scaled_size(3, 3, 0.01)] == [1, 1]
    image = np.full((40, 60, 3), 200, np.uint8)
    fov = disc((40, 60), 36)
    small, small_fov = (np.asarray(item) for item in resample_photograph(image, fov, 0.5))
    assert small.shape == (20, 30, 3) and small.dtype == np.uint8 and np.all(small == 200)
    assert small_fov.dtype == bool and abs(small_fov.mean() - fov.mean()) < 0.03
    large, large_fov = (np.asarray(item) for item in resample_photograph(image, fov, 2.0))
    assert large.shape == (80, 120, 3) and np.all(large == 200)  # bicubic keeps a flat field
    ramp = np.tile(np.linspace(0, 1, 30, dtype=np.float32), (20, 1))
    back = np.asarray(resample_map(ramp, (40, 60)))
    assert back.shape == (40, 60) and 0 <= back.min() and back.max() <= 1
    np.testing.assert_allclose(back[:, 2:-2].mean(axis=0)[::2], ramp[0, 1:-1], atol=0.02)


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    """One tiny U-Net saved twice: with a learned scale of 135 px, and without one."""
    keras.utils.set_random_seed(3)
    model = build_model("unet", filters=4, depth=3, padding="same")
    folder = tmp_path_factory.mktemp("scale")
    card = ModelCard(Architecture("unet", filters=4, depth=3, padding="same"), CLASSIC_CONFIG,
                     training=TrainingRecord(dataset="synthetic", fov_diameter=135.0))
    return {"scaled": save_bundle(folder / "scaled", model, card),
            "unknown": save_bundle(folder / "unknown", model,
                                   dataclasses.replace(card, training=None))}


def test_a_photograph_is_predicted_at_the_learned_scale_and_mapped_back(bundles):
    record = synthetic_retina(1, size=(292, 282))
    loaded = load_model(bundles["scaled"])
    prediction = loaded.predict_photograph(record.image, record.fov)
    diameter = fov_diameter(record.fov).diameter
    assert prediction.scale.factor == pytest.approx(135.0 / diameter)
    probability = prediction.maps["final"]
    assert probability.shape == record.fov.shape and probability.dtype == np.float32
    assert np.all(probability[~record.fov] == 0) and 0 <= probability.min() <= probability.max() <= 1
    # by hand: resample, predict at the small scale, resample back
    small, small_fov = (np.asarray(item) for item in resample_photograph(
        record.image, record.fov, prediction.scale.factor))
    none = dataclasses.replace(loaded, options=InferenceOptions(scale="none"))
    expected = np.asarray(resample_map(none.predict(none.network_input(small, small_fov)),
                                       record.fov.shape))
    np.testing.assert_allclose(probability, np.where(record.fov, expected, 0), atol=1e-6)
    unchanged = none.predict_photograph(record.image, record.fov)
    assert unchanged.scale.factor == 1.0 and unchanged.scale.mode == "none"
    assert not np.allclose(unchanged.maps["final"], probability, atol=1e-3)


def test_cards_without_a_learned_scale_predict_as_they_are(bundles):
    record = synthetic_retina(2, size=(120, 130))
    unknown = load_model(bundles["unknown"]).predict_photograph(record.image, record.fov)
    assert unknown.scale.factor == 1.0 and "no learned scale" in unknown.scale.note
    drive = ModelCard(Architecture("unet"), training=TrainingRecord(dataset="DRIVE"))
    assert drive.learned_fov_diameter == DRIVE_FOV_DIAMETER
    assert ModelCard(Architecture("unet"), training=TrainingRecord(
        dataset="DRIVE", fov_diameter=600.0)).learned_fov_diameter == 600.0


def test_predict_and_evaluate_write_the_scale_they_used(bundles, tmp_path):
    from vesselnet.data.synthetic_layouts import write_synthetic_dataset

    data = tmp_path / "data"
    write_synthetic_dataset(data, "generic", 2, seed=4, size=(300, 290))  # FOV about 270
    result = CliRunner().invoke(main, ["predict", str(data / "images"), "--model",
                                       str(bundles["scaled"]), "--out", str(tmp_path / "p")])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "p" / "predictions.json").read_text())
    assert report["scale"] == "auto" and report["learned_fov_diameter"] == 135.0
    assert all(entry["scale"]["mode"] == "auto" and entry["scale"]["factor"] < 1
               for entry in report["results"])
    given = CliRunner().invoke(main, ["predict", str(data / "images"), "--model",
                                      str(bundles["scaled"]), "--out", str(tmp_path / "q"),
                                      "--fov-diameter", "270"])
    assert given.exit_code == 0, given.output
    entries = json.loads((tmp_path / "q" / "predictions.json").read_text())["results"]
    assert all(entry["scale"]["factor"] == 0.5 and entry["scale"]["measured_by"] == "given"
               for entry in entries)
    evaluation = CliRunner().invoke(main, [
        "evaluate", "--model", str(bundles["scaled"]), "--dataset", "generic", "--data-dir",
        str(data), "--out", str(tmp_path / "e"), "--scale", "0.8", "--no-figures"])
    assert evaluation.exit_code == 0, evaluation.output
    metrics = json.loads((tmp_path / "e" / "metrics.json").read_text())
    assert metrics["inference"]["scale"] == 0.8
    assert [entry["scale"]["factor"] for entry in metrics["per_image"]] == [0.8, 0.8]
    bad = CliRunner().invoke(main, ["predict", str(data / "images"), "--scale", "huge"])
    assert bad.exit_code == 2 and "scale must be" in bad.output


def test_serving_default_resamples_in_the_graph_as_the_host_does(bundles, tmp_path):
    """Parity of the exported ``serving_default`` with ``predict_photograph`` on photographs
    of three sizes: enlarged, shrunk a little and shrunk a lot to the learned 135 px."""
    import os
    import subprocess
    import sys
    import textwrap

    from vesselnet.export import export_saved_model

    loaded = load_model(bundles["scaled"], InferenceOptions(tile_size=96))
    version = export_saved_model(loaded.model, loaded.card, tmp_path, name="scaled",
                                 tile_size=96)
    sizes = ((5, (110, 120)), (6, (180, 170)), (7, (330, 340)))
    images = [synthetic_retina(seed, size=size).image for seed, size in sizes]
    for index, image in enumerate(images):
        np.save(tmp_path / f"image{index}.npy", image)
    # served in a fresh process that imports TensorFlow only, as TF Serving would
    script = textwrap.dedent(f"""
        import sys, numpy as np, tensorflow as tf
        serving = tf.saved_model.load({str(version)!r}).signatures["serving_default"]
        for index in range({len(images)}):
            image = np.load(f"image{{index}}.npy")[None]
            result = serving(image=tf.constant(image))
            np.save(f"probability{{index}}.npy", result["probability"][0].numpy())
            np.save(f"fov{{index}}.npy", result["fov"][0].numpy())
        print(sorted(name for name in sys.modules if name.startswith("vesselnet")))
    """)
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": ""}
    completed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                               timeout=300, cwd=tmp_path, env=environment, check=False)
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert completed.stdout.strip().splitlines()[-1] == "[]"  # vesselnet never imported
    factors = []
    for index, image in enumerate(images):
        fov = np.load(tmp_path / f"fov{index}.npy").astype(bool)
        served = np.where(fov, np.load(tmp_path / f"probability{index}.npy"), 0)
        prediction = loaded.predict_photograph(image, fov)  # predict, given the graph's FOV
        factors.append(prediction.scale.factor)
        assert served.shape == image.shape[:2]
        np.testing.assert_allclose(served, prediction.maps["final"], atol=1e-4)
    assert factors[0] > 1 > factors[1] > factors[2]


def test_a_tflite_file_is_run_at_the_learned_scale_of_its_card(bundles, tmp_path):
    from vesselnet.export import export_tflite

    keras_model = load_model(bundles["scaled"], InferenceOptions(tile_size=96))
    paths = export_tflite(keras_model.model, keras_model.card, tmp_path, tile_size=96,
                          quantizations=["float32"])
    tflite = load_model(paths["float32"])
    assert tflite.card.learned_fov_diameter == 135.0  # the card beside the file
    record = synthetic_retina(8, size=(260, 250))
    expected = keras_model.predict_photograph(record.image, record.fov)
    got = tflite.predict_photograph(record.image, record.fov)
    assert got.scale == expected.scale and got.scale.factor < 1
    np.testing.assert_allclose(got.maps["final"], expected.maps["final"], atol=1e-4)


def test_a_photograph_without_a_dark_surround_is_reported(bundles, tmp_path):
    image = np.full((120, 140, 3), 150, np.uint8)  # retina everywhere: no FOV edge
    path = tmp_path / "inside.png"
    from PIL import Image

    Image.fromarray(image).save(path)
    result = CliRunner().invoke(main, ["predict", str(path), "--model", str(bundles["scaled"]),
                                       "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "no dark surround" in result.stderr and "184 px" in result.stderr  # the diagonal
    entry = json.loads((tmp_path / "out" / "predictions.json").read_text())["results"][0]
    assert entry["scale"]["measured_by"] == "no_edge"
    assert entry["scale"]["factor"] == pytest.approx(135.0 / np.hypot(120, 140), rel=1e-3)
