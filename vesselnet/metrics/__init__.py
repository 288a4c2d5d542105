"""Evaluation metrics for vessel segmentation, computed inside the field of view (FOV).

NumPy functions (float64 and exact integer counts) score whole images and pooled splits; two
thin Keras metrics stream F1 and AUC over packed targets for validation during ``fit``.

Conventions: a pixel is predicted vessel when ``prob > threshold`` (0.5 by default); a score
whose denominator is 0 is NaN (undefined), see `scores_from_counts`; AUC-ROC is NaN when the
FOV holds one class only and average precision is NaN when it holds no vessel.

Example:
    >>> from vesselnet.metrics import MetricAccumulator, segmentation_metrics
    >>> segmentation_metrics(probability_map, record.vessels, record.fov)["auc_roc"]
"""

from vesselnet.metrics.aggregate import METRIC_NAMES, MetricAccumulator, segmentation_metrics
from vesselnet.metrics.confusion import (
    Counts,
    check_inputs,
    confusion_counts,
    matthews_correlation,
    scores_from_counts,
)
from vesselnet.metrics.em import (
    connected_components,
    em_metrics,
    pixel_error,
    rand_error,
    rand_f_score,
)
from vesselnet.metrics.keras_metrics import MaskedAUC, MaskedF1Score
from vesselnet.metrics.ranking import auc_pr, auc_roc, histogram_auc_error_bound
from vesselnet.metrics.ssim import ssim, ssim_map

__all__ = [
    "METRIC_NAMES",
    "Counts",
    "MaskedAUC",
    "MaskedF1Score",
    "MetricAccumulator",
    "auc_pr",
    "auc_roc",
    "check_inputs",
    "confusion_counts",
    "connected_components",
    "em_metrics",
    "histogram_auc_error_bound",
    "matthews_correlation",
    "pixel_error",
    "rand_error",
    "rand_f_score",
    "scores_from_counts",
    "segmentation_metrics",
    "ssim",
    "ssim_map",
]
