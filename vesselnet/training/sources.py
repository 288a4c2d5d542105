"""Images of a run: read the split, hold out the validation images, preprocess once.

Data sets are read by :func:`vesselnet.data.read_dataset` (which raises
:class:`~vesselnet.data.io.VesselnetDataError` for a folder in the wrong layout); the name
``"synthetic"`` draws :func:`~vesselnet.data.synthetic.synthetic_dataset` instead.
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


@dataclasses.dataclass(frozen=True)
class RunImages:
    """Training and validation images of a run, with their preprocessed network inputs.

    Args:
        train: training records.
        validation: held-out records (may be empty).
        train_inputs / validation_inputs: float32 ``[H, W, C]`` preprocessed images.
        preprocessing: the preprocessing config actually used (data-set statistics filled in).
    """

    train: list[ImageRecord]
    validation: list[ImageRecord]
    train_inputs: list[np.ndarray]
    validation_inputs: list[np.ndarray]
    preprocessing: PreprocessConfig


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


def load_run_images(data: DataConfig) -> RunImages:
    """Reads, splits and preprocesses the images of a run (see :class:`RunImages`)."""
    train, validation = split_validation(read_records(data), data)
    config = data.preprocessing
    if data.dataset_statistics and any(step.name == "zscore" for step in config.steps):
        grayscale = config.grayscale if config.grayscale is not None else "green"
        mean, std = fit_statistics([r.image for r in train], [r.fov for r in train], grayscale)
        config = config.with_statistics(mean, std)
    return RunImages(train, validation, preprocess_records(train, config),
                     preprocess_records(validation, config), config)
