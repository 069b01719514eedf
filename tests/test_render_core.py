"""Renderer core: framing, identity at neutral, head pose / jaw / blink re-measured with the
project's own landmarker, still background, batching, and CUDA against CPU."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from talkcli.face.analyze import analyze_portrait, measure_face
from talkcli.face.image import load_image
from talkcli.face.rig import FaceRig
from talkcli.motion.latent import index, neutral
from talkcli.render.renderer import Renderer


@pytest.fixture(scope="module")
def rig(sample_portrait_path) -> FaceRig:
    return analyze_portrait(load_image(sample_portrait_path))


@pytest.fixture(scope="module")
def renderer(rig: FaceRig) -> Renderer:
    return Renderer(rig, size=512, framing="face", device="cpu", max_batch=8)


def _latents(*settings: dict[str, float]) -> np.ndarray:
    lat = neutral(len(settings))
    for row, values in enumerate(settings):
        for name, value in values.items():
            lat[row, index(name)] = value
    return lat


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(255.0**2 / mse))


def _base_u8(r: Renderer) -> np.ndarray:
    return np.clip(r.framed.image * 255.0 + 0.5, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def measured(renderer: Renderer) -> dict[str, object]:
    """Render the test poses/expressions once and measure every frame."""
    cases = {
        "neutral": {}, "yaw+": {"head_yaw": 10}, "yaw-": {"head_yaw": -10},
        "pitch+": {"head_pitch": 10}, "pitch-": {"head_pitch": -10},
        "roll+": {"head_roll": 10}, "roll-": {"head_roll": -10},
        "jaw": {"jaw_open": 1.0}, "press": {"lips_press": 1.0},
        "blink": {"blink_left": 1.0, "blink_right": 1.0},
    }
    frames = renderer.render(_latents(*cases.values()))
    out = {}
    for (name, _), frame in zip(cases.items(), frames, strict=True):
        m = measure_face(frame)
        assert m is not None, f"no face found in the {name} frame"
        out[name] = m
    out["frames"] = dict(zip(cases, frames, strict=True))
    return out


def _outside_mouth(r: Renderer, img: np.ndarray) -> np.ndarray:
    """The image with the lower face (below the nose, across the face oval) blanked out: the
    sample smiles with its teeth showing, and a portrait open at rest closes its mouth at
    neutral (issue #8: jaw and lips rise); everything else must stay the portrait exactly."""
    from talkcli.face import regions

    p = r.framed.points
    io = r.framed.interocular
    oval = p[list(regions.FACE_OVAL), :2]
    x0, x1 = oval[:, 0].min() - 0.3 * io, oval[:, 0].max() + 0.3 * io
    y0 = p[2, 1] - 0.1 * io
    out = img.copy()
    out[max(int(y0), 0):, max(int(x0), 0):int(np.ceil(x1))] = 0
    return out


def test_face_framing_shape_and_identity(renderer: Renderer) -> None:
    frames = renderer.render(neutral(2))
    assert renderer.output_size == (512, 512)
    assert frames.shape == (2, 512, 512, 3) and frames.dtype == np.uint8
    assert _psnr(_outside_mouth(renderer, frames[0]),
                 _outside_mouth(renderer, _base_u8(renderer))) >= 40.0
    np.testing.assert_array_equal(frames[0], frames[1])


@pytest.mark.parametrize(("framing", "size"), [("portrait", 301), ("face", 255)])
def test_other_framings_even_and_identity(rig: FaceRig, framing: str, size: int) -> None:
    r = Renderer(rig, size=size, framing=framing)
    w, h = r.output_size
    assert w % 2 == 0 and h % 2 == 0 and max(w, h) <= size
    frames = r.render(neutral(1))
    assert frames.shape == (1, h, w, 3) and frames.dtype == np.uint8
    assert _psnr(_outside_mouth(r, frames[0]), _outside_mouth(r, _base_u8(r))) >= 40.0
    if framing == "portrait":
        # The whole image, resampled: compare against a plain downscale of the portrait.
        from PIL import Image
        ref = np.asarray(Image.fromarray(rig.image).resize((w, h), Image.Resampling.LANCZOS))
        assert _psnr(frames[0], ref) >= 30.0


@pytest.mark.parametrize(("case", "axis", "value"), [
    ("yaw+", "yaw", 10.0), ("yaw-", "yaw", -10.0), ("pitch+", "pitch", 10.0),
    ("pitch-", "pitch", -10.0), ("roll+", "roll", 10.0), ("roll-", "roll", -10.0)])
def test_head_pose_is_measured_back(measured: dict, case: str, axis: str, value: float) -> None:
    got = getattr(measured[case], axis) - getattr(measured["neutral"], axis)
    assert abs(got - value) <= 3.0, f"{case}: commanded {value}, measured {got:.1f}"


def test_jaw_opens_and_press_closes(measured: dict) -> None:
    # the sample smiles with parted lips (gap ~0.17), so it rests closed (issue #8: neutral is
    # already the landmarker's closed-mouth reading); pressed, the lips stay closed
    assert measured["neutral"].mouth_gap <= 0.06
    assert measured["press"].mouth_gap <= min(0.1, measured["neutral"].mouth_gap + 0.01)
    # end to end (warp + painted interior) jaw_open 1 re-measures as a wide-open mouth (>= 0.3
    # before the interior was lit: a red-brown cavity at half the cheek's brightness reads a
    # little narrower to the landmarker than a black hole; the warp alone is tested below)
    assert measured["jaw"].mouth_gap >= 0.25


def test_warp_opens_the_lips(rig: FaceRig) -> None:
    """The lips themselves part by >= 0.3 interocular at jaw_open 1 (measured on the warp
    alone: the teeth painted inside the opening are the mouth compositor's, tested there)."""
    r = Renderer(rig, size=512, framing="face", max_batch=2)
    r.mouth.composite = lambda frames, points, latents: frames  # type: ignore[method-assign]
    frames = r.render(_latents({"jaw_open": 1.0}, {"jaw_open": 0.0, "lips_press": 1.0}))
    opened, closed = measure_face(frames[0]), measure_face(frames[1])
    assert opened is not None and closed is not None
    assert opened.mouth_gap >= 0.3
    assert closed.mouth_gap <= 0.1


def test_blink_closes_the_eyes(measured: dict) -> None:
    n, b = measured["neutral"], measured["blink"]
    assert b.eye_opening_left <= 0.25 * n.eye_opening_left
    assert b.eye_opening_right <= 0.25 * n.eye_opening_right


def test_background_corners_still_under_head_motion(renderer: Renderer) -> None:
    frames = renderer.render(_latents({}, {"head_yaw": 15, "head_pitch": -10, "head_roll": 10},
                                      {"head_scale": 1.1, "head_roll": -10, "jaw_open": 1}))
    p = 40
    for f in frames[1:]:
        for ys, xs in ((slice(0, p), slice(0, p)), (slice(0, p), slice(-p, None))):
            diff = np.abs(f[ys, xs].astype(int) - frames[0][ys, xs].astype(int))
            assert diff.max() <= 2


def test_head_motion_moves_the_head(measured: dict) -> None:
    frames = measured["frames"]
    diff = np.abs(frames["roll+"].astype(int) - frames["neutral"].astype(int)).mean()
    assert diff > 2.0


def test_batch_sizes_agree(rig: FaceRig) -> None:
    lat = _latents({"jaw_open": 0.7, "head_yaw": 6}, {"blink_left": 1.0, "smile": 1.0},
                   {"head_roll": -5, "mouth_round": 1.0}, {"brow_raise": 1.0, "gaze_yaw": 10},
                   {"head_pitch": 5, "mouth_wide": 1.0})
    r = Renderer(rig, size=128, framing="face", max_batch=2)
    together = r.render(lat)
    one_by_one = np.concatenate([r.render(lat[i:i + 1]) for i in range(len(lat))])
    assert together.shape == (5, 128, 128, 3)
    assert np.abs(together.astype(int) - one_by_one.astype(int)).max() <= 1


def test_bad_latents_rejected(renderer: Renderer) -> None:
    with pytest.raises(ValueError):
        renderer.render(np.zeros((2, 3), dtype=np.float32))
    assert renderer.render(neutral(0)).shape == (0, 512, 512, 3)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_matches_cpu(rig: FaceRig) -> None:
    lat = _latents({}, {"jaw_open": 0.8, "head_yaw": 8, "blink_left": 0.5},
                   {"smile": 1.0, "head_roll": -6, "head_scale": 1.05})
    cpu = Renderer(rig, size=256, device="cpu").render(lat)
    gpu = Renderer(rig, size=256, device="cuda").render(lat)
    diff = np.abs(cpu.astype(int) - gpu.astype(int))
    assert diff.max() <= 1 or np.mean(diff > 1) < 1e-3


def _flipped(r: Renderer, lat: np.ndarray, outer_lips: bool = False) -> np.ndarray:
    """Per frame, how many triangles of the warp (none touching the eye or inner lip contours,
    which close over each other on purpose, nor the outer lip contour unless `outer_lips`)
    turn over: a fold of the map, a smear."""
    from talkcli.face import regions
    creased = set(regions.EYE_LEFT) | set(regions.EYE_RIGHT)
    if not outer_lips:
        creased |= set(regions.LIPS_OUTER)
    creased |= set(regions.LIPS_INNER_UPPER) | set(regions.LIPS_INNER_LOWER)
    tri = r.map.triangles
    keep = np.array([not any(int(v) in creased for v in t) for t in tri])
    # against the portrait's own control points (an open-at-rest portrait's neutral pose is
    # already deformed: its mouth closed)
    p0 = r.control_points[None, :, :2]
    p = np.concatenate([p0, r.deform(lat)[..., :2].numpy()])[:, tri[keep]]
    e1, e2 = p[..., 1, :] - p[..., 0, :], p[..., 2, :] - p[..., 0, :]
    det = e1[..., 0] * e2[..., 1] - e1[..., 1] * e2[..., 0]
    return ((det[1:] * det[0]) <= 0).sum(axis=1)


def test_head_turns_do_not_fold_the_map(renderer: Renderer) -> None:
    lat = _latents({"head_yaw": -15}, {"head_yaw": 15}, {"head_pitch": -10},
                   {"head_pitch": 10}, {"jaw_open": 1.0}, {})
    assert _flipped(renderer, lat).max() == 0


def test_opening_does_not_fold_the_lips(renderer: Renderer) -> None:
    """The lips' four rings keep their order as the jaw opens: a middle ring left to drop
    with the jaw past the outer contour beside the corner folded the map there (dark streaks
    fanning out of the mouth corners)."""
    lat = _latents({"jaw_open": 0.35}, {"jaw_open": 0.7}, {"jaw_open": 1.0},
                   {"jaw_open": 0.5, "mouth_wide": 1.0}, {"jaw_open": 0.3, "mouth_round": 1.0})
    assert _flipped(renderer, lat, outer_lips=True).max() == 0


def test_blink_keeps_the_eye_corners(renderer: Renderer) -> None:
    lat = _latents({}, {"blink_left": 1.0, "blink_right": 1.0})
    pts = renderer.deform(lat).numpy()
    move = np.linalg.norm(pts[1, :, :2] - pts[0, :, :2], axis=1)
    assert move[[33, 133, 263, 362]].max() < 0.25      # canthi
    assert move[[159, 386]].min() > 5.0                # the upper lids come down


def test_jaw_leaves_the_collar(renderer: Renderer) -> None:
    """The jaw's pull ends below the chin: ring points well under it (the lower neck, the
    collar) stay while the chin drops."""
    lat = _latents({}, {"jaw_open": 1.0})
    pts = renderer.deform(lat).numpy()
    move = np.linalg.norm(pts[1, :, :2] - pts[0, :, :2], axis=1)
    chin = pts[0, 152, 1]
    low = pts[0, :, 1] > chin + 0.2 * renderer.framed.face_height
    assert move[152] > 2.0
    assert move[low].max() < 0.5


def test_background_plate_continues_the_background(renderer: Renderer) -> None:
    """What a moving head uncovers is the plate; along the person's outline it meets the real
    background without a step (a step reads as a ghost outline of the head)."""
    import torch.nn.functional as F
    mask = torch.as_tensor(renderer.framed.person_mask)[None]
    plate = renderer.plate
    hole = (mask > 0.01).float()
    inner = hole + F.max_pool2d(-hole[None], 13, 1, 6)[0]        # inside, within 6 px
    outer = F.max_pool2d(hole[None], 13, 1, 6)[0] - hole         # outside, within 6 px

    def local_mean(w: torch.Tensor) -> torch.Tensor:
        return (F.avg_pool2d((plate * w)[None], 25, 1, 12)[0]
                / F.avg_pool2d(w[None], 25, 1, 12)[0].clamp_min(1e-6))

    step = (local_mean(inner) - local_mean(outer)).abs().mean(0)[inner[0] > 0]
    assert float(step.mean()) * 255.0 < 4.0
    # exactly the portrait wherever there is no person (else a residual travels with the head)
    still = mask[0].numpy() == 0
    diff = np.abs(plate.permute(1, 2, 0).numpy() - renderer.framed.image)[still]
    assert diff.max() < 1e-6
