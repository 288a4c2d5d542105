"""Training configuration: frozen dataclasses grouped by concern, read from and written to TOML.

A run is described by one :class:`RunConfig` with the sections ``data``, ``model``,
``patches`` (:class:`~vesselnet.data.pipeline.PatchConfig`), ``augment``
(:class:`~vesselnet.data.augment.AugmentConfig`), ``loss``, ``optimizer`` and ``training``.
:func:`load_config` reads a TOML file or a named preset (``vesselnet/config/presets/NAME.toml``) and
applies ``section.key=value`` overrides whose values are TOML literals. :func:`to_toml` writes
the resolved configuration back (``tomllib`` only reads TOML). ``patches.batch_size``,
``patches.seed`` and ``patches.output_size`` are derived from ``training`` and the model.

Example:
    >>> config = load_config("synthetic", overrides=["training.steps=20", "model.filters=8"])
    >>> load_config_text(to_toml(config)) == config
    True
"""

from vesselnet.config.sections import (
    OPTIMIZERS,
    PRECISIONS,
    PRESET_DIR,
    SCHEDULES,
    STRATEGIES,
    DataConfig,
    LossConfig,
    ModelConfig,
    OptimizerConfig,
    RunConfig,
    TrainingConfig,
)
from vesselnet.config.toml_io import (
    apply_overrides,
    config_from_dict,
    config_to_dict,
    dict_to_toml,
    load_config,
    load_config_text,
    parse_override,
    preset_path,
    to_toml,
)

__all__ = [
    "DataConfig",
    "LossConfig",
    "ModelConfig",
    "OPTIMIZERS",
    "OptimizerConfig",
    "PRECISIONS",
    "PRESET_DIR",
    "RunConfig",
    "SCHEDULES",
    "STRATEGIES",
    "TrainingConfig",
    "apply_overrides",
    "config_from_dict",
    "config_to_dict",
    "dict_to_toml",
    "load_config",
    "load_config_text",
    "parse_override",
    "preset_path",
    "to_toml",
]
