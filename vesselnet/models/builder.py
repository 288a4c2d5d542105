"""``build_model``: the public entry point to every architecture.

The architectures, their options and size arithmetic are configuration
(:mod:`vesselnet.config.model`); this module turns them into Keras layers.
"""

from __future__ import annotations

import keras

from vesselnet.config.model import ARCHITECTURES, ModelOptions, model_output_size
from vesselnet.core import sizes
from vesselnet.core.checks import check_int, is_int
from vesselnet.models.blocks import BlockOptions
from vesselnet.models.unet import segmentation_head, unet_body


def _spatial_shape(arch, input_size, depth, padding, options):
    if input_size is None:
        return None, None
    if is_int(input_size):
        height = width = input_size
    elif isinstance(input_size, (tuple, list)) and len(input_size) == 2:
        height, width = input_size
    else:
        raise ValueError(f"input_size must be None, an int or (height, width), got {input_size!r}")
    for side in {height, width}:
        model_output_size(arch, side, depth, padding, **options)  # raises with nearest sizes
    return height, width


def build_model(arch: str, *, input_size=None, channels: int = 1, filters: int = 64,
                depth: int = 5, n_classes: int = 2, padding: str = "valid",
                **options) -> keras.Model:
    """Build a segmentation network of the U-Net family.

    Args:
        arch: ``"unet"``, ``"resunet"``, ``"r2unet"`` or ``"chained"`` (see ``ARCHITECTURES``).
        input_size: side of a square input, ``(height, width)``, or None for any size the
            architecture accepts. Defaults to None.
        channels: input channels (1 for the preprocessed grey image). Defaults to 1.
        filters: channels of the first level, doubling per level. Defaults to 64.
        depth: resolution levels; 5 is the paper's U-Net with four poolings. Defaults to 5.
        n_classes: output maps (2: background, vessel; 1 with a sigmoid output). Defaults to 2.
        padding: ``"valid"`` (output smaller than input) or ``"same"``. Defaults to "valid".
        **options: see :class:`ModelOptions`.

    Returns:
        A functional ``keras.Model``. The chained model returns a dict
        ``{"stage1": ..., "final": ...}`` of spatially aligned maps; the others one tensor.

    Raises:
        ValueError: for an unknown architecture or option, an invalid value (named in the
            message), or an input size the network cannot take (with the nearest valid ones).

    Example:
        >>> model = build_model("unet", input_size=572)
        >>> model.output_shape, model.count_params()
        ((None, 388, 388, 2), 31030658)
    """
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {arch!r}; choose one of {', '.join(ARCHITECTURES)}")
    check_int("channels", channels, 1)
    check_int("filters", filters, 1)
    check_int("depth", depth, 1)
    check_int("n_classes", n_classes, 1)
    if padding not in sizes.PADDINGS:
        raise ValueError(f"padding must be one of {sizes.PADDINGS}, got {padding!r}")
    model_options = ModelOptions.from_kwargs(arch, options)
    if (model_options.output_activation == "sigmoid") != (n_classes == 1):
        raise ValueError(
            f"a sigmoid output has exactly one channel and the softmax outputs at least two; "
            f"got output_activation={model_options.output_activation!r} with n_classes={n_classes}"
        )
    height, width = _spatial_shape(arch, input_size, depth, padding, options)
    inputs = keras.Input((height, width, channels), name="image")
    block_options = BlockOptions(
        padding=padding,
        batch_norm=model_options.batch_norm,
        inner_dropout=model_options.dropout if model_options.dropout_at == "all" else 0.0,
        steps=model_options.steps,
    )
    bottleneck_dropout = model_options.dropout if model_options.dropout_at == "bottleneck" else 0
    body = dict(filters=filters, depth=depth, options=block_options,
                bottleneck_dropout=bottleneck_dropout)
    activation = model_options.output_activation

    if arch != "chained":
        block = {"unet": "plain", "resunet": "residual"}.get(arch)
        if arch == "r2unet":
            block = "recurrent_residual" if model_options.residual else "recurrent"
        features = unet_body(inputs, block=block, **body)
        _, output = segmentation_head(features, n_classes, activation)
        return keras.Model(inputs, output, name=arch)

    return _chained(inputs, body, n_classes, activation, model_options.stage2_input, padding)


def _chained(inputs, body, n_classes, activation, stage2_input, padding):
    """Francia et al. 2020: U-Net (stage 1) -> residual U-Net (stage 2), trained end to end."""
    depth = body["depth"]
    features = unet_body(inputs, block="plain", prefix="stage1_", **body)
    logits, stage1 = segmentation_head(features, n_classes, activation, prefix="stage1_")
    probability = "sigmoid" if activation == "sigmoid" else "softmax"
    x = keras.layers.Activation(probability, name="stage2_input")(logits)
    crop = sizes.stage_crop(depth, padding)
    if crop:
        x = keras.layers.Cropping2D(crop, name="stage2_input_crop")(x)
    if stage2_input == "probabilities_and_image":
        margin = _margin(depth, padding, stages=1) + crop
        image = keras.layers.Cropping2D(margin, name="stage2_image_crop")(inputs) if margin else inputs
        x = keras.layers.Concatenate(name="stage2_input_concat")([x, image])
    features = unet_body(x, block="residual", prefix="stage2_", **body)
    _, final = segmentation_head(features, n_classes, activation, prefix="stage2_")
    margin = _margin(depth, padding, stages=2) - _margin(depth, padding, stages=1)
    if margin:
        stage1 = keras.layers.Cropping2D(margin, name="stage1_aligned")(stage1)
    return keras.Model(inputs, {"stage1": stage1, "final": final}, name="chained")


def _margin(depth, padding, stages):
    """Pixels per side between the input and the output ``stages`` U-Nets later."""
    if padding == "same":
        return 0
    smallest = sizes.smallest_input_size(depth, padding, stages=stages)
    return (smallest - sizes.output_size(smallest, depth, padding, stages=stages)) // 2
