"""Reading photographs and binary masks from image files, with errors that name the file.

Every problem with the user's files is raised as :class:`VesselnetDataError`, a ``ValueError``
whose message names the file and what is wrong with it, so that the command line can print it
as one line instead of a traceback from inside OpenCV or Pillow.

Decoding uses OpenCV (``IMREAD_UNCHANGED``, so 16-bit files are seen as 16-bit instead of being
silently reduced) for every format but GIF, which Pillow reads so that palettes are resolved as
Pillow documents it. EXIF orientation tags are ignored, so a photograph and its masks keep the
same pixel grid. A file whose name ends in ``.gz`` is decompressed first (STARE ships so).
"""

from __future__ import annotations

import contextlib
import gzip
import os
import sys
import tempfile
import threading
import zlib
from io import BytesIO
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".gif", ".ppm", ".pgm", ".pnm")
"""File suffixes (lower case, optionally followed by ``.gz``) read as images."""

LOSSY_SUFFIXES = (".jpg", ".jpeg")
THRESHOLDED_MASK_SUFFIXES = LOSSY_SUFFIXES + (".gif",)
AMBIGUOUS_SHARE_LIMIT = 0.05
"""Largest share of mid-grey pixels (64..191) a JPEG or GIF mask may have before thresholding."""


class VesselnetDataError(ValueError):
    """A data file or folder that vesselnet cannot use; the message names it and the problem.

    Example:
        >>> try:
        ...     read_photograph("missing.tif")
        ... except VesselnetDataError as error:
        ...     print(error)
        missing.tif: file not found
    """


def image_stem(path: Path | str) -> str:
    """File name without its image suffix and without a trailing ``.gz``.

    Example:
        >>> image_stem("labels/im0001.ah.ppm.gz")
        'im0001.ah'
    """
    name = Path(path).name
    if name.lower().endswith(".gz"):
        name = name[:-3]
    return Path(name).stem


def is_image_file(path: Path) -> bool:
    """Whether ``path`` is a file with one of :data:`IMAGE_SUFFIXES` (``.gz`` allowed)."""
    name = path.name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    return path.is_file() and not path.name.startswith(".") and name.endswith(IMAGE_SUFFIXES)


def index_image_files(folder: Path) -> dict[str, Path]:
    """Image files of ``folder`` keyed by :func:`image_stem`, refusing two files with one stem.

    Raises:
        VesselnetDataError: ``folder`` is not a directory, or two files share a stem.
    """
    if not folder.is_dir():
        raise VesselnetDataError(f"{folder}: folder not found")
    files: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if not is_image_file(path):
            continue
        stem = image_stem(path)
        if stem in files:
            raise VesselnetDataError(
                f"{folder}: two files for one image, {files[stem].name} and {path.name}; "
                "keep one"
            )
        files[stem] = path
    return dict(sorted(files.items()))


DECODER_NOISE = ("libpng warning:", "libpng error:", "[ WARN:", "TIFF")
"""Starts of the lines image libraries print themselves while decoding; they are dropped."""
_STDERR_LOCK = threading.Lock()


@contextlib.contextmanager
def quiet_decoder():
    """Silences what libpng and libtiff print while OpenCV decodes a file.

    libtiff's warnings go through OpenCV's log (set to errors only inside the block); libpng
    writes its warnings (``libpng warning: iCCP: ...``) straight to file descriptor 2, so
    that descriptor is pointed at a temporary file for the block: lines starting with one of
    :data:`DECODER_NOISE` are dropped, anything else is written back to stderr. The problems
    that matter (an unreadable file) still come back as :class:`VesselnetDataError`. Set
    ``VESSELNET_DEBUG`` to see the libraries' messages.
    """
    if os.environ.get("VESSELNET_DEBUG"):
        yield
        return
    with _STDERR_LOCK, tempfile.TemporaryFile() as captured:
        level = cv2.utils.logging.getLogLevel()
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
        sys.stderr.flush()
        saved = os.dup(2)
        try:
            os.dup2(captured.fileno(), 2)
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            cv2.utils.logging.setLogLevel(level)
            captured.seek(0)
            kept = [line for line in captured.read().decode("utf-8", "replace").splitlines()
                    if line.strip() and not line.lstrip().startswith(DECODER_NOISE)]
            if kept:
                sys.stderr.write("\n".join(kept) + "\n")


def read_array(path: Path | str) -> np.ndarray:
    """Decode an image file as it is stored: dtype kept, channels in RGB(A) order.

    Returns:
        ``[H, W]`` for one channel, else ``[H, W, C]`` (RGB or RGBA).

    Raises:
        VesselnetDataError: the file is missing, is not a readable image or a bad ``.gz``.
    """
    path = Path(path)
    if not path.is_file():
        raise VesselnetDataError(f"{path}: file not found")
    data = path.read_bytes()
    name = path.name.lower()
    if name.endswith(".gz"):
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as error:
            raise VesselnetDataError(f"{path}: not a readable gzip file ({error})") from None
        name = name[:-3]
    if name.endswith(".gif"):
        return _decode_with_pillow(path, data)
    array = None
    if data:
        try:
            with quiet_decoder():
                array = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
        except cv2.error:
            array = None
    if array is None or array.size == 0:
        raise VesselnetDataError(f"{path}: not a readable image file ({len(data)} bytes)")
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    if array.ndim == 3:
        array = array[..., [2, 1, 0, 3][: array.shape[2]]]  # BGR(A) -> RGB(A)
    return array


def _decode_with_pillow(path: Path, data: bytes) -> np.ndarray:
    try:
        with Image.open(BytesIO(data)) as image:
            if image.mode in ("1", "L"):
                return np.asarray(image.convert("L"))
            has_alpha = "transparency" in image.info or image.mode in ("RGBA", "LA", "PA")
            return np.asarray(image.convert("RGBA" if has_alpha else "RGB"))
    except (UnidentifiedImageError, OSError, ValueError):
        raise VesselnetDataError(
            f"{path}: not a readable image file ({len(data)} bytes)"
        ) from None


def read_photograph(path: Path | str, *, grayscale: str = "error") -> np.ndarray:
    """Read an 8-bit RGB photograph.

    Rules: 8-bit RGB is returned as it is. An alpha channel is dropped when it is fully opaque
    and refused otherwise. 16-bit (or float) files are refused rather than rescaled, because
    their real bit depth (10, 12 or 16 bit) is unknown: convert them to 8 bit first. A
    one-channel file is refused with ``grayscale="error"`` (fundus data sets are colour) or
    replicated to three equal channels with ``grayscale="replicate"`` (the generic layout).

    Args:
        path: image file, optionally ``.gz``-compressed.
        grayscale: ``"error"`` or ``"replicate"``. Defaults to ``"error"``.

    Returns:
        ``uint8`` array ``[H, W, 3]``.

    Raises:
        VesselnetDataError: unreadable file, or a photograph breaking the rules above.

    Example:
        >>> image = read_photograph("DRIVE/training/images/21_training.tif")
        >>> image.shape, image.dtype
        ((584, 565, 3), dtype('uint8'))
    """
    if grayscale not in ("error", "replicate"):
        raise ValueError(f"grayscale must be 'error' or 'replicate', got {grayscale!r}")
    path = Path(path)
    array = read_array(path)
    if array.dtype != np.uint8:
        bits = array.dtype.itemsize * 8
        raise VesselnetDataError(
            f"{path}: {bits}-bit ({array.dtype}) photograph; vesselnet reads 8-bit photographs, "
            "convert it to 8 bit per channel first"
        )
    channels = 1 if array.ndim == 2 else array.shape[2]
    if channels in (2, 4):
        alpha = array[..., -1]
        if alpha.min() < 255:
            raise VesselnetDataError(
                f"{path}: photograph has transparent pixels (alpha down to {alpha.min()}); "
                "save it without transparency"
            )
        array = array[..., :-1]
        channels -= 1
    if channels == 1:
        if grayscale == "error":
            raise VesselnetDataError(
                f"{path}: grayscale photograph, but this data set expects colour (RGB) images"
            )
        array = np.repeat(array.reshape(array.shape[0], array.shape[1], 1), 3, axis=2)
    return np.ascontiguousarray(array)


def read_mask(path: Path | str) -> np.ndarray:
    """Read a binary mask (vessel annotation or field of view) as ``bool [H, W]``.

    Threshold rule: colour files are first reduced to one grey value per pixel (the channel
    itself when all channels are equal, else ITU-R 601 luma; palettes are resolved by their
    colours). Lossless files (PNG, TIFF, BMP, PPM) must then hold at most two grey values, and
    the larger one is foreground (``0/255``, ``0/1``, ``0/65535`` all work; a one-valued mask is
    all foreground when non-zero). JPEG and GIF masks are thresholded at half range (128 for
    8 bit, as DRIVE's palette GIFs require) and may hold more values, as JPEG compression
    makes, as long as at most 5 % of their pixels are mid-grey (64..191); a mask that breaks
    these rules, or has an alpha channel that is not opaque, raises an error.

    Args:
        path: image file, optionally ``.gz``-compressed.

    Returns:
        ``bool`` array ``[H, W]``.

    Raises:
        VesselnetDataError: unreadable file, or a mask that is not binary by the rule above.

    Example:
        >>> read_mask("DRIVE/training/mask/21_training_mask.gif").mean()  # share inside FOV
        0.69...
    """
    path = Path(path)
    array = read_array(path)
    if array.dtype not in (np.uint8, np.uint16):
        raise VesselnetDataError(f"{path}: mask of unsupported type {array.dtype}")
    if array.ndim == 3 and array.shape[2] in (2, 4):
        if array[..., -1].min() < np.iinfo(array.dtype).max:
            raise VesselnetDataError(f"{path}: mask has transparent pixels; save it opaque")
        array = array[..., :-1]
    grey = _to_grey(array)
    counts = np.bincount(grey.ravel(), minlength=2)
    values = np.flatnonzero(counts)
    if path.name.lower().removesuffix(".gz").endswith(THRESHOLDED_MASK_SUFFIXES):
        half = (int(np.iinfo(grey.dtype).max) + 1) // 2
        ambiguous = counts[half // 2 : half + half // 2].sum() / grey.size
        if ambiguous > AMBIGUOUS_SHARE_LIMIT:
            raise VesselnetDataError(
                f"{path}: mask is not binary: {ambiguous:.1%} of its pixels are mid-grey "
                f"({half // 2}..{half + half // 2 - 1}), more than the "
                f"{AMBIGUOUS_SHARE_LIMIT:.0%} allowed for JPEG/GIF masks"
            )
        return grey >= half
    if len(values) > 2:
        shown = ", ".join(str(value) for value in values[:6])
        raise VesselnetDataError(
            f"{path}: mask is not binary: {len(values)} distinct grey values ({shown}"
            f"{', ...' if len(values) > 6 else ''}); expected two, e.g. 0 and 255"
        )
    return grey == values[-1] if values[-1] > 0 else np.zeros(grey.shape, bool)


def _to_grey(array: np.ndarray) -> np.ndarray:
    if array.ndim == 2:
        return array
    first = array[..., 0]
    if np.array_equal(first, array[..., 1]) and np.array_equal(first, array[..., 2]):
        return np.ascontiguousarray(first)
    return cv2.cvtColor(np.ascontiguousarray(array[..., :3]), cv2.COLOR_RGB2GRAY)


def check_same_size(
    image_path: Path, image_shape: tuple, mask_path: Path, mask: np.ndarray
) -> None:
    """Raise :class:`VesselnetDataError` unless ``mask`` has the photograph's height and width."""
    if tuple(mask.shape[:2]) != tuple(image_shape[:2]):
        raise VesselnetDataError(
            f"{mask_path}: mask is {mask.shape[1]}x{mask.shape[0]} (width x height) but its "
            f"photograph {image_path.name} is {image_shape[1]}x{image_shape[0]}"
        )
