"""Argument checks shared by the configuration sections; messages carry the received value."""

from __future__ import annotations


def check_min(name: str, value, minimum) -> None:
    """Raises ``ValueError`` unless ``value`` is a number (not a bool) >= ``minimum``.

    Example:
        >>> check_min("training.batch_size", 0, 1)
        Traceback (most recent call last):
        ValueError: training.batch_size must be a number >= 1, got 0
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= minimum:
        raise ValueError(f"{name} must be a number >= {minimum}, got {value!r}")


def check_choice(name: str, value, choices) -> None:
    """Raises ``ValueError`` unless ``value`` is one of ``choices``.

    Example:
        >>> check_choice("optimizer.name", "lion", ("sgd", "adam"))
        Traceback (most recent call last):
        ValueError: optimizer.name must be one of ['sgd', 'adam'], got 'lion'
    """
    if value not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}, got {value!r}")
