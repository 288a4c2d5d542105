"""How held-out F1 holds when the photographs look as if another camera had taken them.

Run by hand from the repository root:

    python3 benchmarks/eval_camera_shift.py [--model NAME_OR_PATH ...] [--sets-from NAME_OR_PATH]
        [--data-root ../shared/datasets] [--shift NAME ...] [--precision float32]

The held-out images are those of ``eval_held_out.py`` (the card of ``--sets-from``, default the
bundled model). Each photograph is changed as a camera, its exposure or its file format would
change it (the annotation and FOV stay), predicted at the learned scale, and scored as
``vesselnet evaluate`` scores (inside the FOV, threshold 0.5, all FOV pixels of a set pooled).
The shifts:

- ``none``: the photograph itself;
- ``darker`` / ``brighter``: every channel times 0.6 / gamma 0.6 (under- and overexposure);
- ``low-contrast``: each channel pulled half way to its FOV mean;
- ``warm`` / ``cool``: red x 1.15 and blue x 0.8 / red x 0.8 and blue x 1.25 (white balance);
- ``blur``: Gaussian, sigma 1.5 px at the photograph's own resolution (defocus);
- ``jpeg-60`` / ``jpeg-30``: JPEG at quality 60 / 30;
- ``noise-4`` / ``noise-8``: Gaussian noise, sigma 4 / 8 grey levels, seed 0.

The F1 change against ``none`` says which camera differences the network and its
preprocessing (green-weighted grey, CLAHE) already absorb and which they do not.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

REPOSITORY = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPOSITORY))
sys.path.insert(0, str(REPOSITORY / "benchmarks"))

from eval_held_out import add_held_out_arguments, held_out_sets  # noqa: E402

from vesselnet.data import read_dataset  # noqa: E402
from vesselnet.data.records import select_records  # noqa: E402
from vesselnet.inference import InferenceOptions  # noqa: E402
from vesselnet.loading import load_model  # noqa: E402
from vesselnet.metrics.scoring import ScorePool  # noqa: E402


def _channels(image: np.ndarray, factors) -> np.ndarray:
    return image * np.asarray(factors, np.float32)


def _low_contrast(image: np.ndarray, fov: np.ndarray) -> np.ndarray:
    mean = image[fov].mean(axis=0)
    return mean + 0.5 * (image - mean)


def _jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    ok, encoded = cv2.imencode(".jpg", np.ascontiguousarray(image[..., ::-1]),
                               [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("OpenCV could not encode the photograph as JPEG")
    return cv2.imdecode(encoded, cv2.IMREAD_COLOR)[..., ::-1]


def _noise(image: np.ndarray, sigma: float) -> np.ndarray:
    return image + np.random.default_rng(0).normal(0, sigma, image.shape)


SHIFTS = {
    "none": lambda image, fov: image,
    "darker": lambda image, fov: _channels(image, 0.6),
    "brighter": lambda image, fov: 255.0 * (image / 255.0) ** 0.6,
    "low-contrast": _low_contrast,
    "warm": lambda image, fov: _channels(image, (1.15, 1.0, 0.8)),
    "cool": lambda image, fov: _channels(image, (0.8, 1.0, 1.25)),
    "blur": lambda image, fov: cv2.GaussianBlur(image, (0, 0), 1.5),
    "jpeg-60": lambda image, fov: _jpeg(image, 60),
    "jpeg-30": lambda image, fov: _jpeg(image, 30),
    "noise-4": lambda image, fov: _noise(image, 4.0),
    "noise-8": lambda image, fov: _noise(image, 8.0),
}


def shifted(name: str, image: np.ndarray, fov: np.ndarray) -> np.ndarray:
    """``image`` (uint8 RGB) under shift ``name``, uint8 again."""
    return np.clip(np.rint(SHIFTS[name](image, fov)), 0, 255).astype(np.uint8)


def main(arguments=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_held_out_arguments(parser, "the bundled default model")
    parser.add_argument("--shift", action="append", choices=list(SHIFTS), default=None,
                        help="repeatable; default: all")
    options = parser.parse_args(arguments)
    shifts = options.shift or list(SHIFTS)
    if "none" not in shifts:
        shifts.insert(0, "none")
    sets = []
    for name, reader, folder, split, images, _ in held_out_sets(options.sets_from,
                                                                 options.data_root):
        sets.append((name, select_records(read_dataset(reader, folder, split), images,
                                          "held-out images")))
    rows = []
    for model in options.model or [None]:
        loaded = load_model(model, InferenceOptions(scale="auto", precision=options.precision))
        for shift in shifts:
            figures = []
            for name, records in sets:
                pool = ScorePool(0.5)
                for record in records:
                    image = shifted(shift, record.image, record.fov)
                    pool.add(loaded.probability(image, record.fov), record.vessels, record.fov)
                figures.append(pool.aggregate())
            rows.append((model or "bundled default", shift, figures))
            print(f"done: {model or 'bundled default'} {shift}", file=sys.stderr)
    names = [name for name, _ in sets]
    print("| model | shift | " + " | ".join(f"{name} F1 (change)" for name in names)
          + " | " + " | ".join(f"{name} AUC" for name in names) + " |")
    print("|---|---|" + "---:|" * (2 * len(names)))
    baseline = {}
    for model, shift, figures in rows:
        if shift == "none":
            baseline[model] = figures
        base = baseline[model]
        f1 = [f"{item['f1']:.4f} ({item['f1'] - ref['f1']:+.4f})"
              for item, ref in zip(figures, base)]
        auc = [f"{item['auc_roc']:.4f}" for item in figures]
        print(f"| {model} | {shift} | " + " | ".join(f1) + " | " + " | ".join(auc) + " |")


if __name__ == "__main__":
    main()
