"""The scale a run trains at: every photograph brought to one FOV diameter before patches are cut.

A network learns vessels at one scale, the FOV diameter in pixels of the photographs it saw.
A run measures the FOV diameter of every training and validation photograph
(:func:`vesselnet.preprocessing.fov_diameter`), takes the target ``data.fov_diameter`` (by
default the median of the training photographs': the data set's own scale), and resamples
each photograph, its FOV and its annotations by ``target / its own diameter``. Factors within
``1 +- SCALE_TOLERANCE`` (:mod:`vesselnet.core.scale`) are taken as 1: those records are
returned as they are, so a run at its data set's own scale is the run it was before.

- Photograph and FOV: :func:`~vesselnet.preprocessing.resample.resample_photograph` (area
  averaging when shrinking, bicubic when enlarging; the FOV kept where its share >= 0.5), as
  prediction resamples a photograph.
- Vessel annotations: resampled the same way as the share of vessel per pixel and kept where
  the share is >= 0.5. Labels stay binary, as the weight map (connected components, class
  balance), vessel-centred patch sampling, nearest-neighbour augmentation and the losses'
  class weights expect. The cost is in thin vessels when shrinking: a vessel narrower than
  about ``1 / factor`` pixels leaves shares below 0.5 and breaks up. The vessel share of the
  FOV of the 20 DRIVE annotations falls by 1.2 % at factor 0.587, 5.5 % at 0.5 and 25 % at
  0.165; CHASE_DB1's by 0.5 % at 0.587, its move to DRIVE's scale
  (``benchmarks/scale_labels.py --fractions``); soft shares would keep it. Trained with soft
  shares instead (``--train``: ``drive_baseline`` at 270 px, 1,500 steps), the held-out F1
  was 0.7672 against 0.7716 thresholded: no gain.
- Anything derived from the annotations (the U-Net weight map) is computed afterwards, on
  the resampled grid.

Example:
    >>> scales = measure_scales(train + validation)
    >>> target = training_diameter(None, scales[:len(train)])  # the median of the training FOVs
    >>> train = [rescale_record(r, s.factor_to(target)) for r, s in zip(train, scales)]
"""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Sequence

import numpy as np

from vesselnet.core.scale import scale_factor
from vesselnet.data.records import ImageRecord
from vesselnet.preprocessing import fov_diameter
from vesselnet.preprocessing.resample import resample_photograph, resample_share


@dataclasses.dataclass(frozen=True)
class PhotographScale:
    """The measured scale of one photograph.

    Args:
        name: the record's name.
        diameter: its FOV diameter in pixels.
        method: how it was measured: ``"circle"`` (a circle fitted to the FOV's edge) or the
            name of :func:`~vesselnet.preprocessing.fov_diameter`'s fallback.

    Example:
        >>> PhotographScale("21_training", 1080.0, "circle").factor_to(540.0)
        0.5
    """

    name: str
    diameter: float
    method: str

    def factor_to(self, target: float) -> float:
        """The resampling factor to ``target`` pixels; 1.0 within ``SCALE_TOLERANCE``."""
        return scale_factor(target, self.diameter)


def measure_scale(record: ImageRecord) -> PhotographScale:
    """The FOV diameter of ``record`` (:func:`vesselnet.preprocessing.fov_diameter`).

    Raises:
        ValueError: the FOV is empty (the message names the image).

    Example:
        >>> measure_scale(synthetic_retina(0)).method
        'circle'
    """
    try:
        measured = fov_diameter(record.fov)
    except ValueError as error:  # an empty FOV
        raise ValueError(f"image {record.name!r}: its scale (FOV diameter) cannot be measured: "
                         f"{error}") from None
    return PhotographScale(record.name, float(measured.diameter), str(measured.method))


def measure_scales(records: Sequence[ImageRecord]) -> list[PhotographScale]:
    """:func:`measure_scale` of every record, in order."""
    return [measure_scale(record) for record in records]


def training_diameter(fov_diameter: float | None, train: Sequence[PhotographScale]) -> float:
    """The scale to train at: ``fov_diameter``, or the median diameter of ``train`` when None.

    Args:
        fov_diameter: ``data.fov_diameter`` (None: the data set's own scale).
        train: the measured scales of the training photographs.

    Example:
        >>> training_diameter(None, [PhotographScale("a", 530.0, "circle"),
        ...                          PhotographScale("b", 540.0, "circle"),
        ...                          PhotographScale("c", 560.0, "circle")])
        540.0
    """
    if fov_diameter is not None:
        return float(fov_diameter)
    if not train:
        raise ValueError("no training photographs to take the training scale from")
    return float(statistics.median(scale.diameter for scale in train))


def rescale_record(record: ImageRecord, factor: float) -> ImageRecord:
    """``record`` resampled by ``factor``: photograph, FOV and annotations (module docstring).

    Args:
        record: the photograph and its masks.
        factor: the scale factor (> 0). Exactly 1.0 returns ``record`` itself.

    Returns:
        The resampled :class:`ImageRecord`, with the same name, path and ``fov_derived``.

    Example:
        >>> rescale_record(record, 0.5).shape  # a 584 x 565 photograph
        (292, 282)
    """
    if factor == 1.0:
        return record
    image, fov = resample_photograph(record.image, record.fov, factor)

    def mask(values):
        return None if values is None else np.asarray(resample_share(values, factor) >= 0.5)

    return dataclasses.replace(record, image=np.asarray(image), fov=np.asarray(fov),
                               vessels=mask(record.vessels),
                               second_observer=mask(record.second_observer))


def rescale_records(records: Sequence[ImageRecord], scales: Sequence[PhotographScale],
                    target: float) -> list[ImageRecord]:
    """Each record resampled to ``target`` pixels of FOV diameter (see :func:`rescale_record`)."""
    return [rescale_record(record, scale.factor_to(target))
            for record, scale in zip(records, scales, strict=True)]
