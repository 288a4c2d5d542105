"""On/off switches and strengths of the training augmentations: :class:`AugmentConfig`.

The TF ops that apply them are in :mod:`vesselnet.data.augment`;
:meth:`AugmentConfig.region_size` is the geometry both share (how large a region keeps a
transformed tile free of blank corners).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

from vesselnet.config.plain import from_plain, to_plain

TRUNCATE_SIGMAS = 3.0  # elastic displacements are clipped to +-3 alpha; Gaussian radius 3 sigma
MAX_SCALE_JITTER = 0.5  # zoom factors 0.5 .. 1.5 at most (the region to cut doubles at 0.5)
MAX_BLUR_SIGMA = 4.0  # widest Gaussian blur, in pixels (its kernel is 2 * ceil(3 sigma) + 1)


@dataclasses.dataclass(frozen=True)
class AugmentConfig:
    """On/off switch and strength of every augmentation.

    Args:
        flips: random horizontal and vertical flips. Defaults to True.
        rot90: random multiples of 90 degrees. Defaults to True.
        rotation: random small rotation in ``[-max_rotation_degrees, max_rotation_degrees]``.
            Defaults to True.
        max_rotation_degrees: in ``[0, 45]``. Defaults to 15.
        elastic: elastic deformation. Defaults to True.
        elastic_alpha: displacement standard deviation in pixels, >= 0. Defaults to 2.
        elastic_sigma: smoothing width of the displacement field in pixels, > 0. Defaults to 10.
        brightness: add ``delta`` in ``[-max_brightness_delta, max_brightness_delta]``.
            Defaults to True.
        max_brightness_delta: in ``[0, 1]``. Defaults to 0.1.
        contrast: scale around the tile mean by a factor in ``1 +- max_contrast_change``.
            Defaults to True.
        max_contrast_change: in ``[0, 1)``. Defaults to 0.2.
        gamma: raise to a power in ``1 +- max_gamma_change``. Defaults to True.
        max_gamma_change: in ``[0, 1)``. Defaults to 0.2.
        scale_jitter: random zoom: each patch is magnified by a factor drawn uniformly from
            ``[1 - scale_jitter, 1 + scale_jitter]`` (below 1 the patch shows more of the
            photograph, smaller), in ``[0, 0.5]``; 0 is off. Defaults to 0.
        max_blur_sigma: Gaussian blur of the image channels (a camera out of focus), sigma
            drawn uniformly from ``[0, max_blur_sigma]`` pixels per patch, in ``[0, 4]``; 0 is
            off. Defaults to 0.
        max_noise_std: additive Gaussian noise on the image channels (a noisier sensor, or
            compression), its standard deviation drawn uniformly from ``[0, max_noise_std]``
            per patch, on the preprocessed [0, 1] scale, in ``[0, 0.5]``; 0 is off. Defaults
            to 0.

    Example:
        >>> config = AugmentConfig(elastic=False, max_rotation_degrees=10.0)
        >>> AugmentConfig.from_dict(config.to_dict()) == config
        True
        >>> AugmentConfig(scale_jitter=0.15).resamples  # zoom in or out by up to 15 %
        True
    """

    flips: bool = True
    rot90: bool = True
    rotation: bool = True
    max_rotation_degrees: float = 15.0
    elastic: bool = True
    elastic_alpha: float = 2.0
    elastic_sigma: float = 10.0
    brightness: bool = True
    max_brightness_delta: float = 0.1
    contrast: bool = True
    max_contrast_change: float = 0.2
    gamma: bool = True
    max_gamma_change: float = 0.2
    scale_jitter: float = 0.0
    max_blur_sigma: float = 0.0
    max_noise_std: float = 0.0

    def __post_init__(self):
        checks = (
            ("max_rotation_degrees", 0.0 <= self.max_rotation_degrees <= 45.0, "[0, 45]"),
            ("elastic_alpha", self.elastic_alpha >= 0.0, ">= 0"),
            ("elastic_sigma", self.elastic_sigma > 0.0, "> 0"),
            ("max_brightness_delta", 0.0 <= self.max_brightness_delta <= 1.0, "[0, 1]"),
            ("max_contrast_change", 0.0 <= self.max_contrast_change < 1.0, "[0, 1)"),
            ("max_gamma_change", 0.0 <= self.max_gamma_change < 1.0, "[0, 1)"),
            ("scale_jitter", 0.0 <= self.scale_jitter <= MAX_SCALE_JITTER,
             f"[0, {MAX_SCALE_JITTER}]"),
            ("max_blur_sigma", 0.0 <= self.max_blur_sigma <= MAX_BLUR_SIGMA,
             f"[0, {MAX_BLUR_SIGMA}]"),
            ("max_noise_std", 0.0 <= self.max_noise_std <= 0.5, "[0, 0.5]"),
        )
        for name, valid, allowed in checks:
            if not valid:
                raise ValueError(f"{name} must be in {allowed}, got {getattr(self, name)}")

    @classmethod
    def disabled(cls) -> AugmentConfig:
        """A config with every augmentation switched off."""
        return cls(flips=False, rot90=False, rotation=False, elastic=False,
                   brightness=False, contrast=False, gamma=False)

    @property
    def resamples(self) -> bool:
        """True when a rotation, a zoom or an elastic deformation needs interpolation."""
        rotates = self.rotation and self.max_rotation_degrees > 0
        return rotates or self.scale_jitter > 0 or (self.elastic and self.elastic_alpha > 0)

    @property
    def moves_pixels(self) -> bool:
        """True when any geometric augmentation is on."""
        return self.flips or self.rot90 or self.resamples

    @property
    def changes_intensity(self) -> bool:
        """True when any photometric augmentation is on (the image is then clipped to [0, 1])."""
        return (
            (self.gamma and self.max_gamma_change > 0)
            or (self.contrast and self.max_contrast_change > 0)
            or (self.brightness and self.max_brightness_delta > 0)
            or self.degrades
        )

    @property
    def degrades(self) -> bool:
        """True when blur or noise (a camera's degradations) is on."""
        return self.max_blur_sigma > 0 or self.max_noise_std > 0

    def region_size(self, output_size: int) -> int:
        """Side of the region to cut so the transformed ``output_size`` tile stays inside it.

        Example:
            >>> AugmentConfig.disabled().region_size(64)
            64
        """
        if not self.resamples:
            return output_size
        angle = math.radians(self.max_rotation_degrees if self.rotation else 0.0)
        half = (output_size - 1) / 2 * (math.cos(angle) + math.sin(angle))
        if self.scale_jitter > 0:  # zooming out by 1 - j reads 1 / (1 - j) times as far
            half /= 1.0 - self.scale_jitter
        if self.elastic:
            half += TRUNCATE_SIGMAS * self.elastic_alpha * math.sqrt(2.0)
        size = 2 * math.ceil(half) + 2
        return size + (size - output_size) % 2

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of the fields: :func:`to_plain` of the config."""
        return to_plain(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> AugmentConfig:
        """Inverse of :meth:`to_dict` (:func:`from_plain`); unknown keys raise ValueError."""
        return from_plain(cls, values)
