"""U-Net pixel weight maps (Ronneberger et al., 2015), computed once per image and cached.

The weight map of "U-Net: Convolutional Networks for Biomedical Image Segmentation"
(Ronneberger, Fischer and Brox, MICCAI 2015, eq. 2) is

    w(x) = w_c(x) + w0 * exp(-(d1(x) + d2(x))^2 / (2 * sigma^2))

with ``d1`` / ``d2`` the distances to the nearest and second-nearest object. Here an object is
an 8-connected component of the vessel mask. Conventions chosen for vessels:

* ``w_c`` balances the two classes inside the field of view (FOV): a class holding ``n_c`` of
  the ``n`` FOV pixels gets ``n / (2 * n_c)``, so the mean of ``w_c`` over the FOV is 1
  (DRIVE, 12.5 % vessels: vessel 4.0, background 0.571). With ``class_balance=False``
  ``w_c = 1``.
* The border term is added to background pixels only (as in the paper's cell images, where
  it separates touching objects); vessel pixels keep ``w_c``.
* Cut-off: the border term is set to 0 where ``d1 + d2 > cutoff_sigmas * sigma`` (default
  4 sigma = 20 px: the dropped value is below ``w0 * exp(-8) = 0.0034``). This bounds the
  work: each component's distance transform is computed only inside its bounding box grown
  by the cut-off, which contains every pixel the component can influence, so distances
  inside the cut-off are exact.
* The map is 0 outside the FOV.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import numpy as np
import scipy.ndimage

from vesselnet.data.records import ImageRecord

_EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)
_MEMORY_CACHE: dict[str, np.ndarray] = {}


def _check_parameters(w0: float, sigma: float, cutoff_sigmas: float) -> None:
    if w0 < 0:
        raise ValueError(f"w0 must be >= 0, got {w0}")
    if sigma <= 0:
        raise ValueError(f"sigma must be > 0, got {sigma}")
    if cutoff_sigmas <= 0:
        raise ValueError(f"cutoff_sigmas must be > 0, got {cutoff_sigmas}")


def class_balance_weights(vessels: np.ndarray, fov: np.ndarray | None = None) -> np.ndarray:
    """Class-frequency weights ``w_c``: ``n / (2 * n_c)`` inside the FOV, 0 outside.

    Args:
        vessels: bool vessel mask ``[H, W]``.
        fov: bool field-of-view mask ``[H, W]``. Defaults to the whole image.

    Returns:
        float32 ``[H, W]``. When the FOV holds only one class, that class gets weight 1.

    Example:
        >>> w = class_balance_weights(np.array([[1, 0, 0, 0]], bool))
        >>> w.tolist()
        [[2.0, 0.6666666865348816, 0.6666666865348816, 0.6666666865348816]]
    """
    vessels = np.asarray(vessels, dtype=bool)
    fov = np.ones_like(vessels) if fov is None else np.asarray(fov, dtype=bool)
    if vessels.ndim != 2 or fov.shape != vessels.shape:
        raise ValueError(
            f"expected 2-D vessel and FOV masks of one shape, got {vessels.shape} and {fov.shape}"
        )
    total = int(fov.sum())
    n_vessel = int((vessels & fov).sum())
    n_background = total - n_vessel
    weights = np.zeros(vessels.shape, dtype=np.float32)
    if n_vessel == 0 or n_background == 0:
        weights[fov] = 1.0
        return weights
    weights[vessels & fov] = total / (2.0 * n_vessel)
    weights[~vessels & fov] = total / (2.0 * n_background)
    return weights


def border_weights(
    vessels: np.ndarray, *, w0: float = 10.0, sigma: float = 5.0, cutoff_sigmas: float = 4.0
) -> np.ndarray:
    """The border term ``w0 * exp(-(d1 + d2)^2 / (2 sigma^2))`` on background pixels.

    Args:
        vessels: bool vessel mask ``[H, W]``; objects are its 8-connected components.
        w0: peak weight. Defaults to 10.
        sigma: width in pixels. Defaults to 5.
        cutoff_sigmas: the term is 0 where ``d1 + d2 > cutoff_sigmas * sigma``. Defaults to 4.

    Returns:
        float32 ``[H, W]``; all zero when the mask has fewer than two components.

    Example:
        >>> mask = np.zeros((1, 7), bool); mask[0, 0] = mask[0, 6] = True
        >>> round(float(border_weights(mask)[0, 3]), 4)  # d1 = d2 = 3
        4.8675
    """
    _check_parameters(w0, sigma, cutoff_sigmas)
    vessels = np.asarray(vessels, dtype=bool)
    if vessels.ndim != 2:
        raise ValueError(f"expected a 2-D vessel mask, got shape {vessels.shape}")
    labels, n_components = scipy.ndimage.label(vessels, structure=_EIGHT_CONNECTED)
    if n_components < 2:
        return np.zeros(vessels.shape, dtype=np.float32)
    cutoff = cutoff_sigmas * sigma
    d1, nearest = scipy.ndimage.distance_transform_edt(~vessels, return_indices=True)
    nearest_label = labels[nearest[0], nearest[1]]
    d2 = np.full(vessels.shape, np.inf)
    grow = int(math.ceil(cutoff))
    height, width = vessels.shape
    for label, box in enumerate(scipy.ndimage.find_objects(labels), start=1):
        rows = slice(max(box[0].start - grow, 0), min(box[0].stop + grow, height))
        cols = slice(max(box[1].start - grow, 0), min(box[1].stop + grow, width))
        distance = scipy.ndimage.distance_transform_edt(labels[rows, cols] != label)
        other = nearest_label[rows, cols] != label
        d2_box = d2[rows, cols]
        d2_box[other] = np.minimum(d2_box[other], distance[other])
    total = d1 + d2
    weights = w0 * np.exp(-(total**2) / (2.0 * sigma**2))
    weights[(total > cutoff) | vessels] = 0.0
    return weights.astype(np.float32)


def unet_weight_map(
    vessels: np.ndarray,
    fov: np.ndarray | None = None,
    *,
    w0: float = 10.0,
    sigma: float = 5.0,
    cutoff_sigmas: float = 4.0,
    class_balance: bool = True,
) -> np.ndarray:
    """The U-Net weight map ``w_c + border term``, 0 outside the FOV.

    Args:
        vessels: bool vessel mask ``[H, W]``.
        fov: bool FOV mask ``[H, W]``. Defaults to the whole image.
        w0: border-term peak. Defaults to 10.
        sigma: border-term width in pixels. Defaults to 5.
        cutoff_sigmas: border-term cut-off in units of sigma. Defaults to 4.
        class_balance: use the class-balancing ``w_c``; ``False`` uses ``w_c = 1``.
            Defaults to True.

    Returns:
        float32 ``[H, W]``.

    Example:
        >>> record = ...  # an ImageRecord with vessels
        >>> weights = unet_weight_map(record.vessels, record.fov)
    """
    vessels = np.asarray(vessels, dtype=bool)
    fov = np.ones_like(vessels) if fov is None else np.asarray(fov, dtype=bool)
    if class_balance:
        base = class_balance_weights(vessels, fov)
    else:
        base = fov.astype(np.float32)
    border = border_weights(vessels, w0=w0, sigma=sigma, cutoff_sigmas=cutoff_sigmas)
    return np.where(fov, base + border, 0.0).astype(np.float32)


def _cache_key(record: ImageRecord, parameters: tuple) -> str:
    digest = hashlib.sha1()
    digest.update(np.packbits(record.vessels).tobytes())
    digest.update(np.packbits(record.fov).tobytes())
    digest.update(repr((record.shape, parameters)).encode())
    safe_name = "".join(c if c.isalnum() or c in "-_." else "_" for c in record.name)
    return f"{safe_name}-{digest.hexdigest()[:16]}"


def record_weight_map(
    record: ImageRecord,
    *,
    w0: float = 10.0,
    sigma: float = 5.0,
    cutoff_sigmas: float = 4.0,
    class_balance: bool = True,
    cache_dir: str | Path | None = None,
) -> np.ndarray:
    """:func:`unet_weight_map` of a record, cached in memory and optionally in ``cache_dir``.

    The cache key is the record name, the parameters and a hash of the vessel and FOV masks,
    so a changed annotation never reuses a stale map.

    Args:
        record: an :class:`ImageRecord` with a vessel mask.
        w0, sigma, cutoff_sigmas, class_balance: as in :func:`unet_weight_map`.
        cache_dir: directory for ``.npy`` copies (created when missing). Defaults to None
            (memory only).

    Returns:
        float32 ``[H, W]``.

    Example:
        >>> weights = record_weight_map(record, cache_dir="~/.cache/vesselnet/weights")
    """
    if record.vessels is None:
        raise ValueError(f"image {record.name!r} has no vessel mask; a weight map needs one")
    key = _cache_key(record, (float(w0), float(sigma), float(cutoff_sigmas), bool(class_balance)))
    if key in _MEMORY_CACHE:
        return _MEMORY_CACHE[key]
    path = None
    if cache_dir is not None:
        path = Path(cache_dir).expanduser() / f"{key}.npy"
        if path.exists():
            _MEMORY_CACHE[key] = np.load(path)
            return _MEMORY_CACHE[key]
    weights = unet_weight_map(
        record.vessels, record.fov, w0=w0, sigma=sigma, cutoff_sigmas=cutoff_sigmas,
        class_balance=class_balance,
    )
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, weights)
    _MEMORY_CACHE[key] = weights
    return weights


def clear_weight_map_cache() -> None:
    """Empty the in-memory weight-map cache (the on-disk cache is left alone)."""
    _MEMORY_CACHE.clear()
