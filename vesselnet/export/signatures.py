"""The graphs an export holds: photograph -> vessel probability, and tile -> vessel probability.

Both are plain TensorFlow functions built from a Keras network; ``saved_model.py`` puts them
into a SavedModel as the ``serving_default`` and ``tile`` signatures, ``tflite.py`` converts
the tile graph. Only core TF ops are used (no ``py_function``, no custom ops), so TF Serving,
``saved_model_cli`` and a Python process without vesselnet can run them.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from vesselnet.core.scale import SCALE_TOLERANCE
from vesselnet.core.sizes import MIN_IMAGE_SIDE  # the rule of `vesselnet predict` too
from vesselnet.inference import (
    DEFAULT_BATCH_SIZE,
    TileGeometry,
    make_tiled_predictor,
    output_activation,
    select_output,
    vessel_probability,
)
from vesselnet.preprocessing import PreprocessConfig, fov_diameter_tf, preprocess
from vesselnet.preprocessing.fov import derive_fov_tf
from vesselnet.preprocessing.resample import resample_map, resample_photograph

PHOTOGRAPH_INPUT = "image"
TILE_INPUT = "tiles"
PROBABILITY_OUTPUT = "probability"
FOV_OUTPUT = "fov"


def photograph_spec() -> tf.TensorSpec:
    """Input of ``serving_default``: one uint8 photograph ``[1, H, W, channels]``.

    Channels are left open (``None``) on purpose: a grey or RGBA image then reaches the
    graph's own check and gets a readable message, not a signature-binding error.
    """
    return tf.TensorSpec([1, None, None, None], tf.uint8, name=PHOTOGRAPH_INPUT)


def tile_spec(geometry: TileGeometry, channels: int) -> tf.TensorSpec:
    """Input of the ``tile`` signature: preprocessed float32 tiles ``[B, T, T, C]``."""
    return tf.TensorSpec([None, geometry.input_size, geometry.input_size, channels],
                         tf.float32, name=TILE_INPUT)


def check_photograph(image: tf.Tensor) -> tf.Tensor:
    """``image`` after run-time checks with readable messages (channels, batch, size)."""
    shape = tf.shape(image)
    checks = [
        tf.debugging.assert_equal(
            shape[3], 3, message="the photograph must be RGB, [1, H, W, 3] uint8; got this "
                                 "many channels instead of 3"),
        tf.debugging.assert_equal(
            shape[0], 1, message="serving_default takes one photograph per request, "
                                 "[1, H, W, 3]; got this batch size instead of 1"),
        tf.debugging.assert_greater_equal(
            tf.minimum(shape[1], shape[2]), MIN_IMAGE_SIDE,
            message=f"the photograph is too small: height and width must be at least "
                    f"{MIN_IMAGE_SIDE} pixels; got this smaller side"),
    ]
    with tf.control_dependencies(checks):
        return tf.identity(image)


def tile_probability_fn(model: keras.Model, activation: str | None = None,
                        output: str = "final"):
    """``tiles [B, T, T, C] -> vessel probability [B, t, t]`` of ``model``, float32.

    Args:
        model: network of the U-Net family.
        activation: its output activation. Defaults to None (read from the model).
        output: ``"final"`` or ``"stage1"`` (chained model). Defaults to ``"final"``.
    """
    activation = output_activation(model, output) if activation is None else activation

    def probability(tiles):
        return vessel_probability(select_output(model(tiles, training=False), output),
                                  activation)

    return probability


def photograph_fn(model: keras.Model, config: PreprocessConfig, geometry: TileGeometry, *,
                  overlap: int | None = None, batch_size: int = DEFAULT_BATCH_SIZE,
                  activation: str | None = None, learned_fov_diameter: float | None = None,
                  scale_tolerance: float = SCALE_TOLERANCE):
    """``photograph [1, H, W, 3] uint8 -> {"probability", "fov"}`` in TF ops.

    In order: run-time checks, the FOV by :func:`~vesselnet.preprocessing.fov.derive_fov_tf`;
    with a learned scale, the FOV's diameter (:func:`~vesselnet.preprocessing.fov_diameter_tf`)
    and the photograph and FOV resampled to the learned scale (as ``vesselnet predict
    --scale auto`` does, factors within ``1 +- scale_tolerance`` taken as 1); the card's
    preprocessing, overlap-tile prediction with ``geometry``
    (:func:`~vesselnet.inference.make_tiled_predictor`; images smaller than a tile are
    mirror-padded), and the map resampled back to the photograph's grid.

    Args:
        model: network of the U-Net family.
        config: the preprocessing the network was trained with.
        geometry: the tile geometry used inside the graph.
        overlap: output-tile overlap. Defaults to None (the inference default).
        batch_size: tiles per network call. Defaults to 1.
        activation: the output activation. Defaults to None (read from the model).
        learned_fov_diameter: the network's learned scale (FOV diameter in pixels). Defaults
            to None: the photograph is predicted at its own resolution.
        scale_tolerance: see :data:`~vesselnet.core.scale.SCALE_TOLERANCE`.

    Returns:
        A function returning ``probability``: float32 ``[1, H, W]``, the vessel probability
        everywhere (as ``predict_image`` gives it, not masked), and ``fov``: uint8 ``[1, H, W]``,
        1 inside the field of view. Multiply them for a map that is 0 outside the FOV.
    """
    if not isinstance(config, PreprocessConfig):
        raise ValueError(f"config must be a PreprocessConfig, got {type(config).__name__}")
    predictor = make_tiled_predictor(model, geometry, overlap=overlap, batch_size=batch_size,
                                     activation=activation)

    def predict(image, fov):
        network_input = preprocess(image, config, fov)
        return predictor(tf.ensure_shape(network_input, [None, None, config.channels]))

    def at_scale(image, fov):
        diameter, _ = fov_diameter_tf(fov)
        factor = learned_fov_diameter / tf.maximum(diameter, 1.0)
        keep = tf.logical_or(diameter <= 0.0, tf.abs(factor - 1.0) <= scale_tolerance)

        def resampled():
            small_image, small_fov = resample_photograph(image, fov, factor)
            return resample_map(predict(small_image, small_fov), tf.shape(image)[:2])

        return tf.cond(keep, lambda: predict(image, fov), resampled)

    def serve(image):
        image = check_photograph(image)[0]
        fov = derive_fov_tf(image)
        probability = (predict(image, fov) if learned_fov_diameter is None
                       else at_scale(image, fov))
        return {PROBABILITY_OUTPUT: probability[None], FOV_OUTPUT: tf.cast(fov, tf.uint8)[None]}

    return serve
