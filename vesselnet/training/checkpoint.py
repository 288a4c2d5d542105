"""Atomic training checkpoints: ``tf.train.Checkpoint`` plus the loop's position, kept last K.

A checkpoint is a directory ``ckpt-<step>`` holding the TensorFlow checkpoint files (model,
optimizer, step counter, the stochastic loss's seed state) and ``state.json``
(:class:`TrainingState`: data-order position, wall time, early-stopping bookkeeping). It is
written into a hidden temporary directory and renamed into place, so a process killed at any
moment leaves either the complete checkpoint or none. Directory renames replace nothing on
POSIX, so an existing checkpoint of the same step is first moved aside. A checkpoint may also
carry copies of small run files (the run's ``config.toml``), so that a damaged original can be
told apart from the settings the run was trained with.

Resuming takes the newest *intact* checkpoint: each candidate is read in full (every tensor,
whose checksums TensorFlow verifies) before anything is restored, so a damaged newest one
(cut short, a missing file, flipped bytes, a broken ``state.json``) is skipped with the reason
and the next one is used (:meth:`CheckpointStore.restore_newest_intact`).
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
    def from_json(cls, text: str, source: str | Path = STATE_FILE) -> TrainingState:
        """Inverse of :meth:`to_json`.

        Raises:
            ValueError: ``text`` is not the JSON of a training state; the message names
                ``source``.
        """
        try:
            values = json.loads(text)
            if not isinstance(values, dict):
                raise ValueError(f"a JSON {type(values).__name__} instead of an object")
            values["best_f1"] = math.nan if values.get("best_f1") is None else values["best_f1"]
            state = cls(**values)
            if not isinstance(state.step, int) or state.step < 0:
                raise ValueError(f"step {state.step!r} is not a step count")
            return state
        except (ValueError, TypeError) as error:  # JSONDecodeError is a ValueError
            raise ValueError(f"{source} is damaged: not a training state ({error})") from None


class CheckpointError(ValueError):
    """No checkpoint of a run directory can be restored; the message names each reason."""


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    text = text[0] if text else ""
    return f"{type(error).__name__}: {text[:200]}"


def checkpoint_problem(path: str | Path) -> str | None:
    """Why the checkpoint directory ``path`` cannot be restored, or None when it is intact.

    Reads ``state.json`` and every tensor of the TensorFlow checkpoint (TensorFlow checks each
    tensor's checksum), without touching any variable.

    Example:
        >>> checkpoint_problem("runs/x/checkpoints/ckpt-00000300")
        'ckpt.index is missing (NotFoundError: ...)'
    """
    path = Path(path)
    state_file = path / STATE_FILE
    if not state_file.is_file():
        return f"{STATE_FILE} is missing"
    try:
        text = state_file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        return f"{state_file} cannot be read ({_first_line(error)})"
    try:
        state = TrainingState.from_json(text, state_file)
    except ValueError as error:
        return str(error)
    step = int(path.name[len(PREFIX):])
    if state.step != step:
        return f"{state_file} is damaged: it says step {state.step}, the folder {step}"
    if not (path / "ckpt.index").is_file():
        return "ckpt.index is missing"
    try:
        reader = tf.train.load_checkpoint(str(path / "ckpt"))
        for key in reader.get_variable_to_shape_map():
            reader.get_tensor(key)
    except IndexError as error:  # a data file shorter than its index says
        return f"a data file is cut short ({_first_line(error)})"
    except tf.errors.NotFoundError as error:
        return f"a file is missing ({_first_line(error)})"
    except (tf.errors.OpError, ValueError, OSError) as error:
        # flipped bytes: DataLossError, or a plain OpError "Checksum does not match"
        damaged = isinstance(error, tf.errors.DataLossError) or "checksum" in str(error).lower()
        return (f"its bytes are damaged ({_first_line(error)})" if damaged
                else f"it cannot be read ({_first_line(error)})")
    return None


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

    def candidates(self) -> list[Path]:
        """Every ``ckpt-<step>`` directory, complete or not, oldest first."""
        if not self.directory.is_dir():
            return []
        found = [path for path in self.directory.iterdir() if path.is_dir()
                 and path.name.startswith(PREFIX) and path.name[len(PREFIX):].isdigit()]
        return sorted(found, key=lambda path: int(path.name[len(PREFIX):]))

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

    def save(self, state: TrainingState, files: dict[str, str] | None = None) -> Path:
        """Writes the checkpoint of ``state.step`` atomically and prunes old ones.

        Args:
            state: the loop's position.
            files: small text files to keep inside the checkpoint, by name (e.g. a copy of
                the run's ``config.toml``). Defaults to None.
        """
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
        # plain writes inside the hidden directory: it is synced, then renamed into place whole
        for name, text in (files or {}).items():
            (temporary / name).write_text(text, encoding="utf-8")
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
        state_file = path / STATE_FILE
        return TrainingState.from_json(state_file.read_text(encoding="utf-8"), state_file)

    def restore_newest_intact(self) -> tuple[Path, TrainingState, list[tuple[Path, str]]]:
        """Restores the newest checkpoint that :func:`checkpoint_problem` finds intact.

        Returns:
            ``(path, state, skipped)``: the checkpoint used, its state, and every newer
            checkpoint passed over with the reason, newest first.

        Raises:
            CheckpointError: there is no checkpoint, or none is intact (every reason named).
        """
        skipped = []
        for path in reversed(self.candidates()):
            problem = checkpoint_problem(path)
            if problem is None:
                try:
                    return path, self.restore(path), skipped
                except (AssertionError, ValueError, tf.errors.OpError) as error:
                    problem = f"it does not fit the configured network ({_first_line(error)})"
            skipped.append((path, problem))
        if not skipped:
            raise CheckpointError(f"{self.directory}: no checkpoint to resume from")
        reasons = "; ".join(f"{path.name}: {problem}" for path, problem in skipped)
        raise CheckpointError(f"{self.directory}: no intact checkpoint to resume from "
                              f"({reasons})")

    def remove_stale_temporaries(self) -> None:
        """Deletes temporary directories a killed process left behind (chief only)."""
        if self.role.is_chief and self.directory.is_dir():
            for path in [*self.directory.glob(".tmp-*"), *self.directory.glob(".old-*")]:
                shutil.rmtree(path, ignore_errors=True)
