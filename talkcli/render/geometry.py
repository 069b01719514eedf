"""Control points and their deformation from the motion latents.

Control points (all in output px, z in px toward the camera):
- the 468 mesh points of the face;
- rings around the face oval (hair, ears, top of head, neck) with depths on a head ellipsoid;
- fixed points on the frame border.

Expressions are built in the face's canonical frame (cm; x right, y up, z toward the camera,
taken from the rig's head pose) so every constant reads as a physical distance, then mapped to
output px. Most are linear in their channel (a displacement basis); the jaw is a rotation about
a pivot near the ear. The head moves every point rigidly about a pivot behind the face, weighted
by `head_weight` (1 on the head, falling off down the neck, 0 on the body and the border).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from talkcli.face import regions
from talkcli.face.pose import canonical_face, head_rotation
from talkcli.face.rig import HeadPose
from talkcli.motion.latent import index
from talkcli.render.triangulate import delaunay

FLIP_Y = np.diag([1.0, -1.0, 1.0])
MESH_N = 468

# Linear expression channels, in the order of Geometry.basis.
BASIS_CHANNELS = ("mouth_round", "mouth_wide", "lips_press", "blink_left", "blink_right",
                  "brow_raise", "smile", "brow_frown", "eye_squint", "brow_inner", "mouth_frown",
                  "lip_tuck")

JAW_MAX = 0.46            # rad of jaw rotation at jaw_open = 1
JAW_LOWER_LIP_DROP = 0.15  # cm extra lower-lip drop at jaw_open = 1 (more folds the chin skin)
JAW_UPPER_LIP_LIFT = 0.12  # cm
JAW_NECK_FALLOFF = (-0.6, 1.2)  # cm below the chin where the jaw's pull on the rings ends
# Inner-lip gap (mesh 13-14, x interocular) at jaw_open = 1: an "aa" (real speech: ~0.35-0.45).
# What JAW_MAX gives depends on the portrait's pose and proportions; the jaw then also slides
# straight down (canonical -y, weighted like the rotation) by what is missing, within
# JAW_SLIDE_RANGE cm. An already open portrait opens by at least JAW_MIN_EXTRA more.
# (0.42 until the opened lips lost the closed mouth's dark contact line: the landmarker had
# read that outline as opening, and the re-measured share of open frames fell 0.385 -> 0.28;
# 0.5 gave 0.355, bench/mouth.py; 0.52 since the lips' corners open as a narrower lens,
# which the landmarker reads ~10% less open for the same centre gap)
JAW_TARGET_GAP = 0.52
JAW_MIN_EXTRA = 0.1
JAW_SLIDE_RANGE = (-0.3, 1.6)
HEAD_PIVOT = (0.0, -2.0, -4.0)     # canonical cm: behind the face, top of the neck
HEAD_CENTRE = (0.0, 1.5, -3.0)     # canonical cm: the head's silhouette plane (ear depth)
RING_SCALES = (1.2, 1.45, 1.8, 2.3, 3.0)
BORDER_STEPS = 8
# A 2.5-D mesh turned by a rigid rotation reads as a smaller turn than a real head does (no
# far-cheek occlusion, no side of the head revealed): the project's landmarker measured 7° for
# 10° of yaw and 8-9° for 10° of pitch on the sample. These gains make the rendered head read
# as the commanded angle (roll is in the image plane and needs none).
YAW_GAIN = 1.4
PITCH_GAIN = 1.12
DEPTH_SMOOTH_ITERS = 4
MAX_DEPTH_SLOPE = 1.6      # cot of the largest turn (~32°) that folds no triangle
BLINK_MEET = 0.12         # where the lids meet, fraction of the opening above the lower lid
BLINK_OVERLAP = 0.14      # the upper lid comes this far past the meeting line
LOWER_LID_PUSH = 0.11     # lower lid rise (x opening) of a lower_only _blink at 1
BLINK_SMOOTH_ITERS = 6  # relaxation of the lid skin's displacement (see _relax)
BLINK_SKIN = (0.7, 2.0)   # cm above the upper lid where its skin stops coming down with it
WIDE_CORNER = 0.9         # cm each lip corner moves out at mouth_wide = 1
ROUND_CORNER = 1.0        # cm each lip corner moves in at mouth_round = 1
TUCK_LIFT = 0.14          # cm the upper lip rises on f/v (the incisors' edge shows)
TUCK_UNDER = 0.08         # cm below the neutral upper-lip line the tucked lower lip stops
TUCK_ROLL = 0.1           # cm the lower lip rolls up past where it rests (under the incisors)
PRESS_OVERLAP = 0.0       # cm each lip goes past the line (> 0 folds the lips: zig-zag)
# A p/b/m press under a smile takes back this share of the smile: pressed lips pull the corners
# in (AU24 against AU12), and a deep smile curve with the lips closed reads as a parted mouth
PRESS_SMILE = 0.6
RING_DEPTH_BLEND = (0.3, 0.6, 0.85, 1.0, 1.0)
# A portrait whose mouth is open (inner-lip gap 13-14 above REST_OPEN_GAP interocular: a smile
# with teeth, mid-word) rests with the lips closed: the jaw and lower lip rise REST_LOWER_SHARE
# of the gap, the upper lip comes down the rest. jaw_open then re-opens it: the portrait's own
# opening is reached at jaw_open = its gap / JAW_TARGET_GAP (within REST_JAW_RANGE), and the
# jaw rotates further only beyond that.
REST_OPEN_GAP = 0.05
REST_LOWER_SHARE = 0.7
REST_JAW_RANGE = (0.15, 0.8)
# share of the corners' jaw drop the upper lip takes at its ends (0 from UPPER_ARCH_FROM x
# half the mouth width inward): an open mouth's upper lip is an arch down to its corners
UPPER_ARCH = 0.3
UPPER_ARCH_FROM = 0.6
# the lower lip's full drop out to this x half the mouth width, tapering to the corners' share
LOWER_LENS_FROM = 0.3
# Emotion channels, cm at 1 (calibrated so intensity-1 emotions re-measure near one actor's
# acted ones, bench/emotion_offsets.py: the landmarker reads about half of a warped motion)
SMILE_LIFT_CM = 1.0       # mouth corners up
SMILE_CHEEK_CM = 0.2     # cheeks up
# mouth_frown (sad, AU15 + a little AU17), in interocular units (the unit the actor's offsets
# are measured in; 0.9 / 0.3 / 0.2 cm at the photos' ~6 cm): the corners go down and a little
# out (the actor's mouth is 11% wider in his sad clip), the skin below a corner comes down
# with it further than the skin above (the lower lip follows the corners into one arch instead
# of bulging between them), and the middle of both lips rises a little (the chin's push).
# Anime's sad corners share of the actor 0.61 -> 0.79 (drop alone in io units: 0.59)
FROWN_DROP_IO = 0.15
FROWN_OUT_IO = 0.05
FROWN_LIFT_IO = 0.033
FROWN_REACH_BELOW = 1.6   # cm: vertical sigma of the corners' pull below them (1.0 above)
BROW_RAISE_CM = 1.0       # whole brows up
BROW_LOWER_CM = 0.8      # whole brows down (frown)
BROW_PINCH_CM = 0.45      # inner brow ends together (frown)
BROW_INNER_CM = 0.7       # inner brow ends up (sad)
LEAN_FALLOFF = (-0.15, 2.0)   # face heights below the chin where a lean's pull fades out


def _smoothstep(e0: float, e1: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - e0) / (e1 - e0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


@dataclass
class Geometry:
    """Neutral control points plus everything needed to deform them (numpy, at init)."""

    points: np.ndarray       # (N, 3) output px
    head_weight: np.ndarray  # (N,)
    jaw_weight: np.ndarray   # (N,)
    basis: np.ndarray        # (K, N, 3) output px per unit of BASIS_CHANNELS[k]
    jaw_pivot: np.ndarray    # (3,) output px
    jaw_axis_a: np.ndarray   # (3, 3) canonical cm -> output px (linear part)
    head_pivot: np.ndarray   # (3,) output px
    rot0: np.ndarray         # (3, 3) the portrait's R_head (canonical frame)
    jaw_slide: float = 0.0   # cm the jaw slides down at jaw_open = 1 (see _jaw_slide)
    rest_close: np.ndarray | None = None  # (N, 3) output px closing an open portrait's mouth
    rest_jaw: float = 0.0    # jaw_open at which an open portrait shows its own opening
    lean_weight: np.ndarray | None = None  # (N,) how far head_scale (leaning) carries a point

    @property
    def count(self) -> int:
        return int(self.points.shape[0])


class _Frame:
    """Canonical cm <-> output px for one portrait."""

    def __init__(self, pose: HeadPose, scale: float, mesh: np.ndarray) -> None:
        self.a = scale * pose.scale * np.asarray(pose.rotation, dtype=np.float64)
        canon = canonical_face()
        self.t = (mesh - canon @ self.a.T).mean(axis=0)
        self.a_inv = np.linalg.inv(self.a)

    def to_canon(self, p: np.ndarray) -> np.ndarray:
        return (p - self.t) @ self.a_inv.T

    def to_out(self, c: np.ndarray) -> np.ndarray:
        return c @ self.a.T + self.t

    def vec_out(self, d: np.ndarray) -> np.ndarray:
        return d @ self.a.T


def _ring_points(mesh: np.ndarray, frame: _Frame, width: int, height: int,
                 face_height: float) -> tuple[np.ndarray, np.ndarray]:
    """Rings around the face oval: (M, 3) output px and ring number (M,)."""
    oval = mesh[list(regions.FACE_OVAL), :2]
    centre = oval.mean(axis=0)
    # Lift the ring centre a little: hair extends far above the forehead, not below the chin.
    pts, ring, src_z = [], [], []
    margin = 0.02 * max(width, height)
    for k, s in enumerate(RING_SCALES):
        q = centre + s * (oval - centre)
        up = np.clip((centre[1] - oval[:, 1]) / max(face_height, 1.0), 0.0, None)
        q[:, 1] -= (s - 1.0) * 0.35 * up * face_height  # taller above the forehead
        inside = ((q[:, 0] > margin) & (q[:, 0] < width - margin)
                  & (q[:, 1] > margin) & (q[:, 1] < height - margin))
        q = q[inside]
        step = max(1, int(round(len(q) / max(12, len(q) // (1 + k // 2)))))
        q = q[::step]
        pts.append(q)
        src_z.append(mesh[list(regions.FACE_OVAL), 2][inside][::step])
        ring.append(np.full(len(q), k))
    xy = np.concatenate(pts)
    rings = np.concatenate(ring)
    # Outer rings: the depth of the head's silhouette (ear plane), one value, so the field
    # stays smooth (a depth step between neighbours folds the map under yaw).
    z_ell = np.full(len(xy), frame.to_out(np.array(HEAD_CENTRE))[2])
    # Near the face the ring keeps the depth of the oval point it grew from (no depth step
    # between the cheek edge and the hair beside it: a step folds the map under yaw).
    blend = np.array(RING_DEPTH_BLEND)[rings]
    z = (1.0 - blend) * np.concatenate(src_z) + blend * z_ell
    return np.column_stack([xy, z]), rings


def _smooth_depth(mesh: np.ndarray, iters: int = DEPTH_SMOOTH_ITERS) -> np.ndarray:
    """Mesh depth with its steepest slopes (the cheeks' silhouette) eased by neighbour
    averaging: a rigid yaw of a surface seen nearly edge-on folds the 2-D map."""
    simplices = delaunay(mesh)
    edges = np.concatenate([simplices[:, [0, 1]], simplices[:, [1, 2]], simplices[:, [2, 0]]])
    edges = np.concatenate([edges, edges[:, ::-1]])
    deg = np.bincount(edges[:, 0], minlength=len(mesh)).astype(np.float64)
    z = mesh[:, 2].copy()
    for _ in range(iters):
        avg = np.bincount(edges[:, 0], weights=z[edges[:, 1]], minlength=len(mesh))
        z = 0.5 * z + 0.5 * avg / np.maximum(deg, 1.0)
    # only towards the face outline: the inner face keeps its relief (and its parallax)
    oval = mesh[list(regions.FACE_OVAL), :2]
    centre = oval.mean(axis=0)
    ang = np.arctan2(*(mesh[:, :2] - centre).T[::-1])
    ang_o = np.arctan2(*(oval - centre).T[::-1])
    order = np.argsort(ang_o)
    rad_o = np.interp(ang, ang_o[order], np.hypot(*(oval - centre).T)[order], period=2 * np.pi)
    r = np.hypot(*(mesh[:, :2] - centre).T) / np.maximum(rad_o, 1e-6)
    w = _smoothstep(0.55, 0.9, r)
    return mesh[:, 2] + w * (z - mesh[:, 2])


def _limit_depth_slope(points: np.ndarray, max_slope: float, iters: int = 60) -> np.ndarray:
    """Depths whose slope over the 2-D triangulation of the control points stays below
    `max_slope` (px of depth per px across the image). Under a turn by theta a triangle folds
    over (the map stops being injective: smears and streaks) where the depth falls away faster
    than cot(theta): the far cheek's silhouette, hair over the cheek. Triangles steeper than
    the limit are flattened toward their mean depth, a little per pass, until none is."""
    tri = delaunay(points)
    xy = points[tri, :2]                                   # (T, 3, 2)
    e1, e2 = xy[:, 1] - xy[:, 0], xy[:, 2] - xy[:, 0]
    det = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]
    good = np.abs(det) > 1e-6
    tri, e1, e2, det = tri[good], e1[good], e2[good], det[good]
    z = points[:, 2].astype(np.float64).copy()
    for _ in range(iters):
        zt = z[tri]
        dz1, dz2 = zt[:, 1] - zt[:, 0], zt[:, 2] - zt[:, 0]
        gx = (dz1 * e2[:, 1] - dz2 * e1[:, 1]) / det
        gy = (dz2 * e1[:, 0] - dz1 * e2[:, 0]) / det
        g = np.hypot(gx, gy)
        over = g > max_slope
        if not over.any():
            break
        shrink = np.where(over, max_slope / np.maximum(g, 1e-9), 1.0)
        mean = zt.mean(axis=1, keepdims=True)
        target = mean + (zt - mean) * shrink[:, None]
        delta = np.where(over[:, None], target - zt, 0.0)
        acc = np.bincount(tri.ravel(), weights=delta.ravel(), minlength=len(z))
        hits = np.bincount(tri.ravel(), weights=np.repeat(over, 3).astype(np.float64),
                           minlength=len(z))
        z += acc / np.maximum(hits, 1.0)
    return z


def _border_points(width: int, height: int) -> np.ndarray:
    xs = np.linspace(0.0, width, BORDER_STEPS + 1)
    ys = np.linspace(0.0, height, BORDER_STEPS + 1)
    pts = [(x, 0.0) for x in xs] + [(x, float(height)) for x in xs]
    pts += [(0.0, y) for y in ys[1:-1]] + [(float(width), y) for y in ys[1:-1]]
    return np.column_stack([np.array(pts), np.zeros(len(pts))])


def _dedupe(points: np.ndarray, keep_first: int, min_dist: float) -> np.ndarray:
    """Drop points (after the first `keep_first`) closer than min_dist to an earlier one."""
    keep = list(range(keep_first))
    kept = points[:keep_first, :2].tolist()
    arr = np.array(kept)
    for i in range(keep_first, len(points)):
        p = points[i, :2]
        if np.min(np.hypot(*(arr - p).T)) >= min_dist:
            keep.append(i)
            arr = np.vstack([arr, p])
    return np.array(keep)


def build_geometry(mesh: np.ndarray, pose: HeadPose, scale: float, width: int, height: int,
                   interocular: float, face_height: float) -> Geometry:
    """Control points and deformation bases for one framed portrait."""
    mesh = np.asarray(mesh, dtype=np.float64)
    frame = _Frame(pose, scale, mesh)
    mesh = mesh.copy()
    mesh[:, 2] = _smooth_depth(mesh)
    ring, ring_no = _ring_points(mesh, frame, width, height, face_height)
    border = _border_points(width, height)
    allp = np.vstack([mesh, ring, border])
    kind = np.concatenate([np.zeros(MESH_N), 1 + ring_no, np.full(len(border), -1)])
    keep = _dedupe(allp, MESH_N, max(2.0, 0.04 * interocular))
    allp, kind = allp[keep], kind[keep]
    allp[:, 2] = _limit_depth_slope(allp, MAX_DEPTH_SLOPE)
    n = len(allp)
    canon = frame.to_canon(allp)
    mc = canon[:MESH_N]

    # --- head weight: 1 on the head; falls off down the neck; 0 on the border --------------
    chin_y = mc[regions.CHIN, 1]
    head_w = np.ones(n)
    below = (chin_y - canon[:, 1]) / 10.0   # face heights (≈ 10 cm canonical) below the chin
    neck = 1.0 - _smoothstep(-0.15, 0.55, below)
    head_w[MESH_N:] = neck[MESH_N:]
    # ... and near the frame border (rings must not slide past the fixed border points)
    edge = np.minimum.reduce([allp[:, 0], width - allp[:, 0], allp[:, 1], height - allp[:, 1]])
    span = 0.15 * max(width, height)
    head_w[MESH_N:] *= _smoothstep(0.02 * span, span, edge[MESH_N:])
    head_w[kind == -1] = 0.0
    lean_w = _lean_weight(below, edge, span, kind)

    # --- jaw ----------------------------------------------------------------------------
    jaw_w = _jaw_weight(mc, canon)
    jaw_w[kind >= 3] = 0.0
    jaw_w[kind == 2] *= 0.5
    jaw_w[kind == -1] = 0.0
    # below the chin the jaw's pull ends within a short distance: the neck skin takes up the
    # motion and the collar and the clothes stay where they are
    jaw_w[MESH_N:] *= 1.0 - _smoothstep(JAW_NECK_FALLOFF[0], JAW_NECK_FALLOFF[1],
                                        below[MESH_N:] * 10.0)
    ears = mc[[234, 454]].mean(axis=0)
    jaw_pivot_c = np.array([0.0, ears[1] - 0.6, ears[2] + 1.0])

    gap0 = float(np.linalg.norm(mesh[14, :2] - mesh[13, :2])) / max(float(interocular), 1e-6)
    rest = _rest_close(mc, canon, jaw_w) if gap0 > REST_OPEN_GAP else None
    basis = np.zeros((len(BASIS_CHANNELS), n, 3))
    for k, name in enumerate(BASIS_CHANNELS):
        # an open portrait presses (and tucks) its lips from the closed rest pose (not from its
        # opening)
        ref = mc if rest is None or name not in ("lips_press", "lip_tuck") else mc + rest[:MESH_N]
        basis[k, :MESH_N] = _expression(name, ref)
    # the lips: upper lip lift / lower lip drop with the jaw are added in deform()
    basis_out = basis @ frame.a.T
    head_pivot = frame.to_out(np.array(HEAD_PIVOT))
    jaw_pivot = frame.to_out(jaw_pivot_c)
    rot0 = head_rotation(pose.yaw, pose.pitch, pose.roll)
    slide = _jaw_slide(allp, jaw_w, jaw_pivot, frame.a, interocular)
    rest_close, rest_jaw = None, 0.0
    if rest is not None:
        rest_close = rest @ frame.a.T
        rest_jaw = float(np.clip(gap0 / JAW_TARGET_GAP, *REST_JAW_RANGE))
    return Geometry(points=allp, head_weight=head_w, jaw_weight=jaw_w, basis=basis_out,
                    jaw_pivot=jaw_pivot, jaw_axis_a=frame.a, head_pivot=head_pivot, rot0=rot0,
                    jaw_slide=slide, rest_close=rest_close, rest_jaw=rest_jaw,
                    lean_weight=lean_w)


def _rest_close(mc: np.ndarray, canon: np.ndarray, jaw_w: np.ndarray) -> np.ndarray:
    """(N, 3) canonical-cm displacement closing the portrait's open mouth: the jaw (and what it
    carries) rises REST_LOWER_SHARE of the 13-14 gap, the upper lip comes down the rest, and
    the inner contours meet on one line (no teeth between them)."""
    up, lo = list(regions.LIPS_INNER_UPPER), list(regions.LIPS_INNER_LOWER)
    gap = max(float(mc[13, 1] - mc[14, 1]), 0.0)
    d = np.zeros_like(canon)
    d[:, 1] = jaw_w * REST_LOWER_SHARE * gap
    # the upper lip: its inner contour meets the lower one; the outer contour and the skin
    # above follow with falloff
    meet = mc[up] + (1.0 - REST_LOWER_SHARE) * (mc[lo] - mc[up])
    dm = np.zeros_like(mc)
    dm[up] = meet - mc[up]
    dm[lo] = meet - mc[lo]
    sets = _lip_sets()
    dm[sets["ou"], 1] = 0.8 * np.interp(mc[sets["ou"], 0], mc[up, 0][np.argsort(mc[up, 0])],
                                        dm[up, 1][np.argsort(mc[up, 0])])
    o_lo = np.argsort(mc[lo, 0])
    dm[sets["ol"], 1] = np.interp(mc[sets["ol"], 0], mc[lo, 0][o_lo], dm[lo, 1][o_lo])
    dm = _spread_lips(dm, mc)
    lips = _lips_mask(mc)
    mesh_d = d[:MESH_N]
    inside = lips > 1e-3
    mesh_d[inside] = (1.0 - lips[inside, None]) * mesh_d[inside] + lips[inside, None] * dm[inside]
    mesh_d[up + lo] = dm[up + lo]
    d[:MESH_N] = mesh_d
    return d


def _lean_weight(below: np.ndarray, edge: np.ndarray, span: float, kind: np.ndarray
                 ) -> np.ndarray:
    """How far the frame-to-frame head_scale (leaning toward and away from the camera)
    carries each control point: 1 on the head, fading over LEAN_FALLOFF face heights below
    the chin, so the neck and shoulders come along (a lean moves the upper body; scaling
    the head alone over a still neck reads as a seam), 0 at the frame border."""
    w = 1.0 - _smoothstep(LEAN_FALLOFF[0], LEAN_FALLOFF[1], below)
    w *= _smoothstep(0.02 * span, span, edge)
    w[:MESH_N] = 1.0
    w[kind == -1] = 0.0
    return w


def _jaw_slide(points: np.ndarray, jaw_w: np.ndarray, pivot: np.ndarray, a: np.ndarray,
               interocular: float) -> float:
    """cm the jaw slides down at jaw_open = 1 so the inner-lip gap (mesh 13-14) reaches
    JAW_TARGET_GAP interocular (the same jaw motion as Deformer.deform; linear in the slide)."""
    t = JAW_MAX
    rx = np.array([[1.0, 0.0, 0.0], [0.0, np.cos(t), -np.sin(t)], [0.0, np.sin(t), np.cos(t)]])
    lips = np.array([[0.0, JAW_UPPER_LIP_LIFT, 0.0], [0.0, -JAW_LOWER_LIP_DROP, 0.0]]) @ a.T
    p = points[[13, 14]]
    w = jaw_w[[13, 14]]
    rel = p - pivot
    q = p + w[:, None] * (rel @ (a @ rx @ np.linalg.inv(a)).T - rel) + lips
    io = max(float(interocular), 1e-6)
    gap0 = float(p[1, 1] - p[0, 1]) / io
    gap1 = float(q[1, 1] - q[0, 1]) / io
    per_cm = float((np.array([0.0, -1.0, 0.0]) @ a.T)[1]) * float(w[1] - w[0]) / io
    if per_cm <= 1e-6:
        return 0.0
    target = max(JAW_TARGET_GAP, gap0 + JAW_MIN_EXTRA)
    return float(np.clip((target - gap1) / per_cm, *JAW_SLIDE_RANGE))


def _mouth_line(mc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    up = mc[list(regions.LIPS_INNER_UPPER)]
    lo = mc[list(regions.LIPS_INNER_LOWER)]
    xs = 0.5 * (up[:, 0] + lo[:, 0])
    ys = 0.5 * (up[:, 1] + lo[:, 1])
    order = np.argsort(xs)
    return xs[order], ys[order]


def _jaw_weight(mc: np.ndarray, canon: np.ndarray) -> np.ndarray:
    """1 on what the jaw carries (lower lip, chin, jaw), 0 above the mouth line."""
    xs, ys = _mouth_line(mc)
    cx = 0.5 * (mc[61, 0] + mc[291, 0])
    half = max(0.5 * abs(mc[291, 0] - mc[61, 0]), 0.5)
    line = np.interp(canon[:, 0], xs, ys)
    dy = line - canon[:, 1]                      # + below the mouth line
    u = np.abs(canon[:, 0] - cx) / half
    band = 0.12 + 1.6 * _smoothstep(0.7, 1.7, u)
    w = _smoothstep(0.0, 1.0, 0.5 + dy / band)
    # (all four rings of each lip: the two between the inner and outer contours left to the
    # band's weight dropped nearly fully next to the corners, a fold in the lower lip there)
    low, upp = list(regions.LIPS_LOWER_RINGS), list(regions.LIPS_UPPER_RINGS)
    # the lower lip opens as a lens: full jaw in the middle, tapering to the corners' 0.45
    # (a lip point next to the corner with the full drop makes a boxy, folding corner)
    w[low] = 0.45 + 0.55 * _smoothstep(1.0, LOWER_LENS_FROM, u[low])
    # ... and the upper lip arches down to them: its ends follow the corners (held still,
    # the upper lip next to a dropping corner stretched over a few px into dark streaks)
    w[upp] = UPPER_ARCH * _smoothstep(UPPER_ARCH_FROM, 1.0, u[upp])
    w[[61, 291, 78, 308, 76, 306, 62, 292]] = 0.45
    return w


def _gauss(c: np.ndarray, centre: np.ndarray, sigma: float) -> np.ndarray:
    d2 = ((c[:, :2] - centre[:2]) ** 2).sum(axis=1)
    return np.exp(-0.5 * d2 / sigma**2)


def _lip_sets() -> dict[str, list[int]]:
    return {
        "iu": list(regions.LIPS_INNER_UPPER[1:-1]), "il": list(regions.LIPS_INNER_LOWER[1:-1]),
        "ou": list(regions.LIPS_OUTER_UPPER[1:-1]), "ol": list(regions.LIPS_OUTER_LOWER[1:-1]),
    }


def _lips_mask(mc: np.ndarray) -> np.ndarray:
    """Soft weight of the lip region (1 on the lips, falling off into the skin around)."""
    lips = mc[list(regions.LIPS_OUTER)]
    cx, cy = lips[:, 0].mean(), lips[:, 1].mean()
    hx = 0.5 * (lips[:, 0].max() - lips[:, 0].min()) + 0.3
    hy = 0.5 * (lips[:, 1].max() - lips[:, 1].min()) + 0.3
    r = np.sqrt(((mc[:, 0] - cx) / hx) ** 2 + ((mc[:, 1] - cy) / hy) ** 2)
    return 1.0 - _smoothstep(0.8, 1.8, r)


def _expression(name: str, mc: np.ndarray) -> np.ndarray:
    """(468, 3) canonical-cm displacement of the mesh for one unit of a linear channel."""
    d = np.zeros_like(mc)
    corners = {61: mc[61], 291: mc[291]}
    mouth_c = 0.5 * (mc[61] + mc[291])
    lips = _lips_mask(mc)
    sets = _lip_sets()
    if name == "mouth_wide":
        # spread: the corners pull out and back, the lips thin (outer contours toward the
        # inner ones)
        for c in corners.values():
            side = np.sign(c[0] - mouth_c[0])
            g = _gauss(mc, c, 1.2)
            d[:, 0] += side * WIDE_CORNER * g
            d[:, 2] -= 0.2 * g
        d[sets["iu"], 1] += 0.04
        d[sets["ou"], 1] -= 0.25 * (mc[sets["ou"], 1] - mc[sets["iu"], 1])
        d[sets["ol"], 1] += 0.25 * (mc[sets["il"], 1] - mc[sets["ol"], 1])
    elif name == "mouth_round":
        # rounding: the corners come in, the lips push forward and pout (thicker)
        for c in corners.values():
            side = np.sign(c[0] - mouth_c[0])
            g = _gauss(mc, c, 1.0)
            d[:, 0] -= side * ROUND_CORNER * g
        d[:, 2] += 0.55 * lips
        d[sets["iu"], 1] += 0.08
        d[sets["il"], 1] -= 0.08
        d[sets["ou"], 1] += 0.12
        d[sets["ol"], 1] -= 0.12
    elif name == "lips_press":
        up, lo = list(regions.LIPS_INNER_UPPER), list(regions.LIPS_INNER_LOWER)
        meet = 0.5 * (mc[up] + mc[lo])
        # the lips meet on a smooth curve (a parabola through the midpoints): triangles between
        # consecutive points of one lip then collapse too, and no teeth show in a seam
        coef = np.polyfit(meet[:, 0], meet[:, 1], 2)
        meet[:, 1] = np.polyval(coef, meet[:, 0])
        # ... and overlap a little (no seam of teeth between them)
        d[up] = meet - mc[up] - np.array([0.0, PRESS_OVERLAP, 0.0])
        d[lo] = meet - mc[lo] + np.array([0.0, PRESS_OVERLAP, 0.0])
        d[up + lo, 2] -= 0.1   # a slight inward roll
        # thin the lips: the outer contour rolls in toward the inner line
        ou, ol = sets["ou"], sets["ol"]
        d[ou, 1] += -0.3 * (mc[ou, 1] - mc[sets["iu"], 1]) + d[sets["iu"], 1]
        d[ol, 1] += -0.3 * (mc[ol, 1] - mc[sets["il"], 1]) + d[sets["il"], 1]
        d[ou + ol, 2] -= 0.1
        d = _spread_lips(d, mc)
    elif name == "lip_tuck":
        d = _tuck(mc)
    elif name in ("blink_left", "blink_right"):
        d += _blink(mc, "left" if name == "blink_left" else "right")
    elif name == "eye_squint":
        d += 0.3 * (_blink(mc, "left") + _blink(mc, "right"))
    elif name == "brow_raise":
        d[:, 1] += _brow_field(mc, BROW_RAISE_CM)
    elif name == "brow_frown":
        d[:, 1] -= _brow_field(mc, BROW_LOWER_CM)
        for brow in (regions.BROW_LEFT, regions.BROW_RIGHT):
            b = mc[list(brow)]
            inner = b[np.argmin(np.abs(b[:, 0]))]
            g = _gauss(mc, inner, 1.3) * _above_lids(mc)
            d[:, 0] -= np.sign(inner[0]) * BROW_PINCH_CM * g
            d[:, 1] -= 0.15 * g
    elif name == "brow_inner":
        # AU1 (+ a little AU4): the inner ends go up and slightly together, the tails stay
        d[:, 1] += _brow_field(mc, BROW_INNER_CM, inner=True)
        for brow in (regions.BROW_LEFT, regions.BROW_RIGHT):
            b = mc[list(brow)]
            inner = b[np.argmin(np.abs(b[:, 0]))]
            d[:, 0] -= np.sign(inner[0]) * 0.08 * _gauss(mc, inner, 1.3) * _above_lids(mc)
    elif name == "smile":
        for c in corners.values():
            side = np.sign(c[0] - mouth_c[0])
            g = _gauss(mc, c, 1.2)
            d[:, 0] += side * 0.35 * g
            d[:, 1] += SMILE_LIFT_CM * g
            d[:, 2] -= 0.1 * g
            cheek = np.array([c[0] + side * 1.2, c[1] + 2.6, 0.0])
            gc = _gauss(mc, cheek, 1.5)
            d[:, 1] += SMILE_CHEEK_CM * gc
            d[:, 0] += side * 0.08 * gc
        d += 0.35 * (_blink(mc, "left", lower_only=True) + _blink(mc, "right", lower_only=True))
    elif name == "mouth_frown":
        d = _frown(mc)
    return d


def _frown(mc: np.ndarray) -> np.ndarray:
    """Sad mouth (AU15 with a little AU17, see FROWN_DROP_IO): corners down and a little out,
    the skin below them following further than above; the lower lip's middle pushed up and the
    middle of both lips raised a little, so the mouth reads as one arch."""
    d = np.zeros_like(mc)
    io = float(np.linalg.norm(mc[list(regions.EYE_LEFT_CORNERS), :2].mean(axis=0)
                              - mc[list(regions.EYE_RIGHT_CORNERS), :2].mean(axis=0)))
    mouth_c = 0.5 * (mc[61] + mc[291])
    for c in (mc[61], mc[291]):
        side = np.sign(c[0] - mouth_c[0])
        dy = mc[:, 1] - c[1]
        sy = np.where(dy < 0.0, FROWN_REACH_BELOW, 1.0)
        g = np.exp(-0.5 * ((mc[:, 0] - c[0]) ** 2 + (dy / sy) ** 2))
        d[:, 1] -= FROWN_DROP_IO * io * g
        d[:, 0] += side * FROWN_OUT_IO * io * g
    mid = 0.5 * (mc[14] + mc[17])
    d[:, 1] += 0.12 * _gauss(mc, mid, 0.9) * (1.0 - lips_upper_weight(mc))
    centre = 0.5 * (mc[13] + mc[14])
    half = max(0.5 * abs(float(mc[291, 0] - mc[61, 0])), 0.5)
    d[:, 1] += (FROWN_LIFT_IO * io * np.exp(-0.5 * ((mc[:, 0] - centre[0]) / (0.6 * half)) ** 2)
                * np.exp(-0.5 * (mc[:, 1] - centre[1]) ** 2))
    return d


def _tuck(mc: np.ndarray) -> np.ndarray:
    """f/v: the lower lip rises and rolls in under the upper incisors, the upper lip lifts a
    little so their edge shows between the lips; the lower lip looks thinner (rolled in)."""
    d = np.zeros_like(mc)
    sets = _lip_sets()
    up, lo = list(regions.LIPS_INNER_UPPER), list(regions.LIPS_INNER_LOWER)
    along = np.clip(1.0 - (2.0 * (mc[up, 0] - mc[up, 0].mean())
                           / max(float(np.ptp(mc[up, 0])), 1e-6)) ** 2, 0.0, 1.0)
    d[up, 1] += TUCK_LIFT * along
    d[sets["ou"], 1] += 0.5 * TUCK_LIFT * np.interp(mc[sets["ou"], 0], np.sort(mc[up, 0]),
                                                    along[np.argsort(mc[up, 0])])
    rise = (np.clip(mc[up, 1] - TUCK_UNDER - mc[lo, 1], 0.0, None) + TUCK_ROLL) * along
    d[lo, 1] += rise
    d[lo, 2] -= 0.3 * along
    d[sets["ol"], 1] += 0.6 * np.interp(mc[sets["ol"], 0], np.sort(mc[lo, 0]),
                                        rise[np.argsort(mc[lo, 0])])
    d[sets["ol"], 2] -= 0.15
    return _spread_lips(d, mc)


def lips_upper_weight(mc: np.ndarray) -> np.ndarray:
    """1 above the mouth line (upper lip and up), 0 below, a short ramp between (cm)."""
    xs, ys = _mouth_line(mc)
    line = np.interp(mc[:, 0], xs, ys)
    return _smoothstep(-0.05, 0.05, mc[:, 1] - line)


def _above_lids(mc: np.ndarray) -> np.ndarray:
    """1 above both upper lids' highest point, falling to 0 at the lids (brow moves spare the
    eye openings)."""
    lid_y = max(mc[list(regions.EYE_LEFT_UPPER), 1].max(),
                mc[list(regions.EYE_RIGHT_UPPER), 1].max())
    return _smoothstep(lid_y - 0.1, lid_y + 0.5, mc[:, 1])


def _spread_lips(d: np.ndarray, mc: np.ndarray) -> np.ndarray:
    """Carry the lip contours' displacement to the other mesh points of each lip (the mesh's
    middle lip rings) and, fading out, to the skin around the mouth, by inverse-distance
    weighting from the contour points of the same (upper or lower) lip."""
    up_ids = list(dict.fromkeys(regions.LIPS_INNER_UPPER + regions.LIPS_OUTER_UPPER))
    lo_ids = list(dict.fromkeys(regions.LIPS_INNER_LOWER + regions.LIPS_OUTER_LOWER))
    contour = set(up_ids) | set(lo_ids)
    xs, ys = _mouth_line(mc)
    line = np.interp(mc[:, 0], xs, ys)
    near = _lips_mask(mc)
    out = d.copy()
    for i in np.nonzero(near > 1e-3)[0]:
        if i in contour:
            continue
        ids = up_ids if mc[i, 1] > line[i] else lo_ids
        dist2 = ((mc[ids, :2] - mc[i, :2]) ** 2).sum(axis=1) + 1e-4
        w = 1.0 / dist2**1.5
        out[i] = near[i] * (w[:, None] * d[ids]).sum(axis=0) / w.sum()
    return out


def _brow_field(mc: np.ndarray, amount: float, inner: bool = False) -> np.ndarray:
    """Vertical lift profile: `amount` at the brows, falling to 0 at the upper lids and toward
    the top of the forehead; with `inner`, only toward the brows' inner ends (the tails and the
    temples stay)."""
    out = np.zeros(len(mc))
    for brow, lid in ((regions.BROW_LEFT, regions.EYE_LEFT_UPPER),
                      (regions.BROW_RIGHT, regions.EYE_RIGHT_UPPER)):
        b = mc[list(brow)]
        lid_y = mc[list(lid), 1].max()
        bx0, bx1 = b[:, 0].min(), b[:, 0].max()
        by = b[:, 1].mean()
        lat = 1.0 - _smoothstep(0.0, 1.5, np.maximum(bx0 - mc[:, 0], mc[:, 0] - bx1))
        above = mc[:, 1] - by
        prof = np.where(above >= 0, 1.0 - 0.6 * _smoothstep(0.0, 5.0, above),
                        _smoothstep(lid_y, by, mc[:, 1]))
        if inner:
            inner_x = bx0 if abs(bx0) < abs(bx1) else bx1
            prof = prof * np.exp(-0.5 * ((mc[:, 0] - inner_x) / 1.4) ** 2)
        out = np.maximum(out, amount * lat * prof)
    return out


def _blink(mc: np.ndarray, side: str, lower_only: bool = False) -> np.ndarray:
    """Displacement closing one eye: the upper lid comes down to meet the lower lid a quarter
    of the way up; the lid skin above follows with falloff, the skin below a little."""
    upper = regions.EYE_LEFT_UPPER if side == "left" else regions.EYE_RIGHT_UPPER
    lower = regions.EYE_LEFT_LOWER if side == "left" else regions.EYE_RIGHT_LOWER
    up, lo = mc[list(upper)], mc[list(lower)]
    # The upper lid comes down a little past where the lower lid rises to (BLINK_OVERLAP of
    # the opening): the collapsed eye interior then never shows as a light seam.
    du = lo + (BLINK_MEET - BLINK_OVERLAP) * (up - lo) - up
    dl = BLINK_MEET * (up - lo)
    # the canthi stay where they are (the lids already meet there); the lid skin around them
    # is eased below, so the displacement falls to zero there without a crease
    du[[0, -1]] = 0.0
    dl[[0, -1]] = 0.0
    if lower_only:              # the cheeks push the lower lid up (a smile): AU6
        du[:] = 0.0
        dl = LOWER_LID_PUSH * (up - lo)
    d = np.zeros_like(mc)
    order_u, order_l = np.argsort(up[:, 0]), np.argsort(lo[:, 0])
    x0, x1 = up[:, 0].min(), up[:, 0].max()
    width = x1 - x0
    lat = 1.0 - _smoothstep(0.0, 0.5 * width, np.maximum(x0 - mc[:, 0], mc[:, 0] - x1))
    up_line = np.interp(mc[:, 0], up[order_u, 0], up[order_u, 1])
    lo_line = np.interp(mc[:, 0], lo[order_l, 0], lo[order_l, 1])
    dy_u = np.interp(mc[:, 0], up[order_u, 0], du[order_u, 1])
    dz_u = np.interp(mc[:, 0], up[order_u, 0], du[order_u, 2])
    dy_l = np.interp(mc[:, 0], lo[order_l, 0], dl[order_l, 1])
    above = mc[:, 1] - up_line
    below = lo_line - mc[:, 1]
    fa = np.where(above >= 0, (1.0 - _smoothstep(*BLINK_SKIN, above)), 0.0) * lat
    fb = np.where(below >= 0, (1.0 - _smoothstep(0.0, 0.7, below)), 0.0) * lat
    d[:, 1] += dy_u * fa + dy_l * fb
    d[:, 2] += dz_u * fa
    d[list(upper)] = du
    d[list(lower)] = dl
    # ease the field around the canthi only: over the middle of the lid the skin must come
    # down with the lashes (or the lid reads as half open)
    eased = _relax(d, mc, list(upper) + list(lower), BLINK_SMOOTH_ITERS)
    centre = 0.5 * (x0 + x1)
    ends = _smoothstep(0.25, 0.42, np.abs(mc[:, 0] - centre) / max(width, 1e-6))
    return d + ends[:, None] * (eased - d)


def _mesh_neighbours(mc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Directed edges (E, 2) of the 2-D Delaunay triangulation of the canonical mesh, and the
    degree of every point. One portrait's build asks six times for the same mesh (blinks,
    expressions): triangulated once."""
    xy = np.ascontiguousarray(mc[:, :2], np.float64)
    return _neighbours_of(xy.tobytes(), len(xy))


@functools.lru_cache(maxsize=4)
def _neighbours_of(xy_bytes: bytes, n: int) -> tuple[np.ndarray, np.ndarray]:
    mc = np.frombuffer(xy_bytes, np.float64).reshape(n, 2)
    simplices = delaunay(mc)
    e = np.concatenate([simplices[:, [0, 1]], simplices[:, [1, 2]], simplices[:, [2, 0]]])
    e = np.unique(np.concatenate([e, e[:, ::-1]]), axis=0)
    deg = np.bincount(e[:, 0], minlength=len(mc)).astype(np.float64)
    e.flags.writeable = deg.flags.writeable = False  # shared by the cache's callers
    return e, deg


def _relax(d: np.ndarray, mc: np.ndarray, fixed: list[int], iters: int) -> np.ndarray:
    """Ease a displacement field over the mesh (lazy neighbour averaging, `fixed` points
    held): the skin between a moving contour and still points then stretches evenly instead
    of in one row of triangles (no spikes of lash colour at the eye corners)."""
    if iters <= 0:
        return d
    edges, deg = _mesh_neighbours(mc)
    hold = np.zeros(len(mc), dtype=bool)
    hold[fixed] = True
    out = d.copy()
    for _ in range(iters):
        avg = np.stack([np.bincount(edges[:, 0], weights=out[edges[:, 1], k], minlength=len(mc))
                        for k in range(3)], 1) / np.maximum(deg, 1.0)[:, None]
        out = np.where(hold[:, None], out, 0.5 * out + 0.5 * avg)
    return out


def rotation_batch(yaw: torch.Tensor, pitch: torch.Tensor, roll: torch.Tensor) -> torch.Tensor:
    """R_head (B, 3, 3) = Rz(-roll) Ry(yaw) Rx(-pitch) from degrees (talkcli.face.pose)."""
    y, p, r = (torch.deg2rad(v) for v in (yaw, pitch, roll))
    one, zero = torch.ones_like(y), torch.zeros_like(y)
    cy, sy, cp, sp, cr, sr = y.cos(), y.sin(), (-p).cos(), (-p).sin(), (-r).cos(), (-r).sin()
    rx = torch.stack([one, zero, zero, zero, cp, -sp, zero, sp, cp], -1).view(-1, 3, 3)
    ry = torch.stack([cy, zero, sy, zero, one, zero, -sy, zero, cy], -1).view(-1, 3, 3)
    rz = torch.stack([cr, -sr, zero, sr, cr, zero, zero, zero, one], -1).view(-1, 3, 3)
    return rz @ ry @ rx


class Deformer:
    """Per-frame deformation of the control points, batched in torch on one device."""

    def __init__(self, geo: Geometry, device: torch.device, distance: float = 1.0) -> None:
        """`distance`: the camera distance the frame was framed at (render/framing.py): the
        latents' head_scale is absolute, so head_scale * distance is the lean to render."""
        f32: dict[str, Any] = {"dtype": torch.float32, "device": device}
        self.device = device
        self.distance = float(distance)
        self.points = torch.as_tensor(geo.points, **f32)
        self.head_w = torch.as_tensor(geo.head_weight, **f32)[None, :, None]
        lean = geo.head_weight if geo.lean_weight is None else geo.lean_weight
        self.lean_w = torch.as_tensor(lean, **f32)[None, :, None]
        self.jaw_w = torch.as_tensor(geo.jaw_weight, **f32)[None, :, None]
        self.basis = torch.as_tensor(geo.basis.reshape(len(BASIS_CHANNELS), -1), **f32)
        self.basis_idx = torch.as_tensor([index(c) for c in BASIS_CHANNELS], device=device)
        self._smile = BASIS_CHANNELS.index("smile")
        self.jaw_pivot = torch.as_tensor(geo.jaw_pivot, **f32)
        self.head_pivot = torch.as_tensor(geo.head_pivot, **f32)
        a = torch.as_tensor(geo.jaw_axis_a, dtype=torch.float64)
        self.a = a.to(**f32)
        self.a_inv = torch.linalg.inv(a).to(**f32)
        flip = torch.as_tensor(FLIP_Y, dtype=torch.float64)
        self.flip = flip.to(**f32)
        self.rot0_t = torch.as_tensor(geo.rot0.T, **f32)
        self.angles0 = None
        lips = torch.zeros(geo.count, 3, dtype=torch.float64)
        iu = list(regions.LIPS_INNER_UPPER[1:-1])
        il = list(regions.LIPS_LOWER_RINGS)
        lips[iu, 1] = JAW_UPPER_LIP_LIFT
        lips[il, 1] = -JAW_LOWER_LIP_DROP
        self.jaw_lips = (lips @ a.T).to(**f32)
        slide = torch.as_tensor(geo.jaw_weight, dtype=torch.float64)[:, None] * torch.tensor(
            [0.0, -float(geo.jaw_slide), 0.0], dtype=torch.float64)
        self.jaw_lips = self.jaw_lips + (slide @ a.T).to(**f32)   # the jaw's straight slide
        self.i = {name: index(name) for name in ("head_yaw", "head_pitch", "head_roll",
                                                 "head_scale", "jaw_open", "lips_press")}
        self.rest_jaw = float(geo.rest_jaw)
        self.rest_close = (None if geo.rest_close is None
                           else torch.as_tensor(geo.rest_close, **f32)[None])

    def deform(self, lat: torch.Tensor, pose0: tuple[float, float, float]) -> torch.Tensor:
        """(B, C) latents -> (B, N, 3) deformed control points, output px."""
        b = lat.shape[0]
        n = self.points.shape[0]
        lin = lat.index_select(1, self.basis_idx)
        press = lat[:, self.i["lips_press"]].clamp(0.0, 1.0)
        lin = lin.clone()
        lin[:, self._smile] *= 1.0 - PRESS_SMILE * press
        disp = (lin @ self.basis).view(b, n, 3)
        jaw = lat[:, self.i["jaw_open"]] * (1.0 - lat[:, self.i["lips_press"]]).clamp(0.0, 1.0)
        if self.rest_close is not None:
            # open portrait: closed at rest, its own opening at rest_jaw, the jaw beyond that
            j0 = self.rest_jaw
            close = (1.0 - jaw / j0).clamp(0.0, 1.0)
            disp = disp + close[:, None, None] * self.rest_close
            jaw = ((jaw - j0) / (1.0 - j0)).clamp(0.0, 1.0)
        # jaw: rotate about the canonical x axis through the pivot (chin goes down and back)
        theta = jaw * JAW_MAX
        c, s = theta.cos(), theta.sin()
        one, zero = torch.ones_like(c), torch.zeros_like(c)
        rx = torch.stack([one, zero, zero, zero, c, -s, zero, s, c], -1).view(b, 3, 3)
        m = self.a @ rx @ self.a_inv                     # output-px frame rotation (B, 3, 3)
        rel = self.points - self.jaw_pivot
        jaw_d = rel @ m.transpose(1, 2) - rel
        disp = disp + self.jaw_w * jaw_d + jaw[:, None, None] * self.jaw_lips
        p = self.points + disp
        # head: new R_head = R(pose0 + commanded); the image-frame motion is F Rn R0^T F
        yaw0, pitch0, roll0 = pose0
        rn = rotation_batch(lat[:, self.i["head_yaw"]] * YAW_GAIN + yaw0,
                            lat[:, self.i["head_pitch"]] * PITCH_GAIN + pitch0,
                            lat[:, self.i["head_roll"]] + roll0)
        mh = self.flip @ rn @ self.rot0_t @ self.flip
        rel = p - self.head_pivot
        turned = p + self.head_w * (self.head_pivot + rel @ mh.transpose(1, 2) - p)
        # head_scale: the static part is the camera's distance (already in the framing); what
        # is left, leaning in and out, scales about the pivot with the neck and shoulders
        lean = lat[:, self.i["head_scale"]][:, None, None] * self.distance - 1.0
        return turned + self.lean_w * lean * (turned - self.head_pivot)


def crease_boxes(mesh: np.ndarray, interocular: float) -> list[tuple[float, float, float, float]]:
    """Output-px boxes that can hold the lips and the eye openings in any frame (head motion
    and jaw opening included): where the dense map has creases."""
    boxes = []
    margin = 0.35 * interocular
    for ids, extra_down in ((regions.LIPS_OUTER, 0.7 * interocular),
                            (regions.EYE_LEFT, 0.0), (regions.EYE_RIGHT, 0.0)):
        p = mesh[list(ids), :2]
        boxes.append((float(p[:, 0].min() - margin), float(p[:, 1].min() - margin),
                      float(p[:, 0].max() + margin), float(p[:, 1].max() + margin + extra_down)))
    return boxes


def crease_points() -> list[int]:
    """Mesh points on the lid and lip contours, where the map closes over itself on purpose."""
    ids = (regions.EYE_LEFT + regions.EYE_RIGHT + regions.LIPS_OUTER + regions.LIPS_INNER_UPPER
           + regions.LIPS_INNER_LOWER)
    return sorted(set(int(i) for i in ids))


def pose_angles(pose: HeadPose) -> tuple[float, float, float]:
    return float(pose.yaw), float(pose.pitch), float(pose.roll)

