"""Prediction on the user's photographs, as a library (``vesselnet predict`` calls it).

- ``predict_files``: files, folders, globs -> probability maps, binary masks, overlays.
- ``PredictionOptions`` / ``InferenceOptions``: what is written and how the network runs.
- ``load_model_source`` / ``ModelRunner`` / ``DEFAULT_MODEL``: a bundle or ``.keras`` file
  ready for whole photographs (also used by :mod:`vesselnet.evaluation`).
- ``collect_inputs``, ``FovSource``: which files, and their FOV masks.
- ``atomic_write_bytes``, ``encode_probability``, ``overlay``: the output files.

Example:
    >>> from vesselnet.predict import PredictionOptions, predict_files
    >>> report = predict_files(["photos/*.jpg"], "runs/drive/best", "out",
    ...                        PredictionOptions(map_format="png16"))
    >>> len(report.succeeded), [outcome.error for outcome in report.failed]
"""

from vesselnet.predict.inputs import FOV_SUFFIXES, FovSource, InputFile, collect_inputs
from vesselnet.predict.job import (
    ImageOutcome,
    PredictionOptions,
    PredictionReport,
    image_threshold,
    parse_threshold,
    predict_files,
)
from vesselnet.predict.runner import (
    DEFAULT_MODEL,
    SAMPLE_IMAGE,
    InferenceOptions,
    ModelRunner,
    load_model_source,
)
from vesselnet.predict.writers import (
    MAP_FORMATS,
    atomic_write_bytes,
    atomic_write_text,
    encode_png,
    encode_probability,
    json_text,
    output_paths,
    overlay,
    write_prediction,
)

__all__ = [
    "DEFAULT_MODEL",
    "FOV_SUFFIXES",
    "MAP_FORMATS",
    "FovSource",
    "ImageOutcome",
    "InferenceOptions",
    "InputFile",
    "ModelRunner",
    "PredictionOptions",
    "PredictionReport",
    "SAMPLE_IMAGE",
    "atomic_write_bytes",
    "atomic_write_text",
    "collect_inputs",
    "encode_png",
    "encode_probability",
    "image_threshold",
    "json_text",
    "load_model_source",
    "output_paths",
    "overlay",
    "parse_threshold",
    "predict_files",
    "write_prediction",
]
