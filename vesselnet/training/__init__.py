"""Training: ``fit(config, run_dir, resume=False)`` and the pieces it is made of.

One custom loop serves every strategy (default, ``MirroredStrategy``,
``MultiWorkerMirroredStrategy``): ``experimental_distribute_dataset``, a ``tf.function``
step under ``strategy.run``, pixel-weighted global loss scaling, optional float16 loss
scaling; atomic checkpoints every N steps with the data-order position; whole-image
validation with the best and final models kept as bundles (see :mod:`vesselnet.bundle`).
Every photograph is first brought to the run's scale, ``data.fov_diameter``
(:mod:`vesselnet.training.scale`); validation scores on the original grid.
``resume_config(run_dir)`` reads back the configuration a run directory was started with,
refusing an empty or damaged ``config.toml``; a resume starts from the newest *intact*
checkpoint (damaged newer ones are named and skipped), and a new run never replaces an
earlier run's results unless asked to (``overwrite``, :mod:`vesselnet.training.run_folder`).
"""

from vesselnet.training.loop import FitResult, TrainingDivergedError, fit
from vesselnet.training.run_config import resume_config
from vesselnet.training.validation import ValidationResult, Validator

__all__ = [
    "FitResult",
    "TrainingDivergedError",
    "ValidationResult",
    "Validator",
    "fit",
    "resume_config",
]
