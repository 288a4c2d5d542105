"""The distributed train step shared by every strategy (default, mirrored, multi-worker)."""

from __future__ import annotations

import keras
import tensorflow as tf

from vesselnet.training.objective import TrainingObjective


def make_train_step(strategy: tf.distribute.Strategy, model: keras.Model,
                    optimizer: keras.optimizers.Optimizer, objective: TrainingObjective,
                    step_counter: tf.Variable):
    """A ``tf.function`` running one optimizer step on a distributed batch.

    Random loss parameters are drawn once, outside the replicas. Each replica computes its
    term of the global loss (:class:`TrainingObjective` scales it by the replica's share of
    the batch's pixel weight), scales it again for float16 loss scaling when the optimizer
    is a ``LossScaleOptimizer``, and applies its gradients; the optimizer sums the replicas'
    gradients. Returns the global loss (sum of the replica terms).

    Args:
        strategy: the distribution strategy the variables were made under.
        model: the network.
        optimizer: a Keras optimizer (built on ``model.trainable_variables``).
        objective: the :class:`TrainingObjective`.
        step_counter: int64 variable incremented once per step.
    """
    loss_scaling = isinstance(optimizer, keras.optimizers.LossScaleOptimizer)

    def replica_step(x, y, parameters):
        with tf.GradientTape() as tape:
            outputs = model(x, training=True)
            loss = objective(y, outputs, parameters, model.losses)
            scaled = optimizer.scale_loss(loss) if loss_scaling else loss
        variables = model.trainable_variables
        gradients = tape.gradient(scaled, variables)
        optimizer.apply_gradients(zip(gradients, variables))
        return loss

    @tf.function
    def train_step(batch):
        x, y = batch
        parameters = objective.step_parameters()  # one draw for all replicas
        losses = strategy.run(replica_step, args=(x, y, parameters))
        step_counter.assign_add(1)
        return strategy.reduce(tf.distribute.ReduceOp.SUM, losses, axis=None)

    return train_step


def current_learning_rate(optimizer: keras.optimizers.Optimizer) -> float:
    """The learning rate the optimizer uses at its current iteration."""
    inner = getattr(optimizer, "inner_optimizer", optimizer)
    return float(keras.ops.convert_to_numpy(inner.learning_rate))
