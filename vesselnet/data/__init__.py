"""Data: readers returning ImageRecords, derived FOV masks, synthetic retinas (NumPy side), and
the tf.data side: U-Net weight maps, patch sampling, augmentation and the training pipeline.

``PatchConfig`` and ``AugmentConfig`` are defined in :mod:`vesselnet.config`."""

from vesselnet.config.augment import AugmentConfig
from vesselnet.config.patches import PatchConfig
from vesselnet.data.fov import derive_fov
from vesselnet.data.io import VesselnetDataError, read_mask, read_photograph
from vesselnet.data.pipeline import make_training_dataset
from vesselnet.data.readers import (
    READERS,
    read_chase_db1,
    read_dataset,
    read_drive,
    read_generic,
    read_hrf,
    read_stare,
)
from vesselnet.data.records import ImageRecord
from vesselnet.data.synthetic import synthetic_dataset, synthetic_retina
from vesselnet.data.synthetic_layouts import write_synthetic_dataset
from vesselnet.data.weights import unet_weight_map

__all__ = [
    "READERS",
    "AugmentConfig",
    "ImageRecord",
    "PatchConfig",
    "VesselnetDataError",
    "derive_fov",
    "make_training_dataset",
    "read_chase_db1",
    "read_dataset",
    "read_drive",
    "read_generic",
    "read_hrf",
    "read_mask",
    "read_photograph",
    "read_stare",
    "synthetic_dataset",
    "synthetic_retina",
    "unet_weight_map",
    "write_synthetic_dataset",
]
