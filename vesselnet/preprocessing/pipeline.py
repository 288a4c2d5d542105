"""``preprocess``: a uint8 RGB photograph to the float32 network input, as a config says.

Where floats become uint8: only the ``clahe`` step quantises, right before CLAHE, clipping to
[0, 255] and then truncating (``rounding="truncate"``, like retina-unet's ``astype(uint8)``) or
rounding half to even (``rounding="round"``); its output grey levels go on as float32. The
final result is clipped to [0, 1].
"""

from __future__ import annotations

import math
from typing import Iterable

import numpy as np
import tensorflow as tf

from vesselnet.config import CLASSIC_CONFIG, PreprocessConfig, Step
from vesselnet.preprocessing import ops
from vesselnet.preprocessing.clahe import clahe_batch


def _apply_step(step: Step, image, fovs):
    options = step.options
    mask = fovs if options.get("in_fov", False) else None
    if step.name == "zscore":
        return ops.zscore_normalize(image, options["mean"], options["std"], mask=mask)
    if step.name == "minmax":
        return ops.minmax_normalize(image, options["low"], options["high"], mask=mask)
    if step.name == "clahe":
        grey_levels = ops.to_uint8(image, options["rounding"])
        equalised = clahe_batch(grey_levels, options["clip_limit"], options["tile_grid"])
        return tf.cast(equalised, tf.float32)
    if step.name == "gamma":
        return ops.adjust_gamma(image, options["gamma"])
    return image / options["divisor"]


def preprocess_batch(images, config: PreprocessConfig = CLASSIC_CONFIG, fovs=None):
    """Preprocesses a batch ``[B, H, W, 3]`` (uint8, or float in 0..255) to ``[B, H, W, C]``.

    Args:
        images: RGB photographs; B, H and W may be unknown.
        config: the pipeline. Defaults to the classic retina pipeline.
        fovs: FOV masks ``[B, H, W]`` or ``[B, H, W, 1]``, needed when a step has
            ``in_fov=True``.

    Returns:
        float32 ``[B, H, W, config.channels]`` clipped to [0, 1].
    """
    images = tf.convert_to_tensor(images)
    if images.shape.rank != 4 or images.shape[-1] not in (None, 3):
        raise ValueError(f"images must be RGB [B, H, W, 3], got shape {images.shape}")
    if config.needs_fov and fovs is None:
        raise ValueError("a step has in_fov=True, so preprocess needs the FOV masks (fovs)")
    if config.grayscale is None:
        image = tf.cast(images, tf.float32)
    else:
        image = ops.grayscale(images, config.grayscale)
    for step in config.steps:
        image = _apply_step(step, image, fovs)
    return tf.clip_by_value(image, 0.0, 1.0)


def preprocess(image, config: PreprocessConfig = CLASSIC_CONFIG, fov=None):
    """Preprocesses one uint8 RGB photograph ``[H, W, 3]`` to float32 ``[H, W, C]`` in [0, 1].

    Args:
        image: RGB photograph (uint8, or float in 0..255); H and W may be unknown.
        config: the pipeline. Defaults to the classic retina pipeline.
        fov: FOV mask ``[H, W]`` or ``[H, W, 1]``, needed when a step has ``in_fov=True``.

    Returns:
        float32 ``[H, W, config.channels]``.
    """
    image = tf.convert_to_tensor(image)
    if image.shape.rank != 3:
        raise ValueError(f"image must be RGB [H, W, 3], got shape {image.shape}")
    fovs = None if fov is None else tf.convert_to_tensor(fov)[None]
    return preprocess_batch(image[None], config, fovs)[0]


def fit_statistics(images: Iterable, fovs: Iterable, grayscale=ops.DEFAULT_GRAYSCALE):
    """Data-set mean and (population) std of the grayscale values inside the FOVs.

    Args:
        images: uint8 RGB arrays ``[H, W, 3]`` (sizes may differ).
        fovs: boolean FOV masks ``[H, W]``, one per image.
        grayscale: the weights the config will use. Defaults to ``ops.DEFAULT_GRAYSCALE``.

    Returns:
        ``(mean, std)`` as Python floats, for ``PreprocessConfig.with_statistics``.
    """
    count, mean, squares = 0, 0.0, 0.0
    for index, (image, fov) in enumerate(zip(images, fovs, strict=True)):
        fov = np.asarray(fov, dtype=bool)
        grey = ops.grayscale(np.asarray(image)[None], grayscale).numpy()[0, :, :, 0]
        if fov.shape != grey.shape:
            raise ValueError(f"image {index}: FOV shape {fov.shape} != image shape {grey.shape}")
        values = grey[fov].astype(np.float64)
        if values.size == 0:
            continue
        # Chan et al.'s pairwise update of count, mean and sum of squared deviations.
        delta = values.mean() - mean
        total = count + values.size
        squares += ((values - values.mean()) ** 2).sum() + delta**2 * count * values.size / total
        mean += delta * values.size / total
        count = total
    if count == 0:
        raise ValueError("fit_statistics got no FOV pixels (no images, or all FOVs empty)")
    return float(mean), float(math.sqrt(squares / count))
