"""The card of a trained-model bundle: what the network is and how it was trained."""

from __future__ import annotations

import keras

from vesselnet.card import Architecture, ModelCard, TrainingRecord
from vesselnet.config import RunConfig, config_to_dict
from vesselnet.inference import tile_geometry
from vesselnet.preprocessing import PreprocessConfig


def make_card(model: keras.Model, config: RunConfig, preprocessing: PreprocessConfig,
              summary: dict) -> ModelCard:
    """The bundle card of ``model`` trained with ``config``.

    Args:
        model: the trained network.
        config: the run's :class:`~vesselnet.config.RunConfig`.
        preprocessing: the preprocessing actually applied (data-set statistics filled in).
        summary: training summary, the :class:`~vesselnet.card.TrainingRecord` fields
            ``steps``, ``total_steps``, ``wall_seconds``, ``final_loss``, ``dataset``,
            ``train_images``, ``validation_images``, ``validation_curve``,
            ``best_validation`` and ``fov_diameter`` (the training scale, the network's
            learned scale).

    Example:
        >>> card = make_card(model, config, images.preprocessing,
        ...                  {"steps": 100, "fov_diameter": images.fov_diameter})
        >>> card.learned_fov_diameter
    """
    model_config = config.model
    summary = {**summary, "train_images": tuple(summary.get("train_images", ())),
               "validation_images": tuple(summary.get("validation_images", ())),
               "validation_curve": tuple(summary.get("validation_curve", ()))}
    return ModelCard(
        model=Architecture(
            arch=model_config.arch,
            filters=model_config.filters,
            depth=model_config.depth,
            padding=model_config.padding,
            n_classes=model_config.n_classes,
            channels=preprocessing.channels,
            options=dict(model_config.options),
            output_activation=model_config.output_activation,
            parameters=int(model.count_params()),
        ),
        preprocessing=preprocessing,
        tile_geometry=tile_geometry(model, config.patches.input_size),
        training=TrainingRecord(**summary, config=config_to_dict(config)),
    )
