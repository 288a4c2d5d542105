"""The evaluation report: ``metrics.json`` and ``per_image.csv`` (written atomically).

``metrics.json`` holds ``model``, ``dataset``, ``split``, ``threshold``, ``aggregate`` (all FOV
pixels of the split pooled), ``mean`` (per-image scores averaged), ``per_image`` (one entry
per image, with ``name``), and when available ``second_observer`` (the human baseline),
``stage1`` and ``stage1_final_ssim`` (chained model), ``morphology``. NaN (undefined) is
written as ``null``.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import math
from pathlib import Path

from vesselnet.core.files import atomic_write_text
from vesselnet.jobs.outputs import json_text

METRICS_FILE = "metrics.json"
PER_IMAGE_FILE = "per_image.csv"
ROC_FILE = "roc_curve.png"
PR_FILE = "pr_curve.png"
FIGURES_FOLDER = "images"
MAPS_FOLDER = "probabilities"


def flatten(entry: dict, prefix: str = "") -> dict:
    """Nested dict -> one level, keys joined with dots (``{"a": {"b": 1}}`` -> ``{"a.b": 1}``)."""
    flat = {}
    for key, value in entry.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def per_image_csv(per_image: list[dict]) -> str:
    """CSV text, one row per image, columns the flattened keys (union, in first-seen order).

    Numbers are written with full precision (``repr``); undefined scores are left empty.
    """
    rows = [flatten(entry) for entry in per_image]
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: "" if isinstance(value, float) and not math.isfinite(value)
                         else value for key, value in row.items()})
    return buffer.getvalue()


@dataclasses.dataclass(frozen=True)
class EvaluationReport:
    """Result of :func:`~vesselnet.jobs.evaluate_dataset`.

    Args:
        metrics: the content of ``metrics.json`` (NaN where a score is undefined).
        out_dir: the output folder.
        files: written files keyed ``metrics``, ``per_image``, ``roc``, ``pr``, ``figures``
            (list), ``maps`` (list).
        seconds: wall time, model loading included.

    Example:
        >>> report = evaluate_dataset("runs/drive/best", "drive", "DRIVE", "test", "eval")
        >>> report.aggregate["f1"], report.metrics.get("second_observer")
    """

    metrics: dict
    out_dir: Path
    files: dict
    seconds: float

    @property
    def aggregate(self) -> dict[str, float]:
        """Scores of all FOV pixels of the split pooled."""
        return self.metrics["aggregate"]

    @property
    def mean(self) -> dict[str, float]:
        """Per-image scores averaged over the images."""
        return self.metrics["mean"]

    def summary(self) -> str:
        """A few lines for the terminal: pooled scores, second observer, stage 1."""
        def line(label: str, scores: dict) -> str:
            keys = ("f1", "auc_roc", "auc_pr", "accuracy", "sensitivity", "specificity", "ssim")
            values = "  ".join(f"{key} {scores[key]:.4f}" for key in keys
                               if key in scores and math.isfinite(scores[key]))
            return f"  {label:<16}{values}"

        metrics = self.metrics
        heading = (f"{metrics['dataset']} {metrics['split']}: {len(metrics['per_image'])} "
                   f"images, threshold {metrics['threshold']}, all FOV pixels pooled:")
        lines = [heading, line("model", metrics["aggregate"])]
        if "stage1" in metrics:
            lines.append(line("stage 1", metrics["stage1"]["aggregate"]))
        if "second_observer" in metrics:
            lines.append(line("2nd observer", metrics["second_observer"]["aggregate"]))
        return "\n".join(lines)


def write_report(out_dir: Path, metrics: dict) -> dict[str, Path]:
    """Writes ``metrics.json`` and ``per_image.csv``; returns their paths."""
    paths = {"metrics": out_dir / METRICS_FILE, "per_image": out_dir / PER_IMAGE_FILE}
    atomic_write_text(paths["metrics"], json_text(metrics))
    atomic_write_text(paths["per_image"], per_image_csv(metrics["per_image"]))
    return paths
