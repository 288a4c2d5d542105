"""What each command does, as one typed library call (the CLI only parses arguments).

- ``predict_files``: photographs (files, folders, globs) -> probability maps, masks, overlays.
- ``evaluate_dataset``: a model on a labelled split, scored inside the FOV, with a report.
- ``make_ensemble``: trained bundles averaged into one bundle.
- ``export_model``: a model as SavedModel (TF Serving) and TFLite files.

Example:
    >>> from vesselnet.jobs import PredictionOptions, predict_files
    >>> report = predict_files(["photos/*.jpg"], "runs/drive/best", "out",
    ...                        PredictionOptions(map_format="png16"))
"""

from vesselnet.jobs.ensemble import EnsembleResult, make_ensemble
from vesselnet.jobs.evaluate import EvaluationOptions, evaluate_dataset
from vesselnet.jobs.export import ExportOptions, ExportResult, export_model
from vesselnet.jobs.predict import PredictionOptions, PredictionReport, predict_files
from vesselnet.jobs.report import EvaluationReport

__all__ = [
    "EnsembleResult",
    "EvaluationOptions",
    "EvaluationReport",
    "ExportOptions",
    "ExportResult",
    "PredictionOptions",
    "PredictionReport",
    "evaluate_dataset",
    "export_model",
    "make_ensemble",
    "predict_files",
]
