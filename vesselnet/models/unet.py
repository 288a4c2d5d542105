"""The U-Net skeleton shared by every architecture: contracting path, expansive path, head."""

from __future__ import annotations

import keras

from vesselnet.core.sizes import block_shrink, crop_margin
from vesselnet.models.blocks import BlockOptions, apply_block


def unet_body(inputs, *, block, filters, depth, options: BlockOptions, bottleneck_dropout=0.0,
              prefix=""):
    """Contracting and expansive paths of a U-Net (Ronneberger et al. 2015).

    Level ``l`` (1-based) has ``filters * 2**(l-1)`` channels; each level but the last ends in
    a 2x2 max-pool; the expansive path up-samples with a 2x2 transposed convolution that halves
    the channels, centre-crops the contracting map to the same size (valid padding) and
    concatenates it before a block.

    Args:
        inputs: input tensor ``[B, H, W, C]``.
        block: block kind, one of :data:`vesselnet.models.blocks.BLOCKS`.
        filters: channels of the first level.
        depth: resolution levels (poolings + 1).
        options: shared block options (padding, batch normalisation...).
        bottleneck_dropout: dropout rate at the end of the contracting path, as in the paper.
            Defaults to 0.
        prefix: prefix of every layer name (``"stage2_"`` in the chained model).

    Returns:
        The last feature map ``[B, h, w, filters]``.
    """
    shrink = block_shrink(block, options.steps)
    skips = []
    x = inputs
    for level in range(1, depth):
        x = apply_block(block, x, filters * 2 ** (level - 1), f"{prefix}encoder_{level}", options)
        skips.append(x)
        x = keras.layers.MaxPooling2D(2, name=f"{prefix}encoder_{level}_pool")(x)
    x = apply_block(block, x, filters * 2 ** (depth - 1), f"{prefix}encoder_{depth}", options)
    if bottleneck_dropout > 0:
        x = keras.layers.Dropout(bottleneck_dropout, name=f"{prefix}encoder_{depth}_dropout")(x)
    for level in range(depth - 1, 0, -1):
        level_filters = filters * 2 ** (level - 1)
        x = keras.layers.Conv2DTranspose(
            level_filters, 2, strides=2, kernel_initializer="he_normal",
            name=f"{prefix}decoder_{level}_upconv",
        )(x)
        skip = skips[level - 1]
        margin = crop_margin(depth - level, options.padding, shrink)
        if margin:
            skip = keras.layers.Cropping2D(margin, name=f"{prefix}decoder_{level}_crop")(skip)
        x = keras.layers.Concatenate(name=f"{prefix}decoder_{level}_concat")([skip, x])
        x = apply_block(block, x, level_filters, f"{prefix}decoder_{level}", options)
    return x


def segmentation_head(x, n_classes, activation, prefix=""):
    """Final 1x1 convolution to ``n_classes`` maps and the output activation.

    Returns:
        ``(logits, output)``: the pre-activation maps and the activated output.
    """
    logits = keras.layers.Conv2D(n_classes, 1, name=f"{prefix}output_conv")(x)
    # float32 even under a mixed-precision policy, so log-probabilities keep their range.
    output = keras.layers.Activation(activation, dtype="float32", name=f"{prefix}output")(logits)
    return logits, output
