"""Streaming Keras metrics on packed targets, for validation during ``model.fit``.

``y_true`` is packed as ``[B, h, w, 2]`` (vessel label, pixel weight); only pixels with weight > 0
(inside the FOV, outside padding) are counted, with equal weight whatever their border weight.
"""

from __future__ import annotations

import keras

from vesselnet.core.activations import check_activation, vessel_probability
from vesselnet.metrics.confusion import check_threshold


def _labels_and_mask(y_true):
    y_true = keras.ops.cast(y_true, "float32")
    return y_true[..., 0] > 0.5, y_true[..., 1] > 0


def _no_sample_weight(sample_weight, name):
    if sample_weight is not None:
        raise ValueError(
            f"{name} takes its pixel mask from y_true[..., 1]; got sample_weight={sample_weight!r}"
        )


@keras.saving.register_keras_serializable(package="vesselnet")
class MaskedF1Score(keras.metrics.Metric):
    """Streaming F1 (Dice) of the vessel class over the pixels with weight > 0.

    Accumulates true/false positive and false negative counts over batches; ``result()`` is
    ``2 tp / (2 tp + fp + fn)``, 0.0 (not NaN, so callbacks can compare it) while nothing was
    counted. Matches `vesselnet.metrics.scores_from_counts(...)["f1"]` otherwise.

    Args:
        threshold: a pixel is vessel when its probability is > threshold. Defaults to 0.5.
        activation: the model's output activation. Defaults to "log_softmax".
        name: metric name. Defaults to "masked_f1".
        **kwargs: `keras.metrics.Metric` arguments (dtype).

    Example:
        >>> model.compile(optimizer="adam", loss=loss, metrics=[MaskedF1Score()])
    """

    def __init__(self, threshold=0.5, activation="log_softmax", name="masked_f1", **kwargs):
        super().__init__(name=name, **kwargs)
        check_threshold(threshold)
        check_activation(activation)
        self.threshold = float(threshold)
        self.activation = activation
        self.true_positives = self.add_variable((), initializer="zeros", name="true_positives")
        self.false_positives = self.add_variable((), initializer="zeros", name="false_positives")
        self.false_negatives = self.add_variable((), initializer="zeros", name="false_negatives")

    def update_state(self, y_true, y_pred, sample_weight=None):
        _no_sample_weight(sample_weight, self.name)
        labels, mask = _labels_and_mask(y_true)
        predicted = vessel_probability(y_pred, self.activation) > self.threshold

        def count(condition):
            return keras.ops.sum(keras.ops.cast(condition & mask, self.dtype))

        self.true_positives.assign_add(count(predicted & labels))
        self.false_positives.assign_add(count(predicted & ~labels))
        self.false_negatives.assign_add(count(~predicted & labels))

    def result(self):
        return keras.ops.divide_no_nan(
            2.0 * self.true_positives,
            2.0 * self.true_positives + self.false_positives + self.false_negatives,
        )

    def get_config(self):
        return {**super().get_config(), "threshold": self.threshold,
                "activation": self.activation}


@keras.saving.register_keras_serializable(package="vesselnet")
class MaskedAUC(keras.metrics.AUC):
    """`keras.metrics.AUC` of the vessel probability over the pixels with weight > 0.

    Keras approximates the curve with ``num_thresholds`` evenly spaced thresholds (ROC:
    trapezoids; PR: Davis & Goadrich interpolation), close to but not equal to the exact
    `vesselnet.metrics.auc_roc` / `auc_pr` used for final evaluation.

    Args:
        activation: the model's output activation. Defaults to "log_softmax".
        num_thresholds: number of thresholds. Defaults to 1000.
        curve: "ROC" or "PR". Defaults to "ROC".
        name: metric name. Defaults to "masked_auc".
        **kwargs: other `keras.metrics.AUC` arguments.

    Example:
        >>> metrics = [MaskedAUC(), MaskedAUC(curve="PR", name="masked_auc_pr")]
    """

    def __init__(self, activation="log_softmax", num_thresholds=1000, curve="ROC",
                 name="masked_auc", **kwargs):
        check_activation(activation)
        super().__init__(num_thresholds=num_thresholds, curve=curve, name=name, **kwargs)
        self.activation = activation

    def update_state(self, y_true, y_pred, sample_weight=None):
        _no_sample_weight(sample_weight, self.name)
        labels, mask = _labels_and_mask(y_true)
        super().update_state(
            keras.ops.cast(labels, "float32"),
            vessel_probability(y_pred, self.activation),
            sample_weight=keras.ops.cast(mask, "float32"),
        )

    def get_config(self):
        return {**super().get_config(), "activation": self.activation}
