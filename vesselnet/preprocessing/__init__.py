"""Preprocessing of fundus photographs as TensorFlow ops (tf.data, Keras models, SavedModel).

- ``clahe`` / ``clahe_batch``: CLAHE bit-exact with OpenCV's ``cv2.createCLAHE(...).apply``.
- ``grayscale``, ``minmax_normalize``, ``zscore_normalize``, ``adjust_gamma``: per-image ops.
- ``PreprocessConfig`` / ``Step`` (defined in :mod:`vesselnet.config`): the pipeline as
  JSON-serialisable data; ``preprocess`` / ``preprocess_batch`` run it; ``fit_statistics``
  gives the data-set z-score statistics.
- ``Preprocess``: the pipeline as a Keras layer in front of a network.
- ``derive_fov_tf``: the field of view in TF ops (for exported graphs).
"""

from vesselnet.config.preprocess import CLASSIC_CONFIG, PreprocessConfig
from vesselnet.config.steps import CLASSIC_STEPS, STEP_PARAMETERS, Step
from vesselnet.preprocessing.clahe import clahe, clahe_batch, clahe_reference
from vesselnet.preprocessing.fov import derive_fov_tf
from vesselnet.preprocessing.keras_layer import Preprocess
from vesselnet.preprocessing.ops import (
    DEFAULT_GRAYSCALE,
    GRAYSCALE_PRESETS,
    GREEN_WEIGHTS,
    ITU_R_601_WEIGHTS,
    adjust_gamma,
    grayscale,
    minmax_normalize,
    to_uint8,
    zscore_normalize,
)
from vesselnet.preprocessing.pipeline import fit_statistics, preprocess, preprocess_batch

__all__ = [
    "CLASSIC_CONFIG",
    "CLASSIC_STEPS",
    "DEFAULT_GRAYSCALE",
    "GRAYSCALE_PRESETS",
    "GREEN_WEIGHTS",
    "ITU_R_601_WEIGHTS",
    "Preprocess",
    "derive_fov_tf",
    "PreprocessConfig",
    "STEP_PARAMETERS",
    "Step",
    "adjust_gamma",
    "clahe",
    "clahe_batch",
    "clahe_reference",
    "fit_statistics",
    "grayscale",
    "minmax_normalize",
    "preprocess",
    "preprocess_batch",
    "to_uint8",
    "zscore_normalize",
]
