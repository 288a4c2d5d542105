"""Scores of one predictor over a split: per image, pooled over all FOV pixels, and averaged.

A :class:`ScorePool` is fed image by image; it returns the image's scores
(:func:`~vesselnet.metrics.segmentation_metrics`, plus pixel and Rand error when asked) and
pools the FOV pixels of every image (:class:`~vesselnet.metrics.MetricAccumulator`), keeping
a histogram of the scores for the ROC and precision-recall plots.
"""

from __future__ import annotations

import math

import numpy as np

from vesselnet.metrics import (
    METRIC_NAMES,
    MetricAccumulator,
    em_metrics,
    segmentation_metrics,
    ssim_map,
)
from vesselnet.metrics.ranking import histogram_counts

EM_NAMES = ("pixel_error", "rand_error")
CURVE_BINS = 1000
"""Score bins of the plotted curves (the AUC values themselves are exact by default)."""


def nan_mean(values) -> float:
    """Mean of the finite values (NaN, from an undefined score, is left out); NaN if none."""
    array = np.asarray([value for value in values if value is not None], np.float64)
    finite = array[np.isfinite(array)]
    return float(finite.mean()) if finite.size else math.nan


def mean_scores(entries: list[dict], keys) -> dict[str, float]:
    """``{key: nan_mean of entry[key] over entries}`` for the keys present in the entries."""
    return {key: nan_mean(entry[key] for entry in entries if key in entry)
            for key in keys if any(key in entry for entry in entries)}


class ScorePool:
    """Per-image and pooled scores of one predictor (model, stage 1, second observer).

    Args:
        threshold: a pixel is vessel when ``prob > threshold``. Defaults to 0.5.
        em: also score pixel error and Rand error (electron-microscopy style). Defaults to
            False.
        auc_bins: None for exact pooled AUCs (9 bytes per FOV pixel kept), or histogram bins
            (fixed memory, see :class:`~vesselnet.metrics.MetricAccumulator`). Defaults to None.

    Example:
        >>> pool = ScorePool()
        >>> per_image = [pool.add(prob, record.vessels, record.fov) for ...]
        >>> pool.aggregate()["f1"], pool.mean()["f1"]
    """

    def __init__(self, threshold: float = 0.5, *, em: bool = False, auc_bins: int | None = None):
        self.threshold = threshold
        self.em = em
        self.accumulator = MetricAccumulator(threshold, auc_bins)
        self.per_image: list[dict] = []
        self.positives = np.zeros(CURVE_BINS, np.int64)
        self.negatives = np.zeros(CURVE_BINS, np.int64)

    @property
    def names(self) -> tuple[str, ...]:
        """Score keys of each image."""
        return METRIC_NAMES + (EM_NAMES if self.em else ())

    def add(self, prob, truth, fov) -> dict[str, float]:
        """Scores one image and pools its FOV pixels; returns the image's scores."""
        scores = segmentation_metrics(prob, truth, fov, self.threshold)
        if self.em:
            scores.update(em_metrics(prob, truth, fov, self.threshold))
        self.accumulator.update(prob, truth, fov)
        positives, negatives = histogram_counts(np.asarray(prob)[fov], np.asarray(truth)[fov],
                                                CURVE_BINS)
        self.positives += positives
        self.negatives += negatives
        self.per_image.append(scores)
        return scores

    def aggregate(self) -> dict[str, float]:
        """Scores of all FOV pixels of the split pooled (``pixel_error`` = 1 - accuracy)."""
        scores = self.accumulator.result()
        if self.em:
            scores["pixel_error"] = 1.0 - scores["accuracy"]
        return scores

    def mean(self) -> dict[str, float]:
        """Per-image scores averaged over the images (undefined, NaN, scores left out)."""
        return mean_scores(self.per_image, self.names)

    def curves(self) -> dict[str, np.ndarray]:
        """ROC and precision-recall points from the score histogram, high scores first.

        Returns:
            ``{"fpr", "tpr", "precision", "recall"}``, each starting at the highest threshold.
        """
        positives = np.cumsum(self.positives[::-1]).astype(np.float64)
        negatives = np.cumsum(self.negatives[::-1]).astype(np.float64)
        total_positives, total_negatives = positives[-1], negatives[-1]
        predicted = positives + negatives
        keep = predicted > 0
        with np.errstate(invalid="ignore", divide="ignore"):
            tpr = positives / total_positives if total_positives else np.full_like(positives, 0)
            fpr = negatives / total_negatives if total_negatives else np.full_like(negatives, 0)
            precision = positives[keep] / predicted[keep]
        return {"fpr": np.concatenate([[0.0], fpr]), "tpr": np.concatenate([[0.0], tpr]),
                "precision": precision, "recall": tpr[keep]}


class SimilarityPool:
    """SSIM between two probability maps inside the FOV, per image and pooled.

    Both maps are set to 0 outside the FOV first, as :func:`~vesselnet.metrics.ssim` does;
    the pooled value weights each image by its FOV size. Used for stage 1 vs final output
    of the chained model.
    """

    def __init__(self):
        self.total = 0.0
        self.pixels = 0
        self.per_image: list[float] = []

    def add(self, first, second, fov) -> float:
        """SSIM of one image's two maps; also pooled."""
        fov = np.asarray(fov, bool)
        similarity = ssim_map(np.where(fov, first, 0.0), np.where(fov, second, 0.0))[fov]
        self.total += float(similarity.sum())
        self.pixels += int(similarity.size)
        value = float(similarity.mean()) if similarity.size else math.nan
        self.per_image.append(value)
        return value

    def result(self) -> dict[str, float]:
        """``{"aggregate": FOV-weighted SSIM, "mean": mean of the per-image SSIMs}``."""
        return {"aggregate": self.total / self.pixels if self.pixels else math.nan,
                "mean": nan_mean(self.per_image)}
