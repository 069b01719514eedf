"""render/triangulate.py against scipy.spatial (qhull), which it replaces on the render path:
the same Delaunay triangles, transforms, point location (up to ties on shared edges) and
nearest triangles; and the OpenCV stand-ins for scipy.ndimage in eyes.py and fill.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage
from scipy.spatial import Delaunay, cKDTree

from talkcli.face.pose import canonical_face
from talkcli.render.triangulate import Triangulation, delaunay

RNG = np.random.default_rng(11)


@pytest.fixture(scope="module")
def control_points(sample_portrait_path: Path) -> np.ndarray:
    """The sample portrait's warp control points (mesh, rings, frame border) at 512²."""
    from talkcli.face.analyze import analyze_portrait
    from talkcli.face.image import load_image
    from talkcli.render.renderer import Renderer

    renderer = Renderer(analyze_portrait(load_image(sample_portrait_path)), size=512)
    return np.asarray(renderer.geometry.points[:, :2], np.float64)


def _point_sets(control: np.ndarray) -> dict[str, np.ndarray]:
    return {"control": control, "canonical": canonical_face()[:, :2] * 40.0 + 256.0,
            "random": RNG.random((300, 2)) * [640.0, 480.0]}


def _as_qhull(ours: np.ndarray, qhull: np.ndarray) -> np.ndarray:
    """Our triangle t -> qhull's index of the same triangle (KeyError: not the same set)."""
    index = {tuple(sorted(s)): i for i, s in enumerate(qhull.tolist())}
    return np.array([index[tuple(sorted(s))] for s in ours.tolist()])


def test_same_triangles_and_transforms_as_qhull(control_points: np.ndarray) -> None:
    for name, pts in _point_sets(control_points).items():
        ours, theirs = Triangulation(pts), Delaunay(pts)
        assert len(ours.simplices) == len(theirs.simplices), name
        same = _as_qhull(ours.simplices, theirs.simplices)
        # the barycentric coordinates of a point agree, whatever the vertex order
        xy = pts[ours.simplices].mean(axis=1) + RNG.normal(0.0, 0.5, (len(same), 2))
        b_ours = ours.barycentric(np.arange(len(same)), xy)
        t = theirs.transform[same]
        b2 = np.einsum("nij,nj->ni", t[:, :2], xy - t[:, 2])
        b_theirs = np.column_stack([b2, 1.0 - b2.sum(axis=1)])
        for k in range(len(same)):
            order = [list(theirs.simplices[same[k]]).index(v) for v in ours.simplices[k]]
            np.testing.assert_allclose(b_ours[k], b_theirs[k][order], atol=1e-9)


def test_grid_location_is_qhulls_up_to_edge_ties(control_points: np.ndarray) -> None:
    pts = control_points
    ours, theirs = Triangulation(pts), Delaunay(pts)
    to_q = _as_qhull(ours.simplices, theirs.simplices)
    for rows, cols, step in ((512, 512, 1.0), (64, 64, 8.0), (37, 23, 13.0)):
        gx, gy = np.meshgrid((np.arange(cols) + 0.5) * step, (np.arange(rows) + 0.5) * step)
        xy = np.column_stack([gx.ravel(), gy.ravel()])
        mine = ours.locate_grid(rows, cols, step)
        want = theirs.find_simplex(xy)
        assert np.array_equal(mine < 0, want < 0)
        differ = np.nonzero((mine >= 0) & (to_q[np.maximum(mine, 0)] != want))[0]
        assert len(differ) < 0.01 * len(xy)
        # each disagreement is a grid point on the edge both triangles share
        assert (ours.barycentric(mine[differ], xy[differ]).min(axis=1) > -1e-8).all()
        back = {int(q): t for t, q in enumerate(to_q)}
        other = np.array([back[int(q)] for q in want[differ]], dtype=np.int64)
        assert (ours.barycentric(other, xy[differ]).min(axis=1) > -1e-8).all()


def test_outside_the_hull_and_the_nearest_triangle() -> None:
    pts = RNG.random((80, 2)) * 100.0 + 50.0          # a hull well inside the grid
    ours, theirs = Triangulation(pts), Delaunay(pts)
    mine = ours.locate_grid(20, 20, 10.0)
    gx, gy = np.meshgrid((np.arange(20) + 0.5) * 10.0, (np.arange(20) + 0.5) * 10.0)
    xy = np.column_stack([gx.ravel(), gy.ravel()])
    outside = mine < 0
    assert outside.any() and np.array_equal(outside, theirs.find_simplex(xy) < 0)
    near = ours.nearest(xy[outside])
    kd = cKDTree(theirs.points[theirs.simplices].mean(axis=1)).query(xy[outside])[1]
    assert np.array_equal(_as_qhull(ours.simplices, theirs.simplices)[near], kd)


def test_repeated_points_and_bad_input() -> None:
    pts = RNG.random((40, 2)) * 50.0
    doubled = np.concatenate([pts, pts[:5]])
    tris = delaunay(doubled)
    assert tris.max() < len(pts)  # the repeats are not used
    assert len(tris) == len(Delaunay(pts).simplices)
    with pytest.raises(ValueError):
        delaunay(pts[:2])
    with pytest.raises(ValueError):
        delaunay(np.column_stack([np.arange(10.0), np.arange(10.0)]))


def test_opencv_stand_ins_equal_scipy_ndimage() -> None:
    from talkcli.render.eyes import dilate
    from talkcli.render.fill import _box3

    for shape in ((1, 1), (9, 14), (40, 33)):
        mask = RNG.random(shape) > 0.85
        for k in (1, 2, 5):
            assert np.array_equal(dilate(mask, k), ndimage.binary_dilation(mask, iterations=k))
        image = RNG.random(shape).astype(np.float32)
        np.testing.assert_allclose(_box3(image), ndimage.uniform_filter(image, 3, mode="nearest"),
                                   atol=1e-6)
