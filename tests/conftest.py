"""Shared test settings: where the real DRIVE training split is, quiet TensorFlow, helpers."""

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _drive_dir() -> Path:
    """``$VESSELNET_DRIVE_DIR`` or ``shared/datasets/DRIVE`` beside the repository."""
    configured = os.environ.get("VESSELNET_DRIVE_DIR")
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[2] / "shared" / "datasets" / "DRIVE"


DRIVE_DIR = _drive_dir()
DRIVE_TRAINING = DRIVE_DIR / "training"
needs_drive = pytest.mark.skipif(
    not (DRIVE_TRAINING / "images").is_dir(),
    reason=f"DRIVE training split not found under {DRIVE_DIR}",
)


def without_none(value):
    """TOML has no null: the writer leaves None out."""
    if isinstance(value, dict):
        return {key: without_none(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [without_none(item) for item in value]
    return value
