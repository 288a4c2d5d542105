"""Synthetic fundus photographs with exact vessel and FOV masks, for tests and smoke runs.

Each retina is drawn from a seed: a circular field of view on a dark surround, a reddish-orange
background with vignetting, a slow illumination gradient and mottling, a bright optic disc, a
darker macula, and vessel trees that grow from the disc as curved random walks, branching and
tapering from about 8 to 1 pixels (widths scale with the image size). The vessels darken the
green channel most, as in real photographs. :func:`vesselnet.data.synthetic_layouts.write_synthetic_dataset`
stores such images in the on-disk layout of a public data set.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from vesselnet.data.records import ImageRecord

BRANCH_RATE = 0.022  # branches per pixel of vessel length (at DRIVE size), after a gap
CURVATURE_LENGTH = 120.0  # pixels over which a vessel's initial curvature fades
TAPER = 0.007  # width lost per pixel of length, besides the loss at each branch
DRIVE_SIZE = (584, 565)
"""(height, width) of a DRIVE photograph, the default synthetic size."""


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
