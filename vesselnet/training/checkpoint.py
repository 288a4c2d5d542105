"""Atomic training checkpoints: ``tf.train.Checkpoint`` plus the loop's position, kept last K.

A checkpoint is a directory ``ckpt-<step>`` holding the TensorFlow checkpoint files (model,
optimizer, step counter, the stochastic loss's seed state) and ``state.json``
(:class:`TrainingState`: data-order position, wall time, early-stopping bookkeeping). It is
written into a hidden temporary directory and renamed into place, so a process killed at any
moment leaves either the complete checkpoint or none. Directory renames replace nothing on
POSIX, so an existing checkpoint of the same step is first moved aside.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
from pathlib import Path

import tensorflow as tf

from vesselnet.core.files import replace_directory, sync_directory
from vesselnet.training.distribute import WorkerRole

PREFIX = "ckpt-"
STATE_FILE = "state.json"


@dataclasses.dataclass(frozen=True)
class TrainingState:
    """Where the loop is, besides the variables.

    Args:
        step: optimizer steps done (batches consumed).
        epoch / step_in_epoch: the data-order position of the next batch.
        wall_seconds: training wall-clock time so far (validation and checkpoints included).
        best_f1 / best_step: best validation F1 so far and its step (NaN / -1 before any).
        stale_validations: validations since the best one (for early stopping).
    """

    step: int = 0
    epoch: int = 0
    step_in_epoch: int = 0
    wall_seconds: float = 0.0
    best_f1: float = math.nan
    best_step: int = -1
    stale_validations: int = 0

    def to_json(self) -> str:
        """JSON text (NaN written as null)."""
        values = dataclasses.asdict(self)
        values["best_f1"] = None if math.isnan(self.best_f1) else self.best_f1
        return json.dumps(values, indent=2)

    @classmethod
    def from_json(cls, text: str) -> TrainingState:
        """Inverse of :meth:`to_json`."""
        values = json.loads(text)
        values["best_f1"] = math.nan if values.get("best_f1") is None else values["best_f1"]
        return cls(**values)


def variables_finite(variables) -> bool:
    """True when every value of every variable is finite."""
    values = [tf.convert_to_tensor(variable) for variable in variables]
    return all(bool(tf.reduce_all(tf.math.is_finite(value))) for value in values
               if value.dtype.is_floating)


class CheckpointStore:
    """Saves, lists and restores the checkpoints of one run directory.

    Under multi-worker training every worker must call :meth:`save` (saving may run
    collective ops); only the chief's copy is kept.

    Args:
        directory: ``RUN_DIR/checkpoints``.
        checkpoint: the ``tf.train.Checkpoint`` of the trackable objects.
        keep: number of most recent checkpoints kept, >= 1.
        role: this process's :class:`~vesselnet.training.distribute.WorkerRole`.

    Example:
        >>> store = CheckpointStore(run_dir / "checkpoints", tf.train.Checkpoint(model=model), 3)
        >>> store.save(TrainingState(step=100))
        >>> state = store.restore(store.latest())
    """

    def __init__(self, directory: str | Path, checkpoint: tf.train.Checkpoint, keep: int = 3,
                 role: WorkerRole = WorkerRole()):
        if keep < 1:
            raise ValueError(f"keep must be >= 1, got {keep}")
        self.directory = Path(directory)
        self.checkpoint = checkpoint
        self.keep = keep
        self.role = role

    def checkpoints(self) -> list[Path]:
        """Complete checkpoints, oldest first."""
        if not self.directory.is_dir():
            return []
        found = [path for path in self.directory.iterdir() if path.name.startswith(PREFIX)
                 and path.name[len(PREFIX):].isdigit() and (path / STATE_FILE).is_file()]
        return sorted(found, key=lambda path: int(path.name[len(PREFIX):]))

    def latest(self) -> Path | None:
        """The newest complete checkpoint, or None."""
        found = self.checkpoints()
        return found[-1] if found else None

    def save(self, state: TrainingState) -> Path:
        """Writes the checkpoint of ``state.step`` atomically and prunes old ones."""
        self.directory.mkdir(parents=True, exist_ok=True)
        final = self.directory / f"{PREFIX}{state.step:08d}"
        who = "chief" if self.role.is_chief else f"worker{self.role.task_id}"
        temporary = self.directory / f".tmp-{final.name}-{who}-{os.getpid()}"
        shutil.rmtree(temporary, ignore_errors=True)
        temporary.mkdir()
        self.checkpoint.write(str(temporary / "ckpt"))
        if not self.role.is_chief:
            shutil.rmtree(temporary, ignore_errors=True)
            return final
        (temporary / STATE_FILE).write_text(state.to_json(), encoding="utf-8")
        sync_directory(temporary)
        replace_directory(temporary, final)
        for old in self.checkpoints()[:-self.keep]:
            shutil.rmtree(old, ignore_errors=True)
        return final

    def restore(self, path: str | Path) -> TrainingState:
        """Restores the variables from checkpoint ``path`` and returns its state."""
        path = Path(path)
        status = self.checkpoint.read(str(path / "ckpt"))
        status.assert_existing_objects_matched()
        return TrainingState.from_json((path / STATE_FILE).read_text(encoding="utf-8"))

    def remove_stale_temporaries(self) -> None:
        """Deletes temporary directories a killed process left behind (chief only)."""
        if self.role.is_chief and self.directory.is_dir():
            for path in [*self.directory.glob(".tmp-*"), *self.directory.glob(".old-*")]:
                shutil.rmtree(path, ignore_errors=True)
