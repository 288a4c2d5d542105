"""From what a network returns to the vessel probability map.

A network of the family returns one tensor, or a dict ``{"stage1", "final"}`` (the chained
model), activated by ``"log_softmax"`` (log-probabilities of background and vessel),
``"softmax"`` (probabilities) or ``"sigmoid"`` (one channel, the vessel probability).
"""

from __future__ import annotations

import keras

from vesselnet.core.activations import OUTPUT_ACTIVATIONS, vessel_probability
from vesselnet.inference.geometry import network_facts
from vesselnet.models.facts import layer_activation, select_output

__all__ = ["output_activation", "select_output", "vessel_probability"]

# Layers that move or crop a map without changing its values, walked through to the activation.
_PASS_THROUGH = ("Cropping2D", "ZeroPadding2D", "Identity")


def _output_layer(model: keras.Model, output: str):
    """The layer that makes ``output``, walked back through cropping layers, read from the
    model's ``get_config()`` (``output_layers`` and each layer's inbound nodes)."""
    config = model.get_config()
    outputs = config["output_layers"]
    if isinstance(outputs, dict):
        if output not in outputs:
            raise ValueError(f"output must be one of {sorted(outputs)}, got {output!r}")
        outputs = outputs[output]
    elif output != "final":
        raise ValueError(f"the model has a single output: only 'final' applies, got {output!r}")
    name = outputs[0] if isinstance(outputs[0], str) else outputs[0][0]
    layers = {layer["name"]: layer for layer in config["layers"]}
    while layers[name]["class_name"] in _PASS_THROUGH:
        arguments = layers[name]["inbound_nodes"][0]["args"][0]
        name = arguments["config"]["keras_history"][0]
    return model.get_layer(name)


def output_activation(model, output: str = "final") -> str:
    """The activation of a model's output.

    Networks of the family (and exported tile networks) know it from their facts; for any
    other functional model it is read from the activation layer that makes the output,
    walking back through cropping layers (the chained model aligns ``stage1`` with a
    ``Cropping2D``).

    Args:
        model: a network of the family, an exported tile network, or a functional Keras model.
        output: which output of a dict-output model. Defaults to ``"final"``.

    Returns:
        ``"log_softmax"``, ``"softmax"`` or ``"sigmoid"``.

    Raises:
        ValueError: when the output does not end in one of those activations.

    Example:
        >>> output_activation(build_model("unet", n_classes=1, output_activation="sigmoid"))
        'sigmoid'
    """
    facts = network_facts(model)
    if facts is not None:
        if output not in facts.outputs:
            raise ValueError(f"output must be one of {sorted(facts.outputs)}, got {output!r}")
        return facts.activation
    layer = _output_layer(model, output)
    activation = layer_activation(layer)
    if activation not in OUTPUT_ACTIVATIONS:
        raise ValueError(
            f"output {output!r} of {model.name} ends in layer {layer.name!r} "
            f"(activation {activation!r}), not one of {OUTPUT_ACTIVATIONS}; pass activation= "
            "explicitly"
        )
    return activation
