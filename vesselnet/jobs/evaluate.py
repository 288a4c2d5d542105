"""``evaluate_dataset``: a model on a labelled split, scored inside the FOV, with figures."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from vesselnet import __version__
from vesselnet.core.checks import check_int
from vesselnet.core.files import atomic_write_bytes
from vesselnet.data import VesselnetDataError, read_dataset
from vesselnet.data.readers import dataset_key
from vesselnet.data.records import select_records
from vesselnet.inference import InferenceOptions
from vesselnet.jobs import plots
from vesselnet.jobs.outputs import encode_probability
from vesselnet.jobs.report import (
    FIGURES_FOLDER,
    MAPS_FOLDER,
    PR_FILE,
    ROC_FILE,
    EvaluationReport,
    write_report,
)
from vesselnet.loading import load_model
from vesselnet.metrics.confusion import check_threshold
from vesselnet.metrics.morphology import MORPHOLOGY_NAMES, vessel_morphology
from vesselnet.metrics.scoring import ScorePool, SimilarityPool, mean_scores

DEFAULT_SPLITS = {"drive": "test", "chase_db1": "test", "stare": "all", "hrf": "all",
                  "generic": "all"}
"""Split evaluated when none is given: the official test split where there is one."""
EM_DATASETS = ("generic",)
"""Layouts also scored with pixel and Rand error (electron-microscopy style)."""


@dataclasses.dataclass(frozen=True)
class EvaluationOptions:
    """How ``vesselnet evaluate`` scores and what it writes.

    Args:
        threshold: a pixel is vessel when ``probability > threshold``. Defaults to 0.5.
        inference: tiling, batch size and test-time augmentation. Defaults to
            ``InferenceOptions()``.
        save_maps: write each probability map as ``probabilities/NAME.npy`` (float32, the
            exact maps scored). Defaults to True.
        figures: write the per-image panels and the ROC / precision-recall plots. Defaults
            to True.
        auc_bins: None for exact pooled AUCs (keeps 9 bytes per FOV pixel: ~40 MB for DRIVE,
            ~2.5 GB for HRF), or histogram bins, e.g. 65536 (fixed memory, AUC within ~1e-4).
            Defaults to None.
        images: score only these images of the split: names, or numbers for DRIVE-style
            names (``("37", "38")``). Defaults to () (all).

    Example:
        >>> EvaluationOptions(threshold=0.5, inference=InferenceOptions(tta=True))
    """

    threshold: float = 0.5
    inference: InferenceOptions = dataclasses.field(default_factory=InferenceOptions)
    save_maps: bool = True
    figures: bool = True
    auc_bins: int | None = None
    images: tuple[str, ...] = ()

    def __post_init__(self):
        object.__setattr__(self, "threshold", check_threshold(self.threshold))
        check_int("auc_bins", self.auc_bins, 2, optional=True)


def _records(dataset: str, data_dir: Path, split: str):
    records = read_dataset(dataset, data_dir, split)
    if not records:
        raise VesselnetDataError(f"{data_dir}: no images in the {dataset} {split} split")
    for record in records:
        if record.vessels is None:
            raise VesselnetDataError(
                f"{record.path}: no vessel annotation; evaluate needs ground truth for every "
                "image (the generic layout keeps it in masks/ beside images/)")
    return records


def evaluate_dataset(model_path: str | Path | None, dataset: str, data_dir: str | Path,
                     split: str | None, out_dir: str | Path,
                     options: EvaluationOptions = EvaluationOptions(), *,
                     progress: Callable[[str, int, int], None] | None = None
                     ) -> EvaluationReport:
    """Scores a model on a labelled split and writes the report into ``out_dir``.

    Every image is predicted whole (overlap-tile) and scored inside its FOV against the first
    observer: sensitivity, specificity, precision, NPV, accuracy, F1, IoU, MCC, AUC-ROC,
    AUC-PR, SSIM, per image and pooled over all FOV pixels of the split; pixel and Rand error
    for the generic layout; vessel density, skeleton length and mean calibre of prediction and
    ground truth. Where a second annotation exists it is scored the same way (the human
    baseline); for the chained model also its stage-1 map, and the SSIM between the stage-1
    and final maps (this predicts each image twice). Writes ``metrics.json``,
    ``per_image.csv``, ``roc_curve.png``, ``pr_curve.png``, ``images/NAME.png`` and
    ``probabilities/NAME.npy``.

    Args:
        model_path: bundle directory or ``.keras`` file; None for the bundled pretrained model.
        dataset: ``"drive"``, ``"chase_db1"``, ``"stare"``, ``"hrf"`` or ``"generic"``.
        data_dir: the data set folder, in its layout (see :mod:`vesselnet.data.readers`).
        split: split to score; None for :data:`DEFAULT_SPLITS` of the data set.
        out_dir: output folder, created when missing.
        options: threshold, inference and outputs. Defaults to ``EvaluationOptions()``.
        progress: called after each image with ``(name, done, total)``. Defaults to None.

    Returns:
        An :class:`~vesselnet.jobs.report.EvaluationReport`.

    Raises:
        ValueError: unknown data set, unreadable or unlabelled images (VesselnetDataError,
            naming the file), or a model that cannot be loaded.

    Example:
        >>> report = evaluate_dataset("runs/drive/best", "drive", "DRIVE", "test", "eval")
        >>> print(report.summary())
    """
    start = time.perf_counter()
    key = dataset_key(dataset)
    split = DEFAULT_SPLITS[key] if split is None else split
    records = _records(key, Path(data_dir), split)
    if options.images:
        records = select_records(records, options.images, "--images")
    loaded = load_model(model_path, options.inference)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    threshold = options.threshold
    model_pool = ScorePool(threshold, em=key in EM_DATASETS, auc_bins=options.auc_bins)
    stage1_pool = ScorePool(threshold, auc_bins=options.auc_bins) if loaded.is_chained else None
    observer_pool = ScorePool(threshold, auc_bins=options.auc_bins)
    similarity = SimilarityPool()
    per_image, files = [], {"figures": [], "maps": []}
    for index, record in enumerate(records):
        outputs = ("final", "stage1") if stage1_pool is not None else ("final",)
        prediction = loaded.predict_photograph(record.image, record.fov, outputs)
        probability = prediction.maps["final"]
        scores = model_pool.add(probability, record.vessels, record.fov)
        predicted = probability > threshold
        entry = {"name": record.name, **scores, "fov_derived": record.fov_derived,
                 "scale": dataclasses.asdict(prediction.scale),
                 "morphology": {"prediction": vessel_morphology(predicted, record.fov),
                                "ground_truth": vessel_morphology(record.vessels, record.fov)}}
        if stage1_pool is not None:
            stage1 = prediction.maps["stage1"]
            entry["stage1"] = stage1_pool.add(stage1, record.vessels, record.fov)
            entry["stage1_final_ssim"] = similarity.add(stage1, probability, record.fov)
        if record.second_observer is not None:
            second = record.second_observer.astype(np.float32)
            entry["second_observer"] = observer_pool.add(second, record.vessels, record.fov)
        per_image.append(entry)
        if options.save_maps:
            files["maps"].append(atomic_write_bytes(out_dir / MAPS_FOLDER / f"{record.name}.npy",
                                                    encode_probability(probability, "npy")))
        if options.figures:
            title = (f"{record.name}: F1 {scores['f1']:.4f}, AUC-ROC {scores['auc_roc']:.4f} "
                     f"(threshold {threshold})")
            files["figures"].append(plots.image_figure(
                out_dir / FIGURES_FOLDER / f"{record.name}.png", title, record.image,
                record.vessels, probability, record.fov, threshold))
        if progress is not None:
            progress(record.name, index + 1, len(records))

    metrics = {
        "model": str(loaded.source), "model_description": loaded.description,
        "dataset": key, "split": split, "threshold": threshold, "images": len(records),
        "fov_derived_images": sum(record.fov_derived for record in records),
        "inference": dataclasses.asdict(options.inference), "precision": loaded.precision,
        "learned_fov_diameter": loaded.card.learned_fov_diameter,
        "auc": "exact" if options.auc_bins is None else f"histogram of {options.auc_bins} bins",
        "aggregate": model_pool.aggregate(), "mean": model_pool.mean(),
        "morphology": {source: mean_scores([entry["morphology"][source] for entry in per_image],
                                           MORPHOLOGY_NAMES)
                       for source in ("prediction", "ground_truth")},
        "per_image": per_image,
    }
    if stage1_pool is not None:
        metrics["stage1"] = {"aggregate": stage1_pool.aggregate(), "mean": stage1_pool.mean()}
        metrics["stage1_final_ssim"] = similarity.result()
    if observer_pool.per_image:
        metrics["second_observer"] = {"aggregate": observer_pool.aggregate(),
                                      "mean": observer_pool.mean(),
                                      "images": len(observer_pool.per_image)}
    if options.figures:
        curves = {"model": model_pool.curves()}
        areas = {"model": metrics["aggregate"]}
        if stage1_pool is not None:
            curves["stage 1"] = stage1_pool.curves()
            areas["stage 1"] = metrics["stage1"]["aggregate"]
        points = {f"model at {threshold}": _operating_point(metrics["aggregate"])}
        if "second_observer" in metrics:
            points["second observer"] = _operating_point(metrics["second_observer"]["aggregate"])
        files["roc"], files["pr"] = plots.curve_figures(out_dir / ROC_FILE, out_dir / PR_FILE,
                                                        curves, areas, points)
    metrics["vesselnet_version"] = __version__
    metrics["seconds"] = round(time.perf_counter() - start, 2)
    files.update(write_report(out_dir, metrics))
    return EvaluationReport(metrics, out_dir, files, time.perf_counter() - start)


def _operating_point(scores: dict) -> tuple[float, float, float]:
    return scores["specificity"], scores["sensitivity"], scores["precision"]
