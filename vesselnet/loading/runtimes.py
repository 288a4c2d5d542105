"""Exported networks as tile models that ``vesselnet.inference.predict_image`` can drive.

A tile model is what ``predict_image`` needs from a network when the tile geometry and the
activation are passed to it (``tile_size=model.geometry, activation=model.activation``):

- ``model(tiles, training=False)``: float32 tiles ``[B, T, T, C]`` (a ``tf.Tensor``, also
  inside ``tf.function``) -> ``[B, t, t, 1]`` float32, the vessel probability in one channel.
  That is the ``"sigmoid"`` layout of ``vessel_probability`` (channel 0, no transform), hence
  ``activation = "sigmoid"`` whatever the network's own output activation was.
- ``geometry``: the fixed :class:`~vesselnet.inference.TileGeometry`; ``facts``: the
  :class:`~vesselnet.models.NetworkFacts` (that tile, the ``"sigmoid"`` layout); ``input_shape``
  ``(None, T, T, C)``; ``output`` (a symbolic ``[None, t, t, 1]``, never a dict: exported
  models carry the final output only); ``name``.
- ``predict_tiles(tiles)``: the same on NumPy arrays, ``[B, t, t]``.

So a ``.tflite`` file or a SavedModel predicts whole images with the same tiling code as the
Keras network; preprocessing stays with the caller (see ``loading.LoadedModel``).

Example:
    >>> tile_model = TFLiteTileModel("export/vesselnet_372_int8.tflite")
    >>> predict_image(tile_model, network_input, tile_size=tile_model.geometry,
    ...               activation=tile_model.activation).shape
    (584, 565)
"""

from __future__ import annotations

import threading
import weakref
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from vesselnet.core.checks import check_int
from vesselnet.models import NetworkFacts, TileGeometry

TILE_MODEL_ACTIVATION = "sigmoid"  # one channel holding the probability: channel 0, as is


class TileModel:
    """Base of the exported tile models: geometry, shapes and the Keras-like call.

    Args:
        geometry: the fixed tile geometry.
        channels: input channels C.
        name: a readable name. Defaults to ``"exported"``.
    """

    activation = TILE_MODEL_ACTIVATION

    def __init__(self, geometry: TileGeometry, channels: int, name: str = "exported"):
        if not isinstance(geometry, TileGeometry):
            raise ValueError(f"geometry must be a TileGeometry, got {geometry!r}")
        check_int("channels", channels, 1)
        self.geometry = geometry
        self.facts = NetworkFacts(channels, self.activation, fixed=geometry)
        self.name = name
        self.input_shape = (None, geometry.input_size, geometry.input_size, channels)
        self.output = keras.KerasTensor((None, geometry.output_size, geometry.output_size, 1))

    def _probability(self, tiles: tf.Tensor) -> tf.Tensor:
        raise NotImplementedError

    def __call__(self, tiles, training: bool = False) -> tf.Tensor:
        tiles = tf.convert_to_tensor(tiles, tf.float32)
        probability = self._probability(tiles)
        size = self.geometry.output_size
        return tf.ensure_shape(probability, [None, size, size])[..., None]

    def predict_tiles(self, tiles) -> np.ndarray:
        """Vessel probability ``[B, t, t]`` of float32 tiles ``[B, T, T, C]``."""
        tiles = np.asarray(tiles, np.float32)
        if tiles.ndim != 4 or tiles.shape[1:] != self.input_shape[1:]:
            raise ValueError(f"tiles must be [B, {', '.join(map(str, self.input_shape[1:]))}], "
                             f"got shape {tiles.shape}")
        return self(tiles)[..., 0].numpy()


class TFLiteTileModel(TileModel):
    """A ``.tflite`` tile network run by LiteRT (``ai_edge_litert.interpreter.Interpreter``).

    Quantized (int8) input and output tensors are (de)quantized with their scale and zero
    point; the batch dimension is resized to each call's batch. Calls run one at a time.

    Args:
        path: the ``.tflite`` file.
        alignment: pooling period of the network (tile starts are multiples of it). Defaults
            to 1; the loader passes the one stored in the card.
        num_threads: LiteRT CPU threads. Defaults to None (LiteRT's default).
    """

    def __init__(self, path: str | Path, alignment: int = 1, num_threads: int | None = None):
        from ai_edge_litert.interpreter import Interpreter

        self.path = Path(path)
        if not self.path.is_file():
            raise ValueError(f"{self.path}: no such .tflite file")
        self._interpreter = Interpreter(model_path=str(self.path), num_threads=num_threads)
        self._interpreter.allocate_tensors()
        self._input = self._interpreter.get_input_details()[0]
        self._output = self._interpreter.get_output_details()[0]
        input_shape, output_shape = self._input["shape"], self._output["shape"]
        if len(input_shape) != 4 or input_shape[1] != input_shape[2] or len(output_shape) != 3:
            raise ValueError(f"{self.path}: not a vesselnet tile model (input {input_shape}, "
                             f"output {output_shape}; expected [B, T, T, C] -> [B, t, t])")
        self._lock = threading.Lock()
        self._batch = int(input_shape[0])
        geometry = TileGeometry(int(input_shape[1]), int(output_shape[1]), alignment)
        super().__init__(geometry, int(input_shape[3]), self.path.stem)

    @property
    def input_dtype(self) -> np.dtype:
        """dtype of the file's input tensor (float32, or int8 when fully quantized)."""
        return np.dtype(self._input["dtype"])

    def _run(self, tiles: np.ndarray) -> np.ndarray:
        with self._lock:
            interpreter, details = self._interpreter, self._input
            if len(tiles) != self._batch:
                interpreter.resize_tensor_input(details["index"], [len(tiles), *tiles.shape[1:]])
                interpreter.allocate_tensors()
                self._input = details = interpreter.get_input_details()[0]
                self._output = interpreter.get_output_details()[0]
                self._batch = len(tiles)
            scale, zero_point = details["quantization"]
            if scale:
                info = np.iinfo(details["dtype"])
                tiles = np.clip(np.round(tiles / scale + zero_point), info.min, info.max)
            interpreter.set_tensor(details["index"], tiles.astype(details["dtype"]))
            interpreter.invoke()
            result = interpreter.get_tensor(self._output["index"])
            scale, zero_point = self._output["quantization"]
            if scale:
                result = (result.astype(np.float32) - zero_point) * scale
            return result.astype(np.float32)

    def _probability(self, tiles):
        reference = weakref.ref(self)  # the traced function must not keep the model alive

        def run(batch):
            return reference()._run(batch)

        return tf.numpy_function(run, [tiles], tf.float32, stateful=True)


class SavedModelTileModel(TileModel):
    """The ``tile`` signature of a SavedModel written by ``export_saved_model``.

    Also runs the ``serving_default`` signature on photographs (:meth:`predict_photograph`).

    Args:
        path: the SavedModel (version) directory.
        alignment: pooling period of the network. Defaults to 1; the loader passes the one
            stored in the card.
    """

    def __init__(self, path: str | Path, alignment: int = 1):
        self.path = Path(path)
        self._loaded = tf.saved_model.load(str(self.path))
        signatures = self._loaded.signatures
        if "tile" not in signatures:
            raise ValueError(f"{self.path}: the SavedModel has no 'tile' signature (found "
                             f"{sorted(signatures)}); export it with vesselnet export")
        self._tile = signatures["tile"]
        inputs = self._tile.structured_input_signature[1]["tiles"].shape
        outputs = self._tile.structured_outputs["probability"].shape
        geometry = TileGeometry(int(inputs[1]), int(outputs[1]), alignment)
        super().__init__(geometry, int(inputs[3]), self.path.parent.name or "saved_model")

    def _probability(self, tiles):
        return self._tile(tiles=tiles)["probability"]

    def predict_photograph(self, image) -> tuple[np.ndarray, np.ndarray]:
        """``serving_default`` on a uint8 RGB photograph ``[H, W, 3]``.

        Returns:
            ``(probability, fov)``: float32 and bool ``[H, W]``.
        """
        image = np.asarray(image)
        if image.dtype != np.uint8 or image.ndim != 3:
            raise ValueError(f"image must be uint8 [H, W, 3], got dtype {image.dtype} and "
                             f"shape {image.shape}")
        result = self._loaded.signatures["serving_default"](image=tf.constant(image[None]))
        return result["probability"][0].numpy(), result["fov"][0].numpy().astype(bool)
