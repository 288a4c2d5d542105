"""Readers for the public fundus data sets and for the user's own images, all as ImageRecords.

Each reader takes the folder the user points at, in the layout its data set ships with, and
returns ``list[ImageRecord]`` sorted by name. Problems with the files raise
:class:`~vesselnet.data.io.VesselnetDataError` naming the file or folder and what was expected.

Layouts (``root`` is the folder given):

- DRIVE: ``root/{training,test}/images/NN_<split>.tif``, ``1st_manual/NN_manual1.gif``,
  ``mask/NN_<split>_mask.gif`` and, when present (test split), ``2nd_manual/NN_manual2.gif``.
  ``root`` may also be the split folder itself.
- CHASE_DB1: ``root/Image_01L.jpg`` with ``Image_01L_1stHO.png`` and ``Image_01L_2ndHO.png``.
  No FOV masks ship: they are derived. Split: the first 20 images (sorted) are "training",
  the last 8 "test", "all" is all 28.
- STARE: ``root/im0001.ppm`` with ``im0001.ah.ppm`` (first observer) and ``im0001.vk.ppm``
  (second), each possibly ``.gz``; or ``root/stare-images/``, ``root/labels-ah/``,
  ``root/labels-vk/`` holding the same files. No FOV masks ship (derived). STARE has no
  standard split: read "all" and hold images out yourself (leave-one-out is common).
- HRF: ``root/images/01_dr.JPG``, ``root/manual1/01_dr.tif``, ``root/mask/01_dr_mask.tif``.
  No standard split either: "all".
- generic: ``root/images/`` with optional ``root/masks/`` and ``root/fov/``, files matched by
  stem (``a.png`` with ``masks/a.tif``), any of PNG, JPEG, TIFF, BMP, GIF, PPM; or the same under
  ``root/<split>/``. Grayscale images (electron microscopy, ...) are replicated to three
  channels. Without ``fov/`` the FOV is the whole image (``missing_fov="whole"``); the
  retina-style derived FOV (``missing_fov="derive"``) only suits fundus photographs.

Photographs and masks follow the rules of :func:`~vesselnet.data.io.read_photograph` and
:func:`~vesselnet.data.io.read_mask`; annotated vessel pixels outside the FOV are kept.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vesselnet.data.fov import derive_fov
from vesselnet.data.io import (
    IMAGE_SUFFIXES,
    VesselnetDataError,
    check_same_size,
    index_image_files,
    read_mask,
    read_photograph,
)
from vesselnet.data.records import ImageRecord

CHASE_DB1_TRAINING_COUNT = 20
CHASE_DB1_IMAGE_COUNT = 28
CHASE_SUFFIXES = ("_1stHO", "_2ndHO")
STARE_SUFFIXES = (".ah", ".vk")


def read_drive(root: Path | str, split: str = "training") -> list[ImageRecord]:
    """Read the DRIVE data set (Staal et al., 2004): 565x584 photographs with official FOVs.

    Args:
        root: the DRIVE folder (holding ``training/`` and/or ``test/``) or a split folder.
        split: ``"training"`` or ``"test"``; ignored when ``root`` is a split folder.
            Defaults to ``"training"``.

    Example:
        >>> records = read_drive("/data/DRIVE", "training")
        >>> len(records), records[0].name, records[0].shape
        (20, '21_training', (584, 565))
    """
    root = _existing_folder(root)
    _check_split("DRIVE", split, ("training", "test"))
    if (root / split / "images").is_dir():
        folder = root / split
    elif (root / "images").is_dir():
        folder = root
    else:
        present = [name for name in ("training", "test") if (root / name / "images").is_dir()]
        hint = f"; this folder has the {' and '.join(present)} split (use --split " \
               f"{present[0]})" if present else ""
        raise VesselnetDataError(
            f"{root}: not a DRIVE folder: expected {root / split / 'images'} (or images/, "
            f"1st_manual/ and mask/ directly in the folder when it is the split itself){hint}"
        )
    images = _photographs(folder / "images")
    manual1 = index_image_files(folder / "1st_manual")
    fov_masks = index_image_files(folder / "mask")
    manual2 = _optional_index(folder / "2nd_manual")
    records = []
    for stem, image_path in images.items():
        number = stem.split("_")[0]
        records.append(
            _read_record(
                stem,
                image_path,
                vessels=_match(manual1, f"{number}_manual1", folder / "1st_manual", image_path),
                second=_match(manual2, f"{number}_manual2", folder / "2nd_manual", image_path),
                fov=_match(fov_masks, f"{stem}_mask", folder / "mask", image_path),
            )
        )
    return records


def read_chase_db1(root: Path | str, split: str = "training") -> list[ImageRecord]:
    """Read CHASE_DB1 (Fraz et al., 2012): 999x960 JPEG photographs, FOVs derived.

    Args:
        root: the folder holding ``Image_01L.jpg`` and its ``_1stHO``/``_2ndHO`` labels.
        split: ``"training"`` (first 20 images, sorted), ``"test"`` (last 8) or ``"all"``.
            Defaults to ``"training"``.

    Example:
        >>> [record.name for record in read_chase_db1("/data/CHASEDB1", "test")][:2]
        ['Image_11L', 'Image_11R']
    """
    root = _existing_folder(root)
    _check_split("CHASE_DB1", split, ("training", "test", "all"))
    files = index_image_files(root)
    images = {stem: path for stem, path in files.items() if not stem.endswith(CHASE_SUFFIXES)}
    if not images:
        raise VesselnetDataError(
            f"{root}: no CHASE_DB1 photographs: expected files like Image_01L.jpg with "
            "Image_01L_1stHO.png next to them"
        )
    names = sorted(images)
    if split != "all":
        if len(names) != CHASE_DB1_IMAGE_COUNT:
            raise VesselnetDataError(
                f"{root}: the CHASE_DB1 {split} split is defined on the "
                f"{CHASE_DB1_IMAGE_COUNT} official images, found {len(names)}; "
                "read split='all' instead"
            )
        cut = CHASE_DB1_TRAINING_COUNT
        names = names[:cut] if split == "training" else names[cut:]
    return [
        _read_record(
            stem,
            images[stem],
            vessels=_match(files, f"{stem}_1stHO", root, images[stem]),
            second=files.get(f"{stem}_2ndHO"),
        )
        for stem in names
    ]


def read_stare(root: Path | str, split: str = "all") -> list[ImageRecord]:
    """Read STARE (Hoover et al., 2000): 700x605 PPM photographs, FOVs derived.

    Args:
        root: flat folder (``im0001.ppm``, ``im0001.ah.ppm``, ``im0001.vk.ppm``, any of them
            possibly ``.gz``) or one with ``stare-images/``, ``labels-ah/``, ``labels-vk/``.
        split: only ``"all"``: STARE has no standard split (leave-one-out is common).
            Defaults to ``"all"``.

    Example:
        >>> records = read_stare("/data/STARE")
        >>> records[0].name, records[0].fov_derived
        ('im0001', True)
    """
    root = _existing_folder(root)
    _check_split("STARE", split, ("all",), "hold images out yourself, e.g. leave-one-out")
    if (root / "stare-images").is_dir():
        images = index_image_files(root / "stare-images")
        first = index_image_files(root / "labels-ah")
        second = _optional_index(root / "labels-vk")
        first_folder = root / "labels-ah"
    else:
        files = index_image_files(root)
        images = {stem: path for stem, path in files.items() if not stem.endswith(STARE_SUFFIXES)}
        first = second = files
        first_folder = root
    if not images:
        raise VesselnetDataError(
            f"{root}: no STARE photographs: expected im0001.ppm[.gz] with im0001.ah.ppm[.gz] "
            "next to them, or stare-images/ and labels-ah/ subfolders"
        )
    return [
        _read_record(
            stem,
            path,
            vessels=_match(first, f"{stem}.ah", first_folder, path),
            second=second.get(f"{stem}.vk") if second is not None else None,
        )
        for stem, path in images.items()
    ]


def read_hrf(root: Path | str, split: str = "all") -> list[ImageRecord]:
    """Read HRF, the High-Resolution Fundus data set (Budai et al., 2013): 3504x2336 JPEGs.

    Args:
        root: folder with ``images/``, ``manual1/`` and ``mask/``.
        split: only ``"all"`` (no standard split). Defaults to ``"all"``.

    Example:
        >>> read_hrf("/data/HRF")[0].name
        '01_dr'
    """
    root = _existing_folder(root)
    _check_split("HRF", split, ("all",), "hold images out yourself")
    _require_subfolders(root, ("images", "manual1", "mask"), "HRF")
    images = _photographs(root / "images")
    manual1 = index_image_files(root / "manual1")
    fov_masks = index_image_files(root / "mask")
    return [
        _read_record(
            stem,
            path,
            vessels=_match(manual1, stem, root / "manual1", path),
            fov=_match(fov_masks, f"{stem}_mask", root / "mask", path),
        )
        for stem, path in images.items()
    ]


def read_generic(
    root: Path | str, split: str = "all", *, missing_fov: str = "whole"
) -> list[ImageRecord]:
    """Read the user's own images: ``images/`` plus optional ``masks/`` and ``fov/``.

    Args:
        root: folder holding ``images/`` (split ``"all"``) or ``<split>/images/``.
        split: ``"all"`` or the name of a subfolder of ``root``. Defaults to ``"all"``.
        missing_fov: FOV when there is no ``fov/`` folder: ``"whole"`` (every pixel) or
            ``"derive"`` (:func:`~vesselnet.data.fov.derive_fov`, fundus photographs only).
            Defaults to ``"whole"``.

    Example:
        >>> records = read_generic("/data/my_em_stack")
        >>> records[0].vessels is None  # no masks/ folder: unlabelled
        True
    """
    root = _existing_folder(root)
    if missing_fov not in ("whole", "derive"):
        raise ValueError(f"missing_fov must be 'whole' or 'derive', got {missing_fov!r}")
    folder = root if split == "all" else root / split
    if not (folder / "images").is_dir():
        raise VesselnetDataError(
            f"{root}: expected an images/ folder at {folder / 'images'} (optionally with "
            f"masks/ and fov/ beside it), images named *{', *'.join(IMAGE_SUFFIXES)}"
        )
    images = _photographs(folder / "images")
    masks = _optional_index(folder / "masks")
    fov_masks = _optional_index(folder / "fov")
    return [
        _read_record(
            stem,
            path,
            vessels=_match(masks, stem, folder / "masks", path),
            fov=_match(fov_masks, stem, folder / "fov", path),
            grayscale="replicate",
            missing_fov=missing_fov,
        )
        for stem, path in images.items()
    ]


READERS = {
    "drive": read_drive,
    "chase_db1": read_chase_db1,
    "stare": read_stare,
    "hrf": read_hrf,
    "generic": read_generic,
}
"""Reader of each data set name accepted by :func:`read_dataset`."""


def read_dataset(name: str, root: Path | str, split: str = "training") -> list[ImageRecord]:
    """Read data set ``name`` (one of :data:`READERS`) from ``root``, sorted by image name.

    STARE, HRF and generic folders have no training split: pass ``split="all"`` for them.

    Example:
        >>> len(read_dataset("drive", "/data/DRIVE", "training"))
        20
    """
    return READERS[dataset_key(name)](root, split)


def dataset_key(name: str) -> str:
    """The :data:`READERS` key of a data-set name ("CHASE-DB1" -> "chase_db1").

    Raises:
        VesselnetDataError: ``name`` is no known data set.
    """
    key = str(name).lower().replace("-", "_")
    if key not in READERS:
        raise VesselnetDataError(
            f"unknown data set {name!r}; expected one of {', '.join(READERS)}"
        )
    return key


def _existing_folder(root: Path | str) -> Path:
    root = Path(root)
    if not root.is_dir():
        raise VesselnetDataError(f"{root}: folder not found")
    return root


def _check_split(dataset: str, split: str, allowed: tuple[str, ...], hint: str = "") -> None:
    if split not in allowed:
        advice = f"; {hint}" if hint else ""
        raise VesselnetDataError(
            f"{dataset} has no split {split!r}: expected one of {', '.join(allowed)}{advice}"
        )


def _require_subfolders(root: Path, names: tuple[str, ...], dataset: str) -> None:
    missing = [name for name in names if not (root / name).is_dir()]
    if missing:
        raise VesselnetDataError(
            f"{root}: missing {', '.join(m + '/' for m in missing)}; the {dataset} layout "
            f"has {', '.join(n + '/' for n in names)}"
        )


def _photographs(folder: Path) -> dict[str, Path]:
    images = index_image_files(folder)
    if not images:
        raise VesselnetDataError(
            f"{folder}: no image files (expected *{', *'.join(IMAGE_SUFFIXES)}, optionally .gz)"
        )
    return images


def _optional_index(folder: Path) -> dict[str, Path] | None:
    return index_image_files(folder) if folder.is_dir() else None


def _match(
    files: dict[str, Path] | None, stem: str, folder: Path, image_path: Path
) -> Path | None:
    """The file named ``stem`` in ``files``; ``None`` when the folder is absent (optional)."""
    if files is None:
        return None
    if stem not in files:
        raise VesselnetDataError(
            f"{image_path}: no matching file {stem}.* in {folder} (the image has no annotation)"
        )
    return files[stem]


def _read_record(
    name: str,
    image_path: Path,
    *,
    vessels: Path | None,
    second: Path | None = None,
    fov: Path | None = None,
    grayscale: str = "error",
    missing_fov: str = "derive",
) -> ImageRecord:
    """Read one photograph and its masks, checking that all sizes agree."""
    image = read_photograph(image_path, grayscale=grayscale)
    masks = {}
    for field, path in (("vessels", vessels), ("second_observer", second), ("fov", fov)):
        if path is not None:
            masks[field] = read_mask(path)
            check_same_size(image_path, image.shape, path, masks[field])
    fov_derived = "fov" not in masks and missing_fov == "derive"
    if "fov" not in masks:
        masks["fov"] = derive_fov(image) if fov_derived else _whole(image)
    return ImageRecord(name=name, image=image, path=image_path, fov_derived=fov_derived, **masks)


def _whole(image: np.ndarray) -> np.ndarray:
    return np.ones(image.shape[:2], bool)
