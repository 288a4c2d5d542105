"""The one (de)serialisation scheme of the configuration: dataclasses to plain values and back.

Plain values are what JSON and TOML hold: dicts, lists, strings, numbers, booleans (and None
in JSON). :func:`to_plain` walks the fields of a dataclass; :func:`from_plain` builds one from
a dict, reading each field by its type annotation (nested dataclasses, ``X | None``,
``tuple[...]``, ``dict``, ``int``, ``float``, ``bool``, ``str``) and refusing unknown keys.
Errors name the key as TOML writes it (``data.preprocessing.steps[1]``).

What a field may declare in its ``metadata``:

- ``"none"``: how None is spelt where the format has no null (TOML): ``grayscale = "rgb"``.
  Reading takes that spelling as None in every format.
- ``"derived"``: the keys of a nested section that its owner derives in ``__post_init__``
  (the patch batch, seed and output size of a run). They are left out when writing and refused
  when reading; the owner receives the other keys as a dict and builds the section itself.

- ``"switch"``: an optional section (``AugmentConfig | None``) that is written
  ``{"enabled": False}`` when None and read with an extra key ``enabled``. Without it, a
  ``X | None`` field is written and read as null.

``typing.Any`` fields are taken as they are. A class whose fields are not its plain form (``Step``)
defines ``to_plain()`` and the classmethod ``from_plain(values)``.

Example:
    >>> values = to_plain(PatchConfig(input_size=140, output_size=52))
    >>> from_plain(PatchConfig, json.loads(json.dumps(values))) == PatchConfig(140, 52)
    True
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Mapping
from typing import Any

_SWITCH = "enabled"  # the extra key of an optional section


def to_plain(value: Any, *, null: bool = True) -> Any:
    """Plain value of a configuration dataclass (or of a list, dict or scalar inside one).

    Args:
        value: the dataclass (or value) to convert.
        null: whether the target format has null (JSON). False for TOML: a None field is
            written as its ``none`` spelling, or stays None for the TOML writer to leave out.
            Defaults to True.

    Returns:
        Nested dicts and lists of strings, numbers, booleans and None; tuples become lists.
    """
    if hasattr(value, "to_plain"):
        return value.to_plain()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        hints = _hints(type(value))
        result = {}
        for field in dataclasses.fields(value):
            item = getattr(value, field.name)
            if item is None:
                result[field.name] = _plain_none(field, hints[field.name], null)
                continue
            plain = to_plain(item, null=null)
            for key in field.metadata.get("derived", ()):
                plain.pop(key)
            result[field.name] = plain
        return result
    if isinstance(value, (list, tuple)):
        return [to_plain(item, null=null) for item in value]
    if isinstance(value, Mapping):
        return {key: to_plain(item, null=null) for key, item in value.items()}
    return value


def from_plain(cls: type, values: Any, where: str = "") -> Any:
    """Builds the dataclass ``cls`` from its plain form (the inverse of :func:`to_plain`).

    Args:
        cls: a configuration dataclass.
        values: its plain form; missing keys take the field defaults.
        where: the key of ``values`` in an enclosing config (``"data.preprocessing"``),
            named in error messages; empty for a top-level object. Defaults to "".

    Returns:
        The ``cls`` instance.

    Raises:
        ValueError: for unknown keys, values of the wrong type, or values ``cls`` refuses;
            the message names the key.
    """
    if hasattr(cls, "from_plain"):
        return _build(cls, cls.from_plain, values, where)
    return _build(cls, lambda kwargs: cls(**kwargs), _read_fields(cls, values, where), where)


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _optional_section(field: dataclasses.Field, hint) -> type | None:
    """``X`` when ``field`` is a switched section annotated ``X | None``, else None."""
    if not field.metadata.get("switch"):
        return None
    options = _union_options(hint)
    if options is not None and len(options) == 2 and type(None) in options:
        (section,) = (option for option in options if option is not type(None))
        if dataclasses.is_dataclass(section):
            return section
    return None


def _union_options(hint) -> tuple | None:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return typing.get_args(hint)
    return None


def _plain_none(field: dataclasses.Field, hint, null: bool) -> Any:
    if _optional_section(field, hint) is not None:
        return {_SWITCH: False}
    if not null and "none" in field.metadata:
        return field.metadata["none"]
    return None


def _key(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


def _read_fields(cls: type, values: Any, where: str, *, exclude=(), extra=()) -> dict:
    """Keyword arguments of ``cls`` read from the dict ``values`` (keys checked, values typed)."""
    if not isinstance(values, Mapping):
        if where:
            raise ValueError(f"[{where}] must be a table, got {values!r}")
        raise ValueError(f"{cls.__name__} must be built from a dict, got {values!r}")
    fields = {field.name: field for field in dataclasses.fields(cls)
              if field.init and field.name not in exclude}
    valid = sorted(fields) + list(extra)
    unknown = [key for key in values if key not in valid]
    if unknown:
        if where:
            raise ValueError(f"unknown key '{where}.{unknown[0]}'; valid keys of [{where}]: "
                             f"{', '.join(valid)}")
        raise ValueError(f"unknown {cls.__name__} keys {sorted(unknown)}; known: {valid}")
    hints = _hints(cls)
    return {key: value if key in extra else
            _read_field(fields[key], hints[key], value, _key(where, key))
            for key, value in values.items()}


def _read_field(field: dataclasses.Field, hint, value: Any, key: str) -> Any:
    derived = field.metadata.get("derived")
    if derived:
        return _read_fields(hint, value, key, exclude=derived)  # the owner builds the section
    if "none" in field.metadata and value == field.metadata["none"]:
        return None
    section = _optional_section(field, hint)
    if section is not None and value is not None:
        kwargs = _read_fields(section, value, key, extra=(_SWITCH,))
        enabled = kwargs.pop(_SWITCH, True)
        if not isinstance(enabled, bool):
            raise ValueError(f"{key}.{_SWITCH} must be true or false, got {enabled!r}")
        return _build(section, lambda kwargs: section(**kwargs), kwargs, key) if enabled else None
    return _read_value(hint, value, key)


def _read_value(hint, value: Any, key: str) -> Any:
    """``value`` as the annotated type ``hint``; scalars inside tuples are left to the class."""
    if hint is Any:
        return value
    options = _union_options(hint)
    if options is not None:
        if value is None and type(None) in options:
            return None
        options = tuple(option for option in options if option is not type(None))
        if len(options) == 1:
            return _read_value(options[0], value, key)
        return tuple(value) if isinstance(value, list) else value  # the class checks which
    if dataclasses.is_dataclass(hint):
        return from_plain(hint, value, key)
    origin = typing.get_origin(hint) or hint
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"{key} must be of type tuple, got {value!r}")
        items = typing.get_args(hint)
        item = items[0] if items else None
        if dataclasses.is_dataclass(item):
            return tuple(from_plain(item, entry, f"{key}[{index}]")
                         for index, entry in enumerate(value))
        return tuple(value)
    if origin is dict:
        if not isinstance(value, Mapping):
            raise ValueError(f"{key} must be of type dict, got {value!r}")
        return dict(value)
    if origin is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, origin) or (origin is int and isinstance(value, bool)):
        raise ValueError(f"{key} must be of type {origin.__name__}, got {value!r}")
    return value


def _build(cls: type, make, values, where: str):
    """``make(values)`` for ``cls``; its errors name ``where`` unless they already do."""
    try:
        return make(values)
    except (ValueError, TypeError) as error:
        message = str(error)
        if isinstance(error, ValueError) and (not where or f"{where}." in message
                                              or message.startswith(f"{where}:")):
            raise
        raise ValueError(f"{where or cls.__name__}: {message}") from None
