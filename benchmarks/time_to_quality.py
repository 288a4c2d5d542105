"""Validation F1 against wall-clock training time, read from runs' ``history.json``.

For each run: the validation curve (minutes, step, F1, AUC), the best F1, and the first time
each run reached the best F1 of the first run (the reference, e.g. the plain baseline) and
fractions of it; for runs on several data sets, each set's F1 / AUC at the best step and the
mean pooled F1 of the last quarter of the curve (how steady the run ended). Wall-clock time
counts validation and checkpoints, as the runs recorded it.

    python3 benchmarks/time_to_quality.py runs/drive-baseline runs/drive
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def load_curve(run_dir: Path) -> list[dict]:
    path = run_dir / "history.json"
    if not path.is_file():
        raise SystemExit(f"{path}: not found (is {run_dir} a vesselnet run directory?)")
    return json.loads(path.read_text(encoding="utf-8"))["validation"]


def first_reaching(curve: list[dict], f1: float) -> dict | None:
    return next((entry for entry in curve if entry["f1"] >= f1), None)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, help="run directories; the first is "
                        "the reference")
    args = parser.parse_args()
    curves = {run: load_curve(run) for run in args.runs}
    for run, curve in curves.items():
        print(f"\n{run}")
        print(f"{'minutes':>8}{'step':>8}{'F1':>8}{'AUC':>8}")
        for entry in curve:
            print(f"{entry['seconds'] / 60:>8.1f}{entry['step']:>8}{entry['f1']:>8.4f}"
                  f"{entry['auc']:>8.4f}")
    reference_run = args.runs[0]
    reference = max(curves[reference_run], key=lambda entry: entry["f1"])
    print(f"\nreference: best F1 of {reference_run}: {reference['f1']:.4f} at "
          f"{reference['seconds'] / 60:.1f} min (step {reference['step']})")
    print(f"{'run':<40}{'best F1':>9}{'AUC':>8}{'at min':>8}"
          f"{'min to ref F1':>15}{'min to 0.99 ref':>17}")
    for run, curve in curves.items():
        best = max(curve, key=lambda entry: entry["f1"])
        cells = []
        for share in (1.0, 0.99):
            entry = first_reaching(curve, share * reference["f1"])
            cells.append(f"{entry['seconds'] / 60:.1f}" if entry else "never")
        print(f"{run!s:<40}{best['f1']:>9.4f}{best['auc']:>8.4f}"
              f"{best['seconds'] / 60:>8.1f}{cells[0]:>15}{cells[1]:>17}")
    if any("sets" in curve[-1] for curve in curves.values()):
        print(f"\n{'run':<40}{'step':>6}  per set at the best step (F1 / AUC)"
              f"{'':>4}last quarter mean F1")
        for run, curve in curves.items():
            best = max(curve, key=lambda entry: entry["f1"])
            sets = "  ".join(f"{name} {figures['f1']:.4f} / {figures['auc']:.4f}"
                             for name, figures in best.get("sets", {}).items())
            tail = curve[len(curve) - max(len(curve) // 4, 1):]
            mean = sum(entry["f1"] for entry in tail) / len(tail)
            print(f"{run!s:<40}{best['step']:>6}  {sets}  {mean:.4f} "
                  f"(steps {tail[0]['step']}-{tail[-1]['step']})")


if __name__ == "__main__":
    main()
