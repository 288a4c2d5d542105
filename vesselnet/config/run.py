"""A whole run: :class:`RunConfig`, one section per concern."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from vesselnet.config.augment import AugmentConfig
from vesselnet.config.data import DataConfig
from vesselnet.config.model import ModelConfig
from vesselnet.config.patches import PatchConfig
from vesselnet.config.training import LossConfig, OptimizerConfig, TrainingConfig

#: ``patches`` fields that a run derives from ``training`` and the model; a config file
#: neither sets nor writes them.
DERIVED_PATCH_FIELDS = ("batch_size", "seed", "output_size")
_PATCHES = PatchConfig(input_size=156, output_size=68)


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """Everything :func:`vesselnet.training.fit` needs, one section per concern.

    Args:
        data: the ``[data]`` section. Defaults to ``DataConfig()``.
        model: the ``[model]`` section. Defaults to ``ModelConfig()``.
        patches: a :class:`PatchConfig`, or a dict of its fields other than
            :data:`DERIVED_PATCH_FIELDS` (what a config file holds; the others take the
            defaults). ``batch_size`` and ``seed`` are set from ``training``, ``output_size``
            from the model. Defaults to an input size of 156.
        augment: the ``[augment]`` section, None for no augmentation. Defaults to
            ``AugmentConfig()``.
        loss: the ``[loss]`` section. Defaults to ``LossConfig()``.
        optimizer: the ``[optimizer]`` section. Defaults to ``OptimizerConfig()``.
        training: the ``[training]`` section. Defaults to ``TrainingConfig()``.

    Example:
        >>> config = RunConfig(patches={"input_size": 124}, training=TrainingConfig(seed=9))
        >>> config.patches.output_size, config.patches.seed
        (36, 9)
    """

    data: DataConfig = DataConfig()
    model: ModelConfig = ModelConfig()
    patches: PatchConfig = dataclasses.field(default=_PATCHES,
                                             metadata={"derived": DERIVED_PATCH_FIELDS})
    augment: AugmentConfig | None = dataclasses.field(default=AugmentConfig(),
                                                      metadata={"switch": True})
    loss: LossConfig = LossConfig()
    optimizer: OptimizerConfig = OptimizerConfig()
    training: TrainingConfig = TrainingConfig()

    def __post_init__(self):
        given = self.patches
        if isinstance(given, Mapping):
            given = {**dataclasses.asdict(_PATCHES), **given}
        else:
            given = dataclasses.asdict(given)
        derived = {"batch_size": self.training.batch_size, "seed": self.training.seed,
                   "output_size": self.model.output_size(given["input_size"])}
        object.__setattr__(self, "patches", PatchConfig(**{**given, **derived}))
