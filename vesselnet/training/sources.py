"""Images of a run: read the split, hold out the validation images, bring them to the training
scale, preprocess once.

Data sets are read by :func:`vesselnet.data.read_dataset` (which raises
:class:`~vesselnet.data.io.VesselnetDataError` for a folder in the wrong layout); the name
``"synthetic"`` draws :func:`~vesselnet.data.synthetic.synthetic_dataset` instead. Every
photograph is resampled to the run's FOV diameter (``data.fov_diameter``, by default the
training photographs' median) before it is preprocessed: see :mod:`vesselnet.training.scale`.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from vesselnet.config import DataConfig, PreprocessConfig
from vesselnet.data import read_dataset
from vesselnet.data.io import VesselnetDataError
from vesselnet.data.records import ImageRecord, select_records
from vesselnet.data.synthetic import synthetic_dataset
from vesselnet.preprocessing import fit_statistics, preprocess
from vesselnet.training.scale import (
    PhotographScale,
    measure_scales,
    rescale_records,
    training_diameter,
)


@dataclasses.dataclass(frozen=True)
class RunImages:
    """Training and validation images of a run, with their preprocessed network inputs.

    Args:
        train: training records, at the training scale (what the patches are cut from).
        validation: held-out records on their original grid (what validation scores against).
        train_inputs / validation_inputs: float32 ``[H, W, C]`` preprocessed images, both at
            the training scale.
        preprocessing: the preprocessing config actually used (data-set statistics filled in).
        fov_diameter: the training scale: the FOV diameter in pixels the photographs were
            brought to (the network's learned scale). Defaults to None (not resampled).
        scales: the measured scale of every training, then every validation photograph, on
            its original grid. Defaults to ().
    """

    train: list[ImageRecord]
    validation: list[ImageRecord]
    train_inputs: list[np.ndarray]
    validation_inputs: list[np.ndarray]
    preprocessing: PreprocessConfig
    fov_diameter: float | None = None
    scales: tuple[PhotographScale, ...] = ()

    @property
    def resampled(self) -> list[str]:
        """Names of the photographs resampled to the training scale (the others are within
        ``SCALE_TOLERANCE`` of it and used as they are)."""
        if self.fov_diameter is None:
            return []
        return [scale.name for scale in self.scales
                if scale.factor_to(self.fov_diameter) != 1.0]


def read_records(data: DataConfig) -> list[ImageRecord]:
    """All labelled records of ``data``'s split, sorted by name.

    Raises:
        VesselnetDataError: a folder in the wrong layout or an unreadable file.
    """
    if data.dataset == "synthetic":
        return synthetic_dataset(data.synthetic_images, data.synthetic_seed,
                                 tuple(data.synthetic_size))
    records = list(read_dataset(data.dataset, data.data_dir, data.split))
    unlabelled = [record.name for record in records if record.vessels is None]
    if unlabelled:
        raise VesselnetDataError(f"{data.data_dir}: images without vessel masks: {unlabelled}")
    return sorted(records, key=lambda record: record.name)


def split_validation(records: list[ImageRecord], data: DataConfig):
    """``(train, validation)``: the named images, or the last ``validation_count``, held out."""
    if data.validation_images:
        held = select_records(records, data.validation_images, "data.validation_images")
    else:
        held = records[len(records) - data.validation_count:] if data.validation_count else []
    held_names = {record.name for record in held}
    train = [record for record in records if record.name not in held_names]
    if not train:
        raise ValueError(f"no training images left after holding out {len(held)} of "
                         f"{len(records)} for validation")
    return train, held


def preprocess_records(records, config: PreprocessConfig) -> list[np.ndarray]:
    """The float32 ``[H, W, C]`` network inputs of ``records`` under ``config``."""
    return [np.asarray(preprocess(r.image, config, r.fov),
                       np.float32) for r in records]


def scaled_inputs(records, config: PreprocessConfig,
                  fov_diameter: float | None) -> list[np.ndarray]:
    """The network inputs of ``records`` at the scale ``fov_diameter`` (float32 ``[h, w, C]``).

    Each photograph is resampled by ``fov_diameter / its own FOV diameter`` (not when within
    ``SCALE_TOLERANCE``), then preprocessed; None keeps every photograph as it is. Give the
    inputs with the original records to :class:`~vesselnet.training.validation.Validator`.

    Example:
        >>> inputs = scaled_inputs(records, card.preprocessing, card.learned_fov_diameter)
    """
    if fov_diameter is not None:
        records = rescale_records(records, measure_scales(records), fov_diameter)
    return preprocess_records(records, config)


def load_run_images(data: DataConfig) -> RunImages:
    """Reads, splits, resamples to the training scale and preprocesses the images of a run.

    See :class:`RunImages` and :mod:`vesselnet.training.scale`.

    Raises:
        VesselnetDataError: a folder in the wrong layout or an unreadable file.
        ValueError: a photograph with an empty FOV (its scale cannot be measured).
    """
    train, validation = split_validation(read_records(data), data)
    train_scales, validation_scales = measure_scales(train), measure_scales(validation)
    target = training_diameter(data.fov_diameter, train_scales)
    train = rescale_records(train, train_scales, target)
    scaled_validation = rescale_records(validation, validation_scales, target)
    config = data.preprocessing
    if data.dataset_statistics and any(step.name == "zscore" for step in config.steps):
        grayscale = config.grayscale if config.grayscale is not None else "green"
        mean, std = fit_statistics([r.image for r in train], [r.fov for r in train], grayscale)
        config = config.with_statistics(mean, std)
    return RunImages(train, validation, preprocess_records(train, config),
                     preprocess_records(scaled_validation, config), config, target,
                     tuple(train_scales + validation_scales))
