"""The model card: one typed, versioned description of a trained network, read and written here.

A card says everything needed to use a network and to trust it: the architecture and its
build options, the preprocessing it was trained with, its tile geometry and output
activation, the training data and provenance, the validation figures, the members of an
ensemble, free notes, and for an exported file what the export holds. It is stored as
``card.json`` in a bundle, as ``assets.extra/vesselnet_card.json`` in a SavedModel and as a
``.json`` file beside a ``.tflite`` file; :func:`card_markdown` renders it as the bundle's
``README.md``. Every reader gets :class:`ModelCard` objects with typed fields, never a dict.

Schema: ``format`` ``"vesselnet.bundle"``, ``format_version`` :data:`CARD_VERSION`. Version 1
cards (vesselnet 0.1.0; the same layout plus an unused ``model.output_key``) are read too;
any other version, an unknown key or a wrong type is a :class:`CardError` naming the file.
The dataclasses are turned into JSON and back by the configuration's one scheme
(:mod:`vesselnet.config.plain`), so a card's preprocessing is written as a config's.
New fields (the training data's scale, data-set licences) go into the dataclasses below with
defaults, so that older cards stay readable.

Example:
    >>> card = read_card_file("runs/drive/best/card.json")
    >>> card.model.arch, card.training.validation_images, card.preprocessing.steps[0]
"""

from __future__ import annotations

import dataclasses
import datetime
import json
from pathlib import Path
from typing import Any

from vesselnet import __version__
from vesselnet.config.plain import from_plain, to_plain
from vesselnet.core.files import json_ready
from vesselnet.models import TileGeometry
from vesselnet.preprocessing import CLASSIC_CONFIG, PreprocessConfig

DRIVE_FOV_DIAMETER = 537.66
"""The learned scale of networks trained on DRIVE at its own resolution, for cards written
before vesselnet recorded one: the median FOV diameter of the 20 DRIVE training photographs,
measured with :func:`vesselnet.preprocessing.fov_diameter` on their official masks
(range 534.8-538.7)."""

CARD_FORMAT = "vesselnet.bundle"
CARD_VERSION = 2
READABLE_VERSIONS = (1, 2)
"""Card versions this vesselnet reads (1: vesselnet 0.1.0)."""


class CardError(ValueError):
    """A card that cannot be read: unknown format or version, unknown key, wrong type."""


Scores = dict[str, Any]
"""Validation figures by name (``f1``, ``auc``, ...; ``step`` and ``seconds`` where known)."""


@dataclasses.dataclass(frozen=True)
class Member:
    """One network of an ensemble, as the ensemble's card keeps it.

    Args:
        source: the bundle (path or bundled model's name) the member was read from.
        model: its architecture.
        training: its training summary (steps, wall time, validation curve, best scores).
        config: its run configuration (``RunConfig`` as a dict). Defaults to None.
        validation: its held-out scores measured with the ensemble. Defaults to None.
    """

    source: str
    model: Architecture
    training: TrainingRecord
    config: dict[str, Any] | None = None
    validation: Scores | None = None


@dataclasses.dataclass(frozen=True)
class Architecture:
    """The network: architecture and build options (see ``vesselnet.models.build_model``).

    Args:
        arch: ``"unet"``, ``"resunet"``, ``"r2unet"``, ``"chained"``, ``"ensemble"``, or the
            Keras name of a model vesselnet did not build.
        filters / depth / padding / n_classes / channels: as ``build_model``. Default to None
            (unknown).
        options: the build options (``ModelOptions`` fields). Defaults to {}.
        output_activation: ``"log_softmax"``, ``"softmax"`` or ``"sigmoid"``. Defaults to None.
        parameters: weight count. Defaults to None.
        rule: an ensemble's averaging rule (``"probability"`` or ``"log_probability"``).
            Defaults to None.
        members: an ensemble's members. Defaults to ().
    """

    arch: str
    filters: int | None = None
    depth: int | None = None
    padding: str | None = None
    n_classes: int | None = None
    channels: int | None = None
    options: dict[str, Any] = dataclasses.field(default_factory=dict)
    output_activation: str | None = None
    parameters: int | None = None
    rule: str | None = None
    members: tuple[Member, ...] = ()

    def describe(self) -> str:
        """Short text, e.g. ``"chained (filters 16, depth 4)"`` or ``"ensemble (chained +
        unet)"``."""
        if self.members:
            return f"{self.arch} ({' + '.join(member.model.arch for member in self.members)})"
        details = ", ".join(f"{key} {getattr(self, key)}" for key in ("filters", "depth")
                            if getattr(self, key) is not None)
        return f"{self.arch} ({details})" if details else self.arch


@dataclasses.dataclass(frozen=True)
class DataSetRecord:
    """One data set a network was trained on, as its card keeps it.

    Args:
        name: the set's name in the run (``"DRIVE"``, ``"LES_AV"``).
        dataset: the reader its folder was read with (``"drive"``, ``"generic"``...).
        split: the split read. Defaults to None.
        train_images / validation_images: its images trained on and held out, as the run
            named them (``"<name>:<image>"`` in a run on several sets). Default to ().
        terms: its licence terms (empty when unknown). Defaults to "".
        fov_diameter: the median FOV diameter of its training photographs on their own grid
            (the set's own scale; the run resampled them to the card's learned scale).
            Defaults to None.
        weight: its configured share of the training patches (None: in proportion to its
            images). Defaults to None.
        best_validation: its held-out figures at the run's best step (chosen by the pooled
            F1). Defaults to None.

    Example:
        >>> DataSetRecord("LES_AV", "generic", terms="scientific use only").terms
        'scientific use only'
    """

    name: str
    dataset: str
    split: str | None = None
    train_images: tuple[str, ...] = ()
    validation_images: tuple[str, ...] = ()
    terms: str = ""
    fov_diameter: float | None = None
    weight: float | None = None
    best_validation: Scores | None = None


@dataclasses.dataclass(frozen=True)
class TrainingRecord:
    """Training data and provenance.

    Args:
        dataset: data-set name (``"DRIVE"``, ``"synthetic"``...). Defaults to None.
        split: the split the images came from. Defaults to None.
        train_images / validation_images: image names trained on and held out. Default to ().
        steps / total_steps: optimizer steps done and planned. Default to None.
        wall_seconds: training wall-clock time. Defaults to None.
        final_loss: mean loss over the last logged steps. Defaults to None.
        best_validation: the best held-out scores (with ``step``). Defaults to None.
        validation_curve: ``{"step", "seconds", "f1", "auc"}`` per validation. Defaults to ().
        config: the run's configuration (``RunConfig`` as a dict). Defaults to None.
        fov_diameter: the learned scale: the FOV diameter in pixels of the training
            photographs as the network saw them (after any resampling). Defaults to None
            (unknown; see :func:`learned_fov_diameter`).
        sets: every data set trained on, with its terms and held-out figures (cards written
            before vesselnet recorded them have none). A run on several sets names itself
            ``dataset = "DRIVE+CHASE_DB1+LES_AV"`` (its sets' names joined by ``+``), its
            ``split`` likewise, and its images ``"<set>:<image>"``. Defaults to ().
    """

    dataset: str | None = None
    split: str | None = None
    train_images: tuple[str, ...] = ()
    validation_images: tuple[str, ...] = ()
    steps: int | None = None
    total_steps: int | None = None
    wall_seconds: float | None = None
    final_loss: float | None = None
    best_validation: Scores | None = None
    validation_curve: tuple[Scores, ...] = ()
    config: dict[str, Any] | None = None
    fov_diameter: float | None = None
    sets: tuple[DataSetRecord, ...] = ()


@dataclasses.dataclass(frozen=True)
class ExportRecord:
    """What an exported file holds (SavedModel or ``.tflite``).

    Args:
        format: ``"saved_model"`` or ``"tflite"``.
        tile_geometry: the fixed tile of the exported network.
        network_activation: the network's own output activation.
        vesselnet_version / created: who wrote it, and when (ISO 8601, UTC).
        name: the export's model name. Defaults to None.
        version: SavedModel version. Defaults to None.
        signatures: SavedModel signatures. Defaults to ().
        min_image_side: smallest photograph side ``serving_default`` takes. Defaults to None.
        quantization: TFLite variant (``float32``, ``float16``, ``dynamic``, ``int8``).
            Defaults to None.
        calibration_tiles: representative tiles of a full-int8 file. Defaults to None.
    """

    format: str
    tile_geometry: TileGeometry
    network_activation: str
    vesselnet_version: str
    created: str
    name: str | None = None
    version: int | None = None
    signatures: tuple[str, ...] = ()
    min_image_side: int | None = None
    quantization: str | None = None
    calibration_tiles: int | None = None


@dataclasses.dataclass(frozen=True)
class ModelCard:
    """The description of a trained network (see the module docstring).

    Args:
        model: architecture and build options.
        preprocessing: how a photograph becomes the network input. Defaults to the classic
            pipeline.
        tile_geometry: the training tile (the export's tile in an exported card). Defaults
            to None.
        training: data and provenance. Defaults to None (unknown, e.g. a plain ``.keras``).
        notes: Markdown for the "Notes" section. Defaults to None.
        export: what an exported file holds. Defaults to None (a bundle).
        vesselnet_version / created: set when the card is written. Default to None.

    Example:
        >>> ModelCard(Architecture("unet", filters=16, depth=4), CLASSIC_CONFIG)
    """

    model: Architecture
    preprocessing: PreprocessConfig = CLASSIC_CONFIG
    tile_geometry: TileGeometry | None = None
    training: TrainingRecord | None = None
    notes: str | None = None
    export: ExportRecord | None = None
    vesselnet_version: str | None = None
    created: str | None = None

    @property
    def validation_images(self) -> tuple[str, ...]:
        """The held-out image names (empty when unknown)."""
        return self.training.validation_images if self.training else ()

    def held_out_images(self, reader: str) -> tuple[str, ...]:
        """The images held out of training from the data set read with ``reader``.

        Names are as that data set's reader gives them (``"37_training"``), without the
        ``"<set>:"`` prefix of a run on several sets, so they can be matched against any copy
        of the data set. Empty when the network was not trained on it or the card does not
        say.

        Args:
            reader: a reader key: ``"drive"``, ``"chase_db1"``, ``"generic"``...
        """
        training = self.training
        if training is None:
            return ()
        if training.sets:
            return tuple(name.split(":", 1)[-1] for item in training.sets
                         if item.dataset == reader for name in item.validation_images)
        own = (training.dataset or "").lower().replace("-", "_")
        return training.validation_images if own == reader else ()

    @property
    def learned_fov_diameter(self) -> float | None:
        """The scale the network learned (FOV diameter in pixels): recorded by training, else
        :data:`DRIVE_FOV_DIAMETER` for a network trained on DRIVE, else None (unknown)."""
        training = self.training
        if training is None:
            return None
        if training.fov_diameter is not None:
            return training.fov_diameter
        return DRIVE_FOV_DIAMETER if (training.dataset or "").lower() == "drive" else None

    @property
    def best_validation(self) -> Scores | None:
        """The best held-out scores, or None."""
        return self.training.best_validation if self.training else None

    def stamped(self) -> ModelCard:
        """A copy with this vesselnet's version and the current time (UTC)."""
        return dataclasses.replace(self, vesselnet_version=__version__, created=now())

    def to_dict(self) -> dict:
        """The card as JSON-ready data (``format`` and ``format_version`` first)."""
        return json_ready({"format": CARD_FORMAT, "format_version": CARD_VERSION,
                           **to_plain(self)})

    def to_json(self) -> str:
        """The card as JSON text (NaN written as null)."""
        return json.dumps(self.to_dict(), indent=2, allow_nan=False) + "\n"

    @classmethod
    def from_dict(cls, data, source: str | Path = "card") -> ModelCard:
        """Reads a card of a known version; :class:`CardError` names ``source`` otherwise."""
        if not isinstance(data, dict):
            raise CardError(f"{source}: a card is a JSON object, got {type(data).__name__}")
        if data.get("format") != CARD_FORMAT:
            raise CardError(f"{source}: format {data.get('format')!r}, expected "
                            f"{CARD_FORMAT!r}")
        version = data.get("format_version")
        if version not in READABLE_VERSIONS:
            relation = ("newer than this vesselnet reads" if isinstance(version, int)
                        and version > CARD_VERSION else "not one this vesselnet reads")
            raise CardError(f"{source}: card format version {version!r} is {relation} "
                            f"(it reads {list(READABLE_VERSIONS)})")
        body = {key: value for key, value in data.items()
                if key not in ("format", "format_version")}
        if version == 1:
            body = _from_version_1(body)
        try:
            return from_plain(cls, body)
        except (TypeError, ValueError) as error:
            raise CardError(f"{source}: {error}") from None


def now() -> str:
    """The current time, UTC, ISO 8601 to the second."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def read_card_file(path: str | Path) -> ModelCard:
    """The card stored in the JSON file ``path``.

    Raises:
        CardError: not JSON, or not a card this vesselnet reads (the message names ``path``).
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CardError(f"{path}: cannot read the model card ({error})") from None
    return ModelCard.from_dict(data, path)


def _from_version_1(body: dict) -> dict:
    """A version 1 card's body in today's form: ``model.output_key`` (never read) dropped, and
    a member's missing validation curve (written as null) made empty."""
    body = dict(body)
    if isinstance(body.get("model"), dict):
        model = {key: value for key, value in body["model"].items() if key != "output_key"}
        members = []
        for member in model.get("members") or ():
            training = (member or {}).get("training")
            if isinstance(training, dict) and training.get("validation_curve") is None:
                member = {**member, "training": {**training, "validation_curve": []}}
            members.append(member)
        if "members" in model:
            model["members"] = members
        body["model"] = model
    return body


_RULE_NAMES = {"probability": "probabilities", "log_probability": "log-probabilities"}
_METRIC_ORDER = ("f1", "auc", "accuracy", "sensitivity", "specificity", "precision", "iou",
                 "mcc", "auc_pr")


def _figure(value) -> str:
    """A score with four decimals; ``n/a`` where the card has none (undefined scores)."""
    return "n/a" if value is None or value != value else f"{value:.4f}"


def card_markdown(card: ModelCard) -> str:
    """The human-readable model card (``README.md`` of a bundle) for ``card``.

    Every figure in it comes from ``card`` (written by training or by
    :func:`vesselnet.jobs.make_ensemble`), none is typed by hand.
    """
    model, training = card.model, card.training
    members = model.members
    lines = [f"# vesselnet model: {model.arch}", ""]
    if members:
        lines.append(f"- ensemble of {len(members)} networks, the mean of their "
                     f"{_RULE_NAMES.get(model.rule, model.rule)}, "
                     f"{model.parameters or 0:,} parameters, output "
                     f"`{model.output_activation}`")
        for index, member in enumerate(members, 1):
            lines.append(f"  - member {index}: {_architecture(member.model)}; "
                         f"{_trained(member.training)}")
    else:
        lines.append(f"- architecture: {_architecture(model)}")
    geometry = card.tile_geometry
    if geometry:
        lines.append(f"- training tile: {geometry.input_size} -> {geometry.output_size} pixels")
    steps = [step.name for step in card.preprocessing.steps]
    grayscale = card.preprocessing.to_dict()["grayscale"]
    lines.append(f"- preprocessing: grayscale {grayscale}, then {' -> '.join(steps) or 'nothing'}")
    if training:
        held_out = training.validation_images
        lines.append(f"- data: {training.dataset}, "
                     f"{_count(len(training.train_images), 'training image')}; "
                     f"validation on {_count(len(held_out), 'held-out image')} "
                     f"({', '.join(held_out)})")
        for item in training.sets:
            lines.append(_set_line(item))
        if not members:
            lines.append(f"- {_trained(training, with_best=False)}")
    best = training.best_validation if training else None
    header = "| " + " | ".join(_METRIC_ORDER) + " |"
    rule = "|" + "---|" * len(_METRIC_ORDER)
    if best and members:
        lines += ["", "## Validation (held-out images, inside the FOV, threshold 0.5)", "",
                  "| model | " + header[2:], "|---" + rule]
        rows = [(f"member {index}", member.validation)
                for index, member in enumerate(members, 1)] + [("ensemble", best)]
        lines += [f"| {name} | " + " | ".join(_figure(scores.get(key)) for key in _METRIC_ORDER)
                  + " |" for name, scores in rows if scores]
    elif best and training.sets and len(training.sets) > 1:
        lines += ["", f"## Best validation (step {best.get('step')}, chosen by the pooled F1; "
                  "inside the FOV, threshold 0.5)", "", "| data set | " + header[2:],
                  "|---" + rule]
        rows = [(item.name, item.best_validation) for item in training.sets]
        rows.append(("all sets pooled", best))
        lines += [f"| {name} | " + " | ".join(_figure((scores or {}).get(key))
                                              for key in _METRIC_ORDER) + " |"
                  for name, scores in rows]
    elif best:
        lines += ["", f"## Best validation (step {best.get('step')}, inside the FOV, "
                  "threshold 0.5)", "", header, rule,
                  "| " + " | ".join(_figure(best.get(key)) for key in _METRIC_ORDER) + " |"]
    curves = [("Validation curve", training.validation_curve if training else ())]
    curves += [(f"Validation curve of member {index}", member.training.validation_curve)
               for index, member in enumerate(members, 1)]
    for title, curve in curves:
        if curve:
            lines += ["", f"## {title}", "", "| step | minutes | F1 | AUC |", "|---|---|---|---|"]
            lines += [f"| {point['step']} | {point['seconds'] / 60:.1f} | {_figure(point['f1'])} "
                      f"| {_figure(point['auc'])} |" for point in curve]
    if card.notes:
        lines += ["", "## Notes", "", card.notes.strip()]
    lines += ["", f"Written by vesselnet {card.vesselnet_version} on {card.created}."
              " Validation images are held out of the training split; they are not the test set "
              "of the data set.", ""]
    return "\n".join(lines)


def _architecture(model: Architecture) -> str:
    return (f"`{model.arch}`, {model.filters} filters, depth {model.depth}, "
            f"{model.padding} padding, {model.parameters or 0:,} parameters, output "
            f"`{model.output_activation}`")


def _trained(training: TrainingRecord, with_best: bool = True) -> str:
    text = (f"trained {training.steps} of {training.total_steps} steps in "
            f"{_duration(training.wall_seconds or 0)} of wall-clock time")
    best = training.best_validation
    if best and with_best:
        text += (f" (best held-out F1 {_figure(best.get('f1'))}, AUC {_figure(best.get('auc'))}"
                 f" at step {best.get('step')})")
    return text


def _set_line(item: DataSetRecord) -> str:
    scale = f", its own FOV diameter {item.fov_diameter:.1f} px" \
        if item.fov_diameter is not None else ""
    return (f"  - {item.name} ({item.dataset}, split {item.split}): "
            f"{_count(len(item.train_images), 'training image')}, "
            f"{_count(len(item.validation_images), 'held-out image')}{scale}; terms: "
            f"{item.terms or 'not recorded'}")


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"
