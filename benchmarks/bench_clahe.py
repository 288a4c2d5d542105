"""Milliseconds per 565x584 fundus image: TF-op CLAHE vs OpenCV, and the full ``preprocess``.

Run by hand from the repository root:

    python3 benchmarks/bench_clahe.py [--repeats 50]

Uses the first DRIVE training photograph when ``../shared/datasets/DRIVE`` is there, otherwise a
synthetic photograph of the same size. TF paths are ``tf.function``s traced with unknown height
and width (graph mode, no XLA), timed after warm-up; figures are medians.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPOSITORY = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPOSITORY))

import cv2  # noqa: E402
import tensorflow as tf  # noqa: E402

from vesselnet.preprocessing import clahe, clahe_batch, preprocess, preprocess_batch  # noqa: E402

DRIVE_IMAGES = REPOSITORY.parent / "shared/datasets/DRIVE/training/images"


def load_photo() -> tuple[np.ndarray, str]:
    """First DRIVE training photograph (RGB uint8 584x565x3), or a synthetic stand-in."""
    paths = sorted(DRIVE_IMAGES.glob("*.tif"))
    if paths:
        from PIL import Image

        return np.asarray(Image.open(paths[0]).convert("RGB")), paths[0].name
    rng = np.random.default_rng(0)
    rows, columns = np.mgrid[0:584, 0:565]
    base = 100 + 60 * np.sin(columns / 13.0) * np.cos(rows / 17.0)
    photo = np.stack([base * 1.5, base, base * 0.4], -1) + rng.normal(0, 5, (584, 565, 3))
    return np.clip(photo, 0, 255).astype(np.uint8), "synthetic"


def milliseconds(function, repeats: int, warmup: int = 3, images_per_call: int = 1) -> float:
    """Median wall time per image of ``function()`` in ms, after ``warmup`` calls."""
    for _ in range(warmup):
        function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append((time.perf_counter() - start) * 1000.0 / images_per_call)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=50, help="timed calls per figure")
    parser.add_argument("--batch", type=int, default=8, help="batch size of the batched figures")
    arguments = parser.parse_args()

    photo, source = load_photo()
    green = np.ascontiguousarray(photo[:, :, 1])
    batch = tf.constant(np.stack([photo] * arguments.batch))
    green_batch = tf.constant(np.stack([green[:, :, None]] * arguments.batch))
    green_tensor, photo_tensor = tf.constant(green), tf.constant(photo)

    clahe_graph = tf.function(
        lambda image: clahe(image, 2.0, (8, 8)),
        input_signature=[tf.TensorSpec([None, None], tf.uint8)],
    )
    clahe_batch_graph = tf.function(
        lambda images: clahe_batch(images, 2.0, (8, 8)),
        input_signature=[tf.TensorSpec([None, None, None, 1], tf.uint8)],
    )
    preprocess_graph = tf.function(
        preprocess, input_signature=[tf.TensorSpec([None, None, 3], tf.uint8)]
    )
    preprocess_batch_graph = tf.function(
        preprocess_batch, input_signature=[tf.TensorSpec([None, None, None, 3], tf.uint8)]
    )
    equaliser = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8))

    same = np.array_equal(clahe_graph(green_tensor).numpy(), equaliser.apply(green))
    repeats = arguments.repeats
    rows = [
        ("CLAHE, OpenCV 1 image", milliseconds(lambda: equaliser.apply(green), repeats * 4)),
        ("CLAHE, TF 1 image", milliseconds(lambda: clahe_graph(green_tensor).numpy(), repeats)),
        (
            f"CLAHE, TF batch of {arguments.batch}, per image",
            milliseconds(
                lambda: clahe_batch_graph(green_batch).numpy(), repeats, 2, arguments.batch
            ),
        ),
        (
            "preprocess (classic), TF 1 image",
            milliseconds(lambda: preprocess_graph(photo_tensor).numpy(), repeats),
        ),
        (
            f"preprocess (classic), TF batch of {arguments.batch}, per image",
            milliseconds(
                lambda: preprocess_batch_graph(batch).numpy(), repeats, 2, arguments.batch
            ),
        ),
    ]
    print(f"image: {source}, {photo.shape[1]}x{photo.shape[0]} (W x H); TF {tf.__version__}, "
          f"OpenCV {cv2.__version__}; TF CLAHE equals OpenCV: {same}")
    for label, value in rows:
        print(f"{label:<45} {value:8.2f} ms")


if __name__ == "__main__":
    main()
