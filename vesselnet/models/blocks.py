"""Building blocks of the U-Net family: one function per block kind, picked by ``block=``.

Every block maps a tensor to ``filters`` channels and, with valid padding, trims
:func:`~vesselnet.core.sizes.block_shrink` pixels from each side length. Layer names start
with the block's ``name`` (``encoder_2_conv_1``, ``decoder_1_add``...).
"""

from __future__ import annotations

import dataclasses

import keras

from vesselnet.core.sizes import BLOCKS, block_shrink
from vesselnet.layers import RecurrentConv2D

INITIALIZER = "he_normal"  # Gaussian with std sqrt(2 / fan_in), as in Ronneberger et al. 2015


@dataclasses.dataclass(frozen=True)
class BlockOptions:
    """Options shared by every block of a network.

    Args:
        padding: ``"valid"`` or ``"same"``.
        batch_norm: batch normalisation after each convolution. Defaults to False.
        inner_dropout: dropout rate between the two convolutions of a block (0 disables it).
            Defaults to 0.
        steps: recurrent steps ``t`` of the recurrent blocks. Defaults to 2.
    """

    padding: str
    batch_norm: bool = False
    inner_dropout: float = 0.0
    steps: int = 2


def conv_unit(x, filters, name, options: BlockOptions, *, kernel_size=3, relu=True):
    """Convolution, optional batch normalisation, optional ReLU."""
    if not options.batch_norm:
        return keras.layers.Conv2D(
            filters, kernel_size, padding=options.padding, activation="relu" if relu else None,
            kernel_initializer=INITIALIZER, name=name,
        )(x)
    x = keras.layers.Conv2D(
        filters, kernel_size, padding=options.padding, use_bias=False,
        kernel_initializer=INITIALIZER, name=name,
    )(x)
    x = keras.layers.BatchNormalization(name=f"{name}_bn")(x)
    if relu:
        x = keras.layers.Activation("relu", name=f"{name}_relu")(x)
    return x


def _inner_dropout(x, name, options: BlockOptions):
    if options.inner_dropout > 0:
        x = keras.layers.Dropout(options.inner_dropout, name=f"{name}_dropout")(x)
    return x


def _crop(x, pixels, name):
    return keras.layers.Cropping2D(pixels, name=name)(x) if pixels else x


def plain_block(x, filters, name, options: BlockOptions):
    """Two 3x3 convolutions with ReLU (Ronneberger et al. 2015)."""
    x = conv_unit(x, filters, f"{name}_conv_1", options)
    x = _inner_dropout(x, name, options)
    return conv_unit(x, filters, f"{name}_conv_2", options)


def residual_block(x, filters, name, options: BlockOptions):
    """Two 3x3 convolutions plus a shortcut, then ReLU (He et al. 2016).

    The shortcut is projected by a 1x1 convolution when the channels change and centre-cropped
    by two pixels per side with valid padding.
    """
    shortcut = x
    x = conv_unit(x, filters, f"{name}_conv_1", options)
    x = _inner_dropout(x, name, options)
    x = conv_unit(x, filters, f"{name}_conv_2", options, relu=False)
    if shortcut.shape[-1] != filters:
        shortcut = conv_unit(shortcut, filters, f"{name}_shortcut", options, kernel_size=1,
                             relu=False)
    shortcut = _crop(shortcut, 2 if options.padding == "valid" else 0, f"{name}_shortcut_crop")
    x = keras.layers.Add(name=f"{name}_add")([shortcut, x])
    return keras.layers.Activation("relu", name=f"{name}_relu")(x)


def recurrent_block(x, filters, name, options: BlockOptions, *, residual=True):
    """1x1 convolution, two recurrent convolutional layers, optional residual sum.

    The recurrent-residual (RRCNN) block of Alom et al. 2018 (R2U-Net); ``residual=False``
    gives their recurrent-only RU-Net block.
    """
    x = keras.layers.Conv2D(filters, 1, kernel_initializer=INITIALIZER, name=f"{name}_in")(x)
    y = x
    for index in (1, 2):
        y = RecurrentConv2D(
            filters, steps=options.steps, padding=options.padding,
            batch_norm=options.batch_norm, kernel_initializer=INITIALIZER,
            name=f"{name}_rcl_{index}",
        )(y)
        if index == 1:
            y = _inner_dropout(y, name, options)
    if not residual:
        return y
    trim = block_shrink("recurrent", options.steps) // 2 if options.padding == "valid" else 0
    x = _crop(x, trim, f"{name}_shortcut_crop")
    return keras.layers.Add(name=f"{name}_add")([x, y])


def apply_block(block: str, x, filters, name, options: BlockOptions):
    """Apply the block named ``block`` (one of :data:`BLOCKS`)."""
    if block == "plain":
        return plain_block(x, filters, name, options)
    if block == "residual":
        return residual_block(x, filters, name, options)
    if block == "recurrent_residual":
        return recurrent_block(x, filters, name, options, residual=True)
    if block == "recurrent":
        return recurrent_block(x, filters, name, options, residual=False)
    raise ValueError(f"block must be one of {BLOCKS}, got {block!r}")
