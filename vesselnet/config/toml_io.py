"""Reading a run configuration from TOML (presets, files, settings and ``section.key=value``
overrides) and writing the resolved configuration back (``tomllib`` only reads TOML).

Both directions go through the plain form of :mod:`vesselnet.config.plain`, in its TOML
spelling (``null=False``): TOML has no null, so RGB preprocessing reads and writes as
``grayscale = "rgb"`` and a switched-off section as ``enabled = false``.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from vesselnet.config.plain import from_plain, to_plain
from vesselnet.config.run import RunConfig

PRESET_DIR = Path(__file__).resolve().parent / "presets"  # vesselnet/config/presets/*.toml
SECTIONS = tuple(field.name for field in dataclasses.fields(RunConfig))


def config_from_dict(values: Mapping) -> RunConfig:
    """Builds a :class:`RunConfig` from nested dicts (its plain form); unknown keys raise."""
    unknown = sorted(set(values) - set(SECTIONS))
    if unknown:
        raise ValueError(f"unknown config section(s) {unknown}; valid sections: {list(SECTIONS)}")
    return from_plain(RunConfig, values)


def config_to_dict(config: RunConfig) -> dict:
    """Nested plain dict of ``config`` in its TOML spelling (what :func:`to_toml` writes)."""
    return to_plain(config, null=False)


def _split_key(key: str, text: str) -> list[str]:
    path = [part.strip() for part in key.split(".")]
    if len(path) < 2 or not all(path):
        raise ValueError(f"override must look like section.key=value, got {text!r}")
    return path


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"training.steps=100"`` -> ``(["training", "steps"], 100)``; bare words are strings."""
    key, sep, raw = text.partition("=")
    if not sep:
        raise ValueError(f"override must look like section.key=value, got {text!r}")
    path = _split_key(key, text)
    try:
        value = tomllib.loads(f"value = {raw.strip()}")["value"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    return path, value


def _set(values: dict, path: list[str], value: Any, text: str) -> None:
    node = values
    for part in path[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ValueError(f"override {text!r}: {part!r} is not a table")
    node[path[-1]] = value


def apply_settings(values: Mapping, settings: Mapping[str, Any] | None) -> dict:
    """A copy of nested ``values`` with each ``{"section.key": value}`` setting set.

    Args:
        values: the plain form of a config (nested dicts), as read from TOML.
        settings: Python values by dotted key, e.g. ``{"training.steps": 100,
            "data.data_dir": "/data/DRIVE"}``; None sets nothing. Defaults to None.

    Example:
        >>> apply_settings({"training": {"steps": 1}}, {"training.seed": 3})
        {'training': {'steps': 1, 'seed': 3}}
    """
    result = copy.deepcopy(dict(values))
    for key, value in (settings or {}).items():
        _set(result, _split_key(key, f"{key}={value!r}"), value, f"{key}={value!r}")
    return result


def apply_overrides(values: Mapping, overrides: Iterable[str]) -> dict:
    """A copy of nested ``values`` with each ``section.key=value`` override (TOML literal) set."""
    result = copy.deepcopy(dict(values))
    for text in overrides:
        path, value = parse_override(text)
        _set(result, path, value, text)
    return result


def preset_path(name_or_path: str | Path) -> Path:
    """A TOML file path, or ``vesselnet/config/presets/NAME.toml`` for a preset name."""
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.exists():
        if not path.is_file():
            raise ValueError(f"config file {str(path)!r} not found")
        return path
    preset = PRESET_DIR / f"{name_or_path}.toml"
    if not preset.is_file():
        names = sorted(p.stem for p in PRESET_DIR.glob("*.toml"))
        raise ValueError(f"no config file or preset {str(name_or_path)!r}; presets: {names}")
    return preset


def load_config_text(text: str, overrides: Iterable[str] = (),
                     settings: Mapping[str, Any] | None = None) -> RunConfig:
    """Parses TOML ``text``, applies ``settings`` then ``overrides`` and builds the config.

    Args: as :func:`load_config`, with the TOML ``text`` instead of a source.
    """
    try:
        values = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"invalid TOML: {error}") from None
    return config_from_dict(apply_overrides(apply_settings(values, settings), overrides))


def load_config(source: str | Path | None = None, overrides: Iterable[str] = (),
                settings: Mapping[str, Any] | None = None) -> RunConfig:
    """Reads a TOML file or preset and applies typed ``settings``, then ``overrides``.

    Args:
        source: a TOML file, or a preset name (``vesselnet/config/presets/NAME.toml``);
            None for all defaults. Defaults to None.
        overrides: ``section.key=value`` strings whose values are TOML literals (``--set``);
            applied last, so they win over ``settings``. Defaults to ().
        settings: Python values by dotted key (the typed flags of ``vesselnet fit``), e.g.
            ``{"training.steps": 100, "data.data_dir": "/data/DRIVE"}``. Defaults to None.

    Returns:
        The :class:`RunConfig`.

    Raises:
        ValueError: a missing file or preset, invalid TOML, or a bad setting (named).

    Example:
        >>> config = load_config("drive", ["optimizer.name=sgd"], {"data.data_dir": "DRIVE"})
        >>> config.optimizer.name, config.data.data_dir
        ('sgd', 'DRIVE')
    """
    text = "" if source is None else preset_path(source).read_text(encoding="utf-8")
    return load_config_text(text, overrides, settings)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ("nan" if value != value else
                                                        ("inf" if value > 0 else "-inf"))
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    if isinstance(value, dict):
        items = (f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items() if v is not None)
        return "{" + ", ".join(items) + "}"
    raise ValueError(f"cannot write {value!r} of type {type(value).__name__} as TOML")


def _toml_key(key: str) -> str:
    return key if key.replace("_", "").replace("-", "").isalnum() else json.dumps(key)


TABLE_ARRAYS = ("data.sets",)
"""Lists of tables written as TOML arrays of tables (``[[data.sets]]``) rather than inline."""


def dict_to_toml(values: dict, prefix: str = "") -> str:
    """TOML text of nested dicts of bools, numbers, strings, lists (None values are left out).

    Non-empty lists of dicts at a key of :data:`TABLE_ARRAYS` are written as arrays of tables
    (``[[data.sets]]``), other lists inline.

    Example:
        >>> print(dict_to_toml({"data": {"sets": [{"dataset": "drive"}]}}), end="")
        [data]
        <BLANKLINE>
        [[data.sets]]
        dataset = "drive"
    """
    lines, tables, arrays = [], [], []
    for key, value in values.items():
        name = f"{prefix}.{_toml_key(key)}" if prefix else _toml_key(key)
        if isinstance(value, dict):
            tables.append((name, value))
        elif name in TABLE_ARRAYS and value and all(isinstance(v, dict) for v in value):
            arrays.append((name, value))
        elif value is not None:
            lines.append(f"{_toml_key(key)} = {_toml_value(value)}")
    text = (f"[{prefix}]\n" if prefix and (lines or not tables) else "") + "\n".join(lines)
    for name, items in arrays:
        for item in items:
            body = "\n".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in item.items()
                             if v is not None)
            text = text.rstrip("\n") + ("\n\n" if text else "") + f"[[{name}]]\n{body}\n"
    for name, value in tables:
        text = text.rstrip("\n") + ("\n\n" if text else "") + dict_to_toml(value, name)
    return text.strip("\n") + "\n"


def to_toml(config: RunConfig) -> str:
    """The resolved ``config`` as TOML text that :func:`load_config_text` reads back equal."""
    return dict_to_toml(config_to_dict(config))
