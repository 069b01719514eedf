"""The speed machinery, checked for what it must not change: the moving box (frames equal a
full-frame render; the still portrait outside the box, also after a larger box), the motion
thread (bounded, errors and interrupts reach the caller, nothing left behind), the thread plan
and the x264 thread option (a real encode)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from talkcli.face.analyze import analyze_portrait
from talkcli.face.image import load_image
from talkcli.face.rig import FaceRig
from talkcli.motion.latent import index, neutral
from talkcli.pipeline import _Prefetch, thread_plan
from talkcli.render.renderer import Renderer
from talkcli.video.encoder import VideoEncoder, build_command
from talkcli.video.probe import probe


@pytest.fixture(scope="module")
def renderer(sample_portrait_path: Path) -> Renderer:
    rig: FaceRig = analyze_portrait(load_image(sample_portrait_path))
    return Renderer(rig, size=256, max_batch=4)


def _latents(*settings: dict[str, float]) -> np.ndarray:
    lat = neutral(len(settings))
    for row, values in enumerate(settings):
        for name, value in values.items():
            lat[row, index(name)] = value
    return lat


MOTION = _latents({"head_yaw": 12, "jaw_open": 0.8}, {"head_roll": -8, "blink_left": 1.0},
                  {"head_pitch": 8, "smile": 1.0, "head_scale": 1.08},
                  {"jaw_open": 1.0, "lips_press": 0.0, "gaze_yaw": 10})


def test_opencv_path_matches_torch_path(sample_portrait_path: Path) -> None:
    """The CPU path (OpenCV remap, composite and rounding) and the torch path that CUDA
    runs give the same frames within a level or two; at neutral within a level on a few
    pixels (the sample's open-at-rest mouth closes at neutral, issue 8: the map moves there,
    and OpenCV samples at 1/32 px where grid_sample is exact). (CI has no GPU: this keeps
    the torch path's code checked on the CPU.)"""
    rig: FaceRig = analyze_portrait(load_image(sample_portrait_path))
    cv = Renderer(rig, size=256, max_batch=4)
    assert cv._cpu is not None
    torch_path = Renderer(rig, size=256, max_batch=4)
    torch_path._cpu = None
    torch_path._init_buffers(torch_path.eyes.clean_base, torch_path.framed.interocular)
    a, b = cv.render(MOTION), torch_path.render(MOTION)
    diff = np.abs(a.astype(int) - b.astype(int))
    assert diff.max() <= 2 and np.mean(diff > 0) < 0.01
    still = neutral(2)
    diff = np.abs(cv.render(still).astype(int) - torch_path.render(still).astype(int))
    assert diff.max() <= 1 and np.mean(diff > 0) < 1e-4


def test_moving_box_matches_full_frame_render(renderer: Renderer,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Computing the map and the warp only in the moving box gives the frames a full-frame
    computation gives (within a level), and the box leaves part of the frame out."""
    r = renderer
    # a chunk without head motion (leaning and turns carry the shoulders: the whole frame)
    local = _latents({"jaw_open": 0.8}, {"blink_left": 1.0}, {"smile": 1.0})
    pts = r.deform(local)
    disp = pts[..., :2] - r.deformer.points[:, :2]
    box = r.map.moving_box(disp, r._face_box(pts[:, :468]))
    assert box is not None and box.shape[0] * box.shape[1] < 256 * 256
    boxed = r.render(MOTION)
    with monkeypatch.context() as m:
        m.setattr(r.map, "moving_box", lambda disp, keep=None: r.map.full_box())
        full = r.render(MOTION)
    diff = np.abs(boxed.astype(int) - full.astype(int))
    assert diff.max() <= 2 and np.mean(diff > 0) < 0.01


def test_spans_skip_the_still_background(renderer: Renderer) -> None:
    """The moving box's spans (row bands the CPU warp computes) leave out background beside
    the person, and the frames are the portrait there."""
    r = renderer
    pts = r.deform(MOTION)
    disp = pts[..., :2] - r.deformer.points[:, :2]
    box = r.map.moving_box(disp, r._face_box(pts[:, :468]))
    assert box is not None and box.spans
    covered = sum((y1 - y0) * (x1 - x0) for y0, y1, x0, x1 in box.spans)
    assert covered < box.shape[0] * box.shape[1]
    frames = r.render(MOTION)
    still = r._still_u8.numpy()
    outside = np.ones(still.shape[:2], dtype=bool)
    for y0, y1, x0, x1 in box.spans:
        outside[y0:y1, x0:x1] = False
    assert outside.any()
    for frame in frames:
        np.testing.assert_array_equal(frame[outside], still[outside])


def test_neutral_after_motion_is_the_portrait(renderer: Renderer) -> None:
    """After a chunk with head motion (a large box), a neutral chunk is the portrait again
    everywhere: the still part of the output buffer is put back."""
    r = renderer
    # the neutral frame itself (the sample smiles with its teeth: an open-at-rest mouth
    # closes at neutral, issue 8, so it is not the portrait below the nose)
    base = r.render(neutral(1))[0].copy()
    moved = r.render(MOTION)
    still = r.render(neutral(2))
    assert np.abs(moved[0].astype(int) - base.astype(int)).mean() > 1.0
    for frame in still:
        assert np.abs(frame.astype(int) - base.astype(int)).max() <= 1


def test_prefetch_is_bounded_and_ordered() -> None:
    made: list[int] = []

    def chunks():  # noqa: ANN202
        for i in range(12):
            made.append(i)
            yield np.full((2, 3), i, np.float32)

    seen = []
    for item in _Prefetch(chunks(), depth=2):
        time.sleep(0.01)
        # never more than the queue depth ahead (plus the one being put)
        assert len(made) - len(seen) <= 4
        seen.append(int(item[0, 0]))
    assert seen == list(range(12))


def test_prefetch_passes_errors_and_stops_on_close() -> None:
    def failing():  # noqa: ANN202
        yield np.zeros((1, 3), np.float32)
        raise ValueError("motion failed")

    with pytest.raises(ValueError, match="motion failed"):
        list(_Prefetch(failing()))

    def endless():  # noqa: ANN202
        while True:
            yield np.zeros((1, 3), np.float32)

    before = threading.active_count()
    pre = _Prefetch(endless(), depth=1)
    next(iter(pre))
    pre.close()
    assert threading.active_count() <= before


def test_thread_plan(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    assert thread_plan("cpu") == (1, 1)
    monkeypatch.setattr("os.cpu_count", lambda: 16)
    torch_n, x264_n = thread_plan("cpu")
    assert torch_n + (x264_n or 0) == 16 and torch_n >= 1
    assert thread_plan("cuda:0")[1] is None


def test_x264_threads_option_encodes(tmp_path: Path) -> None:
    assert "-threads 1" in " ".join(build_command(tmp_path / "t.mp4", 64, 64, 25, None,
                                                  x264_threads=1))
    assert "-threads" not in build_command(tmp_path / "t.mp4", 64, 64, 25, None)
    out = tmp_path / "one_thread.mp4"
    frames = np.zeros((10, 64, 64, 3), np.uint8)
    frames[..., 0] = np.arange(10, dtype=np.uint8)[:, None, None] * 20
    with VideoEncoder(out, 64, 64, 25, x264_threads=1) as enc:
        enc.write(frames)
    info = probe(out)
    assert info.frames == 10 and (info.width, info.height) == (64, 64)


def test_a_render_loads_no_scipy(sample_portrait_path: Path, sample_speech_path: Path,
                                 tmp_path: Path) -> None:
    """Importing scipy (spatial, ndimage) cost 0.3-0.5 s of the time to the first frame; the
    render path triangulates with OpenCV (render/triangulate.py). Also what makes the BLAS
    limit of pipeline._torch_threads reach every BLAS the render loads."""
    import subprocess
    import sys

    import soundfile as sf

    wav = tmp_path / "a.wav"
    data, sr = sf.read(sample_speech_path, dtype="float32")
    sf.write(wav, data[: sr], sr)
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from talkcli.pipeline import RenderRequest, render_video\n"
        f"render_video(RenderRequest(portrait=Path({str(sample_portrait_path)!r}), "
        f"audio=Path({str(wav)!r}), output=Path({str(tmp_path / 'o.mp4')!r}), size=128))\n"
        "print(sorted(m for m in ('scipy', 'torch') if m in sys.modules))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "['torch']"
    assert probe(tmp_path / "o.mp4").frames == 25
