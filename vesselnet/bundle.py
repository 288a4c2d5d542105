"""Trained-model bundles: a directory with ``model.keras``, ``card.json`` and ``README.md``.

The card (:class:`~vesselnet.card.ModelCard`) tells everything needed to use the network;
``README.md`` is the card rendered for people. Bundles are written into a temporary sibling
directory and renamed into place, so readers never see a half-written bundle. Bundled
pretrained models live in ``vesselnet/pretrained/NAME/``.

Example:
    >>> save_bundle("runs/drive/best", model, card)
    >>> model, card = load_bundle("runs/drive/best")
    >>> card.preprocessing
"""

from __future__ import annotations

from pathlib import Path

import keras

import vesselnet.layers  # noqa: F401  (registers the custom layers for loading)
from vesselnet.card import Architecture, ModelCard, card_markdown, read_card_file
from vesselnet.core.files import atomic_directory
from vesselnet.models import describe_network

MODEL_FILE = "model.keras"
CARD_FILE = "card.json"
README_FILE = "README.md"
PRETRAINED_DIR = Path(__file__).resolve().parent / "pretrained"
"""Bundles shipped inside the package, one directory each."""

DEFAULT_MODEL = PRETRAINED_DIR / "multi-chained"
"""The bundled pretrained model (a bundle directory), used when no model is given."""


def save_bundle(path: str | Path, model: keras.Model, card: ModelCard) -> Path:
    """Writes ``model`` and ``card`` as the bundle directory ``path``, atomically.

    Args:
        path: bundle directory; an existing bundle there is replaced.
        model: the network.
        card: its card; the vesselnet version and the time are stamped on it.

    Returns:
        The bundle path.
    """
    if not isinstance(card, ModelCard):
        raise ValueError(f"card must be a ModelCard, got {type(card).__name__}")
    path = Path(path)
    card = card.stamped()
    with atomic_directory(path) as temporary:
        model.save(temporary / MODEL_FILE)
        (temporary / CARD_FILE).write_text(card.to_json(), encoding="utf-8")
        (temporary / README_FILE).write_text(card_markdown(card), encoding="utf-8")
    return path


def network_architecture(model: keras.Model) -> Architecture:
    """What a model says of itself: its name, channels, output activation and weights."""
    facts = describe_network(model)
    return Architecture(arch=model.name, channels=facts.channels if facts else None,
                        output_activation=facts.activation if facts else None,
                        parameters=int(model.count_params()))


def default_card(model: keras.Model) -> ModelCard:
    """The card assumed for a plain ``.keras`` file: default (classic) preprocessing."""
    return ModelCard(network_architecture(model))


def is_bundle(path: str | Path) -> bool:
    """True for a directory holding ``model.keras`` and ``card.json``."""
    path = Path(path)
    return (path / MODEL_FILE).is_file() and (path / CARD_FILE).is_file()


def read_card(path: str | Path) -> ModelCard:
    """The card of the bundle directory ``path``, without loading the network.

    Raises:
        ValueError: ``path`` is not a bundle, or its card is of another format or version
            (:class:`~vesselnet.card.CardError`).
    """
    path = Path(path)
    if not is_bundle(path):
        raise ValueError(f"{path}: not a model bundle (needs {MODEL_FILE} and {CARD_FILE}) "
                         "nor a .keras file")
    return read_card_file(path / CARD_FILE)


def load_bundle(path: str | Path) -> tuple[keras.Model, ModelCard]:
    """Loads a bundle directory, or a plain ``.keras`` file with :func:`default_card`.

    Returns:
        ``(model, card)``.

    Raises:
        ValueError: ``path`` is neither a bundle directory nor a ``.keras`` file, or its card
            cannot be read.
    """
    path = Path(path)
    if path.is_file() and path.suffix == ".keras":
        model = keras.saving.load_model(path, compile=False)
        return model, default_card(model)
    card = read_card(path)
    model = keras.saving.load_model(path / MODEL_FILE, compile=False)
    return model, card


def pretrained_bundles() -> dict[str, Path]:
    """The bundled pretrained models by name (directory names under :data:`PRETRAINED_DIR`)."""
    if not PRETRAINED_DIR.is_dir():
        return {}
    return {path.name: path for path in sorted(PRETRAINED_DIR.iterdir()) if is_bundle(path)}


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
