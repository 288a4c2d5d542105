"""The configuration of a run directory: what ``fit`` wrote there, read back to resume it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from vesselnet.config import RunConfig, load_config

CONFIG_FILE = "config.toml"  # written by fit into every run directory


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
        ValueError: ``run_dir`` holds no ``config.toml``, or a setting is bad.

    Example:
        >>> config = resume_config("runs/drive", settings={"training.steps": 2000})
        >>> fit(config, "runs/drive", resume=True)
    """
    source = Path(run_dir) / CONFIG_FILE
    if not source.is_file():
        raise ValueError(f"{run_dir}: no config.toml, not a vesselnet run directory")
    return load_config(source, overrides, settings)
