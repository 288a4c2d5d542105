"""The training objective: the configured loss on every output the model trains."""

from __future__ import annotations

import keras
import tensorflow as tf

from vesselnet.config import LossConfig, ModelConfig
from vesselnet.losses import (
    StochasticWeightedCrossEntropy,
    draw_vessel_weight,
    get_loss,
    weighted_cross_entropy,
)
from vesselnet.training.distribute import replica_share


class TrainingObjective:
    """Loss of one replica's batch, scaled so that the replicas' losses sum to the global loss.

    For the chained model (Francia et al. 2020, trained end to end) the loss is
    ``loss(final) + stage1_weight * loss(stage1)``; the stage-1 term is deep supervision of
    the first U-Net. The stochastic loss's vessel weight (Khanal et al. 2019) is drawn once
    per step by :meth:`step_parameters`, outside the replicas, so every replica and both
    terms use the same draw and the run equals a single-device run with the whole batch.
    Keras regularisation losses of the model are added once per step.

    Args:
        loss_config: :class:`~vesselnet.config.LossConfig`.
        model_config: :class:`~vesselnet.config.ModelConfig` (output activation, architecture).
        seed: seed of a stochastic loss when ``loss_config.options`` gives none.

    Example:
        >>> objective = TrainingObjective(LossConfig(), ModelConfig(arch="chained"), seed=0)
        >>> parameters = objective.step_parameters()  # cross-replica context
        >>> replica_loss = objective(y, model(x, training=True), parameters, model.losses)
    """

    def __init__(self, loss_config: LossConfig, model_config: ModelConfig, seed: int):
        options = dict(loss_config.options)
        options["activation"] = model_config.output_activation
        if loss_config.name == "stochastic_wce":
            options.setdefault("seed", seed)
        self.loss = get_loss(loss_config.name, **options)
        self.stage1_weight = loss_config.stage1_weight
        self.chained = model_config.arch == "chained"

    @property
    def seed_generator(self) -> keras.random.SeedGenerator | None:
        """The stochastic loss's seed generator (its state belongs in checkpoints), or None."""
        return getattr(self.loss, "seed_generator", None)

    def step_parameters(self) -> dict:
        """Random loss parameters of one step (draws advance the seed generator)."""
        if isinstance(self.loss, StochasticWeightedCrossEntropy):
            return {"vessel_weight": draw_vessel_weight(self.loss.alpha, self.seed_generator)}
        return {}

    def _loss(self, y_true, output, parameters):
        if "vessel_weight" in parameters:
            return weighted_cross_entropy(y_true, output, self.loss.background_weight,
                                          parameters["vessel_weight"], self.loss.activation)
        return self.loss(y_true, output)

    def batch_loss(self, y_true, outputs, parameters=None) -> tf.Tensor:
        """The loss of this replica's batch alone (what a single device would report)."""
        parameters = self.step_parameters() if parameters is None else parameters
        if isinstance(outputs, dict):
            value = self._loss(y_true, outputs["final"], parameters)
            if self.chained and self.stage1_weight:
                value = value + self.stage1_weight * self._loss(y_true, outputs["stage1"],
                                                                parameters)
            return value
        return self._loss(y_true, outputs, parameters)

    def __call__(self, y_true, outputs, parameters=None, regularization_losses=()) -> tf.Tensor:
        """This replica's term of the global loss (sum over replicas = global loss)."""
        value = self.batch_loss(y_true, outputs, parameters) * replica_share(y_true)
        if regularization_losses:
            replicas = tf.distribute.get_strategy().num_replicas_in_sync
            value = value + tf.add_n(list(regularization_losses)) / replicas
        return value
