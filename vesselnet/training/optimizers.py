"""Optimizers and the learning-rate schedule of a run (constant, cosine, step; linear warm-up)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import keras

from vesselnet.config import OptimizerConfig
from vesselnet.config.training import SCHEDULES


@keras.saving.register_keras_serializable(package="vesselnet")
class WarmupSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up from 0 to ``learning_rate``, then a constant, cosine or step schedule.

    Args:
        learning_rate: peak learning rate, reached at the end of the warm-up.
        total_steps: steps of the whole run (the cosine reaches its floor there).
        schedule: ``"constant"``, ``"cosine"`` or ``"step"``. Defaults to "constant".
        warmup_steps: steps of the linear warm-up. Defaults to 0.
        final_fraction: cosine floor as a fraction of ``learning_rate``. Defaults to 0.
        step_every: step schedule period in steps (counted after the warm-up). Defaults to 1000.
        step_factor: step schedule factor per period. Defaults to 0.1.

    Example:
        >>> schedule = WarmupSchedule(1e-3, total_steps=1000, schedule="cosine", warmup_steps=50)
        >>> float(schedule(50))
        0.001
    """

    def __init__(self, learning_rate, total_steps, schedule="constant", warmup_steps=0,
                 final_fraction=0.0, step_every=1000, step_factor=0.1):
        if schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}, got {schedule!r}")
        if total_steps < 1 or warmup_steps < 0 or learning_rate <= 0:
            raise ValueError(f"need total_steps >= 1, warmup_steps >= 0, learning_rate > 0; got "
                             f"{total_steps}, {warmup_steps}, {learning_rate}")
        self.learning_rate = float(learning_rate)
        self.total_steps = int(total_steps)
        self.schedule = schedule
        self.warmup_steps = int(warmup_steps)
        self.final_fraction = float(final_fraction)
        self.step_every = int(step_every)
        self.step_factor = float(step_factor)

    def __call__(self, step):
        step = keras.ops.cast(step, "float32")
        peak = self.learning_rate
        warmup = float(self.warmup_steps)
        after = keras.ops.maximum(step - warmup, 0.0)
        if self.schedule == "cosine":
            span = float(max(self.total_steps - self.warmup_steps, 1))
            progress = keras.ops.minimum(after / span, 1.0)
            cosine = 0.5 * (1.0 + keras.ops.cos(3.141592653589793 * progress))
            rate = peak * (self.final_fraction + (1.0 - self.final_fraction) * cosine)
        elif self.schedule == "step":
            periods = keras.ops.floor(after / float(self.step_every))
            rate = peak * keras.ops.power(self.step_factor, periods)
        else:
            rate = peak * keras.ops.ones_like(step)
        if self.warmup_steps:
            ramp = peak * keras.ops.minimum((step + 1.0) / warmup, 1.0)
            rate = keras.ops.where(step < warmup, ramp, rate)
        return rate

    def get_config(self):
        return {"learning_rate": self.learning_rate, "total_steps": self.total_steps,
                "schedule": self.schedule, "warmup_steps": self.warmup_steps,
                "final_fraction": self.final_fraction, "step_every": self.step_every,
                "step_factor": self.step_factor}


def build_schedule(config: OptimizerConfig, total_steps: int) -> WarmupSchedule:
    """The learning-rate schedule of ``config`` over a run of ``total_steps``."""
    return WarmupSchedule(config.learning_rate, total_steps, config.schedule,
                          config.warmup_steps, config.final_fraction, config.step_every,
                          config.step_factor)


def build_optimizer(config: OptimizerConfig, total_steps: int,
                    loss_scaling: bool = False) -> keras.optimizers.Optimizer:
    """A Keras optimizer for ``config``; wrapped in a ``LossScaleOptimizer`` if ``loss_scaling``.

    SGD uses ``momentum`` and ``nesterov`` (the U-Net paper: momentum 0.99); Adam and AdamW
    use Keras defaults for their betas. ``weight_decay`` is Keras's decoupled decay for all
    three. ``global_clipnorm`` (when > 0) clips each replica's gradient before the all-reduce.
    ``ema_momentum`` (when > 0) makes the optimizer keep a moving average of the weights
    (see :func:`averaged_weights`).

    Example:
        >>> optimizer = build_optimizer(OptimizerConfig(name="sgd", learning_rate=0.01), 1000)
    """
    common = {"learning_rate": build_schedule(config, total_steps)}
    if config.weight_decay:
        common["weight_decay"] = config.weight_decay
    if config.global_clipnorm:
        common["global_clipnorm"] = config.global_clipnorm
    if config.ema_momentum:
        common.update(use_ema=True, ema_momentum=config.ema_momentum)
    if config.name == "sgd":
        optimizer = keras.optimizers.SGD(momentum=config.momentum, nesterov=config.nesterov,
                                         **common)
    elif config.name == "adam":
        optimizer = keras.optimizers.Adam(**common)
    else:
        optimizer = keras.optimizers.AdamW(weight_decay=config.weight_decay, **{
            key: value for key, value in common.items() if key != "weight_decay"})
    if loss_scaling:
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer


@contextlib.contextmanager
def averaged_weights(optimizer: keras.optimizers.Optimizer,
                     variables: Sequence[keras.Variable]) -> Iterator[bool]:
    """Within the block, ``variables`` hold the optimizer's moving average of them.

    ``variables`` must be those the optimizer was built on (the model's trainable variables,
    in the same order). Afterwards they get back the values they had, so that training goes
    on from the raw weights. Without ``use_ema`` nothing changes. Yields whether the average
    is in place.

    Example:
        >>> with averaged_weights(optimizer, model.trainable_variables):
        ...     score = validate(model)
    """
    inner = getattr(optimizer, "inner_optimizer", optimizer)
    if not inner.use_ema:
        yield False
        return
    saved = [variable.numpy() for variable in variables]
    inner.finalize_variable_values(list(variables))
    try:
        yield True
    finally:
        for variable, value in zip(variables, saved):
            variable.assign(value)
