"""One data set of a run that trains on several: :class:`DataSetConfig` (TOML ``[[data.sets]]``).

A run reads its images from one data set (the single-set keys ``data.dataset``,
``data.data_dir``, ``data.split``, ``data.validation_images``...) or from several, listed as
``data.sets``. Every set is read with its own reader, has its own held-out images, and is
resampled to the run's one scale (``data.fov_diameter``; by default the first set's median
FOV diameter). :data:`KNOWN_TERMS` holds the licence terms of the public sets the project
knows, written into the model card of every network trained on them.
"""

from __future__ import annotations

import dataclasses
import re

from vesselnet.core.checks import check_min, check_number

READER_NAMES = ("drive", "chase_db1", "stare", "hrf", "generic", "synthetic")
"""The ``dataset`` names a set may give (case-insensitive, ``-`` for ``_``)."""

KNOWN_TERMS = {
    "drive": "research use under the DRIVE terms of use (Staal et al. 2004)",
    "chase_db1": "research data under its owners' terms (cite Fraz et al. 2012)",
    "les_av": "scientific use only; commercial use forbidden",
}
"""Licence terms by data-set key (a set's ``name``, else its ``dataset``): DRIVE and CHASE_DB1
as their READMEs in ``shared/datasets`` state them, LES-AV's owners' words. Sets not listed
get empty terms unless the config gives ``terms``."""

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def set_key(name: str) -> str:
    """The key of a data-set name for :data:`KNOWN_TERMS` and readers: ``"LES-AV"`` -> ``"les_av"``.

    Example:
        >>> set_key("CHASE-DB1")
        'chase_db1'
    """
    return str(name).lower().replace("-", "_")


@dataclasses.dataclass(frozen=True)
class DataSetConfig:
    """One data set of a run: where it is, what is held out, its share of the patches, its terms.

    Args:
        dataset: reader name: ``"drive"``, ``"chase_db1"``, ``"stare"``, ``"hrf"``,
            ``"generic"`` or ``"synthetic"`` (the ``data.synthetic_*`` keys then apply).
        name: the set's name in histories, TensorBoard tags (``validation/<name>/f1``), image
            names of a run on several sets (``"<name>:<image>"``) and the model card; letters,
            digits, ``_``, ``.``, ``-``. Defaults to "" (the ``dataset`` value).
        data_dir: the set's folder (as ``data.data_dir``); a relative path is taken from the
            working directory. Defaults to "".
        split: the split to read (``"all"`` for sets without a standard split). Defaults to
            "training".
        validation_images: names (or DRIVE numbers) held out for validation. Defaults to ().
        validation_count: hold out the last N images (sorted by name) instead. Defaults to 0.
        images: names (or DRIVE numbers) to train on. Defaults to () (the split less the
            held-out images).
        weight: the set's share of the training patches, relative to the other sets' (> 0;
            every set or none gives one). Defaults to None (TOML: ``"auto"``): proportional to
            the set's training images, every training image then giving
            ``patches.patches_per_image`` patches per epoch as in a run on one set.
        terms: the set's licence terms for the model card. Defaults to None: those of
            :data:`KNOWN_TERMS` for the set's ``name`` or ``dataset``, else "".

    Example:
        >>> DataSetConfig("chase_db1", data_dir="CHASE_DB1", split="all", validation_count=4).name
        'chase_db1'
        >>> DataSetConfig("generic", name="LES_AV", data_dir="LES_AV", split="all").terms
        'scientific use only; commercial use forbidden'
    """

    dataset: str
    name: str = ""
    data_dir: str = ""
    split: str = "training"
    validation_images: tuple[str, ...] = ()
    validation_count: int = 0
    images: tuple[str, ...] = ()
    weight: float | None = dataclasses.field(default=None, metadata={"none": "auto"})
    terms: str | None = None

    def __post_init__(self):
        if not isinstance(self.dataset, str) or set_key(self.dataset) not in READER_NAMES:
            raise ValueError(f"dataset must be one of {', '.join(READER_NAMES)}, got "
                             f"{self.dataset!r}")
        name = self.name or self.dataset
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise ValueError(f"name must be letters, digits, '_', '.' or '-', got {name!r}")
        object.__setattr__(self, "name", name)
        for field in ("validation_images", "images"):
            names = getattr(self, field)
            if not all(isinstance(item, str) for item in names):
                raise ValueError(f"{field} must be names (strings), got {list(names)}")
        if self.validation_images and self.validation_count:
            raise ValueError(f"give validation_images or validation_count, not both; got "
                             f"{list(self.validation_images)} and {self.validation_count}")
        check_min("validation_count", self.validation_count, 0)
        both = sorted(set(self.images) & set(self.validation_images))
        if both:
            raise ValueError(f"images {both} are both trained on (images) and held out "
                             "(validation_images)")
        if self.weight is not None:
            object.__setattr__(self, "weight",
                               check_number("weight", self.weight, 0, strict=True))
        if self.terms is None:
            terms = KNOWN_TERMS.get(set_key(name), KNOWN_TERMS.get(set_key(self.dataset), ""))
            object.__setattr__(self, "terms", terms)
        elif not isinstance(self.terms, str):
            raise ValueError(f"terms must be a string, got {self.terms!r}")
        if set_key(self.dataset) != "synthetic" and not self.data_dir:
            raise ValueError(f"data_dir is empty; data set {name!r} ({self.dataset}) needs it")

    @property
    def is_synthetic(self) -> bool:
        """True for the generated retinas (no folder)."""
        return set_key(self.dataset) == "synthetic"
