"""The sections of a run's configuration: frozen dataclasses grouped by concern."""


from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path

from vesselnet.data.augment import AugmentConfig
from vesselnet.data.pipeline import PatchConfig
from vesselnet.losses import LOSSES
from vesselnet.models import ARCHITECTURES, ModelOptions, model_output_size
from vesselnet.preprocessing import CLASSIC_CONFIG, PreprocessConfig

PRESET_DIR = Path(__file__).resolve().parent / "presets"  # vesselnet/config/presets/*.toml
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
            raise ValueError(f"data.data_dir is empty; dataset {self.dataset!r} needs it: "
                             "give --data-dir PATH (or --set data.data_dir=...)")


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """Architecture and build options (see :func:`vesselnet.models.build_model`).

    Args:
        arch: ``"unet"``, ``"resunet"``, ``"r2unet"`` or ``"chained"``. Defaults to "unet".
        filters / depth / padding / n_classes: as ``build_model``.
        options: :class:`~vesselnet.models.ModelOptions` fields, e.g. ``{"batch_norm": True}``.
        init_from: a bundle directory or ``.keras`` file whose weights start the network
            (fine-tuning, or carrying a run over to a machine without its checkpoints); the
            architecture must match. Empty: random initialisation. Defaults to "".
    """

    arch: str = "unet"
    filters: int = 16
    depth: int = 4
    padding: str = "valid"
    n_classes: int = 2
    options: dict = dataclasses.field(default_factory=dict)
    init_from: str = ""

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
