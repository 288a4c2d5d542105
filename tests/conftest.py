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


def save_tiny_unet_bundle(folder: Path) -> Path:
    """A tiny random U-Net (valid padding, depth 3, seed 5) saved as a bundle in ``folder``."""
    import keras

    from vesselnet.bundle import save_bundle
    from vesselnet.card import Architecture, ModelCard
    from vesselnet.models import build_model
    from vesselnet.preprocessing import CLASSIC_CONFIG

    keras.utils.set_random_seed(5)
    model = build_model("unet", filters=4, depth=3)
    return save_bundle(folder / "tiny", model,
                       ModelCard(Architecture("unet", filters=4, depth=3), CLASSIC_CONFIG))
