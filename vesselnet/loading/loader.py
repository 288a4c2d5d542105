"""``load_any_model``: one loader for every form a vesselnet network is kept in.

Accepted: a bundle directory (``model.keras`` + ``card.json``), a ``.keras`` file, a
SavedModel version directory or a TF Serving model directory (its highest version), and a
``.tflite`` file (its ``.json`` card beside it, when present, gives preprocessing and
alignment). All come back as a :class:`LoadedModel`, whose ``predict`` takes the preprocessed
image and tiles it the same way whatever the format.

Example:
    >>> loaded = load_any_model("export/vesselnet_372_int8.tflite")
    >>> network_input = preprocess(image, loaded.preprocessing)
    >>> probability = loaded.predict(network_input, batch_size=4)
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import keras
import numpy as np

from vesselnet.bundle import CARD_FILE, MODEL_FILE, load_bundle
from vesselnet.export.saved_model import existing_versions, is_saved_model, read_saved_model_card
from vesselnet.inference import DEFAULT_BATCH_SIZE, TileGeometry, predict_image
from vesselnet.loading.runtimes import SavedModelTileModel, TFLiteTileModel, TileModel
from vesselnet.preprocessing import CLASSIC_CONFIG, PreprocessConfig

FORMATS = ("bundle", "keras", "saved_model", "tflite")


@dataclasses.dataclass(frozen=True)
class LoadedModel:
    """A network in any format, with its card, ready for ``predict_image``.

    Args:
        model: a ``keras.Model`` (bundle, ``.keras``) or a
            :class:`~vesselnet.loading.runtimes.TileModel` (SavedModel, TFLite); both go
            into ``vesselnet.inference.predict_image`` with :meth:`predict_arguments`.
        card: the bundle card (``preprocessing``, ``model``, ``tile_geometry``, and for
            exports an ``export`` section).
        source: the path it was loaded from.
        format: one of ``FORMATS``.

    Example:
        >>> loaded = load_any_model("export/vesselnet")
        >>> loaded.format, loaded.geometry
        ('saved_model', TileGeometry(input_size=372, output_size=196, alignment=8))
    """

    model: keras.Model | TileModel
    card: dict
    source: Path
    format: str

    @property
    def preprocessing(self) -> PreprocessConfig:
        """The preprocessing the network was trained with (from the card)."""
        return PreprocessConfig.from_dict(self.card.get("preprocessing") or {})

    @property
    def geometry(self) -> TileGeometry | None:
        """The fixed tile geometry of an exported model; None for Keras (any valid tile)."""
        return self.model.geometry if isinstance(self.model, TileModel) else None

    def predict_arguments(self, tile_size: int | None = None) -> dict:
        """``tile_size`` and ``activation`` to give ``predict_image`` for this model.

        Raises:
            ValueError: an exported model asked for a tile size other than its own.
        """
        if self.geometry is None:
            return {"tile_size": tile_size}
        if tile_size not in (None, self.geometry.input_size):
            raise ValueError(f"{self.source}: the exported model takes fixed "
                             f"{self.geometry.input_size}-pixel tiles, got tile_size={tile_size}")
        return {"tile_size": self.geometry, "activation": self.model.activation}

    def predict(self, network_input, *, tile_size: int | None = None,
                batch_size: int = DEFAULT_BATCH_SIZE, tta=False, output: str = "final"
                ) -> np.ndarray:
        """Vessel probability ``[H, W]`` of a preprocessed image ``[H, W, C]``.

        Same arguments as ``vesselnet.inference.predict_image``; exported models only have
        the ``"final"`` output and their own tile size.
        """
        return predict_image(self.model, network_input, batch_size=batch_size, tta=tta,
                             output=output, **self.predict_arguments(tile_size))


def _fallback_card() -> dict:
    return {"preprocessing": CLASSIC_CONFIG.to_dict(), "model": None, "tile_geometry": None}


def _alignment(card: dict) -> int:
    return int(((card.get("export") or {}).get("tile_geometry") or {}).get("alignment", 1))


def _load_saved_model(path: Path) -> LoadedModel:
    card = read_saved_model_card(path) or _fallback_card()
    return LoadedModel(SavedModelTileModel(path, _alignment(card)), card, path, "saved_model")


def _load_tflite(path: Path, num_threads: int | None) -> LoadedModel:
    card_path = path.with_suffix(".json")
    card = (json.loads(card_path.read_text(encoding="utf-8")) if card_path.is_file()
            else _fallback_card())
    model = TFLiteTileModel(path, _alignment(card), num_threads=num_threads)
    return LoadedModel(model, card, path, "tflite")


def load_any_model(path: str | Path, *, num_threads: int | None = None) -> LoadedModel:
    """Loads a bundle, ``.keras`` file, SavedModel or ``.tflite`` file.

    Args:
        path: a bundle directory, a ``.keras`` file, a SavedModel version directory, a TF
            Serving model directory (``NAME/`` holding integer versions: the highest is
            loaded), or a ``.tflite`` file.
        num_threads: LiteRT CPU threads for ``.tflite`` files. Defaults to None.

    Returns:
        A :class:`LoadedModel`.

    Raises:
        ValueError: nothing loadable at ``path`` (the message names it and what was expected).
    """
    path = Path(path)
    if not path.exists():
        raise ValueError(f"{path}: model not found")
    if path.is_file():
        if path.suffix == ".tflite":
            return _load_tflite(path, num_threads)
        if path.suffix == ".keras":
            model, card = load_bundle(path)
            return LoadedModel(model, card, path, "keras")
        raise ValueError(f"{path}: unknown model file type {path.suffix or '(no suffix)'!r}; "
                         "expected .keras or .tflite")
    if (path / MODEL_FILE).is_file() and (path / CARD_FILE).is_file():
        model, card = load_bundle(path)
        return LoadedModel(model, card, path, "bundle")
    if is_saved_model(path):
        return _load_saved_model(path)
    versions = existing_versions(path)
    if versions:
        return _load_saved_model(path / str(versions[-1]))
    raise ValueError(f"{path}: not a model: expected a bundle directory ({MODEL_FILE} + "
                     f"{CARD_FILE}), a SavedModel directory (or a folder of integer versions), "
                     "a .keras or a .tflite file")
