"""The photographs to predict: files, directories and glob patterns, and their FOV masks."""

from __future__ import annotations

import dataclasses
import glob
from pathlib import Path

import numpy as np

from vesselnet.data import VesselnetDataError, derive_fov, read_mask
from vesselnet.data.io import IMAGE_SUFFIXES, image_stem, index_image_files, is_image_file

GLOB_CHARACTERS = frozenset("*?[")
FOV_SUFFIXES = ("", "_mask", "_fov")
"""Stems tried in a FOV folder for image ``a.png``: ``a``, ``a_mask`` (DRIVE), ``a_fov``."""


@dataclasses.dataclass(frozen=True)
class InputFile:
    """One photograph to predict, or an input that gave nothing to predict.

    Args:
        path: the photograph file (or the input as given, when ``error`` is set).
        error: why the input cannot be processed; None when it can. Defaults to None.
    """

    path: Path
    error: str | None = None

    @property
    def name(self) -> str:
        """Output name: the file name without its image suffix (and ``.gz``)."""
        return image_stem(self.path)


def _expand(pattern: str) -> list[InputFile]:
    path = Path(pattern)
    if path.is_dir():
        files = [InputFile(file) for file in sorted(path.iterdir()) if is_image_file(file)]
        return files or [InputFile(path, f"no image files in the folder (expected "
                                         f"*{', *'.join(IMAGE_SUFFIXES)})")]
    if path.is_file():
        return [InputFile(path)]  # any file: an unreadable one is reported when read
    if GLOB_CHARACTERS & set(pattern):
        matches = sorted(glob.glob(pattern, recursive=True))
        files = []
        for match in map(Path, matches):
            if match.is_dir():
                files.extend(file for file in _expand(str(match)) if file.error is None)
            elif is_image_file(match):
                files.append(InputFile(match))
        return files or [InputFile(path, "no image files match this pattern")]
    return [InputFile(path, "file not found")]


def collect_inputs(inputs: list[str | Path]) -> list[InputFile]:
    """The photographs named by files, directories (their image files) and glob patterns.

    Files are kept in the order given, each once. A second file whose output name is taken
    (``a.png`` and ``other/a.tif``) would overwrite the first one's outputs: it is returned
    with an error instead, as are missing files, empty folders and patterns matching nothing.

    Args:
        inputs: paths or patterns (``*``, ``?``, ``[...]``; ``**`` searches subfolders).

    Example:
        >>> [item.name for item in collect_inputs(["photos/", "extra/*.jpg"])]
        ['01', '02', 'x']
    """
    if not inputs:
        raise ValueError("no inputs given: pass image files, folders or glob patterns")
    collected: list[InputFile] = []
    seen: set[Path] = set()
    owners: dict[str, Path] = {}
    for pattern in inputs:
        for item in _expand(str(pattern)):
            if item.error is not None:
                collected.append(item)
                continue
            resolved = item.path.resolve()
            if resolved in seen:
                continue
            seen.add(resolved)
            if item.name in owners:
                item = InputFile(item.path, f"same output name {item.name!r} as "
                                            f"{owners[item.name]}; rename one of them")
            else:
                owners[item.name] = item.path
            collected.append(item)
    return collected


class FovSource:
    """Where the FOV mask of each photograph comes from.

    Args:
        fov: None to derive each FOV from its photograph (:func:`~vesselnet.data.derive_fov`);
            a mask file used for every photograph; or a folder of masks matched by stem
            (``a.png`` takes ``a.*``, ``a_mask.*`` or ``a_fov.*``). Defaults to None.

    Raises:
        VesselnetDataError: ``fov`` does not exist, or a folder holds two masks for one stem.

    Example:
        >>> FovSource("DRIVE/test/mask").mask_for(Path("01_test.tif"), image)
    """

    def __init__(self, fov: str | Path | None = None):
        self.path = None if fov is None else Path(fov)
        self._files: dict[str, Path] | None = None
        self._shared: np.ndarray | None = None
        if self.path is None:
            return
        if self.path.is_dir():
            self._files = index_image_files(self.path)
        elif self.path.is_file():
            self._shared = read_mask(self.path)
        else:
            raise VesselnetDataError(f"{self.path}: FOV file or folder not found")

    @property
    def kind(self) -> str:
        """``"derived"``, ``"file"`` or ``"folder"``."""
        return "derived" if self.path is None else "folder" if self._files is not None else "file"

    def mask_for(self, image_path: Path, image: np.ndarray) -> np.ndarray:
        """The bool FOV ``[H, W]`` of the photograph read from ``image_path``.

        Raises:
            VesselnetDataError: no mask for this photograph in the folder, or a mask whose
                size differs from the photograph's (both files are named).
        """
        if self.path is None:
            return derive_fov(image)
        if self._shared is not None:
            mask, mask_path = self._shared, self.path
        else:
            stem = image_stem(image_path)
            candidates = [self._files[stem + suffix] for suffix in FOV_SUFFIXES
                          if stem + suffix in self._files]
            if not candidates:
                raise VesselnetDataError(
                    f"{image_path}: no FOV mask {stem}.*, {stem}_mask.* or {stem}_fov.* in "
                    f"{self.path}")
            mask_path = candidates[0]
            mask = read_mask(mask_path)
        if mask.shape != image.shape[:2]:
            raise VesselnetDataError(
                f"{image_path}: photograph is {image.shape[1]}x{image.shape[0]} but its FOV "
                f"mask {mask_path} is {mask.shape[1]}x{mask.shape[0]} (width x height)")
        return mask
