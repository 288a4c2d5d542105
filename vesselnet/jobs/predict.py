"""The prediction job: many photographs in, probability maps, masks and overlays out.

A file that cannot be processed is reported (its path and the problem) and skipped; the others
are still processed, and the report tells which failed. Before any photograph goes through
the network the output folder is checked (:mod:`~vesselnet.jobs.out_folder`): writable, no
output onto an input, nothing of an earlier run replaced without ``overwrite``.
``predictions.json`` is rewritten atomically after every image, so that after a kill it
lists the images whose outputs were written.
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
from vesselnet.inference.tile_choice import bound_tile_size
from vesselnet.jobs.out_folder import (
    OutputsExistError,
    existing_outputs,
    prepare_out_dir,
    refuse_foreign_files,
    refuse_input_overwrites,
)
from vesselnet.jobs.outputs import (
    MAP_FORMATS,
    atomic_write_text,
    json_text,
    output_paths,
    write_prediction,
)
from vesselnet.jobs.photographs import FovSource, InputFile, SkippedFile, select_inputs
from vesselnet.jobs.plausibility import result_warnings, size_problem, tile_note
from vesselnet.loading import load_model

SUMMARY_FILE = "predictions.json"
IMAGE_ERRORS = (ValueError, OSError, MemoryError, cv2.error, tf.errors.OpError)
"""Errors that fail one image (bad file, wrong size, out of memory) but not the whole job."""
MANY_TILES = 16
"""An image predicted in at least this many network calls reports its progress."""

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
        warnings: why a result that was written may mean little (an empty FOV, an
            implausible vessel share, a bounded tile size), one line each naming the file.
            Defaults to ().
        tile_size: the input tile side used when ``--tile-size`` was given. Defaults to None.
    """

    input: Path
    name: str
    outputs: dict = dataclasses.field(default_factory=dict)
    threshold: float | None = None
    vessel_fraction: float | None = None
    seconds: float = 0.0
    error: str | None = None
    scale: ScaleChoice | None = None
    warnings: tuple[str, ...] = ()
    tile_size: int | None = None

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
                "warnings": list(self.warnings), "tile_size": self.tile_size,
                "scale": None if self.scale is None else dataclasses.asdict(self.scale)}


@dataclasses.dataclass(frozen=True)
class PredictionReport:
    """Result of :func:`predict_files`: one outcome per input, in input order.

    Args:
        model: the model used (path).
        out_dir: the output folder.
        outcomes: per-input results.
        seconds: wall time of the whole job, model loading included.
        skipped: files of the input folders that were not predicted, and why. Defaults to ().
        replaced: files of an earlier run this one replaced (``overwrite``). Defaults to ().
        complete: False while the job runs (the ``predictions.json`` written after each
            image); True at the end. Defaults to True.
    """

    model: str
    out_dir: Path
    outcomes: tuple[ImageOutcome, ...]
    seconds: float
    skipped: tuple[SkippedFile, ...] = ()
    replaced: tuple[Path, ...] = ()
    complete: bool = True

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
                "complete": self.complete, "images": len(self.outcomes),
                "failed": len(self.failed),
                "warned": sum(1 for outcome in self.outcomes if outcome.warnings),
                "skipped": [file.to_dict() for file in self.skipped],
                "replaced": [str(path) for path in self.replaced],
                "results": [outcome.to_dict() for outcome in self.outcomes]}


def _message(path: Path, error: Exception) -> str:
    if isinstance(error, (MemoryError, tf.errors.ResourceExhaustedError)):
        return (f"{path}: out of memory ({type(error).__name__}); try a smaller --tile-size "
                "or --batch-size, or --scale auto")
    text = " ".join(str(error).split()) or type(error).__name__
    return text if str(path) in text else f"{path}: {text}"


def _with_tile_size(loaded, image: np.ndarray, fov: np.ndarray, path: Path):
    """``loaded`` with ``--tile-size`` bounded for this image, and the warning saying so."""
    wanted = loaded.options.tile_size
    if wanted is None or loaded.geometry is not None:  # automatic, or an export's own tile
        return loaded, wanted, []
    factor = loaded.choose_scale(fov).factor
    height, width = (max(1, round(side * factor)) for side in image.shape[:2])
    used, why = bound_tile_size(loaded.model, height, width, wanted)
    if why is None:
        return loaded, wanted, []
    options = dataclasses.replace(loaded.options, tile_size=used)
    return (dataclasses.replace(loaded, options=options), used,
            [tile_note(path, wanted, used, why, height, width)])


def _predict_one(item: InputFile, loaded, fov_source: FovSource, out_dir: Path,
                 options: PredictionOptions, tile_progress=None) -> ImageOutcome:
    start = time.perf_counter()
    if item.error is not None:
        return ImageOutcome(item.path, item.name, error=f"{item.path}: {item.error}")
    try:
        image = read_photograph(item.path, grayscale="replicate")
        too_small = size_problem(item.path, image)
        if too_small is not None:
            return ImageOutcome(item.path, item.name, seconds=time.perf_counter() - start,
                                error=too_small)
        fov = fov_source.mask_for(item.path, image)
        model, tile_size, warnings = _with_tile_size(loaded, image, fov, item.path)
        progress = None if tile_progress is None else tile_progress.start(item.path)
        prediction = model.predict_photograph(image, fov, progress=progress)
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
    warnings += result_warnings(item.path, fov, mask)
    return ImageOutcome(item.path, item.name, outputs, threshold, fraction,
                        time.perf_counter() - start, scale=prediction.scale,
                        warnings=tuple(warnings), tile_size=tile_size)


class TileProgress:
    """Reports the tiles of long images: ``report(path, done, total, seconds_left)``.

    Only images that take at least ``many`` network calls are reported, and at most one
    report every ``every`` seconds (the last call of an image always).

    Args:
        report: called with the photograph, tiles done, tiles in all and the estimated
            seconds left.
        many: smallest number of tiles reported. Defaults to :data:`MANY_TILES`.
        every: seconds between reports. Defaults to 2.
        clock: the time in seconds. Defaults to ``time.perf_counter``.
    """

    def __init__(self, report: Callable[[Path, int, int, float], None], *,
                 many: int = MANY_TILES, every: float = 2.0,
                 clock: Callable[[], float] = time.perf_counter):
        self.report, self.many, self.every, self.clock = report, many, every, clock
        self.path, self.began, self.last = None, 0.0, -math.inf

    def start(self, path: Path) -> TileProgress:
        """Begins a photograph; returns the callable to give the tiling."""
        self.path, self.began, self.last = path, self.clock(), -math.inf
        return self

    def __call__(self, done: int, total: int) -> None:
        if total < self.many or done <= 0:
            return
        now = self.clock()
        if done < total and now - self.last < self.every:
            return
        self.last = now
        elapsed = now - self.began
        self.report(self.path, done, total, elapsed / done * (total - done))


def _summary(report: PredictionReport, options: PredictionOptions, loaded,
             planned: list[str]) -> dict:
    return {**report.to_dict(), "planned": planned, "map_format": options.map_format,
            "threshold": options.threshold, "fov": options.fov,
            "tta": options.inference.tta, "tile_size": options.inference.tile_size,
            "scale": options.inference.scale, "fov_diameter": options.inference.fov_diameter,
            "precision": loaded.precision,
            "learned_fov_diameter": loaded.card.learned_fov_diameter}


def _write_summary(path: Path, summary: dict) -> None:
    try:
        atomic_write_text(path, json_text(summary))
    except OSError as error:
        raise ValueError(f"{path}: cannot write the report "
                         f"({error.strerror or type(error).__name__})") from None


def predict_files(inputs: list[str | Path], model_path: str | Path | None, out_dir: str | Path,
                  options: PredictionOptions = PredictionOptions(), *,
                  overwrite: bool = False,
                  progress: Callable[[ImageOutcome, int, int], None] | None = None,
                  tile_progress: TileProgress | None = None) -> PredictionReport:
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
        overwrite: replace outputs of an earlier run in ``out_dir`` (only files the
            ``predictions.json`` there names). Defaults to False.
        progress: called after each input with ``(outcome, done, total)``. Defaults to None.
        tile_progress: reports the tiles of long images (see :class:`TileProgress`).
            Defaults to None.

    Returns:
        A :class:`PredictionReport`.

    Raises:
        ValueError: no inputs, a model that cannot be loaded, a missing ``--fov`` path, an
            output folder that cannot be written, (``OutputsExistError``) outputs of an
            earlier run without ``overwrite``, or (``ForeignFilesError``) files in the way
            that no earlier prediction there wrote; problems of single files are reported in
            the outcomes instead.

    Example:
        >>> report = predict_files(["photos/"], "runs/drive/best", "out",
        ...                        PredictionOptions(threshold="otsu"))
        >>> [outcome.error for outcome in report.failed]
    """
    start = time.perf_counter()
    selection = select_inputs(list(inputs))
    fov_source = FovSource(options.fov)
    loaded = load_model(model_path, options.inference)
    out_dir = prepare_out_dir(out_dir)
    items = refuse_input_overwrites(selection.items, out_dir, options.map_format,
                                    fov_source.files())
    existing = existing_outputs(items, out_dir, options.map_format, SUMMARY_FILE)
    if existing and not overwrite:
        raise OutputsExistError(existing)
    if existing:
        refuse_foreign_files(existing, out_dir, SUMMARY_FILE)
    planned = [path.name for item in items if item.error is None
               for path in output_paths(out_dir, item.name, options.map_format).values()]
    outcomes: list[ImageOutcome] = []

    def report(complete: bool) -> PredictionReport:
        return PredictionReport(str(loaded.source), out_dir, tuple(outcomes),
                                time.perf_counter() - start, selection.skipped,
                                tuple(existing), complete)

    _write_summary(out_dir / SUMMARY_FILE, _summary(report(False), options, loaded, planned))
    for item in items:
        outcomes.append(_predict_one(item, loaded, fov_source, out_dir, options,
                                     tile_progress))
        _write_summary(out_dir / SUMMARY_FILE, _summary(report(False), options, loaded, planned))
        if progress is not None:
            progress(outcomes[-1], len(outcomes), len(items))
    final = report(True)
    _write_summary(out_dir / SUMMARY_FILE, _summary(final, options, loaded, planned))
    return final
