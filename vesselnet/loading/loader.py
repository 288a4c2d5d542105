"""``load_model``: the one loader for every form a vesselnet network is kept in.

Accepted: the name of a bundled model, a bundle directory (``model.keras`` + ``card.json``),
a ``.keras`` file, a SavedModel version directory or a TF Serving model directory (its
highest version), and a ``.tflite`` file (its ``.json`` card beside it, when present, gives
preprocessing and alignment). All come back as a :class:`LoadedModel`, which turns a
photograph and its FOV into the vessel probability, tiling the same way whatever the format.
Anything that cannot be loaded is one ``ValueError`` naming the file and the problem.

Example:
    >>> loaded = load_model("export/vesselnet_372_int8.tflite")
    >>> probability = loaded.probability(record.image, record.fov)
"""

from __future__ import annotations

import dataclasses
import zipfile
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from vesselnet.bundle import CARD_FILE, MODEL_FILE, is_bundle, load_bundle, resolve_bundle
from vesselnet.card import Architecture, ModelCard, read_card_file
from vesselnet.export.saved_model import CARD_ASSET, existing_versions, is_saved_model
from vesselnet.inference import InferenceOptions, TileGeometry, network_facts, predict_image
from vesselnet.inference.precision import resolve_precision, with_precision
from vesselnet.inference.scale import ScaleChoice, choose_scale
from vesselnet.loading.runtimes import SavedModelTileModel, TFLiteTileModel, TileModel
from vesselnet.preprocessing import PreprocessConfig, preprocess
from vesselnet.preprocessing.resample import resample_map, resample_photograph

FORMATS = ("bundle", "keras", "saved_model", "tflite")
NOT_SUPPORTED = {".h5": "legacy HDF5"}
"""Model file suffixes recognised but not loadable, with the format's name."""
_EXPECTED = (f"a bundle directory with {MODEL_FILE} and {CARD_FILE}, a .keras or .tflite file, "
             "a SavedModel directory, or the name of a bundled model")


@dataclasses.dataclass(frozen=True)
class LoadedModel:
    """A trained network in any format with its card: photograph + FOV -> vessel probability.

    Args:
        model: a ``keras.Model`` (bundle, ``.keras``) or a
            :class:`~vesselnet.loading.runtimes.TileModel` (SavedModel, TFLite).
        card: the model card (for exports, with its ``export`` record).
        source: the path it was loaded from.
        format: one of ``FORMATS``.
        options: tiling, batching and TTA. Defaults to ``InferenceOptions()``.

    Example:
        >>> loaded = load_model("runs/drive/best", InferenceOptions(tta=True))
        >>> loaded.probability(record.image, record.fov).shape
        (584, 565)
    """

    model: keras.Model | TileModel
    card: ModelCard
    source: Path
    format: str
    options: InferenceOptions = dataclasses.field(default_factory=InferenceOptions)

    @property
    def preprocessing(self) -> PreprocessConfig:
        """The preprocessing the network was trained with (from the card)."""
        return self.card.preprocessing

    @property
    def geometry(self) -> TileGeometry | None:
        """The fixed tile geometry of an exported model; None for Keras (any valid tile)."""
        return self.model.geometry if isinstance(self.model, TileModel) else None

    @property
    def is_chained(self) -> bool:
        """True for a two-stage model whose output is ``{"stage1", "final"}``."""
        facts = network_facts(self.model)
        return facts is not None and "stage1" in facts.outputs

    @property
    def precision(self) -> str:
        """The arithmetic of the network: ``"float32"`` or ``"mixed_bfloat16"`` (the
        :attr:`options`' precision, ``"auto"`` resolved), or ``"exported"`` (the file's own)."""
        if isinstance(self.model, keras.Model):
            return resolve_precision(self.options.precision)
        return "exported"

    @property
    def description(self) -> str:
        """Short text naming the architecture, e.g. ``"chained (filters 16, depth 4)"``."""
        return self.card.model.describe()

    def predict_arguments(self, tile_size: int | None = None) -> dict:
        """``tile_size`` to give ``predict_image`` for this model.

        Raises:
            ValueError: an exported model asked for a tile size other than its own.
        """
        if self.geometry is None:
            return {"tile_size": tile_size}
        if tile_size not in (None, self.geometry.input_size):
            raise ValueError(f"{self.source}: the exported model takes fixed "
                             f"{self.geometry.input_size}-pixel tiles, got tile_size={tile_size}")
        return {"tile_size": self.geometry}

    def predict(self, network_input, *, tile_size: int | None = None,
                batch_size: int | None = None, tta=None, output: str = "final",
                progress=None) -> np.ndarray:
        """Vessel probability ``[H, W]`` of a preprocessed image ``[H, W, C]``.

        Same arguments as ``vesselnet.inference.predict_image``; those not given come from
        :attr:`options`. Exported models only have the ``"final"`` output and their own tile.
        """
        options = self.options
        return predict_image(
            self.model, network_input, output=output, progress=progress,
            batch_size=options.batch_size if batch_size is None else batch_size,
            tta=options.tta if tta is None else tta,
            **self.predict_arguments(options.tile_size if tile_size is None else tile_size))

    def network_input(self, image: np.ndarray, fov: np.ndarray) -> np.ndarray:
        """The preprocessed float32 ``[H, W, C]`` input of a uint8 RGB photograph."""
        return np.asarray(preprocess(image, self.preprocessing, fov))

    def choose_scale(self, fov: np.ndarray) -> ScaleChoice:
        """The scale a photograph with this FOV is predicted at, as :attr:`options` say."""
        return choose_scale(self.options.scale, learned=self.card.learned_fov_diameter,
                            fov=fov, fov_diameter_px=self.options.fov_diameter)

    def predict_photograph(self, image: np.ndarray, fov: np.ndarray,
                           outputs: tuple[str, ...] = ("final",), *,
                           progress=None) -> PhotographPrediction:
        """Vessel probability maps of a photograph, at the network's scale (see
        :attr:`options`), on the photograph's own grid, 0 outside its FOV.

        The photograph and its FOV are resampled by the chosen factor (when it is not 1),
        preprocessed and predicted; each map is resampled back to ``[H, W]``.

        Args:
            image: uint8 RGB photograph ``[H, W, 3]``.
            fov: bool field of view ``[H, W]``.
            outputs: ``"final"`` and/or ``"stage1"`` (chained model). Defaults to
                ``("final",)``.
            progress: ``progress(tiles_done, tiles_total)`` after each network call (see
                ``vesselnet.inference.predict_image``). Defaults to None.

        Returns:
            A :class:`PhotographPrediction`: float32 maps in [0, 1] by output, and the scale.
        """
        fov = np.asarray(fov, bool)
        if fov.shape != image.shape[:2]:
            raise ValueError(f"FOV mask is {fov.shape[1]}x{fov.shape[0]} (width x height) but "
                             f"the photograph is {image.shape[1]}x{image.shape[0]}")
        scale = self.choose_scale(fov)
        network_image, network_fov = image, fov
        if scale.factor != 1.0:
            network_image, network_fov = (np.asarray(item) for item in resample_photograph(
                image, fov, scale.factor))
        inputs = self.network_input(network_image, network_fov)
        maps = {}
        for output in outputs:
            probability = self.predict(inputs, output=output, progress=progress)
            if scale.factor != 1.0:
                probability = np.asarray(resample_map(probability, image.shape[:2]))
            maps[output] = np.where(fov, np.clip(probability, 0.0, 1.0), 0.0).astype(np.float32)
        return PhotographPrediction(maps, scale)

    def probability(self, image: np.ndarray, fov: np.ndarray,
                    output: str = "final") -> np.ndarray:
        """Vessel probability of a photograph, float32 ``[H, W]`` in [0, 1], 0 outside the FOV
        (:meth:`predict_photograph` for one output).

        Args:
            image: uint8 RGB photograph ``[H, W, 3]``.
            fov: bool field of view ``[H, W]``.
            output: ``"final"``, or ``"stage1"`` of a chained model. Defaults to ``"final"``.
        """
        return self.predict_photograph(image, fov, (output,)).maps[output]


@dataclasses.dataclass(frozen=True)
class PhotographPrediction:
    """The maps of one photograph and the scale they were predicted at.

    Args:
        maps: float32 ``[H, W]`` vessel probability by output name (``"final"``, ...).
        scale: the :class:`~vesselnet.inference.scale.ScaleChoice` applied.
    """

    maps: dict[str, np.ndarray]
    scale: ScaleChoice


def _exported_card(path: Path, tile_model_name: str) -> ModelCard:
    """The card written beside an exported file, or the classic default when there is none."""
    if path.is_file():
        return read_card_file(path)
    return ModelCard(Architecture(tile_model_name))


def _alignment(card_path: Path) -> int:
    if not card_path.is_file():
        return 1
    export = read_card_file(card_path).export
    return export.tile_geometry.alignment if export else 1


def _load_saved_model(path: Path) -> tuple:
    tile_model = SavedModelTileModel(path, _alignment(path / CARD_ASSET))
    return tile_model, _exported_card(path / CARD_ASSET, tile_model.name), path, "saved_model"


def _load_tflite(path: Path, num_threads: int | None) -> tuple:
    card_path = path.with_suffix(".json")
    tile_model = TFLiteTileModel(path, _alignment(card_path), num_threads=num_threads)
    return tile_model, _exported_card(card_path, tile_model.name), path, "tflite"


def _load(path: Path, num_threads: int | None) -> tuple:
    """``(model, card, source, format)`` of an existing ``path``; ValueError for other things."""
    suffix = path.suffix.lower()
    if suffix in NOT_SUPPORTED:
        raise ValueError(f"{path}: {NOT_SUPPORTED[suffix]} models are not supported; pass "
                         f"{_EXPECTED}")
    if path.is_file():
        if suffix == ".tflite":
            return _load_tflite(path, num_threads)
        if suffix != ".keras":
            raise ValueError(f"{path}: unknown model format {path.suffix or '(no suffix)'!r}; "
                             f"expected {_EXPECTED}")
    keras_file = path if suffix == ".keras" else path / MODEL_FILE
    if keras_file.is_file() and not zipfile.is_zipfile(keras_file):
        raise ValueError(f"{keras_file}: cannot load the model: not a .keras file (a .keras "
                         "file is a zip archive); the file is damaged or of another format")
    if path.is_file() or is_bundle(path):
        model, card = load_bundle(path)
        return model, card, path, "keras" if path.is_file() else "bundle"
    if is_saved_model(path):
        return _load_saved_model(path)
    versions = existing_versions(path)
    if versions:
        return _load_saved_model(path / str(versions[-1]))
    raise ValueError(f"{path}: not a model: expected {_EXPECTED}")


def load_model(source: str | Path | None = None, options: InferenceOptions | None = None, *,
               num_threads: int | None = None) -> LoadedModel:
    """Loads a model in any of its forms (default: the bundled pretrained model).

    Args:
        source: the name of a bundled model, a bundle directory, a ``.keras`` or ``.tflite``
            file, a SavedModel directory or a TF Serving model directory (its highest
            version). Defaults to None, the bundled pretrained model.
        options: tiling, batching and TTA. Defaults to None (``InferenceOptions()``).
        num_threads: LiteRT CPU threads for ``.tflite`` files. Defaults to None.

    Returns:
        A :class:`LoadedModel`.

    Raises:
        ValueError: no model there, a format not supported, or a file that does not load;
            the message names the file.
    """
    path = resolve_bundle(source)
    if not path.exists():
        raise ValueError(f"{path}: model not found (expected {_EXPECTED})")
    try:
        model, card, path, fmt = _load(path, num_threads)
    except (KeyError, TypeError, OSError, RuntimeError, zipfile.BadZipFile,
            tf.errors.OpError) as error:
        raise ValueError(f"{path}: cannot load the model ({type(error).__name__}: "
                         f"{error})") from None
    except ValueError as error:  # the messages of this module and the card name the file
        message = str(error)
        raise ValueError(message if str(path) in message
                         else f"{path}: cannot load the model ({message})") from None
    options = options or InferenceOptions()
    return LoadedModel(_in_precision(model, path, options.precision), card, path, fmt, options)


def _in_precision(model, path: Path, precision: str):
    """A Keras ``model`` in ``precision``; exports keep theirs (``"mixed_bfloat16"`` refused)."""
    if isinstance(model, keras.Model):
        return with_precision(model, resolve_precision(precision))
    if precision == "mixed_bfloat16":
        raise ValueError(f"{path}: an exported model computes in the precision it was "
                         "exported with; precision 'mixed_bfloat16' applies to Keras models")
    return model
