"""Time and peak memory of ``vesselnet predict`` with ``--scale auto`` and ``--scale none``.

Run by hand from the repository root:

    python3 benchmarks/bench_scale.py [--model NAME_OR_PATH[@BATCH] ...] [--scale auto|none]
        [--size HRF-size ...] [--repeats 2] [--precision auto|float32|mixed_bfloat16]

For a DRIVE-size (565x584), a CHASE_DB1-size (999x960) and an HRF-size (3504x2336) photograph,
each case runs in a fresh process: the model is loaded, one prediction of the whole photograph
(FOV given, as ``LoadedModel.predict_photograph`` runs it: FOV diameter, resampling,
preprocessing, tiling, resampling back) traces the functions, then ``--repeats`` more are timed
(median). Peak memory is the growth of the process's resident set (``VmHWM``, reset through
``/proc/self/clear_refs``) over the loaded model: during the first prediction (tracing
included: what one ``vesselnet predict`` of the photograph costs) and over the timed repeats
(what a long-running process adds per photograph once its buffers exist). The photographs are the
project's synthetic retinas (``vesselnet.data.synthetic_retina``) of those sizes, whose FOV
fills most of the shorter side, so the scale factors are about those of real photographs of
these cameras. Several ``--model`` are measured one after the other in the same run, so their
ratios do not depend on how fast the machine runs that day.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPOSITORY))

from vesselnet.core.sizes import DEFAULT_BATCH_SIZE  # noqa: E402
from vesselnet.inference import InferenceOptions  # noqa: E402
from vesselnet.inference.precision import PRECISIONS  # noqa: E402

SIZES = {"DRIVE-size": (584, 565), "CHASE_DB1-size": (960, 999), "HRF-size": (2336, 3504)}
SCALES = ("auto", "none")


def memory_mib(field: str) -> float:
    """``VmRSS`` (now) or ``VmHWM`` (peak) of this process from /proc, in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def split_model(text: str | None) -> tuple[str | None, int]:
    """``NAME_OR_PATH[@BATCH]`` -> (model, tiles per network call)."""
    if text and "@" in text:
        model, batch = text.rsplit("@", 1)
        return model, int(batch)
    return text, DEFAULT_BATCH_SIZE


def child(model: str | None, size: str, scale: str, repeats: int, precision: str) -> None:
    """One case in this (fresh) process; prints one JSON line."""
    from vesselnet.data import synthetic_retina
    from vesselnet.loading import load_model

    record = synthetic_retina(0, size=SIZES[size])
    model, batch_size = split_model(model)
    loaded = load_model(model, InferenceOptions(scale=scale, batch_size=batch_size,
                                                    precision=precision))
    loaded_mib = memory_mib("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # reset the peak to the current RSS
    start = time.perf_counter()
    prediction = loaded.predict_photograph(record.image, record.fov)
    first = time.perf_counter() - start
    first_peak = memory_mib("VmHWM") - loaded_mib
    before = memory_mib("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # reset the peak to the current RSS
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        loaded.predict_photograph(record.image, record.fov)
        times.append(time.perf_counter() - start)
    print(json.dumps({"size": size, "scale": scale, "first": first,
                      "median": statistics.median(times),
                      "peak_mib": memory_mib("VmHWM") - before, "first_peak_mib": first_peak,
                      "factor": prediction.scale.factor,
                      "fov_diameter": prediction.scale.fov_diameter,
                      "model": loaded.description, "batch_size": batch_size,
                      "precision": precision}))


def main(arguments=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", default=None,
                        help="NAME_OR_PATH[@BATCH] (tiles per network call, default "
                             f"{DEFAULT_BATCH_SIZE}); repeatable, measured in one run; "
                             "default: the bundled model")
    parser.add_argument("--size", action="append", choices=list(SIZES), default=None,
                        help="repeatable; default: all three")
    parser.add_argument("--scale", action="append", choices=SCALES, default=None,
                        help="repeatable; default: both")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--precision", choices=PRECISIONS, default=InferenceOptions.precision,
                        help="arithmetic of the networks (default: predict's)")
    parser.add_argument("--child", nargs=2, metavar=("SIZE", "SCALE"), help=argparse.SUPPRESS)
    options = parser.parse_args(arguments)
    if options.child:
        child(options.model[0] if options.model else None, *options.child, options.repeats,
              options.precision)
        return
    rows = []
    for model in options.model or [None]:
        for size in options.size or SIZES:
            for scale in options.scale or SCALES:
                command = [sys.executable, __file__, "--repeats", str(options.repeats),
                           "--precision", options.precision,
                           "--child", size, scale] + (["--model", model] if model else [])
                output = subprocess.run(command, check=True, capture_output=True,
                                        text=True).stdout
                rows.append(json.loads(output.strip().splitlines()[-1]))
                print(f"done: {model or 'bundled'} {size} {scale}", file=sys.stderr)
    print("| model | precision | tiles per call | photograph | --scale | factor | FOV diameter "
          "| s / photograph (median) | first call | peak memory growth, first call / repeats |")
    print("|---|---|---:|---|---|---:|---:|---:|---:|---:|")
    for row in rows:
        height, width = SIZES[row["size"]]
        diameter = f"{row['fov_diameter']:.0f}" if row["fov_diameter"] else "-"
        print(f"| {row['model']} | {row['precision']} | {row['batch_size']} | "
              f"{row['size']} {width}x{height} | {row['scale']} | {row['factor']:.3f} | "
              f"{diameter} | {row['median']:.2f} | {row['first']:.2f} | "
              f"{row['first_peak_mib']:.0f} / {row['peak_mib']:.0f} MiB |")


if __name__ == "__main__":
    main()
