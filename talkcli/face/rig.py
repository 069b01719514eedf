"""FaceRig: everything about one portrait that motion rendering needs, computed once."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class HeadPose:
    """Head orientation of the portrait. Angles in degrees with DESIGN §4 signs:
    yaw + = face turns towards image right, pitch + = chin up, roll + = clockwise.

    `rotation`, `scale`, `translation` map the canonical MediaPipe face (cm; x right,
    y up, z toward camera) into image space (px; x right, y down, z toward camera):
    p_img = scale * rotation @ p_canon + translation.
    """

    yaw: float
    pitch: float
    roll: float
    rotation: np.ndarray      # (3, 3)
    scale: float              # px per canonical cm
    translation: np.ndarray   # (3,) px


@dataclass(frozen=True)
class FaceRig:
    """One analysed portrait. All coordinates are full-resolution image pixels."""

    image: np.ndarray          # (H, W, 3) uint8 RGB, EXIF orientation applied
    points: np.ndarray         # (468, 3) float32 mesh: x, y px; z px, + toward camera, mean 0
    iris_left: np.ndarray      # (5, 2) subject's left iris: centre, then 4 boundary points
    iris_right: np.ndarray     # (5, 2) subject's right iris
    eye_left: np.ndarray       # (16, 2) refined eye-lid contour of the subject's left eye
    eye_right: np.ndarray      # (16, 2) refined eye-lid contour of the subject's right eye
    pose: HeadPose
    box: tuple[float, float, float, float]  # detector face box x0, y0, x1, y1 px
    score: float               # detector confidence 0-1
    interocular: float         # px between the two eye centres
    face_height: float         # px from forehead (mesh 10) to chin (mesh 152)
    person_mask: np.ndarray    # (H, W) float32 0-1: person (head, hair, neck) vs background
    face_index: int = 0        # which face was used (0 = largest)
    faces_found: int = 1

    @property
    def height(self) -> int:
        return int(self.image.shape[0])

    @property
    def width(self) -> int:
        return int(self.image.shape[1])
