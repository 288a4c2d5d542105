"""The arithmetic a Keras network predicts in: float32, or bfloat16 where the CPU has it.

CPUs with bfloat16 matrix units (Intel AMX, AVX512-BF16) run the oneDNN convolutions of
TensorFlow in bfloat16 about twice as fast as in float32. ``"mixed_bfloat16"`` (the Keras
policy of that name, as ``vesselnet fit --precision`` names it) rebuilds a network with
weights in float32 and convolutions in bfloat16, except its output head: the 1x1 convolutions
and the (log-)softmax stay float32, so the probability is computed from bfloat16 features with
float32 arithmetic. ``"auto"`` picks bfloat16 only on a CPU that has it natively and no GPU,
where it is the faster choice; elsewhere (emulated bfloat16 is slower than float32) float32.

Example:
    >>> fast = with_precision(model, resolve_precision("auto"))  # model itself without AMX
"""

from __future__ import annotations

import functools
from pathlib import Path

import keras
import tensorflow as tf

PRECISIONS = ("auto", "float32", "mixed_bfloat16")
BFLOAT16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")
"""``/proc/cpuinfo`` flags of CPUs whose bfloat16 convolutions beat float32."""

_OUTPUT_ACTIVATIONS = ("softmax", "log_softmax", "sigmoid")


def check_precision(value: str) -> str:
    """``value`` if it is one of :data:`PRECISIONS`; ValueError naming it otherwise."""
    if value not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {value!r}")
    return value


@functools.cache
def cpu_has_bfloat16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """True when the CPU reports one of :data:`BFLOAT16_CPU_FLAGS` (False if unreadable)."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return False
    for line in text.splitlines():
        if line.startswith("flags"):
            return any(flag in line.split() for flag in BFLOAT16_CPU_FLAGS)
    return False


def resolve_precision(precision: str) -> str:
    """``"float32"`` or ``"mixed_bfloat16"``; ``"auto"`` is the second on a bfloat16 CPU with
    no GPU."""
    check_precision(precision)
    if precision != "auto":
        return precision
    if tf.config.list_logical_devices("GPU"):
        return "float32"
    return "mixed_bfloat16" if cpu_has_bfloat16() else "float32"


def _stays_float32(layer_config: dict) -> bool:
    """True for the output head: 1x1 convolutions and output activations."""
    config = layer_config["config"]
    if layer_config["class_name"] == "Conv2D":
        return tuple(config.get("kernel_size", ())) == (1, 1)
    if layer_config["class_name"] == "Activation":
        return config.get("activation") in _OUTPUT_ACTIVATIONS
    return False


def _set_policy(layers: list[dict]) -> None:
    """Sets ``mixed_bfloat16`` on the layer configs, nested models included, but the head."""
    for layer in layers:
        nested = layer["config"].get("layers")
        if nested is not None:  # a model inside the model (an ensemble's members)
            _set_policy(nested)
        elif layer["class_name"] != "InputLayer" and not _stays_float32(layer):
            layer["config"]["dtype"] = "mixed_bfloat16"


def with_precision(model: keras.Model, precision: str) -> keras.Model:
    """``model`` itself for ``"float32"``; for ``"mixed_bfloat16"`` a copy in that policy.

    The copy has the same layers, names, weights, inputs and outputs (float32 in and out);
    only the dtype policy of every layer but the output head differs.

    Raises:
        ValueError: a precision other than ``"float32"`` and ``"mixed_bfloat16"`` (resolve
            ``"auto"`` first), or a model that is not a functional Keras model.
    """
    if precision == "float32":
        return model
    if precision != "mixed_bfloat16":
        raise ValueError("precision must be 'float32' or 'mixed_bfloat16' here (resolve "
                         f"'auto' with resolve_precision first), got {precision!r}")
    if not isinstance(model, keras.Model) or not hasattr(model, "get_config"):
        raise ValueError(f"mixed_bfloat16 applies to Keras models, got {type(model).__name__}")
    config = model.get_config()
    if "layers" not in config:
        raise ValueError("mixed_bfloat16 applies to functional Keras models (no layer graph found)")
    _set_policy(config["layers"])
    copy = model.__class__.from_config(config)
    copy.set_weights(model.get_weights())
    return copy
