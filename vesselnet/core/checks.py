"""Argument checks shared by the whole package; each error names the argument and the value.

Example:
    >>> check_int("batch_size", 0, 1)
    Traceback (most recent call last):
    ValueError: batch_size must be an integer >= 1, got 0
"""

from __future__ import annotations

import numbers


def is_int(value) -> bool:
    """True for an integer that is not a bool (``True`` is an ``int`` in Python)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_int(name: str, value, minimum: int | None = None, *, optional: bool = False) -> None:
    """Raises ValueError unless ``value`` is an integer (not a bool) >= ``minimum``.

    Args:
        name: the argument's name, for the message.
        value: the value received.
        minimum: smallest accepted value. Defaults to None (no bound).
        optional: None is accepted too. Defaults to False.
    """
    if optional and value is None:
        return
    if not is_int(value) or (minimum is not None and value < minimum):
        bound = f" >= {minimum}" if minimum is not None else ""
        prefix = "None or " if optional else ""
        raise ValueError(f"{name} must be {prefix}an integer{bound}, got {value!r}")


def check_bool(name: str, value) -> None:
    """Raises ValueError unless ``value`` is True or False."""
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be True or False, got {value!r}")


def check_choice(name: str, value, choices) -> None:
    """Raises ValueError unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {tuple(choices)}, got {value!r}")
