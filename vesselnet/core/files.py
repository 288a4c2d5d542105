"""Atomic writes: a file or a directory appears complete or not at all.

Everything is written under a hidden temporary name in the target's own directory (same
filesystem), flushed to disk, then renamed into place. A process killed at any moment leaves
the previous version or the new one, never a half-written mix; stray temporaries carry the
prefixes ``.tmp-`` / ``.old-`` so their owners can clean them up.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import math
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np


def sync_directory(path: Path) -> None:
    """``fsync`` every regular file directly inside ``path``."""
    for file in Path(path).iterdir():
        if file.is_file():
            with open(file, "rb") as handle:
                os.fsync(handle.fileno())


_AT_FDCWD = -100
_RENAME_EXCHANGE = 2
_NO_EXCHANGE = (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP)


def exchange_paths(first: Path, second: Path) -> bool:
    """Swaps two existing paths in one step (Linux ``renameat2`` with ``RENAME_EXCHANGE``).

    Returns:
        True when swapped; False where the C library or the filesystem cannot (nothing moved).

    Raises:
        OSError: any other failure of the call, naming ``first``.
    """
    function = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    if function is None:
        return False
    function.argtypes = (ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                         ctypes.c_uint)
    if function(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second),
                _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in _NO_EXCHANGE:
        return False
    raise OSError(code, os.strerror(code), str(first))


def replace_directory(source: Path, target: Path) -> None:
    """Renames directory ``source`` to ``target``, replacing an existing ``target``.

    POSIX ``rename`` does not replace a non-empty directory. Where the system can, the two are
    swapped in one step (:func:`exchange_paths`) and the old one, now at ``source``, deleted,
    so ``target`` always holds the old or the new version. Elsewhere an existing ``target`` is
    first moved aside (``.old-NAME-PID``) and deleted after the new one is in place; a kill
    between the two renames leaves both under their temporary names.
    """
    source, target = Path(source), Path(target)
    if target.exists() and exchange_paths(source, target):
        shutil.rmtree(source, ignore_errors=True)
    elif target.exists():
        trash = target.with_name(f".old-{target.name}-{os.getpid()}")
        shutil.rmtree(trash, ignore_errors=True)
        os.replace(target, trash)
        os.replace(source, target)
        shutil.rmtree(trash, ignore_errors=True)
    else:
        os.replace(source, target)


@contextlib.contextmanager
def atomic_directory(path: str | Path, *, tag: str = "") -> Iterator[Path]:
    """Yields a temporary directory that replaces ``path`` when the block succeeds.

    Args:
        path: the directory to (re)write.
        tag: extra text in the temporary name (e.g. the worker), so writers don't collide.

    Example:
        >>> with atomic_directory("runs/x/best") as folder:
        ...     (folder / "card.json").write_text("{}")
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".tmp-{path.name}{tag}-{os.getpid()}")
    shutil.rmtree(temporary, ignore_errors=True)
    temporary.mkdir()
    try:
        yield temporary
        sync_directory(temporary)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    replace_directory(temporary, path)


TEMPORARY_PATTERN = re.compile(r"^\.(tmp|old)-(?P<name>.+)-(?P<pid>[0-9]+)$")
"""Names of the temporaries written here: ``.tmp-NAME-PID`` and ``.old-NAME-PID``."""


def process_is_running(pid: int) -> bool:
    """True when a process with this id exists (on this machine)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    except OverflowError:
        return False
    return True


def remove_stale_temporaries(folder: str | Path, name: re.Pattern | str) -> list[Path]:
    """Deletes the temporaries left in ``folder`` by killed writers of files named ``name``.

    Only entries named as this module names its temporaries (``.tmp-NAME-PID``,
    ``.old-NAME-PID``), whose ``NAME`` fully matches ``name`` and whose process ``PID`` is no
    longer running, are removed: a writer still at work (this process included) keeps its
    temporary, and files of other programs that merely start with ``.tmp-`` are left alone.

    Args:
        folder: the directory to clean; a missing one is left as it is.
        name: regular expression (or its text) that ``NAME`` must match in full, e.g.
            ``r"[0-9]+"`` for SavedModel version folders.

    Returns:
        The paths removed.

    Example:
        >>> remove_stale_temporaries("export/vesselnet", r"[0-9]+")
        [PosixPath('export/vesselnet/.tmp-3-41523')]
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    wanted = re.compile(name) if isinstance(name, str) else name
    removed = []
    for entry in sorted(folder.iterdir()):
        match = TEMPORARY_PATTERN.match(entry.name)
        if match is None or not wanted.fullmatch(match["name"]) \
                or process_is_running(int(match["pid"])):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed.append(entry)
    return removed


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Writes ``data`` to ``path`` through a temporary file and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".tmp-{path.name}-{os.getpid()}")
    try:
        with open(temporary, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    """UTF-8 text version of :func:`atomic_write_bytes`."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def json_ready(value):
    """``value`` with NaN / infinity as None, NumPy scalars as Python numbers and paths as
    strings, recursively: what ``json.dumps(..., allow_nan=False)`` accepts."""
    if isinstance(value, (np.floating, np.integer, np.bool_)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(key): json_ready(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(item) for item in value]
    if isinstance(value, Path):
        return str(value)
    return value
