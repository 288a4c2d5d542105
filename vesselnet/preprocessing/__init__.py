"""Preprocessing of fundus photographs as TensorFlow ops (tf.data, Keras models, SavedModel).

- ``clahe`` / ``clahe_batch``: CLAHE bit-exact with OpenCV's ``cv2.createCLAHE(...).apply``.
- ``grayscale``, ``minmax_normalize``, ``zscore_normalize``, ``adjust_gamma``: per-image ops.
- ``PreprocessConfig`` / ``Step`` (defined in :mod:`vesselnet.config`): the pipeline as
  JSON-serialisable data; ``preprocess`` / ``preprocess_batch`` run it; ``fit_statistics``
  gives the data-set z-score statistics.
- ``Preprocess``: the pipeline as a Keras layer in front of a network.
- ``derive_fov_tf``: the field of view in TF ops (for exported graphs).
- ``fov_diameter`` / ``FovDiameter``: the FOV circle's diameter in pixels, on the host;
  ``fov_diameter_tf``: the same in TF ops (eager or in a graph).
"""

from vesselnet.config.preprocess import CLASSIC_CONFIG, PreprocessConfig
from vesselnet.config.steps import Step
from vesselnet.preprocessing.clahe import clahe, clahe_batch
from vesselnet.preprocessing.fov import derive_fov_tf
from vesselnet.preprocessing.fov_diameter import FovDiameter, fov_diameter, fov_diameter_tf
from vesselnet.preprocessing.keras_layer import Preprocess
from vesselnet.preprocessing.ops import adjust_gamma, grayscale, minmax_normalize, zscore_normalize
from vesselnet.preprocessing.pipeline import fit_statistics, preprocess, preprocess_batch

__all__ = [
    "CLASSIC_CONFIG",
    "FovDiameter",
    "Preprocess",
    "PreprocessConfig",
    "Step",
    "adjust_gamma",
    "clahe",
    "clahe_batch",
    "derive_fov_tf",
    "fit_statistics",
    "fov_diameter",
    "fov_diameter_tf",
    "grayscale",
    "minmax_normalize",
    "preprocess",
    "preprocess_batch",
    "zscore_normalize",
]
