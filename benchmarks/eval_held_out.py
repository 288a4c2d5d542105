"""Models side by side on the held-out images of every data set a card names.

Run by hand from the repository root:

    python3 benchmarks/eval_held_out.py [--model NAME_OR_PATH ...] [--sets-from NAME_OR_PATH]
        [--data-root ../shared/datasets] [--out DIR] [--precision auto|float32|mixed_bfloat16]

The held-out images are those of the card of ``--sets-from`` (default: the bundled default
model): for each of its training sets, the images it kept out of training
(``DataSetRecord.validation_images``). Each model (default: the bundled default model and
``drive-ensemble``) is scored on each set as ``vesselnet evaluate`` scores it, with
``--scale auto`` (inside the FOV, threshold 0.5, all FOV pixels of the set pooled, on the
photographs' own grid), and the card's own figure is printed beside it. The reports go to
``--out`` (a temporary folder by default). A set whose folder is missing is skipped.

The card's figures and ``evaluate``'s may differ a little: validation during training reads
each photograph's FOV diameter from its FOV mask once, while ``evaluate`` measures it the same
way per photograph; both score on the original grid.
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
from vesselnet.inference.precision import PRECISIONS  # noqa: E402
from vesselnet.jobs import EvaluationOptions, evaluate_dataset  # noqa: E402
from vesselnet.loading import load_model  # noqa: E402

FOLDERS = {"DRIVE": "DRIVE", "CHASE_DB1": "CHASE_DB1", "LES_AV": "LES_AV"}
"""Folder under --data-root of each set name (a set not listed uses its own name)."""


def held_out_sets(source: str | None, data_root: Path):
    """``(name, reader, folder, split, images, card figure)`` of each training set of a card
    whose folder is under ``data_root`` (the others are skipped with a line on stderr)."""
    card = load_model(source, InferenceOptions()).card
    sets = card.training.sets if card.training else ()
    if not sets:
        raise SystemExit(f"{source or 'the bundled model'}: its card names no training sets "
                         "with held-out images; give --sets-from a model trained on several")
    for item in sets:
        folder = data_root / FOLDERS.get(item.name, item.name)
        if not folder.is_dir():
            print(f"skipped {item.name}: {folder} not found", file=sys.stderr)
            continue
        images = tuple(name.split(":", 1)[-1] for name in item.validation_images)
        yield item.name, item.dataset, folder, item.split, images, item.best_validation


def add_held_out_arguments(parser: argparse.ArgumentParser, models: str) -> None:
    """``--model`` (default: ``models``), ``--sets-from``, ``--data-root`` and ``--precision``."""
    parser.add_argument("--model", action="append", default=None,
                        help=f"repeatable; default: {models}")
    parser.add_argument("--sets-from", default=None,
                        help="the card naming the held-out images; default: the bundled model")
    parser.add_argument("--data-root", type=Path,
                        default=REPOSITORY.parent / "shared" / "datasets")
    parser.add_argument("--precision", choices=PRECISIONS, default=InferenceOptions.precision,
                        help="arithmetic of the networks (default: predict's)")


def main(arguments=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_held_out_arguments(parser, "the bundled default model and drive-ensemble")
    parser.add_argument("--out", type=Path, default=None)
    options = parser.parse_args(arguments)
    models = options.model or [None, "drive-ensemble"]
    out = options.out or Path(tempfile.mkdtemp(prefix="eval-held-out-"))
    rows = []
    for name, reader, folder, split, images, figure in held_out_sets(options.sets_from,
                                                                      options.data_root):
        inference = InferenceOptions(scale="auto", precision=options.precision)
        for index, model in enumerate(models):
            start = time.perf_counter()
            report = evaluate_dataset(
                model, reader, folder, split, out / f"{name}-{index}",
                EvaluationOptions(inference=inference, images=images, figures=False,
                                  save_maps=False))
            seconds = (time.perf_counter() - start) / len(images)
            rows.append((name, len(images), model or "bundled default", report.aggregate,
                         figure if index == 0 else None, seconds))
            print(f"done: {name} {model or 'bundled default'}", file=sys.stderr)
    print(f"held-out images from the card of {options.sets_from or 'the bundled model'}, "
          f"precision {options.precision}; reports in {out}")
    print("| data set (held-out images) | model | F1 | AUC-ROC | AUC-PR | sensitivity | "
          "precision | card's F1 / AUC | s / photograph |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, count, model, aggregate, figure, seconds in rows:
        card = f"{figure['f1']:.4f} / {figure['auc']:.4f}" if figure else "-"
        print(f"| {name} ({count}) | {model} | {aggregate['f1']:.4f} | "
              f"{aggregate['auc_roc']:.4f} | {aggregate['auc_pr']:.4f} | "
              f"{aggregate['sensitivity']:.4f} | {aggregate['precision']:.4f} | {card} | "
              f"{seconds:.2f} |")


if __name__ == "__main__":
    main()
