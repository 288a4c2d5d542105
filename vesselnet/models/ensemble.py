"""``ensemble_model``: several trained networks averaged into one Keras model.

The ensemble takes the same preprocessed image as its members and returns log-probabilities,
like a network from :func:`~vesselnet.models.build_model`, so prediction, evaluation and
export treat it as any other model.
"""

from __future__ import annotations

import keras

from vesselnet.layers import ENSEMBLE_RULES, ClassProbabilityMean
from vesselnet.models.facts import describe_network, select_output


def ensemble_model(members, rule: str = "probability", name: str = "ensemble") -> keras.Model:
    """One model whose output is the average of the members' class probabilities.

    Args:
        members: trained Keras models of the U-Net family, each with one image input of the
            same channels and a log-softmax or softmax output (the ``"final"`` output of a
            chained model) with the same classes. Their margins (input minus output size)
            must be equal, so that their outputs align.
        rule: ``"probability"`` (arithmetic mean of the probabilities) or
            ``"log_probability"`` (mean of the log-probabilities). Defaults to
            ``"probability"``.
        name: the model's name. Defaults to ``"ensemble"``.

    Returns:
        A functional ``keras.Model`` that calls every member (its weights are the members'
        own, not copies) and ends in a log-softmax layer named ``"output"``.

    Raises:
        ValueError: fewer than two members, or members that disagree on channels, classes or
            margins, or whose output is not a softmax (named in the message).

    Example:
        >>> model = ensemble_model([chained, unet])
        >>> predict_image(model, image)  # vessel probability, the members' mean
    """
    members = list(members)
    if len(members) < 2:
        raise ValueError(f"an ensemble needs at least two members, got {len(members)}")
    if rule not in ENSEMBLE_RULES:
        raise ValueError(f"rule must be one of {ENSEMBLE_RULES}, got {rule!r}")
    channels = {member.input_shape[-1] for member in members}
    if len(channels) != 1:
        raise ValueError(f"the members take different input channels: {sorted(channels)}")
    classes, margins, activations = set(), set(), []
    for index, member in enumerate(members, 1):
        label = f"member {index} ({member.name})"
        facts = describe_network(member)
        if facts is None:
            raise ValueError(f"{label}: not a network of the family (build_model or "
                             "ensemble_model); its output activation and sizes are unknown")
        activation = facts.activation
        if activation not in ("log_softmax", "softmax"):
            raise ValueError(f"{label}: output {activation!r}; an ensemble averages softmax "
                             "outputs (two or more classes)")
        activations.append(activation)
        classes.add(select_output(member.output).shape[-1])
        margins.add(_margin(facts))
    if len(classes) != 1:
        raise ValueError(f"the members output different numbers of classes: {sorted(classes)}")
    if len(margins) != 1:
        raise ValueError("the members' outputs would not align: their margins (input minus "
                         f"output side) differ, {sorted(margins)}; use same-padding members or "
                         "members of equal geometry")
    image = keras.Input((None, None, channels.pop()), name="image")
    outputs = []
    for index, member in enumerate(members, 1):
        wrapped = keras.Model(member.input, member.output, name=f"member{index}_{member.name}")
        outputs.append(select_output(wrapped(image)))
    mean = ClassProbabilityMean(activations, rule, name="mean")(outputs)
    output = keras.layers.Activation("log_softmax", dtype="float32", name="output")(mean)
    return keras.Model(image, output, name=name)


def _margin(facts) -> int:
    """Input minus output side of a network (constant over its valid sizes): at its fixed tile,
    else at the first valid size from 572, the paper's tile, upwards."""
    if facts.fixed is not None:
        return facts.fixed.input_size - facts.fixed.output_size
    size = next(size for size in range(572, 572 + 4096) if facts.output_size(size))
    return size - facts.output_size(size)
