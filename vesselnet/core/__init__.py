"""What every layer of the package shares, with no TensorFlow graph code of its own.

- ``activations``: the networks' output activations and the vessel probability they encode.
- ``sizes``: size arithmetic of U-Net-shaped networks (valid input sizes, output sizes).
- ``files``: atomic file and directory writes, JSON-ready values.
- ``scale``: the scale tolerance (:data:`~vesselnet.core.scale.SCALE_TOLERANCE`) and the
  resampling factor that training and prediction share.
"""
