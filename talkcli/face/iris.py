"""Iris and refined eye-lid contours from 64x64 eye crops (MediaPipe iris_landmark)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from talkcli.face.image import Pyramid, Roi, apply_affine
from talkcli.face.models import IRIS
from talkcli.face.regions import EYE_LEFT_REFINED, EYE_RIGHT_REFINED
from talkcli.face.runner import get_runner

# MediaPipe iris_landmark_landmarks_to_roi: eye-corner span enlarged 2.3x, square.
EYE_ROI_SCALE = 2.3


@dataclass(frozen=True)
class EyeResult:
    iris: np.ndarray      # (5, 2) px: centre, then 4 boundary points
    lids: np.ndarray      # (16, 2) px: the mesh eye contour in EYE_*_REFINED order
    contour: np.ndarray   # (71, 2) px: every eye/brow contour point of the iris model


def _eye_roi(points: np.ndarray, a: int, b: int) -> Roi:
    """Square crop around the eye corners a (image left) and b (image right)."""
    pa, pb = points[a, :2].astype(np.float64), points[b, :2].astype(np.float64)
    d = pb - pa
    centre = (pa + pb) / 2.0
    return Roi(float(centre[0]), float(centre[1]), float(np.hypot(*d)) * EYE_ROI_SCALE,
               math.atan2(d[1], d[0]))


def run_eye(pyr: Pyramid, roi: Roi, flip: bool) -> EyeResult:
    """The model knows one eye shape (the image-left eye); the other eye is mirrored in and
    its outputs mirrored back, as MediaPipe does."""
    runner = get_runner(IRIS)
    size = runner.input_size
    patch, affine = pyr.crop(roi, size, flip=flip)
    outputs = runner(patch[None])  # 0..1 input
    contour = next(o for o in outputs if o.size == 71 * 3).reshape(71, 3)[:, :2].copy()
    iris = next(o for o in outputs if o.size == 5 * 3).reshape(5, 3)[:, :2].copy()
    if flip:
        contour[:, 0] = size - contour[:, 0]
        iris[:, 0] = size - iris[:, 0]
    contour_px = apply_affine(affine, contour).astype(np.float32)
    return EyeResult(apply_affine(affine, iris).astype(np.float32), contour_px[:16].copy(),
                     contour_px)


def refine_eyes(pyr: Pyramid, points: np.ndarray) -> tuple[EyeResult, EyeResult]:
    """(subject's right eye, subject's left eye). The subject's right eye is on the image left
    (corners 33 -> 133) and is the model's native orientation; the left eye (362 -> 263) is
    mirrored."""
    right = run_eye(pyr, _eye_roi(points, 33, 133), flip=False)
    left = run_eye(pyr, _eye_roi(points, 362, 263), flip=True)
    return right, left


def apply_to_mesh(points: np.ndarray, right: EyeResult, left: EyeResult) -> np.ndarray:
    """Mesh with its eye-lid x, y replaced by the iris model's sharper contour (as MediaPipe's
    refine_landmarks); z is kept."""
    out = points.copy()
    out[list(EYE_RIGHT_REFINED), :2] = right.lids
    out[list(EYE_LEFT_REFINED), :2] = left.lids
    return out
