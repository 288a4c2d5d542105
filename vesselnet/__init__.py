"""vesselnet: retinal blood vessel segmentation in colour fundus photographs."""

__version__ = "0.1.0"
