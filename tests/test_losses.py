"""Tests of vesselnet.losses: hand-computed values, masking, activations, seeds, serialization."""

import inspect
import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from vesselnet import losses
from vesselnet.core.activations import OUTPUT_ACTIVATIONS

# One 2x2 image. Vessel probabilities, labels and pixel weights; pixel (1, 1) is outside the FOV.
VESSEL_PROBABILITY = np.array([[0.9, 0.2], [0.6, 0.3]], np.float32)
LABELS = np.array([[1, 0], [1, 0]], np.float32)
PIXEL_WEIGHTS = np.array([[1, 1], [2, 0]], np.float32)
Y_TRUE = np.stack([LABELS, PIXEL_WEIGHTS], axis=-1)[None]


def model_output(probability, activation):
    """The output a model with `activation` gives for vessel probabilities [h, w] (batch of 1)."""
    probability = np.asarray(probability, np.float64)
    both = np.stack([1.0 - probability, probability], axis=-1)[None]
    if activation == "log_softmax":
        return np.log(both).astype(np.float32)
    if activation == "softmax":
        return both.astype(np.float32)
    return probability[None, ..., None].astype(np.float32)


def scalar(tensor):
    return float(keras.ops.convert_to_numpy(tensor))


@pytest.mark.parametrize("activation", OUTPUT_ACTIVATIONS)
def test_weighted_cross_entropy_hand_value(activation):
    # numerator: 3 * 1 * -ln .9 + 1 * 1 * -ln .8 + 3 * 2 * -ln .6 ; denominator: 1 + 1 + 2
    expected = (-3 * math.log(0.9) - math.log(0.8) - 6 * math.log(0.6)) / 4
    loss = losses.WeightedCrossEntropy(vessel_weight=3.0, activation=activation)
    value = scalar(loss(Y_TRUE, model_output(VESSEL_PROBABILITY, activation)))
    assert value == pytest.approx(expected, rel=1e-5)


def test_plain_cross_entropy_hand_value():
    expected = (-math.log(0.9) - math.log(0.8) - 2 * math.log(0.6)) / 4
    value = losses.weighted_cross_entropy(Y_TRUE, model_output(VESSEL_PROBABILITY, "softmax"),
                                          activation="softmax")
    assert scalar(value) == pytest.approx(expected, rel=1e-5)


def test_class_weight_not_cancelled_on_single_class_tile():
    # A tile whose FOV pixels are all vessels: the class weight must scale the loss.
    y_true = np.stack([np.ones((2, 2)), np.ones((2, 2))], -1)[None].astype(np.float32)
    y_pred = model_output(np.full((2, 2), 0.7), "log_softmax")
    plain = scalar(losses.weighted_cross_entropy(y_true, y_pred))
    weighted = scalar(losses.weighted_cross_entropy(y_true, y_pred, vessel_weight=5.0))
    assert plain == pytest.approx(-math.log(0.7), rel=1e-5)
    assert weighted == pytest.approx(5 * plain, rel=1e-5)


@pytest.mark.parametrize("loss_name", ["wce", "dice", "wce_dice"])
def test_zero_weight_pixels_do_not_contribute(loss_name):
    loss = losses.get_loss(loss_name, activation="softmax")
    changed = VESSEL_PROBABILITY.copy()
    changed[1, 1] = 1.0  # the weight-0 pixel becomes a confident, wrong vessel
    before = scalar(loss(Y_TRUE, model_output(VESSEL_PROBABILITY, "softmax")))
    after = scalar(loss(Y_TRUE, model_output(changed, "softmax")))
    assert after == pytest.approx(before, abs=1e-7)
    changed[0, 0] = 0.1  # a FOV pixel does contribute
    assert scalar(loss(Y_TRUE, model_output(changed, "softmax"))) != pytest.approx(before)


def test_all_zero_weights_give_zero_not_nan():
    y_true = np.zeros((1, 2, 2, 2), np.float32)
    y_pred = model_output(VESSEL_PROBABILITY, "log_softmax")
    assert scalar(losses.weighted_cross_entropy(y_true, y_pred)) == 0.0
    assert scalar(losses.soft_dice_loss(y_true, y_pred)) == 0.0


@pytest.mark.parametrize("activation", OUTPUT_ACTIVATIONS)
def test_soft_dice_hand_value_ignores_border_weight_magnitude(activation):
    # Masked: p = .9, .2, .6 ; y = 1, 0, 1. Intersection 1.5, sum p 1.7, sum y 2, smooth 1.
    expected = 1 - (2 * 1.5 + 1) / (1.7 + 2 + 1)
    loss = losses.SoftDiceLoss(activation=activation)
    value = scalar(loss(Y_TRUE, model_output(VESSEL_PROBABILITY, activation)))
    assert value == pytest.approx(expected, rel=1e-5)


def test_soft_dice_without_smoothing():
    expected = 1 - (2 * 1.5) / (1.7 + 2)
    value = losses.soft_dice_loss(Y_TRUE, model_output(VESSEL_PROBABILITY, "sigmoid"),
                                  activation="sigmoid", smooth=0.0)
    assert scalar(value) == pytest.approx(expected, rel=1e-5)


def test_cross_entropy_dice_combination():
    ce = (-2 * math.log(0.9) - math.log(0.8) - 2 * 2 * math.log(0.6)) / 4  # vessel weight 2
    dice = 1 - (2 * 1.5 + 1) / (1.7 + 2 + 1)
    loss = losses.get_loss("wce_dice", vessel_weight=2.0, ce_weight=0.5, dice_weight=3.0)
    value = scalar(loss(Y_TRUE, model_output(VESSEL_PROBABILITY, "log_softmax")))
    assert value == pytest.approx(0.5 * ce + 3.0 * dice, rel=1e-5)


def test_batch_is_pooled_not_averaged_per_image():
    # Image 1 has three FOV pixels, image 2 one: pooled = (sum of 4 nll) / 4.
    y_true = np.concatenate([Y_TRUE, Y_TRUE], 0)
    y_true[1, ..., 1] = [[0, 0], [0, 1]]
    y_pred = model_output(VESSEL_PROBABILITY, "softmax").repeat(2, 0)
    expected = (-math.log(0.9) - math.log(0.8) - 2 * math.log(0.6) - math.log(0.7)) / 5
    value = losses.weighted_cross_entropy(y_true, y_pred, activation="softmax")
    assert scalar(value) == pytest.approx(expected, rel=1e-5)


def vessel_tile():
    """All-vessel tile at p = 0.5: the stochastic loss equals vessel_weight * ln 2."""
    y_true = np.ones((1, 2, 2, 2), np.float32)
    return y_true, model_output(np.full((2, 2), 0.5), "log_softmax")


def test_stochastic_weights_change_inside_tf_function_and_follow_seed():
    y_true, y_pred = vessel_tile()

    def draws(seed, count=3):
        loss = losses.StochasticWeightedCrossEntropy(alpha=5.0, seed=seed)
        step = tf.function(lambda: loss(y_true, y_pred))
        return [float(step()) / math.log(2) for _ in range(count)]

    first = draws(seed=7)
    assert len(set(np.round(first, 6))) == 3  # a new weight at every call of the same graph
    assert all(1.0 <= weight <= 5.0 for weight in first)
    assert draws(seed=7) == pytest.approx(first, rel=1e-6)
    assert draws(seed=8) != pytest.approx(first, rel=1e-3)


def test_stochastic_weights_are_uniform_on_one_to_alpha():
    seed_generator = keras.random.SeedGenerator(3)
    draw = tf.function(lambda: losses.draw_vessel_weight(4.0, seed_generator))
    weights = np.array([float(draw()) for _ in range(400)])
    assert weights.min() >= 1.0 and weights.max() <= 4.0
    assert weights.mean() == pytest.approx(2.5, abs=0.15)  # sd of the mean ~0.043


@pytest.mark.parametrize("jit_compile", [False, pytest.param(True, marks=pytest.mark.slow)])
def test_stochastic_weights_advance_once_per_fit_step(jit_compile):
    inputs = keras.Input((4, 4, 1))
    outputs = keras.layers.Conv2D(2, 1, activation="log_softmax", name="head")(inputs)
    model = keras.Model(inputs, outputs)
    loss = losses.StochasticWeightedCrossEntropy(alpha=3.0, seed=11)
    model.compile(optimizer="sgd", loss=loss, jit_compile=jit_compile)
    x = np.random.default_rng(0).random((6, 4, 4, 1), np.float32)
    y = np.ones((6, 4, 4, 2), np.float32)
    model.fit(x, y, batch_size=2, epochs=1, verbose=0)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(loss.seed_generator.state), [11, 3])


@pytest.mark.parametrize("name, options", [
    ("wce", {"background_weight": 0.5, "vessel_weight": 2.0, "activation": "softmax"}),
    ("stochastic_wce", {"alpha": 4.0, "seed": 5, "activation": "sigmoid"}),
    ("dice", {"smooth": 0.5}),
    ("wce_dice", {"vessel_weight": 3.0, "ce_weight": 0.2, "dice_weight": 0.8}),
])
def test_serialization_round_trip(name, options):
    loss = losses.get_loss(name, **options)
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(loss))
    assert type(restored) is type(loss)
    assert restored.get_config() == loss.get_config()
    activation = options.get("activation", "log_softmax")
    y_pred = model_output(VESSEL_PROBABILITY, activation)
    assert scalar(restored(Y_TRUE, y_pred)) == pytest.approx(scalar(loss(Y_TRUE, y_pred)))


@pytest.mark.parametrize("build, message", [
    (lambda: losses.StochasticWeightedCrossEntropy(alpha=0.5), "0.5"),
    (lambda: losses.WeightedCrossEntropy(vessel_weight=-2.0), "-2.0"),
    (lambda: losses.WeightedCrossEntropy(background_weight=float("nan")), "nan"),
    (lambda: losses.WeightedCrossEntropy(0.0, 0.0), "both 0"),
    (lambda: losses.SoftDiceLoss(activation="relu"), "relu"),
    (lambda: losses.SoftDiceLoss(smooth=-1), "-1"),
    (lambda: losses.CrossEntropyDiceLoss(ce_weight=0, dice_weight=0), "both 0"),
    (lambda: losses.CrossEntropyDiceLoss(dice_weight=-0.5), "-0.5"),
    (lambda: losses.StochasticWeightedCrossEntropy(alpha=2, seed=1.5), "1.5"),
    (lambda: losses.get_loss("focal"), "focal.*stochastic_wce"),
    (lambda: losses.get_loss("wce", alpha=3), "alpha"),
])
def test_bad_arguments_raise_with_received_value(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_wrong_channel_count_raises():
    with pytest.raises(ValueError, match="1 output channel"):
        losses.weighted_cross_entropy(Y_TRUE, model_output(VESSEL_PROBABILITY, "softmax"),
                                      activation="sigmoid")
    with pytest.raises(ValueError, match=r"\[B, h, w, 2\]"):
        losses.soft_dice_loss(Y_TRUE[..., :1], model_output(VESSEL_PROBABILITY, "log_softmax"))


def test_config_loss_option_table_equals_the_loss_constructors():
    """``vesselnet.config`` checks loss options against a table so it need not import losses."""
    from vesselnet.config.training import LOSS_OPTIONS

    signatures = {
        name: tuple(parameter for parameter in inspect.signature(cls.__init__).parameters
                    if parameter not in ("self", "kwargs", "activation"))
        for name, cls in losses.LOSSES.items()
    }
    assert LOSS_OPTIONS == signatures
