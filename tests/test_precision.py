"""Inference precision: float32 or mixed_bfloat16 copies of a network, and the auto choice."""

import json

import keras
import numpy as np
import pytest
from click.testing import CliRunner

from conftest import save_tiny_unet_bundle
from vesselnet.cli import main
from vesselnet.data import write_synthetic_dataset
from vesselnet.inference import InferenceOptions
from vesselnet.inference import precision as precision_module
from vesselnet.inference.precision import (
    check_precision,
    cpu_has_bfloat16,
    resolve_precision,
    with_precision,
)
from vesselnet.loading import load_model
from vesselnet.models import build_model, ensemble_model


def _compute_dtypes(model: keras.Model) -> dict[str, str]:
    return {layer.name: layer.dtype_policy.compute_dtype for layer in model._flatten_layers()
            if not isinstance(layer, (keras.layers.InputLayer, keras.Model))}


def test_float32_is_the_model_itself():
    model = build_model("unet", filters=4, depth=2, padding="same")
    assert with_precision(model, "float32") is model


@pytest.mark.parametrize("arch", ["unet", "chained"])
def test_bfloat16_copy_keeps_weights_and_names_and_a_float32_head(arch):
    keras.utils.set_random_seed(3)
    model = build_model(arch, filters=4, depth=2, padding="same")
    copy = with_precision(model, "mixed_bfloat16")
    assert copy is not model
    assert [layer.name for layer in copy.layers] == [layer.name for layer in model.layers]
    for mine, theirs in zip(copy.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(mine, theirs)
    dtypes = _compute_dtypes(copy)
    assert all(dtype == "float32" for name, dtype in dtypes.items() if "output" in name), dtypes
    convolutions = [layer for layer in copy.layers if isinstance(layer, keras.layers.Conv2D)
                    and layer.kernel_size == (3, 3)]
    assert convolutions and all(layer.compute_dtype == "bfloat16" for layer in convolutions)
    assert all(variable.dtype == "float32" for variable in copy.weights)
    image = np.random.default_rng(0).random((1, 32, 32, 1), dtype=np.float32)
    exact, fast = model(image), copy(image)
    if isinstance(exact, dict):
        exact, fast = exact["final"], fast["final"]
    assert fast.dtype == "float32"
    probability = np.exp(np.asarray(exact)[..., 1])
    assert np.abs(np.exp(np.asarray(fast)[..., 1]) - probability).max() < 0.05
    assert not np.array_equal(np.asarray(fast), np.asarray(exact))  # it did compute in bf16


def test_bfloat16_reaches_the_members_of_an_ensemble():
    members = [build_model("unet", filters=4, depth=2, padding="same") for _ in range(2)]
    copy = with_precision(ensemble_model(members), "mixed_bfloat16")
    dtypes = _compute_dtypes(copy)
    assert sum(dtype == "bfloat16" for dtype in dtypes.values()) >= 8, dtypes


def test_auto_is_bfloat16_only_on_a_bfloat16_cpu(tmp_path, monkeypatch):
    with_amx = tmp_path / "amx"
    with_amx.write_text("processor : 0\nflags : fpu sse avx512f amx_bf16 amx_tile\n")
    without = tmp_path / "plain"
    without.write_text("processor : 0\nflags : fpu sse avx2 fma\n")
    assert cpu_has_bfloat16(with_amx) and not cpu_has_bfloat16(without)
    assert not cpu_has_bfloat16(tmp_path / "missing")
    for cpuinfo, expected in ((with_amx, "mixed_bfloat16"), (without, "float32")):
        monkeypatch.setattr(precision_module, "cpu_has_bfloat16", lambda path=cpuinfo:
                            cpu_has_bfloat16(path))
        assert resolve_precision("auto") == expected
    assert resolve_precision("float32") == "float32"
    assert resolve_precision("mixed_bfloat16") == "mixed_bfloat16"


def test_bad_precision_is_refused_with_its_value():
    with pytest.raises(ValueError, match="'float16'"):
        check_precision("float16")
    with pytest.raises(ValueError, match="'float16'"):
        InferenceOptions(precision="float16")
    with pytest.raises(ValueError, match="resolve"):
        with_precision(build_model("unet", filters=4, depth=2), "auto")


def test_load_model_applies_the_precision(tmp_path):
    bundle = save_tiny_unet_bundle(tmp_path)
    exact = load_model(bundle)
    fast = load_model(bundle, InferenceOptions(precision="mixed_bfloat16"))
    assert exact.precision == "float32" and fast.precision == "mixed_bfloat16"
    assert "bfloat16" in _compute_dtypes(fast.model).values()
    assert set(_compute_dtypes(exact.model).values()) == {"float32"}
    image = np.random.default_rng(1).integers(0, 255, (120, 130, 3), dtype=np.uint8)
    fov = np.ones((120, 130), bool)
    a, b = exact.probability(image, fov), fast.probability(image, fov)
    assert a.shape == b.shape == (120, 130) and np.abs(a - b).max() < 0.05


def test_cli_predict_records_the_precision(tmp_path):
    bundle = save_tiny_unet_bundle(tmp_path)
    result = CliRunner().invoke(main, [
        "predict", "--model", str(bundle), "--out", str(tmp_path / "out"),
        "--precision", "mixed_bfloat16"])
    assert result.exit_code == 0, result.output
    summaries = list((tmp_path / "out").glob("*.json"))
    assert summaries, list((tmp_path / "out").iterdir())
    assert json.loads(summaries[0].read_text())["precision"] == "mixed_bfloat16"
    refused = CliRunner().invoke(main, ["predict", "--precision", "float16"])
    assert refused.exit_code != 0 and "float16" in refused.output


def test_cli_evaluate_records_the_precision(tmp_path):
    bundle = save_tiny_unet_bundle(tmp_path)
    data = tmp_path / "DRIVE"
    write_synthetic_dataset(data, "drive", 1, seed=3, size=(96, 96), split="test")
    result = CliRunner().invoke(main, [
        "evaluate", "--model", str(bundle), "--dataset", "drive", "--data-dir", str(data),
        "--out", str(tmp_path / "eval"), "--precision", "mixed_bfloat16", "--no-figures"])
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert metrics["precision"] == "mixed_bfloat16"
    assert metrics["inference"]["precision"] == "mixed_bfloat16"


def test_an_exported_model_keeps_its_precision_and_refuses_bfloat16(tmp_path):
    from vesselnet.loading.loader import _in_precision

    exported = object()  # any non-Keras tile model (SavedModel, TFLite)
    assert _in_precision(exported, tmp_path / "m.tflite", "float32") is exported
    assert _in_precision(exported, tmp_path / "m.tflite", "auto") is exported
    with pytest.raises(ValueError, match=r"m\.tflite: an exported model computes in the "
                                         "precision it was exported with"):
        _in_precision(exported, tmp_path / "m.tflite", "mixed_bfloat16")
