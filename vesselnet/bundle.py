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

import vesselnet.layers  # noqa: F401  (registers the custom layers for loading)
from vesselnet import __version__
from vesselnet.atomic import atomic_directory
from vesselnet.preprocessing import CLASSIC_CONFIG

MODEL_FILE = "model.keras"
CARD_FILE = "card.json"
FORMAT = "vesselnet.bundle"
FORMAT_VERSION = 1


def _json_ready(value):
    """Replaces NaN / infinity (not JSON) with None, recursively."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(key): _json_ready(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(item) for item in value]
    return value


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
    text = json.dumps(_json_ready(full_card), indent=2, allow_nan=False)
    with atomic_directory(path) as temporary:
        model.save(temporary / MODEL_FILE)
        (temporary / CARD_FILE).write_text(text + "\n", encoding="utf-8")
    return path


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
    if not (path / MODEL_FILE).is_file() or not (path / CARD_FILE).is_file():
        raise ValueError(f"{path}: not a model bundle (needs {MODEL_FILE} and {CARD_FILE}) "
                         "nor a .keras file")
    card = json.loads((path / CARD_FILE).read_text(encoding="utf-8"))
    if card.get("format") != FORMAT:
        raise ValueError(f"{path / CARD_FILE}: format {card.get('format')!r}, expected {FORMAT!r}")
    if card.get("format_version", 0) > FORMAT_VERSION:
        raise ValueError(f"{path}: bundle format version {card['format_version']} is newer "
                         f"than this vesselnet reads ({FORMAT_VERSION})")
    model = keras.saving.load_model(path / MODEL_FILE, compile=False)
    return model, card
