"""Data sets as ImageRecords: readers, derived FOV masks and synthetic retinas."""

from vesselnet.data.fov import derive_fov, mask_agreement
from vesselnet.data.io import VesselnetDataError, read_mask, read_photograph
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
from vesselnet.data.synthetic import (
    SYNTHETIC_LAYOUTS,
    synthetic_dataset,
    synthetic_retina,
    write_synthetic_dataset,
)

__all__ = [
    "ImageRecord",
    "READERS",
    "SYNTHETIC_LAYOUTS",
    "VesselnetDataError",
    "derive_fov",
    "mask_agreement",
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
    "write_synthetic_dataset",
]
