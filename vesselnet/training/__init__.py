"""Training: ``fit(config, run_dir, resume=False)`` and the pieces it is made of.

One custom loop serves every strategy (default, ``MirroredStrategy``,
``MultiWorkerMirroredStrategy``): ``experimental_distribute_dataset``, a ``tf.function``
step under ``strategy.run``, pixel-weighted global loss scaling, optional float16 loss
scaling; atomic checkpoints every N steps with the data-order position; whole-image
validation with the best and final models kept as bundles (see :mod:`vesselnet.bundle`).
``resume_config(run_dir)`` reads back the configuration a run directory was started with.
"""

from vesselnet.training.checkpoint import CheckpointStore, TrainingState
from vesselnet.training.components import RunComponents, build_components, total_steps
from vesselnet.training.distribute import WorkerRole, make_strategy, worker_role
from vesselnet.training.history import RunHistory
from vesselnet.training.loop import FitResult, TrainingDivergedError, fit
from vesselnet.training.objective import TrainingObjective
from vesselnet.training.optimizers import WarmupSchedule, build_optimizer, build_schedule
from vesselnet.training.run_config import resume_config
from vesselnet.training.sources import RunImages, load_run_images
from vesselnet.training.step import make_train_step
from vesselnet.training.validation import ValidationResult, Validator

__all__ = [
    "CheckpointStore",
    "FitResult",
    "RunComponents",
    "RunHistory",
    "RunImages",
    "TrainingDivergedError",
    "TrainingObjective",
    "TrainingState",
    "ValidationResult",
    "Validator",
    "WarmupSchedule",
    "WorkerRole",
    "build_components",
    "build_optimizer",
    "build_schedule",
    "fit",
    "load_run_images",
    "make_strategy",
    "make_train_step",
    "resume_config",
    "total_steps",
    "worker_role",
]
