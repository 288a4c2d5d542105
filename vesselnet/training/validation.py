"""Validation on whole held-out images: overlap-tile prediction, F1 and AUC inside the FOV.

The images are predicted at the training scale and scored on their original grid against
their original annotation, as ``vesselnet evaluate`` scores a photograph, so that validation
figures and evaluation figures agree.
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
    """

    f1: float
    auc: float
    metrics: dict
    preview: np.ndarray

    @property
    def scores(self) -> dict:
        """The scores as run histories and bundle cards name them: ``f1``, ``auc`` (ROC) and
        the other metrics under their own names."""
        rest = {key: value for key, value in self.metrics.items() if key not in ("f1", "auc_roc")}
        return {"f1": self.f1, "auc": self.auc, **rest}


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

    Example:
        >>> result = Validator(records, scaled_inputs(records, preprocessing, 540.0))(model)
        >>> result.f1, result.auc
    """

    def __init__(self, records: list[ImageRecord], inputs: list[np.ndarray]):
        if len(records) != len(inputs):
            raise ValueError(f"got {len(inputs)} inputs for {len(records)} validation records")
        self.records = records
        self.inputs = inputs

    def __bool__(self) -> bool:
        return bool(self.records)

    def __call__(self, model) -> ValidationResult:
        if not self.records:
            raise ValueError("no validation images: hold some out with data.validation_count")
        accumulator = MetricAccumulator()
        preview = None
        for record, image in zip(self.records, self.inputs):
            probability = np.asarray(predict_image(model, image), np.float32)
            if probability.shape != record.shape:  # predicted at the training scale
                probability = np.asarray(resample_map(probability, record.shape), np.float32)
            accumulator.update(probability, record.vessels, record.fov)
            if preview is None:
                shown = image[..., :1]
                if shown.shape[:2] != record.shape:
                    shown = tf.image.resize(shown, record.shape, method="bilinear").numpy()
                preview = np.concatenate(
                    [shown, probability[..., None],
                     record.vessels[..., None].astype(np.float32)], axis=1)
        metrics = accumulator.result()
        return ValidationResult(float(metrics["f1"]), float(metrics["auc_roc"]), metrics,
                                preview.astype(np.float32))
