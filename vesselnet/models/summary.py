"""Facts about a network that users and the CLI report: sizes, parameters, layers."""

from __future__ import annotations

import dataclasses

import keras

from vesselnet.config.model import geometry
from vesselnet.core import sizes
from vesselnet.layers import RecurrentConv2D
from vesselnet.models.builder import build_model


@dataclasses.dataclass(frozen=True)
class ModelSummary:
    """Sizes and counts of one network.

    Args:
        arch: architecture name.
        input_size: the input side the figures are for.
        output_size: side of the output map(s) for ``input_size``.
        smallest_input_size: the smallest valid input side.
        input_size_step: valid input sides are ``smallest_input_size + k * input_size_step``.
        parameters: trainable and non-trainable parameters.
        conv_layers: convolution and transposed-convolution layers (the paper's count).
        layers: all layers of the functional model, the input layer included.
        options: the build arguments.
    """

    arch: str
    input_size: int
    output_size: int
    smallest_input_size: int
    input_size_step: int
    parameters: int
    conv_layers: int
    layers: int
    options: dict

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _count_conv(layer) -> int:
    """Convolutions in ``layer``, counting the shared kernel of a recurrent layer once."""
    conv_types = (keras.layers.Conv2D, keras.layers.Conv2DTranspose, RecurrentConv2D)
    return int(isinstance(layer, conv_types))


def summarize(arch: str, *, input_size: int | None = None, depth: int = 5,
              padding: str = "valid", **build_args) -> ModelSummary:
    """Build ``arch`` and report its sizes and counts.

    Args:
        arch: architecture name (see ``ARCHITECTURES``).
        input_size: input side; None picks the smallest valid one. Defaults to None.
        depth: resolution levels. Defaults to 5.
        padding: ``"valid"`` or ``"same"``. Defaults to ``"valid"``.
        **build_args: other :func:`build_model` arguments and options.

    Example:
        >>> summarize("unet", input_size=572).parameters
        31030658
    """
    shrink, stages = geometry(arch, **build_args)
    smallest = sizes.smallest_input_size(depth, padding, shrink=shrink, stages=stages)
    if input_size is None:
        input_size = smallest
    model = build_model(arch, input_size=input_size, depth=depth, padding=padding, **build_args)
    out = sizes.output_size(input_size, depth, padding, shrink=shrink, stages=stages)
    return ModelSummary(
        arch=arch,
        input_size=input_size,
        output_size=out,
        smallest_input_size=smallest,
        input_size_step=2 ** (depth - 1),
        parameters=model.count_params(),
        conv_layers=sum(_count_conv(layer) for layer in model.layers),
        layers=len(model.layers),
        options=dict(build_args, depth=depth, padding=padding),
    )
