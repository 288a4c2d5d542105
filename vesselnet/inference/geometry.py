"""Tile geometry of a network: which input tile it takes and which output tile comes out.

Works for any Keras model of the U-Net family, built with a fixed ``input_size`` or with
``input_size=None`` (also when loaded from a ``.keras`` file): fixed-size models report their
size, the others are probed with symbolic shapes. Results are cached per model.
"""

from __future__ import annotations

import dataclasses
import weakref

import keras
import tensorflow as tf

from vesselnet.inference.outputs import select_output

DEFAULT_TILE_INPUT = 572  # the input tile of Ronneberger et al. 2015, Fig. 2
MAX_PROBES = 1024  # candidate sizes tried before giving up; far above any pooling period
MAX_TRACED_PROBES = 256  # the same when each probe traces a TF graph (~0.1-0.2 s each)
_CACHE: "weakref.WeakKeyDictionary[keras.Model, dict]" = weakref.WeakKeyDictionary()


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
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
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


def _check_shapes(operation):
    """``operation.compute_output_spec`` that also rejects mismatched merges and empty maps.

    Keras' symbolic shapes floor odd poolings and do not compare the inputs of a
    ``Concatenate`` or ``Add``, so sizes the network cannot take would look valid.
    """

    def run(*args, **kwargs):
        if args and isinstance(args[0], (list, tuple)) and len(args[0]) > 1:
            spatial = {tuple(tensor.shape[1:-1]) for tensor in args[0]}
            if len(spatial) > 1:
                raise ValueError(f"{operation.name}: inputs of sizes {sorted(spatial)}")
        if hasattr(operation, "_run_through_graph"):  # nested functional model
            result = operation._run_through_graph(args[0], operation_fn=_check_shapes)
        else:
            result = operation.compute_output_spec(*args, **kwargs)
        for tensor in keras.tree.flatten(result):
            if any(side is not None and side < 1 for side in tensor.shape):
                raise ValueError(f"{operation.name}: empty output {tensor.shape}")
        return result

    return run


def _can_walk(model) -> bool:
    """Whether the model's graph can be walked layer by layer (Keras functional models)."""
    return hasattr(model, "_run_through_graph")


def _probe(model, size: int, output: str) -> int | None:
    """Output side for a square input of ``size``, or None when the network cannot take it."""
    cache = _CACHE.setdefault(model, {})
    key = ("probe", size, output)
    if key not in cache:
        probe = keras.KerasTensor((1, size, size, model.input_shape[-1]), dtype="float32")
        try:
            if _can_walk(model):  # fast (~5 ms): symbolic shapes, checked at every merge
                outputs = model._run_through_graph(probe, operation_fn=_check_shapes)
                shape = select_output(outputs, output).shape
            else:  # any other model: trace a TF graph, whose shape inference is strict
                spec = tf.TensorSpec((1, size, size, model.input_shape[-1]), tf.float32)
                function = tf.function(lambda tiles: model(tiles, training=False))
                shape = select_output(function.get_concrete_function(spec).structured_outputs,
                                  output).shape
            cache[key] = int(shape[1]) if shape[1] == shape[2] and shape[1] >= 1 else None
        except (ValueError, TypeError, tf.errors.OpError):
            cache[key] = None
    return cache[key]


def _first_valid(model, start: int, output: str) -> int:
    start = max(start, 1)
    limit = MAX_PROBES if _can_walk(model) else MAX_TRACED_PROBES
    for size in range(start, start + limit):
        if _probe(model, size, output) is not None:
            return size
    raise ValueError(f"no valid input size in [{start}, {start + limit}) for {model.name}")


def _alignment(model, valid_size: int, output: str) -> int:
    """Step between valid sizes: the smallest power of two ``p`` with ``size + p`` valid."""
    period = 1
    while period <= MAX_PROBES:
        if _probe(model, valid_size + period, output) is not None:
            return period
        period *= 2
    return 1


def _fixed_geometry(model, output: str) -> TileGeometry:
    height, width = model.input_shape[1:3]
    probe = keras.KerasTensor((1, *model.input_shape[1:]), dtype="float32")
    spec = select_output(model.compute_output_spec(probe), output)
    if height != width or spec.shape[1] != spec.shape[2]:
        raise ValueError(f"square tiles only; the model takes {height}x{width} inputs")
    # the pooling period is a property of the layers: walk the graph at other sizes
    alignment = _alignment(model, int(height), output) if _can_walk(model) else 1
    return TileGeometry(int(height), int(spec.shape[1]), alignment)


def tile_geometry(model: keras.Model, wanted_input: int | None = None, *,
                  wanted_output: int | None = None, output: str = "final") -> TileGeometry:
    """The tile geometry of ``model`` closest to a wanted tile size.

    Fixed-size models report their size (and the pooling period, from their layers at other
    sizes). For models built with ``input_size=None``, candidate
    sizes are probed with symbolic shapes (a few ms each; merges must match and no map may be
    empty), and the valid input size nearest to ``wanted_input`` is taken (ties: the larger);
    with ``wanted_output``, the smallest valid input whose output is at least that wide.
    Results are cached per model.

    Args:
        model: a network of the U-Net family with one image input ``[B, H, W, C]``.
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
    for name, value in (("wanted_input", wanted_input), ("wanted_output", wanted_output)):
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)
                                  or value < 1):
            raise ValueError(f"{name} must be None or an integer >= 1, got {value!r}")
    if wanted_input is not None and wanted_output is not None:
        raise ValueError(f"give wanted_input or wanted_output, not both: got {wanted_input} and "
                         f"{wanted_output}")
    select_output(model.output, output)  # raises for an unknown output
    if len(model.inputs) != 1 or len(model.input_shape) != 4:
        raise ValueError(f"expected one image input [B, H, W, C], got {model.input_shape}")
    if model.input_shape[1] is not None or model.input_shape[2] is not None:
        geometry = _fixed_geometry(model, output)
        wanted_size = geometry.output_size if wanted_output is not None else geometry.input_size
        if (wanted_input or wanted_output or wanted_size) != wanted_size:
            raise ValueError(f"the model takes fixed {geometry.input_size}-pixel tiles "
                             f"(output {geometry.output_size}), got "
                             f"wanted_input={wanted_input}, wanted_output={wanted_output}")
        return geometry
    key = ("geometry", wanted_input, wanted_output, output)
    cache = _CACHE.setdefault(model, {})
    if key not in cache:
        if wanted_output is not None:
            reference = tile_geometry(model, output=output)
            size = _first_valid(model, wanted_output + 2 * reference.margin, output)
            while _probe(model, size, output) < wanted_output:
                size = _first_valid(model, size + 1, output)
        else:
            wanted = DEFAULT_TILE_INPUT if wanted_input is None else wanted_input
            size = _first_valid(model, wanted, output)
            below = size - _alignment(model, size, output)
            if below >= 1 and _probe(model, below, output) and wanted - below < size - wanted:
                size = below
        cache[key] = TileGeometry(size, _probe(model, size, output),
                                  _alignment(model, size, output))
    return cache[key]
