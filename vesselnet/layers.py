"""Custom Keras layers used by the networks (everything else is built from stock layers)."""

from __future__ import annotations

import math

import keras


@keras.saving.register_keras_serializable(package="vesselnet")
class RecurrentConv2D(keras.layers.Layer):
    """Recurrent convolutional layer (RCL): one kernel applied ``steps + 1`` times.

    The layer computes ``h_0 = f(conv(x))`` and then ``h_k = f(conv(x + h_{k-1}))`` for
    ``k = 1 .. steps``, where ``f`` is ReLU (after batch normalisation when enabled) and the
    convolution, and the normalisation, share their weights across the steps. With valid
    padding every application trims ``kernel_size - 1`` pixels, so ``x`` is centre-cropped to
    the size of ``h_{k-1}`` before the sum. The input must already have ``filters`` channels
    (R2U-Net puts a 1x1 convolution in front).

    Implements the RCL of Alom et al. 2018, "Recurrent Residual Convolutional Neural Network
    based on U-Net (R2U-Net) for Medical Image Segmentation", unfolded for ``t = steps``.

    Args:
        filters: output channels, equal to the input channels.
        kernel_size: odd side of the square kernel. Defaults to 3.
        steps: recurrent steps ``t`` after the first convolution. Defaults to 2.
        padding: ``"valid"`` or ``"same"``. Defaults to ``"valid"``.
        batch_norm: batch normalisation before each ReLU. Defaults to False.
        kernel_initializer: initializer of the shared kernel. Defaults to ``"he_normal"``.
        **kwargs: base `Layer` arguments (``name``, ``dtype``...).

    Example:
        >>> layer = RecurrentConv2D(32, steps=2, padding="valid")
        >>> layer(keras.ops.zeros((1, 40, 40, 32))).shape
        (1, 34, 34, 32)
    """

    def __init__(self, filters, kernel_size=3, steps=2, padding="valid", batch_norm=False,
                 kernel_initializer="he_normal", **kwargs):
        super().__init__(**kwargs)
        if not isinstance(filters, int) or filters < 1:
            raise ValueError(f"filters must be a positive integer, got {filters!r}")
        if not isinstance(kernel_size, int) or kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be a positive odd integer, got {kernel_size!r}")
        if not isinstance(steps, int) or steps < 0:
            raise ValueError(f"steps must be an integer >= 0, got {steps!r}")
        if padding not in ("valid", "same"):
            raise ValueError(f"padding must be 'valid' or 'same', got {padding!r}")
        self.filters = filters
        self.kernel_size = kernel_size
        self.steps = steps
        self.padding = padding
        self.batch_norm = batch_norm
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.conv = keras.layers.Conv2D(
            filters, kernel_size, padding=padding, kernel_initializer=self.kernel_initializer,
            name="conv",
        )
        self.norm = keras.layers.BatchNormalization(name="norm") if batch_norm else None

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels is not None and channels != self.filters:
            raise ValueError(
                f"{self.name}: input has {channels} channels but the recurrent sum needs "
                f"{self.filters}; put a 1x1 convolution in front"
            )
        self.conv.build(input_shape)
        if self.norm is not None:
            self.norm.build(input_shape[:-1] + (self.filters,))

    def _apply(self, x, training):
        y = self.conv(x)
        if self.norm is not None:
            y = self.norm(y, training=training)
        return keras.ops.relu(y)

    def call(self, inputs, training=None):
        trim = (self.kernel_size - 1) // 2 if self.padding == "valid" else 0
        state = self._apply(inputs, training)
        for step in range(1, self.steps + 1):
            c = trim * step
            source = inputs[:, c:-c, c:-c, :] if c else inputs
            state = self._apply(source + state, training)
        return state

    def compute_output_shape(self, input_shape):
        trim = (self.kernel_size - 1) * (self.steps + 1) if self.padding == "valid" else 0
        height, width = input_shape[1], input_shape[2]
        return (
            input_shape[0],
            None if height is None else height - trim,
            None if width is None else width - trim,
            self.filters,
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            filters=self.filters,
            kernel_size=self.kernel_size,
            steps=self.steps,
            padding=self.padding,
            batch_norm=self.batch_norm,
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
        )
        return config


ENSEMBLE_RULES = ("probability", "log_probability")


@keras.saving.register_keras_serializable(package="vesselnet")
class ClassProbabilityMean(keras.layers.Layer):
    """Class log-scores of the average of several networks' outputs.

    Takes a list of ``[B, H, W, K]`` maps, each the log-softmax or softmax output of one
    network, and returns the log of their average: the arithmetic mean of the probabilities
    (``rule="probability"``, already normalised) or the mean of the log-probabilities
    (``rule="log_probability"``: a geometric mean, normalised by the log-softmax that
    :func:`vesselnet.models.ensemble_model` puts after this layer).

    Args:
        activations: the activation of each input, ``"log_softmax"`` or ``"softmax"``.
        rule: ``"probability"`` or ``"log_probability"``. Defaults to ``"probability"``.
        **kwargs: base `Layer` arguments.

    Example:
        >>> layer = ClassProbabilityMean(["log_softmax", "softmax"])
        >>> layer([keras.ops.log(p), q])  # log((p + q) / 2)
    """

    def __init__(self, activations, rule="probability", **kwargs):
        super().__init__(**kwargs)
        activations = list(activations)
        if not activations or any(a not in ("log_softmax", "softmax") for a in activations):
            raise ValueError("activations must list 'log_softmax' or 'softmax' per input, "
                             f"got {activations!r}")
        if rule not in ENSEMBLE_RULES:
            raise ValueError(f"rule must be one of {ENSEMBLE_RULES}, got {rule!r}")
        self.activations = activations
        self.rule = rule

    def call(self, inputs):
        if len(inputs) != len(self.activations):
            raise ValueError(f"expected {len(self.activations)} inputs, got {len(inputs)}")
        tiny = keras.config.epsilon()
        logs = [keras.ops.cast(x, "float32") for x in inputs]
        logs = [x if activation == "log_softmax" else keras.ops.log(keras.ops.maximum(x, tiny))
                for x, activation in zip(logs, self.activations)]
        stacked = keras.ops.stack(logs, axis=0)
        if self.rule == "probability":
            return keras.ops.logsumexp(stacked, axis=0) - math.log(len(logs))
        return keras.ops.mean(stacked, axis=0)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0])

    def get_config(self):
        return {**super().get_config(), "activations": self.activations, "rule": self.rule}
