"""Whole-image prediction by overlap-tile strategy (Ronneberger et al. 2015, Fig. 2).

- ``TileGeometry`` / ``tile_geometry``: input and output tile of a network, from its
  :class:`~vesselnet.models.NetworkFacts` (other models are probed by tracing).
- ``InferenceOptions``: tile size, batch size and test-time augmentation of a prediction.
- ``output_activation`` / ``vessel_probability`` / ``select_output``: from a model's output
  (log-softmax, softmax, sigmoid; dict of the chained model) to the vessel probability.
- ``overlap_tile_predict_tf``: the core in TF ops (mirror padding, tile grid, batched
  ``tf.while_loop``, blended accumulation), usable in a ``tf.function`` with unknown H, W.
- ``flip_tta``: test-time augmentation of tiles by flips (and transposes).
- ``choose_tile_geometry``: the tile that covers an image cheapest (``tile_choice``).
- ``make_tiled_predictor``: model + core as one TF function, for exported signatures.
- ``predict_image`` / ``predict_images``: eager entry points for NumPy images.
"""

from vesselnet.inference.geometry import TileGeometry, network_facts, tile_geometry
from vesselnet.inference.outputs import output_activation, select_output, vessel_probability
from vesselnet.inference.tile_choice import choose_tile_geometry
from vesselnet.inference.tiling import overlap_tile_predict_tf
from vesselnet.inference.tta import TTA_MODES, flip_tta
from vesselnet.inference.whole_image import (
    DEFAULT_BATCH_SIZE,
    InferenceOptions,
    make_tiled_predictor,
    predict_image,
    predict_images,
)

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "TTA_MODES",
    "InferenceOptions",
    "TileGeometry",
    "choose_tile_geometry",
    "flip_tta",
    "make_tiled_predictor",
    "network_facts",
    "output_activation",
    "overlap_tile_predict_tf",
    "predict_image",
    "predict_images",
    "select_output",
    "tile_geometry",
    "vessel_probability",
]
