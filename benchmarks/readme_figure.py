"""The README's picture: the bundled model on the bundled sample photograph.

Runs ``vesselnet predict`` on the sample (a synthetic retina; real photographs of the public
data sets may not be redistributed with the package) and puts the photograph, the vessel
probability map and the overlay side by side in ``notebooks/figures/sample_result.png``.

    python3 benchmarks/readme_figure.py [--model BUNDLE] [--out notebooks/figures/sample_result.png]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from PIL import Image

from vesselnet.core.files import atomic_write_bytes
from vesselnet.jobs.predict import SAMPLE_IMAGE, predict_files

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "notebooks" / "figures" / "sample_result.png"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=None, help="default: the bundled model")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        report = predict_files([SAMPLE_IMAGE], args.model, folder)
        outcome = report.outcomes[0]
        if outcome.error:
            raise SystemExit(outcome.error)
        panels = [("photograph", Image.open(SAMPLE_IMAGE)),
                  ("vessel probability", Image.open(outcome.outputs["probability"])),
                  ("overlay (mask at 0.5)", Image.open(outcome.outputs["overlay"]))]
        figure, axes = plt.subplots(1, 3, figsize=(12, 4.3))
        for axis, (title, image) in zip(axes, panels):
            axis.imshow(image, cmap="gray")
            axis.set_title(title)
            axis.axis("off")
        figure.tight_layout()
        png = Path(folder) / "figure.png"
        figure.savefig(png, dpi=80, bbox_inches="tight")
        args.out.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(args.out, png.read_bytes())
    print(f"{args.out} ({args.out.stat().st_size / 1e3:.0f} kB), model {report.model}, "
          f"vessel share of the FOV {outcome.vessel_fraction:.3f}")


if __name__ == "__main__":
    main()
