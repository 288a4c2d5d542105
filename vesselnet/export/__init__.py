"""Export and deployment: SavedModel for TF Serving, TFLite for edge devices, one loader.

- ``export_saved_model``: ``DIR/<name>/<version>/`` with the ``serving_default`` signature
  (uint8 photograph ``[1, H, W, 3]`` -> vessel probability and FOV ``[1, H, W]``; FOV,
  preprocessing and overlap-tile prediction in the graph) and the ``tile`` signature
  (preprocessed tiles ``[B, T, T, C]`` -> probability ``[B, t, t]``), plus ``DIR/models.config``.
- ``export_tflite`` / ``convert_tile_model``: the tile network as ``.tflite`` in float32,
  float16, dynamic-range int8 or full int8 (``QUANTIZATIONS``); ``calibration_tiles`` makes
  the representative tiles.
- ``TFLiteTileModel`` / ``SavedModelTileModel``: exported networks as tile models that
  ``vesselnet.inference.predict_image`` drives (host tiling, LiteRT for ``.tflite``).
- ``load_any_model`` -> ``LoadedModel``: bundle, ``.keras``, SavedModel or ``.tflite``, one
  interface (``preprocessing``, ``predict(network_input)``, ``predict_arguments()``).
- ``derive_fov_tf``: the field of view in TF ops (``derive_fov`` minus its clean-up).
- ``serving``: REST client helpers (``predict_request``, ``parse_predict_response``, ...).
"""

from vesselnet.export.calibration import calibration_tiles
from vesselnet.export.saved_model import (
    SIGNATURES,
    existing_versions,
    export_saved_model,
    is_saved_model,
    read_saved_model_card,
    write_models_config,
)
from vesselnet.export.serving import parse_predict_response, predict_request
from vesselnet.export.signatures import MIN_IMAGE_SIDE
from vesselnet.export.tflite import (
    QUANTIZATIONS,
    check_quantizations,
    convert_tile_model,
    convert_tile_models,
    export_tflite,
)

__all__ = [
    "MIN_IMAGE_SIDE",
    "QUANTIZATIONS",
    "SIGNATURES",
    "calibration_tiles",
    "check_quantizations",
    "convert_tile_model",
    "convert_tile_models",
    "existing_versions",
    "export_saved_model",
    "export_tflite",
    "is_saved_model",
    "parse_predict_response",
    "predict_request",
    "read_saved_model_card",
    "write_models_config",
]
