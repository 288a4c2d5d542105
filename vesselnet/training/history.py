"""``RUN_DIR/history.json``: training loss and validation scores against steps and seconds.

Time to quality matters as much as the final score, so every entry carries the training
wall-clock seconds. On resume the entries past the restored checkpoint are dropped (those
steps are trained again).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from vesselnet.core.files import atomic_write_text


def _clean(value):
    return None if isinstance(value, float) and not math.isfinite(value) else value


class RunHistory:
    """Training-loss samples and validation results of one run.

    Args:
        path: the JSON file (``RUN_DIR/history.json``).

    Example:
        >>> history = RunHistory(run_dir / "history.json")
        >>> history.add_validation(step=500, seconds=812.0, f1=0.79, auc=0.97)
        >>> history.write()
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.train: list[dict] = []
        self.validation: list[dict] = []

    @classmethod
    def load(cls, path: str | Path, up_to_step: int) -> RunHistory:
        """Reads ``path`` (if present), keeping entries with ``step <= up_to_step``.

        Raises:
            ValueError: ``path`` is not a run history (the message names the file).
        """
        history = cls(path)
        if history.path.is_file():
            try:
                values = json.loads(history.path.read_text(encoding="utf-8"))
                history.train = [e for e in values.get("train", []) if e["step"] <= up_to_step]
                history.validation = [e for e in values.get("validation", [])
                                      if e["step"] <= up_to_step]
            except (ValueError, TypeError, KeyError, AttributeError) as error:
                raise ValueError(f"{history.path} is damaged: not a run history "
                                 f"({type(error).__name__}: {error}); move it aside to resume "
                                 "without the earlier curve") from None
        return history

    def add_train(self, step: int, seconds: float, loss: float, learning_rate: float) -> None:
        """Records the mean training loss of the steps since the previous sample."""
        self.train.append({"step": step, "seconds": round(seconds, 3), "loss": _clean(loss),
                           "learning_rate": learning_rate})

    def add_validation(self, step: int, seconds: float, f1: float, auc: float,
                       sets: dict[str, dict] | None = None, **scores: float) -> None:
        """Records one validation (extra scores, e.g. sensitivity, are kept too).

        Args:
            step / seconds: when.
            f1 / auc / scores: the pooled figures (all held-out images together).
            sets: the figures of each data set on its own, by name (a run on several sets);
                written as the entry's ``"sets"``. Defaults to None (not written).
        """
        entry = {"step": step, "seconds": round(seconds, 3), "f1": _clean(f1),
                 "auc": _clean(auc)}
        entry.update({key: _clean(float(value)) for key, value in scores.items()})
        if sets:
            entry["sets"] = {name: {key: _clean(float(value)) for key, value in figures.items()}
                             for name, figures in sets.items()}
        self.validation.append(entry)

    def curve(self) -> list[dict]:
        """The validation curve: ``{"step", "seconds", "f1", "auc"}`` per validation."""
        return [{key: entry[key] for key in ("step", "seconds", "f1", "auc")}
                for entry in self.validation]

    def write(self) -> None:
        """Writes the JSON file atomically (temporary file + rename)."""
        text = json.dumps({"train": self.train, "validation": self.validation}, indent=1)
        atomic_write_text(self.path, text + "\n")
