"""Head pose: Umeyama similarity fit of the canonical MediaPipe face to a detected mesh.

Conventions (DESIGN §4): yaw + = face turns towards image right, pitch + = chin up,
roll + = clockwise in the image. The head rotation R_head lives in the canonical frame
(x right, y up, z toward the camera) and is composed as R_head = Rz(-roll) @ Ry(yaw) @ Rx(-pitch)
(pitch applied first, roll last, so an in-plane image rotation changes only roll).
HeadPose.rotation = diag(1, -1, 1) @ R_head, so that
p_img = scale * rotation @ p_canon + translation with image y down.
"""

from __future__ import annotations

import functools
import math
from importlib import resources

import numpy as np

from talkcli.face import regions
from talkcli.face.rig import HeadPose

FLIP_Y = np.diag([1.0, -1.0, 1.0])


@functools.cache
def canonical_face() -> np.ndarray:
    """(468, 3) canonical mesh in cm (x right, y up, z toward the camera)."""
    text = (resources.files("talkcli.face") / "canonical_face_468.txt").read_text()
    pts = np.loadtxt(text.splitlines(), comments="#", dtype=np.float64)
    pts.setflags(write=False)
    return pts


@functools.cache
def rigid_indices() -> np.ndarray:
    """Mesh points that do not move with expression: above the upper lip and away from the
    eyes and brows (blinks, brow raises and an open jaw must not read as head rotation)."""
    canon = canonical_face()
    mobile = canon[list(regions.EYE_LEFT + regions.EYE_RIGHT
                        + regions.BROW_LEFT + regions.BROW_RIGHT)]
    dist = np.linalg.norm(canon[:, None, :] - mobile[None, :, :], axis=2).min(axis=1)
    keep = (canon[:, 1] > -2.3) & (dist > 1.0)
    idx = np.nonzero(keep)[0]
    idx.setflags(write=False)
    return idx


def umeyama(src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
    """Similarity (R proper, s, t) minimising |dst - (s R src + t)|^2 (Umeyama 1991)."""
    mu_s, mu_d = src.mean(axis=0), dst.mean(axis=0)
    a, b = src - mu_s, dst - mu_d
    cov = b.T @ a / len(src)
    u, sig, vt = np.linalg.svd(cov)
    d = np.ones(3)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[-1] = -1.0
    rot = u @ np.diag(d) @ vt
    var_s = (a**2).sum() / len(src)
    scale = float((sig * d).sum() / var_s)
    return rot, scale, mu_d - scale * rot @ mu_s


def _rx(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def _ry(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def _rz(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def head_rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """R_head (canonical frame, proper rotation) from DESIGN §4 angles in degrees."""
    y, p, r = (math.radians(v) for v in (yaw, pitch, roll))
    return _rz(-r) @ _ry(y) @ _rx(-p)


def angles_from_head_rotation(rot: np.ndarray) -> tuple[float, float, float]:
    """(yaw, pitch, roll) degrees from R_head; the inverse of head_rotation."""
    yaw = math.asin(max(-1.0, min(1.0, -rot[2, 0])))
    pitch = -math.atan2(rot[2, 1], rot[2, 2])
    roll = -math.atan2(rot[1, 0], rot[0, 0])
    return math.degrees(yaw), math.degrees(pitch), math.degrees(roll)


def image_rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """HeadPose.rotation for given angles: canonical (y up) -> image (y down)."""
    return FLIP_Y @ head_rotation(yaw, pitch, roll)


def fit_pose(points: np.ndarray) -> HeadPose:
    """Pose of a (468, 3) mesh in image px (z + toward the camera)."""
    idx = rigid_indices()
    canon = canonical_face()[idx]
    img = points[idx].astype(np.float64) @ FLIP_Y  # to the canonical frame's y-up handedness
    rot, scale, t = umeyama(canon, img)
    yaw, pitch, roll = angles_from_head_rotation(rot)
    return HeadPose(yaw=yaw, pitch=pitch, roll=roll, rotation=FLIP_Y @ rot, scale=scale,
                    translation=FLIP_Y @ t)
