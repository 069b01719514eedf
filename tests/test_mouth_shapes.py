"""The mouth re-measured through the full renderer (issue #8): spread widens and rounding narrows
the lip corners, a medium opening shows a lit interior with upper teeth, a portrait whose mouth
is open at rest renders closed for neutral motion, closures close, and f/v tuck the lower lip."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw
from scipy.ndimage import binary_erosion

from talkcli.face.analyze import measure_face
from talkcli.motion.latent import index, neutral

SIZE = 256
INNER_POLY = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308,
              324, 318, 402, 317, 14, 87, 178, 88, 95)
CASES = {
    "rest": {},
    "jaw": {"jaw_open": 0.15},
    "wide": {"jaw_open": 0.15, "mouth_wide": 1.0},
    "round": {"jaw_open": 0.15, "mouth_round": 1.0},
    "medium": {"jaw_open": 0.35},
    "press": {"jaw_open": 0.4, "lips_press": 1.0},
    "slight": {"jaw_open": 0.1},
    "tuck": {"jaw_open": 0.1, "lip_tuck": 1.0},
}


def _interocular(p: np.ndarray) -> float:
    return float(np.linalg.norm(p[[362, 263]].mean(0) - p[[33, 133]].mean(0)))


def _gap(p: np.ndarray) -> float:
    """The issue's opening: mesh 13-14, 3-D, / interocular."""
    return float(np.linalg.norm(p[13] - p[14])) / _interocular(p)


def _width(p: np.ndarray) -> float:
    return float(np.linalg.norm(p[61] - p[291])) / _interocular(p)


def _interior(frame: np.ndarray, p: np.ndarray) -> tuple[float, float]:
    """(interior median grey / cheek median grey, teeth-bright share) as bench/mouth.py."""
    img = Image.new("L", frame.shape[1::-1], 0)
    ImageDraw.Draw(img).polygon([(float(x) - 0.5, float(y) - 0.5)
                                 for x, y in p[list(INNER_POLY), :2]], fill=1)
    mask = binary_erosion(np.asarray(img, bool), iterations=1)
    f = frame.astype(np.float32)
    grey = f @ np.array([0.299, 0.587, 0.114], np.float32)
    sat = 255.0 * (f.max(-1) - f.min(-1)) / np.maximum(f.max(-1), 1e-6)
    half = max(1, int(round(0.06 * _interocular(p))))
    cheeks = np.concatenate([grey[int(p[k, 1]) - half:int(p[k, 1]) + half + 1,
                                  int(p[k, 0]) - half:int(p[k, 0]) + half + 1].ravel()
                             for k in (50, 280)])
    cheek = float(np.median(cheeks))
    g, s = grey[mask], sat[mask]
    assert g.size >= 10, "no interior to measure"
    return (float(np.median(g)) / cheek,
            float(((g > 0.8 * cheek) & (s < 90)).mean()))


@pytest.fixture(scope="module")
def sample_renders(sample_portrait_path):  # noqa: ANN001, ANN201
    """The sample portrait (a smile with teeth: open at rest) rendered at every case,
    re-measured: {case: (frame, points)}; plus the renderer."""
    from talkcli.face.analyze import analyze_portrait
    from talkcli.face.image import load_image
    from talkcli.render.renderer import Renderer

    r = Renderer(analyze_portrait(load_image(sample_portrait_path)), size=SIZE)
    lat = neutral(len(CASES))
    for i, kw in enumerate(CASES.values()):
        for k, v in kw.items():
            lat[i, index(k)] = v
    frames = r.render(lat)
    out = {}
    for name, frame in zip(CASES, frames, strict=True):
        m = measure_face(frame)
        assert m is not None, f"no face in the {name} frame"
        out[name] = (frame, np.asarray(m.points, np.float64))
    return r, out


def test_sample_is_open_at_rest_and_renders_closed(sample_renders, sample_face_crop) -> None:  # noqa: ANN001
    r, got = sample_renders
    portrait = measure_face(sample_face_crop[1])
    assert portrait is not None and _gap(np.asarray(portrait.points, np.float64)) > 0.05
    assert r.geometry.rest_close is not None
    assert _gap(got["rest"][1]) < 0.05


def test_closures_close(sample_renders) -> None:  # noqa: ANN001
    _, got = sample_renders
    assert _gap(got["press"][1]) < 0.05
    assert _gap(got["medium"][1]) > 0.1


def test_spread_widens_and_rounding_narrows_the_corners(sample_renders) -> None:  # noqa: ANN001
    _, got = sample_renders
    base = _width(got["jaw"][1])
    assert _width(got["wide"][1]) > base + 0.04
    assert _width(got["round"][1]) < base - 0.04


def test_fv_tuck_raises_the_lower_lip(sample_renders) -> None:  # noqa: ANN001
    """f/v: at the same jaw the lower lip's middle (mesh 14, 17) comes up under the teeth and
    the upper lip (13) lifts off them (the deformed mesh: a landmarker does not resolve a
    millimetre of lower lip); the re-measured corners stay where they were."""
    r, got = sample_renders
    lat = neutral(2)
    lat[:, index("jaw_open")] = 0.1
    lat[1, index("lip_tuck")] = 1.0
    p = r.deform(lat)[:, :468].numpy()
    io = _interocular(p[0])
    assert p[1, 14, 1] < p[0, 14, 1] - 0.01 * io
    assert p[1, 17, 1] < p[0, 17, 1]
    assert p[1, 13, 1] < p[0, 13, 1] - 0.01 * io
    assert abs(_width(got["tuck"][1]) - _width(got["slight"][1])) < 0.05


def test_medium_opening_is_lit_with_upper_teeth(sample_renders) -> None:  # noqa: ANN001
    _, got = sample_renders
    frame, p = got["medium"]
    brightness, teeth = _interior(frame, p)
    assert brightness >= 0.45
    assert teeth >= 0.1


def test_closed_portrait_has_no_rest_closure(sample_renders) -> None:  # noqa: ANN001
    """A portrait with closed lips keeps exact identity at neutral (no rest displacement)."""
    from talkcli.face.analyze import analyze_portrait
    from talkcli.render.renderer import Renderer

    _, got = sample_renders
    closed = got["rest"][0]          # the sample rendered closed is a closed-mouth portrait
    r = Renderer(analyze_portrait(closed), size=SIZE)
    assert r.geometry.rest_close is None
    frame = r.render(neutral(1))[0]
    ref = np.round(r.framed.image * 255).astype(np.uint8) if r.framed.image.dtype != np.uint8 \
        else r.framed.image
    diff = np.abs(frame.astype(np.int16) - ref.astype(np.int16))
    assert diff.max() <= 1
