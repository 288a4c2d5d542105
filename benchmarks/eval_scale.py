"""F1 and AUC of a model with ``--scale auto`` and ``--scale none`` on every labelled data set
at hand.

Run by hand from the repository root:

    python3 benchmarks/eval_scale.py [--model NAME_OR_PATH] [--data-root ../shared/datasets]
        [--out DIR]

Data sets (each skipped when its folder is missing): DRIVE training images 37-40 (held out of
the bundled model's training), the 20 CHASE_DB1 photographs in the folder (split ``all``) and
the LES-AV photographs in the generic layout. Each is scored as ``vesselnet evaluate`` scores
it (inside the FOV, threshold 0.5, all FOV pixels pooled, on the photographs' own grid), once
per scale; the reports go to ``--out`` (a temporary folder by default).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPOSITORY))

from vesselnet.inference import InferenceOptions  # noqa: E402
from vesselnet.jobs import EvaluationOptions, evaluate_dataset  # noqa: E402

DATA_SETS = (  # (name, folder, reader, split, images)
    ("DRIVE 37-40", "DRIVE", "drive", "training", ("37", "38", "39", "40")),
    ("CHASE_DB1 (20)", "CHASE_DB1", "chase_db1", "all", ()),
    ("LES-AV (11)", "LES_AV", "generic", "all", ()),
)
SCALES = ("none", "auto")


def main(arguments=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="default: the bundled model")
    parser.add_argument("--data-root", type=Path,
                        default=REPOSITORY.parent / "shared" / "datasets")
    parser.add_argument("--out", type=Path, default=None)
    options = parser.parse_args(arguments)
    out = options.out or Path(tempfile.mkdtemp(prefix="eval-scale-"))
    rows = []
    for name, folder, reader, split, images in DATA_SETS:
        if not (options.data_root / folder).is_dir():
            print(f"skipped {name}: {options.data_root / folder} not found", file=sys.stderr)
            continue
        for scale in SCALES:
            start = time.perf_counter()
            report = evaluate_dataset(
                options.model, reader, options.data_root / folder, split,
                out / f"{folder}-{scale}",
                EvaluationOptions(inference=InferenceOptions(scale=scale), images=images,
                                  figures=False, save_maps=False))
            factors = [entry["scale"]["factor"] for entry in report.metrics["per_image"]]
            rows.append((name, scale, report.aggregate, min(factors), max(factors),
                         (time.perf_counter() - start) / len(factors)))
            print(f"done: {name} {scale}", file=sys.stderr)
    print(f"model: {options.model or 'bundled'}; reports in {out}")
    print("| data set | --scale | factors | F1 | AUC-ROC | AUC-PR | sensitivity | precision "
          "| s / photograph |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|")
    for name, scale, aggregate, low, high, seconds in rows:
        factors = f"{low:.3f}" if low == high else f"{low:.3f}-{high:.3f}"
        print(f"| {name} | {scale} | {factors} | {aggregate['f1']:.4f} | "
              f"{aggregate['auc_roc']:.4f} | {aggregate['auc_pr']:.4f} | "
              f"{aggregate['sensitivity']:.4f} | {aggregate['precision']:.4f} | {seconds:.2f} |")


if __name__ == "__main__":
    main()
