"""Threshold-free scores: area under the ROC curve and average precision (area under PR).

Both are computed from counts of positive and negative pixels per distinct score, taken in
decreasing score order. Exact counts (one entry per distinct score) reproduce scikit-learn's
``roc_auc_score`` and ``average_precision_score``, ties included; histogram counts (one entry
per bin) bound the memory of pooling a whole split, at the cost of treating scores that share a
bin as tied (see `histogram_auc_error_bound`).
"""

from __future__ import annotations

import math

import numpy as np

from vesselnet.metrics.confusion import check_inputs


def score_counts(scores, labels) -> tuple[np.ndarray, np.ndarray]:
    """Counts positives and negatives per distinct score, in decreasing score order.

    Args:
        scores: 1-D scores.
        labels: 1-D bool labels (True = vessel).

    Returns:
        ``(positives, negatives)``, two int64 arrays with one entry per distinct score.
    """
    scores = np.asarray(scores).ravel()
    labels = np.asarray(labels, bool).ravel()
    distinct, group = np.unique(scores, return_inverse=True)
    positives = np.bincount(group[labels], minlength=distinct.size)
    negatives = np.bincount(group[~labels], minlength=distinct.size)
    return positives[::-1], negatives[::-1]


def histogram_counts(scores, labels, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Counts positives and negatives in ``bins`` equal bins of [0, 1], in increasing order.

    Bin ``k`` holds scores in ``[k / bins, (k + 1) / bins)``, the last one also holds 1.0.
    Reverse both arrays before `areas_from_counts`.
    """
    scores = np.asarray(scores, np.float64).ravel()
    labels = np.asarray(labels, bool).ravel()
    index = np.minimum((scores * bins).astype(np.int64), bins - 1)
    positives = np.bincount(index[labels], minlength=bins)
    negatives = np.bincount(index[~labels], minlength=bins)
    return positives, negatives


def areas_from_counts(positives, negatives) -> tuple[float, float]:
    """Returns ``(auc_roc, average_precision)`` from counts in decreasing score order.

    AUC-ROC is the trapezoidal area under (FPR, TPR), which gives tied scores half credit
    (Mann-Whitney U); NaN without positives or without negatives (one class: undefined).
    Average precision is ``sum_k (R_k - R_{k-1}) P_k`` over decreasing thresholds, the
    step-wise (not interpolated) area of scikit-learn; NaN without positives, 1.0 without
    negatives.
    """
    positives = np.asarray(positives, np.float64)
    negatives = np.asarray(negatives, np.float64)
    occupied = (positives + negatives) > 0
    positives, negatives = positives[occupied], negatives[occupied]
    true_positives = np.cumsum(positives)
    false_positives = np.cumsum(negatives)
    total_positives = true_positives[-1] if true_positives.size else 0.0
    total_negatives = false_positives[-1] if false_positives.size else 0.0
    if total_positives == 0:
        return math.nan, math.nan
    precision = true_positives / (true_positives + false_positives)
    average_precision = float(np.sum(positives * precision) / total_positives)
    if total_negatives == 0:
        return math.nan, average_precision
    previous = np.concatenate([[0.0], true_positives[:-1]])
    area = np.sum(negatives * (true_positives + previous)) / 2.0
    return float(area / (total_positives * total_negatives)), average_precision


def histogram_auc_error_bound(positives, negatives) -> float:
    """Upper bound of ``|AUC-ROC from histogram - exact AUC-ROC|``.

    Pairs (vessel, background) whose scores share a bin get half credit instead of 0 or 1, so
    the error is at most ``0.5 * sum_k pos_k neg_k / (P N)``.
    """
    positives = np.asarray(positives, np.float64)
    negatives = np.asarray(negatives, np.float64)
    pairs = positives.sum() * negatives.sum()
    return float(0.5 * np.sum(positives * negatives) / pairs) if pairs else math.nan


def auc_roc(prob, truth, fov=None) -> float:
    """Exact area under the ROC curve of the pixels inside the FOV.

    Equal to ``sklearn.metrics.roc_auc_score(truth[fov], prob[fov])``, ties handled the same
    way; NaN (with no exception) when the FOV holds one class only.

    Args:
        prob: vessel probabilities in [0, 1].
        truth: binary ground truth.
        fov: field-of-view mask; None uses every pixel. Defaults to None.

    Example:
        >>> auc_roc(probability_map, record.vessels, record.fov)
    """
    prob, truth, fov = check_inputs(prob, truth, fov)
    return areas_from_counts(*score_counts(prob[fov], truth[fov]))[0]


def auc_pr(prob, truth, fov=None) -> float:
    """Average precision of the pixels inside the FOV (area under the precision-recall curve).

    Equal to ``sklearn.metrics.average_precision_score(truth[fov], prob[fov])``; NaN when the
    FOV holds no vessel pixel (scikit-learn returns 0.0 with a warning there).

    Args:
        prob: vessel probabilities in [0, 1].
        truth: binary ground truth.
        fov: field-of-view mask; None uses every pixel. Defaults to None.

    Example:
        >>> auc_pr(probability_map, record.vessels, record.fov)
    """
    prob, truth, fov = check_inputs(prob, truth, fov)
    return areas_from_counts(*score_counts(prob[fov], truth[fov]))[1]
