"""Keras layer that runs the preprocessing pipeline inside a model (``Preprocess -> network``)."""

from __future__ import annotations

from typing import Mapping

import keras

from vesselnet.config import CLASSIC_CONFIG, PreprocessConfig
from vesselnet.preprocessing.pipeline import preprocess_batch


@keras.saving.register_keras_serializable(package="vesselnet")
class Preprocess(keras.layers.Layer):
    """Applies ``preprocess`` to a batch of RGB photographs inside a Keras model.

    The pipeline is the one of ``PreprocessConfig`` (by default the classic retina pipeline of
    retina-unet, as in G. Alfonso Francia et al., "Chaining a U-Net With a Residual U-Net for
    Retinal Blood Vessels Segmentation", IEEE Access 8, 2020), with CLAHE bit-exact with
    OpenCV, so a model exported with this layer in front sees the pixels it was trained on.

    XLA: compiling CLAHE with XLA fuses its float32 multiply-adds (FMA), which moves about one
    pixel in 10^5 by one grey level away from OpenCV. Unless ``allow_xla`` is True, a pipeline
    with CLAHE therefore marks the layer ``supports_jit = False``, so Keras runs the model
    without XLA (``jit_compile="auto"`` and ``True`` both fall back to ``False``).

    Args:
        preprocess_config: a ``PreprocessConfig`` or its ``to_dict()`` form. Defaults to the
            classic retina pipeline. Steps with ``in_fov=True`` are refused (no FOV input).
        allow_xla: let Keras XLA-compile a model holding this layer, accepting the rare
            one-grey-level CLAHE differences. Defaults to False.
        **kwargs: base ``keras.layers.Layer`` arguments (``name``, ...).

    Input:
        ``[B, H, W, 3]`` uint8, or float in 0..255; B, H and W may be unknown.

    Output:
        float32 ``[B, H, W, C]`` in [0, 1], C = ``preprocess_config.channels``.

    Example:
        >>> inputs = keras.Input((None, None, 3), dtype="uint8")
        >>> features = Preprocess(name="preprocess")(inputs)
        >>> outputs = keras.layers.Conv2D(1, 3, padding="same", name="head")(features)
        >>> model = keras.Model(inputs, outputs)
    """

    def __init__(self, preprocess_config=None, allow_xla: bool = False, **kwargs):
        super().__init__(**kwargs)
        if preprocess_config is None:
            preprocess_config = CLASSIC_CONFIG
        elif isinstance(preprocess_config, Mapping):
            preprocess_config = PreprocessConfig.from_dict(preprocess_config)
        elif not isinstance(preprocess_config, PreprocessConfig):
            raise ValueError(
                "preprocess_config must be a PreprocessConfig or its dict, "
                f"got {type(preprocess_config).__name__}: {preprocess_config!r}"
            )
        if preprocess_config.needs_fov:
            raise ValueError(
                "the Preprocess layer has no FOV input, but a step has in_fov=True: "
                f"{preprocess_config.to_dict()['steps']}"
            )
        if not isinstance(allow_xla, bool):
            raise ValueError(f"allow_xla must be True or False, got {allow_xla!r}")
        self.preprocess_config = preprocess_config
        self.allow_xla = allow_xla
        has_clahe = any(step.name == "clahe" for step in preprocess_config.steps)
        self.supports_jit = allow_xla or not has_clahe

    def call(self, images):
        return preprocess_batch(images, self.preprocess_config)

    def compute_output_shape(self, input_shape):
        return (*tuple(input_shape)[:3], self.preprocess_config.channels)

    def get_config(self):
        config = super().get_config()
        config.update(
            preprocess_config=self.preprocess_config.to_dict(), allow_xla=self.allow_xla
        )
        return config
