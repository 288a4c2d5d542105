"""What prediction and export need to know about a network, read once from its own layers.

A network of the family is described by :class:`NetworkFacts`: input channels, output
activation, named outputs, and the size rules (depth, padding, shrink per block, chained
stages, or a fixed tile), from which every valid tile follows by the arithmetic of
:mod:`vesselnet.core.sizes`. :func:`describe_network` reads the facts of a model built by
:func:`~vesselnet.models.build_model` or :func:`~vesselnet.models.ensemble_model` (also loaded
from a ``.keras`` file) through public Keras API only: the model's layers by name and their
``get_config()``. Models of any other shape get None, and the caller probes them.

Example:
    >>> facts = describe_network(build_model("unet", depth=5))
    >>> facts.output_size(572), facts.alignment
    (388, 16)
"""

from __future__ import annotations

import dataclasses
import weakref

import keras

from vesselnet.core import sizes
from vesselnet.core.activations import OUTPUT_ACTIVATIONS
from vesselnet.core.checks import check_int
from vesselnet.core.sizes import block_shrink
from vesselnet.layers import RecurrentConv2D

_FACTS: "weakref.WeakKeyDictionary[keras.Model, NetworkFacts | None]" = (
    weakref.WeakKeyDictionary())


@dataclasses.dataclass(frozen=True)
class TileGeometry:
    """Square input tile of a network and the output tile centred in it.

    Args:
        input_size: side of the input tile the network takes.
        output_size: side of the output map; ``input_size - output_size`` is the valid-padding
            margin on both sides (0 with same padding).
        alignment: step between valid input sizes (the pooling period ``2 ** (depth - 1)``).
            Tile starts are multiples of it, so every tile sees the same max-pooling grid and
            tiled predictions equal one pass over the whole image. Defaults to 1 (unknown).

    Example:
        >>> TileGeometry(572, 388, 16).margin
        92
    """

    input_size: int
    output_size: int
    alignment: int = 1

    def __post_init__(self):
        for name in ("input_size", "output_size", "alignment"):
            check_int(name, getattr(self, name), 1)
        difference = self.input_size - self.output_size
        if difference < 0 or difference % 2:
            raise ValueError(
                f"the output tile must be centred in the input tile (input - output even and "
                f">= 0), got input_size={self.input_size}, output_size={self.output_size}"
            )

    @property
    def margin(self) -> int:
        """Input pixels on each side of the output tile (the valid-padding context)."""
        return (self.input_size - self.output_size) // 2

    def to_dict(self) -> dict:
        """``{"input_size", "output_size", "alignment"}`` (the model card's form)."""
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class NetworkFacts:
    """Channels, activation, outputs and size rules of a network.

    Args:
        channels: input channels.
        activation: output activation, one of ``OUTPUT_ACTIVATIONS`` (every output has it).
        outputs: the output names, ``("final",)`` or ``("stage1", "final")`` (chained model).
        depth: resolution levels (poolings + 1). Defaults to 1.
        padding: ``"valid"`` or ``"same"``. Defaults to ``"same"``.
        shrink: pixels a block takes off a side with valid padding. Defaults to 4.
        stages: chained U-Nets. Defaults to 1.
        fixed: the one tile of a network built for a fixed input size (or exported for one).
            Defaults to None (any valid size).
        members: the facts of an ensemble's members; its sizes are those all members take.
            Defaults to () (not an ensemble).

    Example:
        >>> NetworkFacts(1, "log_softmax", depth=3, padding="valid").output_size(100)
        60
    """

    channels: int
    activation: str
    outputs: tuple[str, ...] = ("final",)
    depth: int = 1
    padding: str = "same"
    shrink: int = 4
    stages: int = 1
    fixed: TileGeometry | None = None
    members: tuple[NetworkFacts, ...] = ()

    def __post_init__(self):
        check_int("channels", self.channels, 1)
        if self.activation not in OUTPUT_ACTIVATIONS:
            raise ValueError(f"activation must be one of {OUTPUT_ACTIVATIONS}, "
                             f"got {self.activation!r}")

    @property
    def alignment(self) -> int:
        """Step between valid input sizes (the pooling period; the largest of the members)."""
        if self.fixed is not None:
            return self.fixed.alignment
        if self.members:
            return max(member.alignment for member in self.members)
        return 2 ** (self.depth - 1)

    def output_size(self, input_size: int) -> int | None:
        """Output side for a square input of ``input_size``, or None if the network cannot
        take it."""
        if self.fixed is not None:
            return self.fixed.output_size if input_size == self.fixed.input_size else None
        if self.members:
            outputs = {member.output_size(input_size) for member in self.members}
            return outputs.pop() if len(outputs) == 1 else None
        if input_size < 1 or not sizes.is_valid_input_size(
                input_size, self.depth, self.padding, shrink=self.shrink, stages=self.stages):
            return None
        return sizes.output_size(input_size, self.depth, self.padding, shrink=self.shrink,
                                 stages=self.stages)


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


def layer_activation(layer) -> str | None:
    """The activation an ``Activation`` or ``Softmax`` layer applies (None for other layers)."""
    if isinstance(layer, keras.layers.Softmax):
        return "softmax"
    if isinstance(layer, keras.layers.Activation):
        activation = layer.get_config()["activation"]
        return activation if isinstance(activation, str) else None
    return None


def output_layer_name(model: keras.Model) -> str | None:
    """Name of the activation layer of a family network's ``"final"`` output, or None."""
    names = {layer.name for layer in model.layers}
    for name in ("stage2_output", "output"):
        if name in names:
            return name
    return None


def _layer_names(model):
    return [layer.name for layer in model.layers]


def _single_network(model: keras.Model, channels: int) -> NetworkFacts | None:
    """Facts of a U-Net, residual U-Net, R2U-Net or chained model from ``build_model``."""
    names = _layer_names(model)
    chained = "stage2_output" in names
    prefix = "stage1_" if chained else ""
    if f"{prefix}output" not in names or f"{prefix}output_conv" not in names:
        return None
    pools = [name for name in names
             if name.startswith(f"{prefix}encoder_") and name.endswith("_pool")]
    depth = len(pools) + 1
    paddings, steps = set(), set()
    for layer in model.layers:
        config = layer.get_config()
        if isinstance(layer, RecurrentConv2D):
            steps.add(config["steps"])
            paddings.add(config["padding"])
        elif isinstance(layer, keras.layers.Conv2D) and not isinstance(
                layer, keras.layers.Conv2DTranspose) and tuple(config["kernel_size"]) != (1, 1):
            paddings.add(config["padding"])
    if len(paddings) != 1 or len(steps) > 1:
        return None
    shrink = block_shrink("recurrent", steps.pop()) if steps else block_shrink("plain")
    activation = layer_activation(model.get_layer(output_layer_name(model)))
    if activation not in OUTPUT_ACTIVATIONS:
        return None
    return NetworkFacts(channels, activation, ("stage1", "final") if chained else ("final",),
                        depth=depth, padding=paddings.pop(), shrink=shrink,
                        stages=2 if chained else 1)


def _describe(model: keras.Model) -> NetworkFacts | None:
    shape = model.input_shape
    if not isinstance(shape, tuple) or len(shape) != 4 or shape[-1] is None:
        return None
    channels = int(shape[-1])
    members = [layer for layer in model.layers if isinstance(layer, keras.Model)]
    if members:
        member_facts = tuple(describe_network(member) for member in members)
        layer = model.get_layer("output") if "output" in _layer_names(model) else None
        activation = layer_activation(layer) if layer is not None else None
        if None in member_facts or activation not in OUTPUT_ACTIVATIONS:
            return None
        facts = NetworkFacts(channels, activation, members=member_facts)
    else:
        facts = _single_network(model, channels)
    if facts is None:
        return None
    if shape[1] is not None or shape[2] is not None:
        if shape[1] != shape[2] or facts.output_size(int(shape[1])) is None:
            return None
        size = int(shape[1])
        facts = dataclasses.replace(
            facts, fixed=TileGeometry(size, facts.output_size(size), facts.alignment))
    return facts if _agrees_with_keras(model, facts) else None


def _agrees_with_keras(model: keras.Model, facts: NetworkFacts) -> bool:
    """Checks the facts against Keras' own output shape at one valid size."""
    size = facts.fixed.input_size if facts.fixed else next(
        (size for size in range(facts.alignment, 4096) if facts.output_size(size)), None)
    if size is None:
        return False
    spec = model.compute_output_spec(keras.KerasTensor((1, size, size, facts.channels)))
    if isinstance(spec, dict) and set(spec) != set(facts.outputs):
        return False
    shape = select_output(spec).shape
    return shape[1] == shape[2] == facts.output_size(size)


def describe_network(model: keras.Model) -> NetworkFacts | None:
    """The :class:`NetworkFacts` of a model of the family, or None for any other model.

    Reads the model's layers by the names :func:`~vesselnet.models.build_model` gives them
    and their ``get_config()``; ensembles from :func:`~vesselnet.models.ensemble_model` are
    described member by member. The result is checked against Keras' output shape at one
    valid size and cached per model.

    Example:
        >>> describe_network(build_model("chained", depth=4)).outputs
        ('stage1', 'final')
    """
    if model not in _FACTS:
        _FACTS[model] = _describe(model)
    return _FACTS[model]
