"""Which scale a photograph is predicted at: the network's learned scale, none, or a given one.

A network works at the scale it learned: the diameter in pixels of its training photographs'
field of view (FOV). ``"auto"`` resamples each photograph by ``learned / its FOV diameter``
(measured by :func:`vesselnet.preprocessing.fov_diameter`, or given); ``"none"`` predicts at
the photograph's own resolution; a number is the factor itself.

Example:
    >>> choice = choose_scale("auto", learned=540.0, fov=fov)  # a CHASE_DB1 photograph
    >>> round(choice.factor, 3), choice.fov_diameter
    (0.586, 921.4)
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from vesselnet.core.checks import check_number
from vesselnet.core.scale import SCALE_TOLERANCE, scale_factor
from vesselnet.preprocessing import fov_diameter

SCALE_MODES = ("auto", "none")


def parse_scale(value) -> str | float:
    """``"auto"``, ``"none"`` or a positive factor, from a command-line string or a value.

    Raises:
        ValueError: anything else, with the received value.
    """
    if isinstance(value, str):
        text = value.strip().lower()
        if text in SCALE_MODES:
            return text
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"scale must be 'auto', 'none' or a positive factor, got "
                             f"{value!r}") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
            math.isfinite(value) and value > 0):
        raise ValueError(f"scale must be 'auto', 'none' or a positive factor, got {value!r}")
    return float(value)


@dataclasses.dataclass(frozen=True)
class ScaleChoice:
    """The scale one photograph was predicted at (written to ``predictions.json`` and
    ``metrics.json``).

    Args:
        mode: ``"auto"``, ``"none"`` or ``"factor"`` (a factor given by the user).
        factor: the resampling factor applied (1.0: the photograph as it is).
        fov_diameter: the photograph's FOV diameter in pixels (measured or given); None when
            not needed.
        measured_by: ``"given"`` (``--fov-diameter``) or the measuring method of
            :class:`~vesselnet.preprocessing.FovDiameter`; None when not measured.
        learned_fov_diameter: the network's learned FOV diameter; None when its card has none.
        note: why the photograph was not resampled in ``"auto"``, if it was not. Defaults to
            None.
    """

    mode: str
    factor: float
    fov_diameter: float | None = None
    measured_by: str | None = None
    learned_fov_diameter: float | None = None
    note: str | None = None


def choose_scale(scale, *, learned: float | None, fov: np.ndarray,
                 fov_diameter_px: float | None = None,
                 tolerance: float = SCALE_TOLERANCE) -> ScaleChoice:
    """The :class:`ScaleChoice` for one photograph.

    Args:
        scale: ``"auto"``, ``"none"`` or a factor (see :func:`parse_scale`).
        learned: the network's learned FOV diameter, or None when unknown (then ``"auto"``
            predicts at the photograph's own resolution and says so).
        fov: the photograph's FOV, bool ``[H, W]`` (measured for ``"auto"``).
        fov_diameter_px: the FOV diameter given by the user, instead of measuring it.
            Defaults to None.
        tolerance: factors within ``1 +- tolerance`` are taken as 1. Defaults to
            :data:`~vesselnet.core.scale.SCALE_TOLERANCE`.

    Raises:
        ValueError: a bad ``scale``, or a diameter given without ``"auto"``.
    """
    scale = parse_scale(scale)
    if fov_diameter_px is not None:
        check_number("fov_diameter", fov_diameter_px, 0, strict=True)
        if scale != "auto":
            raise ValueError(f"a FOV diameter ({fov_diameter_px}) applies to scale 'auto' "
                             f"only, got scale {scale!r}")
    if scale == "none":
        return ScaleChoice("none", 1.0, learned_fov_diameter=learned)
    if scale != "auto":
        return ScaleChoice("factor", scale, learned_fov_diameter=learned)
    if learned is None:
        return ScaleChoice("auto", 1.0, note="the model's card records no learned scale "
                                              "(FOV diameter of its training photographs)")
    if fov_diameter_px is None and not np.any(fov):
        return ScaleChoice("auto", 1.0, learned_fov_diameter=learned,
                           note="the FOV is empty: no diameter to measure")
    if fov_diameter_px is not None:
        diameter, method = float(fov_diameter_px), "given"
    else:
        measured = fov_diameter(fov)
        diameter, method = measured.diameter, measured.method
    factor = scale_factor(learned, diameter, tolerance)
    note = None if factor != 1.0 else (f"factor {learned / diameter:.3f} is within "
                                       f"1 +- {tolerance}")
    return ScaleChoice("auto", factor, diameter, method, learned, note)
