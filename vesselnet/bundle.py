"""Trained-model bundles: a directory with ``model.keras`` and ``card.json``.

The card tells everything needed to use the network: architecture and build options, the
preprocessing config, the tile geometry, and the training summary (steps, wall time,
validation curve, best validation scores). Bundles are written into a temporary sibling
directory and renamed into place, so readers never see a half-written bundle.

Example:
    >>> save_bundle("runs/drive/best", model, card)
    >>> model, card = load_bundle("runs/drive/best")
    >>> PreprocessConfig.from_dict(card["preprocessing"])
"""

from __future__ import annotations

import datetime
import json
import math
from pathlib import Path

import keras
import numpy as np

import vesselnet.layers  # noqa: F401  (registers the custom layers for loading)
from vesselnet import __version__
from vesselnet.core.files import atomic_directory, json_ready
from vesselnet.preprocessing import CLASSIC_CONFIG

MODEL_FILE = "model.keras"
CARD_FILE = "card.json"
README_FILE = "README.md"
FORMAT = "vesselnet.bundle"
FORMAT_VERSION = 1
PRETRAINED_DIR = Path(__file__).resolve().parent / "pretrained"
"""Bundles shipped inside the package, one directory each."""

DEFAULT_MODEL = PRETRAINED_DIR / "drive-ensemble"
"""The bundled pretrained model (a bundle directory), used when no model is given."""


def save_bundle(path: str | Path, model: keras.Model, card: dict) -> Path:
    """Writes ``model`` and ``card`` as the bundle directory ``path``, atomically.

    Args:
        path: bundle directory; an existing bundle there is replaced.
        model: the network.
        card: JSON-serialisable description; ``format``, ``format_version``,
            ``vesselnet_version`` and ``created`` are added.

    Returns:
        The bundle path.
    """
    if not isinstance(card, dict):
        raise ValueError(f"card must be a dict, got {type(card).__name__}")
    path = Path(path)
    full_card = {"format": FORMAT, "format_version": FORMAT_VERSION,
                 "vesselnet_version": __version__,
                 "created": datetime.datetime.now(datetime.timezone.utc).isoformat(
                     timespec="seconds"),
                 **card}
    text = json.dumps(json_ready(full_card), indent=2, allow_nan=False)
    with atomic_directory(path) as temporary:
        model.save(temporary / MODEL_FILE)
        (temporary / CARD_FILE).write_text(text + "\n", encoding="utf-8")
        (temporary / README_FILE).write_text(card_markdown(full_card), encoding="utf-8")
    return path


_RULE_NAMES = {"probability": "probabilities", "log_probability": "log-probabilities"}
_METRIC_ORDER = ("f1", "auc", "accuracy", "sensitivity", "specificity", "precision", "iou",
                 "mcc", "auc_pr")


def _figure(value) -> str:
    """A score with four decimals; ``n/a`` where the card has none (undefined scores)."""
    return "n/a" if value is None or value != value else f"{value:.4f}"


def card_markdown(card: dict) -> str:
    """The human-readable model card (``README.md`` of a bundle) for ``card``.

    Every figure in it comes from ``card`` (written by training or by
    :func:`vesselnet.jobs.ensemble.make_ensemble`), none is typed by hand.
    """
    model = card.get("model", {})
    training = card.get("training") or {}
    members = model.get("members")
    lines = [f"# vesselnet model: {model.get('arch', 'network')}", ""]
    if members:
        lines.append(f"- ensemble of {len(members)} networks, the mean of their "
                     f"{_RULE_NAMES.get(model.get('rule'), model.get('rule'))}, "
                     f"{model.get('parameters', 0):,} parameters, output "
                     f"`{model.get('output_activation')}`")
        for index, member in enumerate(members, 1):
            lines.append(f"  - member {index}: {_architecture(member.get('model', {}))}; "
                         f"{_trained(member.get('training') or {})}")
    else:
        lines.append(f"- architecture: {_architecture(model)}")
    geometry = card.get("tile_geometry")
    if geometry:
        lines.append(f"- training tile: {geometry['input_size']} -> {geometry['output_size']} "
                     "pixels")
    steps = [step.get("name") for step in card.get("preprocessing", {}).get("steps", [])]
    lines.append(f"- preprocessing: grayscale {card.get('preprocessing', {}).get('grayscale')}, "
                 f"then {' -> '.join(steps) or 'nothing'}")
    if training:
        held_out = training.get("validation_images", [])
        lines.append(f"- data: {training.get('dataset')}, "
                     f"{_count(len(training.get('train_images', [])), 'training image')}; "
                     f"validation on {_count(len(held_out), 'held-out image')} "
                     f"({', '.join(held_out)})")
        if not members:
            lines.append(f"- {_trained(training, with_best=False)}")
    best = training.get("best_validation")
    header = "| " + " | ".join(_METRIC_ORDER) + " |"
    rule = "|" + "---|" * len(_METRIC_ORDER)
    if best and members:
        lines += ["", "## Validation (held-out images, inside the FOV, threshold 0.5)", "",
                  "| model | " + header[2:], "|---" + rule]
        rows = [(f"member {index}", member.get("validation"))
                for index, member in enumerate(members, 1)] + [("ensemble", best)]
        lines += [f"| {name} | " + " | ".join(_figure(scores.get(key)) for key in _METRIC_ORDER)
                  + " |" for name, scores in rows if scores]
    elif best:
        lines += ["", f"## Best validation (step {best.get('step')}, inside the FOV, "
                  "threshold 0.5)", "", header, rule,
                  "| " + " | ".join(_figure(best.get(key)) for key in _METRIC_ORDER) + " |"]
    curves = [("Validation curve", training.get("validation_curve"))]
    curves += [(f"Validation curve of member {index}",
                (member.get("training") or {}).get("validation_curve"))
               for index, member in enumerate(members or (), 1)]
    for title, curve in curves:
        if curve:
            lines += ["", f"## {title}", "", "| step | minutes | F1 | AUC |", "|---|---|---|---|"]
            lines += [f"| {point['step']} | {point['seconds'] / 60:.1f} | {_figure(point['f1'])} "
                      f"| {_figure(point['auc'])} |" for point in curve]
    if card.get("notes"):
        lines += ["", "## Notes", "", str(card["notes"]).strip()]
    lines += ["", f"Written by vesselnet {card.get('vesselnet_version')} on {card.get('created')}."
              " Validation images are held out of the training split; they are not the test set "
              "of the data set.", ""]
    return "\n".join(lines)


def _architecture(model: dict) -> str:
    return (f"`{model.get('arch')}`, {model.get('filters')} filters, depth {model.get('depth')}, "
            f"{model.get('padding')} padding, {model.get('parameters', 0):,} parameters, output "
            f"`{model.get('output_activation')}`")


def _trained(training: dict, with_best: bool = True) -> str:
    text = (f"trained {training.get('steps')} of {training.get('total_steps')} steps in "
            f"{_duration(training.get('wall_seconds') or 0)} of wall-clock time")
    best = training.get("best_validation")
    if best and with_best:
        text += (f" (best held-out F1 {_figure(best.get('f1'))}, AUC {_figure(best.get('auc'))}"
                 f" at step {best.get('step')})")
    return text


def default_card(model: keras.Model) -> dict:
    """The card assumed for a plain ``.keras`` file: default (classic) preprocessing."""
    outputs = model.output if isinstance(model.output, dict) else None
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model": {"arch": model.name, "output_key": "final" if outputs else None},
        "preprocessing": CLASSIC_CONFIG.to_dict(),
        "tile_geometry": None,
        "training": None,
    }


def load_bundle(path: str | Path) -> tuple[keras.Model, dict]:
    """Loads a bundle directory, or a plain ``.keras`` file with :func:`default_card`.

    Returns:
        ``(model, card)``.

    Raises:
        ValueError: ``path`` is neither a bundle directory nor a ``.keras`` file.
    """
    path = Path(path)
    if path.is_file() and path.suffix == ".keras":
        model = keras.saving.load_model(path, compile=False)
        return model, default_card(model)
    card = read_card(path)
    model = keras.saving.load_model(path / MODEL_FILE, compile=False)
    return model, card


def read_card(path: str | Path) -> dict:
    """The card of the bundle directory ``path``, without loading the network.

    Raises:
        ValueError: ``path`` is not a bundle, or its card is of another format or newer.
    """
    path = Path(path)
    if not (path / MODEL_FILE).is_file() or not (path / CARD_FILE).is_file():
        raise ValueError(f"{path}: not a model bundle (needs {MODEL_FILE} and {CARD_FILE}) "
                         "nor a .keras file")
    card = json.loads((path / CARD_FILE).read_text(encoding="utf-8"))
    if card.get("format") != FORMAT:
        raise ValueError(f"{path / CARD_FILE}: format {card.get('format')!r}, expected {FORMAT!r}")
    if card.get("format_version", 0) > FORMAT_VERSION:
        raise ValueError(f"{path}: bundle format version {card['format_version']} is newer "
                         f"than this vesselnet reads ({FORMAT_VERSION})")
    return card


def pretrained_bundles() -> dict[str, Path]:
    """The bundled pretrained models by name (directory names under :data:`PRETRAINED_DIR`)."""
    if not PRETRAINED_DIR.is_dir():
        return {}
    return {path.name: path for path in sorted(PRETRAINED_DIR.iterdir())
            if (path / CARD_FILE).is_file() and (path / MODEL_FILE).is_file()}


def resolve_bundle(path: str | Path | None) -> Path:
    """The bundle a user means: None is :data:`DEFAULT_MODEL`, a bundled model's name is its
    directory, anything else is taken as a path.

    Raises:
        ValueError: None given and no pretrained model is bundled.
    """
    if path is None:
        if not DEFAULT_MODEL.exists():
            raise ValueError(f"no pretrained model is bundled yet ({DEFAULT_MODEL} is missing); "
                             "pass a model with --model (a bundle directory such as "
                             "runs/NAME/best, or a .keras file)")
        return DEFAULT_MODEL
    path = Path(path)
    if not path.exists() and str(path) in pretrained_bundles():
        return pretrained_bundles()[str(path)]
    return path


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"
