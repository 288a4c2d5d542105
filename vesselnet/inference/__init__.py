"""Whole-image prediction by overlap-tile strategy (Ronneberger et al. 2015, Fig. 2).

- ``TileGeometry`` / ``tile_geometry``: input and output tile of a network, from its
  :class:`~vesselnet.models.NetworkFacts` (other models are probed by tracing).
- ``InferenceOptions``: tile size, batch size and test-time augmentation of a prediction.
- ``output_activation`` / ``vessel_probability`` / ``select_output``: from a model's output
  (log-softmax, softmax, sigmoid; dict of the chained model) to the vessel probability.
- ``overlap_tile_predict_tf``: the core in TF ops (mirror padding, tile grid, batched
  ``tf.while_loop``, blended accumulation), usable in a ``tf.function`` with unknown H, W.
- ``flip_tta``: test-time augmentation of tiles by flips (and transposes).
- ``choose_tile_geometry``, ``default_overlap``, ``default_context``: default tile settings.
- ``make_tiled_predictor``: model + core as one TF function, for exported signatures.
- ``predict_image`` / ``predict_images``: eager entry points for NumPy images.
"""

from vesselnet.inference.geometry import (
    DEFAULT_TILE_INPUT,
    TileGeometry,
    network_facts,
    tile_geometry,
)
from vesselnet.inference.outputs import (
    output_activation,
    select_output,
    vessel_probability,
)
from vesselnet.inference.whole_image import (
    DEFAULT_BATCH_SIZE,
    InferenceOptions,
    make_tiled_predictor,
    predict_image,
    predict_images,
)
from vesselnet.inference.tile_choice import (
    DEFAULT_MAX_TILE_INPUT,
    choose_tile_geometry,
    default_context,
    default_overlap,
)
from vesselnet.inference.tiling import (
    WINDOW_FLOOR,
    WINDOWS,
    blend_window,
    check_context,
    mirror_pad,
    overlap_tile_predict_tf,
    tile_count,
    tile_step,
)
from vesselnet.inference.tta import TTA_MODES, flip_tta

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_MAX_TILE_INPUT",
    "DEFAULT_TILE_INPUT",
    "InferenceOptions",
    "TTA_MODES",
    "TileGeometry",
    "WINDOWS",
    "WINDOW_FLOOR",
    "blend_window",
    "check_context",
    "choose_tile_geometry",
    "default_context",
    "default_overlap",
    "flip_tta",
    "make_tiled_predictor",
    "mirror_pad",
    "network_facts",
    "output_activation",
    "overlap_tile_predict_tf",
    "predict_image",
    "predict_images",
    "select_output",
    "tile_count",
    "tile_geometry",
    "tile_step",
    "vessel_probability",
]
