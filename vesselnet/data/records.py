"""The one in-memory form of a labelled (or unlabelled) fundus photograph."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np


@dataclasses.dataclass(frozen=True)
class ImageRecord:
    """One fundus photograph with its annotations, as every reader returns it.

    Args:
        name: identifier of the image inside its data set (e.g. ``"21_training"``).
        image: RGB photograph, ``uint8`` array of shape ``[H, W, 3]``.
        fov: field-of-view mask, ``bool`` array ``[H, W]`` (official or derived).
        vessels: first-observer vessel mask, ``bool`` ``[H, W]``, or ``None`` when unknown.
        second_observer: second-observer vessel mask, ``bool`` ``[H, W]``, or ``None``.
        path: file the photograph was read from, or ``None`` for generated images.
        fov_derived: ``True`` when ``fov`` was computed from the photograph rather than read.
    """

    name: str
    image: np.ndarray
    fov: np.ndarray
    vessels: np.ndarray | None = None
    second_observer: np.ndarray | None = None
    path: Path | None = None
    fov_derived: bool = False

    def __post_init__(self):
        image = self.image
        where = f"{self.path}" if self.path is not None else f"image {self.name!r}"
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[-1] != 3:
            raise ValueError(
                f"{where}: expected an 8-bit RGB image [H, W, 3], got dtype {image.dtype} "
                f"and shape {image.shape}"
            )
        for field in ("fov", "vessels", "second_observer"):
            mask = getattr(self, field)
            if mask is None:
                continue
            if mask.dtype != bool or mask.shape != image.shape[:2]:
                raise ValueError(
                    f"{where}: {field} mask must be a bool array of shape {image.shape[:2]}, "
                    f"got dtype {mask.dtype} and shape {mask.shape}"
                )

    @property
    def shape(self) -> tuple[int, int]:
        """Height and width of the photograph."""
        return self.image.shape[:2]


def record_matches(record: ImageRecord, wanted: str) -> bool:
    """Exact name, or a number naming a DRIVE-style image (``"37"`` for ``"37_training"``)."""
    return record.name == wanted or (wanted.isdigit() and record.name.split("_")[0] == wanted)


def select_records(records: list[ImageRecord], wanted: tuple[str, ...] | list[str],
                   what: str = "images") -> list[ImageRecord]:
    """The records named in ``wanted`` (names or DRIVE-style numbers), in ``records``' order.

    Raises:
        ValueError: a wanted name matches no record; the message lists the names there are.
    """
    missing = [name for name in wanted if not any(record_matches(r, name) for r in records)]
    if missing:
        raise ValueError(f"{what} {missing} are not in the split; images: "
                         f"{[record.name for record in records]}")
    return [r for r in records if any(record_matches(r, name) for name in wanted)]
