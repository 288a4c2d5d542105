"""Whole-image prediction: argument checks, defaults and a cached ``tf.function`` per setting.

``make_tiled_predictor`` composes a model with the overlap-tile core into one TF function
(``[H, W, C] -> [H, W]``) to put inside an exported signature; ``predict_image`` is the eager
entry point for NumPy images.
"""

from __future__ import annotations

import dataclasses
import weakref

import keras
import numpy as np
import tensorflow as tf

from vesselnet.core.checks import check_int, check_number
from vesselnet.core.sizes import DEFAULT_BATCH_SIZE
from vesselnet.inference.geometry import TileGeometry, tile_geometry
from vesselnet.inference.outputs import output_activation, select_output, vessel_probability
from vesselnet.inference.precision import check_precision
from vesselnet.inference.scale import parse_scale
from vesselnet.inference.tile_choice import (
    choose_tile_geometry,
    default_context,
    default_overlap,
)
from vesselnet.inference.tiling import (
    blend_window,
    check_context,
    overlap_tile_predict_tf,
    tile_step,
)
from vesselnet.inference.tta import TTA_COPIES, TTA_MODES, flip_tta, tta_mode

_FUNCTIONS: "weakref.WeakKeyDictionary[keras.Model, dict]" = weakref.WeakKeyDictionary()


@dataclasses.dataclass(frozen=True)
class InferenceOptions:
    """How the network goes over a whole image (see :func:`predict_image`).

    Args:
        tile_size: wanted input tile side. Defaults to None (the cheapest tile, up to 800).
        batch_size: network inputs per call. Defaults to 1.
        tta: test-time augmentation, False, True (= ``"flips"``), ``"flips"`` or
            ``"dihedral"``. Defaults to False.
        scale: the scale a photograph is predicted at: ``"auto"`` (the network's learned
            scale), ``"none"`` (the photograph's own) or a factor; see
            :func:`~vesselnet.inference.scale.choose_scale`. Defaults to ``"auto"``.
        fov_diameter: the photographs' FOV diameter in pixels for ``"auto"``, instead of
            measuring it. Defaults to None.
        precision: the arithmetic of a Keras network, ``"float32"``, ``"mixed_bfloat16"`` or
            ``"auto"`` (bfloat16 on a CPU that has it natively); see
            :mod:`vesselnet.inference.precision`. Applied by ``load_model``. Defaults to
            ``"float32"``.

    Example:
        >>> InferenceOptions(tile_size=372, tta=True, scale="none")
    """

    tile_size: int | None = None
    batch_size: int = DEFAULT_BATCH_SIZE
    tta: bool | str = False
    scale: str | float = "auto"
    fov_diameter: float | None = None
    precision: str = "float32"

    def __post_init__(self):
        check_int("tile_size", self.tile_size, 1, optional=True)
        check_int("batch_size", self.batch_size, 1)
        if not isinstance(self.tta, bool) and self.tta not in TTA_MODES:
            raise ValueError(f"tta must be True, False or one of {TTA_MODES}, got {self.tta!r}")
        object.__setattr__(self, "scale", parse_scale(self.scale))
        check_precision(self.precision)
        if self.fov_diameter is not None:
            check_number("fov_diameter", self.fov_diameter, 0, strict=True)
            if self.scale != "auto":
                raise ValueError(f"fov_diameter ({self.fov_diameter}) applies to scale 'auto' "
                                 f"only, got scale {self.scale!r}")


def make_tiled_predictor(model: keras.Model, geometry: TileGeometry | None = None, *,
                         overlap: int | None = None, batch_size: int = DEFAULT_BATCH_SIZE,
                         tta=False, output: str = "final", activation: str | None = None,
                         context: int | None = None, window: str = "cosine", on_batch=None):
    """A TF-op function ``image [H, W, C] -> vessel probability [H, W]`` for ``model``.

    Usable eagerly, in ``tf.function`` with unknown H and W, or composed with preprocessing
    in an exported signature.

    Args:
        model: network of the U-Net family.
        geometry: tile geometry. Defaults to None (:func:`tile_geometry` of the model).
        overlap: minimum output-tile overlap. Defaults to None (:func:`default_overlap`).
        batch_size: network inputs per call; with TTA each tile counts its 4 or 8 copies.
            Defaults to 1.
        tta: False, True (= ``"flips"``), ``"flips"`` or ``"dihedral"``: see
            :func:`~vesselnet.inference.tta.flip_tta`. Defaults to False.
        output: ``"final"``, or ``"stage1"`` of the chained model. Defaults to ``"final"``.
        activation: the output activation. Defaults to None (read from the model).
        context: output pixels dropped per tile side. Defaults to None
            (:func:`default_context`).
        window: blending window, ``"cosine"`` or ``"uniform"``. Defaults to ``"cosine"``.
        on_batch: ``on_batch(tiles_done, tiles_total)``, called after each network call
            (a ``tf.py_function``: in-process only, never in exports). Defaults to None.

    Example:
        >>> predictor = make_tiled_predictor(model, tile_geometry(model, 572))
        >>> signature = tf.function(predictor, input_signature=[tf.TensorSpec([None, None, 1])])
    """
    select_output(model.output, output)  # raises for an unknown output
    geometry = tile_geometry(model, output=output) if geometry is None else geometry
    activation = output_activation(model, output) if activation is None else activation
    context = default_context(geometry) if context is None else context
    check_context(context, geometry)
    overlap = default_overlap(geometry, context) if overlap is None else overlap
    tile_step(geometry.output_size - 2 * context, overlap)  # raises for a bad overlap
    blend_window(1, window)  # raises for an unknown window
    mode = tta_mode(tta)
    check_int("batch_size", batch_size, 1)

    def model_fn(tiles):
        return vessel_probability(select_output(model(tiles, training=False), output),
                                  activation)

    tile_fn = model_fn if mode == "none" else flip_tta(model_fn, mode)
    tiles_per_call = max(1, batch_size // TTA_COPIES[mode])

    def predict(image):
        return overlap_tile_predict_tf(tile_fn, image, geometry, overlap, tiles_per_call,
                                       context=context, window=window, on_batch=on_batch)

    return predict


def _checked_image(image, channels) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim != 3:
        raise ValueError(f"image must be [H, W, C] (preprocessed, channels last), got shape "
                         f"{image.shape}")
    if image.shape[-1] != channels:
        raise ValueError(f"the model takes {channels} channel(s), got an image of shape "
                         f"{image.shape}")
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError(f"image is empty: shape {image.shape}")
    if not np.issubdtype(image.dtype, np.number) or np.iscomplexobj(image):
        raise ValueError(f"image must hold real numbers, got dtype {image.dtype}")
    bad = image.size - int(np.count_nonzero(np.isfinite(image)))
    if bad:
        raise ValueError(f"image has {bad} non-finite value(s) (NaN or inf)")
    return image.astype(np.float32, copy=False)


def predict_image(model: keras.Model, image, *, tile_size: int | TileGeometry | None = None,
                  overlap: int | None = None, batch_size: int = DEFAULT_BATCH_SIZE,
                  tta=False, output: str = "final", activation: str | None = None,
                  context: int | None = None, window: str = "cosine",
                  progress=None) -> np.ndarray:
    """Vessel probability of a whole preprocessed image by overlap-tile prediction.

    Implements the overlap-tile strategy of Ronneberger et al. 2015 (U-Net, Fig. 2): mirror
    padding, a grid of output tiles with their larger input tiles, batched network calls and
    smooth blending (see :func:`~vesselnet.inference.tiling.overlap_tile_predict_tf`). The TF
    function is traced once per model and setting, for any image size.

    Args:
        model: network of the U-Net family.
        image: preprocessed float image ``[H, W, C]``, any size.
        tile_size: wanted input tile side, or a :class:`TileGeometry`. Defaults to None: the
            tile (input up to 800) covering the image with the fewest input pixels.
        overlap: minimum output-tile overlap in ``[0, tile)``. Defaults to None: 0 with valid
            padding, a quarter tile with same padding (:func:`default_overlap`).
        batch_size: network inputs per call. Defaults to 1.
        tta: test-time augmentation: False, True/``"flips"`` (4 flips) or ``"dihedral"``
            (8, with the 90-degree rotations). Defaults to False.
        output: ``"final"`` or ``"stage1"`` (chained model). Defaults to ``"final"``.
        activation: output activation. Defaults to None (read from the model).
        context: output pixels dropped per tile side. Defaults to None (0 with valid padding,
            ``input // 16`` with same padding).
        window: ``"cosine"`` or ``"uniform"`` blending. Defaults to ``"cosine"``.
        progress: ``progress(tiles_done, tiles_total)``, called after each network call.
            One function is traced per progress object: pass the same one for many images.
            Defaults to None.

    Returns:
        float32 ``[H, W]`` vessel probability.

    Raises:
        ValueError: wrong rank, channels or values of ``image``, or an invalid argument
            (the received value is in the message).

    Example:
        >>> model = build_model("chained", filters=16, depth=4)
        >>> predict_image(model, np.zeros((584, 565, 1), np.float32)).shape
        (584, 565)
    """
    image = _checked_image(image, model.input_shape[-1])
    select_output(model.output, output)  # raises for an unknown output
    if isinstance(tile_size, TileGeometry):
        geometry = tile_size
    elif tile_size is None:
        geometry = choose_tile_geometry(model, image.shape[0], image.shape[1], overlap=overlap,
                                        context=context, output=output)
    else:
        geometry = tile_geometry(model, tile_size, output=output)
    activation = output_activation(model, output) if activation is None else activation
    key = (geometry, overlap, batch_size, tta_mode(tta), output, activation, context, window,
           None if progress is None else id(progress))
    functions = _FUNCTIONS.setdefault(model, {})
    if key not in functions:
        # a weak proxy: the cached function must not keep the model (its cache key) alive
        predictor = make_tiled_predictor(
            weakref.proxy(model), geometry, overlap=overlap, batch_size=batch_size, tta=tta,
            output=output, activation=activation, context=context, window=window,
            on_batch=progress)
        functions[key] = tf.function(predictor, input_signature=[
            tf.TensorSpec([None, None, image.shape[-1]], tf.float32)])
    return functions[key](tf.constant(image)).numpy()


def predict_images(model: keras.Model, images, **options):
    """Yield :func:`predict_image` of each image of an iterable (same options for all).

    Images of one size share one traced function; memory holds one image at a time.
    """
    for image in images:
        yield predict_image(model, image, **options)
