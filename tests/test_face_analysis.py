"""Face analysis on the embedded sample and transformed copies of it: detection, mesh, iris,
pose signs, the FaceRig contract, and the no-face / too-small / face-index errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from talkcli.errors import InvalidInputError, NoFaceError
from talkcli.face import regions
from talkcli.face.analyze import FaceMeasurement, analyze_portrait, find_faces, measure_face
from talkcli.face.image import load_image
from talkcli.face.mesh import mirror_indices
from talkcli.face.pose import canonical_face, rigid_indices
from talkcli.face.rig import FaceRig


@pytest.fixture(scope="module")
def sample(sample_portrait_path: Path) -> np.ndarray:
    return load_image(sample_portrait_path)


@pytest.fixture(scope="module")
def rig(sample: np.ndarray) -> FaceRig:
    return analyze_portrait(sample)


@pytest.fixture(scope="module")
def base(sample: np.ndarray) -> FaceMeasurement:
    m = measure_face(sample)
    assert m is not None
    return m


def _err(m: FaceMeasurement | None, expected: np.ndarray, interocular: float) -> float:
    """Mean landmark error relative to the interocular distance."""
    assert m is not None, "face not found"
    return float(np.linalg.norm(m.points[:, :2] - expected, axis=1).mean() / interocular)


def _rotate(image: np.ndarray, degrees_cw: float) -> np.ndarray:
    h, w = image.shape[:2]
    rotated = Image.fromarray(image).rotate(-degrees_cw, resample=Image.Resampling.BICUBIC,
                                            center=(w / 2, h / 2))
    return np.asarray(rotated)


# ---- the FaceRig contract ----

def test_rig_fields_follow_the_contract(rig: FaceRig, sample: np.ndarray) -> None:
    assert rig.image.shape == sample.shape and rig.image.dtype == np.uint8
    assert rig.points.shape == (468, 3) and rig.points.dtype == np.float32
    assert abs(float(rig.points[:, 2].mean())) < 1e-3
    # + z is toward the camera: the nose tip is the nearest point of the face.
    assert rig.points[regions.NOSE_TIP, 2] > np.percentile(rig.points[:, 2], 95)
    for iris in (rig.iris_left, rig.iris_right):
        assert iris.shape == (5, 2)
        assert np.linalg.norm(iris[1:] - iris[0], axis=1).std() < 1.5  # a round iris
    assert rig.eye_left.shape == (16, 2) and rig.eye_right.shape == (16, 2)
    # Subject's left eye is on the image right.
    assert rig.iris_left[0, 0] > rig.iris_right[0, 0]
    assert rig.eye_left[:, 0].mean() > rig.eye_right[:, 0].mean()
    # Refined lids sit where the mesh has its eye contour (same index order).
    lids = rig.points[list(regions.EYE_LEFT_REFINED), :2]
    assert np.allclose(lids, rig.eye_left, atol=1e-3)
    assert rig.person_mask.shape == sample.shape[:2] and rig.person_mask.dtype == np.float32
    assert rig.person_mask.min() >= 0.0 and rig.person_mask.max() <= 1.0
    assert rig.faces_found == 1 and rig.face_index == 0 and rig.score > 0.7


def test_rig_measurements_are_plausible(rig: FaceRig) -> None:
    x0, y0, x1, y1 = rig.box
    assert 170 < x0 < x1 < 285 and 65 < y0 < y1 < 190   # the astronaut's face
    assert 95 < rig.face_height < 120
    assert 38 < rig.interocular < 47
    assert abs(rig.pose.yaw) < 6 and abs(rig.pose.roll) < 6 and abs(rig.pose.pitch) < 12


def test_person_mask_covers_head_not_background(rig: FaceRig) -> None:
    mask = rig.person_mask
    nose = rig.points[regions.NOSE_TIP]
    assert mask[int(nose[1]), int(nose[0])] > 0.9
    top = rig.points[regions.FOREHEAD]
    assert mask[int(top[1]) - 10, int(top[0])] > 0.9             # hair above the forehead
    assert mask[10:60, 10:60].mean() < 0.1                         # flag in the top-left
    assert mask[:100, 400:].mean() < 0.2                           # shuttle background


def test_pose_maps_canonical_face_onto_mesh(rig: FaceRig) -> None:
    pose = rig.pose
    assert np.allclose(pose.rotation.T @ pose.rotation, np.eye(3), atol=1e-6)
    canon = canonical_face()[rigid_indices()]
    mapped = pose.scale * canon @ pose.rotation.T + pose.translation
    err = np.linalg.norm(mapped[:, :2] - rig.points[rigid_indices(), :2], axis=1)
    assert err.mean() < 0.1 * rig.interocular


def test_metrics_on_sample(base: FaceMeasurement) -> None:
    assert 0.05 < base.mouth_gap < 0.3            # a smile showing teeth
    assert 0.25 < base.eye_opening_left < 0.5 and 0.25 < base.eye_opening_right < 0.5
    assert 0.8 < base.mouth_width < 1.3


def test_metrics_respond_to_geometry(base: FaceMeasurement) -> None:
    from talkcli.face.metrics import eye_closure, eye_opening, mouth_gap

    pts = base.points.copy()
    lower = [lo for _, lo in ((13, 14), (82, 87), (312, 317), (81, 178), (311, 402))]
    upper = [up for up, _ in ((13, 14), (82, 87), (312, 317), (81, 178), (311, 402))]
    pts[lower, 1] = pts[upper, 1]                  # lips together
    assert mouth_gap(pts) == pytest.approx(0.0, abs=0.02)
    closed = base.points.copy()
    for up, lo in ((159, 145), (158, 153), (160, 144)):
        closed[up, :2] = closed[lo, :2]
    assert eye_opening(closed, "right") < 0.05
    assert eye_closure(eye_opening(closed, "right"), base.eye_opening_right) == 1.0
    assert eye_closure(base.eye_opening_right, base.eye_opening_right) == 0.0
    assert eye_opening(base.eye_right) == pytest.approx(base.eye_opening_right, rel=0.35)
    with pytest.raises(ValueError):
        eye_opening(base.points, "middle")


# ---- transformed copies ----

@pytest.mark.parametrize("angle", [20.0, -20.0])
def test_rotation_changes_roll_by_the_angle(sample: np.ndarray, base: FaceMeasurement,
                                            angle: float) -> None:
    m = measure_face(_rotate(sample, angle))
    assert m is not None
    assert m.roll - base.roll == pytest.approx(angle, abs=3.0)
    assert abs(m.yaw - base.yaw) < 3.0
    # Expression metrics are measured in the face's own frame: rotation leaves them alone.
    assert m.mouth_gap == pytest.approx(base.mouth_gap, abs=0.03)
    assert m.eye_opening_left == pytest.approx(base.eye_opening_left, abs=0.05)
    assert m.mouth_width == pytest.approx(base.mouth_width, abs=0.05)
    h, w = sample.shape[:2]
    a = np.radians(angle)
    d = base.points[:, :2] - [w / 2, h / 2]
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    assert _err(m, d @ rot.T + [w / 2, h / 2], base.interocular) < 0.04


def test_mirror_flips_yaw_and_roll(sample: np.ndarray) -> None:
    # Tilt first so roll is well away from zero, then mirror.
    tilted = _rotate(sample, 15.0)
    a = measure_face(tilted)
    b = measure_face(np.ascontiguousarray(tilted[:, ::-1]))
    assert a is not None and b is not None
    assert b.roll == pytest.approx(-a.roll, abs=2.0)
    assert b.yaw == pytest.approx(-a.yaw, abs=2.0)
    assert b.pitch == pytest.approx(a.pitch, abs=2.0)
    # Landmarks mirror too (the subject's left eye becomes the right one).
    w = sample.shape[1]
    expected = a.points[mirror_indices(), :2] * [-1, 1] + [w, 0]
    assert _err(b, expected, a.interocular) < 0.04


@pytest.mark.parametrize("scale", [0.5, 2.0])
def test_scaled_copies(sample: np.ndarray, base: FaceMeasurement, scale: float) -> None:
    h, w = sample.shape[:2]
    img = np.asarray(Image.fromarray(sample).resize((int(w * scale), int(h * scale)),
                                                    Image.Resampling.LANCZOS))
    m = measure_face(img)
    expected = (base.points[:, :2] + 0.5) * scale - 0.5
    assert _err(m, expected, base.interocular * scale) < 0.04
    assert m is not None and abs(m.roll - base.roll) < 2 and abs(m.yaw - base.yaw) < 3


def test_cropped_copy(sample: np.ndarray, base: FaceMeasurement) -> None:
    m = measure_face(sample[40:300, 100:400])
    assert _err(m, base.points[:, :2] - [100, 40], base.interocular) < 0.03


def test_small_face_in_a_large_canvas(sample: np.ndarray, base: FaceMeasurement) -> None:
    canvas = np.full((2000, 3000, 3), 128, np.uint8)
    canvas[1200:1712, 2100:2612] = sample
    m = measure_face(canvas)
    assert _err(m, base.points[:, :2] + [2100, 1200], base.interocular) < 0.03


def test_face_filling_the_frame(sample: np.ndarray, base: FaceMeasurement) -> None:
    # A crop 0.8 face-heights wide, enlarged: forehead and chin are outside the image.
    cx, cy = base.points[:, :2].mean(axis=0)
    half = int(0.4 * base.face_height)
    crop = sample[int(cy) - half:int(cy) + half, int(cx) - half:int(cx) + half]
    scale = 600 / crop.shape[0]
    big = np.asarray(Image.fromarray(crop).resize((600, 600), Image.Resampling.LANCZOS))
    m = measure_face(big)
    assert m is not None
    expected = (base.points[:, :2] - [int(cx) - half, int(cy) - half] + 0.5) * scale - 0.5
    inside = np.all((expected > 0) & (expected < 600), axis=1)
    err = np.linalg.norm(m.points[inside, :2] - expected[inside], axis=1).mean()
    assert err / (base.interocular * scale) < 0.08
    assert abs(m.roll - base.roll) < 3


def test_tracking_matches_detection(sample: np.ndarray, base: FaceMeasurement) -> None:
    tracked = measure_face(sample, previous=base)
    assert _err(tracked, base.points[:, :2], base.interocular) < 0.02


# ---- inputs without a usable face ----

@pytest.mark.parametrize("kind", ["flat", "noise"])
def test_no_face(kind: str) -> None:
    rng = np.random.default_rng(0)
    img = (np.full((300, 400, 3), 90, np.uint8) if kind == "flat"
           else rng.integers(0, 255, (300, 400, 3), dtype=np.uint8))
    with pytest.raises(NoFaceError, match="no face found"):
        analyze_portrait(img)
    assert measure_face(img) is None
    assert find_faces(img) == []


def test_tiny_face_reports_its_size(sample: np.ndarray) -> None:
    small = np.asarray(Image.fromarray(sample).resize((200, 200), Image.Resampling.LANCZOS))
    canvas = np.full((400, 400, 3), 160, np.uint8)
    canvas[100:300, 100:300] = small
    with pytest.raises(NoFaceError, match=r"too small: \d+ px"):
        analyze_portrait(canvas)


def test_face_index(sample: np.ndarray) -> None:
    # The sample on the left, a 0.75x copy of it on the right.
    two = np.full((512, 1024, 3), 200, np.uint8)
    two[:, :512] = sample
    two[64:448, 576:960] = np.asarray(Image.fromarray(sample).resize((384, 384)))
    first = analyze_portrait(two)
    second = analyze_portrait(two, face_index=1)
    assert first.faces_found == second.faces_found == 2
    assert first.face_height > second.face_height           # largest first
    assert second.points[:, 0].mean() > 512
    with pytest.raises(NoFaceError, match="2 faces found"):
        analyze_portrait(two, face_index=2)


def test_bad_arrays_are_invalid_input() -> None:
    with pytest.raises(InvalidInputError):
        analyze_portrait(np.zeros((10, 10, 2), np.uint8))


@pytest.mark.parametrize("quarter_turns", [1, 2, 3])
def test_sideways_and_upside_down(sample: np.ndarray, base: FaceMeasurement,
                                  quarter_turns: int) -> None:
    # np.rot90 turns counter-clockwise: roll changes by -90 degrees per quarter turn.
    m = measure_face(np.ascontiguousarray(np.rot90(sample, quarter_turns)))
    assert m is not None
    miss = (m.roll - base.roll + 90.0 * quarter_turns + 180.0) % 360.0 - 180.0
    assert abs(miss) < 3.0
    assert abs(m.yaw - base.yaw) < 3.0
