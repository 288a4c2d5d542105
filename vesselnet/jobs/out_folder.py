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
- ``overwrite`` replaces only what an earlier prediction wrote: every file in the way must be
  named by the ``predictions.json`` in the folder (the outputs of its images, and the outputs
  it planned, written before its first image, so a killed run's files count too); a file of
  the user's that merely has an output's name stops the job (:func:`refuse_foreign_files`).
"""

from __future__ import annotations

import json
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


def claimed_outputs(summary: Path) -> tuple[frozenset[str], str | None]:
    """Names of the files the earlier prediction whose summary is ``summary`` wrote or
    planned to write (the summary's own name included), and why none, when none.

    Returns:
        ``(names, None)`` from a readable summary; ``(frozenset(), reason)`` when there is
        none or it is not a prediction's summary.
    """
    try:
        content = json.loads(summary.read_text())
    except FileNotFoundError:
        return frozenset(), f"there is no {summary.name} in it"
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        return frozenset(), f"its {summary.name} cannot be read ({type(error).__name__})"
    if not isinstance(content, dict) or not isinstance(content.get("results"), list):
        return frozenset(), f"its {summary.name} is not a prediction's report"
    paths = list(content.get("planned", []))
    for result in content["results"]:
        if isinstance(result, dict) and isinstance(result.get("outputs"), dict):
            paths.extend(result["outputs"].values())
    return frozenset(Path(str(path)).name for path in paths) | {summary.name}, None


class ForeignFilesError(ValueError):
    """Files in the way that no earlier prediction in the folder wrote (``overwrite`` given).

    Args:
        foreign: the files, the first one named in the message.
        out_dir: the output folder.
        reason: why the folder's summary does not name them.
    """

    def __init__(self, foreign: Iterable[Path], out_dir: Path, reason: str):
        self.foreign = tuple(foreign)
        more = f" and {len(self.foreign) - 1} more file(s)" if len(self.foreign) > 1 else ""
        super().__init__(f"{self.foreign[0]}{more} would be replaced, but no earlier prediction "
                         f"in {out_dir} wrote them ({reason}); --overwrite replaces only the "
                         "outputs of an earlier prediction: move them or choose another --out")


def refuse_foreign_files(existing: Iterable[Path], out_dir: Path, summary_file: str) -> None:
    """Raises :class:`ForeignFilesError` when any of ``existing`` is not named by the
    earlier prediction's summary in ``out_dir`` (see :func:`claimed_outputs`)."""
    claimed, reason = claimed_outputs(out_dir / summary_file)
    foreign = [path for path in existing if path.name not in claimed]
    if foreign:
        raise ForeignFilesError(foreign, out_dir, reason or f"its {summary_file} does not "
                                                            "name them")
