"""Face detection: BlazeFace short- and full-range over several crops, merged by weighted NMS."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from talkcli.face.image import Pyramid, Roi, apply_affine
from talkcli.face.models import FACE_DETECTOR_FULL, FACE_DETECTOR_SHORT
from talkcli.face.runner import get_runner

MIN_SCORE = 0.5
NMS_IOU = 0.3
# Keypoint order of both BlazeFace models (subject's right eye is on the image left).
KP_RIGHT_EYE, KP_LEFT_EYE, KP_NOSE, KP_MOUTH, KP_RIGHT_EAR, KP_LEFT_EAR = range(6)


@dataclass(frozen=True)
class Detection:
    box: tuple[float, float, float, float]   # x0, y0, x1, y1 full-resolution px
    keypoints: np.ndarray                      # (6, 2) px
    score: float

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]

    @property
    def area(self) -> float:
        return max(self.width, 0.0) * max(self.height, 0.0)


@functools.cache
def ssd_anchors(input_size: int, strides: tuple[int, ...], interpolated: bool) -> np.ndarray:
    """MediaPipe SsdAnchorsCalculator with fixed_anchor_size: (N, 2) anchor centres in 0..1.

    Consecutive layers with the same stride share one grid; each layer adds one anchor per
    cell, plus one more when an interpolated scale is configured (short-range model)."""
    centres = []
    i = 0
    while i < len(strides):
        j = i
        per_cell = 0
        while j < len(strides) and strides[j] == strides[i]:
            per_cell += 2 if interpolated else 1
            j += 1
        grid = int(np.ceil(input_size / strides[i]))
        ys, xs = np.meshgrid(np.arange(grid), np.arange(grid), indexing="ij")
        cells = np.stack([(xs + 0.5) / grid, (ys + 0.5) / grid], axis=-1).reshape(-1, 2)
        centres.append(np.repeat(cells, per_cell, axis=0))
        i = j
    return np.concatenate(centres).astype(np.float32)


_SHORT = (FACE_DETECTOR_SHORT, (8, 16, 16, 16), True)
_FULL = (FACE_DETECTOR_FULL, (4,), False)


def _run_detector(pyr: Pyramid, roi: Roi, spec: tuple[str, tuple[int, ...], bool]
                  ) -> list[Detection]:
    """One detector on one axis-aligned square crop; results in full-resolution px."""
    name, strides, interpolated = spec
    runner = get_runner(name)
    size = runner.input_size
    patch, affine = pyr.crop(roi, size)
    outputs = runner((patch[None] * 2.0 - 1.0).astype(np.float32))  # BlazeFace wants -1..1
    raw = next(o for o in outputs if o.shape[-1] == 16)[0]
    logits = next(o for o in outputs if o.shape[-1] == 1)[0, :, 0]
    scores = 1.0 / (1.0 + np.exp(-np.clip(logits.astype(np.float64), -80.0, 80.0)))
    keep = np.nonzero(scores >= MIN_SCORE)[0]
    if keep.size == 0:
        return []
    anchors = ssd_anchors(size, strides, interpolated)[keep] * size
    reg = raw[keep]
    centre = anchors + reg[:, 0:2]
    half = reg[:, 2:4] / 2.0
    kps = anchors[:, None, :] + reg[:, 4:16].reshape(-1, 6, 2)
    dets = []
    for n in range(keep.size):
        lo, hi = centre[n] - half[n], centre[n] + half[n]
        # All four corners: a rotated crop's box is rotated in the image.
        corners = apply_affine(affine, np.array([lo, hi, [lo[0], hi[1]], [hi[0], lo[1]]]))
        x0, y0 = corners.min(axis=0)
        x1, y1 = corners.max(axis=0)
        dets.append(Detection((float(x0), float(y0), float(x1), float(y1)),
                              apply_affine(affine, kps[n]), float(scores[keep[n]])))
    return dets


def face_score(pyr: Pyramid, roi: Roi) -> float:
    """Best short-range detector score for a face centred in `roi` (no threshold): used to
    tell an upright face crop from an upside-down one, which the mesh model accepts too."""
    runner = get_runner(FACE_DETECTOR_SHORT)
    size = runner.input_size
    patch, _ = pyr.crop(roi, size)
    outputs = runner((patch[None] * 2.0 - 1.0).astype(np.float32))
    raw = next(o for o in outputs if o.shape[-1] == 16)[0]
    logits = next(o for o in outputs if o.shape[-1] == 1)[0, :, 0].astype(np.float64)
    centres = ssd_anchors(size, *_SHORT[1:]) * size + raw[:, 0:2]
    central = np.all(np.abs(centres - size / 2.0) < size * 0.25, axis=1)
    if not central.any():
        return 0.0
    return float(1.0 / (1.0 + np.exp(-np.clip(logits[central].max(), -80.0, 80.0))))


def _crops(width: int, height: int) -> list[Roi]:
    """Square crops to search: the whole image, the image padded (so a face filling the frame
    shrinks to a size the detector knows), and overlapping tiles when the image is large
    enough that a small face would be only a few detector pixels."""
    side = float(max(width, height))
    cx, cy = width / 2.0, height / 2.0
    rois = [Roi(cx, cy, side), Roi(cx, cy, side * 1.8)]
    if side >= 700:
        tile = max(side / 3.0, 300.0)
        for ty in _tile_centres(height, tile):
            for tx in _tile_centres(width, tile):
                rois.append(Roi(tx, ty, tile))
    return rois


def _plausible(det: Detection, roi: Roi, crop_kind: int,
               spec: tuple[str, tuple[int, ...], bool]) -> bool:
    """Keep boxes in the size range a pass is good at (outside it the boxes are loose and
    false positives common): the short-range model wants faces >= ~12% of its crop, the
    full-range one >= ~4%; the padded pass exists only for faces that fill the frame."""
    rel = max(det.width, det.height) / roi.size
    if crop_kind == 1:
        return rel >= 0.3
    return rel >= (0.12 if spec is _SHORT else 0.04)


def _inside_tile(det: Detection, roi: Roi) -> bool:
    half = roi.size / 2.0 * 0.95
    x0, y0, x1, y1 = det.box
    return (det.height < roi.size * 0.5 and x0 > roi.cx - half and x1 < roi.cx + half
            and y0 > roi.cy - half and y1 < roi.cy + half)


def _tile_centres(extent: int, tile: float) -> list[float]:
    if extent <= tile:
        return [extent / 2.0]
    count = int(np.ceil((extent - tile) / (tile * 0.6))) + 1  # ~40% overlap
    return [float(v) for v in np.linspace(tile / 2.0, extent - tile / 2.0, count)]


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of box a (4,) against boxes b (N, 4)."""
    ix = np.clip(np.minimum(a[2], b[:, 2]) - np.maximum(a[0], b[:, 0]), 0, None)
    iy = np.clip(np.minimum(a[3], b[:, 3]) - np.maximum(a[1], b[:, 1]), 0, None)
    inter = ix * iy
    area_a = (a[2] - a[0]) * (a[3] - a[1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / np.maximum(area_a + area_b - inter, 1e-9)


def weighted_nms(dets: list[Detection], iou: float = NMS_IOU) -> list[Detection]:
    """MediaPipe's weighted NMS: overlapping detections are averaged, weighted by score."""
    if not dets:
        return []
    order = sorted(range(len(dets)), key=lambda k: -dets[k].score)
    boxes = np.array([dets[k].box for k in order])
    kps = np.stack([dets[k].keypoints for k in order])
    scores = np.array([dets[k].score for k in order])
    alive = np.ones(len(order), dtype=bool)
    merged = []
    for i in range(len(order)):
        if not alive[i]:
            continue
        group = alive & (_iou(boxes[i], boxes) > iou)
        group[i] = True
        w = scores[group] / scores[group].sum()
        merged.append(Detection(tuple(float(v) for v in w @ boxes[group]),  # type: ignore[arg-type]
                                np.tensordot(w, kps[group], axes=1), float(scores[i])))
        alive &= ~group
    return merged


def detect_faces(pyr: Pyramid, angle: float = 0.0) -> list[Detection]:
    """All faces, largest box first, in full-resolution pixels. `angle` (rad) rotates the
    whole-image crops, for portraits lying on their side or upside down."""
    found: list[Detection] = []
    for k, roi in enumerate(_crops(pyr.width, pyr.height)):
        if angle:
            if k >= 2:
                break
            roi = Roi(roi.cx, roi.cy, roi.size, angle)
        for spec in (_SHORT, _FULL):
            dets = [d for d in _run_detector(pyr, roi, spec) if _plausible(d, roi, k, spec)]
            # Tiles (k >= 2) are only for small faces; a face cut by a tile edge is a
            # fragment of one the whole-image passes see.
            found += dets if k < 2 else [d for d in dets if _inside_tile(d, roi)]
    faces = weighted_nms(found)
    return sorted(faces, key=lambda d: -d.area)


def search_description(width: int, height: int) -> str:
    """What detect_faces tried, for the 'no face' message."""
    return (f"tried the short- and full-range detectors on {len(_crops(width, height))} "
            f"crops of the {width}x{height} image (whole, padded"
            f"{', tiles' if max(width, height) >= 700 else ''}) and turned by 90, 180 and "
            "270 degrees")
