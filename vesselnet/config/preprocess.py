"""Preprocessing configuration as data: grayscale weights and the ordered steps.

A config names the grayscale weights and an ordered list of :class:`~vesselnet.config.steps.Step`,
checked when built: the value range is followed through the steps (CLAHE and gamma need
0..255, the result must end in [0, 1]). The default is the classic retina pipeline of
retina-unet (orobix, 2016), with the steps that G. Alfonso Francia et al. describe
(IEEE Access 8, 2020):

    grayscale -> z-score -> min-max to 0..255 -> CLAHE(2.0, 8x8) -> gamma 1.2 -> / 255

The TensorFlow ops that run it are in :mod:`vesselnet.preprocessing`.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Mapping
from typing import Any

from vesselnet.config.plain import from_plain, to_plain
from vesselnet.config.steps import CLASSIC_STEPS, Step

#: ITU-R BT.601 luma weights (R, G, B), as ``cv2.cvtColor(..., COLOR_RGB2GRAY)`` and
#: retina-unet's ``rgb2gray`` use.
ITU_R_601_WEIGHTS = (0.299, 0.587, 0.114)
#: The green channel alone: in fundus photographs it shows vessels with the best contrast
#: against the background (J. Staal et al., "Ridge-based vessel segmentation in color images of
#: the retina", IEEE TMI 23(4), 2004, the DRIVE paper; J. Soares et al., IEEE TMI 25(9), 2006).
GREEN_WEIGHTS = (0.0, 1.0, 0.0)
#: Named grayscale weights accepted wherever weights are.
GRAYSCALE_PRESETS = {"itu_r_601": ITU_R_601_WEIGHTS, "green": GREEN_WEIGHTS}
#: Default grayscale weights (green-emphasised). Francia et al. (2020) weight the green channel
#: most in their Eq. (1), but the coefficients could not be recovered from the sources at hand;
#: the documented green-channel choice of the DRIVE literature stands in for them.
DEFAULT_GRAYSCALE = "green"


def resolve_grayscale_weights(weights) -> tuple[float, float, float]:
    """Turns a preset name or three numbers into validated ``(r, g, b)`` weights.

    Args:
        weights: a name from ``GRAYSCALE_PRESETS`` or three non-negative numbers summing to 1
            (so that 0..255 input stays 0..255).

    Returns:
        Tuple of three floats.

    Example:
        >>> resolve_grayscale_weights("green")
        (0.0, 1.0, 0.0)
    """
    if isinstance(weights, str):
        if weights not in GRAYSCALE_PRESETS:
            raise ValueError(
                f"unknown grayscale preset {weights!r}; known: {sorted(GRAYSCALE_PRESETS)}"
            )
        return GRAYSCALE_PRESETS[weights]
    if (
        not isinstance(weights, (tuple, list))
        or len(weights) != 3
        or any(isinstance(w, bool) or not isinstance(w, numbers.Real) for w in weights)
    ):
        raise ValueError(f"grayscale weights must be three numbers (r, g, b), got {weights!r}")
    weights = tuple(float(w) for w in weights)
    if any(w < 0 or not math.isfinite(w) for w in weights) or abs(sum(weights) - 1.0) > 1e-6:
        raise ValueError(f"grayscale weights must be >= 0 and sum to 1, got {weights!r}")
    return weights


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
            JSON writes None as null, TOML as ``"rgb"``. Defaults to ``DEFAULT_GRAYSCALE``.
        steps: the ordered steps after grayscale. Defaults to ``CLASSIC_STEPS``.

    Example:
        >>> config = PreprocessConfig(grayscale="itu_r_601").with_statistics(127.3, 41.2)
        >>> PreprocessConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
        True
    """

    grayscale: tuple[float, float, float] | str | None = dataclasses.field(
        default=DEFAULT_GRAYSCALE, metadata={"none": "rgb"})
    steps: tuple[Step, ...] = CLASSIC_STEPS

    def __post_init__(self):
        if self.grayscale is not None:
            object.__setattr__(self, "grayscale", resolve_grayscale_weights(self.grayscale))
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
        """JSON-ready dict (lists, numbers, strings, None): :func:`to_plain` of the config."""
        return to_plain(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PreprocessConfig:
        """Inverse of ``to_dict`` (:func:`from_plain`); unknown keys raise ValueError."""
        return from_plain(cls, data)


#: The classic retina pipeline with per-image z-score (``with_statistics`` sets data-set ones).
CLASSIC_CONFIG = PreprocessConfig()
