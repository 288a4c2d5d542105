"""Electron-microscopy style errors (ISBI 2012, as in the U-Net paper's table): pixel and Rand.

The Rand error is ``1 - foreground-restricted Rand F-score`` of Arganda-Carreras et al. 2015,
"Crowdsourcing the creation of image segmentation algorithms for connectomics", computed as the
ISBI 2012 Fiji evaluation (``RandError.getForegroundRestrictedRandIndexStatsN2``): both binary
maps are split into connected components, pixels with true label 0 are left out, and pixels that
the prediction leaves unlabelled (label 0) inside the true foreground count as singletons.
Here the segmented objects are the vessels (truth and ``prob > threshold`` inside the FOV), so the
score measures how the vessel tree is broken up or merged, not only how many pixels are right.
"""

from __future__ import annotations

import math

import numpy as np

from vesselnet.metrics.confusion import check_inputs, check_threshold, confusion_counts

_OFFSETS = {4: ((0, 1), (1, 0)), 8: ((0, 1), (1, 0), (1, 1), (1, -1))}


def connected_components(mask, connectivity: int = 4) -> tuple[np.ndarray, int]:
    """Labels the connected components of a 2-D mask with 1..K in raster order (NumPy only).

    Vectorised union-find: hook every root onto the smallest neighbouring root, then jump
    pointers until every pixel points at its root; labels match ``skimage.measure.label``.

    Args:
        mask: 2-D bool mask of the objects.
        connectivity: 4 (edge neighbours, as the ISBI 2012 scripts) or 8 (with corners).
            Defaults to 4.

    Returns:
        ``(labels, count)``: int64 labels (0 = outside the mask) and the number K of components.
    """
    if connectivity not in _OFFSETS:
        raise ValueError(f"connectivity must be 4 or 8, got {connectivity!r}")
    mask = np.asarray(mask, bool)
    if mask.ndim != 2:
        raise ValueError(f"mask must be 2-D, got shape {mask.shape}")
    padded = np.pad(mask, 1)
    width = padded.shape[1]
    pixels = np.flatnonzero(padded)
    position = np.full(padded.size, -1, np.int64)
    position[pixels] = np.arange(pixels.size)
    sources, targets = [], []
    for dy, dx in _OFFSETS[connectivity]:
        neighbours = pixels + dy * width + dx
        linked = padded.ravel()[neighbours]
        sources.append(position[pixels[linked]])
        targets.append(position[neighbours[linked]])
    source, target = np.concatenate(sources), np.concatenate(targets)
    parent = np.arange(pixels.size)
    while source.size:
        root_source, root_target = parent[source], parent[target]
        apart = root_source != root_target
        source, target = source[apart], target[apart]
        if not source.size:
            break
        high = np.maximum(root_source[apart], root_target[apart])
        low = np.minimum(root_source[apart], root_target[apart])
        np.minimum.at(parent, high, low)
        while True:
            grandparent = parent[parent]
            if np.array_equal(grandparent, parent):
                break
            parent = grandparent
    roots, component = np.unique(parent, return_inverse=True)
    labels = np.zeros(padded.size, np.int64)
    labels[pixels] = component + 1
    return labels.reshape(padded.shape)[1:-1, 1:-1], int(roots.size)


def rand_f_score(true_labels, pred_labels) -> float:
    """Foreground-restricted Rand F-score of two label maps (ISBI 2012, N^2 normalisation).

    With ``n_ij`` the number of true-foreground pixels with true label i > 0 and predicted label
    j > 0, ``a_i`` the size of true object i, ``b_j = sum_i n_ij`` and ``s`` the number of
    true-foreground pixels with predicted label 0 (singletons): precision
    ``= (sum n_ij^2 + s) / (sum b_j^2 + s)``, recall ``= (sum n_ij^2 + s) / sum a_i^2``,
    F-score = their harmonic mean. NaN when the truth has no foreground.

    Args:
        true_labels: integer labels of the ground truth, 0 = not an object (ignored).
        pred_labels: integer labels of the prediction, 0 = not an object.

    Example:
        >>> rand_f_score([[1, 1], [0, 2]], [[1, 2], [0, 2]])
        0.6
    """
    true_labels = np.asarray(true_labels)
    pred_labels = np.asarray(pred_labels)
    if true_labels.shape != pred_labels.shape:
        raise ValueError(
            f"label maps must have one shape, got {true_labels.shape} and {pred_labels.shape}"
        )
    for name, labels in (("true_labels", true_labels), ("pred_labels", pred_labels)):
        if not np.issubdtype(labels.dtype, np.integer) or (labels.size and labels.min() < 0):
            raise ValueError(f"{name} must hold non-negative integers, got dtype {labels.dtype}"
                             f" and minimum {labels.min() if labels.size else None}")
    foreground = true_labels != 0
    true_labels, pred_labels = true_labels[foreground], pred_labels[foreground]
    if true_labels.size == 0:
        return math.nan
    singletons = int(np.count_nonzero(pred_labels == 0))
    labelled = pred_labels != 0
    true_kept = true_labels[labelled].astype(np.int64)
    pred_kept = pred_labels[labelled].astype(np.int64)
    pair_keys = true_kept * (pred_kept.max(initial=0) + 1) + pred_kept
    _, pair_sizes = np.unique(pair_keys, return_counts=True)
    _, true_sizes = np.unique(true_labels, return_counts=True)
    _, pred_sizes = np.unique(pred_labels[labelled], return_counts=True)
    both = float(np.sum(pair_sizes.astype(np.float64) ** 2)) + singletons
    true_pairs = float(np.sum(true_sizes.astype(np.float64) ** 2))
    pred_pairs = float(np.sum(pred_sizes.astype(np.float64) ** 2)) + singletons
    return 2.0 * both / (true_pairs + pred_pairs)


def rand_error(prob, truth, fov=None, threshold: float = 0.5, connectivity: int = 4) -> float:
    """Rand error ``1 - rand_f_score`` of the vessel components inside the FOV.

    The ISBI 2012 challenge reports the best score over thresholds; this uses one threshold.

    Args:
        prob: 2-D vessel probabilities in [0, 1].
        truth: 2-D binary ground truth.
        fov: field-of-view mask; None uses every pixel. Defaults to None.
        threshold: a pixel is predicted vessel when ``prob > threshold``. Defaults to 0.5.
        connectivity: 4 or 8, see `connected_components`. Defaults to 4.

    Example:
        >>> rand_error(probability_map, record.vessels, record.fov)
    """
    threshold = check_threshold(threshold)
    prob, truth, fov = check_inputs(prob, truth, fov)
    true_labels, _ = connected_components(truth & fov, connectivity)
    pred_labels, _ = connected_components((prob > threshold) & fov, connectivity)
    return 1.0 - rand_f_score(true_labels, pred_labels)


def pixel_error(prob, truth, fov=None, threshold: float = 0.5) -> float:
    """Fraction of FOV pixels misclassified at ``threshold`` (``1 - accuracy``), ISBI 2012.

    Example:
        >>> pixel_error(probability_map, record.vessels, record.fov)
    """
    counts = confusion_counts(prob, truth, fov, threshold)
    return (counts.fp + counts.fn) / counts.total if counts.total else math.nan


def em_metrics(prob, truth, fov=None, threshold: float = 0.5,
               connectivity: int = 4) -> dict[str, float]:
    """Returns ``{"pixel_error": ..., "rand_error": ...}`` for one image."""
    return {
        "pixel_error": pixel_error(prob, truth, fov, threshold),
        "rand_error": rand_error(prob, truth, fov, threshold, connectivity),
    }
