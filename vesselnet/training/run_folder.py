"""What a new run may do to its run directory: never replace a trained model unasked.

``fit`` writes ``config.toml``, ``checkpoints/``, ``logs/``, ``history.json`` and the bundles
``best/`` and ``final/`` (``final-worker<N>/`` on other workers). A directory that already
holds the results of a run (a checkpoint, ``history.json`` or any bundle, e.g. a ``best/``
carried without its checkpoints) is refused for a new run unless the user says
``overwrite``; then what is replaced is named and removed before training starts. A
``config.toml`` or ``logs/`` alone (a run killed before its first checkpoint) holds nothing
that training does not write again, and is not refused.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from vesselnet.bundle import is_bundle
from vesselnet.training.checkpoint import PREFIX

HISTORY_FILE = "history.json"
BUNDLES = ("best", "final")  # bundles fit writes; plus final-worker<N> under multi-worker
WRITTEN = ("checkpoints", "logs", HISTORY_FILE, "config.toml")


def _written_by_fit(path: Path) -> bool:
    return path.name in (*BUNDLES, *WRITTEN) or path.name.startswith("final-worker")


def previous_results(run_dir: str | Path) -> list[str]:
    """What in ``run_dir`` is the result of an earlier run, e.g. ``["best/", "history.json"]``.

    Counted: checkpoints (``checkpoints/ckpt-*``), ``history.json``, ``best/``, ``final/``,
    ``final-worker<N>/`` (complete or not) and any other bundle directly inside ``run_dir``.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        return []
    found = []
    checkpoints = run_dir / "checkpoints"
    if checkpoints.is_dir():
        count = sum(1 for path in checkpoints.iterdir() if path.name.startswith(PREFIX))
        if count:
            found.append(f"checkpoints/ ({count} checkpoint{'s' if count > 1 else ''})")
    if (run_dir / HISTORY_FILE).exists():
        found.append(HISTORY_FILE)
    for path in sorted(run_dir.iterdir()):
        if path.is_dir() and (path.name in BUNDLES or path.name.startswith("final-worker")
                              or is_bundle(path)):
            found.append(f"{path.name}/")
    return found


def prepare_new_run(run_dir: str | Path, overwrite: bool, is_chief: bool = True) -> str | None:
    """Checks that a new run may start in ``run_dir``; with ``overwrite``, clears the old one.

    Args:
        run_dir: the run directory.
        overwrite: replace an earlier run's results (what ``fit`` writes is removed; other
            bundles are kept and named).
        is_chief: only the chief removes anything; other workers only check.

    Returns:
        With ``overwrite`` and an earlier run there, one line saying what was replaced (and
        what was kept); else None.

    Raises:
        ValueError: ``run_dir`` holds an earlier run's results and ``overwrite`` is False.

    Example:
        >>> prepare_new_run("runs/drive", overwrite=True)
        '--overwrite: replaced the earlier run in runs/drive: checkpoints/ (3 checkpoints), ...'
    """
    run_dir = Path(run_dir)
    found = previous_results(run_dir)
    if not found:
        return None
    if not overwrite:
        raise ValueError(f"{run_dir} already holds a run ({', '.join(found)}); resume it with "
                         "--resume, choose a new run directory, or replace it with --overwrite")
    if not is_chief:
        return None
    described = {item.split("/")[0]: item for item in found}  # "checkpoints/ (3 ...)"
    replaced, kept = [], []
    for path in sorted(run_dir.iterdir()):
        if _written_by_fit(path):
            replaced.append(described.get(path.name, f"{path.name}/" if path.is_dir()
                                          else path.name))
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
        elif path.is_dir() and is_bundle(path):
            kept.append(f"{path.name}/")
    line = f"--overwrite: replaced the earlier run in {run_dir}: {', '.join(replaced)}"
    if kept:
        line += f" (kept {', '.join(kept)}: not written by fit)"
    return line
