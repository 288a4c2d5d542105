"""Vessel labels at another scale: thresholded (what training does) against soft shares.

Training resamples each photograph's vessel annotation as the share of vessel per new pixel
and keeps the pixels where it is >= 0.5 (``vesselnet.training.scale``). This script measures
what that costs:

1. ``--fractions``: the vessel share of the FOV before and after resampling, thresholded and
   soft, for DRIVE (and CHASE_DB1 when ``--chase-dir`` is given) at several factors.
2. ``--train``: two short ``drive_baseline`` runs at ``--fov-diameter`` (default 270 px,
   about half DRIVE's scale), one with the thresholded labels, one with the soft shares
   (patched into the patch source; weights and everything else equal), validated on the
   held-out images 37-40 on their original grid. Prints the validation curve of both.

    python3 benchmarks/scale_labels.py --data-dir ../shared/datasets/DRIVE --fractions
    python3 benchmarks/scale_labels.py --data-dir ../shared/datasets/DRIVE --train \\
        --steps 1500 --out runs/scale-labels
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from vesselnet.config import load_config
from vesselnet.data.patches import build_patch_source
from vesselnet.preprocessing.resample import resample_photograph, resample_share
from vesselnet.training import components, fit
from vesselnet.training.scale import measure_scales
from vesselnet.training.sources import read_records

FACTORS = (0.165, 0.374, 0.5, 0.587, 0.75, 1.5, 2.0)


def fractions(name: str, records, factors=FACTORS) -> None:
    """Mean relative change of the FOV's vessel share, thresholded and soft, per factor."""
    for factor in factors:
        hard, soft = [], []
        for record in records:
            before = record.vessels[record.fov].mean()
            _, fov = resample_photograph(record.image, record.fov, factor)
            share = resample_share(record.vessels, factor).numpy()
            fov = fov.numpy()
            hard.append((share >= 0.5)[fov].mean() / before - 1)
            soft.append(share[fov].mean() / before - 1)
        print(f"{name:10s} factor {factor:5.3f}: vessel share of the FOV thresholded "
              f"{np.mean(hard):+6.1%} (worst image {max(hard, key=abs):+6.1%}), soft "
              f"{np.mean(soft):+6.1%}", flush=True)


def soft_patch_source(config):
    """A ``make_patch_source`` whose labels are the soft vessel shares at the training scale."""
    originals = {record.name: record for record in read_records(config.data)}
    plain = components.make_patch_source

    def make(records, inputs, patch_config):
        source_records = [originals[record.name] for record in records]
        scales = measure_scales(source_records)
        target = config.data.fov_diameter
        shares = []
        for record, original, scale in zip(records, source_records, scales):
            share = resample_share(original.vessels, scale.factor_to(target)).numpy()
            assert share.shape == record.shape, (share.shape, record.shape)
            shares.append(share)
        hard = plain(records, inputs, patch_config)  # to check the soft one against
        weights = [record.fov.astype(np.float32) for record in records]
        source = build_patch_source(list(inputs), shares, weights, [r.fov for r in records])
        assert source.pixels.shape == hard.pixels.shape
        return source

    return make


def train(data_dir: str, fov_diameter: float, steps: int, out: Path) -> None:
    settings = [f'data.data_dir="{data_dir}"', f"data.fov_diameter={fov_diameter}",
                f"training.steps={steps}", "training.validate_every=500",
                "training.early_stopping_patience=0"]
    config = load_config("drive_baseline", settings)
    curves = {}
    for labels in ("thresholded", "soft"):
        run_dir = out / labels
        if labels == "soft":
            components.make_patch_source = soft_patch_source(config)
        if not (run_dir / "history.json").exists():
            fit(config, run_dir)
        history = json.loads((run_dir / "history.json").read_text())
        curves[labels] = [(entry["step"], entry["f1"], entry["auc"])
                          for entry in history["validation"]]
    print(f"drive_baseline at FOV diameter {fov_diameter} px, held-out 37-40 scored on their "
          "original grid:")
    for (step, f1, auc), (_, soft_f1, soft_auc) in zip(curves["thresholded"], curves["soft"]):
        print(f"  step {step:5d}: thresholded F1 {f1:.4f} AUC {auc:.4f} | soft F1 {soft_f1:.4f} "
              f"AUC {soft_auc:.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True, help="the DRIVE folder")
    parser.add_argument("--chase-dir", help="the CHASE_DB1 folder (all 28 or 20 images)")
    parser.add_argument("--fractions", action="store_true")
    parser.add_argument("--train", action="store_true")
    parser.add_argument("--fov-diameter", type=float, default=270.0)
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--out", type=Path, default=Path("runs/scale-labels"))
    arguments = parser.parse_args()
    if arguments.fractions:
        drive = read_records(load_config("drive", [f'data.data_dir="{arguments.data_dir}"']).data)
        fractions("DRIVE", drive)
        if arguments.chase_dir:
            chase = read_records(load_config("chase_db1", [
                f'data.data_dir="{arguments.chase_dir}"', 'data.split="all"']).data)
            fractions("CHASE_DB1", chase)
    if arguments.train:
        train(arguments.data_dir, arguments.fov_diameter, arguments.steps, arguments.out)


if __name__ == "__main__":
    main()
