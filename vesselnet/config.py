"""Training configuration: frozen dataclasses grouped by concern, read from and written to TOML.

A run is described by one :class:`RunConfig` with the sections ``data``, ``model``,
``patches`` (:class:`~vesselnet.data.pipeline.PatchConfig`), ``augment``
(:class:`~vesselnet.data.augment.AugmentConfig`), ``loss``, ``optimizer`` and ``training``.
:func:`load_config` reads a TOML file or a named preset (``vesselnet/configs/NAME.toml``) and
applies ``section.key=value`` overrides whose values are TOML literals. :func:`to_toml` writes
the resolved configuration back (``tomllib`` only reads TOML). ``patches.batch_size``,
``patches.seed`` and ``patches.output_size`` are derived from ``training`` and the model.

Example:
    >>> config = load_config("synthetic", overrides=["training.steps=20", "model.filters=8"])
    >>> load_config_text(to_toml(config)) == config
    True
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import math
import tomllib
from pathlib import Path
from typing import Any

from vesselnet.data.augment import AugmentConfig
from vesselnet.data.pipeline import PatchConfig
from vesselnet.losses import LOSSES
from vesselnet.models import ARCHITECTURES, ModelOptions, model_output_size
from vesselnet.preprocessing import CLASSIC_CONFIG, PreprocessConfig

PRESET_DIR = Path(__file__).parent / "configs"
OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("constant", "cosine", "step")
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
STRATEGIES = ("default", "mirrored", "multiworker")
_DERIVED_PATCH_KEYS = ("batch_size", "seed", "output_size")


def _check_min(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= minimum:
        raise ValueError(f"{name} must be a number >= {minimum}, got {value!r}")


def _check_choice(name, value, choices):
    if value not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}, got {value!r}")


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """Which images train and which validate.

    Args:
        dataset: reader name (``"DRIVE"``, ``"CHASE_DB1"``...) or ``"synthetic"``.
        data_dir: root folder of the data set; unused for ``"synthetic"``.
        split: split to read, e.g. ``"training"``. Defaults to "training".
        validation_images: names held out of the split for validation.
        validation_count: hold out the last N images (sorted by name) instead.
        synthetic_images / synthetic_size / synthetic_seed: the synthetic data set.
        dataset_statistics: z-score with the training images' mean and std instead of
            per-image statistics. Defaults to False.
        preprocessing: :class:`PreprocessConfig` (TOML: ``grayscale = "rgb"`` means None).
    """

    dataset: str = "synthetic"
    data_dir: str = ""
    split: str = "training"
    validation_images: tuple[str, ...] = ()
    validation_count: int = 0
    synthetic_images: int = 8
    synthetic_size: tuple[int, int] = (292, 282)
    synthetic_seed: int = 0
    dataset_statistics: bool = False
    preprocessing: PreprocessConfig = CLASSIC_CONFIG

    def __post_init__(self):
        if self.validation_images and self.validation_count:
            raise ValueError(
                f"give data.validation_images or data.validation_count, not both; got "
                f"{list(self.validation_images)} and {self.validation_count}"
            )
        if not all(isinstance(name, str) for name in self.validation_images):
            raise ValueError(f"data.validation_images must be names (strings), got "
                             f"{list(self.validation_images)}")
        _check_min("data.validation_count", self.validation_count, 0)
        _check_min("data.synthetic_images", self.synthetic_images, 1)
        if len(self.synthetic_size) != 2 or not all(
                isinstance(side, int) and side >= 32 for side in self.synthetic_size):
            raise ValueError(f"data.synthetic_size must be [height, width] >= 32, got "
                             f"{list(self.synthetic_size)}")
        if self.dataset != "synthetic" and not self.data_dir:
            raise ValueError(f"data.data_dir is empty; dataset {self.dataset!r} needs it")


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """Architecture and build options (see :func:`vesselnet.models.build_model`).

    Args:
        arch: ``"unet"``, ``"resunet"``, ``"r2unet"`` or ``"chained"``. Defaults to "unet".
        filters / depth / padding / n_classes: as ``build_model``.
        options: :class:`~vesselnet.models.ModelOptions` fields, e.g. ``{"batch_norm": True}``.
    """

    arch: str = "unet"
    filters: int = 16
    depth: int = 4
    padding: str = "valid"
    n_classes: int = 2
    options: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        if self.arch not in ARCHITECTURES:
            raise ValueError(f"model.arch must be one of {list(ARCHITECTURES)}, got {self.arch!r}")
        try:
            ModelOptions.from_kwargs(self.arch, dict(self.options))
        except ValueError as error:
            raise ValueError(f"model.options: {error}") from None
        _check_min("model.filters", self.filters, 1)
        _check_min("model.depth", self.depth, 1)

    @property
    def output_activation(self) -> str:
        """The network's output activation (what the loss must be told)."""
        return self.options.get("output_activation", ModelOptions.output_activation)

    def output_size(self, input_size: int) -> int:
        """Output side for ``input_size``; ValueError naming the nearest valid sizes."""
        try:
            return model_output_size(self.arch, input_size, self.depth, self.padding,
                                     **self.options)
        except ValueError as error:
            raise ValueError(
                f"patches.input_size {input_size} is not valid for model {self.arch!r} "
                f"(depth {self.depth}, {self.padding} padding): {error}"
            ) from None


@dataclasses.dataclass(frozen=True)
class LossConfig:
    """Loss on the final output plus ``stage1_weight`` times the loss on the chained stage 1.

    Args:
        name: a key of ``vesselnet.losses.LOSSES``. Defaults to "stochastic_wce".
        options: constructor arguments, e.g. ``{"alpha": 5.0}``; ``activation`` comes from
            the model, a missing ``seed`` from ``training.seed``.
        stage1_weight: weight of the stage-1 loss of the chained model. Defaults to 0.5.
    """

    name: str = "stochastic_wce"
    options: dict = dataclasses.field(default_factory=lambda: {"alpha": 5.0})
    stage1_weight: float = 0.5

    def __post_init__(self):
        if self.name not in LOSSES:
            raise ValueError(f"loss.name must be one of {sorted(LOSSES)}, got {self.name!r}")
        if "activation" in self.options:
            raise ValueError(
                "loss.options.activation is taken from model.options.output_activation")
        # Names only: building the loss would create a TF variable, and multi-worker
        # training needs the strategy before any TF op; values are checked by fit.
        accepted = set(inspect.signature(LOSSES[self.name].__init__).parameters)
        unknown = sorted(set(self.options) - accepted - {"self", "kwargs"})
        if unknown:
            valid = sorted(accepted - {"self", "kwargs", "activation"})
            raise ValueError(f"unknown loss.options {unknown} for loss {self.name!r}; valid: "
                             f"{valid}")
        _check_min("loss.stage1_weight", self.stage1_weight, 0.0)


@dataclasses.dataclass(frozen=True)
class OptimizerConfig:
    """Optimizer and learning-rate schedule.

    Args:
        name: ``"sgd"`` (with ``momentum``, 0.99 as the U-Net paper), ``"adam"``, ``"adamw"``.
        learning_rate: peak learning rate. Defaults to 1e-3.
        momentum / nesterov: SGD only.
        weight_decay: decoupled weight decay (all optimizers). Defaults to 0.
        schedule: ``"constant"``, ``"cosine"`` (to ``final_fraction * learning_rate`` at the
            last step) or ``"step"`` (times ``step_factor`` every ``step_every`` steps).
        warmup_steps: linear warm-up from 0 before the schedule. Defaults to 0.
        global_clipnorm: clip the gradient's global norm, 0 = off. Defaults to 0.
    """

    name: str = "adam"
    learning_rate: float = 1e-3
    momentum: float = 0.99
    nesterov: bool = False
    weight_decay: float = 0.0
    schedule: str = "constant"
    warmup_steps: int = 0
    final_fraction: float = 0.0
    step_every: int = 1000
    step_factor: float = 0.1
    global_clipnorm: float = 0.0

    def __post_init__(self):
        _check_choice("optimizer.name", self.name, OPTIMIZERS)
        _check_choice("optimizer.schedule", self.schedule, SCHEDULES)
        if not self.learning_rate > 0:
            raise ValueError(f"optimizer.learning_rate must be > 0, got {self.learning_rate!r}")
        if not 0 <= self.momentum < 1:
            raise ValueError(f"optimizer.momentum must be in [0, 1), got {self.momentum!r}")
        for name in ("weight_decay", "final_fraction", "step_factor", "global_clipnorm",
                     "warmup_steps"):
            _check_min(f"optimizer.{name}", getattr(self, name), 0)
        _check_min("optimizer.step_every", self.step_every, 1)


@dataclasses.dataclass(frozen=True)
class TrainingConfig:
    """Length, batching, checkpoints, validation and devices of a run.

    Args:
        steps: optimizer steps. Defaults to 1000. Or ``epochs`` (exactly one of them > 0;
            a ``[training]`` table that sets ``epochs`` but not ``steps`` means ``steps = 0``).
            An epoch is ``patches_per_image * training images // batch_size`` steps.
        batch_size: global batch (split over replicas). Defaults to 8.
        seed: seeds weights, patch order, augmentation and the stochastic loss.
        checkpoint_every / keep_checkpoints: checkpoint period in steps and how many to keep.
        validate_every: validation period in steps; 0 = only at the end.
        early_stopping_patience: validations without a better F1 before stopping; 0 = off.
        log_every: TensorBoard / plain-text log period in steps.
        precision: ``"float32"``, ``"mixed_float16"`` or ``"mixed_bfloat16"``.
        strategy: ``"default"``, ``"mirrored"`` or ``"multiworker"`` (``TF_CONFIG``).
        deterministic: ``tf.config.experimental.enable_op_determinism()``. Defaults to True.
    """

    steps: int = 1000
    epochs: int = 0
    batch_size: int = 8
    seed: int = 0
    checkpoint_every: int = 100
    keep_checkpoints: int = 3
    validate_every: int = 0
    early_stopping_patience: int = 0
    log_every: int = 10
    precision: str = "float32"
    strategy: str = "default"
    deterministic: bool = True

    def __post_init__(self):
        if (self.steps > 0) == (self.epochs > 0):
            raise ValueError(
                f"set exactly one of training.steps and training.epochs > 0, got steps="
                f"{self.steps}, epochs={self.epochs}"
            )
        for name in ("steps", "epochs", "validate_every", "early_stopping_patience", "seed"):
            _check_min(f"training.{name}", getattr(self, name), 0)
        for name in ("batch_size", "checkpoint_every", "keep_checkpoints", "log_every"):
            _check_min(f"training.{name}", getattr(self, name), 1)
        _check_choice("training.precision", self.precision, PRECISIONS)
        _check_choice("training.strategy", self.strategy, STRATEGIES)


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """Everything :func:`vesselnet.training.fit` needs. ``patches`` gets its derived fields."""

    data: DataConfig = DataConfig()
    model: ModelConfig = ModelConfig()
    patches: PatchConfig = PatchConfig(input_size=156, output_size=68)
    augment: AugmentConfig | None = AugmentConfig()
    loss: LossConfig = LossConfig()
    optimizer: OptimizerConfig = OptimizerConfig()
    training: TrainingConfig = TrainingConfig()

    def __post_init__(self):
        output_size = self.model.output_size(self.patches.input_size)
        object.__setattr__(self, "patches", dataclasses.replace(
            self.patches, batch_size=self.training.batch_size, seed=self.training.seed,
            output_size=output_size))


_SECTIONS = {"data": DataConfig, "model": ModelConfig, "patches": PatchConfig,
             "augment": AugmentConfig, "loss": LossConfig, "optimizer": OptimizerConfig,
             "training": TrainingConfig}


def _coerce(section: str, field: dataclasses.Field, value: Any) -> Any:
    """Turns a TOML value into the field's type, or raises ValueError naming the key."""
    key = f"{section}.{field.name}"
    default = field.default if field.default is not dataclasses.MISSING else field.default_factory()
    if isinstance(default, PreprocessConfig):
        if not isinstance(value, dict):
            raise ValueError(f"{key} must be a table, got {value!r}")
        value = dict(value)
        if value.get("grayscale") == "rgb":
            value["grayscale"] = None
        try:
            return PreprocessConfig.from_dict(value)
        except (ValueError, TypeError) as error:
            raise ValueError(f"{key}: {error}") from None
    expected = type(default)
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if expected is tuple and isinstance(value, list):
        value = tuple(value)
    if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
        raise ValueError(f"{key} must be of type {expected.__name__}, got {value!r}")
    return value


def config_from_dict(values: dict) -> RunConfig:
    """Builds a :class:`RunConfig` from nested dicts; unknown keys raise ValueError."""
    unknown = sorted(set(values) - set(_SECTIONS))
    if unknown:
        raise ValueError(f"unknown config section(s) {unknown}; valid sections: {list(_SECTIONS)}")
    sections = {}
    for name, cls in _SECTIONS.items():
        if not isinstance(values.get(name, {}), dict):
            raise ValueError(f"[{name}] must be a table, got {values[name]!r}")
        given = dict(values.get(name, {}))
        fields = {f.name: f for f in dataclasses.fields(cls)}
        valid = sorted(set(fields) - (set(_DERIVED_PATCH_KEYS) if name == "patches" else set()))
        if name == "augment":
            valid.append("enabled")
        for key in given:
            if key not in valid:
                raise ValueError(
                    f"unknown key '{name}.{key}'; valid keys of [{name}]: {', '.join(valid)}")
        enabled = given.pop("enabled", True) if name == "augment" else True
        if not isinstance(enabled, bool):
            raise ValueError(f"augment.enabled must be true or false, got {enabled!r}")
        if name == "training" and "epochs" in given:
            given.setdefault("steps", 0)
        kwargs = {key: _coerce(name, fields[key], value) for key, value in given.items()}
        if name == "patches":
            kwargs.setdefault("input_size", RunConfig.patches.input_size)
            kwargs["output_size"] = kwargs["input_size"]  # RunConfig sets the model output size
        try:
            sections[name] = cls(**kwargs) if enabled else None
        except TypeError as error:
            raise ValueError(f"[{name}]: {error}") from None
    return RunConfig(**sections)


def config_to_dict(config: RunConfig) -> dict:
    """Nested plain dict of ``config`` (what :func:`to_toml` writes)."""
    result = {}
    for name in _SECTIONS:
        section = getattr(config, name)
        if section is None:
            result[name] = {"enabled": False}
            continue
        values = {}
        for field in dataclasses.fields(section):
            value = getattr(section, field.name)
            if name == "patches" and field.name in _DERIVED_PATCH_KEYS:
                continue
            if isinstance(value, PreprocessConfig):
                value = value.to_dict()
                value["grayscale"] = "rgb" if value["grayscale"] is None else value["grayscale"]
            values[field.name] = list(value) if isinstance(value, tuple) else value
        result[name] = values
    return result


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"training.steps=100"`` -> ``(["training", "steps"], 100)``; bare words are strings."""
    key, sep, raw = text.partition("=")
    path = [part.strip() for part in key.split(".")]
    if not sep or len(path) < 2 or not all(path):
        raise ValueError(f"override must look like section.key=value, got {text!r}")
    try:
        value = tomllib.loads(f"value = {raw.strip()}")["value"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    return path, value


def apply_overrides(values: dict, overrides) -> dict:
    """A copy of nested ``values`` with each ``section.key=value`` override set."""
    result = json.loads(json.dumps(values))
    for text in overrides:
        path, value = parse_override(text)
        node = result
        for part in path[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ValueError(f"override {text!r}: {part!r} is not a table")
        node[path[-1]] = value
    return result


def preset_path(name_or_path: str | Path) -> Path:
    """A TOML file path, or ``vesselnet/configs/NAME.toml`` for a preset name."""
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.exists():
        if not path.is_file():
            raise ValueError(f"config file {str(path)!r} not found")
        return path
    preset = PRESET_DIR / f"{name_or_path}.toml"
    if not preset.is_file():
        names = sorted(p.stem for p in PRESET_DIR.glob("*.toml"))
        raise ValueError(f"no config file or preset {str(name_or_path)!r}; presets: {names}")
    return preset


def load_config_text(text: str, overrides=()) -> RunConfig:
    """Parses TOML ``text``, applies ``overrides`` and builds the :class:`RunConfig`."""
    try:
        values = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"invalid TOML: {error}") from None
    return config_from_dict(apply_overrides(values, overrides))


def load_config(source: str | Path | None = None, overrides=()) -> RunConfig:
    """Reads a TOML file or preset (None: all defaults) and applies ``overrides``."""
    text = "" if source is None else preset_path(source).read_text(encoding="utf-8")
    return load_config_text(text, overrides)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ("nan" if value != value else
                                                        ("inf" if value > 0 else "-inf"))
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    if isinstance(value, dict):
        items = (f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items() if v is not None)
        return "{" + ", ".join(items) + "}"
    raise ValueError(f"cannot write {value!r} of type {type(value).__name__} as TOML")


def _toml_key(key: str) -> str:
    return key if key.replace("_", "").replace("-", "").isalnum() else json.dumps(key)


def dict_to_toml(values: dict, prefix: str = "") -> str:
    """TOML text of nested dicts of bools, numbers, strings, lists (None values are left out)."""
    lines, tables = [], []
    for key, value in values.items():
        if isinstance(value, dict):
            tables.append((key, value))
        elif value is not None:
            lines.append(f"{_toml_key(key)} = {_toml_value(value)}")
    text = (f"[{prefix}]\n" if prefix and (lines or not tables) else "") + "\n".join(lines)
    for key, value in tables:
        name = f"{prefix}.{_toml_key(key)}" if prefix else _toml_key(key)
        text = text.rstrip("\n") + ("\n\n" if text else "") + dict_to_toml(value, name)
    return text.strip("\n") + "\n"


def to_toml(config: RunConfig) -> str:
    """The resolved ``config`` as TOML text that :func:`load_config_text` reads back equal."""
    return dict_to_toml(config_to_dict(config))
