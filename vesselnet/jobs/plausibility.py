"""When a prediction ran but its result means little: the warnings ``predict`` reports.

Each warning is one line starting with the photograph's path; ``predict`` prints it and
writes it to the image's ``warnings`` list in ``predictions.json``. Refused outright (an
error, not a warning) is a photograph smaller than :data:`~vesselnet.core.sizes.MIN_IMAGE_SIDE`
on a side, the rule of the exported ``serving_default`` signature too.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vesselnet.core.sizes import MIN_IMAGE_SIDE

PLAUSIBLE_VESSEL_FRACTION = (0.03, 0.30)
"""Share of the FOV predicted vessel outside which a result is flagged as implausible.

Measured with the bundled ``drive-ensemble`` (threshold 0.5, ``--scale auto``) on the 20
DRIVE training photographs (``../shared/datasets/DRIVE/training/images``): 0.087 to 0.144,
mean 0.118 (``vesselnet predict`` on the folder, ``vessel_fraction`` of predictions.json).
The band is a third of the smallest and twice the largest of those: a fundus photograph
predicted at the right scale falls well inside it; an empty map, a photograph of something
else or one at a very wrong scale does not."""


def size_problem(path: Path, image: np.ndarray) -> str | None:
    """The error of a photograph too small to hold a fundus, or None when it is large enough.

    Example:
        >>> size_problem(Path("tiny.png"), np.zeros((20, 20, 3), np.uint8))
        'tiny.png: the photograph is 20x20 pixels; ...'
    """
    height, width = image.shape[:2]
    if min(height, width) >= MIN_IMAGE_SIDE:
        return None
    return (f"{path}: the photograph is {width}x{height} pixels (width x height), too small "
            f"to hold a fundus: vesselnet needs at least {MIN_IMAGE_SIDE} pixels on each side "
            "(the exported model refuses it too)")


def result_warnings(path: Path, fov: np.ndarray, mask: np.ndarray,
                    band: tuple[float, float] = PLAUSIBLE_VESSEL_FRACTION) -> list[str]:
    """Warnings on one prediction: an empty FOV, or a vessel share outside ``band``.

    Args:
        path: the photograph (named in each warning).
        fov: bool field of view ``[H, W]``.
        mask: bool vessel mask ``[H, W]`` (inside the FOV).
        band: plausible share of FOV pixels predicted vessel. Defaults to
            :data:`PLAUSIBLE_VESSEL_FRACTION`.

    Example:
        >>> result_warnings(Path("black.png"), np.zeros((64, 64), bool), np.zeros((64, 64), bool))
        ['black.png: the field of view is empty (no fundus found: ...']
    """
    inside = int(np.count_nonzero(fov))
    if not inside:
        return [f"{path}: the field of view is empty (no fundus found: an all-dark or blank "
                "photograph?), so nothing was predicted; give its FOV mask with --fov if the "
                "photograph is right"]
    fraction = float(np.count_nonzero(mask & fov)) / inside
    low, high = band
    if low <= fraction <= high:
        return []
    return [f"{path}: {100 * fraction:.1f} % of the field of view came out vessel, outside the "
            f"plausible {100 * low:.0f}-{100 * high:.0f} % (fundus photographs: about 12 %); "
            "not a fundus photograph, or at a scale far from the network's? Check the "
            "overlay"]


def tile_note(path: Path, wanted: int, used: int, why: str, height: int, width: int) -> str:
    """The warning that ``--tile-size`` was bounded (see
    :func:`~vesselnet.inference.tile_choice.bound_tile_size`)."""
    if why == "image":
        return (f"{path}: --tile-size {wanted} is more than the {width}x{height} image (at the "
                f"network's scale) needs; used {used}-pixel tiles, the smallest that cover it")
    return (f"{path}: --tile-size {wanted} would not fit in memory; used {used}-pixel tiles, "
            "the largest predict takes")
