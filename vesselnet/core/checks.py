"""Argument checks shared by the whole package; each error names the argument and the value.

Example:
    >>> check_int("batch_size", 0, 1)
    Traceback (most recent call last):
    ValueError: batch_size must be an integer >= 1, got 0
"""

from __future__ import annotations

import math
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


def check_number(name: str, value, minimum=None, *, strict: bool = False) -> float:
    """``value`` as a float; ValueError unless it is a finite number (not a bool) >= ``minimum``
    (> ``minimum`` when ``strict``).

    Example:
        >>> check_number("alpha", float("nan"))
        Traceback (most recent call last):
        ValueError: alpha must be a finite number, got nan
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if minimum is not None and (value <= minimum if strict else value < minimum):
        raise ValueError(f"{name} must be {'>' if strict else '>='} {minimum}, got {value!r}")
    return float(value)


def check_bool(name: str, value) -> None:
    """Raises ValueError unless ``value`` is True or False."""
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be True or False, got {value!r}")


def check_min(name: str, value, minimum) -> None:
    """Raises ValueError unless ``value`` is a number (not a bool) >= ``minimum``.

    Example:
        >>> check_min("training.batch_size", 0, 1)
        Traceback (most recent call last):
        ValueError: training.batch_size must be a number >= 1, got 0
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= minimum:
        raise ValueError(f"{name} must be a number >= {minimum}, got {value!r}")


def check_choice(name: str, value, choices) -> None:
    """Raises ValueError unless ``value`` is one of ``choices``.

    Example:
        >>> check_choice("optimizer.name", "lion", ("sgd", "adam"))
        Traceback (most recent call last):
        ValueError: optimizer.name must be one of ['sgd', 'adam'], got 'lion'
    """
    if value not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}, got {value!r}")
