"""Preprocessing steps as data: ``Step`` and the parameters each step takes.

A step is a name from :data:`STEP_PARAMETERS` and its parameters, checked when built: unknown
names or parameters and bad values raise ``ValueError`` naming them. Its plain form (JSON and
TOML) is ``{"name": ..., **parameters}``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from vesselnet.core.checks import check_number

#: Parameters (with defaults) of every step, in the order they are written out.
STEP_PARAMETERS: dict[str, dict[str, Any]] = {
    "zscore": {"mean": None, "std": None, "in_fov": False},
    "minmax": {"low": 0.0, "high": 1.0, "in_fov": False},
    "clahe": {"clip_limit": 2.0, "tile_grid": (8, 8), "rounding": "truncate"},
    "gamma": {"gamma": 1.2},
    "scale": {"divisor": 255.0},
}


def check_clip_limit(clip_limit) -> None:
    """Raises ``ValueError`` (with the received value) unless ``clip_limit`` is a real >= 0.

    Example:
        >>> check_clip_limit(2.0)  # OpenCV's clipLimit; 0 disables clipping
    """
    if isinstance(clip_limit, bool) or not isinstance(clip_limit, numbers.Real):
        raise ValueError(f"clip_limit must be a real number >= 0, got {clip_limit!r}")
    if not math.isfinite(clip_limit) or clip_limit < 0:
        raise ValueError(f"clip_limit must be a finite number >= 0, got {clip_limit!r}")


def check_tile_grid(tile_grid) -> None:
    """Raises ``ValueError`` unless ``tile_grid`` is two positive ints ``(tiles_x, tiles_y)``.

    Example:
        >>> check_tile_grid((8, 8))  # OpenCV's tileGridSize
    """
    if (
        not isinstance(tile_grid, (tuple, list))
        or len(tile_grid) != 2
        or any(isinstance(n, bool) or not isinstance(n, numbers.Integral) for n in tile_grid)
        or any(n < 1 for n in tile_grid)
    ):
        raise ValueError(
            f"tile_grid must be two positive ints (tiles_x, tiles_y), got {tile_grid!r}"
        )


def _check_number(step, key, value, minimum=None, allow_none=False):
    if value is None and allow_none:
        return None
    return check_number(f"step {step!r}: {key}", value, minimum, strict=True)


def _check_params(name: str, params: dict[str, Any]) -> dict[str, Any]:
    """Validates and normalises one step's parameters (JSON lists become tuples)."""
    if name == "zscore":
        params["mean"] = _check_number(name, "mean", params["mean"], allow_none=True)
        params["std"] = _check_number(name, "std", params["std"], minimum=0.0, allow_none=True)
        if (params["mean"] is None) != (params["std"] is None):
            raise ValueError(f"step 'zscore': give both mean and std or neither, got {params}")
    elif name == "minmax":
        low = _check_number(name, "low", params["low"])
        high = _check_number(name, "high", params["high"])
        if not low < high:
            raise ValueError(f"step 'minmax': low must be < high, got low={low}, high={high}")
        params.update(low=low, high=high)
    elif name == "clahe":
        grid = params["tile_grid"]
        grid = tuple(grid) if isinstance(grid, (list, tuple)) else grid
        try:
            check_clip_limit(params["clip_limit"])
            check_tile_grid(grid)
        except ValueError as error:
            raise ValueError(f"step 'clahe': {error}") from None
        params.update(clip_limit=float(params["clip_limit"]), tile_grid=tuple(int(n) for n in grid))
        if params["rounding"] not in ("truncate", "round"):
            raise ValueError(f"step 'clahe': rounding must be 'truncate' or 'round', got {params}")
    elif name == "gamma":
        params["gamma"] = _check_number(name, "gamma", params["gamma"], minimum=0.0)
    elif name == "scale":
        params["divisor"] = _check_number(name, "divisor", params["divisor"], minimum=0.0)
    if not isinstance(params.get("in_fov", False), bool):
        raise ValueError(f"step {name!r}: in_fov must be True or False, got {params['in_fov']!r}")
    return params


@dataclass(frozen=True, init=False)
class Step:
    """One preprocessing step: a name from ``STEP_PARAMETERS`` and its parameters.

    Args:
        name: ``"zscore"``, ``"minmax"``, ``"clahe"``, ``"gamma"`` or ``"scale"``.
        **params: the step's parameters; missing ones take the defaults of ``STEP_PARAMETERS``.

    Example:
        >>> Step("clahe", clip_limit=2.0, tile_grid=(8, 8))
    """

    name: str
    params: tuple[tuple[str, Any], ...]

    def __init__(self, name: str, **params):
        if name not in STEP_PARAMETERS:
            raise ValueError(f"unknown preprocessing step {name!r}; known: {list(STEP_PARAMETERS)}")
        unknown = sorted(set(params) - set(STEP_PARAMETERS[name]))
        if unknown:
            raise ValueError(
                f"step {name!r} has no parameter(s) {unknown}; known: {list(STEP_PARAMETERS[name])}"
            )
        merged = _check_params(name, {**STEP_PARAMETERS[name], **params})
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "params", tuple(merged.items()))

    @property
    def options(self) -> dict[str, Any]:
        """The parameters as a dict."""
        return dict(self.params)

    def to_plain(self) -> dict[str, Any]:
        """The plain form ``{"name": ..., **params}`` (tuples as lists)."""
        return {"name": self.name,
                **{key: list(value) if isinstance(value, tuple) else value
                   for key, value in self.params}}

    @classmethod
    def from_plain(cls, values: Mapping[str, Any]) -> Step:
        """Inverse of :meth:`to_plain`; a missing ``name`` raises ValueError."""
        if not isinstance(values, Mapping) or "name" not in values:
            raise ValueError(f"every step needs a 'name', got {values!r}")
        return cls(**values)


#: grayscale -> z-score -> min-max 0..255 -> CLAHE(2.0, 8x8) -> gamma 1.2 -> scale to [0, 1].
CLASSIC_STEPS = (
    Step("zscore"),
    Step("minmax", low=0.0, high=255.0),
    Step("clahe", clip_limit=2.0, tile_grid=(8, 8)),
    Step("gamma", gamma=1.2),
    Step("scale", divisor=255.0),
)
