"""The card of a trained-model bundle: what the network is and how it was trained."""

from __future__ import annotations

import dataclasses

import keras

from vesselnet.config import RunConfig, config_to_dict
from vesselnet.inference import tile_geometry
from vesselnet.preprocessing import PreprocessConfig


def tile_geometry_of(model: keras.Model, config: RunConfig) -> dict:
    """The training tile as :func:`vesselnet.inference.tile_geometry` reports it, as a dict."""
    geometry = tile_geometry(model, config.patches.input_size)
    return dataclasses.asdict(geometry)


def make_card(model: keras.Model, config: RunConfig, preprocessing: PreprocessConfig,
              summary: dict) -> dict:
    """The bundle card of ``model`` trained with ``config``.

    Args:
        model: the trained network.
        config: the run's :class:`~vesselnet.config.RunConfig`.
        preprocessing: the preprocessing actually applied (data-set statistics filled in).
        summary: training summary: ``steps``, ``wall_seconds``, ``validation_curve``,
            ``best_validation`` and anything else worth keeping.
    """
    model_config = config.model
    return {
        "model": {
            "arch": model_config.arch,
            "filters": model_config.filters,
            "depth": model_config.depth,
            "padding": model_config.padding,
            "n_classes": model_config.n_classes,
            "channels": preprocessing.channels,
            "options": dict(model_config.options),
            "output_activation": model_config.output_activation,
            "output_key": "final" if model_config.arch == "chained" else None,
            "parameters": int(model.count_params()),
        },
        "preprocessing": preprocessing.to_dict(),
        "tile_geometry": tile_geometry_of(model, config),
        "training": {**summary, "config": config_to_dict(config)},
    }
