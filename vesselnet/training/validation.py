"""Validation on whole held-out images: overlap-tile prediction, F1 and AUC inside the FOV.

The images are predicted at the training scale and scored on their original grid against
their original annotation, as ``vesselnet evaluate`` scores a photograph, so that validation
figures and evaluation figures agree. A run on several data sets scores each set's held-out
images on their own as well (``ValidationResult.sets``); the pooled figures (all held-out FOV
pixels of all sets together) choose the best model.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow as tf

from vesselnet.data.records import ImageRecord
from vesselnet.inference import predict_image
from vesselnet.metrics import MetricAccumulator
from vesselnet.preprocessing.resample import resample_map


@dataclasses.dataclass(frozen=True)
class ValidationResult:
    """Pooled scores of the validation images and a preview for TensorBoard.

    Args:
        f1: F1 (Dice) of ``probability > 0.5`` inside the FOVs, all images pooled.
        auc: AUC-ROC inside the FOVs, pooled.
        metrics: every score of :class:`~vesselnet.metrics.MetricAccumulator`.
        preview: float32 ``[H, 3 W, 1]``: input, probability and truth of the first image.
        sets: the :attr:`scores` of each group of images (data set) on its own, by name.
            Defaults to {} (one data set).
        images: the first image for TensorBoard, float32 in [0, 1] on its original grid:
            ``photograph`` (RGB ``[H, W, 3]``), ``probability`` (``[H, W, 1]``) and
            ``errors`` (:func:`error_map`). Defaults to {}.
    """

    f1: float
    auc: float
    metrics: dict
    preview: np.ndarray
    sets: dict = dataclasses.field(default_factory=dict)
    images: dict = dataclasses.field(default_factory=dict)

    @property
    def scores(self) -> dict:
        """The scores as run histories and bundle cards name them: ``f1``, ``auc`` (ROC) and
        the other metrics under their own names."""
        return _named(self.metrics)


ERROR_COLOURS = {"true_positive": (1.0, 1.0, 1.0), "false_positive": (1.0, 0.0, 0.0),
                 "false_negative": (0.0, 0.4, 1.0), "outside_fov": (0.25, 0.25, 0.25)}
"""RGB of each pixel class in :func:`error_map`; true negatives inside the FOV are black."""


def error_map(probability: np.ndarray, vessels: np.ndarray, fov: np.ndarray,
              threshold: float = 0.5) -> np.ndarray:
    """Float32 RGB ``[H, W, 3]`` of the errors of ``probability > threshold``.

    True positives white, false positives red, false negatives blue, true negatives black,
    outside the FOV dark grey (:data:`ERROR_COLOURS`).

    Example:
        >>> error_map(np.array([[0.9, 0.9]]), np.array([[True, False]]),
        ...           np.array([[True, True]]))[0].tolist()
        [[1.0, 1.0, 1.0], [1.0, 0.0, 0.0]]
    """
    predicted, vessels, fov = probability > threshold, vessels.astype(bool), fov.astype(bool)
    image = np.zeros(probability.shape[:2] + (3,), np.float32)
    for mask, name in ((predicted & vessels, "true_positive"),
                       (predicted & ~vessels, "false_positive"),
                       (~predicted & vessels, "false_negative"), (~fov, "outside_fov")):
        image[mask] = ERROR_COLOURS[name]
    return image


def _named(metrics: dict) -> dict:
    rest = {key: value for key, value in metrics.items() if key not in ("f1", "auc_roc")}
    return {"f1": float(metrics["f1"]), "auc": float(metrics["auc_roc"]), **rest}


class Validator:
    """Scores a model on whole validation images (pooled F1 and AUC inside the FOV).

    Each image is predicted whole with :func:`vesselnet.inference.predict_image` (overlap-tile
    strategy, default tiling). An input on another grid than its record (an image resampled to
    the training scale) has its map resampled back to the record's grid
    (:func:`~vesselnet.preprocessing.resample.resample_map`, bilinear), so that the scores are
    those of the original annotation. Then its FOV pixels are pooled with the other images'.

    Args:
        records: validation records (vessel masks and FOVs) on their original grid.
        inputs: their preprocessed images, float32 ``[h, w, C]``, on the original grid or
            resampled to the training scale
            (:func:`~vesselnet.training.sources.scaled_inputs`).
        groups: indices of ``records`` by group name (the data sets of a run on several),
            each group scored on its own too. Defaults to None (no groups).

    Example:
        >>> result = Validator(records, scaled_inputs(records, preprocessing, 540.0))(model)
        >>> result.f1, result.auc
    """

    def __init__(self, records: list[ImageRecord], inputs: list[np.ndarray],
                 groups: dict[str, range] | None = None):
        if len(records) != len(inputs):
            raise ValueError(f"got {len(inputs)} inputs for {len(records)} validation records")
        self.records = records
        self.inputs = inputs
        self.groups = dict(groups or {})
        outside = [index for indices in self.groups.values() for index in indices
                   if not 0 <= index < len(records)]
        if outside:
            raise ValueError(f"group indices {outside} are not among the {len(records)} "
                             "validation records")

    def __bool__(self) -> bool:
        return bool(self.records)

    def __call__(self, model) -> ValidationResult:
        if not self.records:
            raise ValueError("no validation images: hold some out with data.validation_count")
        accumulator = MetricAccumulator()
        groups = {name: MetricAccumulator() for name, indices in self.groups.items() if indices}
        group_of = {index: name for name, indices in self.groups.items() for index in indices}
        preview, images = None, {}
        for index, (record, image) in enumerate(zip(self.records, self.inputs)):
            probability = np.asarray(predict_image(model, image), np.float32)
            if probability.shape != record.shape:  # predicted at the training scale
                probability = np.asarray(resample_map(probability, record.shape), np.float32)
            accumulator.update(probability, record.vessels, record.fov)
            if index in group_of:
                groups[group_of[index]].update(probability, record.vessels, record.fov)
            if preview is None:
                shown = image[..., :1]
                if shown.shape[:2] != record.shape:
                    shown = tf.image.resize(shown, record.shape, method="bilinear").numpy()
                preview = np.concatenate(
                    [shown, probability[..., None],
                     record.vessels[..., None].astype(np.float32)], axis=1)
                images = {"photograph": record.image.astype(np.float32) / 255.0,
                          "probability": probability[..., None],
                          "errors": error_map(probability, record.vessels, record.fov)}
        metrics = accumulator.result()
        return ValidationResult(float(metrics["f1"]), float(metrics["auc_roc"]), metrics,
                                preview.astype(np.float32),
                                {name: _named(group.result()) for name, group in groups.items()},
                                images)
