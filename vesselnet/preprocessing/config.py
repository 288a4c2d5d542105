"""Preprocessing configuration as data: ``Step`` and ``PreprocessConfig`` (JSON round trip).

A config names the grayscale weights and an ordered list of steps, checked when built: unknown
step names or parameters and bad values raise ``ValueError`` naming them, and the value range
is followed through the steps (CLAHE and gamma need 0..255, the result must end in [0, 1]).
The default is the classic retina pipeline of retina-unet (orobix, 2016), with the steps that
G. Alfonso Francia et al. describe (IEEE Access 8, 2020):

    grayscale -> z-score -> min-max to 0..255 -> CLAHE(2.0, 8x8) -> gamma 1.2 -> / 255
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from typing import Any, Mapping

from vesselnet.preprocessing import ops
from vesselnet.preprocessing.clahe import check_clahe_arguments

#: Parameters (with defaults) of every step, in the order they are written out.
STEP_PARAMETERS: dict[str, dict[str, Any]] = {
    "zscore": {"mean": None, "std": None, "in_fov": False},
    "minmax": {"low": 0.0, "high": 1.0, "in_fov": False},
    "clahe": {"clip_limit": 2.0, "tile_grid": (8, 8), "rounding": "truncate"},
    "gamma": {"gamma": 1.2},
    "scale": {"divisor": 255.0},
}


def _check_number(step, key, value, minimum=None, allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"step {step!r}: {key} must be a finite number, got {value!r}")
    if minimum is not None and not value > minimum:
        raise ValueError(f"step {step!r}: {key} must be > {minimum}, got {value!r}")
    return float(value)


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
            check_clahe_arguments(params["clip_limit"], grid)
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


@dataclasses.dataclass(frozen=True, init=False)
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


#: grayscale -> z-score -> min-max 0..255 -> CLAHE(2.0, 8x8) -> gamma 1.2 -> scale to [0, 1].
CLASSIC_STEPS = (
    Step("zscore"),
    Step("minmax", low=0.0, high=255.0),
    Step("clahe", clip_limit=2.0, tile_grid=(8, 8)),
    Step("gamma", gamma=1.2),
    Step("scale", divisor=255.0),
)


def _range_after(step: Step, value_range, index: int):
    """Value range after ``step`` (None when unbounded); raises if the step cannot take it."""
    options = step.options
    if step.name == "zscore":
        return None
    if step.name == "minmax":
        return (options["low"], options["high"])
    if step.name in ("clahe", "gamma"):
        if value_range is None or value_range[0] < 0 or value_range[1] > 255:
            raise ValueError(
                f"step {index} ({step.name!r}) needs values within [0, 255], but the steps "
                f"before it leave {value_range or 'unbounded values'}; put "
                f"Step('minmax', low=0, high=255) before it"
            )
        return (0.0, 255.0)
    divisor = options["divisor"]
    return None if value_range is None else (value_range[0] / divisor, value_range[1] / divisor)


@dataclasses.dataclass(frozen=True)
class PreprocessConfig:
    """How a uint8 RGB photograph becomes the float32 network input in [0, 1].

    Args:
        grayscale: grayscale weights ``(r, g, b)`` or a preset name (``"green"``,
            ``"itu_r_601"``), applied first; None keeps the three RGB channels (channels=3
            model input; every step then works on all channels, CLAHE on each on its own).
            Defaults to ``ops.DEFAULT_GRAYSCALE``.
        steps: the ordered steps after grayscale. Defaults to ``CLASSIC_STEPS``.

    Example:
        >>> config = PreprocessConfig(grayscale="itu_r_601").with_statistics(127.3, 41.2)
        >>> PreprocessConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
        True
    """

    grayscale: tuple[float, float, float] | str | None = ops.DEFAULT_GRAYSCALE
    steps: tuple[Step, ...] = CLASSIC_STEPS

    def __post_init__(self):
        if self.grayscale is not None:
            object.__setattr__(self, "grayscale", ops.resolve_grayscale_weights(self.grayscale))
        steps = tuple(self.steps)
        if not all(isinstance(step, Step) for step in steps):
            raise ValueError(f"steps must be Step objects, got {steps!r}")
        object.__setattr__(self, "steps", steps)
        value_range = (0.0, 255.0)
        for index, step in enumerate(steps):
            value_range = _range_after(step, value_range, index)
        if value_range is None or value_range[0] < 0 or value_range[1] > 1:
            raise ValueError(
                f"the steps must end in [0, 1], they end in {value_range or 'unbounded values'}; "
                f"end with Step('scale') or Step('minmax')"
            )

    @property
    def channels(self) -> int:
        """Channels of the preprocessed image: 1 after grayscale, else 3."""
        return 3 if self.grayscale is None else 1

    @property
    def needs_fov(self) -> bool:
        """True when a step computes statistics inside the field of view."""
        return any(step.options.get("in_fov", False) for step in self.steps)

    def with_statistics(self, mean: float, std: float) -> PreprocessConfig:
        """A copy whose ``zscore`` steps use the data-set ``mean`` and ``std``."""
        steps = tuple(
            Step("zscore", **{**step.options, "mean": mean, "std": std})
            if step.name == "zscore"
            else step
            for step in self.steps
        )
        return dataclasses.replace(self, steps=steps)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (lists, numbers, strings, None)."""

        def plain(value):
            return list(value) if isinstance(value, tuple) else value

        return {
            "grayscale": None if self.grayscale is None else list(self.grayscale),
            "steps": [
                {"name": step.name, **{key: plain(value) for key, value in step.params}}
                for step in self.steps
            ],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PreprocessConfig:
        """Inverse of ``to_dict``; unknown keys raise ValueError."""
        unknown = sorted(set(data) - {"grayscale", "steps"})
        if unknown:
            raise ValueError(f"unknown PreprocessConfig key(s) {unknown}")
        grayscale = data.get("grayscale", ops.DEFAULT_GRAYSCALE)
        steps = data.get("steps")
        if steps is None:
            return cls(grayscale=grayscale)
        for step in steps:
            if not isinstance(step, Mapping) or "name" not in step:
                raise ValueError(f"every step needs a 'name', got {step!r}")
        return cls(grayscale=grayscale, steps=tuple(Step(**step) for step in steps))


#: The classic retina pipeline with per-image z-score (``with_statistics`` sets data-set ones).
CLASSIC_CONFIG = PreprocessConfig()
