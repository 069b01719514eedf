"""The 468-point face mesh: rotated ROI crops at 192x192, mapped back to full-resolution px."""

from __future__ import annotations

import functools
import math

import numpy as np

from talkcli.face.detect import KP_LEFT_EYE, KP_RIGHT_EYE, Detection
from talkcli.face.image import Pyramid, Roi, apply_affine
from talkcli.face.models import FACE_MESH
from talkcli.face.pose import canonical_face
from talkcli.face.runner import get_runner

# MediaPipe face_landmark ROI: the box (or landmark extent) enlarged 1.5x, square on the long
# side, rotated so the eyes are level.
ROI_SCALE = 1.5
MESH_REFINE_PASSES = 2
MAX_EXTRA_PASSES = 4


def _eye_angle(right_eye: np.ndarray, left_eye: np.ndarray) -> float:
    """Angle of the line from the subject's right eye (image left) to the left eye."""
    d = np.asarray(left_eye, dtype=np.float64) - np.asarray(right_eye, dtype=np.float64)
    return float(math.atan2(d[1], d[0]))


def roi_from_detection(det: Detection) -> Roi:
    x0, y0, x1, y1 = det.box
    angle = _eye_angle(det.keypoints[KP_RIGHT_EYE], det.keypoints[KP_LEFT_EYE])
    return Roi((x0 + x1) / 2.0, (y0 + y1) / 2.0, max(x1 - x0, y1 - y0) * ROI_SCALE, angle)


def roi_from_points(points: np.ndarray) -> Roi:
    """ROI for the next pass, from a mesh (as MediaPipe's face_landmark_landmarks_to_roi):
    eye-corner angle (33 -> 263), landmark extent measured along that angle."""
    angle = _eye_angle(points[33, :2], points[263, :2])
    c, s = math.cos(angle), math.sin(angle)
    xy = points[:, :2].astype(np.float64)
    # Extent in the face-aligned frame: tighter and rotation-invariant (the axis-aligned box
    # of a rolled face grows, and the next crop would drift in scale with roll).
    u = xy @ np.array([c, s])
    v = xy @ np.array([-s, c])
    uc, vc = (u.min() + u.max()) / 2.0, (v.min() + v.max()) / 2.0
    side = max(u.max() - u.min(), v.max() - v.min()) * ROI_SCALE
    return Roi(uc * c - vc * s, uc * s + vc * c, side, angle)


@functools.cache
def mirror_indices() -> np.ndarray:
    """Index map of the left-right mirror of the mesh (the canonical face is exactly
    symmetric: point i mirrors to point mirror_indices()[i])."""
    canon = canonical_face()
    flipped = canon * np.array([-1.0, 1.0, 1.0])
    dist = np.linalg.norm(canon[None, :, :] - flipped[:, None, :], axis=2)
    return np.argmin(dist, axis=1)


def _infer(patch: np.ndarray) -> tuple[np.ndarray, float]:
    runner = get_runner(FACE_MESH)
    outputs = runner(patch[None])  # the mesh model wants 0..1
    raw = next(o for o in outputs if o.size == 468 * 3).reshape(468, 3).astype(np.float64)
    logit = float(next(o for o in outputs if o.size == 1).ravel()[0])
    return raw, logit


def run_mesh(pyr: Pyramid, roi: Roi, symmetric: bool = True) -> tuple[np.ndarray, float]:
    """One mesh pass: (468, 3) points (x, y px; z px, + toward the camera) and face score.

    With `symmetric`, the crop's mirror image is also meshed and the mirrored result averaged
    in: the model is not mirror-equivariant (a mirrored face read ~2 degrees different roll
    and yaw), and the average halves its noise for one more 0.5 ms inference."""
    size = get_runner(FACE_MESH).input_size
    patch, affine = pyr.crop(roi, size)
    raw, logit = _infer(patch)
    if symmetric:
        mirrored, logit_m = _infer(np.ascontiguousarray(patch[:, ::-1]))
        mirrored = mirrored[mirror_indices()]
        mirrored[:, 0] = size - mirrored[:, 0]
        raw = (raw + mirrored) * 0.5
        logit = (logit + logit_m) * 0.5
    pts = np.empty((468, 3), dtype=np.float64)
    pts[:, :2] = apply_affine(affine, raw[:, :2])
    # MediaPipe z is in crop px with smaller = nearer; flip so + is toward the camera.
    pts[:, 2] = -raw[:, 2] * (roi.size / size)
    score = 1.0 / (1.0 + math.exp(-max(min(logit, 80.0), -80.0)))
    return pts, score


def refine_mesh(pyr: Pyramid, points: np.ndarray, passes: int = MESH_REFINE_PASSES - 1
                ) -> tuple[np.ndarray, float]:
    """Re-crop on the mesh's own extent `passes` times (the detector's box is looser than the
    mesh's, and the model is most accurate on the ROI it was trained with); z centred."""
    pts, score = points, 1.0
    roi = roi_from_points(pts)
    for k in range(passes + MAX_EXTRA_PASSES):
        pts, score = run_mesh(pyr, roi)
        new = roi_from_points(pts)
        turn = abs(math.remainder(new.angle - roi.angle, 2 * math.pi))
        shift = math.hypot(new.cx - roi.cx, new.cy - roi.cy) / roi.size
        roi = new
        # A far-off start (a sideways face's detector keypoints can be 45 degrees out) needs
        # more passes; an upright face has converged after the first.
        if k + 1 >= passes and turn < math.radians(1.5) and shift < 0.01:
            break
    pts = pts.astype(np.float64)
    pts[:, 2] -= pts[:, 2].mean()
    return pts.astype(np.float32), score


def mesh_from_detection(pyr: Pyramid, det: Detection,
                        passes: int = MESH_REFINE_PASSES) -> tuple[np.ndarray, float]:
    """Mesh from a detection, then refined by re-cropping on the mesh's own extent."""
    pts, score = run_mesh(pyr, roi_from_detection(det))
    if passes > 1:
        pts, score = refine_mesh(pyr, pts, passes - 1)
    else:
        pts = pts.copy()
        pts[:, 2] -= pts[:, 2].mean()
    return pts.astype(np.float32), score
