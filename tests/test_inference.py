"""Overlap-tile inference: geometry probing, exact stitching, whole-image equivalence, TTA,
output selection, tracing once for any image size, bad arguments."""

import gc
import weakref

import keras
import numpy as np
import pytest
import tensorflow as tf

from vesselnet.inference import (
    TileGeometry,
    choose_tile_geometry,
    make_tiled_predictor,
    output_activation,
    predict_image,
    predict_images,
    tile_geometry,
    vessel_probability,
)
from vesselnet.inference import geometry as geometry_module
from vesselnet.inference.tile_choice import MIN_SAME_PADDING_TILE
from vesselnet.inference.tiling import (
    WINDOW_FLOOR,
    blend_window,
    mirror_pad,
    tile_count,
    tile_step,
)
from vesselnet.models import build_model, model_output_size

RNG = np.random.default_rng(7)


def identity_net(channels=1):
    """Valid-padding net whose output is channel 0 of its input cropped by 3 pixels.

    The branch (conv, pool, conv, up-conv) gives it the size rules of a depth-2 U-Net: even
    inputs >= 10 only, margin 3, pooling period 2.
    """
    inputs = keras.Input((None, None, channels), name="image")
    branch = keras.layers.Conv2D(1, 3, kernel_initializer="zeros")(inputs)
    branch = keras.layers.MaxPooling2D(2)(branch)
    branch = keras.layers.Conv2D(1, 3, kernel_initializer="zeros")(branch)
    branch = keras.layers.Conv2DTranspose(1, 2, strides=2, kernel_initializer="zeros")(branch)
    crop = keras.layers.Cropping2D(3)(keras.layers.Lambda(lambda x: x[..., :1])(inputs))
    merged = keras.layers.Add()([crop, branch])
    return keras.Model(inputs, keras.layers.Activation("linear", name="output")(merged))


@pytest.fixture(scope="module")
def identity():
    return identity_net()


@pytest.fixture(scope="module")
def valid_unet():
    keras.utils.set_random_seed(3)
    return build_model("unet", filters=8, depth=3)


def padded_input(image, geometry):
    """The mirror-padded image, padded to a valid size on the tiles' pooling grid."""
    height, width = image.shape[:2]
    sides = [geometry.input_size + -(-(side + 2 * geometry.margin - geometry.input_size)
                                     // geometry.alignment) * geometry.alignment
             for side in (height, width)]
    return mirror_pad(tf.constant(image), geometry.margin, sides[0] - height - geometry.margin,
                      geometry.margin, sides[1] - width - geometry.margin)[None]


def whole_image_pass(model, image, geometry, output="final", activation="log_softmax"):
    """One network pass over the whole mirror-padded image."""
    result = model(padded_input(image, geometry), training=False)
    result = result[output] if isinstance(result, dict) else result
    return vessel_probability(result, activation).numpy()[0, :image.shape[0], :image.shape[1]]


# --- geometry ------------------------------------------------------------------------------

@pytest.mark.parametrize("arch, options, wanted, expected", [
    ("unet", dict(depth=3), 100, (100, 60, 4)),
    ("unet", dict(depth=3), 101, (100, 60, 4)),  # nearest valid
    ("unet", dict(depth=3), 102, (104, 64, 4)),  # tie -> larger
    ("unet", dict(depth=3, padding="same"), 90, (92, 92, 4)),
    ("unet", dict(depth=5), 570, (572, 388, 16)),  # the paper's tile
    ("unet", dict(depth=5), 10, (188, 4, 16)),  # below the smallest: the smallest
    ("chained", dict(depth=4), 380, (380, 204, 8)),
    ("r2unet", dict(depth=3), 130, (132, 12, 4)),
])
def test_tile_geometry_probes_any_size_model(arch, options, wanted, expected):
    model = build_model(arch, filters=2, **options)
    geometry = tile_geometry(model, wanted)
    assert (geometry.input_size, geometry.output_size, geometry.alignment) == expected
    shrink = {"r2unet": 12}.get(arch, 4)
    assert geometry.output_size == model_output_size(
        arch, geometry.input_size, **options, **({"steps": 2} if shrink == 12 else {}))


def test_tile_geometry_by_output_fixed_models_and_trace_fallback(identity, monkeypatch):
    assert tile_geometry(identity, 41) == TileGeometry(42, 36, 2)
    assert tile_geometry(identity, wanted_output=128) == TileGeometry(134, 128, 2)
    fixed = build_model("unet", filters=2, depth=3, input_size=140)
    assert tile_geometry(fixed) == TileGeometry(140, 100, 4)  # period from the layers
    with pytest.raises(ValueError, match="fixed 140.*wanted_input=144"):
        tile_geometry(fixed, 144)
    # models that are not of the family are probed by tracing a TF graph instead
    monkeypatch.setattr(geometry_module, "network_facts", lambda model: None)
    assert tile_geometry(build_model("unet", filters=2, depth=3), 101) == TileGeometry(100, 60, 4)


def test_geometry_of_a_model_loaded_from_keras_file(tmp_path, valid_unet):
    path = tmp_path / "unet.keras"
    valid_unet.save(path)
    loaded = keras.models.load_model(path)
    assert tile_geometry(loaded, 100) == tile_geometry(valid_unet, 100)
    image = RNG.random((45, 70, 1), dtype=np.float32)
    np.testing.assert_allclose(predict_image(loaded, image, tile_size=100),
                               predict_image(valid_unet, image, tile_size=100), atol=1e-6)


def test_choose_tile_geometry_keeps_same_padding_tiles_large_on_big_images():
    # Counted in input pixels, 8-pixel tiles were the cheapest cover of an HRF image.
    model = build_model("chained", filters=2, depth=4, padding="same")
    for height, width in ((2336, 3504), (584, 565), (200, 180)):
        geometry = choose_tile_geometry(model, height, width)
        assert geometry.input_size >= MIN_SAME_PADDING_TILE, (height, width, geometry)
    assert choose_tile_geometry(model, 584, 565).input_size >= 584  # one tile


def test_choose_tile_geometry_covers_a_drive_image_with_one_tile(valid_unet):
    # output >= 584 needs input 624 (margin 20, inputs step by 4): one tile, 624^2 pixels
    assert choose_tile_geometry(valid_unet, 584, 565) == TileGeometry(624, 584, 4)
    hrf = choose_tile_geometry(valid_unet, 2336, 3504)
    assert hrf.input_size <= 800 and hrf.output_size == hrf.input_size - 40
    fixed = build_model("unet", filters=2, depth=3, input_size=140)
    assert choose_tile_geometry(fixed, 584, 565) == TileGeometry(140, 100, 4)


def test_cached_functions_do_not_keep_the_model_alive():
    model = build_model("unet", filters=2, depth=3)
    predict_image(model, np.zeros((20, 20, 1), np.float32), tile_size=100)
    reference = weakref.ref(model)
    del model
    gc.collect()
    assert reference() is None


# --- building blocks -----------------------------------------------------------------------

@pytest.mark.parametrize("size", [1, 2, 3, 5])
@pytest.mark.parametrize("before, after", [(0, 0), (1, 4), (7, 12)])
def test_mirror_pad_equals_numpy_reflect_beyond_the_size(size, before, after):
    image = RNG.random((size, size + 1, 2), dtype=np.float32)
    expected = np.pad(image, ((before, after), (after, before), (0, 0)), mode="reflect")
    np.testing.assert_array_equal(mirror_pad(tf.constant(image), before, after, after, before),
                                  expected)


def test_blend_window_is_a_lifted_raised_cosine():
    np.testing.assert_allclose(blend_window(4), [0.14730, 0.85370, 0.85370, 0.14730], atol=1e-5)
    # 1e-3 + 0.999 * sin(pi / 8) ** 2 = 0.14730; 1e-3 + 0.999 * sin(3 pi / 8) ** 2 = 0.85370
    window = blend_window(388)
    assert window.min() >= WINDOW_FLOOR and window.max() <= 1
    np.testing.assert_array_equal(window, window[::-1])
    np.testing.assert_array_equal(blend_window(5, "uniform"), np.ones(5))


@pytest.mark.parametrize("tile, overlap, alignment, step", [
    (34, 0, 2, 34), (34, 7, 2, 26), (34, 33, 2, 1), (388, 32, 16, 352), (48, 43, 1, 5),
])
def test_tile_step_rounds_down_to_the_pooling_period(tile, overlap, alignment, step):
    assert tile_step(tile, overlap, alignment) == step


@pytest.mark.parametrize("size, tile, step, count", [(584, 34, 34, 18), (5, 34, 34, 1),
                                                      (34, 34, 10, 1), (35, 34, 10, 2)])
def test_tile_count(size, tile, step, count):
    assert int(tile_count(size, tile, step)) == count


# --- exactness: identity-like network ------------------------------------------------------

@pytest.mark.parametrize("shape, overlap", [
    ((37, 53), 0), ((37, 53), 33), ((584, 565), 0), ((584, 565), 20), ((5, 3), 20),
    ((1, 1), 0), ((36, 200), 33),
])
def test_identity_network_reproduces_the_image_exactly(identity, shape, overlap):
    image = RNG.random(shape + (1,), dtype=np.float32)
    result = predict_image(identity, image, tile_size=40, overlap=overlap, batch_size=16,
                           activation="sigmoid")
    assert result.shape == shape and result.dtype == np.float32
    np.testing.assert_allclose(result, image[..., 0], rtol=0, atol=1e-6)


def test_three_channel_input_reaches_the_network_unchanged():
    image = RNG.random((37, 53, 3), dtype=np.float32)
    result = predict_image(identity_net(channels=3), image, tile_size=40, overlap=4,
                           activation="sigmoid")
    np.testing.assert_allclose(result, image[..., 0], atol=1e-6)


@pytest.mark.parametrize("tta", [True, "dihedral"])
def test_tta_of_a_flip_equivariant_network_changes_nothing(identity, tta):
    image = RNG.random((37, 53, 1), dtype=np.float32)
    plain = predict_image(identity, image, tile_size=40, overlap=6, activation="sigmoid")
    augmented = predict_image(identity, image, tile_size=40, overlap=6, activation="sigmoid",
                              tta=tta, batch_size=8)
    np.testing.assert_allclose(augmented, plain, atol=1e-6)
    np.testing.assert_allclose(augmented, image[..., 0], atol=1e-6)


def test_tta_averages_flipped_tiles_of_a_real_network(valid_unet):
    image = RNG.random((40, 50, 1), dtype=np.float32)
    geometry = tile_geometry(valid_unet, 100)  # one tile: output 60 covers the image
    tile = mirror_pad(tf.constant(image), 20, 100 - 20 - 40, 20, 100 - 20 - 50)[None]
    predictions = []
    for axes in ([], [1], [2], [1, 2]):
        flipped = valid_unet(tf.reverse(tile, axes), training=False)
        predictions.append(tf.reverse(vessel_probability(flipped, "log_softmax"), axes))
    expected = np.mean(predictions, axis=0)[0, :40, :50]
    result = predict_image(valid_unet, image, tile_size=geometry, tta=True, batch_size=4)
    np.testing.assert_allclose(result, expected, atol=2e-6)
    assert np.abs(result - whole_image_pass(valid_unet, image, geometry)).max() > 1e-4


# --- equivalence with one whole-image pass -------------------------------------------------

def test_valid_padding_tiles_equal_the_whole_image_pass(valid_unet):
    image = RNG.random((150, 130, 1), dtype=np.float32)
    geometry = tile_geometry(valid_unet, 100)
    whole = whole_image_pass(valid_unet, image, geometry)
    assert whole.std() > 1e-3  # the comparison is not between constants
    for overlap in (0, 22):
        tiled = predict_image(valid_unet, image, tile_size=geometry, overlap=overlap)
        np.testing.assert_allclose(tiled, whole, atol=2e-6)
    # tiles not aligned to the pooling grid (step 59) see other poolings: not equal
    misaligned = predict_image(valid_unet, image, tile_size=TileGeometry(100, 60), overlap=1)
    assert np.abs(misaligned - whole).max() > 1e-4


def test_same_padding_tiles_approach_the_whole_image_pass_with_overlap():
    keras.utils.set_random_seed(5)
    model = build_model("unet", filters=4, depth=3, padding="same")
    image = RNG.random((150, 130, 1), dtype=np.float32)
    geometry = tile_geometry(model, 100)
    whole = whole_image_pass(model, image, geometry)
    errors = {overlap: np.abs(predict_image(model, image, tile_size=geometry, overlap=overlap,
                                            context=0) - whole)
              for overlap in (0, 40)}
    # measured: mean 0.010 -> 0.003, interior max 0.23 -> 0.010 (untrained, seed 5)
    assert errors[40].mean() < 0.5 * errors[0].mean()
    assert errors[40].mean() < 0.006 and errors[40][20:-20, 20:-20].max() < 0.03


# --- outputs and activations ---------------------------------------------------------------

@pytest.mark.parametrize("output", ["final", "stage1"])
def test_chained_model_output_selection(output):
    keras.utils.set_random_seed(11)
    model = build_model("chained", filters=4, depth=3)
    image = RNG.random((70, 60, 1), dtype=np.float32)
    geometry = tile_geometry(model, 140, output=output)
    expected = whole_image_pass(model, image, geometry, output=output)
    result = predict_image(model, image, tile_size=geometry, overlap=8, output=output)
    np.testing.assert_allclose(result, expected, atol=2e-6)
    other = whole_image_pass(model, image, geometry, output={"final": "stage1"}.get(output,
                                                                                   "final"))
    assert np.abs(result - other).max() > 1e-4


@pytest.mark.parametrize("activation, n_classes", [("log_softmax", 2), ("softmax", 2),
                                                   ("sigmoid", 1)])
def test_three_output_activations(activation, n_classes):
    model = build_model("unet", filters=2, depth=3, n_classes=n_classes,
                        output_activation=activation)
    assert output_activation(model) == activation
    image = RNG.random((30, 41, 1), dtype=np.float32)
    geometry = tile_geometry(model, 100)
    result = predict_image(model, image, tile_size=geometry)
    np.testing.assert_allclose(result, whole_image_pass(model, image, geometry,
                                                        activation=activation), atol=2e-6)
    assert 0 <= result.min() and result.max() <= 1


@pytest.mark.parametrize("output, activation, expected", [
    (np.log([[[0.25, 0.75]]]), "log_softmax", [[0.75]]),
    ([[[0.4, 0.6]]], "softmax", [[0.6]]),
    ([[[0.3]]], "sigmoid", [[0.3]]),
])
def test_vessel_probability_by_hand(output, activation, expected):
    np.testing.assert_allclose(vessel_probability(output, activation).numpy(), expected,
                               rtol=1e-6)


# --- tracing once for any size -------------------------------------------------------------

def test_tf_function_traces_once_and_matches_eager(valid_unet):
    predictor = make_tiled_predictor(valid_unet, tile_geometry(valid_unet, 100), overlap=8)
    traced = tf.function(predictor, input_signature=[tf.TensorSpec([None, None, 1])])
    for shape in [(37, 53), (150, 130)]:
        image = tf.constant(RNG.random(shape + (1,), dtype=np.float32))
        result = traced(image)
        assert result.shape == shape
        np.testing.assert_allclose(result.numpy(), predictor(image).numpy(), atol=1e-6)
    assert traced.experimental_get_tracing_count() == 1


def test_predict_images_iterates(identity):
    images = [RNG.random((12, 20, 1), dtype=np.float32), RNG.random((30, 9, 1), np.float32)]
    results = list(predict_images(identity, images, tile_size=20, activation="sigmoid"))
    for image, result in zip(images, results):
        np.testing.assert_allclose(result, image[..., 0], atol=1e-6)


# --- bad arguments -------------------------------------------------------------------------

GOOD = np.zeros((20, 20, 1), np.float32)


@pytest.mark.parametrize("image, options, message", [
    (np.zeros((20, 20), np.float32), {}, r"\[H, W, C\].*\(20, 20\)"),
    (np.zeros((1, 20, 20, 1), np.float32), {}, r"\(1, 20, 20, 1\)"),
    (np.zeros((20, 20, 3), np.float32), {}, r"1 channel.*\(20, 20, 3\)"),
    (np.zeros((0, 20, 1), np.float32), {}, r"empty.*\(0, 20, 1\)"),
    (np.where(np.eye(20)[..., None] > 0, np.nan, GOOD), {}, "20 non-finite"),
    (np.full((20, 20, 1), np.inf, np.float32), {}, "400 non-finite"),
    (GOOD, dict(overlap=-1), r"overlap.*\[0, 34\).*-1"),
    (GOOD, dict(overlap=34), r"overlap.*\[0, 34\).*34"),
    (GOOD, dict(overlap=2.5), r"overlap.*2\.5"),
    (GOOD, dict(batch_size=0), "batch_size.*0"),
    (GOOD, dict(tta="rot45"), "tta.*rot45"),
    (GOOD, dict(output="stage3"), "output.*stage3"),
    (GOOD, dict(window="gauss"), "window.*gauss"),
    (GOOD, dict(context=17), "context.*17"),
])
def test_bad_arguments_raise_value_error(identity, image, options, message):
    with pytest.raises(ValueError, match=message):
        predict_image(identity, image, **{"tile_size": 40, "activation": "sigmoid", **options})


@pytest.mark.parametrize("call, message", [
    (lambda model: tile_geometry(model, 0), "wanted_input.*0"),
    (lambda model: tile_geometry(model, 40, wanted_output=30), "not both.*40.*30"),
    (lambda model: vessel_probability(np.zeros((2, 2, 2)), "relu"), "relu"),
    (lambda model: vessel_probability(np.zeros((2, 2, 2)), "sigmoid"), "got 2"),
    (lambda model: output_activation(model), "'linear'"),
    (lambda model: TileGeometry(40, 35), "input_size=40, output_size=35"),
])
def test_bad_geometry_and_output_arguments(identity, call, message):
    with pytest.raises(ValueError, match=message):
        call(identity)
