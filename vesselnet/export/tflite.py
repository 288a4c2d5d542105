"""TFLite export of the network alone, for a fixed tile size, in four precisions.

A ``.tflite`` file holds ``tiles [B, T, T, C] -> vessel probability [B, t, t]`` (batch
resizable, ``T`` and ``t`` fixed); preprocessing and tiling stay on the host
(:class:`~vesselnet.loading.runtimes.TFLiteTileModel` runs a file through
``vesselnet.inference.predict_image``). Quantizations (``QUANTIZATIONS``):

- ``float32``: no quantization.
- ``float16``: float16 weights, float32 compute on CPUs (half the size).
- ``dynamic``: dynamic-range quantization: int8 weights, activations quantized on the fly.
- ``int8``: full integer quantization, calibrated on representative tiles; int8 input and
  output tensors too (the host (de)quantizes with the tensors' scale and zero point).

The probability is computed as a softmax (or sigmoid) of the network's logits when the output
activation layer is found, which quantizes better than ``exp`` of a log-softmax. Beside each
``NAME_T_QUANT.tflite`` lands ``NAME_T_QUANT.json``: the bundle card with an ``export``
section (tile geometry, quantization), which the loader reads for preprocessing.

Example:
    >>> export_tflite(model, card, "export", quantizations=("float32", "int8"))
    {'float32': PosixPath('export/vesselnet_372_float32.tflite'), 'int8': ...}
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from vesselnet.card import ModelCard
from vesselnet.core.activations import check_activation
from vesselnet.core.files import atomic_write_bytes, atomic_write_text
from vesselnet.export.calibration import DEFAULT_CALIBRATION_TILES, calibration_tiles
from vesselnet.export.saved_model import export_card, export_geometry, save_signatures
from vesselnet.export.signatures import tile_probability_fn
from vesselnet.inference import TileGeometry, output_activation
from vesselnet.models.facts import output_layer_name

QUANTIZATIONS = ("float32", "float16", "dynamic", "int8")


def check_quantizations(quantizations: Sequence[str]) -> tuple[str, ...]:
    """Validated, de-duplicated quantization names (ValueError names the bad one)."""
    if isinstance(quantizations, str):
        quantizations = [part.strip() for part in quantizations.split(",") if part.strip()]
    names = tuple(dict.fromkeys(quantizations))
    unknown = [name for name in names if name not in QUANTIZATIONS]
    if unknown or not names:
        raise ValueError(f"quantizations must be among {QUANTIZATIONS}, got {list(quantizations)}")
    return names


def _logit_probability_fn(model: keras.Model, activation: str):
    """Softmax / sigmoid of the logits feeding the output activation, or None if not found."""
    name = output_layer_name(model)
    layer = model.get_layer(name) if name else None
    if not isinstance(layer, (keras.layers.Activation, keras.layers.Softmax)):
        return None
    logits_model = keras.Model(model.input, layer.input, name=f"{model.name}_logits")

    def probability(tiles):
        logits = logits_model(tiles, training=False)
        if activation == "sigmoid":
            return tf.sigmoid(logits[..., 0])
        return tf.nn.softmax(logits, axis=-1)[..., 1]

    return probability


def _save_tile_network(model: keras.Model, geometry: TileGeometry, activation: str,
                       directory: str) -> None:
    """Writes the tile network as a SavedModel, the converter's reliable source: it freezes
    the variables, which ``from_concrete_functions`` left as resource variables (NaN output)."""
    check_activation(activation)
    size, channels = geometry.input_size, model.input_shape[-1]
    probability = (_logit_probability_fn(model, activation)
                   or tile_probability_fn(model, activation))
    spec = tf.TensorSpec([None, size, size, channels], tf.float32, name="tiles")
    save_signatures(directory, {
        "serving_default": (lambda tiles: {"probability": probability(tiles)}, spec)})


def _convert(directory: str, quantization: str, tiles: np.ndarray | None) -> bytes:
    converter = tf.lite.TFLiteConverter.from_saved_model(directory)
    if quantization != "float32":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantization == "float16":
        converter.target_spec.supported_types = [tf.float16]
    elif quantization == "int8":
        converter.representative_dataset = lambda: ([tile[None]] for tile in tiles)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    return converter.convert()


def convert_tile_models(model: keras.Model, geometry: TileGeometry,
                        quantizations: Sequence[str] = QUANTIZATIONS, *,
                        representative_tiles: np.ndarray | None = None,
                        activation: str | None = None) -> dict[str, bytes]:
    """Converts the tile network to TFLite flatbuffers, one per quantization.

    Args:
        model: network of the U-Net family (output ``"final"``).
        geometry: the fixed tile geometry.
        quantizations: names from ``QUANTIZATIONS``. Defaults to all four.
        representative_tiles: float32 ``[N, T, T, C]`` preprocessed tiles, required for
            ``"int8"``. Defaults to None.
        activation: the output activation. Defaults to None (read from the model).

    Returns:
        ``{quantization: .tflite bytes}``.
    """
    quantizations = check_quantizations(quantizations)
    activation = output_activation(model) if activation is None else activation
    size, channels = geometry.input_size, model.input_shape[-1]
    tiles = None
    if "int8" in quantizations:
        tiles = None if representative_tiles is None else np.asarray(representative_tiles,
                                                                     np.float32)
        if tiles is None or tiles.ndim != 4 or tiles.shape[1:] != (size, size, channels) \
                or len(tiles) == 0:
            raise ValueError(f"int8 needs representative_tiles [N, {size}, {size}, {channels}], "
                             f"got {None if tiles is None else tiles.shape}")
    with tempfile.TemporaryDirectory(prefix="vesselnet-tflite-") as directory:
        _save_tile_network(model, geometry, activation, directory)
        return {name: _convert(directory, name, tiles) for name in quantizations}


def convert_tile_model(model: keras.Model, geometry: TileGeometry, quantization: str = "float32",
                       **options) -> bytes:
    """One variant of :func:`convert_tile_models` (same keyword options).

    Example:
        >>> content = convert_tile_model(model, tile_geometry(model, 372), "float16")
    """
    return convert_tile_models(model, geometry, [quantization], **options)[quantization]


def tflite_path(out_dir: str | Path, name: str, geometry: TileGeometry, quantization: str) -> Path:
    """Where :func:`export_tflite` writes one variant: ``out_dir/NAME_T_QUANT.tflite``."""
    return Path(out_dir) / f"{name}_{geometry.input_size}_{quantization}.tflite"


def export_tflite(model: keras.Model, card: ModelCard, out_dir: str | Path, *,
                  name: str = "vesselnet", tile_size: int | None = None,
                  quantizations: Sequence[str] = QUANTIZATIONS,
                  calibration_records: Iterable | None = None,
                  calibration_count: int = DEFAULT_CALIBRATION_TILES) -> dict[str, Path]:
    """Writes one ``.tflite`` (plus its ``.json`` card) per quantization, each atomically.

    Args:
        model: the network.
        card: its bundle card (``preprocessing`` for calibration; stored beside).
        out_dir: output folder.
        name: file name prefix. Defaults to ``"vesselnet"``.
        tile_size: input tile side. Defaults to None (the card's tile, else near 572).
        quantizations: names from ``QUANTIZATIONS``. Defaults to all four.
        calibration_records: ``ImageRecord``s for ``"int8"``. Defaults to None: four
            synthetic retinas (``vesselnet.data.synthetic_retina``, seeds 0-3).
        calibration_count: representative tiles for ``"int8"``. Defaults to 32.

    Returns:
        ``{quantization: path}``.
    """
    quantizations = check_quantizations(quantizations)
    config = card.preprocessing
    geometry = export_geometry(model, card, tile_size)
    activation = output_activation(model)
    tiles = None
    if "int8" in quantizations:
        if calibration_records is None:
            from vesselnet.data import synthetic_retina

            calibration_records = [synthetic_retina(seed) for seed in range(4)]
        tiles = calibration_tiles(calibration_records, config, geometry,
                                  count=calibration_count)
    contents = convert_tile_models(model, geometry, quantizations, representative_tiles=tiles,
                                   activation=activation)
    written = {}
    for quantization, content in contents.items():
        path = tflite_path(out_dir, name, geometry, quantization)
        variant_card = export_card(card, geometry=geometry, activation=activation, fmt="tflite",
                                   name=name, quantization=quantization,
                                   calibration_tiles=len(tiles) if quantization == "int8"
                                   else 0)
        atomic_write_text(path.with_suffix(".json"), variant_card.to_json())
        atomic_write_bytes(path, content)
        written[quantization] = path
    return written
