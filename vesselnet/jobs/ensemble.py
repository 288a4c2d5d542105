"""Ensemble bundles: trained bundles averaged into one, validated on their held-out images.

``make_ensemble`` loads member bundles, checks that they can be averaged honestly (the same
preprocessing and learned scale; no member trained on the images the ensemble is validated
on), builds
:func:`vesselnet.models.ensemble_model`, scores it and each member on the shared held-out
images when the data set is at hand, and writes a bundle whose card keeps every member's
card. The result is used like any bundle: ``predict``, ``evaluate`` and ``export`` read it.

Example:
    >>> make_ensemble("runs/ensemble", ["runs/drive/best", "runs/drive-baseline/best"],
    ...               data_dir="../shared/datasets/DRIVE")
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

from vesselnet.bundle import CARD_FILE, MODEL_FILE, is_bundle, resolve_bundle, save_bundle
from vesselnet.card import Architecture, Member, ModelCard, TrainingRecord
from vesselnet.core.scale import SCALE_TOLERANCE, same_scale
from vesselnet.data import read_dataset
from vesselnet.data.records import select_records
from vesselnet.inference import tile_geometry
from vesselnet.layers import ENSEMBLE_RULES
from vesselnet.loading import load_model
from vesselnet.models import ensemble_model
from vesselnet.training.sources import scaled_inputs
from vesselnet.training.validation import Validator


@dataclasses.dataclass(frozen=True)
class EnsembleResult:
    """What :func:`make_ensemble` wrote.

    Args:
        path: the ensemble bundle.
        card: its card.
        validation: pooled held-out scores of the ensemble (None without data).
        member_validation: the same scores of each member alone, in member order.
        seconds: wall time of the job.
    """

    path: Path
    card: ModelCard
    validation: dict | None
    member_validation: list[dict]
    seconds: float


def make_ensemble(out: str | Path, members, rule: str = "probability",
                  data_dir: str | Path | None = None, notes: str | None = None) -> EnsembleResult:
    """Averages trained bundles into the bundle ``out`` (written atomically).

    Args:
        out: the ensemble bundle directory; an existing bundle there is replaced.
        members: bundle directories or bundled-model names (at least two).
        rule: ``"probability"`` (mean of the probabilities) or ``"log_probability"``
            (mean of the log-probabilities). Defaults to ``"probability"``.
        data_dir: the folder of the members' data set. With it, the ensemble and each member
            are scored on the members' held-out images, and the card records the scores.
            Defaults to None (no scores).
        notes: Markdown text for the card's "Notes" section (how the members were trained,
            comparisons). Defaults to None.

    Returns:
        An :class:`EnsembleResult`.

    Raises:
        ValueError: fewer than two members, a path that is no bundle, members with different
            preprocessing, data sets, held-out images or learned scales (FOV diameters more
            than ``SCALE_TOLERANCE`` apart), a member trained on a held-out image of another,
            or a data folder in the wrong layout (named in the message).
    """
    start = time.perf_counter()
    if rule not in ENSEMBLE_RULES:
        raise ValueError(f"rule must be one of {ENSEMBLE_RULES}, got {rule!r}")
    members = list(members)
    paths = [resolve_bundle(member) for member in members]
    if len(paths) < 2:
        raise ValueError(f"an ensemble needs at least two member bundles, got {len(paths)}")
    if Path(out).resolve() in {path.resolve() for path in paths}:
        raise ValueError(f"{out}: the ensemble would overwrite one of its members")
    for path in paths:
        if not is_bundle(path):
            raise ValueError(f"{path}: not a model bundle (needs {MODEL_FILE} and {CARD_FILE}); "
                             "ensemble members are bundles, whose cards name their data")
    loaded = [load_model(path) for path in paths]
    cards = [member.card for member in loaded]
    _check_same_preprocessing(paths, cards)
    training = dataclasses.replace(_shared_training(paths, cards),
                                   fov_diameter=_shared_scale(paths, cards))
    model = ensemble_model([member.model for member in loaded], rule)
    validation, member_validation = None, []
    if data_dir is not None:
        if not training.validation_images:
            raise ValueError("the members' cards name no held-out images to score on")
        records = select_records(read_dataset(training.dataset, data_dir, training.split),
                                 training.validation_images, "held-out images")
        validator = Validator(records, scaled_inputs(records, cards[0].preprocessing,
                                                     training.fov_diameter))
        validation = validator(model).scores
        member_validation = [validator(member.model).scores for member in loaded]
    card = _card(model, rule, members, cards, training, validation, member_validation, notes)
    save_bundle(out, model, card)
    return EnsembleResult(Path(out), card, validation, member_validation,
                          time.perf_counter() - start)


def _check_same_preprocessing(paths, cards) -> None:
    first = cards[0].preprocessing
    for path, card in zip(paths[1:], cards[1:]):
        if card.preprocessing != first:
            raise ValueError(f"{path}: its preprocessing differs from that of {paths[0]}; "
                             "ensemble members must read the same preprocessed image")


def _shared_scale(paths, cards) -> float | None:
    """The members' shared learned scale (FOV diameter, their mean), None when all unknown.

    Raises:
        ValueError: some members' scales are unknown and others' known, or two members'
            scales differ by more than ``SCALE_TOLERANCE`` (the message names them).
    """
    scales = [card.learned_fov_diameter for card in cards]
    known = [(scale, path) for scale, path in zip(scales, paths) if scale is not None]
    if not known:
        return None
    if len(known) < len(scales):
        unknown = [str(path) for scale, path in zip(scales, paths) if scale is None]
        raise ValueError(f"{', '.join(unknown)}: no learned scale (FOV diameter) on the card, "
                         f"but {known[0][1]} learned {known[0][0]:.1f} px; ensemble members "
                         "must work at one scale")
    if not same_scale([scale for scale, _ in known]):
        (low, low_path), (high, high_path) = min(known), max(known)
        raise ValueError(f"{low_path} learned FOV diameter {low:.1f} px and {high_path} "
                         f"{high:.1f} px, more than {SCALE_TOLERANCE:.0%} apart; ensemble "
                         "members must work at one scale")
    return sum(scales) / len(scales)


def _shared_training(paths, cards) -> TrainingRecord:
    """Data set, split, training images (union) and held-out images (shared) of the members."""
    trainings = [card.training or TrainingRecord() for card in cards]
    datasets = {training.dataset for training in trainings}
    if len(datasets) != 1:
        raise ValueError(f"the members were trained on different data sets: "
                         f"{sorted(str(name) for name in datasets)}")
    held_out = [training.validation_images for training in trainings]
    for path, names in zip(paths[1:], held_out[1:]):
        if set(names) != set(held_out[0]):
            raise ValueError(f"{path}: held out {list(names)}, but {paths[0]} held out "
                             f"{list(held_out[0])}; members must share their held-out images")
    for path, training in zip(paths, trainings):
        seen = set(training.train_images) & set(held_out[0])
        if seen:
            raise ValueError(f"{path}: trained on {sorted(seen)}, which the ensemble would be "
                             "validated on")
    split = {((training.config or {}).get("data") or {}).get("split", "training")
             for training in trainings}
    return TrainingRecord(
        dataset=datasets.pop(),
        split=split.pop() if len(split) == 1 else "training",
        train_images=tuple(sorted({name for training in trainings
                                   for name in training.train_images})),
        validation_images=held_out[0],
    )


def _card(model, rule, sources, cards, training, validation, member_validation,
          notes) -> ModelCard:
    members = []
    for index, card in enumerate(cards):
        member_training = card.training or TrainingRecord()
        members.append(Member(
            source=str(sources[index]),
            model=dataclasses.replace(card.model, n_classes=None, channels=None),
            training=TrainingRecord(
                steps=member_training.steps, total_steps=member_training.total_steps,
                wall_seconds=member_training.wall_seconds,
                best_validation=member_training.best_validation,
                validation_curve=member_training.validation_curve,
                fov_diameter=member_training.fov_diameter),
            config=member_training.config,
            validation=member_validation[index] if member_validation else None))
    wanted = max((card.tile_geometry.input_size for card in cards if card.tile_geometry),
                 default=None)
    first = cards[0].model
    return ModelCard(
        model=Architecture(arch="ensemble", rule=rule, members=tuple(members),
                           padding=first.padding, n_classes=first.n_classes,
                           channels=first.channels, output_activation="log_softmax",
                           parameters=int(model.count_params())),
        preprocessing=cards[0].preprocessing,
        tile_geometry=tile_geometry(model, wanted),
        training=dataclasses.replace(
            training, wall_seconds=sum(card.training.wall_seconds or 0 for card in cards
                                       if card.training),
            best_validation=validation),
        notes=notes or None,
    )
