"""All segmentation scores of one image, and pooled ("aggregate") scores over a split."""

from __future__ import annotations

import math

import numpy as np

from vesselnet.core.checks import check_int
from vesselnet.metrics.confusion import (
    COUNT_SCORES,
    Counts,
    check_inputs,
    check_threshold,
    counts_from_masks,
    scores_from_counts,
)
from vesselnet.metrics.ranking import (
    areas_from_counts,
    histogram_auc_error_bound,
    histogram_counts,
    score_counts,
)
from vesselnet.metrics.ssim import ssim_inside_fov

METRIC_NAMES = COUNT_SCORES + ("auc_roc", "auc_pr", "ssim")


class MetricAccumulator:
    """Pools the pixels inside the FOV of many images and scores them as one set.

    Confusion counts are summed (exact integers); AUC-ROC and average precision come either
    from all FOV scores kept in memory (``auc_bins=None``: exact, 9 bytes per FOV pixel) or
    from a histogram of ``auc_bins`` equal bins on [0, 1] (fixed memory for any split; scores
    sharing a bin count as tied, see `auc_roc_error_bound`; with 65,536 bins and non-saturated
    outputs the difference from scikit-learn stays below 1e-4). The pooled SSIM is the mean of
    the SSIM maps over all FOV pixels, i.e. the per-image SSIM weighted by FOV size.

    Args:
        threshold: decision threshold, a pixel is vessel when ``prob > threshold``.
            Defaults to 0.5.
        auc_bins: None for exact AUCs, or a number of histogram bins (>= 2; use 10,000 or
            more). Defaults to None.

    Example:
        >>> accumulator = MetricAccumulator()
        >>> for record, probability_map in zip(records, probability_maps):
        ...     accumulator.update(probability_map, record.vessels, record.fov)
        >>> accumulator.result()["auc_roc"]
    """

    def __init__(self, threshold: float = 0.5, auc_bins: int | None = None):
        self.threshold = check_threshold(threshold)
        check_int("auc_bins", auc_bins, 2, optional=True)
        self.auc_bins = auc_bins
        self.reset()

    def reset(self) -> None:
        """Forgets every image seen so far."""
        self.counts = Counts()
        self.images = 0
        self._scores: list[np.ndarray] = []
        self._labels: list[np.ndarray] = []
        bins = self.auc_bins or 0
        self._positives = np.zeros(bins, np.int64)
        self._negatives = np.zeros(bins, np.int64)
        self._ssim_sum = 0.0
        self._ssim_pixels = 0

    def update(self, prob, truth, fov=None) -> None:
        """Adds one image: 2-D vessel probabilities, binary truth and FOV mask (None = all)."""
        prob, truth, fov = check_inputs(prob, truth, fov)
        scores, labels = prob[fov], truth[fov]
        ssim_sum, ssim_pixels = ssim_inside_fov(prob, truth, fov)
        self.counts += counts_from_masks(scores > self.threshold, labels)
        if self.auc_bins is None:
            self._scores.append(scores)
            self._labels.append(labels)
        else:
            positives, negatives = histogram_counts(scores, labels, self.auc_bins)
            self._positives += positives
            self._negatives += negatives
        self._ssim_sum += ssim_sum
        self._ssim_pixels += ssim_pixels
        self.images += 1

    def _ranking_counts(self) -> tuple[np.ndarray, np.ndarray]:
        if self.auc_bins is None:
            scores = np.concatenate(self._scores) if self._scores else np.zeros(0)
            labels = np.concatenate(self._labels) if self._labels else np.zeros(0, bool)
            return score_counts(scores, labels)
        return self._positives[::-1], self._negatives[::-1]

    def auc_roc_error_bound(self) -> float:
        """Largest possible ``|pooled AUC-ROC - exact AUC-ROC|``: 0.0 in exact mode."""
        if self.auc_bins is None:
            return 0.0
        return histogram_auc_error_bound(self._positives, self._negatives)

    def result(self) -> dict[str, float]:
        """Scores of the pooled pixels, keyed by `METRIC_NAMES` (see `segmentation_metrics`)."""
        scores = scores_from_counts(self.counts)
        scores["auc_roc"], scores["auc_pr"] = areas_from_counts(*self._ranking_counts())
        scores["ssim"] = self._ssim_sum / self._ssim_pixels if self._ssim_pixels else math.nan
        return scores


def segmentation_metrics(prob, truth, fov=None, threshold: float = 0.5) -> dict[str, float]:
    """Every vessel-segmentation score of one image, inside its field of view.

    Keys: "sensitivity", "specificity", "precision", "npv", "accuracy", "f1", "iou", "mcc"
    (at ``prob > threshold``, see `scores_from_counts` for the NaN conventions), "auc_roc" and
    "auc_pr" (exact, threshold-free; NaN with one class) and "ssim" (see `ssim`).

    Args:
        prob: 2-D vessel probabilities in [0, 1].
        truth: 2-D binary ground truth.
        fov: field-of-view mask; None uses every pixel. Defaults to None.
        threshold: decision threshold. Defaults to 0.5.

    Example:
        >>> segmentation_metrics(probability_map, record.vessels, record.fov)["f1"]
    """
    accumulator = MetricAccumulator(threshold)
    accumulator.update(prob, truth, fov)
    return accumulator.result()
