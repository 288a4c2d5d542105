"""Per-image ops, the PreprocessConfig pipeline and the Preprocess Keras layer."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from vesselnet.preprocessing import (
    CLASSIC_CONFIG,
    Preprocess,
    PreprocessConfig,
    Step,
    adjust_gamma,
    fit_statistics,
    grayscale,
    minmax_normalize,
    preprocess,
    preprocess_batch,
    zscore_normalize,
)
from vesselnet.preprocessing.clahe import clahe_reference
from vesselnet.preprocessing.ops import to_uint8


def _photo(height=37, width=45, seed=0):
    """A smooth synthetic RGB 'fundus' with noise, uint8 [H, W, 3]."""
    rng = np.random.default_rng(seed)
    rows, columns = np.mgrid[0:height, 0:width]
    base = 90 + 60 * np.sin(columns / 7.0) * np.cos(rows / 9.0)
    channels = [base * 1.4, base, base * 0.4]
    photo = np.stack(channels, axis=-1) + rng.normal(0, 4, (height, width, 3))
    return np.clip(photo, 0, 255).astype(np.uint8)


# ----------------------------------------------------------------------------- ops


@pytest.mark.parametrize(
    "weights, expected",
    [
        ("itu_r_601", 0.299 * 10 + 0.587 * 20 + 0.114 * 30),
        ("green", 20.0),
        ((0.5, 0.5, 0.0), 15.0),
    ],
)
def test_grayscale_weights(weights, expected):
    pixel = np.array([[[10, 20, 30]]], dtype=np.uint8)
    result = grayscale(pixel, weights)
    assert result.shape == (1, 1, 1) and result.dtype == tf.float32
    assert float(result[0, 0, 0]) == pytest.approx(expected, abs=1e-4)
    batched = grayscale(np.stack([pixel, pixel * 2]), weights)
    assert batched.shape == (2, 1, 1, 1)
    assert float(batched[1, 0, 0, 0]) == pytest.approx(2 * expected, abs=1e-4)


@pytest.mark.parametrize(
    "weights, message",
    [
        ("luma", "'luma'"),
        ((0.3, 0.3), r"\(0.3, 0.3\)"),
        ((0.5, 0.6, 0.1), r"\(0.5, 0.6, 0.1\)"),
        ((-0.2, 1.1, 0.1), r"-0.2"),
    ],
)
def test_grayscale_bad_weights(weights, message):
    with pytest.raises(ValueError, match=message):
        grayscale(np.zeros((2, 2, 3), np.uint8), weights)


def test_minmax_whole_image_and_inside_mask():
    image = np.array([[1.0, 3.0], [5.0, 9.0]], np.float32)[:, :, None]
    np.testing.assert_allclose(minmax_normalize(image)[:, :, 0], [[0, 0.25], [0.5, 1]])
    np.testing.assert_allclose(
        minmax_normalize(image, 0.0, 255.0)[:, :, 0], [[0, 63.75], [127.5, 255]]
    )
    mask = np.array([[True, True], [True, False]])  # 9 lies outside: min 1, max 5
    np.testing.assert_allclose(minmax_normalize(image, mask=mask)[:, :, 0], [[0, 0.5], [1, 2]])
    constant = np.full((3, 3, 1), 7.0, np.float32)
    np.testing.assert_allclose(minmax_normalize(constant, 2.0, 4.0), np.full((3, 3, 1), 2.0))


def test_zscore_per_image_given_and_masked():
    image = np.array([[1.0, 3.0], [5.0, 7.0]], np.float32)[:, :, None]
    std = np.sqrt(5.0)  # population std of 1, 3, 5, 7 around 4
    expected = (np.array([[1, 3], [5, 7]]) - 4.0) / std
    np.testing.assert_allclose(zscore_normalize(image)[:, :, 0], expected, rtol=1e-6)
    np.testing.assert_allclose(
        zscore_normalize(image, mean=2.0, std=4.0)[:, :, 0], [[-0.25, 0.25], [0.75, 1.25]]
    )
    mask = np.array([[True, True], [False, False]])  # mean 2, std 1 from 1 and 3
    np.testing.assert_allclose(zscore_normalize(image, mask=mask)[:, :, 0], [[-1, 1], [3, 5]])
    batch = zscore_normalize(np.stack([image, image * 10]))
    np.testing.assert_allclose(batch[1, :, :, 0], expected, rtol=1e-5)
    with pytest.raises(ValueError, match="mean=2.0, std=None"):
        zscore_normalize(image, mean=2.0)


def test_gamma_and_uint8_conversion():
    image = np.array([0.0, 64.0, 255.0], np.float32).reshape(1, 3, 1)
    expected = [0.0, 255 * (64 / 255) ** (1 / 1.2), 255.0]
    np.testing.assert_allclose(adjust_gamma(image, 1.2)[0, :, 0], expected, rtol=1e-5)
    with pytest.raises(ValueError, match="-1"):
        adjust_gamma(image, -1)
    values = np.array([0.4, 1.5, 2.5, 254.9, 300.0, -3.0], np.float32).reshape(1, 6, 1)
    np.testing.assert_array_equal(to_uint8(values)[0, :, 0], [0, 1, 2, 254, 255, 0])
    np.testing.assert_array_equal(to_uint8(values, "round")[0, :, 0], [0, 2, 2, 255, 255, 0])


# ------------------------------------------------------------------------- config


@pytest.mark.parametrize(
    "config",
    [
        CLASSIC_CONFIG,
        CLASSIC_CONFIG.with_statistics(101.5, 37.25),
        PreprocessConfig(grayscale="itu_r_601"),
        PreprocessConfig(grayscale=None, steps=(Step("minmax"),)),
        PreprocessConfig(
            steps=(
                Step("minmax", low=0.0, high=255.0, in_fov=True),
                Step("clahe", clip_limit=3.5, tile_grid=[4, 6], rounding="round"),
                Step("scale"),
            )
        ),
    ],
)
def test_config_round_trips_through_json(config):
    restored = PreprocessConfig.from_dict(json.loads(json.dumps(config.to_dict())))
    assert restored == config
    assert hash(restored) == hash(config)


def test_classic_config_contents():
    data = CLASSIC_CONFIG.to_dict()
    assert data["grayscale"] == [0.0, 1.0, 0.0]
    assert [step["name"] for step in data["steps"]] == [
        "zscore", "minmax", "clahe", "gamma", "scale"
    ]
    assert data["steps"][2] == {
        "name": "clahe", "clip_limit": 2.0, "tile_grid": [8, 8], "rounding": "truncate"
    }
    fitted = CLASSIC_CONFIG.with_statistics(100.0, 30.0)
    assert fitted.steps[0].options == {"mean": 100.0, "std": 30.0, "in_fov": False}
    assert CLASSIC_CONFIG.channels == 1 and PreprocessConfig(grayscale=None).channels == 3


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: Step("sharpen"), "'sharpen'"),
        (lambda: Step("gamma", power=2.0), "'power'"),
        (lambda: Step("gamma", gamma=0.0), "0.0"),
        (lambda: Step("clahe", clip_limit=-1.0), "-1.0"),
        (lambda: Step("clahe", tile_grid=(8, 0)), r"\(8, 0\)"),
        (lambda: Step("clahe", rounding="floor"), "floor"),
        (lambda: Step("minmax", low=1.0, high=0.0), "low=1.0"),
        (lambda: Step("zscore", mean=1.0), "zscore"),
        (lambda: Step("zscore", mean=1.0, std=0.0), "0.0"),
        (lambda: Step("minmax", in_fov="yes"), "'yes'"),
        (lambda: PreprocessConfig(steps=(Step("zscore"), Step("clahe"))), "'clahe'"),
        (lambda: PreprocessConfig(steps=(Step("zscore"),)), "unbounded"),
        (lambda: PreprocessConfig(steps=(Step("minmax", high=255.0),)), "255.0"),
        (lambda: PreprocessConfig.from_dict({"step": []}), "'step'"),
        (lambda: PreprocessConfig.from_dict({"steps": [{"gamma": 1.0}]}), "'name'"),
        (lambda: PreprocessConfig(grayscale="blue"), "'blue'"),
    ],
)
def test_bad_config_raises_naming_the_problem(make, message):
    with pytest.raises(ValueError, match=message):
        make()


# ----------------------------------------------------------------------- pipeline


def test_classic_pipeline_equals_composed_ops_and_opencv_clahe():
    photo = _photo()
    result = preprocess(photo).numpy()
    assert result.shape == (37, 45, 1) and result.dtype == np.float32
    assert result.min() >= 0.0 and result.max() <= 1.0
    # Recompute by hand: green channel, per-image z-score, min-max 0..255, truncation to uint8,
    # OpenCV's CLAHE, gamma 1.2 (exponent 1 / 1.2), divide by 255.
    grey = photo[:, :, 1:2].astype(np.float32)
    grey_levels = to_uint8(minmax_normalize(zscore_normalize(grey), 0.0, 255.0)).numpy()
    equalised = clahe_reference(grey_levels, 2.0, (8, 8)).astype(np.float64)
    expected = 255.0 * (equalised / 255.0) ** (1 / 1.2) / 255.0
    np.testing.assert_allclose(result, expected, atol=1e-6)


def test_dataset_statistics_and_fov_statistics():
    photo = _photo(seed=1)
    fov = np.zeros(photo.shape[:2], bool)
    fov[5:30, 5:40] = True
    mean, std = fit_statistics([photo, photo[:20]], [fov, fov[:20]])
    green = np.concatenate([photo[:, :, 1][fov], photo[:20, :, 1][fov[:20]]]).astype(np.float64)
    assert mean == pytest.approx(green.mean(), rel=1e-9)
    assert std == pytest.approx(green.std(), rel=1e-9)
    fitted = CLASSIC_CONFIG.with_statistics(mean, std)
    assert fitted.steps[0].options["mean"] == mean and fitted.steps[0].options["std"] == std
    # The min-max after the z-score undoes the affine map up to float rounding, which can move
    # a pixel across a truncation boundary (one grey level before CLAHE) but not many.
    differences = np.abs(preprocess(photo, fitted).numpy() - preprocess(photo).numpy())
    assert np.count_nonzero(differences > 1e-5) <= 0.01 * differences.size
    in_fov = PreprocessConfig(steps=(Step("minmax", in_fov=True),))
    with pytest.raises(ValueError, match="fov"):
        preprocess(photo, in_fov)
    result = preprocess(photo, in_fov, fov=fov).numpy()[:, :, 0]
    assert result[fov].min() == 0.0 and result[fov].max() == pytest.approx(1.0)
    with pytest.raises(ValueError, match=r"\(20, 45\)"):
        fit_statistics([photo], [fov[:20]])
    with pytest.raises(ValueError, match="no FOV pixels"):
        fit_statistics([photo], [np.zeros_like(fov)])


def test_rgb_pipeline_keeps_three_channels():
    config = PreprocessConfig(
        grayscale=None, steps=(Step("clahe", rounding="round"), Step("scale"))
    )
    photo = _photo(seed=2)
    result = preprocess(photo, config).numpy()
    assert result.shape == (37, 45, 3)
    for channel in range(3):
        expected = clahe_reference(photo[:, :, channel].copy(), 2.0, (8, 8)) / 255.0
        np.testing.assert_allclose(result[:, :, channel], expected, atol=1e-6)


def test_pipeline_in_graph_with_unknown_shape_and_in_dataset():
    traced = tf.function(preprocess, input_signature=[tf.TensorSpec([None, None, 3], tf.uint8)])
    photos = [_photo(30, 41, 3), _photo(52, 27, 4)]
    for photo in photos:
        np.testing.assert_allclose(traced(photo), preprocess(photo), atol=1e-6)
    assert traced.experimental_get_tracing_count() == 1
    dataset = tf.data.Dataset.from_generator(
        lambda: iter(photos), output_signature=tf.TensorSpec([None, None, 3], tf.uint8)
    ).map(preprocess)
    for photo, result in zip(photos, dataset):
        np.testing.assert_allclose(result, preprocess(photo), atol=1e-6)
    batch = np.stack([_photo(seed=5), _photo(seed=6)])
    batched = preprocess_batch(batch)
    np.testing.assert_allclose(batched[1], preprocess(batch[1]), atol=1e-6)
    with pytest.raises(ValueError, match=r"\(30, 41\)"):
        preprocess(np.zeros((30, 41), np.uint8))


# -------------------------------------------------------------------------- layer


def _tiny_model(config=CLASSIC_CONFIG):
    inputs = keras.Input((None, None, 3), dtype="uint8", name="photo")
    features = Preprocess(config, name="preprocess")(inputs)
    outputs = keras.layers.Conv2D(
        1, 3, padding="same", activation="sigmoid", name="head", kernel_initializer="ones"
    )(features)
    return keras.Model(inputs, outputs, name="tiny")


def test_layer_saves_and_loads_with_safe_mode(tmp_path):
    config = CLASSIC_CONFIG.with_statistics(100.0, 30.0)
    model = _tiny_model(config)
    batch = np.stack([_photo(seed=7), _photo(seed=8)])
    expected = model.predict(batch, verbose=0)
    np.testing.assert_allclose(
        model.get_layer("preprocess")(batch), preprocess_batch(batch, config), atol=0
    )
    path = tmp_path / "tiny.keras"
    model.save(path)
    restored = keras.saving.load_model(path, safe_mode=True)
    layer = restored.get_layer("preprocess")
    assert isinstance(layer, Preprocess) and layer.preprocess_config == config
    np.testing.assert_array_equal(restored.predict(batch, verbose=0), expected)
    assert layer.get_config()["preprocess_config"] == config.to_dict()


def test_layer_in_graph_with_unknown_shape_and_float_input():
    model = _tiny_model()
    traced = tf.function(
        lambda x: model(x), input_signature=[tf.TensorSpec([None, None, None, 3], tf.uint8)]
    )
    for shape in [(1, 33, 40, 3), (2, 48, 29, 3)]:
        batch = np.random.default_rng(sum(shape)).integers(0, 256, shape, dtype=np.uint8)
        result = traced(batch)
        assert result.shape == shape[:3] + (1,)
        np.testing.assert_allclose(result, model(batch.astype(np.float32)), atol=1e-6)
    assert traced.experimental_get_tracing_count() == 1


def test_layer_arguments():
    assert Preprocess().supports_jit is False  # CLAHE: keep Keras from XLA-compiling it
    assert Preprocess(allow_xla=True).supports_jit is True
    no_clahe = PreprocessConfig(steps=(Step("minmax"),))
    assert Preprocess(no_clahe.to_dict()).supports_jit is True
    assert Preprocess().compute_output_shape((None, 64, 64, 3)) == (None, 64, 64, 1)
    with pytest.raises(ValueError, match="in_fov"):
        Preprocess(PreprocessConfig(steps=(Step("minmax", in_fov=True),)))
    with pytest.raises(ValueError, match="'green'"):
        Preprocess("green")


@pytest.mark.slow
def test_model_with_layer_exports_to_saved_model(tmp_path):
    model = _tiny_model()
    model.export(str(tmp_path / "served"), format="tf_saved_model", verbose=False)
    served = tf.saved_model.load(str(tmp_path / "served"))
    batch = np.stack([_photo(29, 35, seed=9)])
    np.testing.assert_allclose(served.serve(tf.constant(batch)), model(batch), atol=1e-6)
