"""Synthetic fundus photographs with exact vessel and FOV masks, for tests and smoke runs.

Each retina is drawn from a seed: a circular field of view on a dark surround, a reddish-orange
background with vignetting, a slow illumination gradient and mottling, a bright optic disc, a
darker macula, and vessel trees that grow from the disc as curved random walks, branching and
tapering from about 8 to 1 pixels (widths scale with the image size). The vessels darken the
green channel most, as in real photographs. :func:`write_synthetic_dataset` stores such images
in the on-disk layout of a public data set, which the reader tests read back.
"""

from __future__ import annotations

import gzip
import math
from dataclasses import dataclass, replace
from io import BytesIO
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from vesselnet.data.records import ImageRecord

BRANCH_RATE = 0.022  # branches per pixel of vessel length (at DRIVE size), after a gap
CURVATURE_LENGTH = 120.0  # pixels over which a vessel's initial curvature fades
TAPER = 0.007  # width lost per pixel of length, besides the loss at each branch
DRIVE_SIZE = (584, 565)
"""(height, width) of a DRIVE photograph, the default synthetic size."""
SYNTHETIC_LAYOUTS = ("drive", "chase_db1", "stare", "hrf", "generic")
JPEG_QUALITY = 95
HRF_KINDS = ("dr", "g", "h")


@dataclass(frozen=True)
class _Geometry:
    """Where things are in one synthetic retina, in pixels ((x, y) points)."""

    centre: tuple[float, float]
    radius: float
    disc: tuple[float, float]
    disc_radius: float
    fovea: tuple[float, float]
    side: float  # +1: optic disc right of centre (the temporal side is on the left)
    scale: float  # image size relative to DRIVE


@dataclass(frozen=True)
class _Vessel:
    x: float
    y: float
    heading: float
    width: float
    curvature: float


def synthetic_retina(
    seed: int,
    size: tuple[int, int] = DRIVE_SIZE,
    *,
    name: str | None = None,
    noise_std: float = 2.5,
) -> ImageRecord:
    """One synthetic fundus photograph with its exact vessel mask and circular FOV.

    The same ``seed`` and ``size`` always give identical arrays. Vessel pixels are about
    8-15 % of the FOV, as in DRIVE; every vessel pixel lies inside the FOV.

    Args:
        seed: seed of the random generator (any non-negative integer).
        size: ``(height, width)`` in pixels, each at least 32. Defaults to DRIVE's (584, 565).
        name: record name. Defaults to ``f"synthetic_{seed}"``.
        noise_std: standard deviation of the pixel noise, in grey levels. Defaults to 2.5.

    Returns:
        An :class:`ImageRecord` with ``image``, ``fov`` and ``vessels`` set, ``path=None``.

    Example:
        >>> record = synthetic_retina(seed=3)
        >>> record.image.shape, record.vessels[record.fov].mean().round(2)
        ((584, 565, 3), 0.12)
    """
    height, width = _check_size(size)
    if seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed}")
    rng = np.random.default_rng(seed)
    radius = rng.uniform(0.465, 0.48) * min(height, width)
    centre = (width / 2 + rng.uniform(-0.01, 0.01) * width, height / 2)
    side = float(rng.choice([-1.0, 1.0]))
    disc = (
        centre[0] + side * rng.uniform(0.38, 0.48) * radius,
        centre[1] + rng.uniform(-0.1, 0.1) * radius,
    )
    geometry = _Geometry(
        centre=centre,
        radius=radius,
        disc=disc,
        disc_radius=rng.uniform(0.13, 0.16) * radius,
        fovea=(centre[0] - side * rng.uniform(0.12, 0.2) * radius, disc[1] + 0.05 * radius),
        side=side,
        scale=min(height, width) / min(DRIVE_SIZE),
    )
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    distance = np.hypot(xx - centre[0], yy - centre[1])
    fov = distance <= radius
    vessels = _grow_vessels(rng, (height, width), geometry) & fov
    image = _render(rng, xx, yy, distance, vessels, geometry, noise_std)
    return ImageRecord(
        name=name if name is not None else f"synthetic_{seed}",
        image=image,
        fov=fov,
        vessels=vessels,
    )


def synthetic_dataset(
    n: int, seed: int, size: tuple[int, int] = DRIVE_SIZE
) -> list[ImageRecord]:
    """``n`` synthetic retinas, deterministic under ``seed``, named ``synthetic_000``...

    Image ``i`` uses its own seed derived from ``(seed, i)``, so the first images of a larger
    data set equal those of a smaller one.

    Example:
        >>> [record.name for record in synthetic_dataset(2, seed=0, size=(128, 128))]
        ['synthetic_000', 'synthetic_001']
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    return [
        synthetic_retina(derived_seed(seed, index), size, name=f"synthetic_{index:03d}")
        for index in range(n)
    ]


def derived_seed(seed: int, index: int) -> int:
    """Seed of image ``index`` of a synthetic data set drawn with ``seed``."""
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


def _check_size(size: tuple[int, int]) -> tuple[int, int]:
    if len(size) != 2 or min(size) < 32:
        raise ValueError(f"size must be (height, width), each >= 32, got {size}")
    return int(size[0]), int(size[1])


def _grow_vessels(
    rng: np.random.Generator, shape: tuple[int, int], geometry: _Geometry
) -> np.ndarray:
    """Draw the vessel trees: main vessels from the disc, grown as branching walks."""
    centre, radius, disc, fovea = geometry.centre, geometry.radius, geometry.disc, geometry.fovea
    side, scale = geometry.side, geometry.scale
    roots = []
    temporal = math.pi if side > 0 else 0.0
    for vertical in (-1.0, 1.0):  # superior and inferior arcades (a vein and an artery each)
        for main_width, spread in ((7.5, 0.0), (5.5, 0.25)):
            angle = temporal - side * vertical * rng.uniform(1.2, 1.45) + side * vertical * spread
            roots.append((angle, main_width, side * vertical * rng.uniform(0.008, 0.011)))
        for _ in range(2):  # nasal vessels
            angle = (temporal + math.pi) + side * vertical * rng.uniform(0.35, 1.2)
            roots.append((angle, rng.uniform(3.5, 5.0), rng.normal(0.0, 0.002)))
    stack = []
    for angle, width, curvature in roots:
        x = disc[0] + 0.2 * geometry.disc_radius * math.cos(angle)
        y = disc[1] + 0.2 * geometry.disc_radius * math.sin(angle)
        stack.append(_Vessel(x, y, angle, width * scale, curvature / scale))

    mask = np.zeros(shape, np.uint8)
    step = max(1.5, 3.0 * scale)
    fovea_clear = 0.09 * radius
    while stack:
        vessel = stack.pop()
        x, y, heading, width, curvature = (
            vessel.x, vessel.y, vessel.heading, vessel.width, vessel.curvature
        )
        since_branch = 0.0
        while width >= 0.75 * max(scale, 0.5):
            heading += curvature * step + rng.normal(0.0, 0.05)
            curvature = curvature * (1.0 - step / (CURVATURE_LENGTH * scale)) + rng.normal(
                0.0, 0.0002 / scale
            )
            fovea_distance = math.hypot(x - fovea[0], y - fovea[1])
            if fovea_distance < 3 * fovea_clear:  # steer around the avascular fovea
                away = math.atan2(y - fovea[1], x - fovea[0])
                closeness = 1 - fovea_distance / (3 * fovea_clear)
                heading += 0.12 * math.sin(away - heading) * closeness
            new_x, new_y = x + step * math.cos(heading), y + step * math.sin(heading)
            if math.hypot(new_x - centre[0], new_y - centre[1]) > radius - 1:
                break
            if math.hypot(new_x - fovea[0], new_y - fovea[1]) < fovea_clear:
                break
            thickness = max(1, round(width))
            cv2.line(
                mask,
                (round(x * 16), round(y * 16)),
                (round(new_x * 16), round(new_y * 16)),
                1,
                thickness,
                cv2.LINE_8,
                4,
            )
            x, y = new_x, new_y
            width -= TAPER * step
            since_branch += step
            if since_branch > 18 * scale and rng.random() < BRANCH_RATE * step / scale:
                since_branch = 0.0
                child_width = width * rng.uniform(0.45, 0.8)
                branch_side = rng.choice([-1.0, 1.0])
                child_heading = heading + branch_side * rng.uniform(0.5, 1.3)
                stack.append(
                    _Vessel(x, y, child_heading, child_width, rng.normal(0.0, 0.004) / scale)
                )
                width *= rng.uniform(0.85, 0.95)
                heading -= branch_side * rng.uniform(0.05, 0.2)
    return mask.astype(bool)


def _smooth_field(rng: np.random.Generator, shape: tuple[int, int], cells: int) -> np.ndarray:
    """Random field of unit standard deviation that varies over about ``1/cells`` of the image."""
    coarse = rng.normal(0.0, 1.0, (cells, cells)).astype(np.float32)
    return cv2.resize(coarse, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC)


def _render(rng, xx, yy, distance, vessels, geometry: _Geometry, noise_std) -> np.ndarray:
    """Paint the photograph around the given vessel mask."""
    centre, radius, disc, fovea = geometry.centre, geometry.radius, geometry.disc, geometry.fovea
    disc_radius, scale = geometry.disc_radius, geometry.scale
    shape = xx.shape
    base = np.array(
        [rng.uniform(200, 240), rng.uniform(95, 125), rng.uniform(45, 70)], np.float32
    )
    relative = distance / radius
    gradient = rng.normal(0.0, 0.08, 2).astype(np.float32)
    illumination = (1.0 - rng.uniform(0.3, 0.45) * relative**2.2) * (
        1.0 + gradient[0] * (xx - centre[0]) / radius + gradient[1] * (yy - centre[1]) / radius
    )
    illumination *= 1.0 + 0.04 * _smooth_field(rng, shape, 6)
    fovea_distance = np.hypot(xx - fovea[0], yy - fovea[1]) / radius
    illumination *= 1.0 - 0.22 * np.exp(-((fovea_distance / 0.16) ** 2))
    image = base[None, None, :] * illumination[..., None]
    image *= (1.0 + 0.03 * _smooth_field(rng, shape, 24))[..., None]

    disc_distance = np.hypot(xx - disc[0], yy - disc[1]) / disc_radius
    disc_weight = np.clip((1.1 - disc_distance) / 0.4, 0.0, 1.0)[..., None] ** 1.5
    disc_colour = np.array([250, rng.uniform(185, 215), rng.uniform(120, 150)], np.float32)
    image = image * (1.0 - 0.75 * disc_weight) + disc_colour * 0.75 * disc_weight
    cup = np.exp(-((disc_distance / 0.45) ** 2))[..., None]
    image += cup * np.array([5.0, 25.0, 25.0], np.float32)

    profile = cv2.GaussianBlur(vessels.astype(np.float32), (0, 0), 0.6 * max(scale, 0.5))
    profile = np.clip(profile * 1.15, 0.0, 1.0)[..., None]
    depth = np.array(
        [rng.uniform(0.03, 0.08), rng.uniform(0.2, 0.3), rng.uniform(0.1, 0.16)], np.float32
    )
    image *= 1.0 - depth * profile

    image += rng.normal(0.0, noise_std, image.shape).astype(np.float32)
    inside = np.clip(radius - distance + 0.25, 0.0, 1.0)[..., None]
    surround = 3.0 + np.abs(rng.normal(0.0, 1.5, image.shape)).astype(np.float32)
    image = inside * image + (1.0 - inside) * surround
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def write_synthetic_dataset(
    root: Path | str,
    layout: str,
    n: int,
    seed: int,
    *,
    size: tuple[int, int] = DRIVE_SIZE,
    split: str = "training",
    compress: bool = False,
) -> list[ImageRecord]:
    """Write ``n`` synthetic retinas to ``root`` in the file layout of a public data set.

    Layouts and files (``i`` counts from 0):

    - ``"drive"``: ``<split>/images/NN_<split>.tif``, ``1st_manual/NN_manual1.gif``,
      ``mask/NN_<split>_mask.gif`` and, for ``split="test"``, ``2nd_manual/NN_manual2.gif``
      (NN = 21 + i for training, 1 + i for test).
    - ``"chase_db1"``: ``Image_KKE.jpg`` (JPEG quality 95, K = i // 2 + 1, E = L or R),
      ``Image_KKE_1stHO.png``, ``Image_KKE_2ndHO.png``; no FOV files.
    - ``"stare"``: ``im0001.ppm``, ``im0001.ah.ppm``, ``im0001.vk.ppm`` (each ``.gz`` when
      ``compress``); no FOV files.
    - ``"hrf"``: ``images/KK_T.JPG`` (T in dr, g, h), ``manual1/KK_T.tif``,
      ``mask/KK_T_mask.tif`` (RGB, like the real masks).
    - ``"generic"``: ``images/synthetic_III.png``, ``masks/...png``, ``fov/...png``.

    The second observer is the first one dilated by one pixel (inside the FOV).

    Args:
        root: folder to write into (created when missing).
        layout: one of :data:`SYNTHETIC_LAYOUTS`.
        n: number of images.
        seed: seed of the data set (see :func:`synthetic_dataset`).
        size: ``(height, width)``. Defaults to DRIVE's (584, 565).
        split: DRIVE split folder, ``"training"`` or ``"test"``. Defaults to ``"training"``.
        compress: gzip the STARE files. Defaults to False.

    Returns:
        The records as written (photograph before JPEG compression), named as the reader of
        the layout names them, with ``path`` the photograph file and the true FOV.

    Example:
        >>> records = write_synthetic_dataset(tmp_path, "drive", n=2, seed=0, size=(96, 96))
        >>> records[0].name, records[0].path.name
        ('21_training', '21_training.tif')
    """
    if layout not in SYNTHETIC_LAYOUTS:
        raise ValueError(f"layout must be one of {SYNTHETIC_LAYOUTS}, got {layout!r}")
    if layout == "drive" and split not in ("training", "test"):
        raise ValueError(f"DRIVE split must be 'training' or 'test', got {split!r}")
    root = Path(root)
    written = []
    for index, record in enumerate(synthetic_dataset(n, seed, size)):
        second = cv2.dilate(record.vessels.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
        record = replace(record, second_observer=second & record.fov)
        written.append(_WRITERS[layout](root, index, record, split=split, compress=compress))
    return written


def _save(array: np.ndarray, path: Path, *, compress: bool = False, **options) -> Path:
    """Save a uint8 image or a bool mask (as 0/255) with Pillow, optionally gzipped."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = array.astype(np.uint8) * 255 if array.dtype == bool else array
    image = Image.fromarray(pixels)
    if not compress:
        image.save(path, **options)
        return path
    buffer = BytesIO()
    image.save(buffer, format=Image.registered_extensions()[path.suffix.lower()], **options)
    path = path.with_name(path.name + ".gz")
    path.write_bytes(gzip.compress(buffer.getvalue(), mtime=0))
    return path


def _write_drive(root, index, record, *, split, compress):
    number = f"{index + (21 if split == 'training' else 1):02d}"
    folder = root / split
    name = f"{number}_{split}"
    path = _save(record.image, folder / "images" / f"{name}.tif")
    _save(record.vessels, folder / "1st_manual" / f"{number}_manual1.gif")
    _save(record.fov, folder / "mask" / f"{name}_mask.gif")
    if split == "test":
        _save(record.second_observer, folder / "2nd_manual" / f"{number}_manual2.gif")
    else:
        record = replace(record, second_observer=None)
    return replace(record, name=name, path=path)


def _write_chase_db1(root, index, record, *, split, compress):
    name = f"Image_{index // 2 + 1:02d}{'LR'[index % 2]}"
    path = _save(record.image, root / f"{name}.jpg", quality=JPEG_QUALITY)
    _save(record.vessels, root / f"{name}_1stHO.png")
    _save(record.second_observer, root / f"{name}_2ndHO.png")
    return replace(record, name=name, path=path)


def _write_stare(root, index, record, *, split, compress):
    name = f"im{index + 1:04d}"
    path = _save(record.image, root / f"{name}.ppm", compress=compress)
    for suffix, mask in ((".ah", record.vessels), (".vk", record.second_observer)):
        grey = mask.astype(np.uint8) * 255
        rgb = np.repeat(grey[..., None], 3, axis=2)
        _save(rgb, root / f"{name}{suffix}.ppm", compress=compress)
    return replace(record, name=name, path=path)


def _write_hrf(root, index, record, *, split, compress):
    name = f"{index // len(HRF_KINDS) + 1:02d}_{HRF_KINDS[index % len(HRF_KINDS)]}"
    path = _save(record.image, root / "images" / f"{name}.JPG", quality=JPEG_QUALITY)
    _save(record.vessels, root / "manual1" / f"{name}.tif")
    grey = record.fov.astype(np.uint8) * 255
    _save(np.repeat(grey[..., None], 3, axis=2), root / "mask" / f"{name}_mask.tif")
    return replace(record, name=name, path=path, second_observer=None)


def _write_generic(root, index, record, *, split, compress):
    path = _save(record.image, root / "images" / f"{record.name}.png")
    _save(record.vessels, root / "masks" / f"{record.name}.png")
    _save(record.fov, root / "fov" / f"{record.name}.png")
    return replace(record, path=path, second_observer=None)


_WRITERS = {
    "drive": _write_drive,
    "chase_db1": _write_chase_db1,
    "stare": _write_stare,
    "hrf": _write_hrf,
    "generic": _write_generic,
}
