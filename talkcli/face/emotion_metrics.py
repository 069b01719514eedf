"""Expression offsets of one face mesh in the face's own frame, in interocular units.

The frame: x along the eye axis (subject's right eye corner midpoint -> left), y perpendicular,
pointing down the face (image y for an upright face), origin between the eyes. So a rolled
head reads as an upright one, and every number is a fraction of the interocular distance.

The measures follow issue 15 (one MEAD actor's acted emotions against his neutral clip):
- `corners`: lip centre y - mean corner y (mesh 13/14 vs 61/291); + = corners above the lip
  centre (a smile), - = corners down (sad);
- `brow`: mean brow y - mean upper-lid y (105/334 vs 159/386); - = above the lid, so raised
  brows read more negative and lowered (angry) brows less;
- `brow_inner`: the same for the inner brow ends (107/336) over the inner upper lids
  (158/385): the sad, worried inner raise;
- `brow_gap`: x distance of the inner brow ends (107 <-> 336); angry draws it together;
- `eye_open`: mean lid gap (159-145, 386-374) / interocular; surprise widens, smile narrows;
- `cheek`: mean cheek y (mesh 50/280) - lower-lid y (145/374); a smile lifts the cheeks.
"""

from __future__ import annotations

import numpy as np

from talkcli.face import regions

MEASURES = ("corners", "brow", "brow_inner", "brow_gap", "eye_open", "cheek")


def face_frame(points: np.ndarray) -> np.ndarray:
    """(N, 2) points in the face frame (origin between the eyes, interocular units)."""
    p = np.asarray(points, dtype=np.float64)[:, :2]
    right = p[list(regions.EYE_RIGHT_CORNERS)].mean(axis=0)
    left = p[list(regions.EYE_LEFT_CORNERS)].mean(axis=0)
    axis = left - right
    io = max(float(np.linalg.norm(axis)), 1e-9)
    ex = axis / io
    ey = np.array([-ex[1], ex[0]])
    rel = p - 0.5 * (left + right)
    return np.stack([rel @ ex, rel @ ey], axis=1) / io


def expression_measures(points: np.ndarray) -> dict[str, float]:
    """The MEASURES of one (468, 2|3) mesh (see the module docstring)."""
    q = face_frame(points)
    y = q[:, 1]
    lip_centre = 0.5 * (y[13] + y[14])
    return {
        "corners": float(lip_centre - 0.5 * (y[61] + y[291])),
        "brow": float(0.5 * (y[105] + y[334]) - 0.5 * (y[159] + y[386])),
        "brow_inner": float(0.5 * (y[107] + y[336]) - 0.5 * (y[158] + y[385])),
        "brow_gap": float(abs(q[336, 0] - q[107, 0])),
        "eye_open": float(0.5 * ((y[145] - y[159]) + (y[374] - y[386]))),
        "cheek": float(0.5 * (y[50] + y[280]) - 0.5 * (y[145] + y[374])),
    }


def median_measures(meshes: list[np.ndarray]) -> dict[str, float]:
    """Per-measure median over frames."""
    rows = [expression_measures(m) for m in meshes]
    return {k: float(np.median([r[k] for r in rows])) for k in MEASURES}


def offsets(emotion: dict[str, float], neutral: dict[str, float]) -> dict[str, float]:
    return {k: emotion[k] - neutral[k] for k in MEASURES}
