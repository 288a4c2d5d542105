"""Fault injection: kill ``vesselnet fit`` at random moments, damage its newest checkpoint,
resume, and check that nothing but the steps after an intact checkpoint is lost.

Each trial starts a small run (the ``synthetic`` preset shrunk to 96x96 images and a 4-filter,
depth-2 U-Net), waits until at least two checkpoints exist, then kills it with SIGKILL either
at a random moment (a random step after the second checkpoint, then a random fraction of a
step's time) or while a checkpoint is being written (a ``.tmp-ckpt-*`` directory is
there; the child slows its checkpoint sync by ``--write-delay`` seconds so that the window is
wide enough to hit). Then the newest complete checkpoint is damaged in one of three ways
(truncated data file, missing index, flipped bytes), the run is resumed with
``vesselnet fit --resume`` and trained to the end. A trial passes when

- the resume used the newest intact checkpoint and named the damaged one as skipped,
- at most ``checkpoint_every`` steps were lost at the kill (the last step printed minus the
  newest complete checkpoint) and at most ``checkpoint_every`` more through the damage,
- no temporary directory is left, the history ends at the last step, and
- the final validation F1 equals the uninterrupted run's within ``--f1-tolerance``.

Run by hand (about 5-8 minutes with the defaults on 2 shared CPU cores):

    PYTHONPATH=. python benchmarks/fault_injection.py --trials 12
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TINY = ["data.synthetic_images=4", "data.synthetic_size=[96, 96]", "data.validation_count=1",
        "model.filters=4", "model.depth=2", "patches.input_size=36",
        "patches.patches_per_image=8", "training.batch_size=2", "training.log_every=1",
        "optimizer.warmup_steps=4", "training.keep_checkpoints=3"]

CHILD = """
import sys, time
import vesselnet.training.checkpoint as checkpoint
synced = checkpoint.sync_directory
def slow_sync(path):  # between the checkpoint's files and its rename into place
    time.sleep(float(sys.argv[1]))
    synced(path)
checkpoint.sync_directory = slow_sync
from vesselnet.cli import main
main(sys.argv[2:])
"""


def truncate_data(folder: Path) -> None:
    data = next(folder.glob("ckpt.data-*"))
    data.write_bytes(data.read_bytes()[:data.stat().st_size // 2])


def remove_index(folder: Path) -> None:
    (folder / "ckpt.index").unlink()


def flip_bytes(folder: Path) -> None:
    data = next(folder.glob("ckpt.data-*"))
    values = bytearray(data.read_bytes())
    for index in range(64, len(values), 509):
        values[index] ^= 0xFF
    data.write_bytes(bytes(values))


DAMAGES = {"truncated": truncate_data, "no index": remove_index, "flipped": flip_bytes}


def complete_steps(run_dir: Path) -> list[int]:
    folder = run_dir / "checkpoints"
    if not folder.is_dir():
        return []
    return sorted(int(path.name[5:]) for path in folder.glob("ckpt-*")
                  if (path / "state.json").is_file())


def start(arguments: list[str], log: Path, write_delay: float) -> subprocess.Popen:
    handle = open(log, "w")
    return subprocess.Popen([sys.executable, "-c", CHILD, str(write_delay), "fit", *arguments],
                            stdout=handle, stderr=subprocess.STDOUT)


def last_step(log: Path) -> int:
    steps = [int(match) for match in re.findall(r"^step (\d+)/\d+ ", log.read_text(),
                                                re.MULTILINE)]
    return max(steps, default=0)


def final_f1(run_dir: Path, steps: int) -> float:
    history = json.loads((run_dir / "history.json").read_text())
    last = history["validation"][-1]
    assert last["step"] == steps, last
    return last["f1"]


def wait_for(condition, process: subprocess.Popen, timeout: float = 600) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if process.poll() is not None or time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def run_trial(index: int, rng: random.Random, options, arguments, work: Path,
              step_seconds: float) -> dict:
    every = options.checkpoint_every
    run_dir = work / f"trial{index:02d}"
    damage = list(DAMAGES)[index % len(DAMAGES)]
    mode = "in write" if (index // len(DAMAGES)) % 2 == 0 else "random"
    log = work / f"trial{index:02d}-killed.log"
    process = start([str(run_dir), *arguments], log, options.write_delay)
    row = {"trial": index, "kill": mode, "damage": damage}
    if not wait_for(lambda: len(complete_steps(run_dir)) >= 2, process):
        process.kill()
        return {**row, "ok": False, "note": "ended before two checkpoints"}
    if mode == "in write":
        first = complete_steps(run_dir)[-1]
        writing = run_dir / "checkpoints"
        hit = wait_for(lambda: any(int(p.name.split("-")[2]) > first
                                   for p in writing.glob(".tmp-ckpt-*")), process)
        if hit:
            time.sleep(rng.uniform(0.0, options.write_delay * 1.2))
    else:  # a random step after the second checkpoint, then a random moment within it
        target = rng.randint(2 * every + 1, options.steps - 1)
        wait_for(lambda: last_step(log) >= target, process)
        time.sleep(rng.uniform(0.0, step_seconds))
    in_flight = sorted(p.name for p in (run_dir / "checkpoints").glob(".tmp-ckpt-*"))
    if process.poll() is not None:
        return {**row, "ok": False, "note": "finished before the kill"}
    process.send_signal(signal.SIGKILL)
    process.wait()
    killed_at = last_step(log)
    complete = complete_steps(run_dir)
    newest = complete[-1]
    row.update(killed_at=killed_at, writing=bool(in_flight) and not (
        run_dir / "checkpoints" / in_flight[-1][5:].rsplit("-", 2)[0]).is_dir(),
        newest=newest)
    damaged = run_dir / "checkpoints" / f"ckpt-{newest:08d}"
    DAMAGES[damage](damaged)
    expected = complete[-2]
    resume_log = work / f"trial{index:02d}-resumed.log"
    resumed = start(["--resume", str(run_dir)], resume_log, 0.0)
    resumed.wait()
    text = resume_log.read_text()
    match = re.search(r"resumed from .*ckpt-(\d+) \(step (\d+)\)", text)
    skipped = re.search(rf"skipped checkpoint {damaged.name}: ([^(\n]*)", text)
    used = int(match.group(2)) if match else -1
    f1 = final_f1(run_dir, options.steps) if resumed.returncode == 0 else float("nan")
    row.update(resumed_from=used, reason=skipped.group(1).strip() if skipped else "-",
               lost_at_kill=killed_at - newest, lost_to_damage=newest - used, f1=f1,
               leftovers=len(list((run_dir / "checkpoints").glob(".tmp-*"))))
    row["ok"] = (resumed.returncode == 0 and used == expected and skipped is not None
                 and row["lost_at_kill"] <= every and row["lost_to_damage"] <= every
                 and row["leftovers"] == 0)
    if not options.keep:
        shutil.rmtree(run_dir, ignore_errors=True)
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--checkpoint-every", type=int, default=4)
    parser.add_argument("--validate-every", type=int, default=20)
    parser.add_argument("--write-delay", type=float, default=0.3,
                        help="seconds the child sleeps inside every checkpoint write")
    parser.add_argument("--f1-tolerance", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the trial run folders")
    options = parser.parse_args()
    work = options.work or Path(tempfile.mkdtemp(prefix="vesselnet-faults-"))
    work.mkdir(parents=True, exist_ok=True)
    settings = [*TINY, f"training.checkpoint_every={options.checkpoint_every}",
                f"training.validate_every={options.validate_every}"]
    arguments = ["--config", "synthetic", "--steps", str(options.steps),
                 *[item for setting in settings for item in ("--set", setting)]]
    rng = random.Random(options.seed)
    began = time.monotonic()

    reference_dir = work / "reference"
    shutil.rmtree(reference_dir, ignore_errors=True)
    log = work / "reference.log"
    process = start([str(reference_dir), *arguments], log, options.write_delay)
    wait_for(lambda: len(complete_steps(reference_dir)) >= 2, process)
    second = time.monotonic()
    if process.wait() != 0:
        print(log.read_text()[-3000:])
        return 1
    tail = time.monotonic() - second
    reference_f1 = final_f1(reference_dir, options.steps)
    print(f"uninterrupted run: {options.steps} steps, checkpoint every "
          f"{options.checkpoint_every}, final validation F1 {reference_f1:.6f}; "
          f"{tail:.1f} s from its second checkpoint to its end")

    step_seconds = tail / (options.steps - 2 * options.checkpoint_every)
    rows = [run_trial(index, rng, options, arguments, work, step_seconds)
            for index in range(options.trials)]
    header = (f"{'trial':>5}  {'kill':<8} {'killed':>6} {'writing':>7} {'newest':>6}  "
              f"{'damage':<9} {'resumed':>7} {'lost':>4} {'lost2':>5} {'final F1':>9} "
              f"{'dF1':>8}  {'ok':<3} reason given for the skip")
    print(header)
    print("-" * len(header))
    for row in rows:
        if "killed_at" not in row:
            print(f"{row['trial']:>5}  {row['kill']:<8} {row.get('note')}")
            continue
        difference = row["f1"] - reference_f1
        row["ok"] = row["ok"] and abs(difference) <= options.f1_tolerance
        print(f"{row['trial']:>5}  {row['kill']:<8} {row['killed_at']:>6} "
              f"{'yes' if row['writing'] else 'no':>7} {row['newest']:>6}  {row['damage']:<9} "
              f"{row['resumed_from']:>7} {row['lost_at_kill']:>4} {row['lost_to_damage']:>5} "
              f"{row['f1']:>9.6f} {difference:>+8.1e}  {'yes' if row['ok'] else 'NO':<3} "
              f"{row['reason']}")
    passed = sum(bool(row["ok"]) for row in rows)
    print(f"\n{passed} of {len(rows)} trials passed; killed: last step printed; writing: a "
          "checkpoint was being written at the kill; newest: newest complete checkpoint "
          "(then damaged); lost: killed - newest (<= checkpoint_every); lost2: newest - "
          f"resumed (<= checkpoint_every); dF1: final F1 - uninterrupted run's (tolerance "
          f"{options.f1_tolerance:g}). {time.monotonic() - began:.0f} s in all; logs in {work}")
    return 0 if passed == len(rows) else 1


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.exit(main())
