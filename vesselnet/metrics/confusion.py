"""Confusion counts inside the field of view and the scores derived from them."""

from __future__ import annotations

import dataclasses
import math
import numbers

import numpy as np

COUNT_SCORES = ("sensitivity", "specificity", "precision", "npv", "accuracy", "f1", "iou", "mcc")


def _check_mask(name: str, mask, shape: tuple) -> np.ndarray:
    mask = np.asarray(mask)
    if mask.shape != shape:
        raise ValueError(f"{name} must have the shape of prob {shape}, got {mask.shape}")
    if mask.dtype == bool:
        return mask
    if not np.issubdtype(mask.dtype, np.number):
        raise ValueError(f"{name} must be bool or 0/1 numbers, got dtype {mask.dtype}")
    invalid = (mask != 0) & (mask != 1)
    if np.any(invalid):
        raise ValueError(
            f"{name} must hold only 0 and 1, got values such as {np.unique(mask[invalid])[:5]}"
        )
    return mask.astype(bool)


def check_inputs(prob, truth, fov=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validates a probability map, a binary ground truth and a FOV mask of one shape.

    Args:
        prob: vessel probabilities in [0, 1], any shape (usually ``[H, W]``).
        truth: ground truth, bool or 0/1 numbers, shape of ``prob``.
        fov: field-of-view mask, bool or 0/1, shape of ``prob``; None means every pixel.

    Returns:
        ``(prob as float64, truth as bool, fov as bool)``.
    """
    prob = np.asarray(prob)
    if not np.issubdtype(prob.dtype, np.number) or np.issubdtype(prob.dtype, np.complexfloating):
        raise ValueError(f"prob must hold real numbers, got dtype {prob.dtype}")
    prob = prob.astype(np.float64, copy=False)
    finite = np.isfinite(prob)
    if not finite.all():
        raise ValueError(
            f"prob must be finite, got {np.count_nonzero(~finite)} values such as "
            f"{prob[~finite][0]}"
        )
    if prob.size and not (prob.min() >= 0 and prob.max() <= 1):
        raise ValueError(f"prob must be in [0, 1], got range [{prob.min()}, {prob.max()}]")
    truth = _check_mask("truth", truth, prob.shape)
    fov = np.ones(prob.shape, bool) if fov is None else _check_mask("fov", fov, prob.shape)
    return prob, truth, fov


def check_threshold(threshold) -> float:
    """Returns ``threshold`` as a float after checking it lies in [0, 1]."""
    if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real):
        raise ValueError(f"threshold must be a number in [0, 1], got {threshold!r}")
    if not 0 <= threshold <= 1:
        raise ValueError(f"threshold must be in [0, 1], got {threshold!r}")
    return float(threshold)


@dataclasses.dataclass(frozen=True)
class Counts:
    """Pixel confusion counts (vessel = positive class); ``+`` adds two of them.

    Args:
        tp: vessel pixels predicted as vessel.
        fp: background pixels predicted as vessel.
        tn: background pixels predicted as background.
        fn: vessel pixels predicted as background.

    Example:
        >>> total = Counts(tp=3, fp=1, tn=5, fn=0) + Counts(tp=1, fp=0, tn=2, fn=1)
    """

    tp: int = 0
    fp: int = 0
    tn: int = 0
    fn: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(self.tp + other.tp, self.fp + other.fp, self.tn + other.tn,
                      self.fn + other.fn)

    @property
    def total(self) -> int:
        """Number of pixels counted."""
        return self.tp + self.fp + self.tn + self.fn


def confusion_counts(prob, truth, fov=None, threshold: float = 0.5) -> Counts:
    """Counts pixels inside the FOV, a pixel being predicted vessel when ``prob > threshold``.

    The strict ``>`` matches `keras.metrics` and the ISBI 2012 Fiji scripts.

    Args:
        prob: vessel probabilities in [0, 1].
        truth: binary ground truth.
        fov: field-of-view mask; None counts every pixel. Defaults to None.
        threshold: decision threshold in [0, 1]. Defaults to 0.5.

    Example:
        >>> counts = confusion_counts(probability_map, record.vessels, record.fov)
    """
    threshold = check_threshold(threshold)
    prob, truth, fov = check_inputs(prob, truth, fov)
    return counts_from_masks(prob[fov] > threshold, truth[fov])


def counts_from_masks(predicted: np.ndarray, truth: np.ndarray) -> Counts:
    """Counts from two bool arrays of one shape (prediction, truth), already FOV-restricted."""
    tp = int(np.count_nonzero(predicted & truth))
    fp = int(np.count_nonzero(predicted)) - tp
    fn = int(np.count_nonzero(truth)) - tp
    return Counts(tp=tp, fp=fp, tn=int(truth.size) - tp - fp - fn, fn=fn)


def _ratio(numerator: int, denominator: int) -> float:
    return numerator / denominator if denominator else math.nan


def matthews_correlation(counts: Counts) -> float:
    """Matthews correlation coefficient; NaN when a row or column of the table is empty.

    Exact integer numerator and a product of four square roots, so counts of billions of
    pixels neither overflow nor lose the sign. scikit-learn returns 0.0 where this returns NaN.
    """
    tp, fp, tn, fn = counts.tp, counts.fp, counts.tn, counts.fn
    marginals = (tp + fp, tp + fn, tn + fp, tn + fn)
    if min(marginals) == 0:
        return math.nan
    denominator = math.prod(math.sqrt(marginal) for marginal in marginals)
    return (tp * tn - fp * fn) / denominator


def scores_from_counts(counts: Counts) -> dict[str, float]:
    """Sensitivity, specificity, precision, NPV, accuracy, F1 (Dice), IoU and MCC.

    A score whose denominator is 0 is NaN (undefined, neither bad nor perfect), as scikit-learn
    with ``zero_division=np.nan``: with no vessel pixel in the truth, sensitivity is NaN; with no
    predicted vessel pixel, precision is NaN while F1 = 2tp / (2tp + fp + fn) is 0 as soon as the
    truth has vessels; F1 and IoU are NaN only when neither truth nor prediction has vessels.
    IoU is the Jaccard index of the vessel pixels (not of all pixels).

    Args:
        counts: confusion counts, see `confusion_counts`.

    Example:
        >>> scores_from_counts(Counts(tp=2, fp=1, tn=5, fn=1))["f1"]
        0.6666666666666666
    """
    tp, fp, tn, fn = counts.tp, counts.fp, counts.tn, counts.fn
    return {
        "sensitivity": _ratio(tp, tp + fn),
        "specificity": _ratio(tn, tn + fp),
        "precision": _ratio(tp, tp + fp),
        "npv": _ratio(tn, tn + fn),
        "accuracy": _ratio(tp + tn, counts.total),
        "f1": _ratio(2 * tp, 2 * tp + fp + fn),
        "iou": _ratio(tp, tp + fp + fn),
        "mcc": matthews_correlation(counts),
    }
