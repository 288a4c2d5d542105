"""Training: schedule, objective, checkpoints, bundles, the loop (determinism, resume, NaN,
early stopping, precision, strategies) and the ``vesselnet fit`` command.

Fast tests train a tiny U-Net (4 filters, depth 2) for a few steps on 96x96 synthetic retinas.
Tests marked ``slow`` run ``vesselnet fit`` in subprocesses: kill -9 and resume, two
MultiWorkerMirroredStrategy workers on 127.0.0.1, two mirrored CPU replicas, the preset.
"""

import json
import math
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from click.testing import CliRunner

from vesselnet.bundle import CARD_FILE, MODEL_FILE, README_FILE, load_bundle, save_bundle
from vesselnet.card import Architecture, ModelCard, TrainingRecord
from vesselnet.cli import main
from vesselnet.config import LossConfig, ModelConfig, OptimizerConfig, load_config
from vesselnet.losses import weighted_cross_entropy
from vesselnet.models import build_model
from vesselnet.training import TrainingDivergedError, fit
from vesselnet.training.checkpoint import CheckpointStore, TrainingState
from vesselnet.training.components import build_components, total_steps
from vesselnet.training.distribute import WorkerRole
from vesselnet.training.history import RunHistory
from vesselnet.training.objective import TrainingObjective
from vesselnet.training.optimizers import WarmupSchedule, averaged_weights, build_optimizer
from vesselnet.training.sources import read_records, split_validation

TINY = ["data.synthetic_images=4", "data.synthetic_size=[96, 96]", "data.validation_count=1",
        "model.filters=4", "model.depth=2", "patches.input_size=36", "patches.patches_per_image=8",
        "augment.elastic=false", "training.batch_size=2", "training.validate_every=0",
        "training.checkpoint_every=2", "training.log_every=2", "optimizer.warmup_steps=0",
        'optimizer.schedule="constant"', 'optimizer.name="sgd"', "optimizer.learning_rate=0.05",
        "optimizer.momentum=0.9"]
# SGD keeps float round-off at its own size; Adam's m / sqrt(v) can blow a 1-ulp difference
# in a near-zero gradient up to a full learning-rate step. Comparisons of two runs allow
# TOLERANCE: they are bit-identical in almost every run here, but 1-ulp (3e-8) differences
# were seen once in a while on this shared 2-core machine (source not pinned down).
TOLERANCE = 1e-6


def tiny_config(*overrides, steps=6):
    return load_config(None, TINY + [f"training.steps={steps}", *overrides])


def weights(path):
    model, _ = load_bundle(path)
    return model.get_weights()


def max_difference(first, second):
    return max(float(np.max(np.abs(a - b))) for a, b in zip(first, second))


# ------------------------------------------------------------------ schedule and optimizer


@pytest.mark.parametrize("schedule, options, expected", [
    ("constant", {}, {0: 1.0, 5: 1.0, 99: 1.0}),
    ("constant", {"warmup_steps": 4}, {0: 0.25, 1: 0.5, 3: 1.0, 50: 1.0}),
    ("cosine", {}, {0: 1.0, 50: 0.5, 100: 0.0, 150: 0.0}),
    ("cosine", {"final_fraction": 0.1}, {50: 0.55, 100: 0.1}),
    ("cosine", {"warmup_steps": 10}, {4: 0.5, 10: 1.0, 55: 0.5, 100: 0.0}),
    ("step", {"step_every": 30, "step_factor": 0.5}, {0: 1.0, 29: 1.0, 30: 0.5, 65: 0.25}),
])
def test_learning_rate_schedule_values(schedule, options, expected):
    rate = WarmupSchedule(1.0, total_steps=100, schedule=schedule, **options)
    for step, value in expected.items():
        assert float(rate(step)) == pytest.approx(value, abs=1e-6), step
    assert WarmupSchedule.from_config(rate.get_config()).get_config() == rate.get_config()


def test_build_optimizer_follows_the_config():
    sgd = build_optimizer(OptimizerConfig(name="sgd", learning_rate=0.01), 100)
    assert isinstance(sgd, keras.optimizers.SGD) and sgd.momentum == 0.99
    adamw = build_optimizer(OptimizerConfig(name="adamw", weight_decay=0.01), 100)
    assert isinstance(adamw, keras.optimizers.AdamW) and adamw.weight_decay == 0.01
    scaled = build_optimizer(OptimizerConfig(), 100, loss_scaling=True)
    assert isinstance(scaled, keras.optimizers.LossScaleOptimizer)
    with pytest.raises(ValueError, match="schedule must be one of"):
        WarmupSchedule(1.0, 10, schedule="linear")


def test_averaged_weights_hold_the_moving_average_and_give_the_raw_weights_back():
    variable = keras.Variable(np.zeros(3, np.float32))
    optimizer = build_optimizer(OptimizerConfig(name="sgd", learning_rate=1.0, momentum=0.0,
                                                ema_momentum=0.5), 100)
    optimizer.build([variable])
    for gradient in (-1.0, -2.0, -4.0):  # raw values 1, 3, 7
        optimizer.apply_gradients([(tf.fill([3], gradient), variable)])
    # the first step copies the weights; then average = 0.5 * average + 0.5 * weights
    expected = 0.5 * (0.5 * 1.0 + 0.5 * 3.0) + 0.5 * 7.0
    with averaged_weights(optimizer, [variable]) as averaged:
        assert averaged and np.allclose(variable.numpy(), expected)
    assert np.allclose(variable.numpy(), 7.0)
    plain = build_optimizer(OptimizerConfig(name="sgd"), 100)
    plain.build([variable])
    with averaged_weights(plain, [variable]) as averaged:
        assert not averaged and np.allclose(variable.numpy(), 7.0)
    with pytest.raises(ValueError, match="ema_momentum must be in"):
        OptimizerConfig(ema_momentum=1.0)


# ---------------------------------------------------------------------------- objective


def packed_targets(seed, shape=(2, 6, 6)):
    rng = np.random.default_rng(seed)
    labels = (rng.random(shape) < 0.3).astype(np.float32)
    pixel_weights = rng.choice([0.0, 1.0, 2.5], size=shape).astype(np.float32)
    return tf.constant(np.stack([labels, pixel_weights], -1))


def log_softmax_output(seed, shape=(2, 6, 6)):
    logits = np.random.default_rng(seed).normal(size=shape + (2,)).astype(np.float32)
    return tf.nn.log_softmax(logits)


def test_objective_single_replica_equals_the_loss_and_adds_half_the_stage1_loss():
    y = packed_targets(0)
    final, stage1 = log_softmax_output(1), log_softmax_output(2)
    plain = TrainingObjective(LossConfig(name="wce", options={"vessel_weight": 3.0}),
                              ModelConfig(), seed=0)
    expected_final = float(weighted_cross_entropy(y, final, vessel_weight=3.0))
    assert float(plain(y, final)) == pytest.approx(expected_final, rel=1e-6)
    chained = TrainingObjective(LossConfig(name="wce", options={"vessel_weight": 3.0}),
                                ModelConfig(arch="chained"), seed=0)
    expected_stage1 = float(weighted_cross_entropy(y, stage1, vessel_weight=3.0))
    value = float(chained(y, {"final": final, "stage1": stage1}))
    assert value == pytest.approx(expected_final + 0.5 * expected_stage1, rel=1e-6)


def test_objective_gives_the_stochastic_loss_the_training_seed():
    objective = TrainingObjective(LossConfig(), ModelConfig(), seed=11)
    assert objective.loss.seed == 11 and objective.seed_generator is not None
    fixed = TrainingObjective(LossConfig(options={"alpha": 5.0, "seed": 3}), ModelConfig(), 11)
    assert fixed.loss.seed == 3


# ------------------------------------------------------------- checkpoints and history


def test_checkpoint_store_restores_variables_keeps_the_last_k_and_ignores_temporaries(
        tmp_path):
    variable = tf.Variable([1.0, 2.0])
    store = CheckpointStore(tmp_path / "ckpt", tf.train.Checkpoint(v=variable), keep=2)
    assert store.latest() is None
    for step in (2, 4, 6):
        variable.assign([float(step), -float(step)])
        store.save(TrainingState(step=step, epoch=1, step_in_epoch=step - 1, best_f1=0.5))
    assert [path.name for path in store.checkpoints()] == ["ckpt-00000004", "ckpt-00000006"]
    # a half-written checkpoint of a killed process: hidden, never picked, removed at start
    stale = tmp_path / "ckpt" / ".tmp-ckpt-00000008-chief-1"
    stale.mkdir()
    (tmp_path / "ckpt" / "ckpt-00000010").mkdir()  # no state.json: not complete
    assert store.latest().name == "ckpt-00000006"
    store.remove_stale_temporaries()
    assert not stale.exists()
    variable.assign([0.0, 0.0])
    state = store.restore(tmp_path / "ckpt" / "ckpt-00000004")
    np.testing.assert_array_equal(variable.numpy(), [4.0, -4.0])
    assert (state.step, state.epoch, state.step_in_epoch, state.best_f1) == (4, 1, 3, 0.5)
    # saving a step again (after a resume) replaces the old directory
    variable.assign([9.0, 9.0])
    store.save(TrainingState(step=6))
    store.restore(store.latest())
    np.testing.assert_array_equal(variable.numpy(), [9.0, 9.0])


def test_training_state_round_trips_nan_through_json():
    state = TrainingState(step=3)
    assert math.isnan(TrainingState.from_json(state.to_json()).best_f1)
    assert json.loads(state.to_json())["best_f1"] is None


def test_history_drops_entries_after_the_restored_step(tmp_path):
    history = RunHistory(tmp_path / "history.json")
    for step in (10, 20, 30):
        history.add_train(step, step * 1.5, 0.1, 1e-3)
        history.add_validation(step, step * 1.5, f1=step / 100, auc=math.nan)
    history.write()
    loaded = RunHistory.load(tmp_path / "history.json", up_to_step=20)
    assert [entry["step"] for entry in loaded.train] == [10, 20]
    assert loaded.curve() == [{"step": 10, "seconds": 15.0, "f1": 0.1, "auc": None},
                              {"step": 20, "seconds": 30.0, "f1": 0.2, "auc": None}]


# ------------------------------------------------------------------------ images and steps

DRIVE = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "DRIVE"


def test_validation_images_are_held_out_by_name_or_count():
    config = tiny_config("data.synthetic_images=5")
    records = read_records(config.data)
    train, held = split_validation(records, config.data)  # validation_count = 1: the last
    assert [r.name for r in held] == ["synthetic_004"] and len(train) == 4
    named = load_config(None, TINY + ["data.synthetic_images=5", "data.validation_count=0",
                                      'data.validation_images=["synthetic_001", "synthetic_003"]'])
    train, held = split_validation(records, named.data)
    assert [r.name for r in held] == ["synthetic_001", "synthetic_003"]
    assert [r.name for r in train] == ["synthetic_000", "synthetic_002", "synthetic_004"]
    missing = load_config(None, TINY + ["data.validation_count=0",
                                        'data.validation_images=["synthetic_009"]'])
    with pytest.raises(ValueError, match=r"\['synthetic_009'\] are not in the split"):
        split_validation(records, missing.data)


def test_epochs_give_total_steps_from_the_images_per_epoch():
    config = load_config(None, TINY + ["training.epochs=2"])
    assert total_steps(config, 3) == 2 * (3 * 8 // 2)
    too_few = load_config(None, TINY + ["training.epochs=2", "patches.patches_per_image=1",
                                        "training.batch_size=4"])
    with pytest.raises(ValueError, match="less than one batch of 4"):
        total_steps(too_few, 3)


@pytest.mark.skipif(not DRIVE.is_dir(), reason="DRIVE not under ../shared/datasets")
def test_drive_preset_holds_out_images_37_to_40():
    config = load_config("drive", [f"data.data_dir={json.dumps(str(DRIVE))}"])
    train, held = split_validation(read_records(config.data), config.data)
    assert len(train) == 16 and [r.name.split("_")[0] for r in held] == ["37", "38", "39", "40"]
    assert all(r.vessels is not None and r.fov.any() for r in held)


# ---------------------------------------------------------------------------- bundles


def test_bundle_round_trip_keeps_outputs_and_card_and_replaces_atomically(tmp_path):
    model = build_model("chained", filters=2, depth=2, padding="same")
    x = np.random.default_rng(0).random((1, 16, 16, 1)).astype(np.float32)
    path = save_bundle(tmp_path / "best", model, ModelCard(
        Architecture("chained"), training=TrainingRecord(best_validation={"f1": math.nan})))
    assert sorted(p.name for p in path.iterdir()) == [README_FILE, CARD_FILE, MODEL_FILE]
    loaded, card = load_bundle(path)
    np.testing.assert_allclose(loaded(x)["final"], model(x)["final"], atol=1e-6)
    assert card.model == Architecture("chained") and card.best_validation == {"f1": None}
    assert json.loads((path / CARD_FILE).read_text())["format"] == "vesselnet.bundle"
    save_bundle(path, model, ModelCard(Architecture("second")))
    assert load_bundle(path)[1].model.arch == "second"
    assert [p.name for p in tmp_path.iterdir()] == ["best"]  # no temporaries left


def test_load_bundle_accepts_a_plain_keras_file_with_default_preprocessing(tmp_path):
    model = build_model("unet", filters=2, depth=2, padding="same")
    model.save(tmp_path / "net.keras")
    loaded, card = load_bundle(tmp_path / "net.keras")
    assert loaded.count_params() == model.count_params()
    assert card.preprocessing.steps[2].name == "clahe" and card.training is None
    with pytest.raises(ValueError, match="not a model bundle"):
        load_bundle(tmp_path)


# -------------------------------------------------------------------------- the loop


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory):
    """Six uninterrupted steps of the tiny config with validation at steps 3 and 6."""
    run_dir = tmp_path_factory.mktemp("reference") / "run"
    result = fit(tiny_config("training.validate_every=3"), run_dir)
    return run_dir, result


def test_fit_writes_config_checkpoints_history_logs_and_bundles(reference_run):
    run_dir, result = reference_run
    assert result.steps == 6 and math.isfinite(result.final_loss)
    assert load_config(run_dir / "config.toml") == tiny_config("training.validate_every=3")
    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir()) == [
        "ckpt-00000002", "ckpt-00000004", "ckpt-00000006"]
    history = json.loads((run_dir / "history.json").read_text())
    assert [entry["step"] for entry in history["validation"]] == [3, 6]
    assert [entry["step"] for entry in history["train"]] == [2, 4, 6]
    seconds = [entry["seconds"] for entry in history["validation"]]
    assert 0 < seconds[0] < seconds[1]
    best = max(history["validation"], key=lambda entry: entry["f1"])
    assert result.best_f1 == pytest.approx(best["f1"]) and result.best_step == best["step"]
    _, card = load_bundle(run_dir / "best")
    assert card.best_validation["step"] == best["step"]
    assert card.model.arch == "unet" and card.model.depth == 2
    assert card.tile_geometry.input_size == 36
    assert card.tile_geometry.output_size == 20
    assert card.training.validation_images == ("synthetic_003",)
    final_model, final_card = load_bundle(run_dir / "final")
    assert final_card.training.steps == 6
    assert len(final_card.training.validation_curve) == 2


def test_tensorboard_events_hold_loss_learning_rate_validation_and_an_image(reference_run):
    run_dir, _ = reference_run
    tags = set()
    for path in (run_dir / "logs").iterdir():
        for record in tf.data.TFRecordDataset(str(path)):
            event = tf.compat.v1.Event.FromString(record.numpy())
            tags.update(value.tag for value in event.summary.value)
    assert {"train/loss", "train/learning_rate", "validation/f1", "validation/auc",
            "validation/input_probability_truth"} <= tags


def test_fit_is_deterministic_under_a_seed(reference_run, tmp_path):
    run_dir, _ = reference_run
    fit(tiny_config("training.validate_every=3"), tmp_path / "again")
    assert max_difference(weights(run_dir / "final"),
                          weights(tmp_path / "again" / "final")) <= TOLERANCE
    other_seed = tmp_path / "seed1"
    fit(tiny_config("training.validate_every=3", "training.seed=1"), other_seed)
    assert max_difference(weights(run_dir / "final"), weights(other_seed / "final")) > 1e-4


def test_resumed_run_continues_with_the_same_batches(reference_run, tmp_path):
    run_dir, _ = reference_run
    first = fit(tiny_config("training.validate_every=3", steps=3), tmp_path / "run")
    assert first.steps == 3
    resumed = fit(tiny_config("training.validate_every=3"), tmp_path / "run", resume=True)
    assert resumed.steps == 6
    assert max_difference(weights(run_dir / "final"),
                          weights(tmp_path / "run" / "final")) <= TOLERANCE
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert [entry["step"] for entry in history["validation"]] == [3, 6]


def test_averaged_run_bundles_the_average_and_resumes_it_from_the_checkpoint(tmp_path):
    averaged = ("optimizer.ema_momentum=0.5", "training.validate_every=3")
    whole = fit(tiny_config(*averaged), tmp_path / "whole")
    final = weights(tmp_path / "whole" / "final")
    raw = build_components(tiny_config(*averaged), tmp_path / "raw",
                           tf.distribute.get_strategy(), WorkerRole())
    checkpoint = tf.train.Checkpoint(model=raw.model)  # the raw weights of the last step
    checkpoint.restore(str(tmp_path / "whole" / "checkpoints" / "ckpt-00000006" / "ckpt"))\
        .expect_partial()
    assert whole.steps == 6 and max_difference(raw.model.get_weights(), final) > 1e-4
    assert load_config(tmp_path / "whole" / "config.toml").optimizer.ema_momentum == 0.5
    fit(tiny_config(*averaged, steps=3), tmp_path / "resumed")
    fit(tiny_config(*averaged), tmp_path / "resumed", resume=True)
    assert max_difference(weights(tmp_path / "resumed" / "final"), final) <= TOLERANCE


def test_init_from_a_bundle_starts_from_its_weights(reference_run, tmp_path):
    run_dir, _ = reference_run
    source = str(run_dir / "final")
    config = tiny_config(f'model.init_from="{source}"', "training.validate_every=3")
    parts = build_components(config, tmp_path / "warm", tf.distribute.get_strategy(),
                             WorkerRole())
    assert max_difference(parts.model.get_weights(), weights(run_dir / "final")) == 0.0
    cold = build_components(tiny_config(), tmp_path / "cold", tf.distribute.get_strategy(),
                            WorkerRole())
    assert max_difference(cold.model.get_weights(), weights(run_dir / "final")) > 1e-3
    wider = tiny_config(f'model.init_from="{source}"', "model.filters=8")
    with pytest.raises(ValueError, match="does not match the configured one"):
        build_components(wider, tmp_path / "wider", tf.distribute.get_strategy(), WorkerRole())


def test_fit_at_half_the_images_scale_trains_on_halved_images_and_records_it(
        reference_run, tmp_path, capsys):
    run_dir, _ = reference_run
    native = load_bundle(run_dir / "final")[1].training.fov_diameter  # the data set's median
    assert native == pytest.approx(0.94 * 96, rel=0.03)  # synthetic FOV radius 0.465-0.48
    target = round(native / 2, 1)
    capsys.readouterr()
    result = fit(tiny_config(f"data.fov_diameter={target}", "training.validate_every=3"),
                 tmp_path / "run")
    assert result.steps == 6 and math.isfinite(result.final_loss)
    assert math.isfinite(result.best_f1) and result.best_step in (3, 6)
    assert (f"training scale: FOV diameter {target:.1f} px (data.fov_diameter); 4 of 4 "
            "photographs resampled") in capsys.readouterr().out
    for name in ("best", "final"):
        card = load_bundle(tmp_path / "run" / name)[1]
        assert card.training.fov_diameter == target and card.learned_fov_diameter == target
    assert load_config(tmp_path / "run" / "config.toml").data.fov_diameter == target


def test_resume_and_new_run_refuse_the_wrong_directory_state(reference_run, tmp_path):
    run_dir, _ = reference_run
    with pytest.raises(ValueError, match="already holds a run"):
        fit(tiny_config(), run_dir)
    with pytest.raises(ValueError, match="no checkpoint to resume from"):
        fit(tiny_config(), tmp_path / "empty", resume=True)


def test_nan_loss_stops_keeps_the_last_good_checkpoint_and_exits_non_zero(tmp_path):
    run_dir = tmp_path / "nan"
    result = CliRunner().invoke(main, [
        "fit", str(run_dir), "--steps", "8", *[arg for item in TINY for arg in ("--set", item)],
        "--set", "training.checkpoint_every=1", "--set", 'optimizer.name="sgd"',
        "--set", "optimizer.momentum=0.0", "--set", "optimizer.learning_rate=1e30"])
    assert result.exit_code == 1
    line = result.output.strip().splitlines()[-1]
    assert line.startswith("Error: training stopped at step ")
    assert "the last good checkpoint is" in line and "--resume" in line
    assert "Traceback" not in result.output
    checkpoints = sorted((run_dir / "checkpoints").glob("ckpt-*"))
    assert checkpoints and str(checkpoints[-1]) in line
    stopped = int(line.split("step ")[1].split(":")[0])
    assert int(checkpoints[-1].name[5:]) < stopped
    model = build_model("unet", filters=4, depth=2)
    tf.train.Checkpoint(model=model).read(str(checkpoints[-1] / "ckpt")).expect_partial()
    assert all(np.isfinite(w).all() for w in model.get_weights())
    assert not (run_dir / "final").exists()


def test_diverged_fit_raises_the_typed_error(tmp_path):
    with pytest.raises(TrainingDivergedError, match="no checkpoint was written yet|last good"):
        fit(tiny_config('optimizer.name="sgd"', "optimizer.momentum=0.0",
                        "optimizer.learning_rate=1e30", "training.checkpoint_every=50"),
            tmp_path / "run")


def test_early_stopping_after_patience_validations_without_a_better_f1(tmp_path):
    # learning rate 1e-12: the weights (and so F1) do not change, so no validation improves
    result = fit(tiny_config("training.validate_every=1", "training.early_stopping_patience=2",
                             "optimizer.learning_rate=1e-12", steps=20), tmp_path / "run")
    assert result.stopped_early and result.steps == 3 and result.best_step == 1
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert [entry["step"] for entry in history["validation"]] == [1, 2, 3]
    assert load_bundle(tmp_path / "run" / "final")[1].training.steps == 3
    assert (tmp_path / "run" / "checkpoints" / "ckpt-00000003").is_dir()


@pytest.mark.parametrize("precision", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_trains_and_restores_the_global_policy(precision, tmp_path):
    result = fit(tiny_config(f'training.precision="{precision}"', steps=3), tmp_path / "run")
    assert math.isfinite(result.final_loss)
    assert keras.config.dtype_policy().name == "float32"
    model, _ = load_bundle(tmp_path / "run" / "final")
    convolution = next(layer for layer in model.layers
                       if isinstance(layer, keras.layers.Conv2D))
    assert convolution.dtype_policy.name == precision


def test_mirrored_strategy_on_one_cpu_matches_the_default_strategy(reference_run, tmp_path):
    run_dir, _ = reference_run
    fit(tiny_config("training.validate_every=3", 'training.strategy="mirrored"'),
        tmp_path / "run")
    assert max_difference(weights(run_dir / "final"),
                          weights(tmp_path / "run" / "final")) <= TOLERANCE


def test_data_directory_in_the_wrong_layout_is_one_clean_error_line(tmp_path):
    (tmp_path / "DRIVE" / "training").mkdir(parents=True)
    result = CliRunner().invoke(main, ["fit", str(tmp_path / "run"), "--config", "drive",
                                       "--data-dir", str(tmp_path / "DRIVE"), "--steps", "2"])
    assert result.exit_code == 1
    assert result.output.startswith("Error: ") and len(result.output.strip().splitlines()) == 1
    assert str(tmp_path / "DRIVE") in result.output and "Traceback" not in result.output


# ------------------------------------------------------------------- slow: subprocesses


CLI = [sys.executable, "-c", "from vesselnet.cli import main; main()"]


def run_cli(*arguments, env=None, timeout=600):
    return subprocess.run([*CLI, *arguments], env=env, capture_output=True, text=True,
                          timeout=timeout)


def cli_arguments(steps, *extra):
    return ["--steps", str(steps), *[a for item in TINY + list(extra) for a in ("--set", item)]]


@pytest.mark.slow
def test_killed_run_resumes_from_its_last_checkpoint_with_the_same_batches(tmp_path):
    arguments = cli_arguments(12, "training.checkpoint_every=3")
    straight = run_cli("fit", str(tmp_path / "straight"), *arguments)
    assert straight.returncode == 0, straight.stderr[-2000:]
    run_dir = tmp_path / "killed"
    process = subprocess.Popen([*CLI, "fit", str(run_dir), *arguments],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not (run_dir / "checkpoints" / "ckpt-00000003" / "state.json").exists():
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    kept = sorted(p.name for p in (run_dir / "checkpoints").glob("ckpt-*"))
    assert kept and "ckpt-00000012" not in kept
    resumed = run_cli("fit", "--resume", str(run_dir))
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "resumed from" in resumed.stdout and "trained 12 steps" in resumed.stdout
    _, card = load_bundle(run_dir / "final")
    assert card.training.steps == 12
    # deterministic CPU: measured difference 0.0 (bit-identical weights), see TOLERANCE
    assert max_difference(weights(tmp_path / "straight" / "final"),
                          weights(run_dir / "final")) <= TOLERANCE


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for item in sockets:
        item.bind(("127.0.0.1", 0))
    ports = [item.getsockname()[1] for item in sockets]
    for item in sockets:
        item.close()
    return ports


@pytest.mark.slow
def test_two_multiworker_processes_finish_with_equal_weights(tmp_path):
    workers = [f"127.0.0.1:{port}" for port in free_ports(2)]
    arguments = cli_arguments(5, "training.batch_size=4")
    processes = []
    for index in range(2):
        env = dict(os.environ, TF_CONFIG=json.dumps(
            {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}))
        processes.append(subprocess.Popen(
            [*CLI, "fit", str(tmp_path / "run"), *arguments, "--strategy", "multiworker"],
            env=env, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True))
    for process in processes:
        _, stderr = process.communicate(timeout=600)
        assert process.returncode == 0, stderr[-3000:]
    chief = weights(tmp_path / "run" / "final")
    assert max_difference(chief, weights(tmp_path / "run" / "final-worker1")) <= TOLERANCE
    # the global loss is pooled over both workers' halves: same as one process, whole batch
    single = run_cli("fit", str(tmp_path / "single"), *arguments)
    assert single.returncode == 0, single.stderr[-2000:]
    assert max_difference(chief, weights(tmp_path / "single" / "final")) < 1e-5


MIRRORED_TWO_CPUS = """
import sys, tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from vesselnet.config import load_config
from vesselnet.training import fit
config = load_config(None, sys.argv[2:])
assert tf.distribute.MirroredStrategy().num_replicas_in_sync == 2
fit(config, sys.argv[1])
"""


@pytest.mark.slow
def test_mirrored_strategy_with_two_cpu_replicas_matches_one_replica(tmp_path):
    settings = TINY + ["training.steps=4", "training.batch_size=4"]
    two = subprocess.run([sys.executable, "-c", MIRRORED_TWO_CPUS, str(tmp_path / "two"),
                          *settings, 'training.strategy="mirrored"'], capture_output=True,
                         text=True, timeout=600)
    assert two.returncode == 0, two.stderr[-3000:]
    one = subprocess.run([sys.executable, "-c", MIRRORED_TWO_CPUS.replace(
        "assert tf.distribute.MirroredStrategy().num_replicas_in_sync == 2", ""),
        str(tmp_path / "one"), *settings], capture_output=True, text=True, timeout=600)
    assert one.returncode == 0, one.stderr[-3000:]
    assert max_difference(weights(tmp_path / "two" / "final"),
                          weights(tmp_path / "one" / "final")) < 1e-5


@pytest.mark.slow
def test_synthetic_preset_trains_end_to_end_and_the_loss_goes_down(tmp_path):
    result = run_cli("fit", str(tmp_path / "run"), "--config", "synthetic", timeout=1800)
    assert result.returncode == 0, result.stderr[-2000:]
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    losses = [entry["loss"] for entry in history["train"]]
    assert np.mean(losses[-5:]) < 0.8 * np.mean(losses[:3])
    _, card = load_bundle(tmp_path / "run" / "best")
    assert card.best_validation["f1"] > 0.5


def test_synthetic_preset_shortened_writes_bundles_and_history(tmp_path):
    result = fit(load_config("synthetic", ["training.steps=6", "training.validate_every=3"]),
                 tmp_path / "run")
    assert result.steps == 6 and math.isfinite(result.final_loss)
    for name in ("best", "final"):
        assert (tmp_path / "run" / name / MODEL_FILE).is_file()
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert all(math.isfinite(entry["loss"]) for entry in history["train"])
    assert [entry["step"] for entry in history["validation"]] == [3, 6]
    assert Path(tmp_path / "run" / "config.toml").is_file()
