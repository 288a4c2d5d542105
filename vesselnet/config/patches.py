"""How training patches are drawn and batched: :class:`PatchConfig`.

The ``tf.data`` pipeline that draws them is :mod:`vesselnet.data.pipeline`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from vesselnet.config.plain import from_plain, to_plain


@dataclasses.dataclass(frozen=True)
class PatchConfig:
    """How training patches are drawn and batched.

    Args:
        input_size: side of the model's input tile. Defaults to 64.
        output_size: side of the labelled output tile, centred in the input tile; equal to
            ``input_size`` for same padding, smaller by an even margin for valid padding.
            Defaults to 64.
        patches_per_image: samples per image per epoch, >= 1. Defaults to 500.
        vessel_centre_share: probability that a centre is a vessel pixel (else any FOV
            pixel), in [0, 1]. Defaults to 0.5.
        batch_size: >= 1. Defaults to 32.
        seed: seeds the sample order, centres and augmentations. Defaults to 0.
        use_weight_map: weight FOV pixels with the U-Net weight map instead of 1.
            Defaults to False.
        w0: weight-map border peak (Ronneberger et al. 2015). Defaults to 10.
        sigma: weight-map border width in pixels. Defaults to 5.
        weight_cutoff_sigmas: border term cut-off in sigmas. Defaults to 4.
        class_balance: class-balancing term in the weight map. Defaults to True.

    Example:
        >>> config = PatchConfig(input_size=140, output_size=52, batch_size=8)
        >>> PatchConfig.from_dict(config.to_dict()) == config
        True
    """

    input_size: int = 64
    output_size: int = 64
    patches_per_image: int = 500
    vessel_centre_share: float = 0.5
    batch_size: int = 32
    seed: int = 0
    use_weight_map: bool = False
    w0: float = 10.0
    sigma: float = 5.0
    weight_cutoff_sigmas: float = 4.0
    class_balance: bool = True

    def __post_init__(self):
        if self.input_size < 1 or self.output_size < 1:
            raise ValueError(
                f"tile sizes must be >= 1, got input {self.input_size}, output {self.output_size}"
            )
        if self.output_size > self.input_size:
            raise ValueError(
                f"output_size {self.output_size} is larger than input_size {self.input_size}"
            )
        if (self.input_size - self.output_size) % 2:
            raise ValueError(
                f"input_size {self.input_size} - output_size {self.output_size} is odd; the "
                "output tile must be centred with an even margin"
            )
        if self.patches_per_image < 1:
            raise ValueError(f"patches_per_image must be >= 1, got {self.patches_per_image}")
        if not 0.0 <= self.vessel_centre_share <= 1.0:
            raise ValueError(
                f"vessel_centre_share must be in [0, 1], got {self.vessel_centre_share}"
            )
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.w0 < 0 or self.sigma <= 0 or self.weight_cutoff_sigmas <= 0:
            raise ValueError(
                f"need w0 >= 0, sigma > 0, weight_cutoff_sigmas > 0; got {self.w0}, "
                f"{self.sigma}, {self.weight_cutoff_sigmas}"
            )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of the fields: :func:`to_plain` of the config."""
        return to_plain(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> PatchConfig:
        """Inverse of :meth:`to_dict` (:func:`from_plain`); unknown keys raise ValueError."""
        return from_plain(cls, values)
