"""Size arithmetic of U-Net-shaped networks (valid or same padding).

With valid padding every 3x3 convolution trims one pixel from each side, so only some input
sizes travel through the poolings with even sizes; the output is smaller than the input by a
constant margin. These helpers answer which sizes are valid, what comes out, and which input
gives a wanted output, without building a model.
"""

from __future__ import annotations

from vesselnet.core.checks import is_int

PADDINGS = ("valid", "same")
MIN_IMAGE_SIDE = 32
"""Smallest photograph side (height and width, pixels) that vesselnet predicts.

One rule for every way in: ``vesselnet predict`` (and ``predict_files``) refuses a smaller
photograph per image, and the exported ``serving_default`` signature refuses it in the graph.
Images smaller than the network's tile are mirror-padded by the tiling; below this size a
fundus photograph (and its FOV estimate from corner statistics) makes no sense: a 20x20 image
came out 87 % "vessel"."""
BLOCKS = ("plain", "residual", "recurrent_residual", "recurrent")


def block_shrink(block: str, steps: int = 2) -> int:
    """Pixels a block of kind ``block`` takes off a side length with valid padding.

    Args:
        block: one of :data:`BLOCKS` (the block kinds of :mod:`vesselnet.models.blocks`).
        steps: recurrent steps ``t`` of the recurrent blocks. Defaults to 2.

    Example:
        >>> block_shrink("plain"), block_shrink("recurrent_residual", steps=3)
        (4, 16)
    """
    if block in ("plain", "residual"):
        return 4  # two 3x3 convolutions
    if block in ("recurrent_residual", "recurrent"):
        return 4 * (steps + 1)  # two recurrent layers of steps + 1 convolutions each
    raise ValueError(f"block must be one of {BLOCKS}, got {block!r}")


def _check_common(depth: int, padding: str, shrink: int) -> None:
    if not is_int(depth) or depth < 1:
        raise ValueError(f"depth must be an integer >= 1 (resolution levels), got {depth!r}")
    if padding not in PADDINGS:
        raise ValueError(f"padding must be one of {PADDINGS}, got {padding!r}")
    if not isinstance(shrink, int) or shrink < 0 or shrink % 2:
        raise ValueError(f"shrink per block must be an even integer >= 0, got {shrink!r}")


def _trace(input_size: int, depth: int, padding: str, shrink: int) -> int | None:
    """Output size of one U-Net for ``input_size``, or ``None`` if the size is not valid.

    ``shrink`` is what one block takes off a side length with valid padding (4 for two 3x3
    convolutions).
    """
    if padding == "same":
        shrink = 0
    size = input_size
    for _ in range(depth - 1):
        size -= shrink
        if size < 2 or size % 2:
            return None
        size //= 2
    size -= shrink
    if size < 1:
        return None
    for _ in range(depth - 1):
        size = 2 * size - shrink
        if size < 1:
            return None
    return size


def _largest_valid_at_most(size: int, depth: int, padding: str, shrink: int) -> int | None:
    """The largest valid input of one U-Net not above ``size`` and of the same parity."""
    while size >= 1:
        if _trace(size, depth, padding, shrink) is not None:
            return size
        size -= 2
    return None


def _chain(input_size: int, depth: int, padding: str, shrink: int, stages: int) -> int | None:
    """Output size after ``stages`` chained U-Nets, or ``None`` if not valid.

    Between two stages the map is centre-cropped to the largest valid input of the next stage
    (see :func:`stage_crop`).
    """
    size = _trace(input_size, depth, padding, shrink)
    for _ in range(stages - 1):
        if size is None:
            return None
        size = _largest_valid_at_most(size, depth, padding, shrink)
        if size is None:
            return None
        size = _trace(size, depth, padding, shrink)
    return size


def stage_crop(depth: int, padding: str = "valid", *, shrink: int = 4) -> int:
    """Pixels per side cropped from one stage's output before the next stage.

    With valid padding and four poolings, a U-Net's outputs (4 + 16k) are never valid inputs
    (12 + 16k), so the chained model crops the stage-1 map by this constant margin (4 pixels
    per side for the paper's U-Net; 0 for depth 4 or same padding).
    """
    _check_common(depth, padding, shrink)
    if padding == "same":
        return 0
    out = _trace(smallest_input_size(depth, padding, shrink=shrink, stages=2), depth, padding,
                 shrink)
    return (out - _largest_valid_at_most(out, depth, padding, shrink)) // 2


def output_size(input_size: int, depth: int = 5, padding: str = "valid", *, shrink: int = 4,
                stages: int = 1) -> int:
    """Side length of the output map for a square input of side ``input_size``.

    Args:
        input_size: side length of the input tile.
        depth: resolution levels (5 is the paper's U-Net with four poolings). Defaults to 5.
        padding: ``"valid"`` (Ronneberger et al. 2015) or ``"same"``. Defaults to ``"valid"``.
        shrink: pixels one block takes off a side with valid padding: 4 for two 3x3
            convolutions (U-Net, residual U-Net), ``4 * (t + 1)`` for R2U-Net. Defaults to 4.
        stages: U-Nets chained one after the other (2 for the chained model). Defaults to 1.

    Returns:
        The output side length.

    Raises:
        ValueError: when no valid output exists; the message names the nearest valid inputs.

    Example:
        >>> output_size(572)
        388
    """
    _check_common(depth, padding, shrink)
    if not is_int(input_size) or input_size < 1:
        raise ValueError(f"input size must be a positive integer, got {input_size!r}")
    size = _chain(input_size, depth, padding, shrink, stages)
    if size is None:
        below, above = nearest_valid_input_sizes(input_size, depth, padding, shrink=shrink,
                                                 stages=stages)
        nearest = ", ".join(str(s) for s in (below, above) if s is not None)
        raise ValueError(
            f"input size {input_size} gives no valid output for depth {depth} with "
            f"{padding} padding; nearest valid: {nearest}"
        )
    return size


def is_valid_input_size(input_size: int, depth: int = 5, padding: str = "valid", *,
                        shrink: int = 4, stages: int = 1) -> bool:
    """Whether ``input_size`` travels through the network (see :func:`output_size`)."""
    _check_common(depth, padding, shrink)
    return _chain(input_size, depth, padding, shrink, stages) is not None


def _period(depth: int) -> int:
    return 2 ** (depth - 1)


def smallest_input_size(depth: int = 5, padding: str = "valid", *, shrink: int = 4,
                        stages: int = 1) -> int:
    """The smallest valid input side length (output of at least one pixel).

    Example:
        >>> smallest_input_size(5)
        188
    """
    _check_common(depth, padding, shrink)
    limit = 10**6  # far above any real network; the first valid size is found long before
    for size in range(1, limit + 1):
        if _chain(size, depth, padding, shrink, stages) is not None:
            return size
    raise ValueError(f"no valid input size up to {limit} for depth {depth}, shrink {shrink}")


def nearest_valid_input_sizes(input_size: int, depth: int = 5, padding: str = "valid", *,
                              shrink: int = 4, stages: int = 1) -> tuple[int | None, int]:
    """The valid input sizes just below (or ``None``) and at/above ``input_size``."""
    smallest = smallest_input_size(depth, padding, shrink=shrink, stages=stages)
    if input_size <= smallest:
        return None, smallest
    period = _period(depth)
    steps, rest = divmod(input_size - smallest, period)
    below = smallest + steps * period
    if rest == 0:
        return below, below
    return below, below + period


def input_size_for_output(wanted_output: int, depth: int = 5, padding: str = "valid", *,
                          shrink: int = 4, stages: int = 1) -> int:
    """The smallest valid input whose output is at least ``wanted_output`` pixels wide.

    Example:
        >>> input_size_for_output(388)
        572
    """
    if not isinstance(wanted_output, int) or wanted_output < 1:
        raise ValueError(f"wanted output size must be a positive integer, got {wanted_output!r}")
    size = smallest_input_size(depth, padding, shrink=shrink, stages=stages)
    period = _period(depth)
    out = output_size(size, depth, padding, shrink=shrink, stages=stages)
    if out < wanted_output:
        # Output grows by exactly one period per period of input.
        size += -(-(wanted_output - out) // period) * period
    return size


def crop_margin(depth_below: int, padding: str, shrink: int) -> int:
    """Pixels per side to crop a skip connection so it matches the up-sampled map.

    ``depth_below`` counts the levels under the skip (1 for the deepest skip). The difference
    between the skip's side and the up-sampled map's side does not depend on the input size.
    """
    if padding == "same":
        return 0
    probe = smallest_input_size(depth_below, padding, shrink=shrink)
    trimmed = probe - _trace(probe, depth_below, padding, shrink)
    # skip side = 2 * probe, up-sampled side = 2 * out  ->  difference 2 * trimmed, per side
    return trimmed


DEFAULT_BATCH_SIZE = 1
"""Network inputs per call when predicting a whole image. On a CPU large tiles gain nothing
from batching, and each extra tile in a call holds its own activations: an HRF-size
photograph at the learned scale (two tiles) peaked at 193 MiB over the loaded chained network
with 1 against 425 MiB with 2 (``benchmarks/bench_scale.py``). Batching does not change the
maps."""
