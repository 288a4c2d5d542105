"""A trained model ready for whole photographs: load it, preprocess as its card says, predict.

Shared by ``vesselnet predict`` and ``vesselnet evaluate``: :func:`load_model_source` accepts
a bundle directory or a ``.keras`` file (other formats get a clear error), and
:class:`ModelRunner` turns an RGB photograph and its FOV mask into the vessel probability,
zero outside the FOV.
"""

from __future__ import annotations

import dataclasses
import zipfile
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from vesselnet.bundle import (
    CARD_FILE,
    DEFAULT_MODEL,  # noqa: F401  (re-exported by vesselnet.predict)
    MODEL_FILE,
    resolve_bundle,
)
from vesselnet.inference import DEFAULT_BATCH_SIZE, TTA_MODES
from vesselnet.loading.loader import LoadedModel, load_any_model
from vesselnet.preprocessing import PreprocessConfig, preprocess

NOT_YET_SUPPORTED = {".h5": "legacy HDF5"}
"""Model file suffixes recognised but not loadable, with the format's name."""


@dataclasses.dataclass(frozen=True)
class InferenceOptions:
    """How the network goes over a whole image (see :func:`vesselnet.inference.predict_image`).

    Args:
        tile_size: wanted input tile side. Defaults to None (the cheapest tile, up to 800).
        batch_size: network inputs per call. Defaults to 2.
        tta: test-time augmentation, False, True (= ``"flips"``), ``"flips"`` or
            ``"dihedral"``. Defaults to False.

    Example:
        >>> InferenceOptions(tile_size=372, tta=True)
    """

    tile_size: int | None = None
    batch_size: int = DEFAULT_BATCH_SIZE
    tta: bool | str = False

    def __post_init__(self):
        if self.tile_size is not None and (isinstance(self.tile_size, bool) or not isinstance(
                self.tile_size, int) or self.tile_size < 1):
            raise ValueError(f"tile_size must be None or an integer >= 1, got {self.tile_size!r}")
        if isinstance(self.batch_size, bool) or not isinstance(self.batch_size, int) \
                or self.batch_size < 1:
            raise ValueError(f"batch_size must be an integer >= 1, got {self.batch_size!r}")
        if not isinstance(self.tta, bool) and self.tta not in TTA_MODES:
            raise ValueError(f"tta must be True, False or one of {TTA_MODES}, got {self.tta!r}")


def _check_loadable(path: Path) -> None:
    """Raises ValueError naming ``path`` unless it looks like a model vesselnet loads."""
    if not path.exists():
        raise ValueError(f"{path}: model not found (expected a bundle directory with "
                         f"{MODEL_FILE} and {CARD_FILE}, a .keras or .tflite file, or a "
                         "SavedModel directory)")
    suffix = path.suffix.lower()
    if suffix in NOT_YET_SUPPORTED:
        raise ValueError(f"{path}: {NOT_YET_SUPPORTED[suffix]} models are not supported; "
                         "pass a bundle directory, a .keras or .tflite file or a SavedModel")
    if path.is_file() and suffix not in (".keras", ".tflite"):
        raise ValueError(f"{path}: unknown model format {path.suffix or '(no suffix)'!r}; "
                         "expected a bundle directory, a .keras or .tflite file or a SavedModel")
    keras_file = path if path.suffix.lower() == ".keras" else path / MODEL_FILE
    if keras_file.is_file() and not zipfile.is_zipfile(keras_file):
        raise ValueError(f"{keras_file}: cannot load the model: not a .keras file (a .keras "
                         "file is a zip archive); the file is damaged or of another format")


@dataclasses.dataclass(frozen=True)
class ModelRunner:
    """A loaded network with its preprocessing: photograph + FOV -> vessel probability.

    Args:
        model: the Keras network.
        card: the bundle card (``preprocessing`` and ``model`` sections are read).
        source: where the model was loaded from.
        options: tiling, batching and TTA. Defaults to ``InferenceOptions()``.

    Example:
        >>> runner = load_model_source("runs/drive/best")
        >>> probability = runner.probability(record.image, record.fov)
    """

    model: keras.Model
    card: dict
    source: Path
    options: InferenceOptions = dataclasses.field(default_factory=InferenceOptions)
    loaded: LoadedModel | None = None
    """The exported-or-Keras model behind ``model``; None builds one from ``model`` and ``card``."""

    def __post_init__(self):
        if self.loaded is None:
            object.__setattr__(self, "loaded", LoadedModel(self.model, self.card, self.source,
                                                           "keras"))

    @property
    def preprocessing(self) -> PreprocessConfig:
        """The preprocessing the network was trained with (from the card)."""
        return PreprocessConfig.from_dict(self.card["preprocessing"])

    @property
    def is_chained(self) -> bool:
        """True for a two-stage model whose output is ``{"stage1", "final"}``."""
        output = getattr(self.model, "output", None)  # exported tile models have one output
        return isinstance(output, dict) and "stage1" in output

    @property
    def description(self) -> str:
        """Short text naming the architecture, e.g. ``"chained (filters 16, depth 4)"`` or
        ``"ensemble (chained + unet)"``."""
        model = self.card.get("model") or {}
        arch = model.get("arch") or getattr(self.model, "name", self.source.name)
        if model.get("members"):
            return f"{arch} ({' + '.join(m['model'].get('arch') for m in model['members'])})"
        details = ", ".join(f"{key} {model[key]}" for key in ("filters", "depth") if key in model)
        return f"{arch} ({details})" if details else str(arch)

    def network_input(self, image: np.ndarray, fov: np.ndarray) -> np.ndarray:
        """The preprocessed float32 ``[H, W, C]`` input of a uint8 RGB photograph."""
        config = self.preprocessing
        return np.asarray(preprocess(image, config, fov if config.needs_fov else None))

    def probability(self, image: np.ndarray, fov: np.ndarray, output: str = "final",
                    network_input: np.ndarray | None = None) -> np.ndarray:
        """Vessel probability of a photograph, float32 ``[H, W]`` in [0, 1], 0 outside the FOV.

        Args:
            image: uint8 RGB photograph ``[H, W, 3]``.
            fov: bool field of view ``[H, W]``.
            output: ``"final"``, or ``"stage1"`` of a chained model. Defaults to ``"final"``.
            network_input: the image already preprocessed by :meth:`network_input` (saves
                preprocessing twice for two outputs). Defaults to None.
        """
        fov = np.asarray(fov, bool)
        if fov.shape != image.shape[:2]:
            raise ValueError(f"FOV mask is {fov.shape[1]}x{fov.shape[0]} (width x height) but "
                             f"the photograph is {image.shape[1]}x{image.shape[0]}")
        inputs = self.network_input(image, fov) if network_input is None else network_input
        probability = self.loaded.predict(inputs, tile_size=self.options.tile_size,
                                          batch_size=self.options.batch_size,
                                          tta=self.options.tta, output=output)
        return np.where(fov, np.clip(probability, 0.0, 1.0), 0.0).astype(np.float32)


def load_model_source(path: str | Path | None = None,
                      options: InferenceOptions = InferenceOptions()) -> ModelRunner:
    """Loads a bundle, ``.keras``, ``.tflite`` or SavedModel (default: :data:`DEFAULT_MODEL`).

    Args:
        path: bundle directory, ``.keras`` or ``.tflite`` file, SavedModel directory, or the
            name of a bundled model. Defaults to None, the bundled pretrained model.
        options: tiling, batching and TTA. Defaults to ``InferenceOptions()``.

    Returns:
        A :class:`ModelRunner`.

    Raises:
        ValueError: no model there, a format not supported, or a file that does not load;
            the message names the file.
    """
    path = resolve_bundle(path)
    _check_loadable(path)
    try:
        loaded = load_any_model(path)
        runner = ModelRunner(loaded.model, loaded.card, path, options, loaded)
        runner.preprocessing  # noqa: B018  (checks the card's preprocessing section)
    except (KeyError, TypeError, OSError, RuntimeError, zipfile.BadZipFile,
            tf.errors.OpError) as error:
        raise ValueError(f"{path}: cannot load the model ({type(error).__name__}: "
                         f"{error})") from None
    except ValueError as error:  # load_bundle's own messages start with the path
        message = str(error)
        raise ValueError(message if message.startswith(str(path))
                         else f"{path}: cannot load the model ({message})") from None
    return runner
