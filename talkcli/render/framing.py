"""Output framing: which part of the portrait becomes the video frame, resampled once.

`face`: a square crop centred a little above the face centre, side ~2.4 face heights (hair and
some shoulders), resized to `size`. `portrait`: the whole image, longest side `size`, both
dimensions even. All rig geometry is re-expressed in output pixels.

`distance` is the camera's distance (preset `head.distance`, 1 = as in the portrait): the
frame's box is the distance-1 box scaled by `distance` about the face, so everything in the
frame (face, hair, shoulders, background) scales together by 1/distance, resampled from the
portrait at its own resolution.

A box that does not fit in the image: the distance-1 face square is slid, then shrunk to fit a
tight portrait (the largest square inside the image); what a far camera sees beyond the image
is put past the edges that do not cut the head and filled as a soft continuation of the image
edge (fill.extend_edges), never by reflection: a mirror pad puts a second, flipped eye beside
an eye near the edge. `FramingPlan.notes` says when the portrait was too tight and what was
done.

Pixel convention: pixel (row i, column j) has its centre at (x, y) = (j + 0.5, i + 0.5).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from PIL import Image

from talkcli.errors import UsageError
from talkcli.face.regions import CHIN
from talkcli.face.rig import FaceRig
from talkcli.render.fill import extend_edges

FRAMINGS = ("face", "portrait")
FACE_SIDE = 2.4          # crop side in face heights (forehead mesh point -> chin)
FACE_LIFT = 0.12         # crop centre above the face centre, in face heights
EDGE_STRIP = 0.02        # image edge strip (share of the longer side) checked for the head
HEAD_EDGE_MARGIN = 0.15  # how much more head one edge must cut to get no fill beyond it
DISTANCE_RANGE = (0.25, 4.0)
MIN_SIZE = 16
EDGE_PAD = 3             # source px of edge replication for the resampling kernel

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class FramingPlan:
    """Where the frame lies on the portrait, and what had to give for a tight portrait."""

    framing: str
    distance: float
    box: Box                      # portrait px (x0, y0, x1, y1); may reach past the image
    wanted_side: float            # face: the square side the framing wants (portrait px)
    shrunk: bool                  # the face square was made smaller to fit the portrait
    margin: Box                   # portrait px of the box past the left/top/right/bottom edge
    fill_fraction: float          # share of the frame with no portrait pixels (edge-filled)
    max_distance: float           # the farthest distance whose frame is all portrait
    notes: tuple[str, ...] = ()

    @property
    def tight(self) -> bool:
        """The portrait could not give the framing it wanted (shrunk or edge-filled)."""
        return self.shrunk or self.fill_fraction > 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "framing": self.framing,
            "distance": round(self.distance, 4),
            "box": [round(v, 1) for v in self.box],
            "wanted_side_px": round(self.wanted_side, 1),
            "shrunk": self.shrunk,
            "margin_px": [round(v, 1) for v in self.margin],
            "fill_fraction": round(self.fill_fraction, 4),
            "max_distance_without_fill": round(self.max_distance, 3),
            "tight": self.tight,
            "notes": list(self.notes),
        }


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
    plan: FramingPlan | None = None
    content: np.ndarray | None = field(default=None, repr=False)  # (H, W) bool: from the portrait

    @property
    def size(self) -> tuple[int, int]:
        return int(self.image.shape[1]), int(self.image.shape[0])


def _even(n: float) -> int:
    return max(MIN_SIZE, int(n) // 2 * 2)


def _face_anchor(rig: FaceRig) -> tuple[float, float]:
    """The point the face framing centres on (and a camera move zooms about)."""
    pts = rig.points[:, :2].astype(np.float64)
    cx = 0.5 * (pts[:, 0].min() + pts[:, 0].max())
    cy = 0.5 * (pts[:, 1].min() + pts[:, 1].max())
    return cx, cy - FACE_LIFT * _face_height(rig)


def _face_height(rig: FaceRig) -> float:
    return max(float(rig.face_height), 1.0)


def _slide(a: float, length: float, extent: float) -> float:
    """Start of an interval of `length` moved as little as possible so that it lies inside
    [0, extent] when it fits, or covers all of [0, extent] when it does not."""
    return float(np.clip(a, min(0.0, extent - length), max(0.0, extent - length)))


def _slid_box(cx: float, cy: float, w: float, h: float, rig: FaceRig) -> Box:
    x0 = _slide(cx - w / 2, w, rig.width)
    y0 = _slide(cy - h / 2, h, rig.height)
    return x0, y0, x0 + w, y0 + h


def _unit_box(rig: FaceRig, framing: str) -> tuple[Box, float, bool]:
    """The distance-1 box, the face square side the framing wants, and whether it shrank.
    A square that does not fit becomes the largest one that does (a closer framing): never
    any fill at distance 1, where an edge-fill would smear a face the image edge cuts."""
    if framing == "portrait":
        return (0.0, 0.0, float(rig.width), float(rig.height)), float(rig.width), False
    wanted = FACE_SIDE * _face_height(rig)
    side = min(wanted, float(rig.width), float(rig.height))
    ax, ay = _face_anchor(rig)
    return _slid_box(ax, ay, side, side, rig), wanted, side < wanted - 0.5


def _head_at_edges(rig: FaceRig) -> tuple[float, float, float, float]:
    """How much of the head (person mask above the chin: face and hair) the image's left,
    top, right and bottom edges cut through, 0..1."""
    mask = rig.person_mask
    h, w = mask.shape
    chin = int(np.clip(rig.points[CHIN, 1], 0, h))
    head = mask[:chin]
    k = max(2, int(EDGE_STRIP * max(w, h)))
    if head.shape[0] == 0:
        return 0.0, 0.0, 0.0, 0.0
    bottom = float(head[-k:].mean()) if chin >= h - k else 0.0
    return (float(head[:, :k].mean()), float(head[:k].mean()), float(head[:, -k:].mean()),
            bottom)


def _far_box(rig: FaceRig, cx: float, cy: float, w: float, h: float) -> Box:
    """A box larger than the image on some axis: slid to cover the image; on such an axis the
    overflow goes to the side whose image edge does not cut the head, so that edge stays a
    frame edge and the fill extends background or clothes, not a smeared face or hair."""
    x0, y0, x1, y1 = _slid_box(cx, cy, w, h, rig)
    left, top, right, bottom = _head_at_edges(rig)
    if w > rig.width:
        if left > right + HEAD_EDGE_MARGIN:
            x0 = 0.0
        elif right > left + HEAD_EDGE_MARGIN:
            x0 = rig.width - w
    if h > rig.height:
        if top > bottom + HEAD_EDGE_MARGIN:
            y0 = 0.0
        elif bottom > top + HEAD_EDGE_MARGIN:
            y0 = rig.height - h
    return x0, y0, x0 + w, y0 + h


def plan_framing(rig: FaceRig, framing: str = "face", distance: float = 1.0) -> FramingPlan:
    """The frame's box on the portrait for a framing and a camera distance (no resampling)."""
    if framing not in FRAMINGS:
        raise UsageError(f"--framing must be one of {', '.join(FRAMINGS)} (got {framing!r})")
    lo, hi = DISTANCE_RANGE
    if not (math.isfinite(distance) and lo <= distance <= hi):
        raise UsageError(f"head distance must be between {lo:g} and {hi:g} (got {distance})")
    unit, wanted, shrunk = _unit_box(rig, framing)
    ax, ay = _face_anchor(rig)
    # the camera move: the distance-1 box scaled about the face, then slid onto the image
    w, h = distance * (unit[2] - unit[0]), distance * (unit[3] - unit[1])
    cx = ax + distance * (0.5 * (unit[0] + unit[2]) - ax)
    cy = ay + distance * (0.5 * (unit[1] + unit[3]) - ay)
    box = _slid_box(cx, cy, w, h, rig)
    if w > rig.width or h > rig.height:
        box = _far_box(rig, cx, cy, w, h)
    margin = (max(0.0, -box[0]), max(0.0, -box[1]),
              max(0.0, box[2] - rig.width), max(0.0, box[3] - rig.height))
    inside = (min(box[2], rig.width) - max(box[0], 0.0)) * (min(box[3], rig.height)
                                                            - max(box[1], 0.0))
    fill = max(0.0, 1.0 - inside / (w * h))
    if fill < 1e-6:
        fill = 0.0
    max_distance = min(rig.width / (unit[2] - unit[0]), rig.height / (unit[3] - unit[1]))
    plan = FramingPlan(framing=framing, distance=float(distance), box=box,
                       wanted_side=wanted * distance, shrunk=shrunk, margin=margin,
                       fill_fraction=fill, max_distance=max_distance)
    return replace(plan, notes=_notes(plan, rig, unit))


def _notes(plan: FramingPlan, rig: FaceRig, unit: Box) -> tuple[str, ...]:
    """What a user should be told about the framing (shown by inspect and render)."""
    notes = []
    if plan.shrunk:
        side = unit[2] - unit[0]
        notes.append(
            f"portrait too tight for the face framing: the {plan.wanted_side / plan.distance:.0f}"
            f" px square it wants around the face does not fit in the {rig.width}x{rig.height}"
            f" px image; used a closer {side:.0f} px square inside the image, slid off the face"
            " centre where needed (no padding, nothing mirrored)")
    if plan.fill_fraction > 0.0:
        edges = [name for name, m in zip(("left", "top", "right", "bottom"), plan.margin,
                                         strict=True) if m > 0.0]
        at = f" at head.distance {plan.distance:g}" if abs(plan.distance - 1.0) > 1e-9 else ""
        notes.append(
            f"the frame reaches past the portrait's {', '.join(edges)} edge"
            f"{'s' if len(edges) > 1 else ''}{at} ({100 * plan.fill_fraction:.0f}% of the "
            "frame): filled as a soft continuation of the edge, never mirrored"
            + (f"; the portrait has pixels up to head.distance {plan.max_distance:.2f}"
               if plan.max_distance >= 1.0 else ""))
    return tuple(notes)


def crop_box(rig: FaceRig, framing: str, distance: float = 1.0) -> Box:
    """(x0, y0, x1, y1) in portrait px of the region that becomes the frame."""
    return plan_framing(rig, framing, distance).box


def _resample(arr: np.ndarray, box: Box, out_w: int, out_h: int,
              resample: Image.Resampling) -> np.ndarray:
    """The box of `arr` (may reach past it; edge-replicated by a few px for the kernel, the
    rest is overwritten by the margin fill) resized to (out_h, out_w)."""
    h, w = arr.shape[:2]
    x0, y0, x1, y1 = box
    # Only the part of the box on the image is resampled from the image; the pad just needs
    # to reach the box so PIL accepts it, so clip the box to a few px past the image.
    ox0, oy0 = max(x0, -EDGE_PAD), max(y0, -EDGE_PAD)
    ox1, oy1 = min(x1, w + EDGE_PAD), min(y1, h + EDGE_PAD)
    sx, sy = out_w / (x1 - x0), out_h / (y1 - y0)
    # output pixel columns/rows the clipped box covers
    c0, r0 = int(math.floor((ox0 - x0) * sx)), int(math.floor((oy0 - y0) * sy))
    c1, r1 = int(math.ceil((ox1 - x0) * sx)), int(math.ceil((oy1 - y0) * sy))
    c0, r0, c1, r1 = max(c0, 0), max(r0, 0), min(c1, out_w), min(r1, out_h)
    out = np.zeros((out_h, out_w) + arr.shape[2:], dtype=arr.dtype)
    if c1 <= c0 or r1 <= r0:
        return out
    sub = (x0 + c0 / sx, y0 + r0 / sy, x0 + c1 / sx, y0 + r1 / sy)
    pad_l = max(0, int(math.ceil(-sub[0])) + 1)
    pad_t = max(0, int(math.ceil(-sub[1])) + 1)
    pad_r = max(0, int(math.ceil(sub[2] - w)) + 1)
    pad_b = max(0, int(math.ceil(sub[3] - h)) + 1)
    extra = [(0, 0)] * (arr.ndim - 2)
    padded = np.pad(arr, [(pad_t, pad_b), (pad_l, pad_r), *extra], mode="edge")
    pbox = (sub[0] + pad_l, sub[1] + pad_t, sub[2] + pad_l, sub[3] + pad_t)
    img = Image.fromarray(padded).resize((c1 - c0, r1 - r0), resample, box=pbox)
    out[r0:r1, c0:c1] = np.asarray(img)
    return out


def _content_rect(box: Box, out_w: int, out_h: int, w: int, h: int
                  ) -> tuple[int, int, int, int]:
    """(c0, r0, c1, r1): the output columns c0..c1-1 and rows r0..r1-1 whose pixel centres
    fall on the portrait."""
    x0, y0, x1, y1 = box
    sx, sy = out_w / (x1 - x0), out_h / (y1 - y0)
    c0 = int(np.clip(math.ceil(-x0 * sx - 0.5), 0, out_w))
    r0 = int(np.clip(math.ceil(-y0 * sy - 0.5), 0, out_h))
    c1 = int(np.clip(math.floor((w - x0) * sx - 0.5) + 1, c0, out_w))
    r1 = int(np.clip(math.floor((h - y0) * sy - 0.5) + 1, r0, out_h))
    return c0, r0, c1, r1


def _reduced(rig: FaceRig, box: Box, out_w: int) -> tuple[np.ndarray, np.ndarray, float]:
    """The portrait and mask, pre-reduced by an integer factor when the frame shrinks it a lot
    (bounded memory and time for big photos), with the factor."""
    k = int((box[2] - box[0]) / max(out_w, 1) / 2.0)
    image, mask = rig.image, np.clip(rig.person_mask * 255.0 + 0.5, 0, 255).astype(np.uint8)
    if k < 2:
        return image, mask, 1.0
    img = Image.fromarray(image).reduce(k)
    m = Image.fromarray(mask).reduce(k)
    # reduce() keeps partial blocks: the reduced image spans ceil(W / k) px of k source px
    return np.asarray(img), np.asarray(m), float(k)


def frame_rig(rig: FaceRig, size: int, framing: str, distance: float = 1.0) -> Framed:
    """Resample the portrait (Lanczos) and its geometry into the output frame."""
    if size < MIN_SIZE:
        raise UsageError(f"--size must be at least {MIN_SIZE} (got {size})")
    plan = plan_framing(rig, framing, distance)
    box = plan.box
    x0, y0, x1, y1 = box
    if framing == "portrait":
        s = size / max(x1 - x0, y1 - y0)
        out_w, out_h = _even((x1 - x0) * s), _even((y1 - y0) * s)
    else:
        out_w = out_h = _even(size)
    sx, sy = out_w / (x1 - x0), out_h / (y1 - y0)
    image_src, mask_src, k = _reduced(rig, box, out_w)
    kbox = (x0 / k, y0 / k, x1 / k, y1 / k)
    image = _resample(image_src, kbox, out_w, out_h, Image.Resampling.LANCZOS)
    mask = _resample(mask_src, kbox, out_w, out_h, Image.Resampling.BILINEAR)
    rect = _content_rect(box, out_w, out_h, rig.width, rig.height)
    image_f = extend_edges(image.astype(np.float32) / 255.0, rect)
    mask_f = extend_edges(mask.astype(np.float32) / 255.0, rect, grain=False)
    content = np.zeros((out_h, out_w), dtype=bool)
    content[rect[1]:rect[3], rect[0]:rect[2]] = True

    s = 0.5 * (sx + sy)

    def xy(p: np.ndarray) -> np.ndarray:
        p = np.asarray(p, dtype=np.float64).copy()
        p[..., 0] = (p[..., 0] - x0) * sx
        p[..., 1] = (p[..., 1] - y0) * sy
        if p.shape[-1] > 2:
            p[..., 2:] *= s
        return p

    return Framed(
        image=np.clip(image_f, 0.0, 1.0), person_mask=np.clip(mask_f, 0.0, 1.0),
        points=xy(rig.points), iris_left=xy(rig.iris_left), iris_right=xy(rig.iris_right),
        eye_left=xy(rig.eye_left), eye_right=xy(rig.eye_right),
        interocular=float(rig.interocular) * s, face_height=float(rig.face_height) * s,
        scale=s, offset=(x0, y0), plan=plan, content=content,
    )
