"""The card of a trained-model bundle: what the network is and how it was trained."""

from __future__ import annotations

import keras

from vesselnet.card import Architecture, DataSetRecord, ModelCard, TrainingRecord
from vesselnet.config import RunConfig, config_to_dict
from vesselnet.inference import tile_geometry
from vesselnet.preprocessing import PreprocessConfig
from vesselnet.training.sources import RunImages


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
            learned scale), and ``sets`` (:func:`set_records`).

    Example:
        >>> card = make_card(model, config, images.preprocessing,
        ...                  {"steps": 100, "fov_diameter": images.fov_diameter})
        >>> card.learned_fov_diameter
    """
    model_config = config.model
    summary = {**summary, "train_images": tuple(summary.get("train_images", ())),
               "validation_images": tuple(summary.get("validation_images", ())),
               "validation_curve": tuple(summary.get("validation_curve", ())),
               "sets": tuple(summary.get("sets", ()))}
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


def set_records(images: RunImages, best: dict | None) -> tuple[DataSetRecord, ...]:
    """The card's record of every data set of a run.

    Args:
        images: the run's images (:class:`~vesselnet.training.sources.RunImages`).
        best: the history entry of the best validation (pooled figures, and each set's
            under ``"sets"`` in a run on several sets), or None.

    Returns:
        One :class:`~vesselnet.card.DataSetRecord` per set; a run on one set gives its
        set the pooled figures (they are its own).

    Example:
        >>> [item.name for item in set_records(images, None)]
        ['DRIVE', 'CHASE_DB1', 'LES_AV']
    """
    records = []
    for item in images.sets:
        if best is None:
            figures = None
        elif len(images.sets) > 1:
            figures = (best.get("sets") or {}).get(item.name)
            figures = {**figures, "step": best.get("step")} if figures else None
        else:
            figures = {key: value for key, value in best.items() if key != "sets"}
        records.append(DataSetRecord(
            name=item.name, dataset=item.dataset, split=item.split,
            train_images=tuple(r.name for r in images.train[slice(*item.train)]),
            validation_images=tuple(r.name for r in images.validation[slice(*item.validation)]),
            terms=item.terms, fov_diameter=round(item.fov_diameter, 2), weight=item.weight,
            best_validation=figures))
    return tuple(records)
