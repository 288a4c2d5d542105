"""The configuration of a run directory: what ``fit`` wrote there, read back to resume it.

``fit`` writes the resolved configuration to ``RUN_DIR/config.toml`` and a copy into every
checkpoint. Resuming refuses a ``config.toml`` that is empty, not valid TOML, or lacks settings
the run was written with (a file cut short or damaged): training on defaults would silently
lose the run's settings. The error names the file and, when there is one, the checkpoint copy
to restore it from.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from vesselnet.config import RunConfig, load_config_text
from vesselnet.config.toml_io import SECTIONS
from vesselnet.training.checkpoint import PREFIX

CONFIG_FILE = "config.toml"  # written by fit into every run directory and every checkpoint


def _settings_of(values: Mapping) -> set[str]:
    """The ``section`` and ``section.key`` names of parsed TOML (tables one level deep)."""
    names = set()
    for section, table in values.items():
        names.add(section)
        if isinstance(table, Mapping):
            names.update(f"{section}.{key}" for key in table)
    return names


def checkpoint_copy(run_dir: str | Path) -> tuple[Path, dict] | None:
    """The newest checkpoint's copy of ``config.toml`` that parses, and its values, or None."""
    folder = Path(run_dir) / "checkpoints"
    if not folder.is_dir():
        return None
    copies = [path / CONFIG_FILE for path in folder.iterdir() if path.name.startswith(PREFIX)
              and path.name[len(PREFIX):].isdigit() and (path / CONFIG_FILE).is_file()]
    for copy in sorted(copies, key=lambda path: int(path.parent.name[len(PREFIX):]),
                       reverse=True):
        try:
            values = tomllib.loads(copy.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError):
            continue
        if values:
            return copy, values
    return None


def read_run_config_text(run_dir: str | Path) -> str:
    """The text of ``RUN_DIR/config.toml`` once it is known to hold the run's settings.

    Raises:
        ValueError: the file is missing, unreadable, empty, not valid TOML, or lacks settings
            of the run (those of the newest checkpoint's copy; without one, any section).
    """
    source = Path(run_dir) / CONFIG_FILE
    if not source.is_file():
        raise ValueError(f"{run_dir}: no {CONFIG_FILE}, not a vesselnet run directory")
    copy = checkpoint_copy(run_dir)
    hint = (f"; the run's settings as of its newest checkpoint are in {copy[0]}: copy that "
            f"file over {source} to resume" if copy else "")
    try:
        text = source.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError) as error:
        raise ValueError(f"{source} cannot be read ({type(error).__name__}: {error}){hint}") \
            from None
    if not text.strip():
        raise ValueError(f"{source} is empty: it holds none of the run's settings{hint}")
    try:
        values = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"{source} is damaged: not valid TOML ({error}){hint}") from None
    expected = _settings_of(copy[1]) if copy else set(SECTIONS)
    missing = sorted(expected - _settings_of(values))
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5
                                          else "")
        raise ValueError(f"{source} lacks {len(missing)} of the run's settings ({shown}): it "
                         f"is cut short or damaged{hint}")
    return text


def resume_config(run_dir: str | Path, overrides: Iterable[str] = (),
                  settings: Mapping[str, Any] | None = None) -> RunConfig:
    """The configuration a run was started with, to continue it with ``fit(..., resume=True)``.

    Args:
        run_dir: the run directory (``fit`` wrote ``RUN_DIR/config.toml`` into it).
        overrides: ``section.key=value`` strings (TOML literals) applied last, as in
            :func:`~vesselnet.config.load_config`. Defaults to ().
        settings: Python values by dotted key, e.g. ``{"training.steps": 2000}`` to train
            a finished run further. Defaults to None.

    Returns:
        The :class:`~vesselnet.config.RunConfig`.

    Raises:
        ValueError: ``run_dir`` holds no ``config.toml``, or one that does not hold the run's
            settings (:func:`read_run_config_text`), or a setting is bad; the message names
            the file.

    Example:
        >>> config = resume_config("runs/drive", settings={"training.steps": 2000})
        >>> fit(config, "runs/drive", resume=True)
    """
    source = Path(run_dir) / CONFIG_FILE
    text = read_run_config_text(run_dir)
    try:
        return load_config_text(text, overrides, settings)
    except ValueError as error:
        raise ValueError(f"{source}: {error}") from None
