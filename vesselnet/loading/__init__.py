"""Loading a trained model in any of its forms, ready for whole photographs."""

from vesselnet.loading.loader import LoadedModel, load_any_model
from vesselnet.loading.runner import InferenceOptions, ModelRunner, load_model_source

__all__ = ["InferenceOptions", "LoadedModel", "ModelRunner", "load_any_model",
           "load_model_source"]
