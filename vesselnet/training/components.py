"""What a run is built from: images, model, optimizer, objective, step counter, checkpoints."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import keras
import tensorflow as tf

from vesselnet.bundle import load_bundle
from vesselnet.config import RunConfig
from vesselnet.data.pipeline import dataset_from_source, make_patch_source, steps_per_epoch
from vesselnet.models import build_model
from vesselnet.training.checkpoint import CheckpointStore
from vesselnet.training.distribute import WorkerRole
from vesselnet.training.objective import TrainingObjective
from vesselnet.training.optimizers import build_optimizer
from vesselnet.training.sources import RunImages, load_run_images


def total_steps(config: RunConfig, num_train_images: int) -> int:
    """``training.steps``, or ``training.epochs`` times the steps of one epoch."""
    if config.training.steps:
        return config.training.steps
    per_epoch = steps_per_epoch(num_train_images, config.patches)
    if per_epoch < 1:
        raise ValueError(
            f"an epoch of {num_train_images} images x {config.patches.patches_per_image} "
            f"patches is less than one batch of {config.patches.batch_size}")
    return config.training.epochs * per_epoch


@dataclasses.dataclass
class RunComponents:
    """The objects one training run works with (see :func:`build_components`).

    Args:
        images: training and validation images (:class:`~vesselnet.training.RunImages`).
        model / optimizer / objective: the network, its optimizer, the training objective.
        step: int64 step counter (checkpointed with the variables).
        store: the run's :class:`~vesselnet.training.CheckpointStore`.
        total_steps / steps_per_epoch: length of the run and of one data epoch.
    """

    images: RunImages
    model: keras.Model
    optimizer: keras.optimizers.Optimizer
    objective: TrainingObjective
    step: tf.Variable
    store: CheckpointStore
    total_steps: int
    steps_per_epoch: int


def build_components(config: RunConfig, run_dir: Path, strategy: tf.distribute.Strategy,
                     role: WorkerRole) -> RunComponents:
    """Reads the images and builds the variables of a run under ``strategy``.

    Seeds Keras (Python, NumPy, TF) with ``training.seed`` first, so the initial weights are
    a function of the seed.
    """
    training, model_config = config.training, config.model
    keras.utils.set_random_seed(training.seed)
    images = load_run_images(config.data)
    steps = total_steps(config, len(images.train))
    with strategy.scope():
        model = build_model(model_config.arch, input_size=None,
                            channels=images.preprocessing.channels, filters=model_config.filters,
                            depth=model_config.depth, n_classes=model_config.n_classes,
                            padding=model_config.padding, **model_config.options)
        if model_config.init_from:
            _initialise_from(model, model_config.init_from)
        optimizer = build_optimizer(config.optimizer, steps,
                                    loss_scaling=training.precision == "mixed_float16")
        optimizer.build(model.trainable_variables)
        step = tf.Variable(0, dtype=tf.int64, trainable=False, name="train_step")
    # The loss's seed state is drawn from once per step outside the replicas: a plain variable.
    objective = TrainingObjective(config.loss, model_config, training.seed)
    trackables = {"model": model, "optimizer": optimizer, "step": step}
    if objective.seed_generator is not None:
        trackables["loss_seed"] = objective.seed_generator.state
    store = CheckpointStore(run_dir / "checkpoints", tf.train.Checkpoint(**trackables),
                            training.keep_checkpoints, role)
    return RunComponents(images, model, optimizer, objective, step, store, steps,
                         steps_per_epoch(len(images.train), config.patches))


def distributed_dataset(config: RunConfig, parts: RunComponents, first_step: int,
                        strategy: tf.distribute.Strategy):
    """The training batches from global step ``first_step`` on, split over the replicas.

    The stream is a pure function of the config (see ``vesselnet.data.pipeline``), so
    starting at ``(epoch, step in epoch)`` of ``first_step`` gives the batches an
    uninterrupted run would have seen; a run on several weighted data sets shares each epoch's
    samples out by their weights (``RunImages.image_weights``). Workers shard each global batch (``DATA`` policy).
    """
    source = make_patch_source(parts.images.train, parts.images.train_inputs, config.patches)
    dataset = dataset_from_source(source, config.patches, config.augment,
                                  epoch=first_step // parts.steps_per_epoch,
                                  start_step=first_step % parts.steps_per_epoch,
                                  image_weights=parts.images.image_weights)
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return strategy.experimental_distribute_dataset(dataset.with_options(options))


def _initialise_from(model: keras.Model, path: str) -> None:
    """Copies the weights of the bundle or ``.keras`` file at ``path`` into ``model``."""
    source, _ = load_bundle(path)
    shapes = [tuple(weight.shape) for weight in model.weights]
    source_shapes = [tuple(weight.shape) for weight in source.weights]
    if shapes != source_shapes:
        raise ValueError(
            f"model.init_from {path}: its network ({source.name}, {len(source_shapes)} weight "
            f"tensors) does not match the configured one ({model.name}, {len(shapes)})"
        )
    model.set_weights(source.get_weights())
