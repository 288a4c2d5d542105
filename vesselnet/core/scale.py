"""The scale a network works at: the FOV diameter in pixels, and when two scales are one.

A network learns vessels at the scale of its training photographs: the diameter in pixels of
their field of view (FOV). Training brings every photograph to one target diameter, and
prediction brings each photograph to the diameter the network learned, both by resampling by
``factor = target / the photograph's own FOV diameter``. Factors within
:data:`SCALE_TOLERANCE` of 1 are taken as 1 (the photograph is used as it is), by training and
prediction alike, so that a run at its data set's own scale reproduces a run without
resampling bit for bit.

Example:
    >>> scale_factor(540.0, 921.0)
    0.5863192182410424
    >>> scale_factor(540.0, 552.0)  # within 5 %: not resampled
    1.0
"""

from __future__ import annotations

from collections.abc import Sequence

from vesselnet.core.checks import check_number

SCALE_TOLERANCE = 0.05
"""Factors within ``1 +- SCALE_TOLERANCE`` are taken as 1: the photograph is not resampled, and
learned scales that differ by at most this share are the same scale."""


def scale_factor(target: float, diameter: float, tolerance: float = SCALE_TOLERANCE) -> float:
    """The factor that brings a FOV of ``diameter`` pixels to ``target`` pixels; 1 within
    ``tolerance``.

    Args:
        target: the wanted FOV diameter in pixels, > 0.
        diameter: the photograph's own FOV diameter in pixels, > 0.
        tolerance: factors within ``1 +- tolerance`` give exactly 1.0. Defaults to
            :data:`SCALE_TOLERANCE`.

    Returns:
        ``target / diameter``, or 1.0 when that is within the tolerance of 1.

    Example:
        >>> scale_factor(270.0, 540.0)
        0.5
    """
    target = check_number("target FOV diameter", target, 0, strict=True)
    diameter = check_number("FOV diameter", diameter, 0, strict=True)
    factor = target / diameter
    return 1.0 if abs(factor - 1.0) <= tolerance else factor


def same_scale(diameters: Sequence[float], tolerance: float = SCALE_TOLERANCE) -> bool:
    """True when the largest of ``diameters`` is at most ``1 + tolerance`` times the smallest.

    Example:
        >>> same_scale([540.0, 560.0]), same_scale([540.0, 921.0])
        (True, False)
    """
    if not diameters:
        return True
    return max(diameters) <= (1.0 + tolerance) * min(diameters)
