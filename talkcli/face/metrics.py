"""Expression measurements on a (468, 2|3) mesh, normalised by the interocular distance so
they compare across image sizes. Used to verify rendered frames (jaw open, blink, ...)."""

from __future__ import annotations

import numpy as np

from talkcli.face import regions

# Inner-lip pairs (upper, lower) across the middle of the mouth; averaging several is steadier
# than 13/14 alone and still reads zero when the lips touch.
INNER_LIP_PAIRS = ((13, 14), (82, 87), (312, 317), (81, 178), (311, 402))
# Lid pairs (upper, lower) across the middle of each eye.
EYE_LID_PAIRS = {
    "right": ((159, 145), (158, 153), (160, 144)),
    "left": ((386, 374), (385, 380), (387, 373)),
}
EYE_CORNERS = {"right": regions.EYE_RIGHT_CORNERS, "left": regions.EYE_LEFT_CORNERS}
# What eye_opening reads on real faces (iris-refined lids, measured on talking-head video):
# open eyes 0.27-0.40; fully closed eyes ~0.08-0.10, not 0 (the closed lid margin has a
# thickness), i.e. ~30% of open. Blink checks should compare against this floor.
OPEN_EYE_OPENING = 0.30
CLOSED_EYE_OPENING = 0.09


def _xy(points: np.ndarray) -> np.ndarray:
    return np.asarray(points, dtype=np.float64)[:, :2]


def interocular(points: np.ndarray) -> float:
    """Distance between the eye centres (midpoints of each eye's corners), px."""
    p = _xy(points)
    right = p[list(regions.EYE_RIGHT_CORNERS)].mean(axis=0)
    left = p[list(regions.EYE_LEFT_CORNERS)].mean(axis=0)
    return float(np.linalg.norm(left - right))


def mouth_gap(points: np.ndarray) -> float:
    """Inner-lip opening / interocular: 0 closed, ~0.3+ for a wide speaking opening.
    The gap is measured along the face's vertical axis (perpendicular to the mouth corners) so
    a rolled head does not change it; lips that cross read as 0."""
    p = _xy(points)
    up = _face_up(p)
    gaps = [float(np.dot(p[lower] - p[upper], -up)) for upper, lower in INNER_LIP_PAIRS]
    return max(float(np.mean(gaps)), 0.0) / interocular(p)


def mouth_width(points: np.ndarray) -> float:
    """Outer lip-corner distance (61 <-> 291) / interocular."""
    p = _xy(points)
    a, b = regions.MOUTH_CORNERS
    return float(np.linalg.norm(p[a] - p[b])) / interocular(p)


def eye_opening(points: np.ndarray, side: str = "right") -> float:
    """Lid gap / eye width of the subject's 'left' or 'right' eye (about 0.25-0.4 open, near 0
    closed). Takes the 468-point mesh (ideally iris-refined) or one eye's 16-point refined lid
    contour (FaceRig.eye_left / eye_right; `side` is then ignored)."""
    if len(points) == 16:
        return eye_opening_contour(points)
    if side not in EYE_LID_PAIRS:
        raise ValueError(f"side must be 'left' or 'right', not {side!r}")
    p = _xy(points)
    up = _face_up(p)
    gaps = [float(np.dot(p[upper] - p[lower], up)) for upper, lower in EYE_LID_PAIRS[side]]
    a, b = EYE_CORNERS[side]
    width = float(np.linalg.norm(p[a] - p[b]))
    return max(float(np.mean(gaps)), 0.0) / max(width, 1e-9)


def eye_opening_contour(lids: np.ndarray) -> float:
    """Lid gap / eye width from a 16-point refined lid contour (FaceRig.eye_left/eye_right:
    lower lid corner to corner at 0..8, upper lid at 9..15)."""
    c = np.asarray(lids, dtype=np.float64)[:, :2]
    corner_a, corner_b = c[0], c[8]
    axis = corner_b - corner_a
    width = float(np.linalg.norm(axis))
    normal = np.array([-axis[1], axis[0]]) / max(width, 1e-9)
    # Mid lower lid = points 3..5; mid upper lid = 11..13 (same positions along the eye).
    gap = abs(float(np.dot(c[11:14].mean(axis=0) - c[3:6].mean(axis=0), normal)))
    return gap / max(width, 1e-9)


def _face_up(p: np.ndarray) -> np.ndarray:
    """Unit vector from chin to forehead in image px."""
    v = p[regions.FOREHEAD] - p[regions.CHIN]
    return v / max(float(np.linalg.norm(v)), 1e-9)


def eye_closure(opening: float, open_opening: float) -> float:
    """How closed an eye is, 0 (as open as `open_opening`, e.g. the portrait's own value) to 1
    (reads as a fully closed real eye): rescales eye_opening between the open value and the
    ~0.09 that closed lids measure, so "blink 1" can be checked as closure >= ~0.9."""
    span = max(open_opening - CLOSED_EYE_OPENING, 1e-6)
    return float(min(max((open_opening - opening) / span, 0.0), 1.0))
