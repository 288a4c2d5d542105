"""Evaluation figures: ROC and precision-recall curves, and one error panel per image.

Drawn with Matplotlib's object API on the Agg canvas (no pyplot, no global backend change),
saved as PNG through :func:`~vesselnet.predict.atomic_write_bytes`.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from vesselnet.core.files import atomic_write_bytes

TRUE_POSITIVE = (255, 255, 255)
FALSE_POSITIVE = (255, 140, 0)  # orange: predicted vessel, not in the ground truth
FALSE_NEGATIVE = (30, 144, 255)  # blue: missed vessel (a pair readable with colour blindness)
OUTSIDE_FOV = (48, 48, 48)


def _save(figure: Figure, path: Path, dpi: int = 100) -> Path:
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return atomic_write_bytes(path, buffer.getvalue())


def error_map(truth: np.ndarray, predicted: np.ndarray, fov: np.ndarray) -> np.ndarray:
    """uint8 RGB map: true positives white, false positives orange, false negatives blue,
    true negatives black, outside the FOV dark grey.

    Example:
        >>> error_map(np.array([[1, 0]], bool), np.array([[0, 1]], bool), np.ones((1, 2), bool))
        array([[[ 30, 144, 255], [255, 140,   0]]], dtype=uint8)
    """
    colours = np.zeros(truth.shape + (3,), np.uint8)
    colours[truth & predicted] = TRUE_POSITIVE
    colours[~truth & predicted] = FALSE_POSITIVE
    colours[truth & ~predicted] = FALSE_NEGATIVE
    colours[~fov] = OUTSIDE_FOV
    return colours


def image_figure(path: Path, title: str, image: np.ndarray, truth: np.ndarray,
                 probability: np.ndarray, fov: np.ndarray, threshold: float) -> Path:
    """Writes one image's panel: photograph, ground truth, prediction and coloured errors.

    Args:
        path: PNG file to write.
        title: figure title (image name and scores).
        image: uint8 RGB photograph.
        truth: bool ground truth (first observer).
        probability: vessel probability in [0, 1].
        fov: bool field of view.
        threshold: vessel when ``probability > threshold``.
    """
    height, width = truth.shape
    panel = min(max(width, 200), 600) / 100  # inches at 100 dpi: near native resolution
    figure = Figure(figsize=(4 * panel, panel * height / width + 0.9))
    axes = figure.subplots(1, 4)
    predicted = (probability > threshold) & fov
    panels = (("photograph", image, None), ("ground truth", truth & fov, "gray"),
              ("prediction (probability)", probability, "gray"),
              ("errors", error_map(truth & fov, predicted, fov), None))
    for axis, (name, data, colour_map) in zip(axes, panels):
        scale = {"cmap": colour_map, "vmin": 0, "vmax": 1} if data.ndim == 2 else {}
        axis.imshow(data, interpolation="nearest", **scale)
        axis.set_title(name, fontsize=max(10.0, 2.5 * panel))
        axis.set_axis_off()
    legend = [Patch(facecolor=np.array(colour) / 255, edgecolor="black", label=label)
              for colour, label in ((TRUE_POSITIVE, "true positive"),
                                    (FALSE_POSITIVE, "false positive"),
                                    (FALSE_NEGATIVE, "false negative"))]
    figure.legend(handles=legend, loc="lower right", ncol=3, fontsize=max(8.0, 2 * panel),
                  frameon=False)
    figure.suptitle(title, fontsize=max(11.0, 2.8 * panel))
    figure.subplots_adjust(left=0.01, right=0.99, top=0.85, bottom=0.08, wspace=0.03)
    return _save(figure, path)


def _label(name: str, value: float, metric: str) -> str:
    return f"{name} ({metric} {value:.4f})" if math.isfinite(value) else name


def curve_figures(roc_path: Path, pr_path: Path, curves: dict[str, dict],
                  areas: dict[str, dict], points: dict[str, tuple[float, float, float]]
                  ) -> tuple[Path, Path]:
    """Writes the ROC and precision-recall plots of one or more predictors.

    Args:
        roc_path: PNG file of the ROC curves.
        pr_path: PNG file of the precision-recall curves.
        curves: ``{label: ScorePool.curves()}`` drawn as lines.
        areas: ``{label: {"auc_roc", "auc_pr"}}`` (exact values) shown in the legend.
        points: ``{label: (specificity, sensitivity, precision)}`` operating points drawn as
            markers (the model at its threshold, the second observer).
    """
    roc = Figure(figsize=(5.5, 5))
    roc_axis = roc.subplots()
    pr = Figure(figsize=(5.5, 5))
    pr_axis = pr.subplots()
    for label, curve in curves.items():
        scores = areas.get(label, {})
        roc_axis.plot(curve["fpr"], curve["tpr"],
                      label=_label(label, scores.get("auc_roc", math.nan), "AUC"))
        pr_axis.plot(curve["recall"], curve["precision"],
                     label=_label(label, scores.get("auc_pr", math.nan), "AP"))
    markers = iter("os^D")
    for label, (specificity, sensitivity, precision) in points.items():
        marker = next(markers, "x")
        roc_axis.plot([1 - specificity], [sensitivity], marker, label=label)
        pr_axis.plot([sensitivity], [precision], marker, label=label)
    roc_axis.plot([0, 1], [0, 1], ":", color="grey", linewidth=0.8)
    for axis, (x_name, y_name), title in (
            (roc_axis, ("false positive rate (1 - specificity)", "true positive rate"), "ROC"),
            (pr_axis, ("recall (sensitivity)", "precision"), "Precision-recall")):
        axis.set_xlim(0, 1)
        axis.set_ylim(0, 1.01)
        axis.set_xlabel(x_name)
        axis.set_ylabel(y_name)
        axis.set_title(f"{title}, all FOV pixels pooled")
        axis.grid(alpha=0.3)
        axis.legend(loc="lower right" if axis is roc_axis else "lower left", fontsize=8)
    roc.tight_layout()
    pr.tight_layout()
    return _save(roc, roc_path), _save(pr, pr_path)
