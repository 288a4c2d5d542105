"""Default tile settings: context, overlap and the tile size that covers an image cheapest."""

from __future__ import annotations

import math

import keras

from vesselnet.inference.geometry import TileGeometry, tile_geometry
from vesselnet.inference.tiling import tile_step

DEFAULT_MAX_TILE_INPUT = 800  # largest input tile picked automatically (memory bound)


MIN_SAME_PADDING_TILE = 256
"""Smallest input tile :func:`choose_tile_geometry` considers for a same-padding network.

Counted in input pixels alone, tiny tiles look cheapest for same padding (no margin, and a
context of ``size // 16`` rounds to nothing), but each is a network call and every tile border
is a seam: an HRF image would go through in 8-pixel tiles."""


def default_context(geometry: TileGeometry) -> int:
    """Output pixels dropped per tile side when none is given.

    0 with valid padding (every output pixel already has its full context). With same padding
    (margin 0) ``input_size // 16``: tile borders, where the network pads with zeros, are
    dropped, and the image border gets mirrored context instead of zeros.
    """
    return 0 if geometry.margin else geometry.input_size // 16


def default_overlap(geometry: TileGeometry, context: int = 0) -> int:
    """Output-tile overlap when none is given.

    0 with valid padding: tiles are aligned to the pooling grid and every output pixel has its
    full context, so tiles already join without seams and overlap would only cost time. With
    same padding a quarter of the tile, blended by the raised-cosine window.
    """
    return 0 if geometry.margin else (geometry.output_size - 2 * context) // 4


def choose_tile_geometry(model: keras.Model, height: int, width: int, *,
                         max_input: int = DEFAULT_MAX_TILE_INPUT, overlap: int | None = None,
                         context: int | None = None, output: str = "final") -> TileGeometry:
    """The tile size up to ``max_input`` that covers an image with the fewest input pixels.

    Candidates step down from the largest valid input by the pooling period, assuming a
    constant margin (true for the whole family), down to :data:`MIN_SAME_PADDING_TILE` for
    same padding; the pick is probed before it is returned.
    A DRIVE image (584x565) thus goes through a valid-padding network as one tile.

    Args:
        model: network of the U-Net family.
        height: image height.
        width: image width.
        max_input: largest input tile side considered. Defaults to 800.
        overlap: output-tile overlap. Defaults to None (:func:`default_overlap` per size).
        context: output pixels dropped per tile side. Defaults to None
            (:func:`default_context` per size).
        output: which output sets the size. Defaults to ``"final"``.

    Example:
        >>> choose_tile_geometry(build_model("unet", depth=3, filters=8), 584, 565)
        TileGeometry(input_size=624, output_size=584, alignment=4)
    """
    if model.input_shape[1] is not None:  # fixed-size model: its own tile
        return tile_geometry(model, output=output)
    largest = tile_geometry(model, max_input, output=output)
    if largest.input_size > max_input:
        largest = tile_geometry(model, largest.input_size - largest.alignment, output=output)
    costs = []
    for size in range(largest.input_size, 0, -largest.alignment):
        candidate_output = size - 2 * largest.margin
        if candidate_output < 1:
            break
        if not largest.margin and size < min(MIN_SAME_PADDING_TILE, largest.input_size):
            break  # same padding: small tiles cost little input but many calls and seams
        candidate = TileGeometry(size, candidate_output, largest.alignment)
        tile_context = default_context(candidate) if context is None else context
        tile = candidate_output - 2 * tile_context
        tile_overlap = default_overlap(candidate, tile_context) if overlap is None else overlap
        if tile < 1 or not 0 <= tile_overlap < tile:
            continue
        step = tile_step(tile, tile_overlap, candidate.alignment)
        tiles = math.ceil(max(height - tile, 0) / step + 1) * math.ceil(
            max(width - tile, 0) / step + 1)
        costs.append((tiles * size * size, -size, candidate))
    for _, _, candidate in sorted(costs):
        if tile_geometry(model, candidate.input_size, output=output) == candidate:
            return candidate
    return largest


MAX_TILE_INPUT = 2048
"""Largest input tile side :func:`bound_tile_size` lets through (a memory bound).

Activations grow with the tile's area: a 2048-pixel tile of a network with 32 first-level
channels holds 0.5 GB per float32 feature map, and ``--tile-size 100000`` asked for 28.5 GiB
at once. Larger photographs are tiled instead."""


def covering_tile_geometry(model: keras.Model, height: int, width: int, *,
                           context: int | None = None, output: str = "final") -> TileGeometry:
    """The smallest valid tile whose output, less its context, covers the image in one tile.

    Example:
        >>> covering_tile_geometry(build_model("unet", depth=3, filters=8), 96, 96)
        TileGeometry(input_size=136, output_size=96, alignment=4)
    """
    side = max(int(height), int(width))
    wanted = side
    for _ in range(64):
        geometry = tile_geometry(model, wanted_output=wanted, output=output)
        tile_context = default_context(geometry) if context is None else context
        covered = geometry.output_size - 2 * tile_context
        if covered >= side:
            return geometry
        wanted = geometry.output_size + max(side - covered, geometry.alignment)
    raise ValueError(f"no valid tile of {getattr(model, 'name', 'the model')} covers a "
                     f"{width}x{height} image")


def bound_tile_size(model: keras.Model, height: int, width: int, tile_size: int | None, *,
                    max_input: int = MAX_TILE_INPUT, context: int | None = None,
                    output: str = "final") -> tuple[int | None, str | None]:
    """A wanted input tile side, bounded by what the image needs and memory allows.

    A tile larger than the smallest one covering the whole image
    (:func:`covering_tile_geometry`) only adds mirrored padding: that covering tile is used
    instead. A tile above ``max_input`` is brought down to the largest valid tile up to it.
    ``None`` (the automatic choice) and fixed-size models are left as they are.

    Args:
        model: network of the U-Net family.
        height: image height (at the scale the network sees it).
        width: image width.
        tile_size: the wanted input tile side, or None.
        max_input: largest input tile side let through. Defaults to :data:`MAX_TILE_INPUT`.
        context: output pixels dropped per tile side. Defaults to None (the default context).
        output: which output sets the size. Defaults to ``"final"``.

    Returns:
        ``(tile_size, why)``: the tile side to use and ``None`` when it is the one wanted,
        ``"image"`` when the covering tile replaced it, or ``"memory"`` when ``max_input``
        bounded it.

    Example:
        >>> bound_tile_size(build_model("unet", depth=3, filters=8), 96, 96, 100000)
        (136, 'image')
    """
    if tile_size is None or model.input_shape[1] is not None:
        return tile_size, None
    covering = covering_tile_geometry(model, height, width, context=context, output=output)
    if tile_size > covering.input_size:
        tile_size, why = covering.input_size, "image"
    else:
        why = None
    if tile_size > max_input:
        largest = tile_geometry(model, max_input, output=output)
        if largest.input_size > max_input:
            largest = tile_geometry(model, largest.input_size - largest.alignment, output=output)
        tile_size, why = largest.input_size, "memory"
    return tile_size, why
