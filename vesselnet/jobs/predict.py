"""The prediction job: many photographs in, probability maps, masks and overlays out.

A file that cannot be processed is reported (its path and the problem) and skipped; the others
are still processed, and the report tells which failed.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import tensorflow as tf
from skimage.filters import threshold_otsu

from vesselnet import __version__
from vesselnet.data import read_photograph
from vesselnet.inference import InferenceOptions
from vesselnet.inference.scale import ScaleChoice
from vesselnet.jobs.outputs import (
    MAP_FORMATS,
    atomic_write_text,
    json_text,
    write_prediction,
)
from vesselnet.jobs.photographs import FovSource, InputFile, collect_inputs
from vesselnet.loading import load_model

SUMMARY_FILE = "predictions.json"
IMAGE_ERRORS = (ValueError, OSError, cv2.error, tf.errors.OpError)
"""Errors that fail one image (bad file, wrong size, out of memory) but not the whole job."""

SAMPLE_IMAGE = Path(__file__).resolve().parents[1] / "samples" / "synthetic_retina.png"
"""The bundled sample photograph (``vesselnet.data.synthetic_retina(2026)``)."""


def parse_threshold(value) -> float | str:
    """A threshold in [0, 1] (a number or its text) or ``"otsu"``.

    Example:
        >>> parse_threshold("0.4"), parse_threshold("Otsu")
        (0.4, 'otsu')
    """
    if isinstance(value, str):
        text = value.strip().lower()
        if text == "otsu":
            return "otsu"
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"threshold must be a number in [0, 1] or 'otsu', got "
                             f"{value!r}") from None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) \
            or not 0.0 <= value <= 1.0:
        raise ValueError(f"threshold must be a number in [0, 1] or 'otsu', got {value!r}")
    return float(value)


def image_threshold(probability: np.ndarray, fov: np.ndarray, threshold: float | str) -> float:
    """The threshold for one map: ``threshold`` itself, or Otsu's on the FOV pixels.

    A pixel is vessel when ``probability > threshold`` (the convention of
    :mod:`vesselnet.metrics`). Otsu's threshold of an empty FOV is 0.5 (nothing to split).
    """
    if threshold != "otsu":
        return float(threshold)
    values = probability[fov]
    if values.size == 0 or values.min() == values.max():
        return 0.5 if values.size == 0 else float(values.min())
    return float(threshold_otsu(values))


@dataclasses.dataclass(frozen=True)
class PredictionOptions:
    """What ``vesselnet predict`` writes and how it predicts.

    Args:
        map_format: probability-map file format, ``"png8"``, ``"png16"`` or ``"npy"``.
            Defaults to ``"png8"``.
        threshold: vessel when ``probability > threshold``; a number in [0, 1] or ``"otsu"``
            (per image, on its FOV pixels). Defaults to 0.5.
        fov: None to derive each FOV, a mask file for all images, or a folder of masks
            matched by stem. Defaults to None.
        inference: tiling, batch size and test-time augmentation. Defaults to
            ``InferenceOptions()``.

    Example:
        >>> PredictionOptions(map_format="png16", threshold="otsu", fov="DRIVE/test/mask")
    """

    map_format: str = "png8"
    threshold: float | str = 0.5
    fov: str | Path | None = None
    inference: InferenceOptions = dataclasses.field(default_factory=InferenceOptions)

    def __post_init__(self):
        if self.map_format not in MAP_FORMATS:
            raise ValueError(f"map_format must be one of {sorted(MAP_FORMATS)}, got "
                             f"{self.map_format!r}")
        object.__setattr__(self, "threshold", parse_threshold(self.threshold))


@dataclasses.dataclass(frozen=True)
class ImageOutcome:
    """What happened to one input.

    Args:
        input: the photograph (or the input as given).
        name: output name (file stem).
        outputs: written files keyed ``probability``, ``mask``, ``overlay``; empty on failure.
        threshold: threshold applied (Otsu's value with ``threshold="otsu"``), or None.
        vessel_fraction: share of FOV pixels predicted vessel, or None.
        seconds: wall time spent on the image.
        error: the problem, starting with the file's path; None on success.
        scale: the scale the photograph was predicted at (see
            :class:`~vesselnet.inference.scale.ScaleChoice`); None on failure.
    """

    input: Path
    name: str
    outputs: dict = dataclasses.field(default_factory=dict)
    threshold: float | None = None
    vessel_fraction: float | None = None
    seconds: float = 0.0
    error: str | None = None
    scale: ScaleChoice | None = None

    @property
    def ok(self) -> bool:
        """True when every output was written."""
        return self.error is None

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return {"input": str(self.input), "name": self.name,
                "outputs": {key: str(path) for key, path in self.outputs.items()},
                "threshold": self.threshold, "vessel_fraction": self.vessel_fraction,
                "seconds": round(self.seconds, 3), "error": self.error,
                "scale": None if self.scale is None else dataclasses.asdict(self.scale)}


@dataclasses.dataclass(frozen=True)
class PredictionReport:
    """Result of :func:`predict_files`: one outcome per input, in input order.

    Args:
        model: the model used (path).
        out_dir: the output folder.
        outcomes: per-input results.
        seconds: wall time of the whole job, model loading included.
    """

    model: str
    out_dir: Path
    outcomes: tuple[ImageOutcome, ...]
    seconds: float

    @property
    def failed(self) -> tuple[ImageOutcome, ...]:
        """Outcomes with an error."""
        return tuple(outcome for outcome in self.outcomes if not outcome.ok)

    @property
    def succeeded(self) -> tuple[ImageOutcome, ...]:
        """Outcomes whose files were written."""
        return tuple(outcome for outcome in self.outcomes if outcome.ok)

    def to_dict(self) -> dict:
        """JSON-ready form (the content of ``predictions.json``)."""
        return {"model": self.model, "out_dir": str(self.out_dir),
                "vesselnet_version": __version__, "seconds": round(self.seconds, 3),
                "images": len(self.outcomes), "failed": len(self.failed),
                "results": [outcome.to_dict() for outcome in self.outcomes]}


def _message(path: Path, error: Exception) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text if str(path) in text else f"{path}: {text}"


def _predict_one(item: InputFile, loaded, fov_source: FovSource, out_dir: Path,
                 options: PredictionOptions) -> ImageOutcome:
    start = time.perf_counter()
    if item.error is not None:
        return ImageOutcome(item.path, item.name, error=f"{item.path}: {item.error}")
    try:
        image = read_photograph(item.path, grayscale="replicate")
        fov = fov_source.mask_for(item.path, image)
        prediction = loaded.predict_photograph(image, fov)
        probability = prediction.maps["final"]
        threshold = image_threshold(probability, fov, options.threshold)
        mask = (probability > threshold) & fov
        outputs = write_prediction(out_dir, item.name, image, probability, mask,
                                   options.map_format)
    except IMAGE_ERRORS as error:
        return ImageOutcome(item.path, item.name, seconds=time.perf_counter() - start,
                            error=_message(item.path, error))
    inside = int(np.count_nonzero(fov))
    fraction = float(np.count_nonzero(mask)) / inside if inside else math.nan
    return ImageOutcome(item.path, item.name, outputs, threshold, fraction,
                        time.perf_counter() - start, scale=prediction.scale)


def predict_files(inputs: list[str | Path], model_path: str | Path | None, out_dir: str | Path,
                  options: PredictionOptions = PredictionOptions(), *,
                  progress: Callable[[ImageOutcome, int, int], None] | None = None
                  ) -> PredictionReport:
    """Predicts the vessels of photographs and writes maps, masks and overlays to ``out_dir``.

    For each photograph (any format the data readers take; grayscale is replicated to RGB):
    the FOV (derived or given), the network's vessel probability (0 outside the FOV) as
    ``NAME_probability.{png,npy}``, the mask ``probability > threshold`` as ``NAME_mask.png``
    and ``NAME_overlay.png``; then ``predictions.json`` summarising every input. Files are
    written atomically. A bad input fails alone (see :attr:`ImageOutcome.error`).

    Args:
        inputs: files, folders and glob patterns (see
            :func:`~vesselnet.jobs.photographs.collect_inputs`).
        model_path: bundle directory or ``.keras`` file; None for the bundled pretrained model.
        out_dir: output folder, created when missing.
        options: formats, threshold, FOV and inference settings. Defaults to
            ``PredictionOptions()``.
        progress: called after each input with ``(outcome, done, total)``. Defaults to None.

    Returns:
        A :class:`PredictionReport`.

    Raises:
        ValueError: no inputs, a model that cannot be loaded, or a missing ``--fov`` path
            (problems of single files are reported in the outcomes instead).

    Example:
        >>> report = predict_files(["photos/"], "runs/drive/best", "out",
        ...                        PredictionOptions(threshold="otsu"))
        >>> [outcome.error for outcome in report.failed]
    """
    start = time.perf_counter()
    items = collect_inputs(list(inputs))
    fov_source = FovSource(options.fov)
    loaded = load_model(model_path, options.inference)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    outcomes = []
    for item in items:
        outcomes.append(_predict_one(item, loaded, fov_source, out_dir, options))
        if progress is not None:
            progress(outcomes[-1], len(outcomes), len(items))
    report = PredictionReport(str(loaded.source), out_dir, tuple(outcomes),
                              time.perf_counter() - start)
    summary = {**report.to_dict(), "map_format": options.map_format,
               "threshold": options.threshold, "fov": options.fov,
               "tta": options.inference.tta, "tile_size": options.inference.tile_size,
               "scale": options.inference.scale, "fov_diameter": options.inference.fov_diameter,
               "learned_fov_diameter": loaded.card.learned_fov_diameter}
    atomic_write_text(out_dir / SUMMARY_FILE, json_text(summary))
    return report
