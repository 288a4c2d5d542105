"""Which images a run trains and validates on, and how they are preprocessed: ``[data]``."""

from __future__ import annotations

import dataclasses

from vesselnet.config.datasets import DataSetConfig
from vesselnet.config.preprocess import CLASSIC_CONFIG, PreprocessConfig
from vesselnet.core.checks import check_min, check_number

MIN_FOV_DIAMETER = 16.0
"""Smallest ``data.fov_diameter`` accepted (pixels); a retina smaller than this shows no vessels."""


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """Which images train and which validate.

    Args:
        dataset: reader name (``"DRIVE"``, ``"CHASE_DB1"``...) or ``"synthetic"``.
            Defaults to "synthetic".
        data_dir: root folder of the data set; unused for ``"synthetic"``. Defaults to "".
        split: split to read, e.g. ``"training"``. Defaults to "training".
        validation_images: names held out of the split for validation. Defaults to ().
        validation_count: hold out the last N images (sorted by name) instead. Defaults to 0.
        synthetic_images: images of the synthetic data set. Defaults to 8.
        synthetic_size: ``(height, width)`` of the synthetic images. Defaults to (292, 282).
        synthetic_seed: seed of the synthetic data set. Defaults to 0.
        dataset_statistics: z-score with the training images' mean and std instead of
            per-image statistics. Defaults to False.
        preprocessing: :class:`~vesselnet.config.PreprocessConfig` (TOML:
            ``grayscale = "rgb"`` means None). Defaults to ``CLASSIC_CONFIG``.
        fov_diameter: the scale the network is trained at: the FOV diameter in pixels that
            every training and validation photograph is resampled to (by ``fov_diameter /
            its own FOV diameter``; factors within ``1 +- SCALE_TOLERANCE`` are left at 1).
            None (TOML: ``"auto"``) is the data set's own scale, the median FOV diameter of
            the training photographs; with several ``sets``, the first set's. Defaults to None.
        sets: several data sets to train on together (TOML ``[[data.sets]]`` tables, see
            :class:`~vesselnet.config.DataSetConfig`), instead of the single-set keys
            ``dataset``, ``data_dir``, ``split``, ``validation_images`` and
            ``validation_count``, which must then keep their defaults. Defaults to () (one
            set, given by those keys).

    Example:
        >>> DataConfig(dataset="DRIVE", data_dir="DRIVE", validation_count=4).split
        'training'
        >>> DataConfig(fov_diameter=540).fov_diameter  # train at DRIVE's scale
        540.0
        >>> [s.name for s in DataConfig(sets=(DataSetConfig("drive", data_dir="DRIVE"),
        ...                                   DataSetConfig("synthetic"))).data_sets]
        ['drive', 'synthetic']
    """

    dataset: str = "synthetic"
    data_dir: str = ""
    split: str = "training"
    validation_images: tuple[str, ...] = ()
    validation_count: int = 0
    synthetic_images: int = 8
    synthetic_size: tuple[int, int] = (292, 282)
    synthetic_seed: int = 0
    dataset_statistics: bool = False
    preprocessing: PreprocessConfig = CLASSIC_CONFIG
    fov_diameter: float | None = dataclasses.field(default=None, metadata={"none": "auto"})
    sets: tuple[DataSetConfig, ...] = ()

    def __post_init__(self):
        sets = tuple(self.sets)
        object.__setattr__(self, "sets", sets)
        if sets:
            self._check_sets(sets)
        if self.validation_images and self.validation_count:
            raise ValueError(
                f"give data.validation_images or data.validation_count, not both; got "
                f"{list(self.validation_images)} and {self.validation_count}"
            )
        if not all(isinstance(name, str) for name in self.validation_images):
            raise ValueError(f"data.validation_images must be names (strings), got "
                             f"{list(self.validation_images)}")
        check_min("data.validation_count", self.validation_count, 0)
        if self.fov_diameter is not None:
            diameter = check_number("data.fov_diameter", self.fov_diameter, MIN_FOV_DIAMETER)
            object.__setattr__(self, "fov_diameter", diameter)
        check_min("data.synthetic_images", self.synthetic_images, 1)
        if len(self.synthetic_size) != 2 or not all(
                isinstance(side, int) and side >= 32 for side in self.synthetic_size):
            raise ValueError(f"data.synthetic_size must be [height, width] >= 32, got "
                             f"{list(self.synthetic_size)}")
        if self.dataset != "synthetic" and not self.data_dir:
            raise ValueError(f"data.data_dir is empty; dataset {self.dataset!r} needs it: "
                             "give --data-dir PATH (or --set data.data_dir=...)")

    def _check_sets(self, sets: tuple[DataSetConfig, ...]) -> None:
        if not all(isinstance(item, DataSetConfig) for item in sets):
            raise ValueError(f"data.sets must be DataSetConfig tables, got {sets!r}")
        single = [key for key in _SINGLE_SET_KEYS
                  if getattr(self, key) != _DEFAULTS[key]]
        if single:
            hint = " (--data-dir sets the folder of a run on one data set)" \
                if "data_dir" in single else ""
            raise ValueError(f"data.sets lists the data sets; give each set its own "
                             f"{', '.join(single)} instead of data.{single[0]}{hint}")
        names = [item.name for item in sets]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"data.sets: names {repeated} are used twice; give each set its "
                             "own name")
        weighted = [item.weight is not None for item in sets]
        if any(weighted) and not all(weighted):
            raise ValueError(f"data.sets: give a weight to every set or to none, got weights "
                             f"{[item.weight for item in sets]}")

    @property
    def data_sets(self) -> tuple[DataSetConfig, ...]:
        """The run's data sets: ``sets``, or the one set of the single-set keys."""
        if self.sets:
            return self.sets
        return (DataSetConfig(self.dataset, data_dir=self.data_dir, split=self.split,
                              validation_images=self.validation_images,
                              validation_count=self.validation_count),)


_SINGLE_SET_KEYS = ("dataset", "data_dir", "split", "validation_images", "validation_count")
_DEFAULTS = {field.name: field.default for field in dataclasses.fields(DataConfig)}
