"""The networks' output activations and the vessel probability they encode."""

from __future__ import annotations

import keras

OUTPUT_ACTIVATIONS = ("log_softmax", "softmax", "sigmoid")
"""``log_softmax`` (Francia et al. 2020) and ``softmax``: 2 class maps; ``sigmoid``: 1 map."""
VESSEL_CHANNEL = {"log_softmax": 1, "softmax": 1, "sigmoid": 0}


def check_activation(activation) -> str:
    """``activation`` if it is one of ``OUTPUT_ACTIVATIONS``; else ValueError naming it."""
    if activation not in OUTPUT_ACTIVATIONS:
        raise ValueError(f"activation must be one of {OUTPUT_ACTIVATIONS}, got {activation!r}")
    return activation


def vessel_probability(output, activation: str):
    """Vessel probability ``[..., h, w]`` (float32) of an activated output ``[..., h, w, C]``.

    Raises:
        ValueError: an unknown activation, or a known channel count that does not fit it
            (1 for ``sigmoid``, >= 2 for the softmax outputs).

    Example:
        >>> vessel_probability(np.log([[[0.25, 0.75]]]), "log_softmax")  # [[0.75]]
    """
    check_activation(activation)
    channels = keras.ops.shape(output)[-1]
    if isinstance(channels, int) and (channels == 1) != (activation == "sigmoid"):
        raise ValueError(f"a {activation} output needs {'1' if activation == 'sigmoid' else '>= 2'}"
                         f" channels, got {channels}")
    channel = keras.ops.cast(output, "float32")[..., VESSEL_CHANNEL[activation]]
    return keras.ops.exp(channel) if activation == "log_softmax" else channel
