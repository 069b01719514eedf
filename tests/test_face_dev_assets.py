"""Real portraits from ../shared/dev-assets (skipped where absent): a face is found on each,
the pose is plausible, and mirroring flips yaw on a clearly turned face."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from talkcli.face.analyze import analyze_portrait, measure_face
from talkcli.face.image import load_image

# name -> (yaw range, pitch range) from looking at the overlays; generous on purpose.
EXPECTED = {
    "real_macron_frontal.png": ((-6, 6), (-10, 6)),
    "art_monalisa.jpg": ((-26, -12), (-20, 0)),
    "real_glasses_lab2_256.png": ((0, 12), (-8, 8)),
    "art_anime_girl.png": ((-10, 2), (-14, 2)),
    "real_openmouth_woman_d9.jpg": ((0, 12), (-16, 0)),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_dev_portraits(dev_assets: Path, name: str) -> None:
    path = dev_assets / "portrait" / name
    if not path.is_file():
        pytest.skip(f"{name} not in dev-assets")
    rig = analyze_portrait(load_image(path))
    (y0, y1), (p0, p1) = EXPECTED[name]
    assert y0 <= rig.pose.yaw <= y1 and p0 <= rig.pose.pitch <= p1
    assert abs(rig.pose.roll) < 6
    assert rig.faces_found == 1
    # Irises inside their eye contours.
    for iris, lids in ((rig.iris_left, rig.eye_left), (rig.iris_right, rig.eye_right)):
        assert lids[:, 0].min() < iris[0, 0] < lids[:, 0].max()


def test_open_mouth_reads_wide_open(dev_assets: Path) -> None:
    m = measure_face(load_image(dev_assets / "portrait" / "real_openmouth_woman_d9.jpg"))
    assert m is not None and m.mouth_gap > 0.35
    closed = measure_face(load_image(dev_assets / "portrait" / "real_macron_frontal.png"))
    assert closed is not None and closed.mouth_gap < 0.1


def test_mirror_flips_a_turned_face(dev_assets: Path) -> None:
    image = load_image(dev_assets / "portrait" / "art_monalisa.jpg")
    a = measure_face(image)
    b = measure_face(np.ascontiguousarray(image[:, ::-1]))
    assert a is not None and b is not None
    assert a.yaw < -12 and b.yaw == pytest.approx(-a.yaw, abs=2.0)
    assert b.roll == pytest.approx(-a.roll, abs=2.0)


def test_real_blink_reads_closed(dev_assets: Path) -> None:
    """Frames 0-9 of the May clip hold one blink (closed at frames 5-7)."""
    import imageio_ffmpeg

    from talkcli.face.metrics import eye_closure

    video = dev_assets / "video" / "may_5s_real3dportrait.mp4"
    if not video.is_file():
        pytest.skip("clip not in dev-assets")
    frames = imageio_ffmpeg.read_frames(str(video))
    meta = next(frames)
    w, h = meta["size"]
    openings = []
    previous = None
    for k, raw in enumerate(frames):
        if k >= 10:
            break
        previous = measure_face(np.frombuffer(raw, np.uint8).reshape(h, w, 3), previous)
        assert previous is not None
        openings.append((previous.eye_opening_left + previous.eye_opening_right) / 2)
    frames.close()
    assert openings[0] > 0.25
    assert eye_closure(min(openings), openings[0]) > 0.8
    assert eye_closure(openings[-1], openings[0]) < 0.5
