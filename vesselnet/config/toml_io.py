"""Reading a run configuration from TOML (presets, files, ``section.key=value`` overrides) and
writing the resolved configuration back (``tomllib`` only reads TOML)."""

from __future__ import annotations

import dataclasses
import json
import math
import tomllib
from pathlib import Path
from typing import Any

from vesselnet.config.sections import (
    _DERIVED_PATCH_KEYS,
    PRESET_DIR,
    DataConfig,
    LossConfig,
    ModelConfig,
    OptimizerConfig,
    RunConfig,
    TrainingConfig,
)
from vesselnet.data.augment import AugmentConfig
from vesselnet.data.pipeline import PatchConfig
from vesselnet.preprocessing import PreprocessConfig

_SECTIONS = {"data": DataConfig, "model": ModelConfig, "patches": PatchConfig,
             "augment": AugmentConfig, "loss": LossConfig, "optimizer": OptimizerConfig,
             "training": TrainingConfig}


def _coerce(section: str, field: dataclasses.Field, value: Any) -> Any:
    """Turns a TOML value into the field's type, or raises ValueError naming the key."""
    key = f"{section}.{field.name}"
    default = field.default if field.default is not dataclasses.MISSING else field.default_factory()
    if isinstance(default, PreprocessConfig):
        if not isinstance(value, dict):
            raise ValueError(f"{key} must be a table, got {value!r}")
        value = dict(value)
        if value.get("grayscale") == "rgb":
            value["grayscale"] = None
        try:
            return PreprocessConfig.from_dict(value)
        except (ValueError, TypeError) as error:
            raise ValueError(f"{key}: {error}") from None
    expected = type(default)
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if expected is tuple and isinstance(value, list):
        value = tuple(value)
    if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
        raise ValueError(f"{key} must be of type {expected.__name__}, got {value!r}")
    return value


def config_from_dict(values: dict) -> RunConfig:
    """Builds a :class:`RunConfig` from nested dicts; unknown keys raise ValueError."""
    unknown = sorted(set(values) - set(_SECTIONS))
    if unknown:
        raise ValueError(f"unknown config section(s) {unknown}; valid sections: {list(_SECTIONS)}")
    sections = {}
    for name, cls in _SECTIONS.items():
        if not isinstance(values.get(name, {}), dict):
            raise ValueError(f"[{name}] must be a table, got {values[name]!r}")
        given = dict(values.get(name, {}))
        fields = {f.name: f for f in dataclasses.fields(cls)}
        valid = sorted(set(fields) - (set(_DERIVED_PATCH_KEYS) if name == "patches" else set()))
        if name == "augment":
            valid.append("enabled")
        for key in given:
            if key not in valid:
                raise ValueError(
                    f"unknown key '{name}.{key}'; valid keys of [{name}]: {', '.join(valid)}")
        enabled = given.pop("enabled", True) if name == "augment" else True
        if not isinstance(enabled, bool):
            raise ValueError(f"augment.enabled must be true or false, got {enabled!r}")
        if name == "training" and "epochs" in given:
            given.setdefault("steps", 0)
        kwargs = {key: _coerce(name, fields[key], value) for key, value in given.items()}
        if name == "patches":
            kwargs.setdefault("input_size", RunConfig.patches.input_size)
            kwargs["output_size"] = kwargs["input_size"]  # RunConfig sets the model output size
        try:
            sections[name] = cls(**kwargs) if enabled else None
        except TypeError as error:
            raise ValueError(f"[{name}]: {error}") from None
    return RunConfig(**sections)


def config_to_dict(config: RunConfig) -> dict:
    """Nested plain dict of ``config`` (what :func:`to_toml` writes)."""
    result = {}
    for name in _SECTIONS:
        section = getattr(config, name)
        if section is None:
            result[name] = {"enabled": False}
            continue
        values = {}
        for field in dataclasses.fields(section):
            value = getattr(section, field.name)
            if name == "patches" and field.name in _DERIVED_PATCH_KEYS:
                continue
            if isinstance(value, PreprocessConfig):
                value = value.to_dict()
                value["grayscale"] = "rgb" if value["grayscale"] is None else value["grayscale"]
            values[field.name] = list(value) if isinstance(value, tuple) else value
        result[name] = values
    return result


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"training.steps=100"`` -> ``(["training", "steps"], 100)``; bare words are strings."""
    key, sep, raw = text.partition("=")
    path = [part.strip() for part in key.split(".")]
    if not sep or len(path) < 2 or not all(path):
        raise ValueError(f"override must look like section.key=value, got {text!r}")
    try:
        value = tomllib.loads(f"value = {raw.strip()}")["value"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    return path, value


def apply_overrides(values: dict, overrides) -> dict:
    """A copy of nested ``values`` with each ``section.key=value`` override set."""
    result = json.loads(json.dumps(values))
    for text in overrides:
        path, value = parse_override(text)
        node = result
        for part in path[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ValueError(f"override {text!r}: {part!r} is not a table")
        node[path[-1]] = value
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


def load_config_text(text: str, overrides=()) -> RunConfig:
    """Parses TOML ``text``, applies ``overrides`` and builds the :class:`RunConfig`."""
    try:
        values = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"invalid TOML: {error}") from None
    return config_from_dict(apply_overrides(values, overrides))


def load_config(source: str | Path | None = None, overrides=()) -> RunConfig:
    """Reads a TOML file or preset (None: all defaults) and applies ``overrides``."""
    text = "" if source is None else preset_path(source).read_text(encoding="utf-8")
    return load_config_text(text, overrides)


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


def dict_to_toml(values: dict, prefix: str = "") -> str:
    """TOML text of nested dicts of bools, numbers, strings, lists (None values are left out)."""
    lines, tables = [], []
    for key, value in values.items():
        if isinstance(value, dict):
            tables.append((key, value))
        elif value is not None:
            lines.append(f"{_toml_key(key)} = {_toml_value(value)}")
    text = (f"[{prefix}]\n" if prefix and (lines or not tables) else "") + "\n".join(lines)
    for key, value in tables:
        name = f"{prefix}.{_toml_key(key)}" if prefix else _toml_key(key)
        text = text.rstrip("\n") + ("\n\n" if text else "") + dict_to_toml(value, name)
    return text.strip("\n") + "\n"


def to_toml(config: RunConfig) -> str:
    """The resolved ``config`` as TOML text that :func:`load_config_text` reads back equal."""
    return dict_to_toml(config_to_dict(config))
