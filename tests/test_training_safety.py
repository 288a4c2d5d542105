"""Nothing a run holds is lost: refusing to replace an earlier run, resuming past a damaged
checkpoint, refusing a damaged ``config.toml``, and atomic writes of every run file (issue 16,
cases 2-4). A slow test kills ``fit`` with SIGKILL during a checkpoint write and resumes.

The runs are the tiny ones of ``test_training`` (4 filters, depth 2, 96x96 synthetic retinas);
the reference trains 6 steps with checkpoints at 2, 4 and 6.
"""

import builtins
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from click.testing import CliRunner
from test_training import TINY, TOLERANCE, max_difference, tiny_config, weights

from vesselnet.bundle import read_card
from vesselnet.cli import main
from vesselnet.training import fit, resume_config
from vesselnet.training.checkpoint import (
    CheckpointError,
    CheckpointStore,
    TrainingState,
    checkpoint_problem,
)
from vesselnet.training.run_folder import previous_results

SETTINGS = ["training.validate_every=3"]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """Six uninterrupted steps, checkpoints at 2, 4, 6, validation at 3 and 6."""
    run_dir = tmp_path_factory.mktemp("finished") / "run"
    fit(tiny_config(*SETTINGS), run_dir)
    return run_dir


def copy_run(source, target, *, without=()):
    shutil.copytree(source, target)
    for name in without:
        path = target / name
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    return target


def cli(*arguments):
    return CliRunner().invoke(main, ["fit", *map(str, arguments)])


def set_arguments(*settings):
    return [item for setting in (*TINY, *settings) for item in ("--set", setting)]


def one_error_line(result):
    """The one error line, last (after at most the training-scale line), no traceback."""
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert [line for line in lines if "rror" in line] == lines[-1:], result.output
    assert lines[-1].startswith("Error: ") and len(lines) <= 2, result.output
    return lines[-1]


# --------------------------------------------------- case 2: never replace a run unasked


@pytest.mark.parametrize("kept", [("best",), ("history.json",), ("final",), ("carried",)])
def test_new_fit_refuses_a_folder_with_results_but_no_checkpoints(finished_run, tmp_path, kept):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    for name in kept:
        source = finished_run / ("best" if name == "carried" else name)
        (shutil.copytree if source.is_dir() else shutil.copy)(source, run_dir / name)
    before = {path: path.read_bytes() for path in run_dir.rglob("*") if path.is_file()}
    line = one_error_line(cli(run_dir, "--steps", 2, *set_arguments()))
    assert f"{run_dir} already holds a run" in line and "--overwrite" in line
    assert (f"{kept[0]}/" if kept[0] != "history.json" else "history.json") in line
    after = {path: path.read_bytes() for path in run_dir.rglob("*") if path.is_file()}
    assert after == before  # nothing written, nothing replaced


def test_overwrite_replaces_the_earlier_run_and_says_what(finished_run, tmp_path):
    run_dir = copy_run(finished_run, tmp_path / "run")
    shutil.copytree(finished_run / "best", run_dir / "carried")  # not fit's: kept
    assert previous_results(run_dir) == ["checkpoints/ (3 checkpoints)", "history.json",
                                         "best/", "carried/", "final/"]
    result = cli(run_dir, "--steps", 2, "--overwrite", *set_arguments())
    assert result.exit_code == 0, result.output
    assert (f"--overwrite: replaced the earlier run in {run_dir}: best/, checkpoints/ "
            "(3 checkpoints), config.toml, final/, history.json, logs/ (kept carried/: not "
            "written by fit)") in result.output
    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir()) == ["ckpt-00000002"]
    history = json.loads((run_dir / "history.json").read_text())
    assert [entry["step"] for entry in history["train"]] == [2]
    assert read_card(run_dir / "best").best_validation["step"] == 2  # the new run's
    assert (run_dir / "carried" / "card.json").read_bytes() == (
        finished_run / "best" / "card.json").read_bytes()


def test_overwrite_cannot_go_with_resume(finished_run):
    result = CliRunner().invoke(main, ["fit", "--resume", str(finished_run), "--overwrite"])
    assert result.exit_code == 2 and "--overwrite starts a new run" in result.output
    with pytest.raises(ValueError, match="cannot go with resume"):
        fit(tiny_config(), finished_run, resume=True, overwrite=True)


# ----------------------------------------------- case 3: resume past a damaged checkpoint


def truncate_data(folder):
    data = next(folder.glob("ckpt.data-*"))
    data.write_bytes(data.read_bytes()[:data.stat().st_size // 2])


def remove_index(folder):
    (folder / "ckpt.index").unlink()


def flip_bytes(folder):
    data = next(folder.glob("ckpt.data-*"))
    values = bytearray(data.read_bytes())
    for index in range(100, len(values), 997):
        values[index] ^= 0xFF
    data.write_bytes(bytes(values))


def break_state(folder):
    (folder / "state.json").write_text('{"step": 6, "epo', encoding="utf-8")


DAMAGES = {  # how, and the reason resume gives
    "truncated data file": (truncate_data, "a data file is cut short (IndexError: "),
    "missing index file": (remove_index, "ckpt.index is missing"),
    "flipped bytes": (flip_bytes, "its bytes are damaged ("),
    "broken state.json": (break_state, "state.json is damaged: not a training state"),
}


@pytest.mark.parametrize("damage", sorted(DAMAGES))
def test_checkpoint_problem_names_each_damage(tmp_path, damage):
    store = CheckpointStore(tmp_path, tf.train.Checkpoint(v=tf.Variable(np.arange(4096.0))))
    folder = store.save(TrainingState(step=6))
    assert checkpoint_problem(folder) is None
    how, reason = DAMAGES[damage]
    how(folder)
    assert reason in checkpoint_problem(folder)


@pytest.mark.parametrize("damage", sorted(DAMAGES))
def test_resume_falls_back_to_the_next_intact_checkpoint(finished_run, tmp_path, damage):
    run_dir = copy_run(finished_run, tmp_path / "run")
    newest = run_dir / "checkpoints" / "ckpt-00000006"
    how, reason = DAMAGES[damage]
    how(newest)
    result = cli("--resume", run_dir)
    assert result.exit_code == 0, result.output
    skipped = next(line for line in result.output.splitlines()
                   if line.startswith("skipped checkpoint"))
    assert skipped.startswith("skipped checkpoint ckpt-00000006: ") and reason in skipped
    if damage == "broken state.json":
        assert str(newest / "state.json") in skipped  # names the file
    assert (f"resumed from {run_dir / 'checkpoints' / 'ckpt-00000004'} (step 4); 1 newer "
            "checkpoint skipped as damaged") in result.output
    assert "trained 6 steps" in result.output
    # steps 5 and 6 trained again with the same batches: the same network as uninterrupted
    assert max_difference(weights(finished_run / "final"), weights(run_dir / "final")) \
        <= TOLERANCE
    assert checkpoint_problem(newest) is None  # the damaged one was written again


def test_resume_with_no_intact_checkpoint_is_one_error_naming_the_folder(finished_run,
                                                                         tmp_path):
    run_dir = copy_run(finished_run, tmp_path / "run")
    folders = sorted((run_dir / "checkpoints").iterdir())
    for folder, how in zip(folders, (truncate_data, remove_index, break_state)):
        how(folder)
    line = one_error_line(cli("--resume", run_dir))
    assert f"{run_dir / 'checkpoints'}: no intact checkpoint to resume from" in line
    for folder in folders:
        assert f"{folder.name}: " in line
    with pytest.raises(CheckpointError, match="no intact checkpoint"):
        fit(tiny_config(*SETTINGS), run_dir, resume=True)


def test_a_damaged_history_json_on_resume_names_the_file(finished_run, tmp_path):
    run_dir = copy_run(finished_run, tmp_path / "run")
    (run_dir / "history.json").write_text('{"train": [{"st', encoding="utf-8")
    line = one_error_line(cli("--resume", run_dir))
    assert f"{run_dir / 'history.json'} is damaged: not a run history" in line


# ------------------------------------------- case 4: a damaged config.toml is refused


def cut_short(text):  # cut at a line end: valid TOML, but [training] keeps one key of 12
    start = text.index("[training]")
    return text[:text.index("\n", start + len("[training]\n")) + 1]


CONFIG_DAMAGES = {
    "empty": (lambda text: "", "is empty: it holds none of the run's settings"),
    "not toml": (lambda text: text.replace("[model]", "[model"), "is damaged: not valid TOML"),
    "cut short": (cut_short, "lacks 11 of the run's settings (training."),
}


@pytest.mark.parametrize("damage", sorted(CONFIG_DAMAGES))
def test_resume_refuses_a_damaged_config_and_leaves_it_untouched(finished_run, tmp_path,
                                                                 damage):
    run_dir = copy_run(finished_run, tmp_path / "run")
    config = run_dir / "config.toml"
    how, reason = CONFIG_DAMAGES[damage]
    config.write_text(how(config.read_text(encoding="utf-8")), encoding="utf-8")
    before = {path: path.read_bytes() for path in run_dir.rglob("*") if path.is_file()}
    line = one_error_line(cli("--resume", run_dir, "--steps", 8))
    assert line.startswith(f"Error: {config} {reason}")
    copy = run_dir / "checkpoints" / "ckpt-00000006" / "config.toml"
    assert f"the run's settings as of its newest checkpoint are in {copy}" in line
    assert {path: path.read_bytes() for path in run_dir.rglob("*") if path.is_file()} == before
    config.write_bytes(copy.read_bytes())  # the copy is the run's own settings
    assert resume_config(run_dir) == tiny_config(*SETTINGS)


def test_a_config_of_a_run_without_checkpoint_copies_needs_every_section(finished_run,
                                                                         tmp_path):
    run_dir = copy_run(finished_run, tmp_path / "run")
    for copy in (run_dir / "checkpoints").glob("*/config.toml"):
        copy.unlink()  # checkpoints written before copies were kept
    config = run_dir / "config.toml"
    text = config.read_text(encoding="utf-8")
    assert resume_config(run_dir) == tiny_config(*SETTINGS)
    config.write_text(text[:text.index("[optimizer]")], encoding="utf-8")
    with pytest.raises(ValueError, match=r"lacks 2 of the run's settings \(optimizer, training\)"
                                         r": it is cut short or damaged$"):
        resume_config(run_dir)


def test_every_file_a_run_writes_from_python_goes_through_a_hidden_temporary(tmp_path,
                                                                             monkeypatch):
    run_dir = tmp_path / "run"
    written = []
    real_open = builtins.open

    def recording_open(file, mode="r", *args, **kwargs):
        if isinstance(file, (str, os.PathLike)) and any(flag in mode for flag in "wax+"):
            written.append(Path(file))
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", recording_open)
    monkeypatch.setattr(io, "open", recording_open)  # pathlib's write_text opens through io
    fit(tiny_config("training.validate_every=2", steps=4), run_dir)
    monkeypatch.undo()
    inside = [path.relative_to(run_dir) for path in written if run_dir in path.parents]
    plain = [path for path in inside if not any(part.startswith(".tmp-") for part in path.parts)]
    assert plain == [], plain  # every Python write lands under a .tmp- name, then renamed
    owners = set()  # (what the temporary becomes, the file written)
    for path in inside:
        temporary = next(part for part in path.parts if part.startswith(".tmp-"))
        owners.add((temporary[len(".tmp-"):].split("-")[0], path.name))
    assert {("config.toml", f".tmp-config.toml-{os.getpid()}"),
            ("history.json", f".tmp-history.json-{os.getpid()}"), ("ckpt", "state.json"),
            ("ckpt", "config.toml"), ("best", "card.json"), ("final", "card.json"),
            ("best", "model.keras")} <= owners
    assert load_text(run_dir / "config.toml") == load_text(
        run_dir / "checkpoints" / "ckpt-00000004" / "config.toml")


def load_text(path):
    return Path(path).read_text(encoding="utf-8")


# ------------------------------------------- slow: SIGKILL during a checkpoint write

SLOW_CHECKPOINTS = """
import sys, time
import vesselnet.training.checkpoint as checkpoint
synced = checkpoint.sync_directory
def slow_sync(path):  # widen the window between the files and the rename
    time.sleep(float(sys.argv[1]))
    synced(path)
checkpoint.sync_directory = slow_sync
from vesselnet.bundle import read_card
from vesselnet.cli import main
main(sys.argv[2:])
"""


@pytest.mark.slow
def test_fit_killed_during_a_checkpoint_write_resumes_from_the_previous_one(finished_run,
                                                                           tmp_path):
    run_dir = tmp_path / "run"
    process = subprocess.Popen(
        [sys.executable, "-c", SLOW_CHECKPOINTS, "2.0", "fit", str(run_dir), "--steps", "6",
         *set_arguments(*SETTINGS)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    checkpoints = run_dir / "checkpoints"
    while not list(checkpoints.glob(".tmp-ckpt-00000004-*/state.json")):
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert sorted(path.name for path in checkpoints.glob("ckpt-*")) == ["ckpt-00000002"]
    assert list(checkpoints.glob(".tmp-ckpt-00000004-*"))  # the half-made one
    result = cli("--resume", run_dir)
    assert result.exit_code == 0, result.output
    assert f"resumed from {checkpoints / 'ckpt-00000002'} (step 2)" in result.output
    assert not list(checkpoints.glob(".tmp-*"))
    assert max_difference(weights(finished_run / "final"), weights(run_dir / "final")) \
        <= TOLERANCE
