"""MouthCompositor: identity at rest, a dark cavity with skull-fixed teeth when the lips part,
and reuse of the portrait's own interior when its mouth is already open."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from talkcli.face import regions
from talkcli.motion.latent import CHANNELS, index, neutral
from talkcli.render.mouth import MouthCompositor

CPU = torch.device("cpu")
SIZE = 512


@pytest.fixture(scope="module")
def face(sample_face_crop):  # noqa: ANN001, ANN201
    """The sample portrait framed on the face at 512 px (as the renderer frames it), analysed."""
    from talkcli.face.analyze import analyze_portrait

    rig = analyze_portrait(sample_face_crop[1])
    base = torch.from_numpy(rig.image).permute(2, 0, 1).float() / 255.0
    return base, torch.from_numpy(rig.points).float(), float(rig.interocular)


def closed_points(points: torch.Tensor) -> torch.Tensor:
    """The same face with the lips together (inner lower lip on the inner upper lip)."""
    p = points.clone()
    up, low = list(regions.LIPS_INNER_UPPER), list(regions.LIPS_INNER_LOWER)
    p[low] = p[up]
    p[low[1:-1], 1] += 1.2
    return p


def jaw_points(points: torch.Tensor, drop: float) -> torch.Tensor:
    """Lower lip (inner and outer) moved down by `drop` px, the corners by half."""
    p = points.clone()
    low = list(regions.LIPS_INNER_LOWER[1:-1]) + list(regions.LIPS_OUTER_LOWER[1:-1])
    p[low, 1] += drop
    return p


def latents(b: int = 1, **kw: float) -> torch.Tensor:
    lat = torch.from_numpy(neutral(b))
    for k, v in kw.items():
        lat[:, index(k)] = v
    return lat


def lum(img: torch.Tensor) -> torch.Tensor:
    return 0.299 * img[..., 0, :, :] + 0.587 * img[..., 1, :, :] + 0.114 * img[..., 2, :, :]


def centre_column(points: torch.Tensor) -> int:
    return int(points[list(regions.INNER_LIP_MID), 0].mean())


def test_channels_contract() -> None:
    assert "mouth_round" in CHANNELS and "mouth_wide" in CHANNELS


def test_closed_portrait_neutral_is_identity(face) -> None:  # noqa: ANN001
    base, points, io = face
    pts = closed_points(points)
    mouth = MouthCompositor(base, pts, io, CPU)
    assert not mouth.open_portrait
    frames = base[None].repeat(2, 1, 1, 1)
    out = mouth.composite(frames.clone(), pts[None].repeat(2, 1, 1), latents(2))
    assert torch.equal(out, frames)


def test_open_portrait_neutral_is_identity(face) -> None:  # noqa: ANN001
    base, points, io = face
    mouth = MouthCompositor(base, points, io, CPU)
    assert mouth.open_portrait           # the sample smiles with its teeth showing
    out = mouth.composite(base[None].clone(), points[None], latents())
    mse = float(((out[0] - base) ** 2).mean())
    assert mse == 0.0 or 10 * np.log10(1.0 / mse) >= 40.0
    assert float((out[0] - base).abs().max()) < 1e-3


def test_opening_shows_dark_cavity_and_upper_teeth(face) -> None:  # noqa: ANN001
    base, points, io = face
    pts = closed_points(points)
    mouth = MouthCompositor(base, pts, io, CPU)
    width = mouth.width0
    drop = 0.45 * width
    opened = jaw_points(pts, drop)
    out = mouth.composite(base[None].clone(), opened[None], latents(jaw_open=1.0))[0]
    x = centre_column(pts)
    y_up = float(pts[13, 1])
    col = lum(out[:, :, x - 1:x + 2].mean(-1, keepdim=True))[:, 0]
    teeth = col[int(y_up + 2):int(y_up + 0.09 * width)].mean()
    cavity = col[int(y_up + 0.2 * width):int(y_up + 0.32 * width)].mean()
    lip_lum = lum(mouth.lips.view(3, 1, 1)).item()
    assert float(cavity) < 0.5 * lip_lum
    assert float(teeth) > 2.0 * float(cavity)
    # Painted only inside the opened lips (their inner edges re-sampled): far from the mouth
    # nothing changed.
    far = torch.ones_like(base[0], dtype=torch.bool)
    box = opened[list(regions.LIPS_INNER) + list(regions.LIPS_OUTER), :2]
    xa, ya = box.amin(0).floor().int() - 2
    xb, yb = box.amax(0).ceil().int() + 2
    far[ya:yb, xa:xb] = False
    assert torch.equal(out[:, far], base[:, far])


def _closed_mouth(face):  # noqa: ANN001, ANN202
    """The sample with its lips together: (portrait, points, compositor, mouth width, centre
    column, upper inner lip's y)."""
    base, points, io = face
    pts = closed_points(points)
    mouth = MouthCompositor(base, pts, io, CPU)
    return base, pts, mouth, mouth.width0, centre_column(pts), float(pts[13, 1])


def test_narrow_opening_is_darker_inside(face, monkeypatch) -> None:  # noqa: ANN001
    """Little light gets into a narrow gap: its cavity is painted darker than the same gap
    without that shading, while a wide opening's middle keeps its lit cavity."""
    import talkcli.render.mouth as mouth_mod

    base, pts, mouth, w, x, y_up = _closed_mouth(face)

    def centre(drop: float, dark: float) -> torch.Tensor:
        monkeypatch.setattr(mouth_mod, "NARROW_DARK", dark)
        out = mouth.composite(base[None].clone(), jaw_points(pts, drop)[None],
                              latents(jaw_open=1.0, mouth_round=1.0))[0]
        return lum(out[:, int(y_up):int(y_up + drop) + 1, x - 1:x + 2].mean(-1, keepdim=True))

    narrow = centre(0.1 * w, mouth_mod.NARROW_DARK)
    unshaded = centre(0.1 * w, 0.0)
    assert float(narrow.min()) < 0.85 * float(unshaded.min())
    wide, wide_unshaded = centre(0.45 * w, mouth_mod.NARROW_DARK), centre(0.45 * w, 0.0)
    assert float((wide - wide_unshaded).abs().max()) < 0.01


def _teeth_edge(out: torch.Tensor, x: int, y_from: float, y_to: float) -> float:
    """First row below the upper lip where the centre column turns dark (teeth edge)."""
    col = lum(out[:, :, x - 1:x + 2].mean(-1, keepdim=True))[:, 0]
    seg = col[int(y_from):int(y_to)]
    thr = 0.5 * (float(seg.max()) + float(seg.min()))
    top = int(torch.argmax(seg))
    below = torch.nonzero(seg[top:] < thr)
    return float(y_from + top + below[0]) if len(below) else float("nan")


def test_upper_teeth_follow_the_skull_not_the_jaw(face) -> None:  # noqa: ANN001
    base, pts, mouth, w, x, y_up = _closed_mouth(face)
    edges = []
    for drop in (0.35 * w, 0.55 * w):
        out = mouth.composite(base[None].clone(), jaw_points(pts, drop)[None],
                              latents(jaw_open=1.0))[0]
        edges.append(_teeth_edge(out, x, y_up, y_up + 0.3 * w))
    assert abs(edges[0] - edges[1]) <= 1.0
    # Move the whole head down 6 px: the teeth go with it.
    shifted = jaw_points(pts, 0.45 * w)
    shifted[:, 1] += 6.0
    frame = torch.roll(base, 6, dims=1)
    out = mouth.composite(frame[None].clone(), shifted[None], latents(jaw_open=1.0))[0]
    moved = _teeth_edge(out, x, y_up + 6, y_up + 6 + 0.3 * w)
    assert abs(moved - (edges[0] + 6.0)) <= 1.5


def _bright_count(out: torch.Tensor, mouth: MouthCompositor) -> int:
    return int((lum(out) > 0.8 * float(lum(mouth.teeth.view(3, 1, 1)))).sum())


def test_round_hides_and_wide_shows_teeth(face) -> None:  # noqa: ANN001
    base, points, io = face
    pts = closed_points(points)
    mouth = MouthCompositor(base, pts, io, CPU)
    opened = jaw_points(pts, 0.3 * mouth.width0)[None]
    dark = base * 0.2       # a dark frame so only painted teeth count as bright
    counts = {}
    for name, kw in {"plain": {}, "round": {"mouth_round": 1.0}, "wide": {"mouth_wide": 1.0}
                     }.items():
        out = mouth.composite(dark[None].clone(), opened, latents(jaw_open=0.6, **kw))[0]
        counts[name] = _bright_count(out, mouth)
    assert counts["round"] < counts["plain"] < counts["wide"]


def test_open_portrait_keeps_its_own_teeth(face) -> None:  # noqa: ANN001
    base, points, io = face
    mouth = MouthCompositor(base, points, io, CPU)
    w = mouth.width0
    out = mouth.composite(base[None].clone(), jaw_points(points, 0.3 * w)[None],
                          latents(jaw_open=1.0))[0]
    x = centre_column(points)
    y_up = int(np.ceil(float(points[13, 1]))) + 1
    # Just under the upper lip: the portrait's own upper teeth, unchanged.
    diff = (out[:, y_up:y_up + 2, x - 3:x + 4] - base[:, y_up:y_up + 2, x - 3:x + 4]).abs()
    assert float(diff.max()) < 0.03
    # The opened middle (wider than the portrait's) is dark.
    mid = int(float(points[13, 1]) + 0.5 * (float(points[14, 1]) + 0.3 * w - float(points[13, 1])))
    assert float(lum(out[:, mid - 1:mid + 2, x - 3:x + 4]).mean()) < 0.35



def test_slightly_parted_portrait_opened_wide_shows_a_tongue(face) -> None:  # noqa: ANN001
    """A portrait with its lips a little apart onto a dark gap (open, no teeth in view, too
    little opening for a tongue of its own to show) opened wide gets the painted tongue: low
    in the cavity, over the lower lip, a muted red lighter than the cavity's middle (issue #8:
    a tongue, never a flat dark hole)."""
    import cv2

    base, points, io = face
    pts = closed_points(points)
    w0 = float(pts[291, 0] - pts[61, 0])
    parted = jaw_points(pts, 0.12 * w0)
    ring = parted[list(regions.LIPS_INNER_UPPER) + list(regions.LIPS_INNER_LOWER[::-1]), :2]
    gap = np.zeros(base.shape[1:], np.uint8)
    cv2.fillPoly(gap, [ring.numpy().round().astype(np.int32)], 1)
    img = base.clone()
    img[:, torch.from_numpy(gap.astype(bool))] = torch.tensor([0.22, 0.1, 0.08]).view(3, 1)
    mouth = MouthCompositor(img, parted, io, CPU)
    assert mouth.open_portrait and not mouth.own_teeth and mouth.anchors[1] > 0.0
    w = mouth.width0
    opened = jaw_points(parted, 0.4 * w)
    out = mouth.composite(img[None].clone(), opened[None], latents(jaw_open=1.0))[0]
    x = centre_column(points)
    y_low = float(opened[14, 1])
    col = out[:, :, x - 2:x + 3].mean(-1)                                      # (3, H)
    tongue = col[:, int(y_low - 0.13 * w):int(y_low - 0.07 * w)].mean(-1)
    y_mid = 0.5 * (float(opened[13, 1]) + y_low)
    middle = col[:, int(y_mid - 0.02 * w):int(y_mid + 0.02 * w)].mean(-1)
    assert float(lum(tongue.view(3, 1, 1))) > 1.3 * float(lum(middle.view(3, 1, 1)))
    assert float(tongue[0]) > 1.3 * float(tongue[1])                          # red, not grey


def _teeth_rows(frame: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Per row from the upper to the lower inner lip (mouth centre, a fifth of its width):
    whether it is teeth-bright (light, unsaturated)."""
    half = 0.1 * abs(float(pts[291, 0] - pts[61, 0]))
    x0, x1 = int(pts[13, 0] - half), int(pts[13, 0] + half)
    col = frame[int(pts[13, 1]) - 2:int(pts[14, 1]) + 2, x0:x1].astype(float) / 255.0
    lum_ = col @ np.array([0.299, 0.587, 0.114])
    sat = (col.max(-1) - col.min(-1)) / np.maximum(col.max(-1), 1e-3)
    return np.asarray((np.median(lum_, 1) > 0.75) & (np.median(sat, 1) < 0.3))


def _first_run(rows: np.ndarray) -> int:
    """Length of the first run of True rows."""
    start = int(np.argmax(rows))
    if not rows[start]:
        return 0
    end = start
    while end < len(rows) and rows[end]:
        end += 1
    return end - start


def test_open_portrait_upper_teeth_stay_whole_opening_wider(sample_portrait_path) -> None:  # noqa: ANN001
    """The sample smiles with its upper teeth showing: opened wider than that, its upper teeth
    stay as tall as at its own opening (fixed to the skull, not cut to their tips by the
    cavity), and the jaw's teeth come into view on the lower lip."""
    from talkcli.face.analyze import analyze_portrait
    from talkcli.face.image import load_image
    from talkcli.render.renderer import Renderer

    r = Renderer(analyze_portrait(load_image(sample_portrait_path)), size=512, max_batch=2)
    assert r.mouth.open_portrait and r.mouth.own_teeth
    lat = latents(2)
    lat[:, index("jaw_open")] = torch.tensor([0.35, 1.0])   # about its own opening; wide
    frames = r.render(lat.numpy())
    pts = r.deform(lat.numpy()).numpy()
    own, wide = (_teeth_rows(frames[k], pts[k]) for k in range(2))
    assert _first_run(own) >= 8
    assert _first_run(wide) >= 0.8 * _first_run(own)
    # under the upper teeth: the cavity, then the lower teeth on the lower lip
    assert not wide[len(wide) // 2]
    assert wide[-8:].any()


def test_batch_equals_single_frames(face) -> None:  # noqa: ANN001
    base, points, io = face
    pts = closed_points(points)
    mouth = MouthCompositor(base, pts, io, CPU)
    w = mouth.width0
    drops = (0.0, 0.1 * w, 0.4 * w)
    batch_pts = torch.stack([jaw_points(pts, d) for d in drops])
    lat = latents(3, jaw_open=0.5)
    lat[:, index("mouth_wide")] = torch.tensor([0.0, 0.5, 1.0])
    batch = mouth.composite(base[None].repeat(3, 1, 1, 1), batch_pts, lat)
    for i in range(3):
        single = mouth.composite(base[None].clone(), batch_pts[i:i + 1], lat[i:i + 1])
        assert torch.allclose(batch[i], single[0], atol=1e-5)
    assert torch.equal(batch[0], base)


def test_closed_mouth_portrait_opens_end_to_end(sample_portrait_path) -> None:  # noqa: ANN001
    """A closed-mouth portrait (the sample rendered with its lips pressed, analysed again):
    jaw_open 1 re-measures as an open mouth (inner-lip gap >= 0.25 interocular) through the
    full renderer, compositors included; jaw_open 0 stays closed; the opening grows with jaw."""
    from talkcli.face.analyze import analyze_portrait, measure_face
    from talkcli.face.image import load_image
    from talkcli.render.renderer import Renderer

    r0 = Renderer(analyze_portrait(load_image(sample_portrait_path)), size=512, max_batch=1)
    closed = r0.render(latents(1, lips_press=1.0).numpy())[0]
    first = measure_face(closed)
    assert first is not None and first.mouth_gap <= 0.1      # a closed-mouth portrait
    r = Renderer(analyze_portrait(closed), size=512, max_batch=3)
    lat = latents(3)
    lat[:, index("jaw_open")] = torch.tensor([0.0, 0.5, 1.0])
    frames = r.render(lat.numpy())
    gaps = []
    for f in frames:
        m = measure_face(f)
        assert m is not None
        gaps.append(m.mouth_gap)
    assert gaps[0] <= 0.1
    assert gaps[0] < gaps[1] < gaps[2]
    # (>= 0.3 before the interior was lit: a red-brown cavity at half the cheek's brightness
    # reads a little narrower to the landmarker than a black hole did)
    assert gaps[2] >= 0.25
    # ... and the painted interior is a mouth, not a lip: dark red-brown at its centre
    pts = r.deform(lat[2:3].numpy())[0]
    cx, cy = pts[[13, 14], :2].mean(0).round().int().tolist()
    centre = torch.from_numpy(frames[2, cy - 2:cy + 3, cx - 2:cx + 3].astype(np.float32)) / 255
    # (a lit red-brown cavity, issue #8: darker than skin and lips, never a black hole)
    assert 0.05 < float(centre.mean()) < 0.35
    assert float(centre[..., 0].mean()) > float(centre[..., 1].mean())


def test_closed_open_portrait_shows_lips_not_its_interior(face) -> None:  # noqa: ANN001
    """A wide-open portrait closed: whatever the warp leaves next to the line where the lips
    meet (its smooth inverse spreads the portrait's teeth and tongue over it), the compositor
    shows the portrait's lips there, never its interior."""
    from talkcli.render.mouth import SQUEEZE_REACH

    base, points, io = face
    w = float(points[291, 0] - points[61, 0])
    drop = 0.3 * w
    opened = jaw_points(points, drop)           # the portrait: a shout, lower lip far down
    img = base.clone()
    x = centre_column(points)
    y_in0, y_in1 = int(float(points[13, 1])) + 2, int(float(opened[14, 1]))
    img[:, y_in0:y_in1, :] = torch.tensor([0.0, 1.0, 0.0]).view(3, 1, 1)   # its interior
    mouth = MouthCompositor(img, opened, io, CPU)
    assert mouth.open_portrait
    shut = closed_points(opened)
    # the worst leak: the frame still shows the portrait where it was (interior in place)
    out = mouth.composite(img[None].clone(), shut[None], latents())[0]
    line = int(round(float(shut[13, 1])))
    reach = int(0.8 * SQUEEZE_REACH * drop)
    col = out[:, line - reach:line + reach + 1, x - 2:x + 3]
    green = (col[1] > 0.8) & (col[0] < 0.3) & (col[2] < 0.3)
    assert not bool(green.any())
    # below the line: the portrait's lower lip, as it was under its inner edge
    y = line + reach // 2
    src = int(round(float(opened[14, 1]))) + (y - int(round(float(shut[14, 1]))))
    assert float((out[:, y, x] - img[:, src, x]).abs().max()) < 0.12


def test_opened_lips_carry_no_contact_shadow(sample_portrait_path) -> None:  # noqa: ANN001
    """A closed-mouth portrait whose lips meet in a dark line (the contact shadow): opened,
    the lower lip's inner edge is lit lip, not that line carried down as a drawn outline;
    closed, the line is still there."""
    import dataclasses

    from talkcli.face.analyze import analyze_portrait
    from talkcli.face.image import load_image
    from talkcli.render.renderer import Renderer

    r0 = Renderer(analyze_portrait(load_image(sample_portrait_path)), size=512, max_batch=1)
    rig = analyze_portrait(r0.render(latents(1, lips_press=1.0).numpy())[0])
    img = rig.image.copy()
    p = rig.points
    w = float(p[291, 0] - p[61, 0])
    xs = np.arange(int(p[61, 0] + 0.25 * w), int(p[291, 0] - 0.25 * w))
    line = np.interp(xs, p[[78, 14, 308], 0], 0.5 * (p[[78, 13, 308], 1] + p[[78, 14, 308], 1]))
    lip = img[int(p[14, 1]) + 4, int(p[14, 0])].astype(np.float32)
    for x, y in zip(xs, line, strict=True):
        img[int(y) - 1:int(y) + 3, x] = (0.25 * lip).astype(np.uint8)   # a 4 px dark line
    r = Renderer(dataclasses.replace(rig, image=img), size=512, max_batch=2)
    assert not r.mouth.open_portrait
    lat = latents(2)
    lat[1, index("jaw_open")] = 0.6
    frames = r.render(lat.numpy()).astype(np.float32) / 255.0
    pts = r.deform(lat.numpy())
    lip_lum = lum(r.mouth.lips.view(3, 1, 1)).item()
    x = int(round(float(pts[1, 14, 0])))
    y14 = float(pts[1, 14, 1])
    col = frames[1, int(y14) + 1:int(y14) + 5, x - 2:x + 3] @ np.array([0.299, 0.587, 0.114])
    assert float(col.min()) > 0.6 * lip_lum, (col.min(), lip_lum)
    # closed, the contact shadow is what a closed mouth shows: kept
    y_line = int(round(float(pts[0, [13, 14], 1].mean())))
    shut = frames[0, y_line - 1:y_line + 2, x - 2:x + 3] @ np.array([0.299, 0.587, 0.114])
    assert float(shut.min()) < 0.5 * lip_lum


def test_shout_portrait_closes_at_rest(dev_assets) -> None:  # noqa: ANN001
    """The dev shout portrait (mouth wide open, tongue over the lower lip; skipped where the dev
    assets are absent) rendered at neutral and pressed: re-measured, its lips read nearly
    closed. Issue #8 asks for a gap under 0.05; this guards what the exact map and the rolled-in
    lower lip reach (rest 0.076, pressed 0.054 at 256 px; 0.116 and 0.102 before)."""
    from talkcli.face.analyze import analyze_portrait, measure_face
    from talkcli.face.image import load_image
    from talkcli.render.renderer import Renderer

    path = dev_assets / "portrait" / "real_openmouth_woman_d9.jpg"
    if not path.is_file():
        pytest.skip("the shout portrait is not in dev-assets")
    r = Renderer(analyze_portrait(load_image(path)), size=256)
    assert r.mouth.wide_open
    lat = latents(2)
    lat[1, index("jaw_open")] = 0.4
    lat[1, index("lips_press")] = 1.0
    gaps = []
    for frame in r.render(lat):
        m = measure_face(frame)
        assert m is not None
        p = np.asarray(m.points, np.float64)
        io = float(np.linalg.norm(p[[362, 263]].mean(0) - p[[33, 133]].mean(0)))
        gaps.append(float(np.linalg.norm(p[13] - p[14])) / io)
    assert gaps[0] < 0.09 and gaps[1] < 0.07, gaps
