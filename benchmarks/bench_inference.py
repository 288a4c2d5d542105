"""Seconds per 565x584 fundus image with overlap-tile prediction, and peak memory on HRF size.

Run by hand from the repository root:

    python3 benchmarks/bench_inference.py [--repeats 3] [--skip-valid] [--skip-baseline]
        [--skip-hrf]

(a) the bundled model as ``vesselnet predict`` runs it (photograph in: FOV, preprocessing,
automatic tiling); representative valid-padding networks (untrained: speed does not depend on
weights) with ``predict_image`` at several tile sizes and overlaps, and the automatic tile (one
tile covering the image); (b) the common baseline: a 0.47 M-parameter same-padding U-Net
averaging 48x48 patches at stride 5, and the same network on the whole image in one pass; (c)
peak resident memory for one 3504x2336 (HRF) image with the bundled model, measured in a fresh
process. Figures are medians after a first call that traces the ``tf.function`` (its time is
reported as "first call").
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPOSITORY = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPOSITORY))

import tensorflow as tf  # noqa: E402

from vesselnet.inference import (  # noqa: E402
    TileGeometry,
    choose_tile_geometry,
    predict_image,
    tile_geometry,
)
from vesselnet.inference.tile_choice import default_context, default_overlap  # noqa: E402
from vesselnet.inference.tiling import tile_count, tile_step  # noqa: E402
from vesselnet.models import build_model  # noqa: E402

DRIVE_SHAPE = (584, 565, 1)
HRF_SHAPE = (2336, 3504, 1)
VALID_MODELS = {
    "chained f16 d4": ("chained", dict(filters=16, depth=4)),
    "unet f32 d4": ("unet", dict(filters=32, depth=4)),
}
BASELINE = ("unet", dict(filters=32, depth=3, padding="same"))  # 465,986 parameters


def seconds(function, repeats: int) -> tuple[float, float]:
    """(first call, median of ``repeats`` further calls) in seconds."""
    start = time.perf_counter()
    function()
    first = time.perf_counter() - start
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return first, statistics.median(times)


def tiles_of(geometry: TileGeometry, overlap: int, shape=DRIVE_SHAPE, context: int = 0) -> int:
    tile = geometry.output_size - 2 * context
    step = tile_step(tile, overlap, geometry.alignment)
    return int(tile_count(shape[0], tile, step) * tile_count(shape[1], tile, step))


def row(name, setting, tiles, first, median):
    print(f"{name:<16} {setting:<34} {tiles:>7} {first:>9.2f} {median:>9.3f}")


def whole_image_seconds(model, shape, geometry, repeats):
    """One pass of the network over the image padded to the next valid size."""
    sides = [geometry.input_size + max(0, -(-(side + 2 * geometry.margin - geometry.input_size)
                                            // geometry.alignment)) * geometry.alignment
             for side in shape[:2]]
    padded = tf.zeros((1, *sides, shape[2]))
    function = tf.function(lambda x: model(x, training=False))
    return seconds(lambda: tf.nest.map_structure(lambda t: t.numpy(), function(padded)),
                   repeats), sides


def bench_bundled_model(repeats):
    """The bundled model as ``vesselnet predict`` runs it: FOV, preprocessing, automatic tiling."""
    from vesselnet.data import derive_fov, synthetic_retina
    from vesselnet.loading import load_model

    loaded = load_model()
    photograph = synthetic_retina(0).image  # 565x584 RGB
    fov = derive_fov(photograph)
    print(f"\nbundled model: {loaded.description}, {loaded.model.count_params():,} parameters")
    first, median = seconds(lambda: loaded.probability(photograph, fov), repeats)
    auto = choose_tile_geometry(loaded.model, *photograph.shape[:2])
    row("bundled", f"photograph -> map, auto in {auto.input_size} out {auto.output_size}",
        tiles_of(auto, 0), first, median)


def bench_valid_models(image, repeats):
    for name, (arch, options) in VALID_MODELS.items():
        model = build_model(arch, **options)
        print(f"\n{name}: {arch} {options}, valid padding, {model.count_params():,} parameters")
        auto = choose_tile_geometry(model, *image.shape[:2])
        cases = [(auto, 0, "auto")]
        for wanted_output in (128, 256, 388):
            geometry = tile_geometry(model, wanted_output=wanted_output)
            cases += [(geometry, 0, ""), (geometry, 32, "")]
        for geometry, overlap, label in cases:
            first, median = seconds(lambda: predict_image(model, image, tile_size=geometry,
                                                          overlap=overlap), repeats)
            setting = f"{label} in {geometry.input_size} out {geometry.output_size} ov {overlap}"
            row(name, setting.strip(), tiles_of(geometry, overlap), first, median)
        (first, median), sides = whole_image_seconds(model, image.shape, auto, repeats)
        row(name, f"whole image, one pass {sides[0]}x{sides[1]}", 1, first, median)


def bench_baseline(image, repeats):
    arch, options = BASELINE
    model = build_model(arch, **options)
    print(f"\nbaseline: {arch} {options}, {model.count_params():,} parameters")
    patches = TileGeometry(48, 48)  # alignment 1: stride exactly 5
    first, median = seconds(lambda: predict_image(model, image, tile_size=patches, overlap=43,
                                                  batch_size=256, context=0, window="uniform"),
                            max(1, repeats // 3))
    row("baseline", "48x48 patches, stride 5, average", tiles_of(patches, 43), first, median)
    auto = choose_tile_geometry(model, *image.shape[:2])
    context = default_context(auto)
    overlap = default_overlap(auto, context)
    first, median = seconds(lambda: predict_image(model, image), repeats)
    setting = f"auto in {auto.input_size} ctx {context} ov {overlap}"
    row("baseline", setting, tiles_of(auto, overlap, context=context), first, median)
    (first, median), sides = whole_image_seconds(model, image.shape, auto, repeats)
    row("baseline", f"whole image, one pass {sides[0]}x{sides[1]}", 1, first, median)


def memory_mib(field: str) -> float:
    """``VmRSS`` (now) or ``VmHWM`` (peak) of this process from /proc, in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def hrf_memory_child():
    """Runs in a fresh process: RSS before, then peak RSS over one HRF image.

    ``ru_maxrss`` is inherited from the parent across fork/exec on Linux, so the peak is read
    from ``VmHWM``, reset first through ``/proc/self/clear_refs``.
    """
    from vesselnet.loading import load_model

    model = load_model().model  # the bundled model
    image = np.random.default_rng(0).random(HRF_SHAPE, dtype=np.float32)
    geometry = choose_tile_geometry(model, *HRF_SHAPE[:2])
    predict_image(model, image[:64, :64], tile_size=geometry)  # traces the function
    before = memory_mib("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # reset the peak to the current RSS
    start = time.perf_counter()
    predict_image(model, image, tile_size=geometry)
    elapsed = time.perf_counter() - start
    peak = memory_mib("VmHWM")
    print(f"HRF {HRF_SHAPE[1]}x{HRF_SHAPE[0]}, bundled model, tile in {geometry.input_size} "
          f"out {geometry.output_size}, {tiles_of(geometry, 0, HRF_SHAPE)} tiles, batch 2: "
          f"{elapsed:.1f} s; RSS before {before:.0f} MiB (TF, model, traced function, image), "
          f"peak {peak:.0f} MiB (+{peak - before:.0f} MiB)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-valid", action="store_true")
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--skip-hrf", action="store_true")
    parser.add_argument("--hrf-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.hrf_child:
        hrf_memory_child()
        return
    image = np.random.default_rng(0).random(DRIVE_SHAPE, dtype=np.float32)
    print(f"seconds per {DRIVE_SHAPE[1]}x{DRIVE_SHAPE[0]} image, TF {tf.__version__}, "
          f"median of {args.repeats}; load average {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} cores (other users' jobs slow every figure)")
    print(f"{'model':<16} {'tiling':<34} {'tiles':>7} {'first call':>9} {'seconds':>9}")
    bench_bundled_model(args.repeats)
    if not args.skip_valid:
        bench_valid_models(image, args.repeats)
    if not args.skip_baseline:
        bench_baseline(image, args.repeats)
    if not args.skip_hrf:
        print()
        subprocess.run([sys.executable, __file__, "--hrf-child"], check=True)


if __name__ == "__main__":
    main()
