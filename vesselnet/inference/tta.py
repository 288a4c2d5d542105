"""Test-time augmentation of tile predictions by flips (and transposes).

Rotations by 90 degrees are the transposes of flips, so ``"dihedral"`` covers all 8
symmetries of the square; arbitrary-angle rotations are not included (they would need
interpolation and a larger input context).
"""

from __future__ import annotations

import tensorflow as tf

TTA_MODES = ("none", "flips", "dihedral")
TTA_COPIES = {"none": 1, "flips": 4, "dihedral": 8}


def tta_mode(tta) -> str:
    """Normalise a ``tta`` argument: False/None -> ``"none"``, True -> ``"flips"``."""
    if tta is False or tta is None:
        return "none"
    if tta is True:
        return "flips"
    if tta in TTA_MODES:
        return tta
    raise ValueError(f"tta must be True, False or one of {TTA_MODES}, got {tta!r}")


def flip_tta(model_fn, mode: str = "flips"):
    """Test-time augmentation of a tile function: average over flipped copies of each tile.

    ``"flips"``: identity, horizontal, vertical, both (4 passes). ``"dihedral"``: those and
    their transposes, i.e. all 8 rotations/reflections by multiples of 90 degrees. Each
    prediction is flipped back before averaging. Tiles are square and centred in their input,
    so the un-flipped outputs cover the same pixels. The copies go through the network in one
    call: it sees 4 (or 8) times ``batch_size`` tiles.

    Args:
        model_fn: tiles ``[B, I, I, C]`` -> vessel probability ``[B, T, T]``.
        mode: ``"flips"`` or ``"dihedral"``. Defaults to ``"flips"``.
    """
    if mode not in TTA_MODES[1:]:
        raise ValueError(f"mode must be one of {TTA_MODES[1:]}, got {mode!r}")
    flips = ([], [2], [1], [1, 2])
    transposes = (False, True) if mode == "dihedral" else (False,)
    variants = [(axes, transpose) for transpose in transposes for axes in flips]

    def augmented(tiles):
        copies = []
        for axes, transpose in variants:
            copy = tf.reverse(tiles, axes) if axes else tiles
            copies.append(tf.transpose(copy, [0, 2, 1, 3]) if transpose else copy)
        predictions = model_fn(tf.concat(copies, axis=0))
        predictions = tf.reshape(predictions, tf.concat([[len(variants), -1],
                                                         tf.shape(predictions)[1:]], 0))
        restored = []
        for index, (axes, transpose) in enumerate(variants):
            prediction = predictions[index]
            prediction = tf.transpose(prediction, [0, 2, 1]) if transpose else prediction
            restored.append(tf.reverse(prediction, axes) if axes else prediction)
        return tf.add_n(restored) / len(variants)

    return augmented
