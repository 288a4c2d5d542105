"""How a run trains: the ``[loss]``, ``[optimizer]`` and ``[training]`` sections."""

from __future__ import annotations

import dataclasses

from vesselnet.core.checks import check_choice, check_min

OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("constant", "cosine", "step")
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
STRATEGIES = ("default", "mirrored", "multiworker")

#: Loss names (the keys of ``vesselnet.losses.LOSSES``) and the constructor arguments a
#: ``[loss]`` section may set for each, written out here so that a config is checked without
#: importing the losses (``activation`` comes from the model). ``tests/test_losses.py`` holds
#: this table equal to the loss classes' signatures.
LOSS_OPTIONS = {
    "wce": ("background_weight", "vessel_weight"),
    "stochastic_wce": ("alpha", "background_weight", "seed"),
    "dice": ("smooth",),
    "wce_dice": ("background_weight", "vessel_weight", "ce_weight", "dice_weight", "smooth"),
}


@dataclasses.dataclass(frozen=True)
class LossConfig:
    """Loss on the final output plus ``stage1_weight`` times the loss on the chained stage 1.

    Args:
        name: a key of ``vesselnet.losses.LOSSES`` (see :data:`LOSS_OPTIONS`).
            Defaults to "stochastic_wce".
        options: constructor arguments, e.g. ``{"alpha": 5.0}``; ``activation`` comes from
            the model, a missing ``seed`` from ``training.seed``. Defaults to {"alpha": 5.0}.
        stage1_weight: weight of the stage-1 loss of the chained model. Defaults to 0.5.

    Example:
        >>> LossConfig(name="wce_dice", options={"dice_weight": 2.0}).stage1_weight
        0.5
    """

    name: str = "stochastic_wce"
    options: dict = dataclasses.field(default_factory=lambda: {"alpha": 5.0})
    stage1_weight: float = 0.5

    def __post_init__(self):
        if self.name not in LOSS_OPTIONS:
            raise ValueError(f"loss.name must be one of {sorted(LOSS_OPTIONS)}, got {self.name!r}")
        if "activation" in self.options:
            raise ValueError(
                "loss.options.activation is taken from model.options.output_activation")
        # Names only: building the loss would create a TF variable, and multi-worker
        # training needs the strategy before any TF op; values are checked by fit.
        unknown = sorted(set(self.options) - set(LOSS_OPTIONS[self.name]))
        if unknown:
            raise ValueError(f"unknown loss.options {unknown} for loss {self.name!r}; valid: "
                             f"{sorted(LOSS_OPTIONS[self.name])}")
        check_min("loss.stage1_weight", self.stage1_weight, 0.0)


@dataclasses.dataclass(frozen=True)
class OptimizerConfig:
    """Optimizer and learning-rate schedule.

    Args:
        name: ``"sgd"`` (with ``momentum``, 0.99 as the U-Net paper), ``"adam"``, ``"adamw"``.
            Defaults to "adam".
        learning_rate: peak learning rate. Defaults to 1e-3.
        momentum: SGD momentum. Defaults to 0.99.
        nesterov: SGD with Nesterov momentum. Defaults to False.
        weight_decay: decoupled weight decay (all optimizers). Defaults to 0.
        schedule: ``"constant"``, ``"cosine"`` (to ``final_fraction * learning_rate`` at the
            last step) or ``"step"`` (times ``step_factor`` every ``step_every`` steps).
            Defaults to "constant".
        warmup_steps: linear warm-up from 0 before the schedule. Defaults to 0.
        final_fraction: end of the cosine schedule, a fraction of the peak. Defaults to 0.
        step_every: period of the step schedule in steps. Defaults to 1000.
        step_factor: factor of the step schedule. Defaults to 0.1.
        global_clipnorm: clip the gradient's global norm, 0 = off. Defaults to 0.
        ema_momentum: keep an exponential moving average of the weights with this momentum
            (Keras's ``use_ema``; 0.999 averages over about the last 1000 steps), 0 = off.
            With it, validation, ``best/`` and ``final/`` use the averaged weights; the
            checkpoints hold both. Defaults to 0.

    Example:
        >>> OptimizerConfig(name="sgd", learning_rate=0.01, schedule="cosine").momentum
        0.99
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
    ema_momentum: float = 0.0

    def __post_init__(self):
        check_choice("optimizer.name", self.name, OPTIMIZERS)
        check_choice("optimizer.schedule", self.schedule, SCHEDULES)
        if not self.learning_rate > 0:
            raise ValueError(f"optimizer.learning_rate must be > 0, got {self.learning_rate!r}")
        if not 0 <= self.momentum < 1:
            raise ValueError(f"optimizer.momentum must be in [0, 1), got {self.momentum!r}")
        if not 0 <= self.ema_momentum < 1:
            raise ValueError(f"optimizer.ema_momentum must be in [0, 1) (0 = off), got "
                             f"{self.ema_momentum!r}")
        for name in ("weight_decay", "final_fraction", "step_factor", "global_clipnorm",
                     "warmup_steps"):
            check_min(f"optimizer.{name}", getattr(self, name), 0)
        check_min("optimizer.step_every", self.step_every, 1)


@dataclasses.dataclass(frozen=True)
class TrainingConfig:
    """Length, batching, checkpoints, validation and devices of a run.

    Args:
        steps: optimizer steps. Defaults to 1000, or to 0 when ``epochs`` is set: exactly one
            of them is > 0.
        epochs: passes over the training patches instead of ``steps``; an epoch is
            ``patches_per_image * training images // batch_size`` steps. Defaults to 0.
        batch_size: global batch (split over replicas). Defaults to 8.
        seed: seeds weights, patch order, augmentation and the stochastic loss. Defaults to 0.
        checkpoint_every: checkpoint period in steps. Defaults to 100.
        keep_checkpoints: how many checkpoints to keep. Defaults to 3.
        validate_every: validation period in steps; 0 = only at the end. Defaults to 0.
        early_stopping_patience: validations without a better F1 before stopping; 0 = off.
            Defaults to 0.
        log_every: TensorBoard / plain-text log period in steps. Defaults to 10.
        precision: ``"float32"``, ``"mixed_float16"`` or ``"mixed_bfloat16"``.
            Defaults to "float32".
        strategy: ``"default"``, ``"mirrored"`` or ``"multiworker"`` (``TF_CONFIG``).
            Defaults to "default".
        deterministic: ``tf.config.experimental.enable_op_determinism()``. Defaults to True.

    Example:
        >>> TrainingConfig(epochs=3).steps
        0
    """

    steps: int | None = None
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
        if self.steps is None:
            object.__setattr__(self, "steps", 0 if self.epochs > 0 else 1000)
        if (self.steps > 0) == (self.epochs > 0):
            raise ValueError(
                f"set exactly one of training.steps and training.epochs > 0, got steps="
                f"{self.steps}, epochs={self.epochs}"
            )
        for name in ("steps", "epochs", "validate_every", "early_stopping_patience", "seed"):
            check_min(f"training.{name}", getattr(self, name), 0)
        for name in ("batch_size", "checkpoint_every", "keep_checkpoints", "log_every"):
            check_min(f"training.{name}", getattr(self, name), 1)
        check_choice("training.precision", self.precision, PRECISIONS)
        check_choice("training.strategy", self.strategy, STRATEGIES)
