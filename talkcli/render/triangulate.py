"""Delaunay triangulation of 2-D points, and point location on a regular grid, without scipy.

Why not scipy.spatial.Delaunay (qhull): it was the render path's only use of scipy, and
importing scipy.spatial cost 0.3-0.5 s of every render's time to the first frame (scipy's
array-API layer rewrites some 300 docstrings at import). OpenCV's Subdiv2D (incremental
Delaunay on a quad-edge structure) gives the same triangles as qhull on the renderer's point
sets (the tests compare them on portraits' control points and meshes): points in general
position have exactly one Delaunay triangulation, so only co-circular ties could differ.

Point location is exact: the barycentric coordinates of every grid point inside each
triangle's bounding box, in bounded batches; a point on a shared edge goes to the first
triangle that holds it. Points outside the hull get the triangle with the nearest centroid.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

cv2: Any
try:
    import cv2
except ImportError:  # pragma: no cover - opencv-python-headless is a dependency
    cv2 = None

# Subdiv2D starts from a bounding triangle whose virtual vertices lie outside the rectangle it
# is given; close to the points they would take the convex hull's thin triangles for
# themselves (those triangles are then missing). PAD_SPANS point-spans away they cannot.
PAD_SPANS = 10.0
INSIDE_EPS = 1.5e-8  # barycentric tolerance: qhull's broad search (sqrt of double epsilon)
PAIRS_PER_BATCH = 1 << 18  # (triangle, grid point) candidates tested at once
DIST_BATCH = 1 << 22  # (point, centroid) distances at once in the nearest-triangle search


class Triangulation:
    """The Delaunay triangles of `points` (N, 2+; only x, y used): `simplices` (T, 3)
    indices and `transform` (T, 3, 2), scipy.spatial.Delaunay's barycentric transform
    (`transform[t, :2]` the inverse of [v0 - v2, v1 - v2], `transform[t, 2]` = v2)."""

    def __init__(self, points: np.ndarray) -> None:
        self.points = np.ascontiguousarray(np.asarray(points, np.float64)[:, :2])
        self.simplices = delaunay(self.points)
        self.transform = _barycentric_transform(self.points[self.simplices])

    def locate_grid(self, rows: int, cols: int, step: float = 1.0) -> np.ndarray:
        """(rows * cols,) the triangle holding each grid point ((j + 0.5) * step,
        (i + 0.5) * step), row by row; -1 outside the hull."""
        out = np.full(rows * cols, -1, dtype=np.int64)
        verts = self.points[self.simplices]                      # (T, 3, 2)
        lo, hi = verts.min(axis=1) / step - 0.5, verts.max(axis=1) / step - 0.5
        j0 = np.clip(np.ceil(lo[:, 0] - 1e-9), 0, cols).astype(np.int64)
        j1 = np.clip(np.floor(hi[:, 0] + 1e-9) + 1, 0, cols).astype(np.int64)
        i0 = np.clip(np.ceil(lo[:, 1] - 1e-9), 0, rows).astype(np.int64)
        i1 = np.clip(np.floor(hi[:, 1] + 1e-9) + 1, 0, rows).astype(np.int64)
        widths, heights = np.maximum(j1 - j0, 0), np.maximum(i1 - i0, 0)
        counts = widths * heights
        t = self.transform
        coef = (t[:, 0, 0], t[:, 0, 1], t[:, 1, 0], t[:, 1, 1], t[:, 2, 0], t[:, 2, 1])
        for tris in _batches(counts, PAIRS_PER_BATCH):
            n = counts[tris]
            tri = np.repeat(tris, n)
            local = np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n)
            wt = widths[tri]
            jj, ii = j0[tri] + local % wt, i0[tri] + local // wt
            a, b, c, d, ox, oy = (v[tri] for v in coef)
            dx, dy = (jj + 0.5) * step - ox, (ii + 0.5) * step - oy
            b0, b1 = a * dx + b * dy, c * dx + d * dy
            inside = (b0 >= -INSIDE_EPS) & (b1 >= -INSIDE_EPS) & (b0 + b1 <= 1.0 + INSIDE_EPS)
            cell, tri = ii[inside] * cols + jj[inside], tri[inside]
            # first triangle wins: reversed, so the lowest-numbered write lands last
            free = out[cell] < 0
            out[cell[free][::-1]] = tri[free][::-1]
        return out

    def nearest(self, xy: np.ndarray) -> np.ndarray:
        """(M,) the triangle whose centroid is nearest to each point (M, 2)."""
        cents = self.points[self.simplices].mean(axis=1)
        out = np.empty(len(xy), dtype=np.int64)
        per = max(1, DIST_BATCH // max(len(cents), 1))
        for s in range(0, len(xy), per):
            d = xy[s:s + per, None, :] - cents[None]
            out[s:s + per] = np.argmin((d * d).sum(axis=2), axis=1)
        return out

    def barycentric(self, tri: np.ndarray, xy: np.ndarray) -> np.ndarray:
        """(M, 3) barycentric coordinates of points `xy` (M, 2) in triangles `tri` (M,)."""
        return self._barycentric(tri, xy)

    def _barycentric(self, tri: np.ndarray, xy: np.ndarray) -> np.ndarray:
        trans = self.transform[tri]
        b2 = np.einsum("nij,nj->ni", trans[:, :2], xy - trans[:, 2])
        return np.column_stack([b2, 1.0 - b2.sum(axis=1)])


def delaunay(points: np.ndarray) -> np.ndarray:
    """(N, 2+) points -> (T, 3) int64 indices of their Delaunay triangles. A repeated point
    is used once (its first index), as qhull does."""
    if cv2 is None:  # pragma: no cover - opencv-python-headless is a dependency
        raise RuntimeError("OpenCV is needed for the triangulation")
    xy = np.asarray(points, np.float64)[:, :2]
    if len(xy) < 3:
        raise ValueError("a triangulation needs at least 3 points")
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    span = float((hi - lo).max()) + 1.0
    x0, y0 = (math.floor(v - PAD_SPANS * span) for v in lo)
    side = math.ceil((2.0 * PAD_SPANS + 1.0) * span) + 2
    subdiv = cv2.Subdiv2D((x0, y0, side, side))
    index_of: dict[int, int] = {}
    for i, (x, y) in enumerate(xy.astype(np.float32).tolist()):
        index_of.setdefault(subdiv.insert((x, y)), i)
    # the triangle list gives the vertices' stored (float32) coordinates: back to indices
    by_coords = {tuple(subdiv.getVertex(v)[0]): i for v, i in index_of.items()}
    corners = np.asarray(subdiv.getTriangleList(), np.float32).reshape(-1, 3, 2).tolist()
    tris = np.array([[by_coords[(x, y)] for x, y in tri] for tri in corners], dtype=np.int64)
    if tris.size == 0:
        raise ValueError("the points are collinear: no triangles")
    return tris.reshape(-1, 3)


def _barycentric_transform(verts: np.ndarray) -> np.ndarray:
    """(T, 3, 2) triangle vertices -> (T, 3, 2) scipy's transform; NaN for a flat one."""
    t = np.stack([verts[:, 0] - verts[:, 2], verts[:, 1] - verts[:, 2]], axis=-1)  # columns
    det = t[:, 0, 0] * t[:, 1, 1] - t[:, 0, 1] * t[:, 1, 0]
    flat = np.abs(det) < 1e-300
    det = np.where(flat, 1.0, det)
    inv = np.stack([np.stack([t[:, 1, 1], -t[:, 0, 1]], -1),
                    np.stack([-t[:, 1, 0], t[:, 0, 0]], -1)], axis=1) / det[:, None, None]
    inv[flat] = np.nan
    return np.concatenate([inv, verts[:, 2:3]], axis=1)


def _batches(counts: np.ndarray, limit: int) -> list[np.ndarray]:
    """Consecutive groups of triangle indices whose candidate counts add up to about
    `limit` (a triangle bigger than that alone)."""
    groups, start, total = [], 0, 0
    for t, n in enumerate(counts.tolist()):
        if total and total + n > limit:
            groups.append(np.arange(start, t))
            start, total = t, 0
        total += n
    if start < len(counts):
        groups.append(np.arange(start, len(counts)))
    return groups
