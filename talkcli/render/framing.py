"""Output framing: which part of the portrait becomes the video frame, resampled once.

`face`: a square crop centred a little above the face centre, side ~2.4 face heights (hair and
some shoulders), resized to `size`; where the crop leaves the image it is padded by reflection
(edge replication beyond one image size), never black. `portrait`: the whole image, longest side
`size`, both dimensions even. All rig geometry is re-expressed in output pixels.

Pixel convention: pixel (row i, column j) has its centre at (x, y) = (j + 0.5, i + 0.5).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from talkcli.errors import UsageError
from talkcli.face.rig import FaceRig

FRAMINGS = ("face", "portrait")
FACE_SIDE = 2.4          # crop side in face heights (forehead mesh point -> chin)
FACE_LIFT = 0.12         # crop centre above the face centre, in face heights
MIN_SIZE = 16


@dataclass(frozen=True)
class Framed:
    """The portrait and its rig geometry in the output frame (float, output px)."""

    image: np.ndarray        # (H, W, 3) float32 0..1
    person_mask: np.ndarray  # (H, W) float32 0..1
    points: np.ndarray       # (468, 3) px, z in px (same scale as x, y)
    iris_left: np.ndarray    # (5, 2)
    iris_right: np.ndarray
    eye_left: np.ndarray     # (16, 2)
    eye_right: np.ndarray
    interocular: float
    face_height: float
    scale: float             # output px per portrait px
    offset: tuple[float, float]  # portrait px of the output origin (x0, y0)

    @property
    def size(self) -> tuple[int, int]:
        return int(self.image.shape[1]), int(self.image.shape[0])


def _even(n: float) -> int:
    return max(MIN_SIZE, int(n) // 2 * 2)


def crop_box(rig: FaceRig, framing: str) -> tuple[float, float, float, float]:
    """(x0, y0, x1, y1) in portrait px of the region that becomes the frame."""
    if framing == "portrait":
        return 0.0, 0.0, float(rig.width), float(rig.height)
    pts = rig.points[:, :2].astype(np.float64)
    cx = 0.5 * (pts[:, 0].min() + pts[:, 0].max())
    cy = 0.5 * (pts[:, 1].min() + pts[:, 1].max())
    fh = max(float(rig.face_height), 1.0)
    # Never wider than the image's longer side; slide the square inside the image where it
    # fits so padding (mirrored body, smeared edges) is only used when it cannot be avoided.
    side = min(FACE_SIDE * fh, float(max(rig.width, rig.height)))
    cy -= FACE_LIFT * fh
    cx = _slide(cx, side, rig.width)
    cy = _slide(cy, side, rig.height)
    return cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2


def _slide(c: float, side: float, extent: int) -> float:
    """Move a crop centre so [c - side/2, c + side/2] stays inside [0, extent] if it fits,
    else centre the overflow evenly."""
    if side >= extent:
        return extent / 2.0
    return float(np.clip(c, side / 2.0, extent - side / 2.0))


def _pad_for(box: tuple[float, float, float, float], w: int, h: int) -> tuple[int, int, int, int]:
    x0, y0, x1, y1 = box
    left = max(0, int(np.ceil(-x0)) + 2)
    top = max(0, int(np.ceil(-y0)) + 2)
    right = max(0, int(np.ceil(x1 - w)) + 2)
    bottom = max(0, int(np.ceil(y1 - h)) + 2)
    return left, top, right, bottom


def _pad(arr: np.ndarray, pads: tuple[int, int, int, int]) -> np.ndarray:
    """Reflect-pad (edge-replicate what reflection cannot reach)."""
    left, top, right, bottom = pads
    h, w = arr.shape[:2]
    extra = [(0, 0)] * (arr.ndim - 2)
    rt, rb = min(top, h - 1), min(bottom, h - 1)
    rl, rr = min(left, w - 1), min(right, w - 1)
    if rt or rb or rl or rr:
        arr = np.pad(arr, [(rt, rb), (rl, rr), *extra], mode="reflect")
    if top > rt or bottom > rb or left > rl or right > rr:
        arr = np.pad(arr, [(top - rt, bottom - rb), (left - rl, right - rr), *extra], mode="edge")
    return arr


def frame_rig(rig: FaceRig, size: int, framing: str) -> Framed:
    """Resample the portrait (Lanczos) and its geometry into the output frame."""
    if framing not in FRAMINGS:
        raise UsageError(f"--framing must be one of {', '.join(FRAMINGS)} (got {framing!r})")
    if size < MIN_SIZE:
        raise UsageError(f"--size must be at least {MIN_SIZE} (got {size})")
    box = crop_box(rig, framing)
    x0, y0, x1, y1 = box
    if framing == "portrait":
        s = size / max(rig.width, rig.height)
        out_w, out_h = _even(rig.width * s), _even(rig.height * s)
    else:
        out_w = out_h = _even(size)
    sx, sy = out_w / (x1 - x0), out_h / (y1 - y0)
    pads = _pad_for(box, rig.width, rig.height)
    left, top = pads[0], pads[1]
    pbox = (x0 + left, y0 + top, x1 + left, y1 + top)
    img = Image.fromarray(_pad(rig.image, pads))
    img = img.resize((out_w, out_h), Image.Resampling.LANCZOS, box=pbox)
    image = np.asarray(img, dtype=np.float32) / 255.0
    mask_u8 = np.clip(rig.person_mask * 255.0 + 0.5, 0, 255).astype(np.uint8)
    mimg = Image.fromarray(_pad(mask_u8, pads))
    mimg = mimg.resize((out_w, out_h), Image.Resampling.BILINEAR, box=pbox)
    mask = np.asarray(mimg, dtype=np.float32) / 255.0

    s = 0.5 * (sx + sy)

    def xy(p: np.ndarray) -> np.ndarray:
        p = np.asarray(p, dtype=np.float64).copy()
        p[..., 0] = (p[..., 0] - x0) * sx
        p[..., 1] = (p[..., 1] - y0) * sy
        if p.shape[-1] > 2:
            p[..., 2:] *= s
        return p

    return Framed(
        image=image, person_mask=mask, points=xy(rig.points),
        iris_left=xy(rig.iris_left), iris_right=xy(rig.iris_right),
        eye_left=xy(rig.eye_left), eye_right=xy(rig.eye_right),
        interocular=float(rig.interocular) * s, face_height=float(rig.face_height) * s,
        scale=s, offset=(x0, y0),
    )
