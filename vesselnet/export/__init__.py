"""Export and deployment: SavedModel for TF Serving, TFLite for edge devices.

- ``export_saved_model``: ``DIR/<name>/<version>/`` with the ``serving_default`` signature
  (uint8 photograph ``[1, H, W, 3]`` -> vessel probability and FOV ``[1, H, W]``; FOV,
  preprocessing and overlap-tile prediction in the graph) and the ``tile`` signature
  (preprocessed tiles ``[B, T, T, C]`` -> probability ``[B, t, t]``), plus ``DIR/models.config``.
- ``export_tflite`` / ``convert_tile_model``: the tile network as ``.tflite`` in float32,
  float16, dynamic-range int8 or full int8 (``QUANTIZATIONS``); ``calibration_tiles`` makes
  the representative tiles.
- Exported files are loaded back with :func:`vesselnet.loading.load_model`.
- ``serving``: REST client helpers (``predict_request``, ``parse_predict_response``, ...).
"""

from vesselnet.export.calibration import calibration_tiles
from vesselnet.export.saved_model import SIGNATURES, export_saved_model, write_models_config
from vesselnet.export.serving import parse_predict_response, predict_request
from vesselnet.export.signatures import MIN_IMAGE_SIDE
from vesselnet.export.tflite import QUANTIZATIONS, convert_tile_model, export_tflite

__all__ = [
    "MIN_IMAGE_SIDE",
    "QUANTIZATIONS",
    "SIGNATURES",
    "calibration_tiles",
    "convert_tile_model",
    "export_saved_model",
    "export_tflite",
    "parse_predict_response",
    "predict_request",
    "write_models_config",
]
