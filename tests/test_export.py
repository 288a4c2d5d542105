"""Export and deployment: SavedModel signatures and layout, core ops only, atomic versions,
graph-side input checks, a fresh process without vesselnet, the REST body, TFLite variants
under LiteRT, ``load_model`` and the ``export`` command."""

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from click.testing import CliRunner
from conftest import DRIVE_DIR, needs_drive
from tensorflow.core.protobuf import saved_model_pb2

from vesselnet.bundle import save_bundle
from vesselnet.card import Architecture, DataSetRecord, ModelCard, TrainingRecord
from vesselnet.cli import main
from vesselnet.data import derive_fov, read_drive, synthetic_retina
from vesselnet.export import saved_model as saved_model_module
from vesselnet.export.calibration import calibration_tiles
from vesselnet.export.saved_model import export_saved_model
from vesselnet.export.serving import (
    decode_request,
    parse_predict_response,
    predict_request,
    rest_url,
)
from vesselnet.export.signatures import MIN_IMAGE_SIDE
from vesselnet.export.tflite import QUANTIZATIONS, check_quantizations, export_tflite
from vesselnet.inference import predict_image, tile_geometry, vessel_probability
from vesselnet.jobs.export import ExportOptions, _calibration_records
from vesselnet.loading import load_model
from vesselnet.loading.runtimes import TFLiteTileModel
from vesselnet.models import build_model
from vesselnet.preprocessing import CLASSIC_CONFIG, PreprocessConfig, Step, preprocess
from vesselnet.preprocessing.fov import derive_fov_tf

TILE_SIZE = 132  # depth-3 U-Net, valid padding: output 92
# z-score and min-max inside the FOV: the exported graph must derive the FOV itself
FOV_CONFIG = PreprocessConfig(steps=(
    Step("zscore", in_fov=True), Step("minmax", low=0.0, high=255.0, in_fov=True),
    Step("clahe"), Step("gamma"), Step("scale")))
# runtime ops only: a py_function cannot run in TF Serving
PYTHON_OPS = {"PyFunc", "PyFuncStateless", "EagerPyFunc"}


@pytest.fixture(scope="module")
def network():
    keras.utils.set_random_seed(11)
    model = build_model("unet", filters=4, depth=3)
    geometry = tile_geometry(model, TILE_SIZE)
    card = ModelCard(Architecture("unet"), FOV_CONFIG, tile_geometry=geometry)
    return model, card, geometry


@pytest.fixture(scope="module")
def exported(network, tmp_path_factory):
    model, card, _ = network
    out = tmp_path_factory.mktemp("export")
    return export_saved_model(model, card, out, name="vessels")


@pytest.fixture(scope="module")
def loaded(exported):
    return tf.saved_model.load(str(exported))


def reference(model, geometry, image):
    """In-process prediction on the photograph preprocessed as the card says."""
    network_input = preprocess(image, FOV_CONFIG, derive_fov(image)).numpy()
    return predict_image(model, network_input, tile_size=geometry)


def saved_model_proto(path):
    proto = saved_model_pb2.SavedModel()
    proto.ParseFromString((Path(path) / "saved_model.pb").read_bytes())
    return proto


# ---- layout, signatures, ops --------------------------------------------------------------

def test_layout_is_tf_serving_and_models_config_points_to_it(exported):
    assert exported.name == "1" and exported.parent.name == "vessels"
    assert (exported / "saved_model.pb").is_file() and (exported / "variables").is_dir()
    config = (exported.parent.parent / "models.config").read_text()
    assert 'name: "vessels"' in config
    assert f'base_path: "{exported.parent.resolve()}"' in config
    card = json.loads((exported / "assets.extra" / "vesselnet_card.json").read_text())
    assert card["export"]["signatures"] == ["serving_default", "tile"]
    assert card["preprocessing"] == FOV_CONFIG.to_dict()
    leftovers = [entry.name for entry in exported.parent.iterdir() if entry.name.startswith(".")]
    assert leftovers == []


def test_signatures_as_saved_model_cli_shows_them(exported, loaded, network):
    _, _, geometry = network
    proto = saved_model_proto(exported)
    assert [list(meta.meta_info_def.tags) for meta in proto.meta_graphs] == [["serve"]]
    definitions = proto.meta_graphs[0].signature_def
    assert {"serving_default", "tile"} <= set(definitions)
    serving = definitions["serving_default"]
    assert serving.method_name == "tensorflow/serving/predict"
    assert serving.inputs["image"].dtype == tf.uint8.as_datatype_enum
    assert [dim.size for dim in serving.inputs["image"].tensor_shape.dim] == [1, -1, -1, -1]

    signature = loaded.signatures["serving_default"]
    (name, spec), = signature.structured_input_signature[1].items()
    assert (name, spec.dtype, spec.shape.as_list()) == ("image", tf.uint8, [1, None, None, None])
    outputs = {key: (value.dtype, value.shape.as_list())
               for key, value in signature.structured_outputs.items()}
    assert outputs == {"probability": (tf.float32, [1, None, None]),
                       "fov": (tf.uint8, [1, None, None])}
    tile = loaded.signatures["tile"]
    spec = tile.structured_input_signature[1]["tiles"]
    size, out = geometry.input_size, geometry.output_size
    assert (spec.dtype, spec.shape.as_list()) == (tf.float32, [None, size, size, 1])
    output = tile.structured_outputs["probability"]
    assert (output.dtype, output.shape.as_list()) == (tf.float32, [None, out, out])


def test_graph_holds_only_core_tensorflow_ops(exported):
    operations = set()
    for meta in saved_model_proto(exported).meta_graphs:
        operations |= {node.op for node in meta.graph_def.node}
        for function in meta.graph_def.library.function:
            operations |= {node.op for node in function.node_def}
    assert {"Conv2D", "While", "DenseBincount", "Assert"} <= operations  # net, tiling, CLAHE
    assert not [op for op in operations if not hasattr(tf.raw_ops, op)]
    assert not operations & PYTHON_OPS


# ---- what the graph computes -------------------------------------------------------------

def test_tile_signature_equals_the_keras_network(loaded, network):
    model, _, geometry = network
    tiles = np.random.default_rng(0).random((3, geometry.input_size, geometry.input_size, 1))
    tiles = tiles.astype(np.float32)
    expected = vessel_probability(model(tiles), "log_softmax").numpy()
    result = loaded.signatures["tile"](tiles=tf.constant(tiles))["probability"].numpy()
    np.testing.assert_allclose(result, expected, atol=1e-6)


@pytest.mark.parametrize("size", [(MIN_IMAGE_SIDE, 45), (70, 101)])
def test_photographs_smaller_than_a_tile_are_mirror_padded(loaded, network, size):
    model, _, geometry = network
    assert max(size) < geometry.input_size
    image = synthetic_retina(1, (max(size[0], 32), max(size[1], 32))).image[:size[0], :size[1]]
    result = loaded.signatures["serving_default"](image=tf.constant(image[None]))
    assert result["probability"].shape == (1, *size)
    np.testing.assert_allclose(result["probability"][0].numpy(),
                               reference(model, geometry, image), atol=1e-5)
    np.testing.assert_array_equal(result["fov"][0].numpy().astype(bool), derive_fov(image))


@pytest.mark.parametrize("shape, dtype, message", [
    ((1, 64, 64, 4), np.uint8, "must be RGB"),
    ((1, 64, 64, 1), np.uint8, "must be RGB"),
    ((2, 64, 64, 3), np.uint8, "one photograph per request"),
    ((1, MIN_IMAGE_SIDE - 1, 300, 3), np.uint8, "too small"),
    ((1, 64, 64, 3), np.float32, "uint8"),
])
def test_bad_photographs_end_in_a_clear_error(loaded, shape, dtype, message):
    with pytest.raises((tf.errors.InvalidArgumentError, TypeError, ValueError), match=message):
        loaded.signatures["serving_default"](image=tf.constant(np.zeros(shape, dtype)))


def test_derive_fov_tf_equals_derive_fov_on_synthetic_retinas():
    for seed, size in ((0, (96, 120)), (4, (131, 97))):
        image = synthetic_retina(seed, size).image
        np.testing.assert_array_equal(derive_fov_tf(image).numpy(), derive_fov(image))
    bright = np.full((40, 40, 3), 200, np.uint8)  # no dark corners: all FOV, as derive_fov
    assert derive_fov_tf(bright).numpy().all() and derive_fov(bright).all()


@needs_drive
def test_derive_fov_tf_equals_derive_fov_on_drive():
    for record in read_drive(DRIVE_DIR, "training")[:3]:
        np.testing.assert_array_equal(derive_fov_tf(record.image).numpy(),
                                      derive_fov(record.image))


def test_fresh_process_without_vesselnet_matches_predict_image(exported, network, tmp_path):
    """Both loaders: TF2's ``tf.saved_model.load`` and the session loader that TF Serving
    (and ``saved_model_cli run``) use, which restores variables differently."""
    model, _, geometry = network
    image = synthetic_retina(2).image  # DRIVE size, 584x565
    np.save(tmp_path / "image.npy", image)
    script = textwrap.dedent(f"""
        import sys, numpy as np, tensorflow as tf
        path = {str(exported)!r}
        image = np.load({str(tmp_path / "image.npy")!r})[None]
        loaded = tf.saved_model.load(path)
        result = loaded.signatures["serving_default"](image=tf.constant(image))
        np.save("tf2.npy", result["probability"].numpy())
        with tf.compat.v1.Session(graph=tf.Graph()) as session:
            meta_graph = tf.compat.v1.saved_model.loader.load(session, ["serve"], path)
            signature = meta_graph.signature_def["serving_default"]
            np.save("session.npy", session.run(signature.outputs["probability"].name,
                                               {{signature.inputs["image"].name: image}}))
        print(sorted(name for name in sys.modules if name.startswith("vesselnet")))
    """)
    started = time.perf_counter()
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": ""}
    completed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                               timeout=300, cwd=tmp_path, env=environment, check=False)
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert completed.stdout.strip().splitlines()[-1] == "[]"  # vesselnet never imported
    expected = reference(model, geometry, image)
    for loader in ("tf2", "session"):
        probability = np.load(tmp_path / f"{loader}.npy")
        assert probability.shape == (1, 584, 565)
        np.testing.assert_allclose(probability[0], expected, atol=1e-5, err_msg=loader)
    print(f"fresh process: {time.perf_counter() - started:.1f} s")


# ---- versions, atomicity -----------------------------------------------------------------

def test_interrupted_export_leaves_no_version_directory(network, tmp_path, monkeypatch):
    model, card, _ = network

    def killed_while_writing(directory, signatures):
        assert set(signatures) == {"serving_default", "tile"}
        (Path(directory) / "variables").mkdir()
        (Path(directory) / "saved_model.pb").write_bytes(b"half written")
        raise KeyboardInterrupt("killed mid-export")

    monkeypatch.setattr(saved_model_module, "save_signatures", killed_while_writing)
    with pytest.raises(KeyboardInterrupt):
        export_saved_model(model, card, tmp_path, name="vessels", version=3)
    assert list((tmp_path / "vessels").iterdir()) == []  # no version, no temporary
    assert not (tmp_path / "models.config").exists()


def dead_pid() -> int:
    """The id of a process that has ended."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_later_export_removes_what_a_killed_export_left(network, tmp_path, monkeypatch):
    model, card, _ = network
    pid = dead_pid()
    stale_version = tmp_path / "vessels" / f".tmp-1-{pid}"  # atomic_directory's name, killed
    stale_version.mkdir(parents=True)
    (stale_version / "saved_model.pb").write_bytes(b"half written")
    stale_old = tmp_path / "vessels" / f".old-4-{pid}"
    stale_old.mkdir()
    stale_file = tmp_path / f".tmp-vessels_132_int8.tflite-{pid}"
    stale_file.write_bytes(b"half")
    running = tmp_path / "vessels" / f".tmp-9-{os.getpid()}"  # a writer still at work
    running.mkdir()
    others = [tmp_path / "vessels" / ".tmp-notes", tmp_path / f".tmp-other_1_x.tflite-{pid}",
              tmp_path / "vessels" / f".tmp-draft-{pid}"]  # not vesselnet's, or another model
    for path in others:
        path.mkdir()

    def save_quickly(directory, signatures):
        (Path(directory) / "saved_model.pb").write_bytes(b"complete")

    monkeypatch.setattr(saved_model_module, "save_signatures", save_quickly)
    target = export_saved_model(model, card, tmp_path, name="vessels")
    assert target == tmp_path / "vessels" / "1"  # the stale .tmp-1 is no version
    assert (target / "saved_model.pb").read_bytes() == b"complete"
    assert not stale_version.exists() and not stale_old.exists() and not stale_file.exists()
    assert running.is_dir() and all(path.is_dir() for path in others)
    assert sorted(path.name for path in (tmp_path / "vessels").iterdir()) == sorted(
        ["1", running.name, ".tmp-notes", f".tmp-draft-{pid}"])


def test_versions_are_immutable_and_names_checked(network, exported):
    model, card, _ = network
    with pytest.raises(ValueError, match="exists"):
        export_saved_model(model, card, exported.parent.parent, name="vessels", version=1)
    for bad in ("", "a/b", "x y"):
        with pytest.raises(ValueError, match="name must be"):
            export_saved_model(model, card, exported.parent.parent, name=bad)
    for bad in (0, -2, 1.5, True):
        with pytest.raises(ValueError, match="version must be"):
            export_saved_model(model, card, exported.parent.parent, name="vessels", version=bad)


# ---- REST client helper --------------------------------------------------------------------

@pytest.mark.parametrize("form", ["instances", "inputs"])
def test_rest_body_fits_the_signature(loaded, form):
    image = synthetic_retina(3, (48, 40)).image
    body = json.loads(json.dumps(predict_request(image, form=form)))  # through JSON as sent
    assert body["signature_name"] == "serving_default"
    signature = loaded.signatures[body["signature_name"]]
    specs = signature.structured_input_signature[1]
    tensors = decode_request(body)
    assert set(tensors) == set(specs)
    for name, tensor in tensors.items():
        assert tensor.dtype == specs[name].dtype.as_numpy_dtype
        assert tensor.ndim == specs[name].shape.rank
        assert specs[name].shape.is_compatible_with(tensor.shape)
    np.testing.assert_array_equal(tensors["image"][0], image)
    result = signature(**{name: tf.constant(value) for name, value in tensors.items()})
    response = {"predictions": [{key: value[0].numpy().tolist() for key, value in result.items()}]}
    probability, fov = parse_predict_response(json.loads(json.dumps(response)))
    assert probability.shape == fov.shape == (48, 40) and fov.dtype == bool


@pytest.mark.parametrize("call, message", [
    (lambda: predict_request(np.zeros((8, 8, 3), np.float32)), "uint8"),
    (lambda: predict_request(np.zeros((8, 8), np.uint8)), "uint8"),
    (lambda: predict_request(np.zeros((8, 8, 3), np.uint8), form="rows"), "form"),
    (lambda: parse_predict_response({"error": "no"}), "not a :predict"),
    (lambda: rest_url(port=0), "port"),
])
def test_client_helper_rejects_bad_arguments(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# ---- TFLite and load_model -------------------------------------------------------------

def test_tflite_float32_matches_keras_and_predicts_whole_images(network, tmp_path):
    model, card, geometry = network
    paths = export_tflite(model, card, tmp_path, quantizations=["float32"])
    tile_model = TFLiteTileModel(paths["float32"])
    assert tile_model.geometry.input_size == geometry.input_size
    tiles = np.random.default_rng(1).random((3, *tile_model.input_shape[1:]), np.float32)
    expected = vessel_probability(model(tiles), "log_softmax").numpy()
    np.testing.assert_allclose(tile_model.predict_tiles(tiles), expected, atol=1e-4)

    loaded = load_model(paths["float32"])
    assert loaded.format == "tflite" and loaded.geometry == geometry  # alignment from the card
    image = synthetic_retina(5, (150, 170)).image
    network_input = preprocess(image, loaded.preprocessing, derive_fov(image)).numpy()
    np.testing.assert_allclose(loaded.predict(network_input, batch_size=3),
                               predict_image(model, network_input, tile_size=geometry),
                               atol=1e-4)
    with pytest.raises(ValueError, match="fixed"):
        loaded.predict(network_input, tile_size=geometry.input_size + 16)


def test_load_model_reads_every_format(network, exported, tmp_path):
    model, card, geometry = network
    save_bundle(tmp_path / "bundle", model, card)
    model.save(tmp_path / "plain.keras")
    image = preprocess(synthetic_retina(6, (60, 64)).image, CLASSIC_CONFIG).numpy()
    expected = predict_image(model, image, tile_size=geometry)
    for path, fmt in ((tmp_path / "bundle", "bundle"), (exported, "saved_model")):
        loaded = load_model(path)
        assert loaded.format == fmt and loaded.preprocessing == FOV_CONFIG
        np.testing.assert_allclose(loaded.predict(image, tile_size=geometry.input_size),
                                   expected, atol=1e-5)
    keras_file = load_model(tmp_path / "plain.keras")
    assert keras_file.format == "keras" and keras_file.preprocessing == CLASSIC_CONFIG
    assert keras_file.geometry is None and keras_file.predict_arguments(372) == {"tile_size": 372}
    newest = load_model(exported.parent)  # TF Serving's model folder: highest version
    assert (newest.format, newest.source, newest.geometry) == ("saved_model", exported, geometry)
    (tmp_path / "notes.txt").write_text("x")
    for bad in (tmp_path / "missing", tmp_path / "notes.txt", tmp_path):
        with pytest.raises(ValueError, match=str(bad.name)):
            load_model(bad)


def test_calibration_tiles_come_from_preprocessed_photographs(network):
    _, _, geometry = network
    records = [synthetic_retina(seed, (100, 180)) for seed in range(3)]  # shorter than a tile
    tiles = calibration_tiles(records, CLASSIC_CONFIG, geometry, count=7)
    assert tiles.shape == (7, geometry.input_size, geometry.input_size, 1)
    assert tiles.dtype == np.float32 and 0.0 <= tiles.min() and tiles.max() <= 1.0
    assert tiles.std() > 0.05  # photograph content, not padding zeros


@pytest.mark.parametrize("call, message", [
    (lambda: check_quantizations("float32,int4"), "quantizations"),
    (lambda: check_quantizations([]), "quantizations"),
    (lambda: ExportOptions(formats=("onnx",)), "formats"),
    (lambda: ExportOptions(tile_size=0), "tile_size"),
    (lambda: ExportOptions(calibration_tiles=0), "calibration_tiles"),
])
def test_bad_export_options_raise(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def confident_copy(model, factor=30.0):
    """The network with its logits scaled up: probabilities spread over [0, 1] instead of
    sitting near 0.5 as in an untrained network, so quantization errors become visible."""
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    kernel, bias = copy.get_layer("output_conv").get_weights()
    copy.get_layer("output_conv").set_weights([kernel * factor, bias])
    return copy


@pytest.mark.slow
def test_every_tflite_variant_converts_and_runs_under_litert(network, tmp_path):
    model, card, geometry = network
    model = confident_copy(model)
    paths = export_tflite(model, card, tmp_path, calibration_count=8)
    assert list(paths) == list(QUANTIZATIONS)
    record = synthetic_retina(7, (200, 230))
    network_input = preprocess(record.image, FOV_CONFIG, record.fov).numpy()
    expected = predict_image(model, network_input, tile_size=geometry)[record.fov]
    assert expected.std() > 0.05  # spread out: differences are measurable
    sizes, errors, correlations = {}, {}, {}
    for quantization, path in paths.items():
        probability = load_model(path).predict(network_input)[record.fov]
        sizes[quantization] = path.stat().st_size
        errors[quantization] = np.abs(probability - expected).mean()
        correlations[quantization] = np.corrcoef(probability, expected)[0, 1]
        agreement = ((probability > 0.5) == (expected > 0.5)).mean()
        print(f"{quantization}: {sizes[quantization]} bytes, mean |diff| "
              f"{errors[quantization]:.2e}, correlation {correlations[quantization]:.5f}, "
              f"label agreement in FOV {agreement:.4f}")
    assert errors["float32"] < 1e-6 and errors["float16"] < 1e-3
    assert errors["dynamic"] < 0.01 and errors["int8"] < 0.02
    assert min(correlations.values()) == correlations["int8"] > 0.95
    assert sizes["int8"] < sizes["float16"] < sizes["float32"]
    assert load_model(paths["int8"]).model.input_dtype == np.int8


@needs_drive
def test_calibration_leaves_out_the_models_validation_images():
    options = ExportOptions(calibration_data=DRIVE_DIR, calibration_dataset="drive")
    def card(dataset=None, held_out=()):
        training = TrainingRecord(dataset=dataset, validation_images=tuple(held_out))
        return ModelCard(Architecture("unet"), training=training if dataset else None)

    names = [record.name for record in _calibration_records(
        options, card("DRIVE", ["37_training", "40_training"]))]
    assert len(names) == 18 and "37_training" not in names and "40_training" not in names
    other = card("CHASE_DB1", ["37_training"])
    assert len(_calibration_records(options, other)) == 20
    assert len(_calibration_records(options, card())) == 20
    everything = card("drive", names + ["37_training", "40_training"])
    with pytest.raises(ValueError, match="validation images"):
        _calibration_records(options, everything)
    sets = (DataSetRecord("DRIVE", "drive", validation_images=("DRIVE:38_training",)),
            DataSetRecord("CHASE_DB1", "chase_db1", validation_images=("CHASE_DB1:21_training",)))
    several = ModelCard(Architecture("chained"), training=TrainingRecord(
        dataset="DRIVE+CHASE_DB1", validation_images=("DRIVE:38_training",), sets=sets))
    names = [record.name for record in _calibration_records(options, several)]
    assert len(names) == 19 and "38_training" not in names  # a run on several sets too


@pytest.mark.slow
def test_export_command_writes_both_formats(network, tmp_path):
    model, _, geometry = network
    model.save(tmp_path / "plain.keras")  # default card: classic preprocessing
    out = tmp_path / "export"
    result = CliRunner().invoke(main, [
        "export", "--model", str(tmp_path / "plain.keras"), "--out", str(out), "--name", "v",
        "--tile-size", str(TILE_SIZE), "--quantize", "float32,int8",
        "--calibration-tiles", "4"])
    assert result.exit_code == 0, result.output
    assert sorted(path.name for path in out.glob("*.tflite")) == [
        f"v_{geometry.input_size}_float32.tflite", f"v_{geometry.input_size}_int8.tflite"]
    loaded = load_model(out / "v")
    assert loaded.format == "saved_model" and loaded.preprocessing == CLASSIC_CONFIG
    image = synthetic_retina(8, (64, 80)).image
    probability, _ = loaded.model.predict_photograph(image)
    expected = predict_image(model, preprocess(image, CLASSIC_CONFIG).numpy(),
                             tile_size=geometry)
    np.testing.assert_allclose(probability, expected, atol=1e-5)
    again = CliRunner().invoke(main, ["export", "--model", str(tmp_path / "plain.keras"),
                                      "--out", str(out), "--name", "v", "--version", "1",
                                      "--format", "saved_model"])
    assert again.exit_code != 0 and "exists" in again.output
