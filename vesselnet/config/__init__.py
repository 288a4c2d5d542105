"""Configuration: frozen dataclasses grouped by concern, one plain form, TOML files and presets.

Every configuration dataclass of the package lives here, and this package imports nothing of
vesselnet but :mod:`vesselnet.core`, so every other package can depend on it:

- ``data``: :class:`DataConfig`; ``datasets``: :class:`DataSetConfig` (one of several data
  sets of a run, ``[[data.sets]]``) and the known sets' licence terms; ``preprocess`` / ``steps``: :class:`PreprocessConfig`,
  :class:`Step` and the grayscale presets; ``patches``: :class:`PatchConfig`; ``augment``:
  :class:`AugmentConfig`; ``model``: :class:`ModelConfig`, :class:`ModelOptions`,
  :data:`ARCHITECTURES` and their size arithmetic; ``training``: :class:`LossConfig`,
  :class:`OptimizerConfig`, :class:`TrainingConfig`; ``run``: :class:`RunConfig`.
- ``plain``: :func:`to_plain` / :func:`from_plain`, the one (de)serialisation scheme that
  JSON (model cards) and TOML (config files) share.
- ``toml_io``: :func:`load_config` reads a TOML file or a named preset
  (``vesselnet/config/presets/NAME.toml``), sets typed ``settings`` and ``section.key=value``
  overrides whose values are TOML literals; :func:`to_toml` writes the resolved configuration
  back. ``patches.batch_size``, ``patches.seed`` and ``patches.output_size`` are derived from
  ``training`` and the model.

Example:
    >>> config = load_config("synthetic", overrides=["model.filters=8"],
    ...                      settings={"training.steps": 20})
    >>> load_config_text(to_toml(config)) == config
    True
"""

from vesselnet.config.augment import AugmentConfig
from vesselnet.config.data import DataConfig
from vesselnet.config.datasets import KNOWN_TERMS, DataSetConfig
from vesselnet.config.model import ARCHITECTURES, ModelConfig, ModelOptions
from vesselnet.config.patches import PatchConfig
from vesselnet.config.preprocess import CLASSIC_CONFIG, PreprocessConfig
from vesselnet.config.run import RunConfig
from vesselnet.config.steps import Step
from vesselnet.config.toml_io import (
    PRESET_DIR,
    config_from_dict,
    config_to_dict,
    load_config,
    load_config_text,
    to_toml,
)
from vesselnet.config.training import LossConfig, OptimizerConfig, TrainingConfig

__all__ = [
    "ARCHITECTURES",
    "CLASSIC_CONFIG",
    "KNOWN_TERMS",
    "PRESET_DIR",
    "AugmentConfig",
    "DataConfig",
    "DataSetConfig",
    "LossConfig",
    "ModelConfig",
    "ModelOptions",
    "OptimizerConfig",
    "PatchConfig",
    "PreprocessConfig",
    "RunConfig",
    "Step",
    "TrainingConfig",
    "config_from_dict",
    "config_to_dict",
    "load_config",
    "load_config_text",
    "to_toml",
]
