"""Throughput of the tf.data training pipeline (patches/s), beside the default training step.

Reads the 20 DRIVE training images from ``../shared/datasets/DRIVE/training`` when present
(with the DRIVE reader), else 20 synthetic retinas. For each tile size pair it times the
pipeline alone, without and with augmentation; then, for the ``drive`` preset (the default
model and tile), the pipeline with the preset's augmentation beside the model's full training
step (``bench_training.time_step``), so one sees that the pipeline is not the bottleneck.

    python3 benchmarks/bench_pipeline.py             # all tile sizes
    python3 benchmarks/bench_pipeline.py --quick     # fewer batches
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import tensorflow as tf

from vesselnet.data import ImageRecord, read_drive, synthetic_dataset
from vesselnet.data.augment import AugmentConfig
from vesselnet.data.pipeline import PatchConfig, dataset_from_source, make_patch_source

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
# TRAINING STEP: the default DRIVE configuration, pipeline beside the model's training step.
# ---------------------------------------------------------------------------------------------
def default_configuration(records, batches: int, train_steps: int) -> None:
    """Patches/s of the ``drive`` preset's pipeline against its training step's patches/s."""
    from bench_training import time_step  # benchmarks/ is on sys.path when run as a script

    from vesselnet.config import load_config

    config = load_config("drive", ['data.data_dir="unused"'])
    patches, model = config.patches, config.model
    source = make_patch_source(records, None, patches)
    dataset = dataset_from_source(source, patches, config.augment)
    pipeline = patches.batch_size / time_batches(dataset, batches)
    print(f"\ndefault configuration (drive preset): {model.arch}, filters {model.filters}, depth "
          f"{model.depth}, {model.padding} padding, tile {patches.input_size} -> "
          f"{patches.output_size}, batch {patches.batch_size}, augmentation on")
    print(f"  pipeline        {pipeline:8.1f} patches/s")
    if train_steps:
        seconds, _, _ = time_step(model.arch, model.filters, model.depth, model.padding,
                                  patches.input_size, patches.batch_size, train_steps)
        print(f"  training step   {patches.batch_size / seconds:8.1f} patches/s "
              f"({seconds:.3f} s per step, random tiles)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=20)
    parser.add_argument("--batches", type=int, default=40, help="timed batches per setting")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--train-steps", type=int, default=10, help="0 skips the model")
    parser.add_argument("--quick", action="store_true", help="10 batches, 3 train steps")
    args = parser.parse_args()
    if args.quick:
        args.batches, args.train_steps = 10, min(args.train_steps, 3)

    records, origin = load_records(args.images)
    start = time.perf_counter()
    source = make_patch_source(records, None, PatchConfig())
    print(f"{origin}; preprocessing + tensor stack {time.perf_counter() - start:.2f} s")
    start = time.perf_counter()
    make_patch_source(records, None, PatchConfig(use_weight_map=True))
    print(f"U-Net weight maps: {(time.perf_counter() - start) / len(records):.3f} s per image")
    print(f"tf {tf.__version__}, batch {args.batch_size}, {args.batches} timed batches\n")
    print(f"{'tile':>12} {'padding':>18} {'augment':>8} {'patches/s':>10}")
    for input_size, output_size, note in TILE_SIZES:
        config = PatchConfig(input_size=input_size, output_size=output_size,
                             batch_size=args.batch_size, patches_per_image=500)
        for augment in (None, AugmentConfig()):
            dataset = dataset_from_source(source, config, augment)
            seconds = time_batches(dataset, args.batches)
            print(f"{input_size:>5} -> {output_size:<4} {note:>18} {str(augment is not None):>8} "
                  f"{args.batch_size / seconds:>10.0f}")
    default_configuration(records, args.batches, args.train_steps)


if __name__ == "__main__":
    main()
