"""``fit``: one custom training loop for every strategy, with checkpoints and validation."""

from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path

import numpy as np

from vesselnet.bundle import save_bundle
from vesselnet.config import RunConfig, to_toml
from vesselnet.core.files import atomic_write_text
from vesselnet.training.card import make_card, set_records
from vesselnet.training.checkpoint import TrainingState, variables_finite
from vesselnet.training.components import build_components, distributed_dataset
from vesselnet.training.distribute import (
    make_strategy,
    op_determinism,
    precision_policy,
    worker_role,
)
from vesselnet.training.history import RunHistory
from vesselnet.training.optimizers import averaged_weights
from vesselnet.training.reporting import Progress, TensorBoardLog
from vesselnet.training.run_config import CONFIG_FILE
from vesselnet.training.run_folder import HISTORY_FILE, prepare_new_run
from vesselnet.training.step import current_learning_rate, make_train_step
from vesselnet.training.validation import Validator


class TrainingDivergedError(RuntimeError):
    """The loss (or the weights) stopped being finite; the last good checkpoint is kept."""


@dataclasses.dataclass(frozen=True)
class FitResult:
    """What :func:`fit` did.

    Args:
        run_dir: the run directory.
        steps: steps trained in total (the last step reached).
        wall_seconds: training wall-clock time (resumed runs add up).
        final_loss: mean loss of the last logging interval.
        best_f1 / best_step: best validation F1 and its step (NaN / -1 without validation).
        stopped_early: early stopping ended the run.
    """

    run_dir: Path
    steps: int
    wall_seconds: float
    final_loss: float
    best_f1: float
    best_step: int
    stopped_early: bool


def fit(config: RunConfig, run_dir: str | Path, resume: bool = False,
        overwrite: bool = False) -> FitResult:
    """Trains the network of ``config``, writing everything into ``run_dir``.

    ``run_dir`` receives ``config.toml``, ``checkpoints/``, ``logs/`` (TensorBoard),
    ``history.json``, and the bundles ``best/`` (best validation F1) and ``final/``.
    Under multi-worker training the workers share ``run_dir``; the chief writes it, each
    other worker only leaves ``final-worker<N>/`` (to check the replicas agree).

    Validation (every ``training.validate_every`` steps and at the end) runs on every worker,
    so that early stopping is decided identically everywhere. Wall-clock seconds count the
    training, validation and checkpoint time of this and the previous sessions of the run; a
    resumed run continues from the checkpoint's count (time lost after it is not counted).

    Args:
        config: the :class:`~vesselnet.config.RunConfig`.
        run_dir: the run directory; for a new run it must not hold an earlier run's results
            (checkpoints, ``history.json``, ``best/`` or any bundle) unless ``overwrite``.
        resume: continue from the newest intact checkpoint in ``run_dir`` (same batches as
            an uninterrupted run from there on); damaged newer ones are skipped and named.
        overwrite: a new run replaces an earlier run's results in ``run_dir`` (named in the
            output; removed once the new run's data and network are built).

    Returns:
        A :class:`FitResult`.

    Raises:
        ValueError: a bad config, or ``run_dir`` in the wrong state for ``resume``
            (:class:`~vesselnet.training.checkpoint.CheckpointError` when no checkpoint is
            intact), or a damaged ``history.json``.
        vesselnet.data.io.VesselnetDataError: a data folder in the wrong layout.
        TrainingDivergedError: the loss turned NaN or infinite.

    Example:
        >>> result = fit(load_config("synthetic", ["training.steps=50"]), "runs/demo")
    """
    if resume and overwrite:
        raise ValueError("overwrite starts a new run; it cannot go with resume")
    strategy = make_strategy(config.training.strategy)  # before any other TF op
    with precision_policy(config.training.precision), op_determinism(
            config.training.deterministic):
        return _Run(config, Path(run_dir), strategy, resume, overwrite).train()


class _Run:
    """The state of one :func:`fit` call (model, optimizer, data, logs)."""

    def __init__(self, config: RunConfig, run_dir: Path, strategy, resume: bool,
                 overwrite: bool):
        self.config, self.run_dir, self.strategy = config, run_dir, strategy
        self.resume, self.overwrite = resume, overwrite
        self.role = worker_role(strategy)
        if not resume and not overwrite:
            prepare_new_run(run_dir, overwrite=False)  # refuses before the data is read
        self.parts = build_components(config, run_dir, strategy, self.role)
        self.model, self.store = self.parts.model, self.parts.store
        self.total_steps = self.parts.total_steps
        self.steps_per_epoch = self.parts.steps_per_epoch
        self.images = self.parts.images
        self.validator = Validator(self.images.validation, self.images.validation_inputs,
                                   self.images.validation_groups)
        self._report_scale()

    def _report_scale(self) -> None:
        images, given = self.images, self.config.data.fov_diameter
        first = images.sets[0]
        origin = ("data.fov_diameter" if given is not None else
                  f"the median of the {len(images.train)} training photographs"
                  if len(images.sets) < 2 else
                  f"the median of the first set's ({first.name}) "
                  f"{first.train[1] - first.train[0]} training photographs")
        self.progress_message(
            f"training scale: FOV diameter {images.fov_diameter:.1f} px ({origin}); "
            f"{len(images.resampled)} of {len(images.scales)} photographs resampled")

    def _start(self) -> TrainingState:
        if self.resume:
            used, state, skipped = self.store.restore_newest_intact()
            for path, problem in skipped:
                self.progress_message(f"skipped checkpoint {path.name}: {problem}")
            self.history = RunHistory.load(self.run_dir / HISTORY_FILE, state.step)
            self._write_config()
            newer = (f"; {len(skipped)} newer checkpoint{'s' if len(skipped) > 1 else ''} "
                     "skipped as damaged" if skipped else "")
            self.progress_message(f"resumed from {used} (step {state.step}){newer}")
            return state
        if self.overwrite:
            replaced = prepare_new_run(self.run_dir, overwrite=True,
                                       is_chief=self.role.is_chief)
            if replaced:
                self.progress_message(replaced)
        self._write_config()
        self.history = RunHistory(self.run_dir / HISTORY_FILE)
        return TrainingState()

    def _write_config(self) -> None:
        if self.role.is_chief:
            atomic_write_text(self.run_dir / CONFIG_FILE, to_toml(self.config))

    def progress_message(self, text: str) -> None:
        if self.role.is_chief:
            print(text, flush=True)

    def train(self) -> FitResult:
        state = self._start()
        self.store.remove_stale_temporaries()
        parts = self.parts
        train_step = make_train_step(self.strategy, parts.model, parts.optimizer,
                                     parts.objective, parts.step)
        iterator = iter(distributed_dataset(self.config, parts, state.step, self.strategy))
        self.log = TensorBoardLog(self.run_dir / "logs", enabled=self.role.is_chief)
        progress = Progress(self.total_steps, state.step, self.config.training.log_every,
                            enabled=self.role.is_chief)
        self.progress = progress
        started, base_seconds = time.monotonic(), state.wall_seconds
        losses, last_mean, stopped_early = [], math.nan, False
        step = state.step
        try:
            while step < self.total_steps and not stopped_early:
                loss = float(train_step(next(iterator)))
                step = int(parts.step.numpy())
                if not math.isfinite(loss):
                    self._diverged(step, f"the loss is {loss}")
                losses.append(loss)
                seconds = base_seconds + time.monotonic() - started
                rate = current_learning_rate(parts.optimizer)
                progress.update(step, float(np.mean(losses[-50:])), rate)
                if step % self.config.training.log_every == 0 or step == self.total_steps:
                    last_mean = float(np.mean(losses))
                    self.history.add_train(step, seconds, last_mean, rate)
                    self.log.scalars(step, {"train/loss": last_mean, "train/learning_rate": rate})
                    losses = []
                state = dataclasses.replace(
                    state, step=step, epoch=step // self.steps_per_epoch,
                    step_in_epoch=step % self.steps_per_epoch, wall_seconds=seconds)
                if self.validator and self._validation_due(step):
                    state, stopped_early = self._validate(state)
                if step % self.config.training.checkpoint_every == 0 or step == self.total_steps \
                        or stopped_early:
                    self._checkpoint(state)
            if stopped_early:
                progress.message(f"early stopping at step {step}: no better validation F1 in "
                                 f"{state.stale_validations} validations")
            if losses:
                last_mean = float(np.mean(losses))
            with self._averaged():
                self._save_bundle("final", state, last_mean)
        finally:
            self.log.close()
        return FitResult(self.run_dir, step, state.wall_seconds, last_mean, state.best_f1,
                         state.best_step, stopped_early)

    def _validation_due(self, step: int) -> bool:
        every = self.config.training.validate_every
        return step == self.total_steps or (every > 0 and step % every == 0)

    def _averaged(self):
        """The weights that are validated and bundled: the moving average, if one is kept."""
        return averaged_weights(self.parts.optimizer, self.model.trainable_variables)

    def _validate(self, state: TrainingState) -> tuple[TrainingState, bool]:
        with self._averaged():
            return self._validate_weights(state)

    def _validate_weights(self, state: TrainingState) -> tuple[TrainingState, bool]:
        result = self.validator(self.model)
        seconds = state.wall_seconds
        scores = result.scores
        self.history.add_validation(state.step, seconds, sets=result.sets, **scores)
        self.log.scalars(state.step, {f"validation/{key}": value for key, value in scores.items()})
        for name, figures in result.sets.items():
            self.log.scalars(state.step, {f"validation/{name}/{key}": value
                                          for key, value in figures.items()})
        self.log.image(state.step, "validation/input_probability_truth", result.preview)
        for name, image in result.images.items():
            self.log.image(state.step, f"validation/{name}", image)
        improved = math.isfinite(result.f1) and not (result.f1 <= state.best_f1)
        if improved:
            state = dataclasses.replace(state, best_f1=result.f1, best_step=state.step,
                                        stale_validations=0)
            self._save_bundle("best", state, math.nan)
        else:
            state = dataclasses.replace(state, stale_validations=state.stale_validations + 1)
        if self.role.is_chief:
            self.history.write()
        self.progress.message(f"step {state.step}: validation F1 {result.f1:.4f}  AUC "
                              f"{result.auc:.4f}  (best F1 {state.best_f1:.4f} at step "
                              f"{state.best_step})" + "".join(
                                  f"; {name} F1 {figures['f1']:.4f}"
                                  for name, figures in result.sets.items()))
        patience = self.config.training.early_stopping_patience
        return state, bool(patience) and state.stale_validations >= patience

    def _checkpoint(self, state: TrainingState) -> None:
        if not variables_finite(self.model.trainable_variables):
            self._diverged(state.step, "the weights are no longer finite")
        self.store.save(state, files={CONFIG_FILE: to_toml(self.config)})
        if self.role.is_chief:
            self.history.write()

    def _diverged(self, step: int, what: str):
        latest = self.store.latest()
        kept = (f"the last good checkpoint is {latest} (step {int(latest.name[5:])}); resume "
                f"with a lower learning rate: vesselnet fit --resume {self.run_dir} --set "
                "optimizer.learning_rate=..." if latest else "no checkpoint was written yet")
        if self.role.is_chief:
            self.history.write()
        raise TrainingDivergedError(f"training stopped at step {step}: {what}; {kept}")

    def _save_bundle(self, name: str, state: TrainingState, final_loss: float) -> None:
        if not self.role.is_chief:
            if name != "final":
                return
            name = f"final-worker{self.role.task_id}"  # to check that the replicas agree
        curve = self.history.curve()
        best = next((entry for entry in self.history.validation
                     if entry["step"] == state.best_step), None)
        sets = self.images.sets
        summary = {
            "steps": state.step, "total_steps": self.total_steps,
            "wall_seconds": round(state.wall_seconds, 3), "final_loss": final_loss,
            "dataset": (self.config.data.dataset if len(sets) < 2
                        else "+".join(item.name for item in sets)),
            **({"split": "+".join(item.split for item in sets)} if len(sets) > 1 else {}),
            "train_images": [record.name for record in self.images.train],
            "validation_images": [record.name for record in self.images.validation],
            "validation_curve": curve, "best_validation": best,
            "fov_diameter": self.images.fov_diameter,
            "sets": set_records(self.images, best),
        }
        card = make_card(self.model, self.config, self.images.preprocessing, summary)
        save_bundle(self.run_dir / name, self.model, card)
        if self.role.is_chief:
            self.history.write()
