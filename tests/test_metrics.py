"""Tests of vesselnet.metrics against hand-computed values, scikit-learn and scikit-image."""

import math

import keras
import numpy as np
import pytest
from skimage.measure import label as skimage_label
from skimage.metrics import structural_similarity
from sklearn import metrics as sk

from vesselnet import metrics
from vesselnet.metrics import Counts

NAN = math.nan
# Tests compare with scikit-learn's zero_division=np.nan convention.
SKLEARN_SCORES = {
    "sensitivity": lambda t, p: sk.recall_score(t, p, zero_division=np.nan),
    "specificity": lambda t, p: sk.recall_score(~t, ~p, zero_division=np.nan),
    "precision": lambda t, p: sk.precision_score(t, p, zero_division=np.nan),
    "npv": lambda t, p: sk.precision_score(~t, ~p, zero_division=np.nan),
    "accuracy": sk.accuracy_score,
    "f1": lambda t, p: sk.f1_score(t, p, zero_division=np.nan),
    "iou": sk.jaccard_score,
    "mcc": sk.matthews_corrcoef,
}


def random_case(seed, shape=(40, 50), vessel_fraction=0.15):
    """A probability map loosely correlated with a random truth, and a disc-shaped FOV."""
    rng = np.random.default_rng(seed)
    truth = rng.random(shape) < vessel_fraction
    prob = np.clip(0.35 * truth + 0.65 * rng.random(shape), 0, 1)
    rows, cols = np.indices(shape)
    fov = (rows - shape[0] / 2) ** 2 + (cols - shape[1] / 2) ** 2 < (0.45 * min(shape)) ** 2
    return prob, truth, fov


# 3x3 masks; prediction as probabilities 0.9 (vessel) / 0.1. Expected values computed by hand.
TRUTH = [[1, 1, 0], [0, 1, 0], [0, 0, 0]]
HAND_CASES = [
    # tp=2 fp=1 fn=1 tn=5: Dice 4/6, IoU 2/4, MCC (2*5 - 1*1) / sqrt(3*3*6*6) = 9/18
    ("overlap", [[.9, .1, .1], [.1, .9, .9], [.1, .1, .1]], None,
     {"f1": 2 / 3, "iou": 1 / 2, "sensitivity": 2 / 3, "specificity": 5 / 6,
      "precision": 2 / 3, "npv": 5 / 6, "accuracy": 7 / 9, "mcc": 1 / 2}),
    # the false positive at (1, 2) is outside the FOV: tp=2 fp=0 fn=1 tn=5
    ("fov", [[.9, .1, .1], [.1, .9, .9], [.1, .1, .1]], [[1, 1, 1], [1, 1, 0], [1, 1, 1]],
     {"f1": 4 / 5, "iou": 2 / 3, "precision": 1.0, "accuracy": 7 / 8}),
    ("identical", [[.9, .9, .1], [.1, .9, .1], [.1, .1, .1]], None,
     {"f1": 1.0, "iou": 1.0, "mcc": 1.0, "accuracy": 1.0}),
    ("disjoint", [[.1, .1, .9], [.1, .1, .1], [.1, .1, .1]], None,
     {"f1": 0.0, "iou": 0.0, "sensitivity": 0.0, "precision": 0.0}),
    # degenerate cases: NaN for undefined scores
    ("nothing predicted", np.full((3, 3), .1), None,
     {"precision": NAN, "f1": 0.0, "iou": 0.0, "sensitivity": 0.0, "mcc": NAN}),
]


@pytest.mark.parametrize("name, prob, fov, expected", HAND_CASES, ids=[c[0] for c in HAND_CASES])
def test_hand_computed_3x3_masks(name, prob, fov, expected):
    scores = metrics.segmentation_metrics(np.array(prob), np.array(TRUTH), fov)
    for key, value in expected.items():
        assert scores[key] == pytest.approx(value, rel=1e-12, nan_ok=True), key


def test_threshold_is_strict():
    counts = metrics.confusion_counts(np.array([[0.5, 0.50001]]), np.array([[1, 1]]))
    assert counts == Counts(tp=1, fp=0, tn=0, fn=1)
    assert metrics.confusion_counts([[0.3]], [[1]], threshold=0.2) == Counts(tp=1)


def test_degenerate_empty_truth():
    empty = np.zeros((3, 3), bool)
    both_empty = metrics.segmentation_metrics(np.full((3, 3), 0.2), empty)
    for key in ("sensitivity", "precision", "f1", "iou", "mcc", "auc_roc", "auc_pr"):
        assert math.isnan(both_empty[key]), key
    assert both_empty["specificity"] == both_empty["accuracy"] == both_empty["npv"] == 1.0
    false_alarm = metrics.scores_from_counts(Counts(tp=0, fp=2, tn=7, fn=0))
    assert math.isnan(false_alarm["sensitivity"])
    assert false_alarm["precision"] == false_alarm["f1"] == false_alarm["iou"] == 0.0


def test_one_class_auc_is_nan_and_empty_fov_is_nan():
    truth = np.ones((4, 4), bool)
    prob = np.linspace(0, 1, 16).reshape(4, 4)
    assert math.isnan(metrics.auc_roc(prob, truth))
    assert metrics.auc_pr(prob, truth) == 1.0  # no negatives: precision is 1 at every recall
    scores = metrics.segmentation_metrics(prob, truth, np.zeros((4, 4), bool))
    assert all(math.isnan(value) for value in scores.values())
    assert tuple(scores) == metrics.METRIC_NAMES


@pytest.mark.parametrize("seed, threshold", [(0, 0.5), (1, 0.3), (2, 0.7), (3, 0.95)])
def test_count_scores_match_sklearn_inside_fov(seed, threshold):
    prob, truth, fov = random_case(seed)
    scores = metrics.segmentation_metrics(prob, truth, fov, threshold)
    t, p = truth[fov], prob[fov] > threshold
    for key, reference in SKLEARN_SCORES.items():
        assert scores[key] == pytest.approx(reference(t, p), rel=1e-12, abs=1e-15), key


@pytest.mark.parametrize("decimals", [None, 2, 1])
def test_auc_matches_sklearn_with_ties(decimals):
    prob, truth, fov = random_case(4)
    if decimals is not None:
        prob = np.round(prob, decimals)  # many tied scores
    scores = metrics.segmentation_metrics(prob, truth, fov)
    assert scores["auc_roc"] == pytest.approx(sk.roc_auc_score(truth[fov], prob[fov]), abs=1e-12)
    assert scores["auc_pr"] == pytest.approx(
        sk.average_precision_score(truth[fov], prob[fov]), abs=1e-12)


def test_auc_is_not_changed_by_pixels_outside_fov():
    prob, truth, fov = random_case(5)
    changed = np.where(fov, prob, 1.0 - truth)  # outside: confidently wrong
    assert metrics.auc_roc(changed, truth, fov) == metrics.auc_roc(prob, truth, fov)
    assert metrics.auc_roc(changed, truth) != pytest.approx(metrics.auc_roc(prob, truth, fov))


def test_ssim_map_matches_skimage():
    prob, truth, _ = random_case(6)
    _, reference = structural_similarity(
        prob, truth.astype(np.float64), data_range=1.0, gaussian_weights=True, sigma=1.5,
        use_sample_covariance=False, full=True)
    np.testing.assert_allclose(metrics.ssim_map(prob, truth), reference, atol=1e-12)


def test_ssim_inside_fov_matches_skimage_on_masked_maps():
    prob, truth, fov = random_case(7)
    _, reference = structural_similarity(
        np.where(fov, prob, 0.0), (truth & fov).astype(np.float64), data_range=1.0,
        gaussian_weights=True, sigma=1.5, use_sample_covariance=False, full=True)
    assert metrics.ssim(prob, truth, fov) == pytest.approx(reference[fov].mean(), abs=1e-12)
    assert metrics.ssim(truth.astype(float), truth, fov) == pytest.approx(1.0)


def test_accumulator_equals_metrics_of_concatenation():
    cases = [random_case(seed, shape=(20 + 5 * seed, 50)) for seed in range(3)]
    accumulator = metrics.MetricAccumulator()
    for prob, truth, fov in cases:
        accumulator.update(prob, truth, fov)
    pooled = accumulator.result()
    joined = [np.concatenate(parts, axis=0) for parts in zip(*cases)]
    reference = metrics.segmentation_metrics(*joined)
    for key in metrics.METRIC_NAMES[:-1]:
        assert pooled[key] == pytest.approx(reference[key], rel=1e-12), key
    sizes = [fov.sum() for _, _, fov in cases]
    weighted_ssim = sum(metrics.ssim(*case) * size for case, size in zip(cases, sizes))
    assert pooled["ssim"] == pytest.approx(weighted_ssim / sum(sizes), rel=1e-12)
    assert accumulator.counts.total == sum(sizes) and accumulator.images == 3


def test_histogram_accumulator_within_1e_4_of_sklearn():
    rng = np.random.default_rng(8)
    truth = rng.random((300, 300)) < 0.12
    prob = np.where(truth, rng.beta(5, 2, truth.shape), rng.beta(1, 6, truth.shape))
    accumulator = metrics.MetricAccumulator(auc_bins=65536)
    accumulator.update(prob[:150], truth[:150])
    accumulator.update(prob[150:], truth[150:])
    result = accumulator.result()
    exact_roc = sk.roc_auc_score(truth.ravel(), prob.ravel())
    assert abs(result["auc_roc"] - exact_roc) < 1e-4
    assert abs(result["auc_roc"] - exact_roc) <= accumulator.auc_roc_error_bound() + 1e-15
    assert result["auc_pr"] == pytest.approx(
        sk.average_precision_score(truth.ravel(), prob.ravel()), abs=1e-4)


def test_mcc_of_huge_counts_does_not_overflow():
    counts = Counts(tp=10**12, fp=10**11, tn=10**12, fn=10**11)
    # (10^24 - 10^22) / (1.1 * 10^12)^2 = 0.99 / 1.21
    assert metrics.matthews_correlation(counts) == pytest.approx(9 / 11, rel=1e-12)
    assert counts + Counts(tp=1) == Counts(tp=10**12 + 1, fp=10**11, tn=10**12, fn=10**11)


def test_pixel_and_rand_error_of_a_broken_vessel():
    # One true vessel of 3 pixels; the prediction misses its middle pixel (a singleton):
    # sum n_ij^2 + s = 1 + 1 + 1, sum a_i^2 = 9, sum b_j^2 + s = 1 + 1 + 1 -> F = 6 / 12.
    truth = np.array([[0, 0, 0], [1, 1, 1], [0, 0, 0]])
    prob = np.array([[0.1, 0.1, 0.1], [0.9, 0.2, 0.8], [0.1, 0.1, 0.1]])
    assert metrics.em_metrics(prob, truth) == pytest.approx(
        {"pixel_error": 1 / 9, "rand_error": 0.5})
    assert metrics.rand_error(np.where(truth, 0.9, 0.1), truth) == 0.0


def test_rand_f_score_hand_computed_split():
    true_labels = np.array([[1, 1, 0], [0, 0, 0], [2, 2, 2]])
    pred_labels = np.array([[1, 0, 0], [0, 0, 0], [3, 3, 4]])
    # n_ij: (1,1)=1, (2,3)=2, (2,4)=1; one singleton; a = 2, 3; b = 1, 2, 1.
    both, true_pairs, pred_pairs = 1 + 4 + 1 + 1, 4 + 9, 1 + 4 + 1 + 1
    expected = 2 * both / (true_pairs + pred_pairs)
    assert metrics.rand_f_score(true_labels, pred_labels) == pytest.approx(expected)
    assert expected == pytest.approx(0.7)


def brute_force_rand_f_score(true_labels, pred_labels):
    """Counts ordered pixel pairs (with repetition) of the true foreground."""
    t = true_labels[true_labels > 0]
    p = pred_labels[true_labels > 0]
    same_true = t[:, None] == t[None, :]
    same_pred = ((p[:, None] == p[None, :]) & (p[:, None] > 0)) | np.eye(t.size, dtype=bool)
    both = np.sum(same_true & same_pred)
    return 2 * both / (same_true.sum() + same_pred.sum())


@pytest.mark.parametrize("seed", range(3))
def test_rand_f_score_matches_pair_counting(seed):
    rng = np.random.default_rng(seed)
    true_labels = rng.integers(0, 4, (9, 9))
    pred_labels = rng.integers(0, 5, (9, 9))
    assert metrics.rand_f_score(true_labels, pred_labels) == pytest.approx(
        brute_force_rand_f_score(true_labels, pred_labels), rel=1e-12)


@pytest.mark.parametrize("connectivity, skimage_connectivity", [(4, 1), (8, 2)])
def test_connected_components_match_skimage(connectivity, skimage_connectivity):
    mask = np.random.default_rng(9).random((60, 70)) < 0.5
    labels, count = metrics.connected_components(mask, connectivity)
    reference = skimage_label(mask, connectivity=skimage_connectivity)
    np.testing.assert_array_equal(labels, reference)
    assert count == reference.max()


@pytest.mark.parametrize("call, message", [
    (lambda: metrics.confusion_counts([[1.5]], [[1]]), "1.5"),
    (lambda: metrics.confusion_counts([[np.nan]], [[1]]), "nan"),
    (lambda: metrics.confusion_counts([[0.5, 0.5]], [[1]]), r"\(1, 2\).*\(1, 1\)"),
    (lambda: metrics.confusion_counts([[0.5]], [[255]]), "255"),
    (lambda: metrics.confusion_counts([[0.5]], [[1]], fov=[[2]]), "fov.*2"),
    (lambda: metrics.confusion_counts([[0.5]], [[1]], threshold=2), "2"),
    (lambda: metrics.MetricAccumulator(auc_bins=1), "auc_bins.*1"),
    (lambda: metrics.connected_components(np.ones((3, 3)), connectivity=6), "6"),
    (lambda: metrics.ssim(np.zeros((2, 3, 3)), np.zeros((2, 3, 3))), r"\(2, 3, 3\)"),
    (lambda: metrics.rand_f_score([[-1]], [[0]]), "-1"),
    (lambda: metrics.MaskedF1Score(activation="tanh"), "tanh"),
])
def test_bad_arguments_raise_with_received_value(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def packed_batches(seed, batches=2):
    rng = np.random.default_rng(seed)
    truth = rng.random((batches, 2, 8, 8)) < 0.3
    prob = np.clip(0.4 * truth + 0.6 * rng.random(truth.shape), 1e-4, 1 - 1e-4)
    weights = np.where(rng.random(truth.shape) < 0.8, rng.choice([1.0, 3.0], truth.shape), 0.0)
    y_true = np.stack([truth, weights], -1).astype(np.float32)
    y_pred = np.log(np.stack([1 - prob, prob], -1)).astype(np.float32)  # log_softmax output
    return y_true, y_pred, prob, truth, weights > 0


def test_keras_f1_and_auc_stream_like_numpy():
    y_true, y_pred, prob, truth, mask = packed_batches(10)
    f1, auc = metrics.MaskedF1Score(), metrics.MaskedAUC()
    for batch in range(2):
        f1.update_state(y_true[batch], y_pred[batch])
        auc.update_state(y_true[batch], y_pred[batch])
    counts = metrics.confusion_counts(prob.reshape(-1, 8), truth.reshape(-1, 8),
                                      mask.reshape(-1, 8))
    assert float(f1.result()) == pytest.approx(metrics.scores_from_counts(counts)["f1"], rel=1e-6)
    exact = sk.roc_auc_score(truth[mask], prob[mask])
    assert float(auc.result()) == pytest.approx(exact, abs=2e-3)
    f1.reset_state()
    assert float(f1.result()) == 0.0


def test_keras_metrics_in_compiled_evaluate_and_serialization():
    y_true, _, _, _, _ = packed_batches(11)
    inputs = keras.Input((8, 8, 1))
    outputs = keras.layers.Conv2D(2, 1, activation="softmax", name="head")(inputs)
    model = keras.Model(inputs, outputs)
    f1 = metrics.MaskedF1Score(activation="softmax", threshold=0.4)
    model.compile(loss="mse", metrics=[f1, metrics.MaskedAUC(activation="softmax")])
    x = np.random.default_rng(0).random((4, 8, 8, 1)).astype(np.float32)
    results = model.evaluate(x, y_true.reshape(4, 8, 8, 2), verbose=0, return_dict=True)
    assert 0.0 <= results["masked_f1"] <= 1.0 and 0.0 <= results["masked_auc"] <= 1.0
    for metric in (f1, metrics.MaskedAUC(curve="PR", name="pr", activation="sigmoid")):
        restored = keras.saving.deserialize_keras_object(
            keras.saving.serialize_keras_object(metric))
        assert type(restored) is type(metric) and restored.get_config() == metric.get_config()
    with pytest.raises(ValueError, match="sample_weight"):
        f1.update_state(y_true[0], y_true[0], sample_weight=np.ones(2))
