"""The notebooks in ``notebooks/``: stored clean, and each runs headless in fast mode.

Each notebook is executed with nbclient in a fresh ``python3`` kernel, with
``VESSELNET_NOTEBOOK_FAST=1``, ``VESSELNET_NOTEBOOK_OUT`` in ``tmp_path`` and the notebooks
folder as working directory. A notebook writes the key figures of what it did into
``OUT/<notebook name>/summary.json``; the tests check those figures and the files they name.
Fast mode takes 10-40 s per notebook on 2 CPU cores.
"""

import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NAMES = ("01_quickstart", "02_training", "03_evaluation", "04_export_serving")
CELL_TIMEOUT = 300  # seconds per cell; fast mode needs well under a minute per notebook


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


def test_quickstart_writes_a_probability_map_mask_and_overlay(tmp_path, monkeypatch):
    summary = run_notebook("01_quickstart", tmp_path, monkeypatch)
    assert summary["data"] == "synthetic"
    height, width = summary["image_size"]
    probability = np.asarray(Image.open(summary["outputs"]["probability"]))
    assert probability.shape == (height, width) and probability.dtype == np.uint8
    assert Image.open(summary["outputs"]["mask"]).size == (width, height)
    assert np.asarray(Image.open(summary["outputs"]["overlay"])).shape == (height, width, 3)
    # the bundled model marks about a fifth of the sample's FOV as vessel (measured: 0.18)
    assert 0.03 < summary["vessel_fraction"] < 0.4
    assert summary["png_vs_memory_max_difference"] <= 0.5 / 255 + 1e-6
    assert Path(summary["figure"]).is_file()


def test_training_notebook_trains_a_bundle_and_reads_its_curves(tmp_path, monkeypatch):
    summary = run_notebook("02_training", tmp_path, monkeypatch)
    assert summary["preset"] == "synthetic" and summary["steps"] == 90
    assert summary["validation_steps"] == [15, 30, 45, 60, 75, 90]
    assert 0.0 <= summary["best_f1"] <= 1.0 and summary["best_step"] in summary["validation_steps"]
    assert math.isfinite(summary["final_loss"])
    for name in ("model.keras", "card.json", "README.md"):
        assert (Path(summary["best_bundle"]) / name).is_file()
    assert {"train/loss", "train/learning_rate", "validation/f1", "validation/auc",
            "validation/input_probability_truth"} <= set(summary["tags"])
    differences = summary["events_vs_history_max_difference"]
    assert set(differences) == {"train/loss", "validation/f1", "validation/auc"}
    assert all(value is not None and value < 1e-5 for value in differences.values())


def test_evaluation_notebook_writes_metrics_and_finds_the_worst_images(tmp_path, monkeypatch):
    summary = run_notebook("03_evaluation", tmp_path, monkeypatch)
    assert summary["data"] == "generic" and len(summary["images"]) == 3
    metrics = json.loads(Path(summary["metrics_file"]).read_text(encoding="utf-8"))
    assert metrics["images"] == 3
    assert 0.0 <= metrics["aggregate"]["f1"] <= 1.0
    assert summary["f1"] == metrics["aggregate"]["f1"]
    # the bundled DRIVE model finds the vessels of synthetic retinas (measured: F1 0.78, AUC 0.995)
    assert summary["f1"] > 0.6 and summary["auc_roc"] > 0.95
    assert summary["recomputed_auc_roc_difference"] < 1e-9
    per_image = {entry["name"]: entry["f1"] for entry in metrics["per_image"]}
    assert summary["worst_images"] == sorted(per_image, key=per_image.get)[:2]
    assert all(Path(figure).is_file() for figure in summary["figures"])


def test_export_notebook_exports_savedmodel_and_tflite_with_parity(tmp_path, monkeypatch):
    summary = run_notebook("04_export_serving", tmp_path, monkeypatch)
    assert (Path(summary["saved_model"]) / "saved_model.pb").is_file()
    assert set(summary["tflite"]) == {"float32", "int8"}
    assert all(Path(path).is_file() and Path(path).suffix == ".tflite"
               for path in summary["tflite"].values())
    parity = summary["parity_max_abs_difference"]
    assert parity["keras"] == 0.0
    assert parity["saved_model"] < 1e-4 and parity["tflite_float32"] < 1e-4
    assert summary["mean_abs_difference"]["tflite_int8"] < 0.02  # measured: 0.004
    assert summary["same_mask_share"]["tflite_int8"] > 0.95
    assert all(seconds > 0 for seconds in summary["latency_seconds"].values())
    assert summary["rest_roundtrip_max_difference"] == 0.0
    request = json.loads(Path(summary["request_file"]).read_text(encoding="utf-8"))
    assert request["signature_name"] == "serving_default"
    assert np.asarray(request["instances"]).shape == (1, *summary["image_size"], 3)
