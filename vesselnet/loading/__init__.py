"""Loading a trained model in any of its forms, ready for whole photographs.

``load_model(source)`` takes the name of a bundled model, a bundle directory, a ``.keras``
file, a SavedModel directory or a ``.tflite`` file and returns a :class:`LoadedModel`:
``loaded.probability(image, fov)`` is the vessel probability of a photograph.

Example:
    >>> from vesselnet.loading import load_model
    >>> loaded = load_model()  # the bundled pretrained model
    >>> loaded.card.model.arch, loaded.card.best_validation["f1"]
"""

from vesselnet.bundle import DEFAULT_MODEL
from vesselnet.inference import InferenceOptions
from vesselnet.loading.loader import FORMATS, LoadedModel, load_model

__all__ = ["DEFAULT_MODEL", "FORMATS", "InferenceOptions", "LoadedModel", "load_model"]
