"""Losses for vessel segmentation trained on packed targets.

Targets are packed as ``y_true[..., 0]`` = vessel label in {0, 1} and ``y_true[..., 1]`` = pixel
weight (0 outside the field of view and in padding, 1 or the U-Net border weight inside it).
Every loss ignores pixels whose weight is 0. Each loss is a pure function holding the maths plus a
thin ``keras.losses.Loss`` around it; ``call`` returns one scalar per batch (pixels are pooled
over the whole batch, so a padded tile with a small field of view does not count as much as a
full one), and per-pixel weighting goes through ``y_true[..., 1]`` rather than ``sample_weight``.
"""

from __future__ import annotations

import inspect

import keras

from vesselnet.core.activations import check_activation, vessel_probability
from vesselnet.core.checks import check_number, is_int

_EPSILON = 1e-7



def _check_seed(seed):
    if seed is not None and not is_int(seed):
        raise ValueError(f"seed must be an int or None, got {seed!r}")
    return seed


def unpack_targets(y_true):
    """Splits packed targets ``[B, h, w, 2]`` into float32 labels and weights ``[B, h, w]``."""
    y_true = keras.ops.convert_to_tensor(y_true, dtype="float32")
    if y_true.shape[-1] is not None and y_true.shape[-1] != 2:
        raise ValueError(
            f"y_true must be packed as [B, h, w, 2] (label, pixel weight), got shape {y_true.shape}"
        )
    return y_true[..., 0], y_true[..., 1]


def _checked_output(y_pred, activation):
    check_activation(activation)
    y_pred = keras.ops.convert_to_tensor(y_pred)
    y_pred = keras.ops.cast(y_pred, "float32")  # float16 log-probabilities lose precision
    channels = 1 if activation == "sigmoid" else 2
    if y_pred.shape[-1] is not None and y_pred.shape[-1] != channels:
        raise ValueError(
            f"activation {activation!r} expects {channels} output channel(s), "
            f"got y_pred of shape {y_pred.shape}"
        )
    return y_pred


def class_log_probabilities(y_pred, activation="log_softmax"):
    """Returns ``(log p_background, log p_vessel)``, each ``[B, h, w]``, from a model output.

    Args:
        y_pred: model output ``[B, h, w, 2]`` ("log_softmax", "softmax") or ``[B, h, w, 1]``
            ("sigmoid", the vessel probability).
        activation: the model's output activation. Probabilities are clipped to
            ``[1e-7, 1]`` before the log. Defaults to "log_softmax".
    """
    y_pred = _checked_output(y_pred, activation)
    if activation == "log_softmax":
        return y_pred[..., 0], y_pred[..., 1]
    if activation == "softmax":
        background, vessel = y_pred[..., 0], y_pred[..., 1]
    else:
        vessel = y_pred[..., 0]
        background = 1.0 - vessel
    return (
        keras.ops.log(keras.ops.clip(background, _EPSILON, 1.0)),
        keras.ops.log(keras.ops.clip(vessel, _EPSILON, 1.0)),
    )


def weighted_cross_entropy(
    y_true, y_pred, background_weight=1.0, vessel_weight=1.0, activation="log_softmax"
):
    """Class- and pixel-weighted cross-entropy, pooled over the batch.

    ``loss = sum(pixel_w * class_w[label] * nll) / sum(pixel_w)``. The denominator is the sum of
    pixel weights only, not of ``pixel_w * class_w``: normalising by the class-weighted sum
    would make the loss a weighted mean in which the class weight cancels on any tile holding one
    class only (e.g. all background), and shrinks its effect elsewhere. Dividing by
    ``sum(pixel_w)`` keeps the vessel weight a true multiplier of the vessel pixels' gradient,
    which is what Khanal et al. 2019 vary to trade sensitivity against specificity. The price is
    a loss scale that grows with the vessel weight. A batch whose weights are all 0 gives 0.

    Args:
        y_true: packed targets ``[B, h, w, 2]``.
        y_pred: model output, see `class_log_probabilities`.
        background_weight: class weight of background pixels (a float or scalar tensor).
        vessel_weight: class weight of vessel pixels (a float or scalar tensor).
        activation: the model's output activation. Defaults to "log_softmax".

    Example:
        >>> loss = weighted_cross_entropy(y_true, model(x), vessel_weight=3.0)
    """
    labels, pixel_weights = unpack_targets(y_true)
    log_background, log_vessel = class_log_probabilities(y_pred, activation)
    nll = -(labels * log_vessel + (1.0 - labels) * log_background)
    class_weights = labels * vessel_weight + (1.0 - labels) * background_weight
    inside = pixel_weights > 0
    pixel_weights = keras.ops.where(inside, pixel_weights, 0.0)
    weighted = keras.ops.where(inside, pixel_weights * class_weights * nll, 0.0)
    return keras.ops.divide_no_nan(keras.ops.sum(weighted), keras.ops.sum(pixel_weights))


def soft_dice_loss(y_true, y_pred, activation="log_softmax", smooth=1.0):
    """Soft Dice loss ``1 - (2 sum(p y) + s) / (sum(p) + sum(y) + s)`` on the vessel class.

    Sums run over all pixels of the batch with weight > 0 (one batch Dice, so a tile without
    vessels does not produce a degenerate per-tile value). The weight channel is used as a mask
    only: border weights shape the cross-entropy, and scaling Dice terms by them would no longer
    give an overlap ratio.

    Args:
        y_true: packed targets ``[B, h, w, 2]``.
        y_pred: model output, see `class_log_probabilities`.
        activation: the model's output activation. Defaults to "log_softmax".
        smooth: additive smoothing ``s`` of numerator and denominator. Defaults to 1.0.
    """
    labels, pixel_weights = unpack_targets(y_true)
    mask = keras.ops.cast(pixel_weights > 0, "float32")
    probability = vessel_probability(_checked_output(y_pred, activation), activation) * mask
    labels = labels * mask
    intersection = keras.ops.sum(probability * labels)
    total = keras.ops.sum(probability) + keras.ops.sum(labels)
    return 1.0 - keras.ops.divide_no_nan(2.0 * intersection + smooth, total + smooth)


def draw_vessel_weight(alpha, seed_generator):
    """Draws one vessel-class weight uniformly from ``[1, alpha]`` (Khanal et al. 2019).

    Uses and advances ``seed_generator`` (a `keras.random.SeedGenerator`), so each call inside a
    compiled train step gives a new draw and a fixed seed gives a fixed sequence.
    """
    return keras.random.uniform((), minval=1.0, maxval=alpha, dtype="float32", seed=seed_generator)


@keras.saving.register_keras_serializable(package="vesselnet")
class WeightedCrossEntropy(keras.losses.Loss):
    """Cross-entropy with fixed class weights and per-pixel weights from ``y_true[..., 1]``.

    The per-pixel weights are the U-Net border weight maps of Ronneberger et al. 2015.

    Args:
        background_weight: class weight of background pixels. Defaults to 1.0.
        vessel_weight: class weight of vessel pixels. Defaults to 1.0.
        activation: output activation, one of "log_softmax", "softmax", "sigmoid".
            Defaults to "log_softmax" (Francia et al. 2020).
        **kwargs: `keras.losses.Loss` arguments (name, reduction, dtype).

    Example:
        >>> model.compile(optimizer="adam", loss=WeightedCrossEntropy(vessel_weight=2.0))
    """

    def __init__(self, background_weight=1.0, vessel_weight=1.0, activation="log_softmax",
                 **kwargs):
        kwargs.setdefault("name", "weighted_cross_entropy")
        super().__init__(**kwargs)
        self.background_weight = check_number("background_weight", background_weight, 0.0)
        self.vessel_weight = check_number("vessel_weight", vessel_weight, 0.0)
        if self.background_weight == 0 and self.vessel_weight == 0:
            raise ValueError("background_weight and vessel_weight are both 0: the loss would be 0")
        check_activation(activation)
        self.activation = activation

    def call(self, y_true, y_pred):
        return weighted_cross_entropy(
            y_true, y_pred, self.background_weight, self.vessel_weight, self.activation
        )

    def get_config(self):
        return {**super().get_config(), "background_weight": self.background_weight,
                "vessel_weight": self.vessel_weight, "activation": self.activation}


@keras.saving.register_keras_serializable(package="vesselnet")
class StochasticWeightedCrossEntropy(keras.losses.Loss):
    """Weighted cross-entropy whose vessel weight is redrawn from ``U[1, alpha]`` at every call.

    Implements the stochastic class weights of Khanal et al. 2019, "Dynamic deep networks for
    retinal vessel segmentation", as used by Francia et al. 2020. The draw comes from a
    `keras.random.SeedGenerator`, whose state variable advances at each call, also inside
    `model.fit`'s compiled train step or a custom `tf.function` loop.

    Args:
        alpha: upper bound of the vessel weight, >= 1 (1 gives plain cross-entropy).
        background_weight: class weight of background pixels. Defaults to 1.0.
        activation: output activation. Defaults to "log_softmax".
        seed: int for a reproducible sequence of weights, or None for a fresh random seed
            (also on reloading). Defaults to None.
        **kwargs: `keras.losses.Loss` arguments (name, reduction, dtype).

    Example:
        >>> model.compile(optimizer="adam", loss=StochasticWeightedCrossEntropy(alpha=5, seed=1))
    """

    def __init__(self, alpha, background_weight=1.0, activation="log_softmax", seed=None,
                 **kwargs):
        kwargs.setdefault("name", "stochastic_weighted_cross_entropy")
        super().__init__(**kwargs)
        self.alpha = check_number("alpha", alpha, 1.0)
        self.background_weight = check_number("background_weight", background_weight, 0.0)
        check_activation(activation)
        self.activation = activation
        self.seed = _check_seed(seed)
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, y_true, y_pred):
        vessel_weight = draw_vessel_weight(self.alpha, self.seed_generator)
        return weighted_cross_entropy(
            y_true, y_pred, self.background_weight, vessel_weight, self.activation
        )

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha,
                "background_weight": self.background_weight, "activation": self.activation,
                "seed": self.seed}


@keras.saving.register_keras_serializable(package="vesselnet")
class SoftDiceLoss(keras.losses.Loss):
    """Soft Dice loss on the vessel probability over pixels with weight > 0 (Milletari 2016).

    Args:
        activation: output activation. Defaults to "log_softmax".
        smooth: additive smoothing, >= 0. Defaults to 1.0.
        **kwargs: `keras.losses.Loss` arguments (name, reduction, dtype).

    Example:
        >>> model.compile(optimizer="adam", loss=SoftDiceLoss(activation="sigmoid"))
    """

    def __init__(self, activation="log_softmax", smooth=1.0, **kwargs):
        kwargs.setdefault("name", "soft_dice_loss")
        super().__init__(**kwargs)
        check_activation(activation)
        self.activation = activation
        self.smooth = check_number("smooth", smooth, 0.0)

    def call(self, y_true, y_pred):
        return soft_dice_loss(y_true, y_pred, self.activation, self.smooth)

    def get_config(self):
        return {**super().get_config(), "activation": self.activation, "smooth": self.smooth}


@keras.saving.register_keras_serializable(package="vesselnet")
class CrossEntropyDiceLoss(keras.losses.Loss):
    """``ce_weight * weighted cross-entropy + dice_weight * soft Dice loss``.

    Args:
        background_weight: cross-entropy class weight of background pixels. Defaults to 1.0.
        vessel_weight: cross-entropy class weight of vessel pixels. Defaults to 1.0.
        activation: output activation. Defaults to "log_softmax".
        ce_weight: weight of the cross-entropy term, >= 0. Defaults to 1.0.
        dice_weight: weight of the Dice term, >= 0. Defaults to 1.0.
        smooth: Dice smoothing, >= 0. Defaults to 1.0.
        **kwargs: `keras.losses.Loss` arguments (name, reduction, dtype).

    Example:
        >>> loss = CrossEntropyDiceLoss(vessel_weight=2.0, dice_weight=0.5)
    """

    def __init__(self, background_weight=1.0, vessel_weight=1.0, activation="log_softmax",
                 ce_weight=1.0, dice_weight=1.0, smooth=1.0, **kwargs):
        kwargs.setdefault("name", "cross_entropy_dice_loss")
        super().__init__(**kwargs)
        self.background_weight = check_number("background_weight", background_weight, 0.0)
        self.vessel_weight = check_number("vessel_weight", vessel_weight, 0.0)
        check_activation(activation)
        self.activation = activation
        self.ce_weight = check_number("ce_weight", ce_weight, 0.0)
        self.dice_weight = check_number("dice_weight", dice_weight, 0.0)
        if self.ce_weight == 0 and self.dice_weight == 0:
            raise ValueError("ce_weight and dice_weight are both 0: the loss would be 0")
        self.smooth = check_number("smooth", smooth, 0.0)

    def call(self, y_true, y_pred):
        ce = weighted_cross_entropy(
            y_true, y_pred, self.background_weight, self.vessel_weight, self.activation
        )
        dice = soft_dice_loss(y_true, y_pred, self.activation, self.smooth)
        return self.ce_weight * ce + self.dice_weight * dice

    def get_config(self):
        return {**super().get_config(), "background_weight": self.background_weight,
                "vessel_weight": self.vessel_weight, "activation": self.activation,
                "ce_weight": self.ce_weight, "dice_weight": self.dice_weight,
                "smooth": self.smooth}


LOSSES = {
    "wce": WeightedCrossEntropy,
    "stochastic_wce": StochasticWeightedCrossEntropy,
    "dice": SoftDiceLoss,
    "wce_dice": CrossEntropyDiceLoss,
}


def get_loss(name, **options):
    """Builds a loss by name: "wce", "stochastic_wce", "dice" or "wce_dice".

    Args:
        name: loss name, a key of `LOSSES`.
        **options: constructor arguments of the chosen class.

    Example:
        >>> loss = get_loss("stochastic_wce", alpha=5.0, seed=0)
    """
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; valid names: {sorted(LOSSES)}")
    loss_class = LOSSES[name]
    accepted = set(inspect.signature(loss_class.__init__).parameters) - {"self", "kwargs"}
    accepted |= {"name", "reduction", "dtype"}
    unknown = sorted(set(options) - accepted)
    if unknown:
        raise ValueError(
            f"unknown option(s) {unknown} for loss {name!r}; accepted: {sorted(accepted)}"
        )
    return loss_class(**options)
