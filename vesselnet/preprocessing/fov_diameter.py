"""The diameter of a fundus photograph's field of view (FOV), in TF ops, eager or in a graph.

Method (one algorithm for both paths; :func:`fov_diameter` runs it eagerly on the host):

1. Edge points: the boundary between FOV and surround, as the midpoints of the pixel sides
   where the mask changes from one pixel to its right or lower neighbour. These points lie on
   the boundary itself, not half a pixel inside it (as the pixels of "mask minus erosion" do),
   so the circle fitted to them has no radius bias. Only sides between two pixels of the image
   count: where the camera or a crop clipped the circle, the FOV runs into the image border and
   that straight edge gives no points. Points on long straight horizontal or vertical runs
   (a clipping edge a few pixels inside the image) are dropped too (``STRAIGHT_RUN_ROOTS``).
2. A circle fitted to them by linear least squares (Kasa, 1976: ``x^2 + y^2 + D x + E y + F = 0``,
   the 3x3 normal equations in float64, on centred and scaled coordinates).
3. Twice more, the fit is repeated without the points farther than
   ``max(OUTLIER_MIN_PX, OUTLIER_MEDIANS * median residual)`` from the circle: notches and tabs
   cut into the rim, specks and holes of a derived mask.
4. The fit is used when enough points remain and the circle, clipped to the image, matches the
   mask (intersection over union >= ``MIN_AGREEMENT``) and is not absurdly large. Otherwise the
   FOV has no usable edge, mostly because it fills the image (a photograph cropped inside its
   FOV, or one without a dark surround), and the diameter is the image diagonal
   (``NO_EDGE_DIAGONALS``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import tensorflow as tf

METHOD_CIRCLE = 0
"""Method code: a circle fitted to the FOV's edge."""
METHOD_NO_EDGE = 1
"""Method code: no usable edge, mostly because the FOV fills the image (straight edges and
shapes that no circle matches count as none); the diameter is the fallback."""
METHOD_EMPTY = 2
"""Method code: the FOV is empty; the diameter is 0."""
METHOD_NAMES = ("circle", "no_edge", "empty")
"""Host names of the method codes, indexed by code."""

NO_EDGE_DIAGONALS = 1.0
"""Fallback diameter, in image diagonals, for a FOV without a usable edge.

A photograph whose four corners are all retina was cropped inside its circular FOV, so the
circle held the whole rectangle: its diameter was at least the image diagonal. The diagonal is
the smallest diameter consistent with what is seen, and it is exact for the usual crop, the
largest rectangle inside the circle. (The larger side is no candidate: a circle that wide would
not reach the corners.)
"""
OUTLIER_MIN_PX = 1.5
"""Edge points within this distance (pixels) of the fitted circle are always kept."""
OUTLIER_MEDIANS = 4.0
"""Edge points farther than this many median residuals from the circle are dropped."""
REFITS = 2
"""Refits after dropping outliers."""
MIN_EDGE_POINTS = 16
"""Fewer edge points than this (after dropping outliers) give no usable edge."""
MIN_AGREEMENT = 0.9
"""Smallest intersection over union between the mask and the fitted circle for a usable edge."""
STRAIGHT_RUN_ROOTS = 3.0
"""Edge points sharing one gap between two rows (or columns) with more than
``STRAIGHT_RUN_ROOTS * sqrt(image diagonal)`` others lie on a straight edge, not on the circle.

A circle of diameter ``D`` puts at most ``2 sqrt(D)`` points into one gap (at its top, bottom
or sides); a camera's straight clipping edge inside the image (a dark margin above a clipped
circle) puts its whole length there.
"""
AGREEMENT_STRIDE = 2
"""The agreement is counted on every second row and column."""
MAX_DIAGONALS = 4.0
"""A fitted diameter above this many image diagonals (an almost straight edge) is not used."""


@dataclass(frozen=True)
class FovDiameter:
    """The diameter of a photograph's field of view, measured by :func:`fov_diameter`.

    Args:
        diameter: FOV diameter in pixels.
        method: ``"circle"`` (a circle fitted to the FOV's edge) or ``"no_edge"`` (no usable
            edge, mostly because the FOV fills the image; ``diameter`` is the image diagonal).
        centre: (row, column) of the fitted circle's centre, in pixels from the centre of the
            top-left pixel (may lie outside the image); None for ``"no_edge"``.
        edge_points: edge points in the final fit (0 for ``"no_edge"``).
        residual: RMS distance of those points from the circle, pixels: about 0.25 for a clean
            mask (pixel steps), more for ragged derived masks. 0 for ``"no_edge"``.
        agreement: intersection over union of the mask and the fitted circle within the image
            (notches lower it); 0 for ``"no_edge"``.

    Example:
        >>> fov_diameter(np.ones((584, 565), bool))
        FovDiameter(diameter=812.58..., method='no_edge', centre=None, edge_points=0, ...)
    """

    diameter: float
    method: str
    centre: tuple[float, float] | None
    edge_points: int
    residual: float
    agreement: float


def fov_diameter(fov: np.ndarray) -> FovDiameter:
    """Diameter in pixels of the circular field of view of a photograph's FOV mask, on the host.

    Runs :func:`fov_diameter_tf`'s computation eagerly (the same ops as in exported graphs).
    About 0.15 s for a 3504x2336 mask, 0.06 s for 565x584, on 2 CPU cores.

    Args:
        fov: ``[H, W]`` mask, True (nonzero) inside the field of view; NumPy array or tensor.

    Returns:
        :class:`FovDiameter`.

    Raises:
        ValueError: ``fov`` is not 2-D or has no FOV pixel.

    Example:
        >>> rows, columns = np.mgrid[:960, :999]
        >>> disc = (rows - 479.5) ** 2 + (columns - 499) ** 2 <= 460.5 ** 2
        >>> measured = fov_diameter(disc)
        >>> round(measured.diameter, 1), measured.method
        (921.0, 'circle')
    """
    shape = np.shape(fov)
    if len(shape) != 2:
        raise ValueError(f"fov must be a mask [H, W], got shape {tuple(shape)}")
    fit = fit_fov_circle_tf(fov)
    method = int(fit.method)
    if method == METHOD_EMPTY:
        raise ValueError(
            f"the FOV mask of shape {tuple(shape)} is empty (no True pixel): it has no diameter"
        )
    centre = tuple(float(value) for value in fit.centre.numpy())
    return FovDiameter(
        diameter=float(fit.diameter),
        method=METHOD_NAMES[method],
        centre=centre if method == METHOD_CIRCLE else None,
        edge_points=int(fit.edge_points),
        residual=float(fit.residual),
        agreement=float(fit.agreement),
    )


class CircleFit(NamedTuple):
    """Every figure of one measurement, as scalar tensors (``fov_diameter_tf`` returns two)."""

    diameter: tf.Tensor  # float32, pixels
    method: tf.Tensor  # int32 code, METHOD_*
    centre: tf.Tensor  # float32 [2]: row, column of the fitted centre (pixel-centre coordinates)
    edge_points: tf.Tensor  # int32: edge points in the final fit
    residual: tf.Tensor  # float32: RMS distance of those points from the circle, pixels
    agreement: tf.Tensor  # float32: intersection over union of the mask and the circle


def fov_diameter_tf(fov: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Diameter in pixels of the circular FOV in a bool mask ``[H, W]`` (H, W may be unknown).

    TF ops only, so it runs eagerly and inside ``tf.function`` / SavedModel graphs. The method
    is in the module docstring.

    Args:
        fov: bool ``[H, W]``, True inside the field of view (other dtypes: nonzero is True).

    Returns:
        ``(diameter, method)``: float32 scalar (pixels) and int32 scalar, one of
        ``METHOD_CIRCLE`` (0, a circle fitted to the edge), ``METHOD_NO_EDGE`` (1, no usable
        edge: the image diagonal, see ``NO_EDGE_DIAGONALS``) and ``METHOD_EMPTY`` (2, no FOV
        pixel: 0).

    Example:
        >>> rows, columns = tf.meshgrid(tf.range(584.0), tf.range(565.0), indexing="ij")
        >>> disc = (rows - 291.5) ** 2 + (columns - 282.0) ** 2 <= 270.0 ** 2
        >>> diameter, method = fov_diameter_tf(disc)
        >>> round(float(diameter)), int(method)
        (540, 0)
    """
    fit = fit_fov_circle_tf(fov)
    return fit.diameter, fit.method


def fit_fov_circle_tf(fov: tf.Tensor) -> CircleFit:
    """The circle of a FOV mask and how well it fits: the measurement behind ``fov_diameter_tf``.

    Args:
        fov: bool ``[H, W]``, True inside the field of view (H, W may be unknown).

    Returns:
        :class:`CircleFit` of scalar tensors.

    Example:
        >>> fit_fov_circle_tf(tf.ones([40, 30], tf.bool)).method.numpy()
        1
    """
    fov = tf.convert_to_tensor(fov)
    if fov.shape.rank is not None and fov.shape.rank != 2:
        raise ValueError(f"fov must be a mask [H, W], got shape {fov.shape}")
    if fov.dtype != tf.bool:
        fov = tf.not_equal(fov, tf.zeros([], fov.dtype))
    height, width = tf.shape(fov)[0], tf.shape(fov)[1]
    diagonal = tf.sqrt(tf.cast(height, tf.float64) ** 2 + tf.cast(width, tf.float64) ** 2)

    points = _edge_points(fov, diagonal)
    centre, radius, weights = _robust_circle(points, diagonal)
    used = tf.reduce_sum(weights)
    residual = _residuals(points, centre, radius)
    rms = tf.sqrt(tf.math.divide_no_nan(tf.reduce_sum(weights * residual**2), used))
    agreement = _agreement(fov, centre, radius)

    usable = (
        tf.math.is_finite(radius)
        & (used >= MIN_EDGE_POINTS)
        & (agreement >= MIN_AGREEMENT)
        & (radius <= 0.5 * MAX_DIAGONALS * diagonal)
    )
    empty = tf.logical_not(tf.reduce_any(fov))
    method = tf.where(
        empty,
        tf.constant(METHOD_EMPTY),
        tf.where(usable, tf.constant(METHOD_CIRCLE), tf.constant(METHOD_NO_EDGE)),
    )
    fallback = tf.where(empty, tf.zeros_like(diagonal), NO_EDGE_DIAGONALS * diagonal)
    circle = tf.equal(method, METHOD_CIRCLE)

    def if_circle(value: tf.Tensor, otherwise: float, dtype: tf.DType) -> tf.Tensor:
        return tf.cast(
            tf.where(circle, value, tf.fill(tf.shape(value), tf.cast(otherwise, value.dtype))),
            dtype,
        )

    return CircleFit(
        diameter=tf.cast(tf.where(circle, 2.0 * radius, fallback), tf.float32),
        method=method,
        centre=if_circle(centre, float("nan"), tf.float32),
        edge_points=if_circle(used, 0.0, tf.int32),
        residual=if_circle(rms, 0.0, tf.float32),
        agreement=if_circle(agreement, 0.0, tf.float32),
    )


def _edge_points(fov: tf.Tensor, diagonal: tf.Tensor) -> tf.Tensor:
    """float64 ``[N, 2]`` (row, column): midpoints of the pixel sides where the mask changes,
    without those on straight horizontal or vertical runs.

    Pixel ``(i, j)`` has its centre at ``(i, j)``; a change between columns ``j`` and ``j + 1``
    of row ``i`` gives the point ``(i, j + 0.5)``.
    """
    across = tf.where(tf.not_equal(fov[:, :-1], fov[:, 1:]))  # [N, 2] int64 (row, column)
    down = tf.where(tf.not_equal(fov[:-1, :], fov[1:, :]))
    limit = tf.cast(STRAIGHT_RUN_ROOTS * tf.sqrt(diagonal), tf.int32)
    across = tf.boolean_mask(across, _off_straight_runs(across[:, 1], limit))
    down = tf.boolean_mask(down, _off_straight_runs(down[:, 0], limit))
    return tf.concat(
        [tf.cast(across, tf.float64) + [0.0, 0.5], tf.cast(down, tf.float64) + [0.5, 0.0]], axis=0
    )


def _off_straight_runs(gaps: tf.Tensor, limit: tf.Tensor) -> tf.Tensor:
    """bool ``[N]``: the point's gap between two rows (columns) holds at most ``limit`` points."""
    gaps = tf.cast(gaps, tf.int32)
    return tf.gather(tf.math.bincount(gaps, dtype=tf.int32), gaps) <= limit


def _robust_circle(points: tf.Tensor, diagonal: tf.Tensor):
    """Centre ``[2]``, radius and 0/1 point weights of the trimmed Kasa fit (float64)."""
    weights = tf.ones_like(points[:, 0])
    centre, radius = _kasa_fit(points, weights, diagonal)
    for _ in range(REFITS):
        residual = _residuals(points, centre, radius)
        limit = tf.maximum(
            tf.constant(OUTLIER_MIN_PX, tf.float64), OUTLIER_MEDIANS * _median(residual)
        )
        weights = tf.cast(residual <= limit, tf.float64)
        centre, radius = _kasa_fit(points, weights, diagonal)
    return centre, radius, weights


def _kasa_fit(points: tf.Tensor, weights: tf.Tensor, diagonal: tf.Tensor):
    """Weighted algebraic circle fit (Kasa): centre ``[2]`` and radius; NaN when degenerate.

    Solves ``x^2 + y^2 + D x + E y + F = 0`` in least squares through its 3x3 normal equations,
    on points centred on their weighted mean and divided by the image diagonal (well
    conditioned), by Cramer's rule (no exception on a singular matrix: the result is NaN).
    """
    total = tf.reduce_sum(weights)
    mean = tf.math.divide_no_nan(tf.reduce_sum(weights[:, None] * points, axis=0), total)
    scaled = (points - mean) / diagonal
    design = tf.concat([scaled, tf.ones_like(scaled[:, :1])], axis=1)  # [N, 3]
    target = -tf.reduce_sum(scaled**2, axis=1)
    normal = tf.einsum("n,ni,nj->ij", weights, design, design)
    moment = tf.einsum("n,ni,n->i", weights, design, target)
    first, second, third = normal[:, 0], normal[:, 1], normal[:, 2]
    determinant = tf.reduce_sum(first * tf.linalg.cross(second, third))
    adjugate = tf.stack(
        [
            tf.linalg.cross(second, third),
            tf.linalg.cross(third, first),
            tf.linalg.cross(first, second),
        ]
    )  # rows; normal is symmetric
    nan = tf.constant(float("nan"), tf.float64)
    solution = tf.where(
        tf.abs(determinant) > 1e-12 * total**3,
        tf.linalg.matvec(adjugate, moment) / determinant,
        nan,
    )
    centre = -0.5 * solution[:2]
    radius_squared = tf.reduce_sum(centre**2) - solution[2]
    positive = radius_squared > 0.0
    radius = tf.where(positive, tf.sqrt(tf.where(positive, radius_squared, 1.0)), nan)
    return mean + centre * diagonal, radius * diagonal


def _residuals(points: tf.Tensor, centre: tf.Tensor, radius: tf.Tensor) -> tf.Tensor:
    """Distance of each point from the circle, pixels (float64 ``[N]``)."""
    return tf.abs(tf.norm(points - centre, axis=1) - radius)


def _median(values: tf.Tensor) -> tf.Tensor:
    """Median (the upper one for an even count) of a float64 vector; NaN when it is empty."""
    count = tf.size(values)
    ordered = tf.sort(values)
    return tf.cond(
        count > 0,
        lambda: tf.gather(ordered, count // 2),
        lambda: tf.constant(float("nan"), tf.float64),
    )


def _agreement(fov: tf.Tensor, centre: tf.Tensor, radius: tf.Tensor) -> tf.Tensor:
    """Intersection over union of the mask and the disc (centre, radius) within the image.

    Counted on every ``AGREEMENT_STRIDE``-th row and column, in float32: a check against
    ``MIN_AGREEMENT``, not a measurement, at a quarter of the cost.
    """
    step = AGREEMENT_STRIDE
    sampled = fov[::step, ::step]
    centre, radius = tf.cast(centre, tf.float32), tf.cast(radius, tf.float32)
    rows = tf.range(0, tf.shape(fov)[0], step, dtype=tf.float32) - centre[0]
    columns = tf.range(0, tf.shape(fov)[1], step, dtype=tf.float32) - centre[1]
    disc = rows[:, None] ** 2 + columns[None, :] ** 2 <= radius**2
    both = tf.math.count_nonzero(sampled & disc, dtype=tf.float64)
    either = tf.math.count_nonzero(sampled | disc, dtype=tf.float64)
    return tf.math.divide_no_nan(both, either)
