"""Tile geometry of a network: which input tile it takes and which output tile comes out.

Networks of the family (from :func:`~vesselnet.models.build_model` or
:func:`~vesselnet.models.ensemble_model`, also loaded from ``.keras`` files) have
:class:`~vesselnet.models.NetworkFacts`, from which every valid size follows by arithmetic.
Exported tile networks carry their facts (``facts`` attribute). Any other Keras model is
probed: candidate sizes are traced as TF graphs (public ``tf.function`` API, ~0.1-0.2 s each,
cached per model), whose shape inference refuses sizes the network cannot take.
"""

from __future__ import annotations

import weakref

import keras
import tensorflow as tf

from vesselnet.core.checks import check_int
from vesselnet.models.facts import NetworkFacts, TileGeometry, describe_network, select_output

DEFAULT_TILE_INPUT = 572  # the input tile of Ronneberger et al. 2015, Fig. 2
MAX_PROBES = 1024  # candidate sizes tried before giving up; far above any pooling period
MAX_TRACED_PROBES = 256  # the same when each probe traces a TF graph (~0.1-0.2 s each)
_CACHE: "weakref.WeakKeyDictionary[keras.Model, dict]" = weakref.WeakKeyDictionary()

__all__ = ["DEFAULT_TILE_INPUT", "TileGeometry", "network_facts", "tile_geometry"]


def network_facts(model) -> NetworkFacts | None:
    """The facts of an exported tile network or a family network; None for other models."""
    facts = getattr(model, "facts", None)
    if isinstance(facts, NetworkFacts):
        return facts
    return describe_network(model) if isinstance(model, keras.Model) else None


def _traced_probe(model, size: int, output: str) -> int | None:
    """Output side for a square input of ``size`` by tracing the model, or None if invalid."""
    cache = _CACHE.setdefault(model, {})
    key = ("probe", size, output)
    if key not in cache:
        spec = tf.TensorSpec((1, size, size, model.input_shape[-1]), tf.float32)
        try:
            function = tf.function(lambda tiles: model(tiles, training=False))
            shape = select_output(function.get_concrete_function(spec).structured_outputs,
                                  output).shape
            cache[key] = int(shape[1]) if shape[1] == shape[2] and shape[1] >= 1 else None
        except (ValueError, TypeError, tf.errors.OpError):
            cache[key] = None
    return cache[key]


def _size_rule(model, output: str):
    """``size -> output side or None`` for ``model``, and the number of sizes worth trying."""
    facts = network_facts(model)
    if facts is not None:
        if output not in facts.outputs:
            raise ValueError(f"output must be one of {sorted(facts.outputs)}, got {output!r}")
        return facts.output_size, MAX_PROBES
    select_output(model.output, output)  # raises for an unknown output
    return (lambda size: _traced_probe(model, size, output)), MAX_TRACED_PROBES


def _first_valid(rule, limit, start: int, name: str) -> int:
    start = max(start, 1)
    for size in range(start, start + limit):
        if rule(size) is not None:
            return size
    raise ValueError(f"no valid input size in [{start}, {start + limit}) for {name}")


def _alignment(rule, valid_size: int) -> int:
    """Step between valid sizes: the smallest power of two ``p`` with ``size + p`` valid."""
    period = 1
    while period <= MAX_PROBES:
        if rule(valid_size + period) is not None:
            return period
        period *= 2
    return 1


def _fixed_geometry(model, rule, output: str) -> TileGeometry:
    facts = network_facts(model)
    if facts is not None and facts.fixed is not None:
        return facts.fixed
    height, width = model.input_shape[1:3]
    probe = keras.KerasTensor((1, *model.input_shape[1:]), dtype="float32")
    spec = select_output(model.compute_output_spec(probe), output)
    if height != width or spec.shape[1] != spec.shape[2]:
        raise ValueError(f"square tiles only; the model takes {height}x{width} inputs")
    return TileGeometry(int(height), int(spec.shape[1]), 1)


def tile_geometry(model, wanted_input: int | None = None, *,
                  wanted_output: int | None = None, output: str = "final") -> TileGeometry:
    """The tile geometry of ``model`` closest to a wanted tile size.

    Fixed-size models report their size. For the others the valid input size nearest to
    ``wanted_input`` is taken (ties: the larger); with ``wanted_output``, the smallest valid
    input whose output is at least that wide. Results of probed models are cached.

    Args:
        model: a network of the U-Net family with one image input ``[B, H, W, C]``, or an
            exported tile network.
        wanted_input: wanted input tile side. Defaults to None (572, the paper's tile).
        wanted_output: wanted output tile side, instead of ``wanted_input``. Defaults to None.
        output: which output of a dict-output model sets the size. Defaults to ``"final"``.

    Returns:
        The :class:`TileGeometry`.

    Raises:
        ValueError: both or invalid wanted sizes, a fixed-size model asked for another size,
            non-square fixed inputs, or no valid size found.

    Example:
        >>> tile_geometry(build_model("unet", depth=5), 570)
        TileGeometry(input_size=572, output_size=388, alignment=16)
    """
    check_int("wanted_input", wanted_input, 1, optional=True)
    check_int("wanted_output", wanted_output, 1, optional=True)
    if wanted_input is not None and wanted_output is not None:
        raise ValueError(f"give wanted_input or wanted_output, not both: got {wanted_input} and "
                         f"{wanted_output}")
    rule, limit = _size_rule(model, output)
    if len(model.input_shape) != 4:
        raise ValueError(f"expected one image input [B, H, W, C], got {model.input_shape}")
    if model.input_shape[1] is not None or model.input_shape[2] is not None:
        geometry = _fixed_geometry(model, rule, output)
        wanted_size = geometry.output_size if wanted_output is not None else geometry.input_size
        if (wanted_input or wanted_output or wanted_size) != wanted_size:
            raise ValueError(f"the model takes fixed {geometry.input_size}-pixel tiles "
                             f"(output {geometry.output_size}), got "
                             f"wanted_input={wanted_input}, wanted_output={wanted_output}")
        return geometry
    name = getattr(model, "name", "the model")
    if wanted_output is not None:
        reference = tile_geometry(model, output=output)
        size = _first_valid(rule, limit, wanted_output + 2 * reference.margin, name)
        while rule(size) < wanted_output:
            size = _first_valid(rule, limit, size + 1, name)
    else:
        wanted = DEFAULT_TILE_INPUT if wanted_input is None else wanted_input
        size = _first_valid(rule, limit, wanted, name)
        below = size - _alignment(rule, size)
        if below >= 1 and rule(below) and wanted - below < size - wanted:
            size = below
    return TileGeometry(size, rule(size), _alignment(rule, size))
