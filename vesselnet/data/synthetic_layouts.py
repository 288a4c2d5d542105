"""Synthetic retinas written to disk in the file layout of a public data set.

The reader tests, the notebooks and the demo runs use these folders: they have the names,
formats and quirks (palette GIF masks, gzipped PPMs, JPEG photographs) of the real sets.
"""

from __future__ import annotations

import gzip
from dataclasses import replace
from io import BytesIO
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from vesselnet.data.records import ImageRecord
from vesselnet.data.synthetic import DRIVE_SIZE, synthetic_dataset

SYNTHETIC_LAYOUTS = ("drive", "chase_db1", "stare", "hrf", "generic")
JPEG_QUALITY = 95
HRF_KINDS = ("dr", "g", "h")


def write_synthetic_dataset(
    root: Path | str,
    layout: str,
    n: int,
    seed: int,
    *,
    size: tuple[int, int] = DRIVE_SIZE,
    split: str = "training",
    compress: bool = False,
) -> list[ImageRecord]:
    """Write ``n`` synthetic retinas to ``root`` in the file layout of a public data set.

    Layouts and files (``i`` counts from 0):

    - ``"drive"``: ``<split>/images/NN_<split>.tif``, ``1st_manual/NN_manual1.gif``,
      ``mask/NN_<split>_mask.gif`` and, for ``split="test"``, ``2nd_manual/NN_manual2.gif``
      (NN = 21 + i for training, 1 + i for test).
    - ``"chase_db1"``: ``Image_KKE.jpg`` (JPEG quality 95, K = i // 2 + 1, E = L or R),
      ``Image_KKE_1stHO.png``, ``Image_KKE_2ndHO.png``; no FOV files.
    - ``"stare"``: ``im0001.ppm``, ``im0001.ah.ppm``, ``im0001.vk.ppm`` (each ``.gz`` when
      ``compress``); no FOV files.
    - ``"hrf"``: ``images/KK_T.JPG`` (T in dr, g, h), ``manual1/KK_T.tif``,
      ``mask/KK_T_mask.tif`` (RGB, like the real masks).
    - ``"generic"``: ``images/synthetic_III.png``, ``masks/...png``, ``fov/...png``.

    The second observer is the first one dilated by one pixel (inside the FOV).

    Args:
        root: folder to write into (created when missing).
        layout: one of :data:`SYNTHETIC_LAYOUTS`.
        n: number of images.
        seed: seed of the data set (see :func:`synthetic_dataset`).
        size: ``(height, width)``. Defaults to DRIVE's (584, 565).
        split: DRIVE split folder, ``"training"`` or ``"test"``. Defaults to ``"training"``.
        compress: gzip the STARE files. Defaults to False.

    Returns:
        The records as written (photograph before JPEG compression), named as the reader of
        the layout names them, with ``path`` the photograph file and the true FOV.

    Example:
        >>> records = write_synthetic_dataset(tmp_path, "drive", n=2, seed=0, size=(96, 96))
        >>> records[0].name, records[0].path.name
        ('21_training', '21_training.tif')
    """
    if layout not in SYNTHETIC_LAYOUTS:
        raise ValueError(f"layout must be one of {SYNTHETIC_LAYOUTS}, got {layout!r}")
    if layout == "drive" and split not in ("training", "test"):
        raise ValueError(f"DRIVE split must be 'training' or 'test', got {split!r}")
    root = Path(root)
    written = []
    for index, record in enumerate(synthetic_dataset(n, seed, size)):
        second = cv2.dilate(record.vessels.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
        record = replace(record, second_observer=second & record.fov)
        written.append(_WRITERS[layout](root, index, record, split=split, compress=compress))
    return written


def _save(array: np.ndarray, path: Path, *, compress: bool = False, **options) -> Path:
    """Save a uint8 image or a bool mask (as 0/255) with Pillow, optionally gzipped."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = array.astype(np.uint8) * 255 if array.dtype == bool else array
    image = Image.fromarray(pixels)
    if not compress:
        image.save(path, **options)
        return path
    buffer = BytesIO()
    image.save(buffer, format=Image.registered_extensions()[path.suffix.lower()], **options)
    path = path.with_name(path.name + ".gz")
    path.write_bytes(gzip.compress(buffer.getvalue(), mtime=0))
    return path


def _write_drive(root, index, record, *, split, compress):
    number = f"{index + (21 if split == 'training' else 1):02d}"
    folder = root / split
    name = f"{number}_{split}"
    path = _save(record.image, folder / "images" / f"{name}.tif")
    _save(record.vessels, folder / "1st_manual" / f"{number}_manual1.gif")
    _save(record.fov, folder / "mask" / f"{name}_mask.gif")
    if split == "test":
        _save(record.second_observer, folder / "2nd_manual" / f"{number}_manual2.gif")
    else:
        record = replace(record, second_observer=None)
    return replace(record, name=name, path=path)


def _write_chase_db1(root, index, record, *, split, compress):
    name = f"Image_{index // 2 + 1:02d}{'LR'[index % 2]}"
    path = _save(record.image, root / f"{name}.jpg", quality=JPEG_QUALITY)
    _save(record.vessels, root / f"{name}_1stHO.png")
    _save(record.second_observer, root / f"{name}_2ndHO.png")
    return replace(record, name=name, path=path)


def _write_stare(root, index, record, *, split, compress):
    name = f"im{index + 1:04d}"
    path = _save(record.image, root / f"{name}.ppm", compress=compress)
    for suffix, mask in ((".ah", record.vessels), (".vk", record.second_observer)):
        grey = mask.astype(np.uint8) * 255
        rgb = np.repeat(grey[..., None], 3, axis=2)
        _save(rgb, root / f"{name}{suffix}.ppm", compress=compress)
    return replace(record, name=name, path=path)


def _write_hrf(root, index, record, *, split, compress):
    name = f"{index // len(HRF_KINDS) + 1:02d}_{HRF_KINDS[index % len(HRF_KINDS)]}"
    path = _save(record.image, root / "images" / f"{name}.JPG", quality=JPEG_QUALITY)
    _save(record.vessels, root / "manual1" / f"{name}.tif")
    grey = record.fov.astype(np.uint8) * 255
    _save(np.repeat(grey[..., None], 3, axis=2), root / "mask" / f"{name}_mask.tif")
    return replace(record, name=name, path=path, second_observer=None)


def _write_generic(root, index, record, *, split, compress):
    path = _save(record.image, root / "images" / f"{record.name}.png")
    _save(record.vessels, root / "masks" / f"{record.name}.png")
    _save(record.fov, root / "fov" / f"{record.name}.png")
    return replace(record, path=path, second_observer=None)


_WRITERS = {
    "drive": _write_drive,
    "chase_db1": _write_chase_db1,
    "stare": _write_stare,
    "hrf": _write_hrf,
    "generic": _write_generic,
}
