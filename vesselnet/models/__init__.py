"""Networks of the U-Net family as Keras functional models.

``build_model(arch, ...)`` builds ``"unet"``, ``"resunet"``, ``"r2unet"`` or ``"chained"``;
``ensemble_model`` averages trained networks into one model; the size helpers tell which tile
sizes a network accepts; ``summarize`` reports sizes and counts.
"""

from vesselnet.config.model import ARCHITECTURES, ModelOptions, model_output_size
from vesselnet.core.sizes import (
    input_size_for_output,
    is_valid_input_size,
    output_size,
    smallest_input_size,
)
from vesselnet.models.builder import build_model
from vesselnet.models.ensemble import ensemble_model
from vesselnet.models.facts import NetworkFacts, TileGeometry, describe_network
from vesselnet.models.summary import ModelSummary, summarize

__all__ = [
    "ARCHITECTURES",
    "ModelOptions",
    "ModelSummary",
    "NetworkFacts",
    "TileGeometry",
    "build_model",
    "describe_network",
    "ensemble_model",
    "input_size_for_output",
    "is_valid_input_size",
    "model_output_size",
    "output_size",
    "smallest_input_size",
    "summarize",
]
