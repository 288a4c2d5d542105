"""Exported models against the Keras network: size, seconds per 565x584 image, F1 and AUC.

Run by hand from the repository root:

    python3 benchmarks/bench_export.py [--bundle runs/NAME/best] [--data-dir DRIVE]
        [--images 4] [--repeats 2] [--threads 2] [--calibration-tiles 32] [--keep DIR]

The bundle defaults to the bundled ``vesselnet/pretrained/multi-chained`` when present, else
a freshly built (untrained) chained U-Net with 16 filters and depth 4. Held-out images: the bundle card's
validation images from the DRIVE training split (``../shared/datasets/DRIVE``), else the last
four DRIVE training images, else synthetic retinas. Every format is exported into a temporary
folder (or ``--keep``) with the bundle's tile; int8 is calibrated on DRIVE training images that
are not held out (synthetic retinas without DRIVE).

Rows: the Keras network with ``predict_image``; each TFLite variant through LiteRT with the
same host tiling (``vesselnet.loading.load_model``); the SavedModel's ``serving_default`` signature, whose
time includes the in-graph FOV and preprocessing (the other rows get a preprocessed image).
F1 (at 0.5) and AUC-ROC are pooled over the held-out images inside their official FOV
(``vesselnet.metrics``); "abs dp" is the probability difference to Keras in the FOVs. Latency is
the median over images and repeats after a first call, which traces or allocates.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPOSITORY = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPOSITORY))

import dataclasses  # noqa: E402

import keras  # noqa: E402

from vesselnet.bundle import default_card  # noqa: E402
from vesselnet.card import ModelCard  # noqa: E402
from vesselnet.data import read_drive, synthetic_retina  # noqa: E402
from vesselnet.export.saved_model import export_geometry, export_saved_model  # noqa: E402
from vesselnet.export.tflite import export_tflite  # noqa: E402
from vesselnet.inference import TileGeometry, predict_image  # noqa: E402
from vesselnet.loading import load_model  # noqa: E402
from vesselnet.metrics import MetricAccumulator  # noqa: E402
from vesselnet.models import build_model  # noqa: E402
from vesselnet.preprocessing import preprocess  # noqa: E402

DEFAULT_BUNDLE = REPOSITORY / "vesselnet" / "pretrained" / "multi-chained"
DEFAULT_DRIVE = REPOSITORY.parent / "shared" / "datasets" / "DRIVE"


def load_network(bundle: Path):
    """(model, card, description) of the bundle, or of a fresh model when it is missing."""
    if (bundle / "card.json").is_file():
        loaded = load_model(bundle)
        model, card = loaded.model, loaded.card
        steps = card.training.steps if card.training else None
        return model, card, f"{bundle} (step {steps})" if steps else str(bundle)
    keras.utils.set_random_seed(0)
    model = build_model("chained", filters=16, depth=4)
    card = dataclasses.replace(default_card(model), tile_geometry=TileGeometry(372, 196, 8))
    return model, card, "fresh chained f16 d4 (untrained; no bundle found)"


def held_out_records(card: ModelCard, data_dir: Path, count: int):
    """(held-out records, calibration records, description)."""
    if not (data_dir / "training" / "images").is_dir():
        records = [synthetic_retina(seed) for seed in range(100, 100 + count)]
        return records, None, "synthetic retinas (DRIVE not found)"
    records = read_drive(data_dir, "training")
    names = card.held_out_images("drive") or [record.name for record in records[-4:]]
    held = [record for record in records if record.name in names][:count]
    rest = [record for record in records if record.name not in names]
    return held, rest, f"DRIVE training {', '.join(record.name for record in held)}"


def timed(function, inputs, repeats: int):
    """(outputs of the first pass, median seconds per call after the first call)."""
    outputs = [function(item) for item in inputs]  # first pass: traces, allocates
    times = []
    for _ in range(repeats):
        for item in inputs:
            start = time.perf_counter()
            function(item)
            times.append(time.perf_counter() - start)
    return outputs, statistics.median(times)


def scores(probabilities, records, reference=None):
    """(pooled F1, pooled AUC-ROC, mean and max |p - p_keras| inside the FOVs)."""
    accumulator = MetricAccumulator()
    differences = []
    for index, (probability, record) in enumerate(zip(probabilities, records)):
        accumulator.update(np.clip(probability, 0, 1), record.vessels, record.fov)
        if reference is not None:
            differences.append(np.abs(probability - reference[index])[record.fov])
    result = accumulator.result()
    differences = np.concatenate(differences) if differences else np.zeros(1)
    return result["f1"], result["auc_roc"], differences.mean(), differences.max()


def folder_size(path: Path) -> int:
    return sum(entry.stat().st_size for entry in path.rglob("*") if entry.is_file())


def main(arguments=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, default=DEFAULT_BUNDLE)
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DRIVE)
    parser.add_argument("--images", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2, help="LiteRT CPU threads")
    parser.add_argument("--calibration-tiles", type=int, default=32)
    parser.add_argument("--keep", type=Path, default=None, help="write the exports here")
    options = parser.parse_args(arguments)

    model, card, description = load_network(options.bundle)
    records, calibration, data = held_out_records(card, options.data_dir, options.images)
    config = card.preprocessing
    geometry = export_geometry(model, card)
    inputs = [preprocess(record.image, config, record.fov).numpy()
              for record in records]
    print(f"model: {description}; {model.count_params():,} parameters; tile {geometry}")
    print(f"held-out images: {data}")

    with tempfile.TemporaryDirectory() as temporary:
        out = options.keep or Path(temporary)
        start = time.perf_counter()
        saved_model = export_saved_model(model, card, out, name="bench")
        exported_seconds = time.perf_counter() - start
        start = time.perf_counter()
        tflite = export_tflite(model, card, out, name="bench", calibration_records=calibration,
                               calibration_count=options.calibration_tiles)
        print(f"exported in {exported_seconds:.0f} s (SavedModel) and "
              f"{time.perf_counter() - start:.0f} s (4 TFLite variants) into {out}\n")

        rows = []
        keras_file = out / "bench.keras"
        model.save(keras_file)
        reference, seconds = timed(lambda image: predict_image(model, image, tile_size=geometry),
                                   inputs, options.repeats)
        rows.append(("Keras (.keras)", keras_file.stat().st_size, seconds,
                     *scores(reference, records)))
        for quantization, path in tflite.items():
            loaded = load_model(path, num_threads=options.threads)
            outputs, seconds = timed(loaded.predict, inputs, options.repeats)
            rows.append((f"TFLite {quantization}", path.stat().st_size, seconds,
                         *scores(outputs, records, reference)))
        loaded = load_model(saved_model)
        outputs, seconds = timed(lambda record: loaded.model.predict_photograph(record.image)[0],
                                 records, options.repeats)
        rows.append(("SavedModel serving_default*", folder_size(saved_model), seconds,
                     *scores(outputs, records, reference)))

    print("| format | size (MB) | s / image | F1 | AUC-ROC | mean abs dp | max abs dp |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, size, seconds, f1, auc, mean, largest in rows:
        difference = "- | -" if name.startswith("Keras") else f"{mean:.1e} | {largest:.1e}"
        print(f"| {name} | {size / 1e6:.2f} | {seconds:.2f} | {f1:.4f} | {auc:.4f} | "
              f"{difference} |")
    print("\n* includes the in-graph FOV and preprocessing; other rows get preprocessed input.")


if __name__ == "__main__":
    main()
