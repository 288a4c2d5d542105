"""Structural similarity (SSIM) between a probability map and the ground truth, in NumPy.

Definition (Wang et al. 2004, "Image quality assessment: from error visibility to structural
similarity"): local means, variances and covariance under a Gaussian window of sigma 1.5
truncated at 3.5 sigma (11 x 11), population (not sample) covariance, ``C1 = (0.01 L)^2``,
``C2 = (0.03 L)^2`` with data range ``L = 1``; image borders reflected (``d c b a | a b c d``).
`ssim_map` equals ``skimage.metrics.structural_similarity(..., gaussian_weights=True,
sigma=1.5, use_sample_covariance=False, data_range=1, full=True)[1]``.

`ssim` first sets both maps to 0 outside the FOV (outside pixels then agree, whatever the
network produced there, and do not penalise windows that straddle the FOV edge), then averages
the SSIM map over the FOV pixels, so it needs no border crop.
"""

from __future__ import annotations

import math

import numpy as np

from vesselnet.metrics.confusion import check_inputs

SIGMA = 1.5
TRUNCATE = 3.5
K1 = 0.01
K2 = 0.03


def gaussian_window(sigma: float = SIGMA, truncate: float = TRUNCATE) -> np.ndarray:
    """Normalised 1-D Gaussian weights of radius ``int(truncate * sigma + 0.5)`` (as SciPy)."""
    radius = int(truncate * sigma + 0.5)
    offsets = np.arange(-radius, radius + 1, dtype=np.float64)
    weights = np.exp(-0.5 * (offsets / sigma) ** 2)
    return weights / weights.sum()


def _gaussian_filter(image: np.ndarray, weights: np.ndarray) -> np.ndarray:
    radius = weights.size // 2
    for axis in (0, 1):
        padding = [(0, 0), (0, 0)]
        padding[axis] = (radius, radius)
        padded = np.pad(image, padding, mode="symmetric")
        length = image.shape[axis]
        filtered = np.zeros(image.shape, np.float64)
        for tap, weight in enumerate(weights):
            window = [slice(None), slice(None)]
            window[axis] = slice(tap, tap + length)
            filtered += weight * padded[tuple(window)]
        image = filtered
    return image


def ssim_map(prob, truth, sigma: float = SIGMA, data_range: float = 1.0) -> np.ndarray:
    """Per-pixel SSIM of two 2-D maps (see the module docstring for the exact definition).

    Args:
        prob: 2-D vessel probabilities.
        truth: 2-D ground truth, 0/1 or bool (used as 0.0/1.0).
        sigma: standard deviation of the Gaussian window. Defaults to 1.5.
        data_range: dynamic range ``L`` of the maps. Defaults to 1.0.

    Example:
        >>> similarity = ssim_map(probability_map, record.vessels)
    """
    prob = np.asarray(prob, np.float64)
    truth = np.asarray(truth, np.float64)
    if prob.ndim != 2 or prob.shape != truth.shape:
        raise ValueError(
            f"ssim needs two 2-D maps of one shape, got {prob.shape} and {truth.shape}"
        )
    if not (sigma > 0 and data_range > 0):
        raise ValueError(f"sigma and data_range must be > 0, got {sigma} and {data_range}")
    weights = gaussian_window(sigma)
    mean_x = _gaussian_filter(prob, weights)
    mean_y = _gaussian_filter(truth, weights)
    variance_x = _gaussian_filter(prob * prob, weights) - mean_x * mean_x
    variance_y = _gaussian_filter(truth * truth, weights) - mean_y * mean_y
    covariance = _gaussian_filter(prob * truth, weights) - mean_x * mean_y
    c1 = (K1 * data_range) ** 2
    c2 = (K2 * data_range) ** 2
    numerator = (2 * mean_x * mean_y + c1) * (2 * covariance + c2)
    denominator = (mean_x**2 + mean_y**2 + c1) * (variance_x + variance_y + c2)
    return numerator / denominator


def ssim_inside_fov(prob, truth, fov) -> tuple[float, int]:
    """Returns ``(sum of the SSIM map over the FOV, number of FOV pixels)`` after masking."""
    prob, truth, fov = check_inputs(prob, truth, fov)
    similarity = ssim_map(np.where(fov, prob, 0.0), truth & fov)
    return float(similarity[fov].sum()), int(np.count_nonzero(fov))


def ssim(prob, truth, fov=None) -> float:
    """Mean SSIM inside the FOV between a probability map and a binary ground truth.

    Args:
        prob: 2-D vessel probabilities in [0, 1].
        truth: 2-D binary ground truth.
        fov: field-of-view mask; None averages over every pixel. Defaults to None.

    Returns:
        The FOV mean of the SSIM map, NaN for an empty FOV.

    Example:
        >>> ssim(probability_map, record.vessels, record.fov)
    """
    total, count = ssim_inside_fov(prob, truth, fov)
    return total / count if count else math.nan
