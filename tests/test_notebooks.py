"""The notebooks in ``notebooks/``: stored clean, and each runs headless in fast mode.

Each notebook is executed with nbclient in a fresh ``python3`` kernel, with
``VESSELNET_NOTEBOOK_FAST=1``, ``VESSELNET_NOTEBOOK_OUT`` in ``tmp_path`` and the notebooks
folder as working directory. A notebook writes the key figures of what it did into
``OUT/<notebook name>/summary.json``. The tests do not take those figures on trust: each one
recomputes them from the files the notebook wrote and from its own predictions with the
library (scikit-learn for the AUC), and compares. Executing the four notebooks takes 2-4
minutes on 2 CPU cores, so those tests are marked ``slow`` (``pytest -m slow``); the storage
test runs by default.
"""

import json
import math
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image
from sklearn.metrics import roc_auc_score

from vesselnet.bundle import read_card
from vesselnet.data import derive_fov, read_dataset, read_photograph
from vesselnet.inference import InferenceOptions
from vesselnet.jobs.predict import SAMPLE_IMAGE
from vesselnet.loading import load_model

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NAMES = ("01_quickstart", "02_training", "03_evaluation", "04_export_serving")
CELL_TIMEOUT = 300  # seconds per cell; fast mode needs well under a minute per notebook
THRESHOLD = 0.5  # the notebooks' threshold


def run_notebook(name: str, tmp_path: Path, monkeypatch) -> dict:
    """Executes ``notebooks/NAME.ipynb`` in fast mode and returns its ``summary.json``."""
    monkeypatch.setenv("VESSELNET_NOTEBOOK_FAST", "1")
    monkeypatch.setenv("VESSELNET_NOTEBOOK_OUT", str(tmp_path))
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
    notebook = nbformat.read(NOTEBOOK_DIR / f"{name}.ipynb", as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=CELL_TIMEOUT, kernel_name="python3",
                                     resources={"metadata": {"path": str(NOTEBOOK_DIR)}})
    client.execute()  # raises CellExecutionError, with the cell and traceback, on any error
    return json.loads((tmp_path / name / "summary.json").read_text(encoding="utf-8"))


def read_event_files(log_dir: Path) -> tuple[dict[str, dict[int, float]], set[str]]:
    """``({scalar tag: {step: value}}, all tags)`` of a run's TensorBoard event files."""
    scalars, tags = {}, set()
    for path in sorted(log_dir.glob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                tags.add(value.tag)
                tensor = tf.make_ndarray(value.tensor)
                if tensor.ndim == 0:
                    scalars.setdefault(value.tag, {})[event.step] = float(tensor)
    return scalars, tags


def f1_score(predicted: np.ndarray, truth: np.ndarray) -> float:
    """F1 (Dice) of two boolean arrays of the same pixels."""
    true_positives = np.count_nonzero(predicted & truth)
    wrong = np.count_nonzero(predicted != truth)
    return 2 * true_positives / (2 * true_positives + wrong)


@pytest.mark.parametrize("name", NAMES)
def test_notebook_is_stored_without_outputs_for_the_python3_kernel(name):
    notebook = nbformat.read(NOTEBOOK_DIR / f"{name}.ipynb", as_version=4)
    nbformat.validate(notebook)
    assert notebook.nbformat == 4
    assert notebook.metadata["kernelspec"]["name"] == "python3"
    assert notebook.cells[0].cell_type == "markdown"
    assert "VESSELNET_NOTEBOOK_FAST" in notebook.cells[1].source
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(cell.outputs == [] and cell.execution_count is None for cell in code_cells)


@pytest.mark.slow
def test_quickstart_writes_the_probability_map_and_mask_of_the_bundled_model(
        tmp_path, monkeypatch):
    summary = run_notebook("01_quickstart", tmp_path, monkeypatch)
    assert summary["data"] == "synthetic"
    assert Path(summary["photograph"]).resolve() == SAMPLE_IMAGE.resolve()
    assert summary["threshold"] == THRESHOLD

    # the test's own prediction of the sample photograph
    image = read_photograph(SAMPLE_IMAGE)
    fov = derive_fov(image)
    expected = load_model().probability(image, fov)
    assert summary["image_size"] == list(image.shape[:2])
    height, width = image.shape[:2]

    stored = np.asarray(Image.open(summary["outputs"]["probability"]))
    assert stored.shape == (height, width) and stored.dtype == np.uint8
    assert np.abs(stored / 255.0 - expected).max() <= 0.5 / 255 + 1e-6  # rounding only
    assert summary["png_vs_memory_max_difference"] <= 0.5 / 255 + 1e-6

    mask = np.asarray(Image.open(summary["outputs"]["mask"])) > 0
    assert mask.shape == (height, width) and not np.any(mask & ~fov)
    disagree = mask != ((expected > THRESHOLD) & fov)
    assert np.all(np.abs(expected[disagree] - THRESHOLD) < 1e-5)  # float round-off at most
    fraction = np.count_nonzero(mask) / np.count_nonzero(fov)
    assert summary["vessel_fraction"] == pytest.approx(fraction, abs=1e-12)
    # the bundled model marks about a fifth of the sample's FOV as vessel (measured: 0.18)
    assert 0.03 < fraction < 0.4

    assert np.asarray(Image.open(summary["outputs"]["overlay"])).shape == (height, width, 3)
    assert Path(summary["figure"]).is_file()


@pytest.mark.slow
def test_training_notebook_reports_the_runs_history_events_and_bundles(tmp_path, monkeypatch):
    summary = run_notebook("02_training", tmp_path, monkeypatch)
    assert summary["preset"] == "synthetic" and summary["steps"] == 90
    run_dir = Path(summary["run_dir"])
    history = json.loads((run_dir / "history.json").read_text(encoding="utf-8"))

    validation_steps = [entry["step"] for entry in history["validation"]]
    assert validation_steps == [15, 30, 45, 60, 75, 90]
    assert summary["validation_steps"] == validation_steps
    scored = [entry for entry in history["validation"] if entry["f1"] is not None]
    best = max(scored, key=lambda entry: entry["f1"])  # the first of equal F1s, as fit keeps
    assert summary["best_f1"] == pytest.approx(best["f1"], abs=1e-12)
    assert summary["best_step"] == best["step"]
    assert 0.0 <= best["f1"] <= 1.0
    last = history["train"][-1]
    assert last["step"] == 90 and math.isfinite(last["loss"])
    assert summary["final_loss"] == pytest.approx(last["loss"], abs=1e-12)

    best_bundle = Path(summary["best_bundle"])
    for name in ("model.keras", "card.json", "README.md"):
        assert (best_bundle / name).is_file()
    best_card = read_card(best_bundle)
    assert best_card.best_validation["f1"] == pytest.approx(best["f1"], abs=1e-12)
    assert best_card.best_validation["step"] == best["step"]
    assert best_card.training.steps == best["step"] and best_card.training.total_steps == 90
    final_card = read_card(run_dir / "final")
    assert final_card.training.steps == 90
    assert final_card.training.final_loss == pytest.approx(last["loss"], abs=1e-12)

    scalars, tags = read_event_files(run_dir / "logs")
    assert {"train/loss", "train/learning_rate", "validation/f1", "validation/auc",
            "validation/input_probability_truth"} <= tags
    assert set(summary["tags"]) == tags
    for tag, section, key in (("train/loss", "train", "loss"),
                              ("validation/f1", "validation", "f1"),
                              ("validation/auc", "validation", "auc")):
        logged = {entry["step"]: entry[key] for entry in history[section]}
        assert sorted(scalars[tag]) == sorted(logged)
        # event files keep float32, history.json float64
        assert all(abs(scalars[tag][step] - logged[step]) < 1e-5 for step in logged)
    differences = summary["events_vs_history_max_difference"]
    assert set(differences) == {"train/loss", "validation/f1", "validation/auc"}
    assert all(value is not None and value < 1e-5 for value in differences.values())


@pytest.mark.slow
def test_evaluation_notebook_reports_the_scores_of_its_probability_maps(tmp_path, monkeypatch):
    summary = run_notebook("03_evaluation", tmp_path, monkeypatch)
    assert summary["data"] == "generic"
    metrics_file = Path(summary["metrics_file"])
    metrics = json.loads(metrics_file.read_text(encoding="utf-8"))
    assert metrics["images"] == 3 and metrics["threshold"] == THRESHOLD
    assert 0.0 <= metrics["aggregate"]["f1"] <= 1.0

    # ground truth read by the test, maps as the report wrote them, scores by the test
    records = read_dataset("generic", summary["data_dir"], "all")
    assert [record.name for record in records] == summary["images"] and len(records) == 3
    per_image, truths, scores = {}, [], []
    for record in records:
        probability = np.load(metrics_file.parent / "probabilities" / f"{record.name}.npy")
        assert probability.shape == record.fov.shape
        truth, score = record.vessels[record.fov], probability[record.fov]
        per_image[record.name] = f1_score(score > THRESHOLD, truth)
        truths.append(truth)
        scores.append(score)
    truth, score = np.concatenate(truths), np.concatenate(scores)
    pooled_f1 = f1_score(score > THRESHOLD, truth)
    auc_roc = roc_auc_score(truth, score)

    assert metrics["aggregate"]["f1"] == pytest.approx(pooled_f1, abs=1e-9)
    assert summary["f1"] == pytest.approx(pooled_f1, abs=1e-9)
    assert metrics["aggregate"]["auc_roc"] == pytest.approx(auc_roc, abs=1e-6)
    assert summary["auc_roc"] == pytest.approx(auc_roc, abs=1e-6)
    assert {entry["name"]: entry["f1"] for entry in metrics["per_image"]} == pytest.approx(
        per_image, abs=1e-9)
    # the bundled DRIVE model finds the vessels of synthetic retinas (measured: F1 0.78, AUC 0.995)
    assert pooled_f1 > 0.6 and auc_roc > 0.95
    assert summary["recomputed_auc_roc_difference"] < 1e-9
    assert summary["worst_images"] == sorted(per_image, key=per_image.get)[:2]
    assert all(Path(figure).is_file() for figure in summary["figures"])


@pytest.mark.slow
def test_export_notebook_exports_maps_that_match_the_test_own_keras_prediction(
        tmp_path, monkeypatch):
    summary = run_notebook("04_export_serving", tmp_path, monkeypatch)
    assert (Path(summary["saved_model"]) / "saved_model.pb").is_file()
    assert set(summary["tflite"]) == {"float32", "int8"}
    assert all(Path(path).is_file() and Path(path).suffix == ".tflite"
               for path in summary["tflite"].values())

    # the test's own Keras prediction, tiled as the exports are
    photograph = read_photograph(summary["photograph"])
    assert summary["image_size"] == list(photograph.shape[:2])
    fov = derive_fov(photograph)
    tile = summary["tile"][0]
    assert tile == 96  # the notebook's fast-mode tile
    options = InferenceOptions(tile_size=tile)
    reference = load_model(None, options).probability(photograph, fov)

    maps = {name: np.load(path) for name, path in summary["maps"].items()}
    assert set(maps) == {"keras", "saved_model", "tflite_float32", "tflite_int8"}
    assert all(probability.shape == reference.shape for probability in maps.values())
    difference = {name: np.abs(probability - reference)[fov]
                  for name, probability in maps.items()}
    same_mask = {name: np.mean((probability > THRESHOLD)[fov] == (reference > THRESHOLD)[fov])
                 for name, probability in maps.items()}
    # the same network on the same tiles: equal (measured: bit-identical); the float exports
    # differ by up to 6e-7, so a bound of 1e-7 also tells the Keras map from theirs
    assert difference["keras"].max() < 1e-7
    assert difference["saved_model"].max() < 1e-4
    assert difference["tflite_float32"].max() < 1e-4
    assert 0.0 < difference["tflite_int8"].mean() < 0.02  # quantized, yet close (measured: 0.004)
    assert same_mask["tflite_int8"] > 0.95

    pixel = 1.0 / np.count_nonzero(fov)  # one pixel's share of the FOV
    for name in maps:  # the notebook's figures are those of its maps
        assert summary["parity_max_abs_difference"][name] == pytest.approx(
            difference[name].max(), abs=1e-7)
        assert summary["mean_abs_difference"][name] == pytest.approx(
            difference[name].mean(), abs=1e-7)
        assert summary["same_mask_share"][name] == pytest.approx(same_mask[name], abs=2 * pixel)

    assert all(seconds > 0 for seconds in summary["latency_seconds"].values())
    assert summary["rest_roundtrip_max_difference"] == 0.0
    request = json.loads(Path(summary["request_file"]).read_text(encoding="utf-8"))
    assert request["signature_name"] == "serving_default"
    assert np.asarray(request["instances"]).shape == (1, *summary["image_size"], 3)
