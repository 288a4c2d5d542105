"""Images of a run: read the split of every data set, hold out the validation images, bring them
to the training scale, preprocess once.

Data sets are read by :func:`vesselnet.data.read_dataset` (which raises
:class:`~vesselnet.data.io.VesselnetDataError` for a folder in the wrong layout); the name
``"synthetic"`` draws :func:`~vesselnet.data.synthetic.synthetic_dataset` instead. Every
photograph is resampled to the run's FOV diameter (``data.fov_diameter``, by default the
training photographs' median) before it is preprocessed: see :mod:`vesselnet.training.scale`.

A run on several data sets (``data.sets``) reads each set with its own reader and holds its
own images out; its records are named ``"<set>:<image>"`` (``"DRIVE:37_training"``) so that
names stay unique, and the default scale is the first set's median FOV diameter. Training and
validation images of all sets are pooled in set order; :class:`SetImages` says which are
whose. The z-score statistics (``data.dataset_statistics``) are those of all training images.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from vesselnet.config import DataConfig, DataSetConfig, PreprocessConfig
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
class SetImages:
    """What a run took from one of its data sets.

    Args:
        name: the set's name (``DataSetConfig.name``).
        dataset: its reader (``"drive"``, ``"generic"``...).
        split: the split read.
        terms: its licence terms.
        train / validation: ``(start, stop)`` of its records in :class:`RunImages`' ``train``
            and ``validation`` lists.
        fov_diameter: the median FOV diameter of its training photographs on their original
            grid (the set's own scale).
        weight: its configured patch weight, None for "in proportion to its images".
            Defaults to None.
    """

    name: str
    dataset: str
    split: str
    terms: str
    train: tuple[int, int]
    validation: tuple[int, int]
    fov_diameter: float
    weight: float | None = None


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
        sets: the data sets the images came from, in order. Defaults to ().
        image_weights: the patch weight of every training image (its set's weight shared
            among the set's images), None when every image gives ``patches_per_image``
            patches per epoch. Defaults to None.
    """

    train: list[ImageRecord]
    validation: list[ImageRecord]
    train_inputs: list[np.ndarray]
    validation_inputs: list[np.ndarray]
    preprocessing: PreprocessConfig
    fov_diameter: float | None = None
    scales: tuple[PhotographScale, ...] = ()
    sets: tuple[SetImages, ...] = ()
    image_weights: tuple[float, ...] | None = None

    @property
    def validation_groups(self) -> dict[str, range]:
        """Indices into ``validation`` by set name, for a run on several sets; else {}."""
        if len(self.sets) < 2:
            return {}
        return {item.name: range(*item.validation) for item in self.sets}

    @property
    def resampled(self) -> list[str]:
        """Names of the photographs resampled to the training scale (the others are within
        ``SCALE_TOLERANCE`` of it and used as they are)."""
        if self.fov_diameter is None:
            return []
        return [scale.name for scale in self.scales
                if scale.factor_to(self.fov_diameter) != 1.0]


def read_records(data: DataConfig | DataSetConfig,
                 synthetic: DataConfig | None = None) -> list[ImageRecord]:
    """All labelled records of a data set's split, sorted by name.

    Args:
        data: the single-set ``[data]`` section, or one of its ``sets``.
        synthetic: where a synthetic set's ``synthetic_*`` keys are read. Defaults to None
            (``data`` itself).

    Raises:
        VesselnetDataError: a folder in the wrong layout or an unreadable file.
    """
    if isinstance(data, DataSetConfig) and data.is_synthetic or data.dataset == "synthetic":
        keys = synthetic or (data if isinstance(data, DataConfig) else DataConfig())
        return synthetic_dataset(keys.synthetic_images, keys.synthetic_seed,
                                 tuple(keys.synthetic_size))
    records = list(read_dataset(data.dataset, data.data_dir, data.split))
    unlabelled = [record.name for record in records if record.vessels is None]
    if unlabelled:
        raise VesselnetDataError(f"{data.data_dir}: images without vessel masks: {unlabelled}")
    return sorted(records, key=lambda record: record.name)


def split_validation(records: list[ImageRecord], data: DataConfig | DataSetConfig,
                     where: str = "data"):
    """``(train, validation)``: the named images, or the last ``validation_count``, held out.

    A :class:`~vesselnet.config.DataSetConfig` with ``images`` trains on those only.

    Args:
        records: the split's records, sorted by name.
        data: the keys ``validation_images``, ``validation_count`` (and ``images``).
        where: the key named in errors. Defaults to "data".
    """
    if data.validation_images:
        held = select_records(records, data.validation_images, f"{where}.validation_images")
    else:
        held = records[len(records) - data.validation_count:] if data.validation_count else []
    held_names = {record.name for record in held}
    wanted = getattr(data, "images", ())
    if wanted:
        train = select_records(records, wanted, f"{where}.images")
        both = [record.name for record in train if record.name in held_names]
        if both:
            raise ValueError(f"{where}: images {both} are both trained on and held out")
    else:
        train = [record for record in records if record.name not in held_names]
    if not train:
        raise ValueError(f"{where}: no training images left after holding out {len(held)} "
                         f"of {len(records)} for validation")
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

    See :class:`RunImages` and :mod:`vesselnet.training.scale`; with several data sets, the
    module docstring.

    Raises:
        VesselnetDataError: a folder in the wrong layout or an unreadable file.
        ValueError: a held-out or training image not in its set, no training image left, or
            a photograph with an empty FOV (its scale cannot be measured).
    """
    several = len(data.data_sets) > 1
    train, validation, train_scales, validation_scales, sets = [], [], [], [], []
    for number, data_set in enumerate(data.data_sets):
        where = f"data.sets[{number}] ({data_set.name})" if several else "data"
        set_train, set_validation = split_validation(read_records(data_set, data), data_set,
                                                     where)
        if several:
            set_train, set_validation = (_prefixed(set_train, data_set.name),
                                         _prefixed(set_validation, data_set.name))
        scales = measure_scales(set_train)
        sets.append(SetImages(
            data_set.name, data_set.dataset, data_set.split, data_set.terms,
            (len(train), len(train) + len(set_train)),
            (len(validation), len(validation) + len(set_validation)),
            training_diameter(None, scales), data_set.weight))
        train += set_train
        validation += set_validation
        train_scales += scales
        validation_scales += measure_scales(set_validation)
    target = data.fov_diameter if data.fov_diameter is not None else sets[0].fov_diameter
    target = training_diameter(target, train_scales)
    train = rescale_records(train, train_scales, target)
    scaled_validation = rescale_records(validation, validation_scales, target)
    config = data.preprocessing
    if data.dataset_statistics and any(step.name == "zscore" for step in config.steps):
        grayscale = config.grayscale if config.grayscale is not None else "green"
        mean, std = fit_statistics([r.image for r in train], [r.fov for r in train], grayscale)
        config = config.with_statistics(mean, std)
    return RunImages(train, validation, preprocess_records(train, config),
                     preprocess_records(scaled_validation, config), config, target,
                     tuple(train_scales + validation_scales), tuple(sets),
                     _image_weights(sets))


def _prefixed(records: list[ImageRecord], name: str) -> list[ImageRecord]:
    return [dataclasses.replace(record, name=f"{name}:{record.name}") for record in records]


def _image_weights(sets: list[SetImages]) -> tuple[float, ...] | None:
    """Each set's weight shared equally among its training images; None when no set has one."""
    if all(item.weight is None for item in sets):
        return None
    weights = []
    for item in sets:
        count = item.train[1] - item.train[0]
        weights += [item.weight / count] * count
    return tuple(weights)
