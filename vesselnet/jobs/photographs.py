"""The photographs to predict: files, directories and glob patterns, and their FOV masks."""

from __future__ import annotations

import dataclasses
import glob
from pathlib import Path

import numpy as np

from vesselnet.data import VesselnetDataError, derive_fov, read_mask
from vesselnet.data.io import IMAGE_SUFFIXES, image_stem, index_image_files, is_image_file
from vesselnet.jobs.outputs import output_file_names

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


HIDDEN = "hidden file"
NOT_AN_IMAGE = "not an image file"
OWN_OUTPUT = "output of predict"
SKIP_REASONS = (HIDDEN, NOT_AN_IMAGE, OWN_OUTPUT)


@dataclasses.dataclass(frozen=True)
class SkippedFile:
    """A file found in an input folder (or by a pattern) that is not predicted, and why.

    Args:
        path: the file.
        reason: one of :data:`SKIP_REASONS`.
        detail: more about the reason (for an output: which photograph's). Defaults to "".
    """

    path: Path
    reason: str
    detail: str = ""

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return {"path": str(self.path), "reason": self.reason, "detail": self.detail}


@dataclasses.dataclass(frozen=True)
class InputSelection:
    """What :func:`select_inputs` found: the inputs to predict and the files it skipped.

    Args:
        items: the inputs, in order (see :func:`collect_inputs`).
        skipped: files of input folders and pattern matches that are not predicted.
    """

    items: tuple[InputFile, ...]
    skipped: tuple[SkippedFile, ...] = ()

    def skipped_counts(self) -> dict[str, int]:
        """Skipped files by reason, in the order of :data:`SKIP_REASONS` (zeros left out)."""
        counts = {reason: 0 for reason in SKIP_REASONS}
        for file in self.skipped:
            counts[file.reason] += 1
        return {reason: count for reason, count in counts.items() if count}


@dataclasses.dataclass(frozen=True)
class _Found:
    path: Path
    listed: bool  # found in a folder or by a pattern, rather than named by the user


def _expand(pattern: str, skipped: list[SkippedFile]) -> list[_Found | InputFile]:
    path = Path(pattern)
    if path.is_dir():
        files = []
        for file in sorted(path.iterdir()):
            if file.name.startswith("."):
                if file.is_file():
                    skipped.append(SkippedFile(file, HIDDEN))
            elif is_image_file(file):
                files.append(_Found(file, True))
            elif file.is_file():
                skipped.append(SkippedFile(file, NOT_AN_IMAGE))
        return files or [InputFile(path, f"no image files in the folder (expected "
                                         f"*{', *'.join(IMAGE_SUFFIXES)})")]
    if path.is_file():
        return [_Found(path, False)]  # any file: an unreadable one is reported when read
    if GLOB_CHARACTERS & set(pattern):
        matches = sorted(glob.glob(pattern, recursive=True))
        files = []
        for match in map(Path, matches):
            if match.is_dir():
                files.extend(file for file in _expand(str(match), skipped)
                             if isinstance(file, _Found))
            elif is_image_file(match):
                files.append(_Found(match, True))
        return files or [InputFile(path, "no image files match this pattern")]
    return [InputFile(path, "file not found")]


def _own_outputs(found: list[_Found]) -> dict[Path, Path]:
    """Listed files named as predict names the outputs of another found photograph.

    ``a_mask.png``, ``a_overlay.png`` and ``a_probability.png`` are what ``predict`` writes
    for ``a.png``: found beside (or anywhere among the inputs with) ``a.png``, they are taken
    as an earlier run's outputs, not as photographs. Files the user named one by one are
    always predicted. Returns ``{output file: the photograph it belongs to}``.
    """
    owners: dict[str, Path] = {}
    for file in found:
        for output_name in output_file_names(image_stem(file.path)):
            owners.setdefault(output_name, file.path)
    named = {file.path.resolve() for file in found if not file.listed}
    return {file.path: owners[file.path.name] for file in found
            if file.listed and file.path.name in owners and owners[file.path.name] != file.path
            and file.path.resolve() not in named}


def select_inputs(inputs: list[str | Path]) -> InputSelection:
    """The photographs named by files, folders and glob patterns, and the files skipped.

    Rules, in this order:

    - Hidden files (names starting with ``.``) and files without an image suffix in an input
      folder are skipped and counted.
    - A file found in a folder or by a pattern whose name is one predict writes for another
      found photograph (``a_mask.png``, ``a_overlay.png``, ``a_probability.png`` beside
      ``a.png``) is skipped as an earlier run's output. A file named one by one is always
      taken; when its outputs would replace an input, the prediction job refuses that image.
    - Files are kept in the order given, each once; a second file whose output name is taken
      (``a.png`` and ``other/a.tif``) is returned with an error, as are missing files, empty
      folders and patterns matching nothing.

    Args:
        inputs: paths or patterns (``*``, ``?``, ``[...]``; ``**`` searches subfolders).

    Raises:
        ValueError: no inputs given.

    Example:
        >>> selection = select_inputs(["photos/"])
        >>> [item.name for item in selection.items], selection.skipped_counts()
        (['01', '02'], {'hidden file': 1, 'output of predict': 3})
    """
    if not inputs:
        raise ValueError("no inputs given: pass image files, folders or glob patterns")
    skipped: list[SkippedFile] = []
    expanded = [_expand(str(pattern), skipped) for pattern in inputs]
    outputs = _own_outputs([entry for entries in expanded for entry in entries
                            if isinstance(entry, _Found)])
    collected: list[InputFile] = []
    seen: set[Path] = set()
    owners: dict[str, Path] = {}
    for entries in expanded:
        for entry in entries:
            if isinstance(entry, InputFile):
                collected.append(entry)
                continue
            resolved = entry.path.resolve()
            if resolved in seen:
                continue
            seen.add(resolved)
            if entry.path in outputs:
                skipped.append(SkippedFile(entry.path, OWN_OUTPUT,
                                           f"written for {outputs[entry.path]}"))
                continue
            item = InputFile(entry.path)
            if item.name in owners:
                item = InputFile(item.path, f"same output name {item.name!r} as "
                                            f"{owners[item.name]}; rename one of them")
            else:
                owners[item.name] = item.path
            collected.append(item)
    return InputSelection(tuple(collected), tuple(dict.fromkeys(skipped)))


def collect_inputs(inputs: list[str | Path]) -> list[InputFile]:
    """The inputs of :func:`select_inputs`, without the skipped files.

    Example:
        >>> [item.name for item in collect_inputs(["photos/", "extra/*.jpg"])]
        ['01', '02', 'x']
    """
    return list(select_inputs(inputs).items)


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

    def files(self) -> list[Path]:
        """The mask files this source reads (none when FOVs are derived)."""
        if self._files is not None:
            return list(self._files.values())
        return [] if self.path is None else [self.path]

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
