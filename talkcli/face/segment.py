"""Person mask (head, hair, neck vs background) from MediaPipe selfie segmentation."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from talkcli.face import regions
from talkcli.face.image import Pyramid, Roi
from talkcli.face.models import SELFIE_SEGMENTATION
from talkcli.face.runner import get_runner
from talkcli.signal1d import gaussian_filter

# The crop the model sees, in face heights (mesh 10 -> 152): roomy enough for hair above and
# shoulders below, the framing a selfie model was trained on.
CROP_FACE_HEIGHTS = 3.2
CROP_DROP = 0.35   # crop centre below the face centre, in face heights


def segmentation_roi(points: np.ndarray, width: int, height: int) -> Roi:
    """Axis-aligned square around the head, kept inside the image where it fits: the model
    reads padding as foreground, so crops stay on real pixels (edges replicated otherwise)."""
    top, chin = points[regions.FOREHEAD, :2], points[regions.CHIN, :2]
    face_h = float(np.linalg.norm(chin - top))
    centre = (top + chin) / 2.0
    centre[1] += CROP_DROP * face_h
    side = min(face_h * CROP_FACE_HEIGHTS, float(max(width, height)))
    cx = _clamp(float(centre[0]), side, width)
    cy = _clamp(float(centre[1]), side, height)
    return Roi(cx, cy, side)


def _clamp(centre: float, side: float, extent: int) -> float:
    if side >= extent:
        return extent / 2.0
    return min(max(centre, side / 2.0), extent - side / 2.0)


def person_mask(pyr: Pyramid, points: np.ndarray) -> np.ndarray:
    """(H, W) float32 0..1 at full resolution; fades to 0 at crop edges inside the image."""
    runner = get_runner(SELFIE_SEGMENTATION)
    size = runner.input_size
    roi = segmentation_roi(points, pyr.width, pyr.height)
    patch, affine = pyr.crop(roi, size, replicate=True)
    prob = runner(patch[None])[0].reshape(size, size).astype(np.float32)
    prob = gaussian_filter(prob, 0.8) * _edge_taper(roi, pyr.width, pyr.height, size)
    # Pillow needs image -> patch coefficients: invert the patch -> image affine.
    inv = np.linalg.inv(np.vstack([affine, [0.0, 0.0, 1.0]]))[:2]
    mask_img = Image.fromarray(prob, mode="F").transform(
        (pyr.width, pyr.height), Image.Transform.AFFINE, data=tuple(inv.ravel()),
        resample=Image.Resampling.BILINEAR, fillcolor=0.0)
    mask = np.asarray(mask_img, dtype=np.float32)
    # Paintings and drawings can fool a selfie model: the face itself is always the person.
    mask = np.maximum(mask, _face_oval_mask(points, pyr.width, pyr.height))
    return np.clip(mask, 0.0, 1.0)


def _edge_taper(roi: Roi, width: int, height: int, size: int) -> np.ndarray:
    """(size, size) weights: 1 inside, falling to 0 over the outer 8% on each crop side that
    lies inside the image (a body cut off by the crop should not end in a hard edge)."""
    ramp = np.clip((np.arange(size) + 0.5) / (0.08 * size), 0.0, 1.0).astype(np.float32)
    ones = np.ones(size, dtype=np.float32)
    half = roi.size / 2.0
    left = ramp if roi.cx - half > 1 else ones
    right = ramp[::-1] if roi.cx + half < width - 1 else ones
    top = ramp if roi.cy - half > 1 else ones
    bottom = ramp[::-1] if roi.cy + half < height - 1 else ones
    return np.outer(top * bottom, left * right)


def _face_oval_mask(points: np.ndarray, width: int, height: int) -> np.ndarray:
    """The mesh's face oval filled with soft edges; drawn only in its own box (a 36 MP
    portrait would otherwise spend a second blurring empty pixels)."""
    face_h = float(np.linalg.norm(points[regions.CHIN, :2] - points[regions.FOREHEAD, :2]))
    radius = max(face_h * 0.01, 0.5)
    oval = points[list(regions.FACE_OVAL), :2].astype(np.float64)
    pad = int(np.ceil(radius * 3)) + 2
    x0 = max(int(np.floor(oval[:, 0].min())) - pad, 0)
    y0 = max(int(np.floor(oval[:, 1].min())) - pad, 0)
    x1 = min(int(np.ceil(oval[:, 0].max())) + pad, width)
    y1 = min(int(np.ceil(oval[:, 1].max())) + pad, height)
    mask = np.zeros((height, width), dtype=np.float32)
    if x1 <= x0 or y1 <= y0:
        return mask
    img = Image.new("L", (x1 - x0, y1 - y0), 0)
    ImageDraw.Draw(img).polygon([(float(x) - x0, float(y) - y0) for x, y in oval], fill=255)
    img = img.filter(ImageFilter.GaussianBlur(radius))
    mask[y0:y1, x0:x1] = np.asarray(img, dtype=np.float32) * (1.0 / 255.0)
    return mask
