"""The output folder of a prediction, checked before any photograph goes through the network.

Three rules keep the user's files safe:

- The folder must be writable: it is created when missing and a probe file is written and
  removed; otherwise one ``ValueError`` names the folder (:func:`prepare_out_dir`).
- No output replaces an input: an image whose output file would be the same file as any
  input photograph or FOV mask (same path, symbolic or hard link) is refused, alone
  (:func:`refuse_input_overwrites`).
- Nothing from an earlier run is replaced without being asked: outputs this run would write
  that exist already, and ``predictions.json``, stop the job before it starts unless
  ``overwrite`` is given; then they are listed as replaced (:func:`existing_outputs`).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from vesselnet.jobs.outputs import output_paths
from vesselnet.jobs.photographs import InputFile


def _reason(error: OSError) -> str:
    return error.strerror or type(error).__name__


def prepare_out_dir(out_dir: str | Path) -> Path:
    """Creates ``out_dir`` when missing and proves that files can be written into it.

    Raises:
        ValueError: the folder (or a parent) cannot be created, is not a folder, or is not
            writable; the message names the folder and the reason.

    Example:
        >>> prepare_out_dir("/read-only/predictions")
        ValueError: /read-only/predictions: cannot create the output folder (Permission denied)
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"{out_dir}: the output folder is a file; choose another --out")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ValueError(f"{out_dir}: cannot create the output folder ({_reason(error)}); "
                         "choose another --out") from None
    try:
        handle, probe = tempfile.mkstemp(prefix=".tmp-write-check-", dir=out_dir)
        os.close(handle)
        os.unlink(probe)
    except OSError as error:
        raise ValueError(f"{out_dir}: cannot write into the output folder ({_reason(error)}); "
                         "choose another --out") from None
    return out_dir


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        status = path.stat()
    except OSError:
        return None
    return status.st_dev, status.st_ino


def refuse_input_overwrites(items: Iterable[InputFile], out_dir: Path, map_format: str,
                            protected: Iterable[Path] = ()) -> list[InputFile]:
    """``items`` with an error on each image whose outputs would replace an input file.

    Args:
        items: the inputs (those with an error already are passed on as they are).
        out_dir: the output folder.
        map_format: the probability-map format (sets that file's suffix).
        protected: more files no output may replace (the FOV masks). Defaults to ().

    Returns:
        The items, in order; an image writing onto any input photograph or protected file
        (compared as files: same device and inode) carries the error, naming both files.
    """
    items = list(items)
    guarded = {}
    for path in [item.path for item in items if item.error is None] + list(protected):
        identity = _identity(Path(path))
        if identity is not None:
            guarded.setdefault(identity, Path(path))
    checked = []
    for item in items:
        if item.error is None:
            for output in output_paths(out_dir, item.name, map_format).values():
                victim = guarded.get(_identity(output))
                if victim is not None:
                    item = InputFile(item.path, f"its output {output} would replace the input "
                                                f"{victim}; choose another --out")
                    break
        checked.append(item)
    return checked


def existing_outputs(items: Iterable[InputFile], out_dir: Path, map_format: str,
                     summary_file: str) -> list[Path]:
    """Files this prediction would write that exist already, in writing order, the summary
    file (``predictions.json``) last."""
    paths = [path for item in items if item.error is None
             for path in output_paths(out_dir, item.name, map_format).values()]
    paths.append(out_dir / summary_file)
    return [path for path in dict.fromkeys(paths) if path.exists()]


class OutputsExistError(ValueError):
    """Outputs of an earlier run are in the way and ``overwrite`` was not given.

    Args:
        existing: the files in the way, the first one named in the message.
    """

    def __init__(self, existing: Iterable[Path]):
        self.existing = tuple(existing)
        more = f" and {len(self.existing) - 1} more output(s)" if len(self.existing) > 1 else ""
        super().__init__(f"{self.existing[0]} exists{more} (an earlier prediction?): pass "
                         "--overwrite to replace them, or choose another --out")
