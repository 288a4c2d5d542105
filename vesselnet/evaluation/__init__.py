"""Evaluation of a model on a labelled split, as a library (``vesselnet evaluate`` calls it).

- ``evaluate_dataset`` / ``EvaluationOptions`` / ``EvaluationReport``: predict every image,
  score it inside the FOV (per image, pooled, averaged; second observer; chained stage 1),
  write ``metrics.json``, ``per_image.csv``, curves and per-image panels.
- ``ScorePool`` / ``SimilarityPool``: per-image and pooled scores of one predictor.
- ``vessel_morphology``: vessel density, skeleton length and mean calibre.
- ``error_map``, ``image_figure``, ``curve_figures``: the figures (Matplotlib, Agg canvas).

Example:
    >>> from vesselnet.evaluation import evaluate_dataset
    >>> report = evaluate_dataset("runs/drive/best", "drive", "DRIVE", "test", "eval")
    >>> report.aggregate["auc_roc"], report.metrics["second_observer"]["aggregate"]["f1"]
"""

from vesselnet.evaluation.evaluate import (
    DEFAULT_SPLITS,
    EM_DATASETS,
    EvaluationOptions,
    evaluate_dataset,
)
from vesselnet.evaluation.morphology import MORPHOLOGY_NAMES, vessel_morphology
from vesselnet.evaluation.plots import curve_figures, error_map, image_figure
from vesselnet.evaluation.report import (
    METRICS_FILE,
    PER_IMAGE_FILE,
    EvaluationReport,
    flatten,
    per_image_csv,
    write_report,
)
from vesselnet.evaluation.scoring import EM_NAMES, ScorePool, SimilarityPool, mean_scores

__all__ = [
    "DEFAULT_SPLITS",
    "EM_DATASETS",
    "EM_NAMES",
    "METRICS_FILE",
    "MORPHOLOGY_NAMES",
    "PER_IMAGE_FILE",
    "EvaluationOptions",
    "EvaluationReport",
    "ScorePool",
    "SimilarityPool",
    "curve_figures",
    "error_map",
    "evaluate_dataset",
    "flatten",
    "image_figure",
    "mean_scores",
    "per_image_csv",
    "vessel_morphology",
    "write_report",
]
