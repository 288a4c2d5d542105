"""Output files of a prediction, each written atomically (temporary name, then ``os.replace``).

- Probability map: ``png8`` (``round(255 p)``), ``png16`` (``round(65535 p)``) or ``npy``
  (float32, exact).
- Binary mask: PNG, 255 = vessel.
- Overlay: the photograph with the vessel pixels tinted in a colour.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import cv2
import numpy as np

from vesselnet.core.files import atomic_write_bytes, atomic_write_text, json_ready  # noqa: F401  (re-exported)

MAP_FORMATS = {"png8": ".png", "png16": ".png", "npy": ".npy"}
"""Probability-map formats and their file suffixes."""
OVERLAY_COLOUR = (0, 255, 0)
OVERLAY_OPACITY = 0.6


def json_text(data) -> str:
    """Indented JSON of ``data`` with NaN and infinities written as ``null``."""
    return json.dumps(json_ready(data), indent=2, allow_nan=False) + "\n"


def encode_png(array: np.ndarray) -> bytes:
    """PNG bytes of a uint8/uint16 ``[H, W]`` grey or ``[H, W, 3]`` RGB array."""
    if array.ndim == 3:
        array = cv2.cvtColor(np.ascontiguousarray(array), cv2.COLOR_RGB2BGR)
    success, encoded = cv2.imencode(".png", array)
    if not success:
        raise ValueError(f"could not encode a {array.dtype} array of shape {array.shape} as PNG")
    return encoded.tobytes()


def encode_probability(probability: np.ndarray, map_format: str) -> bytes:
    """File bytes of a probability map ``[H, W]`` in [0, 1] in one of :data:`MAP_FORMATS`.

    Example:
        >>> cv2.imdecode(np.frombuffer(encode_probability(p, "png16"), np.uint8), -1)[0, 0]
        65535  # for p[0, 0] == 1.0
    """
    if map_format not in MAP_FORMATS:
        raise ValueError(f"map format must be one of {sorted(MAP_FORMATS)}, got {map_format!r}")
    probability = np.clip(np.asarray(probability, np.float32), 0.0, 1.0)
    if map_format == "npy":
        buffer = io.BytesIO()
        np.save(buffer, probability, allow_pickle=False)
        return buffer.getvalue()
    if map_format == "png8":
        return encode_png(np.rint(probability * 255.0).astype(np.uint8))
    return encode_png(np.rint(probability.astype(np.float64) * 65535.0).astype(np.uint16))


def overlay(image: np.ndarray, mask: np.ndarray, colour=OVERLAY_COLOUR,
            opacity: float = OVERLAY_OPACITY) -> np.ndarray:
    """The RGB photograph with the ``mask`` pixels blended towards ``colour``.

    Args:
        image: uint8 RGB photograph ``[H, W, 3]``.
        mask: bool vessel mask ``[H, W]``.
        colour: RGB tint. Defaults to green, which stands out on the orange fundus.
        opacity: weight of the colour in [0, 1]. Defaults to 0.6.

    Returns:
        uint8 ``[H, W, 3]``; pixels outside the mask are the photograph's.
    """
    if not 0.0 <= opacity <= 1.0:
        raise ValueError(f"opacity must be in [0, 1], got {opacity}")
    result = image.copy()
    tint = np.asarray(colour, np.float32)
    blended = (1.0 - opacity) * image[mask].astype(np.float32) + opacity * tint
    result[mask] = np.clip(np.rint(blended), 0, 255).astype(np.uint8)
    return result


def output_file_names(name: str) -> frozenset[str]:
    """Every file name :func:`write_prediction` may write for image ``name``, in any format.

    Example:
        >>> sorted(output_file_names("a"))
        ['a_mask.png', 'a_overlay.png', 'a_probability.npy', 'a_probability.png']
    """
    return frozenset(path.name for map_format in MAP_FORMATS
                     for path in output_paths(Path(), name, map_format).values())


def output_paths(out_dir: Path, name: str, map_format: str) -> dict[str, Path]:
    """Files written for image ``name``: ``probability``, ``mask`` and ``overlay``."""
    return {
        "probability": out_dir / f"{name}_probability{MAP_FORMATS[map_format]}",
        "mask": out_dir / f"{name}_mask.png",
        "overlay": out_dir / f"{name}_overlay.png",
    }


def write_prediction(out_dir: Path, name: str, image: np.ndarray, probability: np.ndarray,
                     mask: np.ndarray, map_format: str) -> dict[str, Path]:
    """Writes the probability map, the binary mask and the overlay of one image.

    Returns:
        The written paths, keyed as :func:`output_paths`.
    """
    paths = output_paths(out_dir, name, map_format)
    atomic_write_bytes(paths["probability"], encode_probability(probability, map_format))
    atomic_write_bytes(paths["mask"], encode_png(mask.astype(np.uint8) * 255))
    atomic_write_bytes(paths["overlay"], encode_png(overlay(image, mask)))
    return paths
