"""The networks' output activations and the vessel probability they encode."""

from __future__ import annotations

import keras

OUTPUT_ACTIVATIONS = ("log_softmax", "softmax", "sigmoid")
"""``log_softmax`` (Francia et al. 2020) and ``softmax``: 2 class maps; ``sigmoid``: 1 map."""
VESSEL_CHANNEL = {"log_softmax": 1, "softmax": 1, "sigmoid": 0}


def vessel_probability(output, activation: str):
    """Vessel probability ``[..., h, w]`` (float32) of an activated output ``[..., h, w, C]``.

    The caller checks ``activation`` and the channel count; this only converts.

    Example:
        >>> vessel_probability(np.log([[[0.25, 0.75]]]), "log_softmax")  # [[0.75]]
    """
    channel = keras.ops.cast(output, "float32")[..., VESSEL_CHANNEL[activation]]
    return keras.ops.exp(channel) if activation == "log_softmax" else channel
