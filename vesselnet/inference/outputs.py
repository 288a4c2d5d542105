"""From what a network returns to the vessel probability map.

A network of the family returns one tensor, or a dict ``{"stage1", "final"}`` (the chained
model), activated by ``"log_softmax"`` (log-probabilities of background and vessel),
``"softmax"`` (probabilities) or ``"sigmoid"`` (one channel, the vessel probability).
"""

from __future__ import annotations

import keras
import tensorflow as tf

from vesselnet.core import activations
from vesselnet.core.activations import OUTPUT_ACTIVATIONS

ACTIVATIONS = OUTPUT_ACTIVATIONS
# Layers that move or crop a map without changing its values, walked through to the activation.
_PASS_THROUGH = (keras.layers.Cropping2D, keras.layers.ZeroPadding2D, keras.layers.Identity)


def select_output(outputs, output: str = "final"):
    """The output named ``output`` from a model's result (a tensor or a dict of tensors).

    Args:
        outputs: what the model returned: a tensor, a one-element list, or a dict.
        output: key in a dict result (``"final"`` or ``"stage1"`` for the chained model);
            a single-output model only has ``"final"``. Defaults to ``"final"``.

    Raises:
        ValueError: an unknown key, or ``output != "final"`` for a single-output model.

    Example:
        >>> select_output({"stage1": a, "final": b}, "stage1") is a
        True
    """
    if isinstance(outputs, dict):
        if output not in outputs:
            raise ValueError(f"output must be one of {sorted(outputs)}, got {output!r}")
        return outputs[output]
    if isinstance(outputs, (list, tuple)):
        if len(outputs) != 1:
            raise ValueError(f"expected one output or a dict of outputs, got {len(outputs)}")
        outputs = outputs[0]
    if output != "final":
        raise ValueError(f"the model has a single output: only 'final' applies, got {output!r}")
    return outputs


def _activation_of(layer) -> str | None:
    if isinstance(layer, keras.layers.Softmax):
        return "softmax"
    if isinstance(layer, keras.layers.Activation):
        activation = layer.get_config()["activation"]
        return activation if isinstance(activation, str) else None
    return None


def output_activation(model: keras.Model, output: str = "final") -> str:
    """The activation of a model's output, read from its final ``Activation`` layer.

    Walks back from the selected output through cropping layers (the chained model aligns
    ``stage1`` with a ``Cropping2D``) to the activation layer (named ``"output"``,
    ``"stage1_output"`` or ``"stage2_output"`` in models from ``build_model``).

    Args:
        model: a functional Keras model.
        output: which output of a dict-output model. Defaults to ``"final"``.

    Returns:
        ``"log_softmax"``, ``"softmax"`` or ``"sigmoid"``.

    Raises:
        ValueError: when the output does not end in one of those activations.

    Example:
        >>> output_activation(build_model("unet", n_classes=1, output_activation="sigmoid"))
        'sigmoid'
    """
    tensor = select_output(model.output, output)
    layer = tensor._keras_history.operation
    while isinstance(layer, _PASS_THROUGH):
        layer = layer.input._keras_history.operation
    activation = _activation_of(layer)
    if activation not in ACTIVATIONS:
        raise ValueError(
            f"output {output!r} of {model.name} ends in layer {layer.name!r} "
            f"(activation {activation!r}), not one of {ACTIVATIONS}; pass activation= explicitly"
        )
    return activation


def vessel_probability(output, activation: str) -> tf.Tensor:
    """The vessel probability ``[..., h, w]`` from an activated output ``[..., h, w, channels]``.

    ``"log_softmax"``: exp of channel 1; ``"softmax"``: channel 1; ``"sigmoid"``: channel 0.

    Args:
        output: model output (tensor or array) with classes on the last axis.
        activation: the output activation, see :func:`output_activation`.

    Returns:
        A float32 ``tf.Tensor`` without the class axis.

    Raises:
        ValueError: an unknown activation or a channel count that does not fit it.

    Example:
        >>> vessel_probability(np.log([[[0.25, 0.75]]]), "log_softmax").numpy()
        array([[0.75]], dtype=float32)
    """
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
    output = tf.cast(output, tf.float32)
    channels = output.shape[-1]
    if channels is not None and (channels == 1) != (activation == "sigmoid"):
        raise ValueError(f"a {activation} output needs {'1' if activation == 'sigmoid' else '>= 2'}"
                         f" channels, got {channels}")
    return activations.vessel_probability(output, activation)
