"""EyeCompositor: a clean base painted only inside the eyes, identity at rest, irises that follow
the gaze inside the lids, and blinks that hide the iris instead of smearing it."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw

from talkcli.face import regions
from talkcli.motion.latent import index, neutral
from talkcli.render.eyes import EyeCompositor

CPU = torch.device("cpu")
SIZE = 512


def _rig_tensors(rig) -> dict:  # noqa: ANN001
    return {
        "base": torch.from_numpy(np.array(rig.image)).permute(2, 0, 1).float() / 255.0,
        "points": torch.from_numpy(np.array(rig.points)).float(),
        "iris_left": torch.from_numpy(np.array(rig.iris_left)).float(),
        "iris_right": torch.from_numpy(np.array(rig.iris_right)).float(),
        "eye_left": torch.from_numpy(np.array(rig.eye_left)).float(),
        "eye_right": torch.from_numpy(np.array(rig.eye_right)).float(),
        "interocular": float(rig.interocular),
    }


@pytest.fixture(scope="module")
def faces(sample_face_crop):  # noqa: ANN001, ANN201
    """The sample portrait as is (small eyes) and framed on the face at 512 px, analysed."""
    from talkcli.face.analyze import analyze_portrait

    img, arr = sample_face_crop
    return _rig_tensors(analyze_portrait(img)), _rig_tensors(analyze_portrait(arr))


@pytest.fixture(scope="module")
def face(faces):  # noqa: ANN001, ANN201
    return faces[1]


def make(f: dict) -> EyeCompositor:
    return EyeCompositor(f["base"], f["points"], f["iris_left"], f["iris_right"],
                         f["eye_left"], f["eye_right"], CPU)


def latents(b: int = 1, **kw: float) -> torch.Tensor:
    lat = torch.from_numpy(neutral(b))
    for k, v in kw.items():
        lat[:, index(k)] = v
    return lat


def eye_mask(points: torch.Tensor, shape: tuple[int, int], grow: int = 1) -> torch.Tensor:
    """Both eye openings of the mesh as a boolean image, dilated by `grow` px."""
    img = Image.new("L", (shape[1], shape[0]), 0)
    draw = ImageDraw.Draw(img)
    for loop in (regions.EYE_LEFT, regions.EYE_RIGHT):
        draw.polygon([tuple(map(float, points[i, :2])) for i in loop], fill=1, outline=1)
    mask = torch.from_numpy(np.array(img)).bool()
    if grow:
        mask = F.max_pool2d(mask[None, None].float(), 2 * grow + 1, 1, grow)[0, 0] > 0
    return mask


def blink_points(points: torch.Tensor, amount: float) -> torch.Tensor:
    """Upper-lid points moved toward the lower lid (1 = fully closed)."""
    p = points.clone()
    for up, low in ((regions.EYE_LEFT_UPPER, regions.EYE_LEFT_LOWER),
                    (regions.EYE_RIGHT_UPPER, regions.EYE_RIGHT_LOWER)):
        for iu, il in zip(up[1:-1], low[1:-1], strict=True):
            p[iu, :2] = p[iu, :2] + amount * (points[il, :2] - points[iu, :2])
    return p


def lid_area(points: torch.Tensor, moved: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """Where a closing lid may paint: the eyes as open and as moved, grown by the lid's
    feathered top (half the distance the lid came down, + 3 px)."""
    drop = float((moved[:, 1] - points[:, 1]).abs().max())
    grow = int(0.5 * drop) + 3
    return eye_mask(points, shape, grow=grow) | eye_mask(moved, shape, grow=grow)


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = float(((a - b) ** 2).mean())
    return 120.0 if mse == 0 else 10 * float(np.log10(1.0 / mse))


def dark_centroid(img: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Centroid of the darkest third of the pixels inside a mask (the iris and pupil)."""
    lum = 0.299 * img[0] + 0.587 * img[1] + 0.114 * img[2]
    vals = lum[mask]
    thr = torch.quantile(vals, 0.33)
    sel = mask & (lum <= thr)
    ys, xs = torch.nonzero(sel, as_tuple=True)
    return torch.stack((xs.float().mean(), ys.float().mean()))


def one_eye_mask(points: torch.Tensor, shape: tuple[int, int], loop: tuple[int, ...]
                 ) -> torch.Tensor:
    img = Image.new("L", (shape[1], shape[0]), 0)
    ImageDraw.Draw(img).polygon([tuple(map(float, points[i, :2])) for i in loop], fill=1)
    return torch.from_numpy(np.array(img)).bool()


def test_eyes_are_enabled_at_face_framing(face) -> None:  # noqa: ANN001
    eyes = make(face)
    assert all(e.enabled for e in eyes.eyes)
    assert all(4.0 <= e.radius <= 0.5 * e.width0 for e in eyes.eyes)


def test_clean_base_changes_only_inside_the_eyes(face) -> None:  # noqa: ANN001
    eyes = make(face)
    base = face["base"]
    changed = (eyes.clean_base - base).abs().amax(0) > 0
    assert int(changed.sum()) > 50                 # the irises were painted out
    inside = eye_mask(face["points"], base.shape[-2:], grow=1)
    assert not bool((changed & ~inside).any())
    # The painted sclera is lighter than the iris it replaced.
    lum_b = (0.299 * base[0] + 0.587 * base[1] + 0.114 * base[2])[changed].mean()
    cb = eyes.clean_base
    lum_c = (0.299 * cb[0] + 0.587 * cb[1] + 0.114 * cb[2])[changed].mean()
    assert float(lum_c) > float(lum_b) + 0.1


def test_neutral_reproduces_the_portrait(face) -> None:  # noqa: ANN001
    eyes = make(face)
    base, pts = face["base"], face["points"]
    out = eyes.composite(eyes.clean_base[None].repeat(2, 1, 1, 1), pts[None].repeat(2, 1, 1),
                         latents(2))
    for loop in (regions.EYE_LEFT, regions.EYE_RIGHT):
        xy = pts[list(loop), :2]
        xa, ya = (xy.amin(0) - 3).int().tolist()
        xb, yb = (xy.amax(0) + 3).int().tolist()
        assert psnr(out[0, :, ya:yb, xa:xb], base[:, ya:yb, xa:xb]) >= 40.0
    assert psnr(out[1], base) >= 40.0


@pytest.mark.parametrize(("channel", "value", "axis", "sign"), [
    ("gaze_yaw", 25.0, 0, 1), ("gaze_yaw", -25.0, 0, -1), ("gaze_pitch", 20.0, 1, -1),
    ("gaze_pitch", -20.0, 1, 1),
])
def test_gaze_moves_the_iris(face, channel: str, value: float, axis: int, sign: int
                             ) -> None:  # noqa: ANN001
    eyes = make(face)
    pts = face["points"]
    frames = eyes.clean_base[None].repeat(2, 1, 1, 1)
    lat = latents(2)
    lat[1, index(channel)] = value
    out = eyes.composite(frames, pts[None].repeat(2, 1, 1), lat)
    shape = out.shape[-2:]
    for loop in (regions.EYE_LEFT, regions.EYE_RIGHT):
        m = one_eye_mask(pts, shape, loop)
        c0 = dark_centroid(out[0], m)
        c1 = dark_centroid(out[1], m)
        moved = float(c1[axis] - c0[axis]) * sign
        # Vertical moves are clipped by the lids, so the visible dark centroid moves less.
        assert moved > (0.5 if axis == 0 else 0.25), (loop[0], channel, value, moved)


def test_iris_stays_inside_the_eye_opening(face) -> None:  # noqa: ANN001
    eyes = make(face)
    pts = face["points"]
    frames = eyes.clean_base[None].repeat(3, 1, 1, 1)
    lat = latents(3)
    lat[:, index("gaze_yaw")] = torch.tensor([40.0, -40.0, 10.0])
    lat[:, index("gaze_pitch")] = torch.tensor([30.0, -30.0, -10.0])
    out = eyes.composite(frames.clone(), pts[None].repeat(3, 1, 1), lat)
    changed = (out - frames).abs().amax(1) > 1e-6
    inside = eye_mask(pts, out.shape[-2:], grow=1)
    assert not bool((changed & ~inside[None]).any())


def test_blink_hides_the_iris(face) -> None:  # noqa: ANN001
    eyes = make(face)
    pts = face["points"]
    closed = blink_points(pts, 1.0)
    frames = eyes.clean_base[None].repeat(2, 1, 1, 1)
    lat = latents(2, blink_left=1.0, blink_right=1.0)
    lat[1, index("gaze_yaw")] = 20.0
    out = eyes.composite(frames.clone(), closed[None].repeat(2, 1, 1), lat)
    # The gaze no longer shows: the iris is gone, lid skin covers where the eye was open.
    assert torch.equal(out[0], out[1])
    changed = (out[0] - frames[0]).abs().amax(0) > 1e-6
    assert not bool((changed & ~lid_area(pts, closed, out.shape[-2:])).any())
    # what was the opening (eye white) is now the colour of the lid's skin
    opening = eye_mask(pts, out.shape[-2:], grow=0) & ~eye_mask(closed, out.shape[-2:], grow=2)
    lid = torch.stack([e.lid for e in eyes.eyes]).mean(0).view(3, 1)
    before = (frames[0][:, opening] - lid).abs().mean()
    after = (out[0][:, opening] - lid).abs().mean()
    assert float(after) < 0.5 * float(before)


def test_half_blink_clips_the_iris_at_the_lid(face) -> None:  # noqa: ANN001
    eyes = make(face)
    pts = face["points"]
    half = blink_points(pts, 0.5)
    frames = eyes.clean_base[None].clone()
    out = eyes.composite(frames.clone(), half[None], latents(blink_left=0.5, blink_right=0.5))
    changed = (out - frames).abs().amax(1)[0] > 1e-6
    assert bool(changed.any())
    assert not bool((changed & ~lid_area(pts, half, out.shape[-2:])).any())


def test_batch_equals_single_frames(face) -> None:  # noqa: ANN001
    eyes = make(face)
    pts = face["points"]
    batch_pts = torch.stack([pts, blink_points(pts, 0.4), pts + torch.tensor([3.0, -2.0, 0.0])])
    lat = latents(3)
    lat[:, index("gaze_yaw")] = torch.tensor([0.0, 15.0, -10.0])
    lat[:, index("blink_left")] = torch.tensor([0.0, 0.4, 0.0])
    frames = eyes.clean_base[None].repeat(3, 1, 1, 1)
    batch = eyes.composite(frames.clone(), batch_pts, lat)
    for i in range(3):
        single = eyes.composite(frames[i:i + 1].clone(), batch_pts[i:i + 1], lat[i:i + 1])
        assert torch.allclose(batch[i], single[0], atol=1e-5)


def test_tiny_eyes_are_left_alone(faces) -> None:  # noqa: ANN001
    small = faces[0]            # the unframed sample: irises ~3 px
    eyes = make(small)
    assert not any(e.enabled for e in eyes.eyes)
    assert torch.equal(eyes.clean_base, small["base"])
    frames = small["base"][None].clone()
    out = eyes.composite(frames.clone(), small["points"][None], latents(gaze_yaw=20.0))
    assert torch.equal(out, frames)


def _with_rims(f: dict) -> tuple[dict, torch.Tensor]:
    """The face with a thin dark spectacle rim drawn across each eye, above the upper lid;
    and the rim's pixels."""
    base = f["base"].clone()
    pts = f["points"]
    rim = torch.zeros(base.shape[-2:], dtype=torch.bool)
    for up in (regions.EYE_LEFT_UPPER, regions.EYE_RIGHT_UPPER):
        xy = pts[list(up), :2]
        width = float(xy[:, 0].max() - xy[:, 0].min())
        y = int(float(xy[:, 1].min()) - 0.3 * width)
        x0 = int(float(xy[:, 0].min()) - 0.35 * width)
        x1 = int(float(xy[:, 0].max()) + 0.35 * width)
        rim[y:y + 3, x0:x1] = True
    base[:, rim] = 0.05
    return {**f, "base": base}, rim


def test_a_spectacle_rim_is_a_layer_that_does_not_blink(face) -> None:  # noqa: ANN001
    glasses, rim = _with_rims(face)
    eyes = make(glasses)
    assert all(e.rim is not None for e in eyes.eyes)
    # the rim is gone from what the renderer warps (the lid's skin cannot drag it down) ...
    lum = 0.299 * eyes.clean_base[0] + 0.587 * eyes.clean_base[1] + 0.114 * eyes.clean_base[2]
    assert float(lum[rim].mean()) > 0.3
    pts = glasses["points"]
    lat = latents(2)
    lat[1, index("blink_left")] = lat[1, index("blink_right")] = 1.0
    out = eyes.composite(eyes.clean_base[None].repeat(2, 1, 1, 1),
                         torch.stack((pts, blink_points(pts, 1.0))), lat)
    # ... and pasted back: the portrait at rest, and the same straight rim on a closed eye
    assert psnr(out[0], glasses["base"]) >= 40.0
    assert float((out[1][:, rim] - glasses["base"][:, rim]).abs().max()) < 1e-4
    # the layer moves with the head: a shifted head shows the shifted portrait, rim and all
    shift = (2, -3)
    moved = eyes.composite(torch.roll(eyes.clean_base, shift, (1, 2))[None],
                           (pts + torch.tensor([float(shift[1]), float(shift[0]), 0.0]))[None],
                           latents())
    assert psnr(moved[0, :, 10:-10, 10:-10],
                torch.roll(glasses["base"], shift, (1, 2))[:, 10:-10, 10:-10]) >= 40.0
    # the sample's own lashes and brows are no rim
    assert all(e.rim is None for e in make(face).eyes)


# ----------------------------------------------------------------------------- rendered blinks
# Whole renders re-measured with the project's landmarker: a closed eye must read as closed
# and show lid skin (no white seam of sclera between the lids).
CLOSED_MAX = 0.25          # blink 1: landmarked opening / open opening (issue 14)
# Dev portraits still short of CLOSED_MAX (measured 0.30 and 0.56 on 2026-12-02, face5): a
# painting's dark eye socket on a turned head (the far eye reads 0.48, the near one 0.16), and
# a blurry 256-px photo behind glasses (0.45 / 0.66; its rim is its own layer and stays
# straight, eyes._prepare_rim: it read 0.50 while the rim bent down with the lid, 0.55 straight).
# This landmarker does not read a shut eye much below 0.10-0.20 of the eye's width: on ten
# blinks in the dev videos whose frames show both eyes fully shut (one recorded, MEAD M030; nine
# in talking-head methods' outputs) it reads 0.095-0.205 (median 0.155), 0.30-0.60 of open.
# These two read 0.100 and 0.155 shut but only 0.34 and 0.28 open: 25% of open is below what
# a real shut eye reads with this landmarker. Issue 14 is open on them.
CLOSED_SHORT = {"art_monalisa": 0.33, "real_glasses_lab2_256": 0.58}
SEAM_MAX_DEV = 1.5


def _renderer(path):  # noqa: ANN001, ANN202
    from talkcli.face.analyze import analyze_portrait
    from talkcli.face.image import load_image
    from talkcli.render.renderer import Renderer

    return Renderer(analyze_portrait(load_image(path)), size=SIZE)


def _blinks(renderer, amounts: tuple[float, ...]) -> np.ndarray:  # noqa: ANN001
    lat = neutral(len(amounts))
    lat[:, index("blink_left")] = amounts
    lat[:, index("blink_right")] = amounts
    return renderer.render(lat)


def _opening(frame: np.ndarray) -> float:
    from talkcli.face.analyze import measure_face

    m = measure_face(frame)
    assert m is not None, "no face found in the render"
    return 0.5 * (m.eye_opening_left + m.eye_opening_right)


def _polygon(points: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    img = Image.new("L", (shape[1], shape[0]), 0)
    ImageDraw.Draw(img).polygon([tuple(map(float, p)) for p in points], fill=1)
    return np.array(img).astype(bool)


def _lum(frame: np.ndarray) -> np.ndarray:
    return frame.astype(np.float64) @ np.array([0.299, 0.587, 0.114])


def seam_excess(renderer, closed: np.ndarray) -> float:  # noqa: ANN001
    """How much brighter than the upper-lid skin the brightest pixel inside the closed eye is,
    in units of the skin's own spread (half its interquartile range; > 1: a white seam).
    Inside = the eye's open outline (neutral mesh) eroded by 2 px; the skin = the portrait's
    upper lid, between a quarter and nine tenths of the opening above the upper lid."""
    from scipy.ndimage import binary_erosion

    pts = renderer.framed.points[:, :2]
    portrait = np.asarray(renderer.framed.image, dtype=np.float64)
    portrait = portrait * 255.0 if portrait.max() <= 1.0 else portrait
    shape = closed.shape[:2]
    worst = -np.inf
    for upper, lower in ((regions.EYE_LEFT_UPPER, regions.EYE_LEFT_LOWER),
                         (regions.EYE_RIGHT_UPPER, regions.EYE_RIGHT_LOWER)):
        up, lo = pts[list(upper)], pts[list(lower)]
        opening = float((lo[1:-1, 1] - up[1:-1, 1]).max())
        inside = binary_erosion(_polygon(np.vstack([up, lo[::-1][1:-1]]), shape), iterations=2)
        band = np.vstack([up[1:-1] - [0, 0.25 * opening], (up[1:-1] - [0, 0.9 * opening])[::-1]])
        skin = _lum(portrait)[_polygon(band, shape)]
        lo_q, med, hi_q = np.percentile(skin, [25, 50, 75])
        cheek = np.median(_lum(portrait)[_polygon(pts[[50, 280, 280, 50]] + [[-6, -6], [6, -6],
                                                                          [6, 6], [-6, 6]],
                                                   shape)])
        if med < 0.5 * cheek:
            continue                # the lid is under hair (or a dark frame): no skin to judge
        assert inside.any()
        spread = max(0.5 * (hi_q - lo_q), 2.0)
        worst = max(worst, (float(_lum(closed)[inside].max()) - med) / spread)
    return worst


def _check_blinks(path, closed_max: float, seam_max: float = 1.0) -> None:  # noqa: ANN001
    r = _renderer(path)
    frames = _blinks(r, (0.0, 0.25, 0.5, 0.75, 1.0))
    openings = [_opening(f) for f in frames]
    ratio = openings[-1] / openings[0]
    assert ratio <= closed_max, (path.name, openings)
    # half-closed frames: the lid edge comes down step by step (the landmarker agrees)
    assert all(b <= a + 0.02 for a, b in zip(openings[:-1], openings[1:], strict=True)), openings
    assert seam_excess(r, frames[-1]) <= seam_max, path.name
    # a spectacle rim stays where it is (it does not bend down with the lid)
    for eye in r.eyes.eyes:
        if eye.rim is not None:
            x0, y0 = eye.rim_origin
            core = eye.rim[0, 3].cpu().numpy() >= 1.0
            ys, xs = np.nonzero(core & (_lum(frames[0][y0:y0 + core.shape[0],
                                                       x0:x0 + core.shape[1]]) < 80))
            assert len(ys) > 20
            diff = np.abs(frames[-1][ys + y0, xs + x0].astype(float)
                          - frames[0][ys + y0, xs + x0].astype(float))
            assert diff.mean() < 8.0, (path.name, eye.name, diff.mean())


def test_closed_eye_reads_closed_on_the_sample(sample_portrait_path) -> None:  # noqa: ANN001
    _check_blinks(sample_portrait_path, CLOSED_MAX)


@pytest.mark.slow
def test_closed_eye_reads_closed_on_dev_portraits(dev_assets) -> None:  # noqa: ANN001
    portraits = sorted((dev_assets / "portrait").glob("*.*"))
    assert portraits
    for path in portraits:
        _check_blinks(path, CLOSED_SHORT.get(path.stem, CLOSED_MAX), SEAM_MAX_DEV)


def _grain(img: torch.Tensor, mask: torch.Tensor) -> float:
    """Std of the luminance minus its 3x3 mean, inside a mask (fine texture)."""
    lum = (0.299 * img[0] + 0.587 * img[1] + 0.114 * img[2])[None, None]
    high = (lum - F.avg_pool2d(F.pad(lum, (1, 1, 1, 1), mode="replicate"), 3, 1))[0, 0]
    return float(high[mask].std())


def test_closed_lid_carries_the_skins_grain(face) -> None:  # noqa: ANN001
    """A closed lid painted one flat colour reads as pasted on: it keeps the grain of the
    skin above the eye (a good part of it: the light specks are clipped). Away from the lash
    line, where the lid is skin only."""
    eyes = make(face)
    pts = face["points"]
    closed = blink_points(pts, 1.0)
    frames = eyes.clean_base[None].clone()
    out = eyes.composite(frames.clone(), closed[None], latents(blink_left=1.0, blink_right=1.0))
    shape = out.shape[-2:]
    opening = eye_mask(pts, shape, grow=0) & ~eye_mask(closed, shape, grow=6)
    above = eye_mask(pts - torch.tensor([0.0, 0.6 * max(e.opening0 for e in eyes.eyes), 0.0]),
                     shape, grow=0) & ~eye_mask(pts, shape, grow=2)
    assert int(opening.sum()) > 50 and int(above.sum()) > 50
    # (measured: 0.72 x the band above with the grain, 0.53 x with a flat lid)
    assert _grain(out[0], opening) >= 0.6 * _grain(face["base"], above)


def test_a_crease_in_the_lid_band_is_no_stripe_on_the_shut_lid(face) -> None:  # noqa: ANN001
    """The shut lid's grain is sampled from the skin band above the open eye, folded across its
    height; a crease in that band copied down would be a line parallel to the lash line (a lid
    margin: an eye half open). Draw one and compare the shut lid row by row."""
    base = face["base"].clone()
    pts = face["points"]
    eyes0 = make(face)
    img = Image.new("L", (base.shape[-1], base.shape[-2]), 0)
    draw = ImageDraw.Draw(img)
    for eye, up in zip(eyes0.eyes, (regions.EYE_RIGHT_UPPER, regions.EYE_LEFT_UPPER),
                       strict=True):
        line = pts[list(up)[1:-1], :2] - torch.tensor([0.0, 0.6 * eye.opening0])
        draw.line([tuple(map(float, q)) for q in line], fill=1, width=2)
    crease = torch.from_numpy(np.array(img)).bool()
    base[:, crease] *= 0.7
    closed = blink_points(pts, 1.0)
    lat = latents(blink_left=1.0, blink_right=1.0)
    outs = []
    for f in (face, {**face, "base": base}):
        eyes = make(f)
        outs.append(eyes.composite(eyes.clean_base[None].clone(), closed[None], lat)[0])
    shape = base.shape[-2:]
    inside = eye_mask(pts, shape, grow=0) & ~eye_mask(closed, shape, grow=2) & ~crease
    diff = 0.299 * (outs[1] - outs[0])[0] + 0.587 * (outs[1] - outs[0])[1] \
        + 0.114 * (outs[1] - outs[0])[2]
    rows = torch.stack([diff[y][inside[y]].mean() for y in range(shape[0])
                        if int(inside[y].sum()) >= 5])
    assert len(rows) >= 4
    # (measured: 0.030 with the band's lines taken out, 0.061 with them copied down)
    assert float(rows.max() - rows.min()) < 0.045

