"""Portrait analysis entry points: analyze_portrait (-> FaceRig) and measure_face (frames)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from talkcli.errors import InvalidInputError, NoFaceError
from talkcli.face import metrics, regions
from talkcli.face.detect import Detection, detect_faces, face_score, search_description
from talkcli.face.image import Pyramid, Roi
from talkcli.face.iris import apply_to_mesh, refine_eyes
from talkcli.face.mesh import (
    MESH_REFINE_PASSES,
    refine_mesh,
    roi_from_detection,
    run_mesh,
)
from talkcli.face.pose import fit_pose
from talkcli.face.rig import FaceRig, HeadPose
from talkcli.face.segment import person_mask

MIN_FACE_PX = 64  # detector box height below which the mesh is too coarse to animate
MESH_FACE_SCORE = 0.5  # the mesh model's face-presence probability needed to accept a face


@dataclass(frozen=True)
class FaceMeasurement:
    """Landmarks, pose and expression metrics of one face in one image (or video frame)."""

    points: np.ndarray        # (468, 3) float32, iris-refined eye lids; px, z + toward camera
    iris_left: np.ndarray     # (5, 2) subject's left iris, centre first
    iris_right: np.ndarray    # (5, 2)
    eye_left: np.ndarray      # (16, 2) refined lids, regions.EYE_LEFT_REFINED order
    eye_right: np.ndarray     # (16, 2) regions.EYE_RIGHT_REFINED order
    pose: HeadPose
    box: tuple[float, float, float, float]
    score: float              # detector score (mesh face score when tracked without detection)
    mesh_score: float         # the mesh model's face-presence probability
    interocular: float        # px between the eye-corner midpoints
    face_height: float        # px, mesh 10 -> 152
    mouth_gap: float          # inner-lip gap / interocular
    mouth_width: float        # lip-corner distance / interocular
    eye_opening_left: float   # lid gap / eye width
    eye_opening_right: float

    @property
    def yaw(self) -> float:
        return self.pose.yaw

    @property
    def pitch(self) -> float:
        return self.pose.pitch

    @property
    def roll(self) -> float:
        return self.pose.roll


def as_rgb_array(image: np.ndarray) -> np.ndarray:
    """Check (and if needed convert) an in-memory image to contiguous (H, W, 3) uint8."""
    arr = np.asarray(image)
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] not in (3, 4) or min(arr.shape[:2]) < 1:
        raise InvalidInputError(f"image must be (H, W, 3) RGB, got shape {arr.shape}")
    if arr.dtype != np.uint8:
        if np.issubdtype(arr.dtype, np.floating) and float(np.nanmax(arr)) <= 1.0:
            arr = arr * 255.0  # float images in 0..1
        arr = np.clip(np.nan_to_num(arr), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(arr[..., :3])


@dataclass(frozen=True)
class _Candidate:
    det: Detection
    points: np.ndarray   # (468, 3) after the refining passes, z mean 0
    mesh_score: float


def _candidates(pyr: Pyramid) -> list[_Candidate]:
    """Faces upright in the image or, failing that, turned by a right angle or upside down."""
    for angle in (0.0, math.pi / 2, -math.pi / 2, math.pi):
        found = _confirmed(pyr, detect_faces(pyr, angle))
        if found:
            return found
    return []


def _confirmed(pyr: Pyramid, detections: list[Detection]) -> list[_Candidate]:
    """Detections confirmed by the mesh model's face flag (it rejects the detectors' loose
    boxes and face-like clutter), without duplicates, largest detector box first."""
    kept: list[_Candidate] = []
    for det in detections:
        roi = roi_from_detection(det)
        if _upside_down(pyr, roi):
            roi = Roi(roi.cx, roi.cy, roi.size, roi.angle + math.pi)
        points, first_score = run_mesh(pyr, roi)
        if first_score < MESH_FACE_SCORE:
            continue
        points, mesh_score = refine_mesh(pyr, points)
        box = _extent(points)
        if any(_box_iou(box, _extent(c.points)) > 0.5 for c in kept):
            continue  # two boxes converged on one face
        kept.append(_Candidate(det, points, mesh_score))
    return kept


def _upside_down(pyr: Pyramid, roi: Roi) -> bool:
    """BlazeFace also fires on inverted faces (with eye keypoints on the mouth) and the mesh
    model then meshes them upside down with high confidence; the detector's score on the
    crop and on the crop turned 180 degrees tells which way up the face is."""
    turned = Roi(roi.cx, roi.cy, roi.size, roi.angle + math.pi)
    return face_score(pyr, turned) > face_score(pyr, roi) + 0.1


def _extent(points: np.ndarray) -> tuple[float, float, float, float]:
    lo, hi = points[:, :2].min(axis=0), points[:, :2].max(axis=0)
    return float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1])


def _box_iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    ix = max(min(a[2], b[2]) - max(a[0], b[0]), 0.0)
    iy = max(min(a[3], b[3]) - max(a[1], b[1]), 0.0)
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / max(union, 1e-9)


def find_faces(image: np.ndarray) -> list[Detection]:
    """Every confirmed face, largest first (full-resolution px)."""
    return [c.det for c in _candidates(Pyramid(as_rgb_array(image)))]


def _measure(pyr: Pyramid, points: np.ndarray, mesh_score: float,
             box: tuple[float, float, float, float], score: float) -> FaceMeasurement:
    right, left = refine_eyes(pyr, points)
    points = apply_to_mesh(points, right, left)
    return FaceMeasurement(
        points=points, iris_left=left.iris, iris_right=right.iris,
        eye_left=left.lids, eye_right=right.lids, pose=fit_pose(points), box=box, score=score,
        mesh_score=mesh_score, interocular=metrics.interocular(points),
        face_height=float(np.linalg.norm(points[regions.CHIN, :2]
                                         - points[regions.FOREHEAD, :2])),
        mouth_gap=metrics.mouth_gap(points), mouth_width=metrics.mouth_width(points),
        eye_opening_left=metrics.eye_opening(points, "left"),
        eye_opening_right=metrics.eye_opening(points, "right"),
    )


def _pick(pyr: Pyramid, faces: list[_Candidate], face_index: int | None) -> _Candidate:
    if not faces:
        raise NoFaceError(f"no face found: {search_description(pyr.width, pyr.height)}; "
                          "use a portrait with one clearly visible, roughly frontal face")
    index = 0 if face_index is None else face_index
    if not 0 <= index < len(faces):
        raise NoFaceError(f"face index {index} is out of range: {len(faces)} "
                          f"face{'s' if len(faces) != 1 else ''} found "
                          f"(valid: 0..{len(faces) - 1}, 0 = largest)")
    chosen = faces[index]
    if chosen.det.height < MIN_FACE_PX:
        raise NoFaceError(f"face too small: {chosen.det.height:.0f} px tall (at least "
                          f"{MIN_FACE_PX} px needed); use a larger or closer-cropped portrait")
    return chosen


def analyze_portrait(image: np.ndarray, face_index: int | None = None) -> FaceRig:
    """Everything rendering needs about one face of a portrait (see FaceRig).

    Faces are ordered largest first; `face_index` picks one (default 0). NoFaceError (exit 4)
    when there is no face, the index is out of range, or the face is under 64 px tall."""
    image = as_rgb_array(image)
    pyr = Pyramid(image)
    faces = _candidates(pyr)
    chosen = _pick(pyr, faces, face_index)
    m = _measure(pyr, chosen.points, chosen.mesh_score, chosen.det.box, chosen.det.score)
    return FaceRig(
        image=image, points=m.points, iris_left=m.iris_left, iris_right=m.iris_right,
        eye_left=m.eye_left, eye_right=m.eye_right, pose=m.pose, box=m.box, score=m.score,
        interocular=m.interocular, face_height=m.face_height,
        person_mask=person_mask(pyr, m.points), face_index=faces.index(chosen),
        faces_found=len(faces),
    )


def measure_face(image: np.ndarray, previous: FaceMeasurement | None = None
                 ) -> FaceMeasurement | None:
    """Detect + mesh + iris + pose of the largest face, no segmentation; None if no face.

    For video frames pass the previous frame's result: the mesh is then re-cropped from it (as
    MediaPipe tracks) and detection runs only if the face was lost."""
    pyr = Pyramid(as_rgb_array(image))
    if previous is not None:
        points, mesh_score = refine_mesh(pyr, previous.points, MESH_REFINE_PASSES)
        if mesh_score >= MESH_FACE_SCORE:
            return _measure(pyr, points, mesh_score, _extent(points), mesh_score)
    faces = _candidates(pyr)
    if not faces:
        return None
    best = faces[0]
    return _measure(pyr, best.points, best.mesh_score, best.det.box, best.det.score)
