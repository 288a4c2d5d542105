"""Throughput of the tf.data training pipeline (patches/s), beside the training step of a U-Net.

Reads the 20 DRIVE training images from ``../shared/datasets/DRIVE/training`` when present
(with the DRIVE reader), else 20 synthetic retinas. For each tile size
pair it times the pipeline alone, without and with augmentation, then (section "TRAINING
STEP") Keras train steps of ``build_model("unet", filters=16, depth=4, padding="same")`` fed
by the pipeline.

    PYTHONPATH=. python3 benchmarks/bench_pipeline.py             # all tile sizes
    PYTHONPATH=. python3 benchmarks/bench_pipeline.py --quick     # fewer batches
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import tensorflow as tf

from vesselnet.data.augment import AugmentConfig
from vesselnet.data.pipeline import PatchConfig, dataset_from_source, make_patch_source
from vesselnet.data import ImageRecord, read_drive, synthetic_dataset

DRIVE = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "DRIVE" / "training"
# (input, output, note): same padding; valid padding with 3 and 4 poolings
TILE_SIZES = ((64, 64, "same"), (140, 52, "valid, 3 poolings"), (236, 52, "valid, 4 poolings"))


def load_records(count: int) -> tuple[list[ImageRecord], str]:
    """DRIVE training images when present, else synthetic retinas."""
    if DRIVE.exists():
        records = read_drive(DRIVE, "training")[:count]
        return records, f"DRIVE training ({len(records)} images)"
    return synthetic_dataset(count, seed=0), f"synthetic ({count} images)"


def time_batches(dataset: tf.data.Dataset, batches: int, warmup: int = 3) -> float:
    """Seconds per batch after ``warmup`` batches."""
    iterator = iter(dataset)
    for _ in range(warmup):
        next(iterator)
    start = time.perf_counter()
    for _ in range(batches):
        next(iterator)
    return (time.perf_counter() - start) / batches


# ---------------------------------------------------------------------------------------------
# TRAINING STEP: Keras train-step throughput of the default model, printed beside the pipeline.
# ---------------------------------------------------------------------------------------------
def weighted_nll(y_true, log_probabilities):
    """Sparse cross-entropy on ``y[..., 0]`` weighted by ``y[..., 1]`` (log-softmax outputs)."""
    labels = tf.cast(y_true[..., 0], tf.int32)
    weights = y_true[..., 1]
    picked = tf.gather(log_probabilities, labels, axis=-1, batch_dims=3)
    return -tf.reduce_sum(picked * weights) / tf.maximum(tf.reduce_sum(weights), 1.0)


def time_training_steps(dataset, input_size, output_size, steps):
    """Train steps/s of U-Net (filters 16, depth 4) on the pipeline, or None if unavailable."""
    try:
        from vesselnet.models import build_model
    except ImportError:
        return None
    padding = "same" if input_size == output_size else "valid"
    try:
        model = build_model("unet", input_size=input_size, filters=16, depth=4, padding=padding)
    except ValueError as error:  # tile pair not valid for depth 4
        print(f"    (no depth-4 U-Net for {input_size} -> {output_size}: {error})")
        return None
    if model.output_shape[1] != output_size:
        print(f"    (depth-4 U-Net gives {model.output_shape[1:3]}, not {output_size}: skipped)")
        return None
    import keras

    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=weighted_nll)
    model.fit(dataset, steps_per_epoch=3, epochs=1, verbose=0)  # build and trace
    start = time.perf_counter()
    model.fit(dataset, steps_per_epoch=steps, epochs=1, verbose=0)
    return steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=20)
    parser.add_argument("--batches", type=int, default=40, help="timed batches per setting")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--train-steps", type=int, default=20, help="0 skips the model")
    parser.add_argument("--quick", action="store_true", help="10 batches, 5 train steps")
    args = parser.parse_args()
    if args.quick:
        args.batches, args.train_steps = 10, min(args.train_steps, 5)

    records, origin = load_records(args.images)
    start = time.perf_counter()
    source = make_patch_source(records, None, PatchConfig())
    print(f"{origin}; preprocessing + tensor stack {time.perf_counter() - start:.2f} s")
    start = time.perf_counter()
    make_patch_source(records, None, PatchConfig(use_weight_map=True))
    print(f"U-Net weight maps: {(time.perf_counter() - start) / len(records):.3f} s per image")
    print(f"tf {tf.__version__}, batch {args.batch_size}, {args.batches} timed batches\n")
    print(f"{'tile':>12} {'padding':>18} {'augment':>8} {'patches/s':>10} {'train steps/s':>14}")
    for input_size, output_size, note in TILE_SIZES:
        config = PatchConfig(input_size=input_size, output_size=output_size,
                             batch_size=args.batch_size, patches_per_image=500)
        for augment in (None, AugmentConfig()):
            dataset = dataset_from_source(source, config, augment)
            seconds = time_batches(dataset, args.batches)
            train = "-"
            if augment is None and args.train_steps and input_size == output_size:
                rate = time_training_steps(dataset, input_size, output_size, args.train_steps)
                train = "-" if rate is None else f"{rate:.2f} ({rate * args.batch_size:.0f} p/s)"
            print(f"{input_size:>5} -> {output_size:<4} {note:>18} {str(augment is not None):>8} "
                  f"{args.batch_size / seconds:>10.0f} {train:>14}")


if __name__ == "__main__":
    main()
