"""Run configuration: TOML presets, overrides, typed settings, the plain form, the TOML writer,
and every bad input we refuse."""

import ast
import json
import math
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import without_none

import vesselnet
from vesselnet.cli import main
from vesselnet.config import (
    PRESET_DIR,
    AugmentConfig,
    DataConfig,
    LossConfig,
    ModelConfig,
    OptimizerConfig,
    PatchConfig,
    PreprocessConfig,
    RunConfig,
    Step,
    TrainingConfig,
    config_to_dict,
    load_config,
    load_config_text,
    to_toml,
)
from vesselnet.config.plain import from_plain, to_plain
from vesselnet.config.toml_io import apply_overrides, apply_settings, dict_to_toml, parse_override

STEPS = ["training.steps=10"]


@pytest.mark.parametrize("name", ["synthetic", "drive", "drive_valid", "drive_baseline",
                                  "chase_db1"])
def test_presets_load_and_round_trip_through_the_toml_writer(name):
    config = load_config(name, ['data.data_dir="/data/x"'])
    text = to_toml(config)
    assert load_config_text(text) == config
    assert tomllib.loads(text) == without_none(config_to_dict(config))


def test_presets_directory_holds_the_three_named_presets():
    assert {path.stem for path in PRESET_DIR.glob("*.toml")} >= {"synthetic", "drive",
                                                                  "chase_db1"}


def test_drive_preset_holds_out_four_images_and_trains_the_chained_model_on_small_patches():
    config = load_config("drive", ['data.data_dir="/d"'])
    assert config.data.validation_images == ("37", "38", "39", "40")
    assert (config.model.arch, config.model.depth, config.model.padding) == (
        "chained", 4, "same")
    assert (config.patches.input_size, config.patches.output_size) == (48, 48)


def test_drive_valid_preset_uses_a_valid_chained_tile_and_the_baseline_the_same_split():
    valid = load_config("drive_valid", ['data.data_dir="/d"'])
    assert (valid.model.padding, valid.patches.input_size, valid.patches.output_size) == (
        "valid", 372, 196)
    baseline = load_config("drive_baseline", ['data.data_dir="/d"'])
    assert baseline.data.validation_images == valid.data.validation_images
    assert (baseline.model.arch, baseline.model.filters, baseline.model.depth) == ("unet", 32, 3)
    assert baseline.augment is None and baseline.patches.input_size == 48


@pytest.mark.parametrize("text, path, value", [
    ("training.steps=100", ["training", "steps"], 100),
    ("optimizer.learning_rate=1e-3", ["optimizer", "learning_rate"], 0.001),
    ("data.dataset=DRIVE", ["data", "dataset"], "DRIVE"),
    ('data.dataset="CHASE_DB1"', ["data", "dataset"], "CHASE_DB1"),
    ("model.options.batch_norm=true", ["model", "options", "batch_norm"], True),
    ("data.synthetic_size=[64, 80]", ["data", "synthetic_size"], [64, 80]),
    ("loss.options={alpha = 2.0}", ["loss", "options"], {"alpha": 2.0}),
    (" training.seed = 7 ", ["training", "seed"], 7),
])
def test_overrides_parse_values_as_toml_literals(text, path, value):
    assert parse_override(text) == (path, value)


def test_overrides_reach_the_config_and_fill_the_derived_patch_fields():
    config = load_config(None, ["training.steps=20", "training.batch_size=3", "training.seed=9",
                                "model.depth=3", "patches.input_size=76",
                                "optimizer.learning_rate=1", "data.synthetic_size=[64, 80]"])
    assert config.training.steps == 20
    assert config.optimizer.learning_rate == 1.0 and isinstance(config.optimizer.learning_rate,
                                                                float)
    assert config.data.synthetic_size == (64, 80)
    # depth 3, valid padding: 76 -> 76-4=72 ->36 -> 32 -> 16 -> 12 -> 24 -> 20 -> 40 -> 36
    assert (config.patches.input_size, config.patches.output_size) == (76, 36)
    assert (config.patches.batch_size, config.patches.seed) == (3, 9)


def test_epochs_alone_replace_the_default_steps():
    config = load_config(None, ["training.epochs=3"])
    assert (config.training.steps, config.training.epochs) == (0, 3)
    assert load_config_text(to_toml(config)) == config
    assert load_config(None).training.steps == 1000


def test_apply_overrides_does_not_modify_its_input():
    values = {"training": {"steps": 1}}
    assert apply_overrides(values, ["training.steps=2"]) == {"training": {"steps": 2}}
    assert values == {"training": {"steps": 1}}


def test_augment_can_be_switched_off_and_written_back():
    config = load_config(None, STEPS + ["augment.enabled=false"])
    assert config.augment is None
    assert load_config_text(to_toml(config)).augment is None


def test_rgb_preprocessing_round_trips_as_the_string_rgb():
    config = load_config(None, STEPS + ['data.preprocessing.grayscale="rgb"'])
    assert config.data.preprocessing.grayscale is None
    assert 'grayscale = "rgb"' in to_toml(config)
    assert load_config_text(to_toml(config)) == config


def test_toml_writer_escapes_strings_and_writes_special_floats():
    values = {"a": {"text": 'quote " back \\ tab \t é', "x": math.inf, "n": 1.5e-7,
                    "list": [1, 2], "inline": [{"name": "k", "v": None}], "b": False}}
    read = tomllib.loads(dict_to_toml(values))
    assert read["a"]["text"] == values["a"]["text"]
    assert read["a"]["x"] == math.inf and read["a"]["n"] == 1.5e-7
    assert read["a"]["inline"] == [{"name": "k"}] and read["a"]["b"] is False


@pytest.mark.parametrize("overrides, message", [
    (["training.stepz=1"], "unknown key 'training.stepz'; valid keys of [training]: batch_size"),
    (["patches.batch_size=4"], "unknown key 'patches.batch_size'"),
    (["trainin.steps=1"], "unknown config section(s) ['trainin']"),
    (["augment.flip=true"], "unknown key 'augment.flip'; valid keys of [augment]: brightness"),
    (["patches.input_size=96"], "nearest valid: 92, 100"),
    (["patches.input_size=50"], "nearest valid: 92"),
    (["model.arch=\"chained\"", "patches.input_size=200"], "nearest valid: 196, 204"),
    (["training.steps=\"ten\""], "training.steps must be of type int, got 'ten'"),
    (["training.steps=1.5"], "training.steps must be of type int, got 1.5"),
    (["training.epochs=2"], "set exactly one of training.steps and training.epochs"),
    (["training.precision=\"half\""], "training.precision must be one of"),
    (["training.strategy=\"tpu\""], "training.strategy must be one of"),
    (["training.batch_size=0"], "training.batch_size must be a number >= 1, got 0"),
    (["optimizer.name=\"lion\""], "optimizer.name must be one of ['sgd', 'adam', 'adamw']"),
    (["optimizer.learning_rate=-1"], "optimizer.learning_rate must be > 0, got -1.0"),
    (["loss.name=\"focal\""], "loss.name must be one of"),
    (["loss.options={beta = 1}"], "unknown loss.options ['beta'] for loss 'stochastic_wce'"),
    (["loss.options.activation=\"softmax\""], "activation is taken from model.options"),
    (["model.options.steps=3"], "option 'steps' applies to 'r2unet' only"),
    (["model.options.dropot=0.1"], "unknown model option 'dropot'"),
    (["data.dataset=\"DRIVE\""], "data.data_dir is empty; dataset 'DRIVE' needs it"),
    (["data.validation_count=2", "data.validation_images=[\"1\"]"], "not both"),
    (["data.preprocessing.grayscale=\"blue\""], "unknown grayscale preset 'blue'"),
    (["data.validation_images=[37, 38]"], "data.validation_images must be names (strings)"),
    (["data.synthetic_size=[64]"], "data.synthetic_size must be [height, width] >= 32"),
    (["augment.enabled=\"no\""], "augment.enabled must be true or false, got 'no'"),
    (["data.fov_diameter=8"], "data.fov_diameter must be >= 16.0, got 8.0"),
    (["data.fov_diameter=\"large\""], "data.fov_diameter must be of type float, got 'large'"),
    (["augment.scale_jitter=0.6"], "scale_jitter must be in [0, 0.5], got 0.6"),
    (["augment.scale_jitter=-0.1"], "scale_jitter must be in [0, 0.5], got -0.1"),
    (["training.steps"], "override must look like section.key=value"),
    (["steps=3"], "override must look like section.key=value"),
])
def test_bad_settings_raise_value_error_naming_the_key(overrides, message):
    with pytest.raises(ValueError) as error:
        load_config(None, STEPS + overrides)
    assert message in str(error.value)


def test_unknown_preset_lists_the_presets():
    with pytest.raises(ValueError, match=r"no config file or preset 'drvie'; presets: .*'drive'"):
        load_config("drvie")


def test_invalid_toml_text_is_a_value_error():
    with pytest.raises(ValueError, match="invalid TOML"):
        load_config_text("[training\nsteps = 1")
    with pytest.raises(ValueError, match=r"\[training\] must be a table, got 3"):
        load_config_text("training = 3")


def test_default_run_config_is_consistent():
    config = RunConfig()
    assert config.patches.output_size == config.model.output_size(config.patches.input_size)


@pytest.mark.parametrize("arguments, message", [
    (["--set", "training.stepz=1"], "Error: unknown key 'training.stepz'"),
    (["--set", "patches.input_size=97"], "nearest valid: 92, 100"),
    (["--config", "nope"], "Error: no config file or preset 'nope'"),
])
def test_cli_prints_config_errors_as_one_clean_line(tmp_path, arguments, message):
    result = CliRunner().invoke(main, ["fit", str(tmp_path / "run"), "--steps", "3", *arguments])
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()


def test_cli_needs_exactly_one_of_run_dir_and_resume(tmp_path):
    result = CliRunner().invoke(main, ["fit"])
    assert result.exit_code == 2 and "RUN_DIR" in result.output
    both = CliRunner().invoke(main, ["fit", str(tmp_path), "--resume", str(tmp_path)])
    assert both.exit_code == 2
    missing = CliRunner().invoke(main, ["fit", "--resume", str(tmp_path / "none")])
    assert missing.exit_code == 1 and "no config.toml" in missing.output


# --- where configuration sits -------------------------------------------------------------


def _vesselnet_imports(package: str) -> dict[str, set[str]]:
    """``{file: vesselnet modules it imports}`` for every module of ``vesselnet.<package>``."""
    found = {}
    for path in (Path(vesselnet.__file__).parent / package).glob("*.py"):
        names = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module)
            elif isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
        found[path.name] = {name for name in names if name.split(".")[0] == "vesselnet"}
    return found


@pytest.mark.parametrize("package, allowed", [
    ("config", ("vesselnet.config", "vesselnet.core")),
    ("core", ("vesselnet.core",)),
])
def test_config_and_core_sit_at_the_bottom_of_the_package(package, allowed):
    imports = _vesselnet_imports(package)
    assert imports, package
    outside = {file: sorted(name for name in names if not name.startswith(allowed))
               for file, names in imports.items()}
    assert {file: names for file, names in outside.items() if names} == {}


def test_moved_names_are_still_exported_by_their_old_packages():
    from vesselnet import config, data, models, preprocessing

    assert preprocessing.PreprocessConfig is config.PreprocessConfig
    assert preprocessing.CLASSIC_CONFIG is config.CLASSIC_CONFIG
    assert preprocessing.Step is config.Step
    assert data.PatchConfig is config.PatchConfig and data.AugmentConfig is config.AugmentConfig
    assert models.ModelOptions is config.ModelOptions
    assert models.ARCHITECTURES is config.ARCHITECTURES


# --- one plain form for JSON and TOML -----------------------------------------------------


@pytest.mark.parametrize("section", [
    DataConfig(dataset="DRIVE", data_dir="/d", validation_images=("37", "38"),
               preprocessing=PreprocessConfig(grayscale=None, steps=(Step("minmax"),))),
    ModelConfig(arch="r2unet", options={"steps": 3, "batch_norm": True}),
    PatchConfig(input_size=140, output_size=52, use_weight_map=True),
    AugmentConfig(elastic=False, max_rotation_degrees=10.0),
    AugmentConfig(scale_jitter=0.15),
    DataConfig(fov_diameter=921.0),
    LossConfig(name="wce_dice", options={"dice_weight": 2.0}),
    OptimizerConfig(name="sgd", schedule="step", step_every=5),
    TrainingConfig(epochs=2, precision="mixed_bfloat16"),
    PreprocessConfig(grayscale="itu_r_601").with_statistics(127.3, 41.2),
    load_config("drive_baseline", settings={"data.data_dir": "/d"}),
])
def test_every_section_round_trips_through_its_plain_form_in_json(section):
    plain = json.loads(json.dumps(to_plain(section)))
    assert from_plain(type(section), plain) == section
    assert from_plain(type(section), json.loads(json.dumps(to_plain(section, null=False)))) == section


def test_preprocess_config_keeps_the_json_form_of_existing_model_cards():
    card_form = {"grayscale": None, "steps": [
        {"name": "minmax", "low": 0.0, "high": 1.0, "in_fov": True}]}
    config = PreprocessConfig.from_dict(card_form)
    assert config.grayscale is None and config.steps == (Step("minmax", in_fov=True),)
    assert config.to_dict() == card_form
    assert to_plain(config, null=False)["grayscale"] == "rgb"  # TOML has no null
    assert PreprocessConfig.from_dict({}) == PreprocessConfig()


def test_run_config_leaves_the_derived_patch_fields_out_of_its_plain_form():
    config = RunConfig(patches={"input_size": 124}, training=TrainingConfig(batch_size=3, seed=9))
    assert (config.patches.output_size, config.patches.batch_size, config.patches.seed) == (
        36, 3, 9)
    plain = to_plain(config)
    assert "output_size" not in plain["patches"] and plain["patches"]["input_size"] == 124
    assert from_plain(RunConfig, plain) == config
    assert to_plain(RunConfig(augment=None))["augment"] == {"enabled": False}


@pytest.mark.parametrize("setting, toml_line, value", [
    ([], 'fov_diameter = "auto"', None),  # the data set's own scale
    (['data.fov_diameter="auto"'], 'fov_diameter = "auto"', None),
    (["data.fov_diameter=540"], "fov_diameter = 540.0", 540.0),
    (["data.fov_diameter=270.5"], "fov_diameter = 270.5", 270.5),
])
def test_fov_diameter_is_auto_by_default_and_round_trips(setting, toml_line, value):
    config = load_config("synthetic", setting)
    assert config.data.fov_diameter == value
    text = to_toml(config)
    assert toml_line in text.splitlines() and load_config_text(text) == config


@pytest.mark.parametrize("name", ["synthetic", "drive", "drive_valid", "drive_baseline",
                                  "chase_db1"])
def test_presets_train_at_their_data_sets_own_scale_without_scale_jitter(name):
    config = load_config(name, ['data.data_dir="/data/x"'])
    assert config.data.fov_diameter is None
    assert config.augment is None or config.augment.scale_jitter == 0.0


def test_training_epochs_alone_mean_no_steps():
    assert (TrainingConfig(epochs=3).steps, TrainingConfig().steps) == (0, 1000)
    with pytest.raises(ValueError, match="set exactly one"):
        TrainingConfig(steps=5, epochs=3)


# --- typed settings (the CLI flags) and resuming ------------------------------------------


def test_typed_settings_take_python_values_and_overrides_win_over_them():
    settings = {"training.steps": 5, "training.epochs": 0, "data.data_dir": 'C:\\data "x"',
                "training.precision": "mixed_float16", "data.synthetic_size": (64, 80)}
    config = load_config("drive", ["training.steps=7"], settings)
    assert config.training.steps == 7 and config.training.precision == "mixed_float16"
    assert config.data.data_dir == 'C:\\data "x"' and config.data.synthetic_size == (64, 80)
    assert load_config_text(to_toml(config)) == config
    assert apply_settings({"a": {"b": 1}}, {"a.c": 2}) == {"a": {"b": 1, "c": 2}}


@pytest.mark.parametrize("settings, message", [
    ({"training.batch_size": "4"}, "training.batch_size must be of type int, got '4'"),
    ({"training.stepz": 1}, "unknown key 'training.stepz'"),
    ({"steps": 1}, "override must look like section.key=value"),
])
def test_bad_typed_settings_raise_value_error_naming_the_key(settings, message):
    with pytest.raises(ValueError) as error:
        load_config(None, settings=settings)
    assert message in str(error.value)


def test_resume_config_reads_the_run_directory_config(tmp_path):
    from vesselnet.training import resume_config

    with pytest.raises(ValueError, match="no config.toml, not a vesselnet run directory"):
        resume_config(tmp_path)
    config = load_config(None, STEPS + ["model.filters=4"])
    (tmp_path / "config.toml").write_text(to_toml(config), encoding="utf-8")
    assert resume_config(tmp_path) == config
    longer = resume_config(tmp_path, ["training.seed=3"], {"training.steps": 20})
    assert (longer.training.steps, longer.training.seed, longer.model.filters) == (20, 3, 4)


def test_cli_refuses_config_with_resume(tmp_path):
    (tmp_path / "config.toml").write_text(to_toml(load_config(None, STEPS)), encoding="utf-8")
    result = CliRunner().invoke(main, ["fit", "--resume", str(tmp_path), "--config", "drive"])
    assert result.exit_code == 1 and "drop --config" in result.output
