"""``export_model``: what ``vesselnet export`` does, as one typed library call.

Example:
    >>> options = ExportOptions(formats=("saved_model",), name="vesselnet", tile_size=372)
    >>> export_model("runs/drive/best", "export", options)
    ExportResult(saved_model=PosixPath('export/vesselnet/1'), tflite={})
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import keras

from vesselnet.card import ModelCard
from vesselnet.core.checks import check_int
from vesselnet.export.calibration import DEFAULT_CALIBRATION_TILES
from vesselnet.export.saved_model import export_saved_model, remove_stale_exports
from vesselnet.export.tflite import QUANTIZATIONS, export_tflite
from vesselnet.loading import load_model

EXPORT_FORMATS = ("saved_model", "tflite")


@dataclasses.dataclass(frozen=True)
class ExportOptions:
    """What to export and how.

    Args:
        formats: any of ``EXPORT_FORMATS``. Defaults to both.
        name: model name (SavedModel folder, ``.tflite`` prefix). Defaults to "vesselnet".
        version: SavedModel version. Defaults to None (the next free one).
        tile_size: input tile side. Defaults to None (the card's tile, else near 572).
        quantizations: TFLite variants, from ``QUANTIZATIONS``. Defaults to all four.
        calibration_data: data-set folder whose training images calibrate int8, less the
            model's validation images when it is the model's own data set. Defaults to None
            (synthetic retinas).
        calibration_dataset: reader name for ``calibration_data`` (see
            ``vesselnet.data.READERS``). Defaults to "drive".
        calibration_tiles: representative tiles for int8. Defaults to 32.

    Example:
        >>> ExportOptions(formats=("tflite",), quantizations=("float16", "int8"))
    """

    formats: tuple[str, ...] = EXPORT_FORMATS
    name: str = "vesselnet"
    version: int | None = None
    tile_size: int | None = None
    quantizations: tuple[str, ...] = QUANTIZATIONS
    calibration_data: str | Path | None = None
    calibration_dataset: str = "drive"
    calibration_tiles: int = DEFAULT_CALIBRATION_TILES

    def __post_init__(self):
        formats = tuple(dict.fromkeys(self.formats))
        if not formats or any(fmt not in EXPORT_FORMATS for fmt in formats):
            raise ValueError(f"formats must be among {EXPORT_FORMATS}, got {self.formats!r}")
        object.__setattr__(self, "formats", formats)
        for key in ("tile_size", "version"):
            check_int(key, getattr(self, key), 1, optional=True)
        check_int("calibration_tiles", self.calibration_tiles, 1)


@dataclasses.dataclass(frozen=True)
class ExportResult:
    """Where an export landed: the SavedModel version directory and the ``.tflite`` files;
    ``removed``: temporaries of earlier, killed exports that were deleted first."""

    saved_model: Path | None
    tflite: dict[str, Path]
    removed: tuple[Path, ...] = ()


def _calibration_records(options: ExportOptions, card: ModelCard):
    """The calibration data set's training images, less those the model was validated on.

    When the calibration set is a data set the model was trained on (alone or beside others),
    the images its card holds out of that set (:meth:`ModelCard.held_out_images`) stay out of
    calibration, so that they remain held out for the exported model too.
    """
    if options.calibration_data is None:
        return None
    from vesselnet.data import read_dataset
    from vesselnet.data.readers import dataset_key

    key = dataset_key(options.calibration_dataset)
    split = "training" if key in ("drive", "chase_db1") else "all"
    records = read_dataset(key, options.calibration_data, split)
    held_out = set(card.held_out_images(key))
    if not held_out:
        return records
    kept = [record for record in records if record.name not in held_out]
    if not kept:
        raise ValueError(f"{options.calibration_data}: every {split} image is one of the "
                         "model's validation images; give another --calibration-data")
    return kept


def export_model(model_path: str | Path | None, out_dir: str | Path,
                 options: ExportOptions = ExportOptions()) -> ExportResult:
    """Loads a bundle (or ``.keras`` file; None: the bundled model) and writes the requested
    exports into ``out_dir``.

    Temporaries that killed exports of the same model name left in ``out_dir`` are removed
    first (see :func:`~vesselnet.export.saved_model.remove_stale_exports`).

    Raises:
        ValueError: a bad model path or option (the message names it).
    """
    removed = tuple(remove_stale_exports(out_dir, options.name))
    loaded = load_model(model_path)
    if not isinstance(loaded.model, keras.Model):
        raise ValueError(f"{loaded.source}: an exported {loaded.format} model cannot be exported "
                         "again; pass the bundle directory or .keras file it came from")
    model, card = loaded.model, loaded.card
    saved_model = None
    if "saved_model" in options.formats:
        saved_model = export_saved_model(model, card, out_dir, name=options.name,
                                         version=options.version, tile_size=options.tile_size)
    tflite = {}
    if "tflite" in options.formats:
        tflite = export_tflite(model, card, out_dir, name=options.name,
                               tile_size=options.tile_size, quantizations=options.quantizations,
                               calibration_records=_calibration_records(options, card),
                               calibration_count=options.calibration_tiles)
    return ExportResult(saved_model, tflite, removed)
