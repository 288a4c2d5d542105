"""Field-of-view (FOV) masks derived from a fundus photograph, for data sets that ship none."""

from __future__ import annotations

import cv2
import numpy as np
from scipy import ndimage

CORNER_FRACTION = 1 / 20
"""Side of each image-corner square used to measure the dark surround, as a share of min(H, W)."""


def derive_fov(
    image: np.ndarray,
    *,
    threshold_fraction: float = 0.1,
    erosion_radius: int = 0,
    dark_corner_ratio: float = 0.5,
) -> np.ndarray:
    """Field of view of a fundus photograph: the bright disc of retina inside the dark surround.

    Method:
        1. Red channel (the brightest one in fundus photographs), 5x5 median-filtered to
           suppress JPEG and sensor noise.
        2. Background level ``bg``: 99th percentile of the dark ones of the four corner
           squares (side ``min(H, W) / 20``), which lie outside the circular FOV of a fundus
           camera (a crop may keep only some of them). Retina level ``fg``: 75th percentile
           of the whole red channel.
        3. Threshold ``bg + threshold_fraction * (fg - bg)``: just above the surround, so that
           the dim rim of the retina stays inside (DRIVE's official masks include it).
        4. Clean-up: the largest connected component, its holes filled (dark vessels, the dark
           fovea), then an optional erosion by a disc of ``erosion_radius`` pixels to drop the rim.
        5. A corner is dark when its median is at most ``dark_corner_ratio`` times the median
           of the central region. When none is (a photograph cropped inside the FOV, or a
           non-fundus image), the whole image is the FOV.

    Measured on the 20 DRIVE training images against their official masks with the defaults:
    mean Dice 0.9986 (min 0.9951), mean pixel accuracy 0.9981 (min 0.9932). An erosion lowers
    that agreement (radius 1: Dice 0.996, radius 3: 0.989), hence the default of 0.

    Args:
        image: RGB photograph, ``uint8 [H, W, 3]``.
        threshold_fraction: position of the threshold between background and retina levels.
            Defaults to 0.1.
        erosion_radius: radius in pixels of the final erosion. Defaults to 0 (none).
        dark_corner_ratio: corners darker than this share of the centre count as surround.
            Defaults to 0.5.

    Returns:
        ``bool`` array ``[H, W]``, ``True`` inside the field of view.

    Example:
        >>> record = synthetic_retina(seed=0)
        >>> fov = derive_fov(record.image)
        >>> fov.shape, fov.dtype
        ((584, 565), dtype('bool'))
    """
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[-1] != 3:
        raise ValueError(
            f"derive_fov expects an RGB uint8 image [H, W, 3], got dtype {image.dtype} "
            f"and shape {image.shape}"
        )
    if not 0.0 < threshold_fraction < 1.0:
        raise ValueError(f"threshold_fraction must be in (0, 1), got {threshold_fraction}")
    if erosion_radius < 0:
        raise ValueError(f"erosion_radius must be >= 0, got {erosion_radius}")
    height, width = image.shape[:2]
    red = cv2.medianBlur(np.ascontiguousarray(image[..., 0]), 5)
    side = max(2, round(min(height, width) * CORNER_FRACTION))
    corners = [red[:side, :side], red[:side, -side:], red[-side:, :side], red[-side:, -side:]]
    centre = red[height // 4 : height - height // 4, width // 4 : width - width // 4]
    limit = dark_corner_ratio * np.median(centre)
    dark = [corner.ravel() for corner in corners if np.median(corner) <= limit]
    if not dark:
        return np.ones((height, width), bool)
    background = float(np.percentile(np.concatenate(dark), 99))
    retina = float(np.percentile(red, 75))
    bright = red > background + threshold_fraction * max(retina - background, 0.0)
    fov = _largest_component(bright)
    fov = ndimage.binary_fill_holes(fov)
    if erosion_radius > 0:
        disc = cv2.getStructuringElement(
            cv2.MORPH_ELLIPSE, (2 * erosion_radius + 1, 2 * erosion_radius + 1)
        )
        fov = cv2.erode(fov.astype(np.uint8), disc, borderType=cv2.BORDER_REPLICATE) > 0
    return fov


def _largest_component(mask: np.ndarray) -> np.ndarray:
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), 8)
    if count <= 1:
        return mask.copy()
    largest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    return labels == largest


def mask_agreement(predicted: np.ndarray, reference: np.ndarray) -> tuple[float, float]:
    """Dice coefficient and pixel accuracy between two boolean masks of the same shape.

    Example:
        >>> a = np.array([[True, True], [False, False]])
        >>> mask_agreement(a, np.array([[True, False], [False, False]]))
        (0.6666666666666666, 0.75)
    """
    if predicted.shape != reference.shape:
        raise ValueError(f"mask shapes differ: {predicted.shape} vs {reference.shape}")
    both = np.count_nonzero(predicted & reference)
    total = np.count_nonzero(predicted) + np.count_nonzero(reference)
    dice = 1.0 if total == 0 else 2.0 * both / total
    return dice, float(np.mean(predicted == reference))
