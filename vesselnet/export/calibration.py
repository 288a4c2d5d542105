"""Representative tiles for full-integer (int8) TFLite calibration.

The converter runs the float network on these tiles to choose every tensor's int8 range, so
they must look like what the network sees at inference: photographs preprocessed as the card
says, cut into input tiles of the exported size. For a DRIVE model take the DRIVE training
images; tests and models without data use synthetic retinas (``vesselnet.data.synthetic_retina``).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from vesselnet.core.checks import check_int
from vesselnet.inference import TileGeometry
from vesselnet.preprocessing import PreprocessConfig, preprocess

DEFAULT_CALIBRATION_TILES = 32


def calibration_tiles(records: Iterable, config: PreprocessConfig, geometry: TileGeometry, *,
                      count: int = DEFAULT_CALIBRATION_TILES, seed: int = 0) -> np.ndarray:
    """Random preprocessed input tiles ``[count, T, T, C]`` from photographs, for int8.

    Args:
        records: ``ImageRecord``s (photograph and FOV), e.g. a data set's training images.
        config: the network's preprocessing.
        geometry: the tile geometry (tiles of ``geometry.input_size``).
        count: number of tiles, spread evenly over the records. Defaults to 32.
        seed: seed of the tile positions. Defaults to 0.
    """
    check_int("count", count, 1)
    records = list(records)
    if not records:
        raise ValueError("calibration_tiles got no records")
    rng = np.random.default_rng(seed)
    size = geometry.input_size
    tiles = []
    for index, record in enumerate(records):
        share = count // len(records) + (index < count % len(records))
        if share == 0:
            continue
        image = np.asarray(preprocess(record.image, config, record.fov))
        extra_rows, extra_columns = max(0, size - image.shape[0]), max(0, size - image.shape[1])
        if extra_rows or extra_columns:
            image = np.pad(image, ((0, extra_rows), (0, extra_columns), (0, 0)), mode="symmetric")
        for _ in range(share):
            top = rng.integers(0, image.shape[0] - size + 1)
            left = rng.integers(0, image.shape[1] - size + 1)
            tiles.append(image[top:top + size, left:left + size])
    return np.stack(tiles).astype(np.float32)
