"""Networks: shapes, parameter counts, size arithmetic, save/load, a training step, bad args."""

import json

import keras
import numpy as np
import pytest
from click.testing import CliRunner

from vesselnet.cli import main
from vesselnet.config.model import geometry
from vesselnet.core.sizes import _trace, nearest_valid_input_sizes, stage_crop
from vesselnet.layers import RecurrentConv2D
from vesselnet.models import (
    ARCHITECTURES,
    build_model,
    input_size_for_output,
    model_output_size,
    output_size,
    smallest_input_size,
    summarize,
)


def _conv_layers(model):
    kinds = (keras.layers.Conv2D, keras.layers.Conv2DTranspose)
    return [layer for layer in model.layers if isinstance(layer, kinds)]


def test_paper_unet_572_to_388_with_23_conv_layers_and_31030658_parameters():
    model = build_model("unet", input_size=572)
    assert model.input_shape == (None, 572, 572, 1)
    assert model.output_shape == (None, 388, 388, 2)
    assert model.count_params() == 31_030_658
    assert len(_conv_layers(model)) == 23
    names = {layer.name for layer in model.layers}
    assert {"encoder_1_conv_1", "encoder_5_conv_2", "encoder_4_pool", "decoder_1_upconv",
            "decoder_1_crop", "decoder_1_concat", "decoder_4_conv_2", "output_conv"} <= names
    # crop-and-concat of the deepest skip: 64 -> 56, the paper's Fig. 1
    assert model.get_layer("decoder_4_crop").output.shape[1] == 56
    assert model.get_layer("decoder_1_concat").output.shape[1:] == (392, 392, 128)


def test_models_json_reports_the_paper_unet():
    result = CliRunner().invoke(main, ["models", "unet", "--input-size", "572", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert (report["input_size"], report["output_size"]) == (572, 388)
    assert (report["parameters"], report["conv_layers"]) == (31_030_658, 23)


def test_models_lists_architectures_and_rejects_bad_size_cleanly():
    runner = CliRunner()
    listing = runner.invoke(main, ["models"])
    assert listing.exit_code == 0
    for arch in ARCHITECTURES:
        assert arch in listing.output
    bad = runner.invoke(main, ["models", "unet", "--input-size", "570"])
    assert bad.exit_code != 0
    assert "nearest valid: 556, 572" in bad.output
    assert "Traceback" not in bad.output
    version = runner.invoke(main, ["--version"])
    assert version.exit_code == 0 and "vesselnet" in version.output


def _brute_single(size, depth, shrink):
    """Independent trace of one valid-padding U-Net, layer by layer."""
    sides = []
    for _ in range(depth - 1):
        size -= shrink
        if size < 2 or size % 2:
            return None
        sides.append(size)
        size //= 2
    size -= shrink
    if size < 1:
        return None
    for skip in reversed(sides):
        size *= 2
        if skip < size:
            return None
        size -= shrink
        if size < 1:
            return None
    return size


def _brute_output(size, depth, shrink, stages):
    """Chained stages: each later stage takes the largest valid centre crop of the map."""
    size = _brute_single(size, depth, shrink)
    for _ in range(stages - 1):
        while size is not None and size >= 1 and _brute_single(size, depth, shrink) is None:
            size -= 2
        if size is None or size < 1:
            return None
        size = _brute_single(size, depth, shrink)
    return size


@pytest.mark.parametrize("depth,shrink,stages", [
    (5, 4, 1), (4, 4, 1), (3, 4, 1), (2, 4, 1), (4, 12, 1), (3, 12, 1), (4, 4, 2), (5, 4, 2),
])
def test_valid_size_arithmetic_matches_brute_force(depth, shrink, stages):
    valid = []
    for size in range(1, 700):
        expected = _brute_output(size, depth, shrink, stages)
        try:
            got = output_size(size, depth, "valid", shrink=shrink, stages=stages)
        except ValueError:
            got = None
        assert got == expected, size
        if expected is not None:
            valid.append(size)
    assert valid, "no valid sizes below 700"
    assert valid[0] == smallest_input_size(depth, shrink=shrink, stages=stages)
    step = 2 ** (depth - 1)
    assert valid == list(range(valid[0], 700, step))
    for wanted in range(1, 120, 7):
        size = input_size_for_output(wanted, depth, shrink=shrink, stages=stages)
        assert size in valid
        assert output_size(size, depth, shrink=shrink, stages=stages) >= wanted
        if size - step >= valid[0]:
            assert output_size(size - step, depth, shrink=shrink, stages=stages) < wanted
    for size in range(1, 700, 13):
        below, above = nearest_valid_input_sizes(size, depth, shrink=shrink, stages=stages)
        assert above >= size and _brute_output(above, depth, shrink, stages) is not None
        assert above - size < step or above == valid[0]
        assert below is None or (below in valid and size - below < step)


def test_same_padding_sizes_are_multiples_of_the_pooling_factor():
    assert [s for s in range(1, 100) if _trace(s, 4, "same", 4) is not None] == list(
        range(8, 100, 8))
    assert output_size(64, 4, "same") == 64
    assert stage_crop(4, "same") == 0


def test_paper_chained_depth5_needs_a_stage_crop():
    # U-Net outputs 4 + 16k are never valid inputs (12 + 16k): crop 4 pixels per side.
    assert stage_crop(5) == 4
    assert stage_crop(4) == 0
    assert model_output_size("chained", 380) == 4
    assert model_output_size("chained", 380 + 16 * 10) == 4 + 16 * 10


# (arch, build options, depth) -> checked below for shape, one training step and round trip
CASES = [
    ("unet", {}, 4),
    ("resunet", {}, 4),
    ("r2unet", {}, 3),
    ("r2unet", {"residual": False, "steps": 1}, 3),
    ("chained", {}, 4),
    ("chained", {"stage2_input": "probabilities_and_image"}, 3),
    ("unet", {"batch_norm": True, "dropout": 0.2, "dropout_at": "all"}, 3),
    ("resunet", {"output_activation": "sigmoid"}, 3),
    ("chained", {"output_activation": "softmax", "batch_norm": True}, 3),
]


def _tile(arch, depth, padding, options, extra_steps=1):
    shrink, stages = geometry(arch, **options)
    size = smallest_input_size(depth, padding, shrink=shrink, stages=stages)
    return size + extra_steps * 2 ** (depth - 1)


PADDED_CASES = [(*case, "valid") for case in CASES] + [
    pytest.param(*case, "same", marks=[] if index in (0, 4) else [pytest.mark.slow])
    for index, case in enumerate(CASES)
]


@pytest.mark.parametrize("arch,options,depth,padding", PADDED_CASES)
def test_architecture_builds_trains_a_step_and_round_trips(arch, options, depth, padding,
                                                           tmp_path):
    n_classes = 1 if options.get("output_activation") == "sigmoid" else 2
    channels = 3 if arch == "unet" else 1
    model = build_model(arch, input_size=None, channels=channels, filters=4, depth=depth,
                        n_classes=n_classes, padding=padding, **options)
    size = _tile(arch, depth, padding, options)
    out = model_output_size(arch, size, depth, padding, **options)
    rng = np.random.default_rng(0)
    x = rng.random((2, size, size, channels), dtype=np.float32)
    prediction = model(x, training=False)
    outputs = prediction if isinstance(prediction, dict) else {"output": prediction}
    assert set(outputs) == ({"stage1", "final"} if arch == "chained" else {"output"})
    for value in outputs.values():
        assert value.shape == (2, out, out, n_classes)
        value = keras.ops.convert_to_numpy(value)
        activation = options.get("output_activation", "log_softmax")
        if activation == "log_softmax":
            np.testing.assert_allclose(np.exp(value).sum(-1), 1.0, rtol=1e-5)
        elif activation == "softmax":
            np.testing.assert_allclose(value.sum(-1), 1.0, rtol=1e-5)
        else:
            assert ((value > 0) & (value < 1)).all()

    # one optimisation step changes the weights and gives a finite loss
    y = rng.integers(0, 2, (2, out, out, n_classes)).astype(np.float32)
    targets = {"stage1": y, "final": y} if arch == "chained" else y
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse")
    before = [w.copy() for w in model.get_weights()]
    loss = model.train_on_batch(x, targets)
    assert np.all(np.isfinite(loss))
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))

    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True, compile=False)
    again = loaded(x, training=False)
    again = again if isinstance(again, dict) else {"output": again}
    after = model(x, training=False)
    after = after if isinstance(after, dict) else {"output": after}
    for key in after:
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(after[key]),
                                      keras.ops.convert_to_numpy(again[key]))


def test_any_valid_size_with_input_size_none_and_fixed_sizes():
    model = build_model("chained", filters=2, depth=3)
    for size in (_tile("chained", 3, "valid", {}, k) for k in (0, 3)):
        out = model(np.zeros((1, size, size + 4, 1), np.float32))
        assert out["final"].shape[1:3] == (
            model_output_size("chained", size, 3), model_output_size("chained", size + 4, 3))
        assert out["stage1"].shape == out["final"].shape
    rect = build_model("unet", input_size=(188, 204), filters=2)
    assert rect.output_shape == (None, 4, 20, 2)


def test_chained_stage2_is_residual_with_the_same_level_sizes():
    model = build_model("chained", filters=8, depth=4)
    names = {layer.name for layer in model.layers}
    assert "stage2_encoder_1_add" in names and "stage1_encoder_1_add" not in names
    for level in range(1, 5):
        for stage in ("stage1", "stage2"):
            conv = model.get_layer(f"{stage}_encoder_{level}_conv_2")
            assert conv.filters == 8 * 2 ** (level - 1)


def test_r2unet_recurrent_layer_shares_one_kernel():
    model = build_model("r2unet", filters=4, depth=2, steps=3)
    rcl = model.get_layer("encoder_1_rcl_1")
    assert isinstance(rcl, RecurrentConv2D) and rcl.steps == 3
    assert len(rcl.trainable_weights) == 2  # one kernel + bias, applied steps + 1 times
    # shrink per block: two recurrent layers of 4 applications of a 3x3 kernel
    assert geometry("r2unet", steps=3) == (16, 1)


def test_recurrent_conv_matches_its_definition():
    layer = RecurrentConv2D(2, steps=2, padding="valid")
    x = np.random.default_rng(1).random((1, 12, 12, 2), dtype=np.float32)
    got = keras.ops.convert_to_numpy(layer(x))
    conv = layer.conv

    def f(t):
        return np.maximum(keras.ops.convert_to_numpy(conv(t)), 0)

    h = f(x)
    h = f(x[:, 1:-1, 1:-1] + h)
    h = f(x[:, 2:-2, 2:-2] + h)
    np.testing.assert_allclose(got, h, rtol=1e-5, atol=1e-6)
    assert got.shape == (1, 6, 6, 2)


def test_summarize_counts_recurrent_kernels_once():
    summary = summarize("r2unet", filters=4, depth=2)
    # per block: 1x1 in + two recurrent layers; 3 blocks, 1 up-conv, 1 output conv
    assert summary.conv_layers == 3 * 3 + 1 + 1
    assert summary.output_size == model_output_size("r2unet", summary.input_size, 2)


BAD_ARGUMENTS = [
    ({"arch": "vnet"}, "unknown architecture 'vnet'"),
    ({"arch": "unet", "input_size": 570}, "nearest valid: 556, 572"),
    ({"arch": "unet", "input_size": 100}, "nearest valid: 188"),
    ({"arch": "unet", "input_size": (188, 190)}, "input size 190"),
    ({"arch": "unet", "input_size": "big"}, "input_size must be None, an int"),
    ({"arch": "unet", "filters": 0}, "filters must be an integer >= 1, got 0"),
    ({"arch": "unet", "depth": 0}, "depth must be an integer >= 1, got 0"),
    ({"arch": "unet", "channels": 2.5}, "channels must be an integer >= 1, got 2.5"),
    ({"arch": "unet", "n_classes": 0}, "n_classes must be an integer >= 1, got 0"),
    ({"arch": "unet", "padding": "full"}, "padding must be one of ('valid', 'same'), got 'full'"),
    ({"arch": "unet", "dropout": 1.5}, "dropout must be a rate in [0, 1), got 1.5"),
    ({"arch": "unet", "dropout_at": "end"}, "dropout_at must be one of"),
    ({"arch": "unet", "output_activation": "relu"}, "got 'relu'"),
    ({"arch": "unet", "output_activation": "sigmoid"}, "n_classes=2"),
    ({"arch": "unet", "n_classes": 1}, "n_classes=1"),
    ({"arch": "unet", "batch_norm": "yes"}, "batch_norm must be True or False, got 'yes'"),
    ({"arch": "unet", "kernel": 5}, "unknown model option 'kernel'"),
    ({"arch": "unet", "steps": 3}, "option 'steps' applies to 'r2unet' only"),
    ({"arch": "r2unet", "steps": 0}, "steps must be an integer >= 1, got 0"),
    ({"arch": "chained", "stage2_input": "image"}, "got 'image'"),
]


@pytest.mark.parametrize("kwargs,message", BAD_ARGUMENTS)
def test_bad_arguments_raise_with_the_received_value(kwargs, message):
    kwargs = dict({"filters": 2}, **kwargs)
    arch = kwargs.pop("arch")
    with pytest.raises(ValueError) as error:
        build_model(arch, **kwargs)
    assert message in str(error.value)


@pytest.mark.parametrize("call,message", [
    (lambda: output_size(0), "input size must be a positive integer, got 0"),
    (lambda: output_size(572, padding="full"), "got 'full'"),
    (lambda: output_size(572, depth=0), "got 0"),
    (lambda: input_size_for_output(0), "got 0"),
    (lambda: RecurrentConv2D(0), "got 0"),
    (lambda: RecurrentConv2D(4, kernel_size=2), "got 2"),
])
def test_size_helpers_reject_bad_arguments(call, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        call()
