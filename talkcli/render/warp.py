"""Dense backward map from moved control points, computed only where the frame moves.

At init: a Delaunay triangulation of the NEUTRAL control points; for every cell of a coarse
grid (COARSE_STEP px) its triangle's three vertices and barycentric weights; which coarse cells
hold some of the person (only those can change the frame: elsewhere the warped person layer is
transparent over the still background plate); a full-resolution triangle-id image and the
fine (FIELD_STEP px) cells of the crease boxes (lips, eye openings). Per chunk of frames:

1. `moving_box`: the rectangle outside which every frame equals the still portrait: the coarse
   person cells whose displacement bound (the largest of their triangle's vertex displacements,
   over the chunk) exceeds MOVE_EPS, each grown by its bound (what moves there can land that
   far away), united with a box the caller needs (the face, for the compositors);
2. in that box only, the forward displacement field D(p) = sum_i w_i d_i on the coarse grid
   (one `embedding_bag`, frames as the embedding dimension), inverted by chord-Newton steps
   q <- q - (I + J)^-1 (q + D(q) - p) to a fraction of a pixel; where Newton's residual stays
   above FALLBACK_PX (next to the small folds beside the nose) the damped fixed point is tried
   on those cells only and the better of the two kept;
3. the coarse inverse is upsampled to the fine grid; inside the crease boxes the inverse is made
   exact by walking the piecewise-affine map: q <- A_t^-1 p with t the neutral triangle holding q,
   accepted when the new q lies in the triangle used, so lips and lids part and close with sharp
   edges (the map is smooth elsewhere: the coarse inverse upsampled is within ~0.1 px there);
4. `grid`: the fine backward displacement upsampled bilinearly to full resolution and added
   to the identity grid, for the box's pixels (the torch path; on the CPU render/remap.py
   upsamples and samples with OpenCV). With zero displacements the map is the identity.

Pixel convention: pixel (row i, column j) has its centre at (x, y) = (j + 0.5, i + 0.5), the
convention of grid_sample(align_corners=False). Displacements are in px unless named `_n`
(normalized to the grid being sampled).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from talkcli.render.remap import cv2 as _cv2
from talkcli.render.triangulate import Triangulation

FIELD_STEP = 2       # fine map (crease boxes; upsampled to full resolution): 1 / FIELD_STEP
COARSE_STEP = 8       # coarse map (inverted everywhere in the moving box): 1 / COARSE_STEP; 4 cost
                     # 1.9 ms a frame more at 512², for 57 dB PSNR against it (issue #9)
WALK_ITERS = 4       # from the coarse inverse (a chord-Newton refinement on the fine grid
                     # first cost 1 ms a frame at 512² for 63 dB against it, issue #9)
MOVE_EPS = 0.02      # px: a part of the frame moving less than this is shown as the portrait
SPAN_ROWS = 8        # coarse rows per span of the moving region (64 px at COARSE_STEP 8): the
                     # region is the box cut to the moving cells' extent per span of rows

DAMP = 0.6
NEWTON_ITERS = 3
FIXED_POINT_ITERS = 2
NEWTON_MIN_DET = 0.3
NEWTON_MAX_GAIN = 3.0
FALLBACK_PX = 0.05   # Newton residual (px) above which the fixed point is tried as well


@dataclass(frozen=True)
class Box:
    """A rectangle of the frame aligned to the coarse grid: coarse cells [cy0, cy1) x
    [cx0, cx1); pixels [y0, y1) x [x0, x1) (the same, clipped to the frame)."""

    cx0: int
    cy0: int
    cx1: int
    cy1: int
    x0: int
    y0: int
    x1: int
    y1: int
    # row bands (y0, y1, x0, x1) px that hold every pixel of the box that can differ from
    # the portrait (the moving person, grown by its reach, and the caller's keep box); the
    # rest of the box is the still portrait. Empty: the whole box.
    spans: tuple[tuple[int, int, int, int], ...] = ()

    @property
    def shape(self) -> tuple[int, int]:
        """(height, width) in px."""
        return self.y1 - self.y0, self.x1 - self.x0

    def contains(self, other: Box) -> bool:
        return (self.x0 <= other.x0 and self.y0 <= other.y0
                and self.x1 >= other.x1 and self.y1 >= other.y1)


class DenseMap:
    """Control-point displacements -> sampling grid of the moving box (B, h, w, 2)."""

    def __init__(self, points2d: np.ndarray, width: int, height: int, device: torch.device,
                 step: int = FIELD_STEP,
                 walk_boxes: list[tuple[float, float, float, float]] | None = None,
                 crease_points: list[int] | None = None,
                 person_mask: np.ndarray | None = None,
                 coarse_step: int = COARSE_STEP) -> None:
        if coarse_step % step:
            raise ValueError("coarse_step must be a multiple of step")
        self.width, self.height, self.device = width, height, device
        self.step, self.coarse = step, coarse_step
        pts = np.asarray(points2d, dtype=np.float64)
        tri = Triangulation(pts)
        self.triangles = tri.simplices
        # both grids: per cell centre its triangle's vertices and weights
        self.hc, self.wc = -(-height // coarse_step), -(-width // coarse_step)
        self.h, self.w = -(-height // step), -(-width // step)
        self.coarse_cells = _CellTable(tri, self.hc, self.wc, coarse_step, device)
        self.cell_person = torch.as_tensor(
            _person_cells(person_mask, self.hc, self.wc, coarse_step), device=device)
        vx = np.clip((pts[:, 0] // coarse_step).astype(np.int64), 0, self.wc - 1)
        vy = np.clip((pts[:, 1] // coarse_step).astype(np.int64), 0, self.hc - 1)
        self.vert_cell = torch.as_tensor(vy * self.wc + vx, device=device)
        # full-resolution identity grid (normalized coordinates of the whole frame)
        self.full_grid = _identity_grid(height, width, device)
        self.to_norm_full = torch.tensor([2.0 / width, 2.0 / height], device=device)
        # for the exact (walking) inversion
        self.points = torch.as_tensor(pts, dtype=torch.float32, device=device)
        simp = tri.simplices
        self.tri_src = torch.as_tensor(simp, dtype=torch.int64, device=device)
        v = pts[simp]
        edges = np.stack([v[:, 1] - v[:, 0], v[:, 2] - v[:, 0]], axis=-1)  # (T, 2, 2) columns
        self.neutral_edges = torch.as_tensor(edges, dtype=torch.float32, device=device)
        self.neutral_origin = torch.as_tensor(v[:, 0], dtype=torch.float32, device=device)
        det0 = edges[:, 0, 0] * edges[:, 1, 1] - edges[:, 1, 0] * edges[:, 0, 1]
        self.neutral_sign = torch.as_tensor(np.where(det0 < 0, -1.0, 1.0), dtype=torch.float32,
                                            device=device)
        # triangles off the lid and lip contours: where one of them turns over, the map has a
        # small fold (nose side under a turn), not a crease, and the walk must not pick a layer
        crease = np.zeros(len(pts), dtype=bool)
        crease[list(crease_points or [])] = True
        self.tri_free = torch.as_tensor(~crease[simp].any(axis=1), device=device)
        lut = tri.locate_grid(height, width)
        lut[lut < 0] = 0
        self.lut = torch.as_tensor(lut, dtype=torch.int64, device=device)
        self._init_creases(walk_boxes or [])

    def _init_creases(self, walk_boxes: list[tuple[float, float, float, float]]) -> None:
        """The fine cells of the crease boxes (where the map has creases: lips, lids)."""
        fine = _cell_centres(self.h, self.w, self.step)
        inside = np.zeros(len(fine), dtype=bool)
        for x0, y0, x1, y1 in walk_boxes:
            inside |= ((fine[:, 0] >= x0) & (fine[:, 0] <= x1)
                       & (fine[:, 1] >= y0) & (fine[:, 1] <= y1))
        walk = np.nonzero(inside)[0]
        self.walk_row = torch.as_tensor(walk // self.w, device=self.device)
        self.walk_col = torch.as_tensor(walk % self.w, device=self.device)
        self.walk_px = torch.as_tensor(fine[walk], dtype=torch.float32, device=self.device)

    # ------------------------------------------------------------------ the moving box
    def moving_box(self, disp: torch.Tensor,
                   keep: tuple[float, float, float, float] | None = None) -> Box | None:
        """The box outside which no frame of the chunk differs from the portrait (by more than
        MOVE_EPS px of motion), united with `keep` (x0, y0, x1, y1 px); None if empty. Its
        `spans` cut it to the region that can differ, band by band of rows (the background
        beside the person never does)."""
        vmax = disp.norm(dim=-1).amax(0)                               # (N,) px
        bound = vmax[self.coarse_cells.verts].amax(1)                  # >= |D| at the centre
        # a vertex moving between centres
        bound = bound.scatter_reduce(0, self.vert_cell, vmax, reduce="amax")
        moving = (bound > MOVE_EPS) & self.cell_person
        cells = torch.zeros((self.hc, self.wc), dtype=torch.bool, device=disp.device)
        if bool(moving.any()):
            # what moves lands at most its own bound away (+ the coarse map's bilinear
            # support): each moving cell grown by that many whole cells
            reach = torch.ceil((bound + 2 * self.coarse) / self.coarse).long() * moving
            for r in torch.unique(reach[moving]).tolist():
                grown = F.max_pool2d((reach == r).view(1, 1, self.hc, self.wc).float(),
                                     2 * r + 1, stride=1, padding=r)
                cells |= grown[0, 0] > 0.0
        if keep is not None:
            c = self.coarse
            kx0, ky0 = max(0, math.floor(keep[0] / c)), max(0, math.floor(keep[1] / c))
            kx1, ky1 = min(self.wc, math.ceil(keep[2] / c)), min(self.hc, math.ceil(keep[3] / c))
            if kx1 > kx0 and ky1 > ky0:
                cells[ky0:ky1, kx0:kx1] = True
        return self._box_of(cells.cpu().numpy())

    def _box_of(self, cells: np.ndarray) -> Box | None:
        """The Box (with its spans) of a (hc, wc) bool grid of the coarse cells that can
        differ from the portrait."""
        rows = np.nonzero(cells.any(1))[0]
        if rows.size == 0:
            return None
        cols = np.nonzero(cells.any(0))[0]
        c = self.coarse
        cy0, cy1, cx0, cx1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
        spans = []
        for r0 in range(cy0, cy1, SPAN_ROWS):
            r1 = min(cy1, r0 + SPAN_ROWS)
            used = np.nonzero(cells[r0:r1].any(0))[0]
            if used.size:
                spans.append((r0 * c, min(r1 * c, self.height), int(used[0]) * c,
                              min((int(used[-1]) + 1) * c, self.width)))
        return Box(cx0, cy0, cx1, cy1, cx0 * c, cy0 * c, min(cx1 * c, self.width),
                   min(cy1 * c, self.height), tuple(spans))

    def full_box(self) -> Box:
        return Box(0, 0, self.wc, self.hc, 0, 0, self.width, self.height)

    # ------------------------------------------------------------------ inversion
    def forward_field(self, disp: torch.Tensor, table: _CellTable,
                      rect: tuple[int, int, int, int]) -> torch.Tensor:
        """(B, N, 2) px displacements -> (B, 2, h, w) forward displacement on the cells
        [r0, r1) x [c0, c1) of a cell table, normalized to that rectangle (`_to_norm`)."""
        b, n, _ = disp.shape
        r0, r1, c0, c1 = rect
        rows = torch.arange(r0, r1, device=self.device)
        cols = torch.arange(c0, c1, device=self.device)
        ids = (rows[:, None] * table.w + cols[None, :]).view(-1)
        values = (disp * _to_norm(rect, table.step, self.device)).permute(1, 0, 2)
        offsets = torch.arange(0, 3 * ids.numel(), 3, device=self.device)
        field = F.embedding_bag(table.verts[ids].view(-1), values.reshape(n, b * 2), offsets,
                                mode="sum", per_sample_weights=table.weights[ids].view(-1))
        return field.view(r1 - r0, c1 - c0, b, 2).permute(2, 3, 0, 1).contiguous()

    def inverse(self, disp: torch.Tensor, table: _CellTable,
                rect: tuple[int, int, int, int]) -> torch.Tensor:
        """(B, 2, h, w) px backward displacement q - p on the cells of `rect`, to a fraction
        of a pixel (chord Newton, with the fixed point where it failed)."""
        fwd = self.forward_field(disp, table, rect)
        back = _robust_inverse(fwd, table.step)
        return back.div_(_to_norm(rect, table.step, self.device)[None, :, None, None])

    def backward_disp(self, disp: torch.Tensor, box: Box,
                      iters: int = WALK_ITERS) -> torch.Tensor:
        """(B, N, 2) px -> (B, 2, h, w) px backward displacement q - p on the box's fine cells.

        The coarse inverse, upsampled; in the crease boxes made exact by walking: the
        forward map is piecewise affine over the neutral triangulation, so repeatedly take the
        triangle t that contains q (a lookup image) and set q = A_t^-1 (p) with A_t that
        triangle's deformed->neutral affine. A collapsed triangle (lips pressed, lids shut)
        is never entered, so no smeared seam; where triangles fold the walk settles on one layer."""
        back = self.inverse(disp, self.coarse_cells, (box.cy0, box.cy1, box.cx0, box.cx1))
        fine = upsample(back, self.coarse // self.step)
        h = -(-(box.y1 - box.y0) // self.step)
        w = -(-(box.x1 - box.x0) // self.step)
        fine = fine[..., :h, :w].contiguous()
        self._walk(disp, box, fine, iters)
        return fine

    def _walk(self, disp: torch.Tensor, box: Box, fine: torch.Tensor, iters: int) -> None:
        """Make `fine` (B, 2, h, w) px exact in the crease boxes (in place)."""
        fy0, fx0 = box.y0 // self.step, box.x0 // self.step
        h, w = fine.shape[-2:]
        sel = ((self.walk_row >= fy0) & (self.walk_row < fy0 + h)
               & (self.walk_col >= fx0) & (self.walk_col < fx0 + w))
        if not bool(sel.any()):
            return
        b = disp.shape[0]
        flat_idx = (self.walk_row[sel] - fy0) * w + (self.walk_col[sel] - fx0)
        px = self.walk_px[sel]                                         # (P, 2) output px
        flat = fine.view(b, 2, h * w)
        # (B, 2, P) layout throughout: x and y rows contiguous for the elementwise passes
        pxt = px.t().contiguous()                                      # (2, P)
        final = torch.index_select(flat, 2, flat_idx).add_(pxt)        # q (B, 2, P)
        coeff, flipped = self._backward_affines(disp)                  # (6, B*T), (B*T,)
        avoid = (flipped & self.tri_free.repeat(b)).view(-1)
        tri_count = self.tri_src.shape[0]
        base = (torch.arange(b, device=self.device) * tri_count)[:, None]
        p_x, p_y = pxt[0], pxt[1]
        q = torch.empty_like(final)
        t = self._lookup(final)
        # index_select, not advanced indexing: 2-5x faster on the CPU for these gathers
        for _ in range(iters):
            bt = (t + base).view(-1)
            c = torch.index_select(coeff, 1, bt).view(6, b, -1)
            torch.addcmul(c[2], c[0], p_x, out=q[:, 0]).addcmul_(c[1], p_y)
            torch.addcmul(c[5], c[3], p_x, out=q[:, 1]).addcmul_(c[4], p_y)
            t_new = self._lookup(q)
            # q lies in the triangle used (and that is no small fold off the creases)
            ok = (t_new == t) & ~torch.index_select(avoid, 0, bt).view(b, -1)
            final = torch.where(ok[:, None], q, final)
            t = t_new
        flat.index_copy_(2, flat_idx, final.sub_(pxt))

    def _lookup(self, q: torch.Tensor) -> torch.Tensor:
        """(B, 2, P) px -> (B, P) the neutral triangle under each point (the lookup image)."""
        ix = q[:, 0].floor().clamp_(0, self.width - 1)
        iy = q[:, 1].floor().clamp_(0, self.height - 1)
        flat = iy.mul_(self.width).add_(ix).long()   # exact: integers below 2^24
        return torch.index_select(self.lut, 0, flat.view(-1)).view(flat.shape)

    def _backward_affines(self, disp: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per frame and triangle, the affine taking deformed (output) px to neutral px
        (6, B*T), and whether the triangle has turned over (B*T,)."""
        b = disp.shape[0]
        moved = self.points[None] + disp                       # (B, N, 2)
        v = moved[:, self.tri_src]                             # (B, T, 3, 2)
        e1, e2 = v[:, :, 1] - v[:, :, 0], v[:, :, 2] - v[:, :, 0]
        det = e1[..., 0] * e2[..., 1] - e1[..., 1] * e2[..., 0]
        flipped = (det * self.neutral_sign <= 0).view(-1)
        sign = torch.where(det < 0, -1.0, 1.0)
        det = sign * det.abs().clamp_min(1e-3)
        # inverse of [e1 e2] (columns)
        i00, i01 = e2[..., 1] / det, -e2[..., 0] / det
        i10, i11 = -e1[..., 1] / det, e1[..., 0] / det
        n = self.neutral_edges                                 # (T, 2, 2): columns n1, n2
        m00 = n[:, 0, 0] * i00 + n[:, 0, 1] * i10
        m01 = n[:, 0, 0] * i01 + n[:, 0, 1] * i11
        m10 = n[:, 1, 0] * i00 + n[:, 1, 1] * i10
        m11 = n[:, 1, 0] * i01 + n[:, 1, 1] * i11
        o = self.neutral_origin                                # (T, 2)
        x0, y0 = v[:, :, 0, 0], v[:, :, 0, 1]
        c0 = o[:, 0] - m00 * x0 - m01 * y0
        c1 = o[:, 1] - m10 * x0 - m11 * y0
        coeff = torch.stack((m00, m01, c0, m10, m11, c1)).view(6, b * self.tri_src.shape[0])
        return coeff, flipped

    # ------------------------------------------------------------------ the sampling grid
    def grid(self, back: torch.Tensor, box: Box, out: torch.Tensor | None = None) -> torch.Tensor:
        """(B, 2, h, w) fine backward displacement (px) -> (B, H, W, 2) sampling grid of the
        box's pixels, in the normalized coordinates of the whole frame."""
        hb, wb = box.shape
        up = F.interpolate(back, scale_factor=self.step, mode="bilinear", align_corners=False)
        up = up[..., :hb, :wb].permute(0, 2, 3, 1)
        ident = self.full_grid[:, box.y0:box.y1, box.x0:box.x1]
        if out is None:
            return torch.addcmul(ident, up, self.to_norm_full)
        return torch.addcmul(ident, up, self.to_norm_full, out=out)


def upsample(field: torch.Tensor, ratio: int) -> torch.Tensor:
    """(B, C, h, w) -> (B, C, h*ratio, w*ratio), bilinear with pixel centres
    (align_corners=False). On the CPU OpenCV's resize, plane by plane: the same values
    (within 1e-7) at a quarter of interpolate's time."""
    if field.device.type != "cpu" or _cv2 is None:
        return F.interpolate(field, scale_factor=ratio, mode="bilinear", align_corners=False)
    b, c, h, w = field.shape
    src = field.contiguous().numpy()
    out = torch.empty((b, c, h * ratio, w * ratio), dtype=field.dtype)
    dst = out.numpy()
    for i in range(b):
        for j in range(c):
            _cv2.resize(src[i, j], (w * ratio, h * ratio), dst=dst[i, j],
                        interpolation=_cv2.INTER_LINEAR)
    return out


def _robust_inverse(fwd_n: torch.Tensor, step: int) -> torch.Tensor:
    """Backward displacement (normalized, (B, 2, h, w)) of a forward field on cells of `step`
    px: chord-Newton everywhere; where its residual |q + D(q) - p| stays above FALLBACK_PX,
    also the damped fixed point (safer next to the small folds beside the nose), on those
    cells only, and per cell the one with the smaller residual."""
    b, _, h, w = fwd_n.shape
    base = _identity_grid(h, w, fwd_n.device)
    back = newton_inverse(fwd_n, base)
    res = _residual(fwd_n, base, back)                          # (B, h, w) squared, norm.
    one_px = 2.0 / (w * step)                                   # one px, normalized (x)
    bad = (res > (FALLBACK_PX * one_px) ** 2).view(b, -1)
    if not bool(bad.any()):
        return back
    idx = torch.nonzero(bad.any(0)).view(-1)                    # cells failing somewhere
    p = base.view(1, -1, 2)[:, idx][:, None].expand(b, -1, -1, -1)   # (B, 1, P, 2)
    fixed = -fwd_n.view(b, 2, -1)[:, :, idx][:, :, None]        # (B, 2, 1, P)
    for _ in range(FIXED_POINT_ITERS):
        d = F.grid_sample(fwd_n, p + fixed.permute(0, 2, 3, 1), mode="bilinear",
                          padding_mode="border", align_corners=False)
        fixed = fixed.mul_(1.0 - DAMP).sub_(d, alpha=DAMP)
    d = F.grid_sample(fwd_n, p + fixed.permute(0, 2, 3, 1), mode="bilinear",
                      padding_mode="border", align_corners=False).add_(fixed)
    res_fixed = d.square().sum(1).view(b, -1)                   # (B, P)
    flat = back.view(b, 2, -1)
    take = res_fixed < res.view(b, -1)[:, idx]                  # (B, P)
    flat[:, :, idx] = torch.where(take[:, None], fixed[:, :, 0], flat[:, :, idx])
    return back


def _to_norm(rect: tuple[int, int, int, int], step: int, device: torch.device) -> torch.Tensor:
    """px -> normalized units of a rectangle of cells (it spans 2 across)."""
    r0, r1, c0, c1 = rect
    return torch.tensor([2.0 / ((c1 - c0) * step), 2.0 / ((r1 - r0) * step)], device=device)


class _CellTable:
    """A grid of `step` px cells over the frame: per cell centre its triangle's vertices and
    barycentric weights (n, 3)."""

    def __init__(self, tri: Triangulation, h: int, w: int, step: int, device: torch.device
                 ) -> None:
        self.h, self.w, self.step = h, w, step
        verts, bary = _barycentric(tri, h, w, step)
        self.verts = torch.as_tensor(verts, dtype=torch.int64, device=device)
        self.weights = torch.as_tensor(bary, dtype=torch.float32, device=device)


def newton_inverse(fwd: torch.Tensor, base: torch.Tensor, iters: int = NEWTON_ITERS
                   ) -> torch.Tensor:
    """(B, 2, h, w) normalized forward displacement D -> backward displacement q - p on the
    field's own cells (`base`, their identity grid (1, h, w, 2)), from q0 = p - D(p)."""
    return chord_newton(fwd, base, -fwd, iters)


def chord_newton(fwd: torch.Tensor, p: torch.Tensor, back: torch.Tensor,
                 iters: int = NEWTON_ITERS, keep_better: bool = False) -> torch.Tensor:
    """Solve q + D(q) = p for the backward displacement q - p (normalized units of the field
    `fwd` (B, 2, h, w)) at target points p (1 or B, h', w', 2), from `back` (B, 2, h', w'),
    by chord (frozen-Jacobian Newton) steps: the field and its central-difference Jacobian
    are sampled at the start once, (I + J)^-1 is kept, and later steps sample only D. Within
    a fraction of a pixel in three steps where the damped fixed point needs tens (under head
    turns the far cheek compresses and the fixed point crawls there; its error showed as a
    seam at the edge of the exactly inverted crease boxes). Where the map folds
    (det <= NEWTON_MIN_DET) the step is the damped fixed point's. `keep_better`: per point,
    the start where its residual is smaller than the result's (one more sample)."""
    b, _, h, w = fwd.shape
    pad = F.pad(fwd, (1, 1, 1, 1), mode="replicate")
    both = fwd.new_empty((b, 6, h, w))                     # D, dD/dx, dD/dy
    both[:, :2] = fwd
    # d/dx and d/dy in normalized units (a cell is 2/w by 2/h)
    torch.sub(pad[..., 1:-1, 2:], pad[..., 1:-1, :-2], out=both[:, 2:4]).mul_(0.25 * w)
    torch.sub(pad[..., 2:, 1:-1], pad[..., :-2, 1:-1], out=both[:, 4:6]).mul_(0.25 * h)
    del pad
    grid0 = p.expand(b, -1, -1, -1)
    inv: tuple[torch.Tensor, ...] = ()
    start, res0 = back, None
    for it in range(iters):
        src = both if it == 0 else fwd
        s = F.grid_sample(src, grid0 + back.permute(0, 2, 3, 1), mode="bilinear",
                          padding_mode="border", align_corners=False)
        if it == 0:
            a, c = s[:, 2] + 1.0, s[:, 4]                  # I + J = [[a, c], [b_, d]]
            b_, d = s[:, 3], s[:, 5] + 1.0
            det = a * d - c * b_
            ok = det > NEWTON_MIN_DET
            det = torch.where(ok, det, torch.ones_like(det))
            damp, zero = torch.full_like(det, DAMP), torch.zeros_like(det)
            inv = (torch.where(ok, d / det, damp), torch.where(ok, -c / det, zero),
                   torch.where(ok, -b_ / det, zero), torch.where(ok, a / det, damp))
        r = s[:, :2] + back                                # residual q + D(q) - p
        rx, ry = r[:, 0], r[:, 1]
        if it == 0:
            res0 = rx * rx + ry * ry
        sx, sy = inv[0] * rx + inv[1] * ry, inv[2] * rx + inv[3] * ry
        # near a fold (I + J nearly singular) a full step overshoots: never more than
        # NEWTON_MAX_GAIN times the residual
        ratio = (NEWTON_MAX_GAIN**2 * (rx * rx + ry * ry)
                 / (sx * sx + sy * sy).clamp_min(1e-20)).clamp_max_(1.0).sqrt_()
        back = back - torch.stack((sx * ratio, sy * ratio), 1)
    if keep_better and res0 is not None:
        res = _residual(fwd, p, back)
        back = torch.where((res0 < res)[:, None], start, back)
    return back


def _residual(fwd: torch.Tensor, base: torch.Tensor, back: torch.Tensor) -> torch.Tensor:
    """Squared |q + D(q) - p| per cell (normalized units), (B, h, w)."""
    d = F.grid_sample(fwd, base.expand(fwd.shape[0], -1, -1, -1) + back.permute(0, 2, 3, 1),
                      mode="bilinear", padding_mode="border", align_corners=False)
    return d.add_(back).square_().sum(1)


def _cell_centres(h: int, w: int, step: int) -> np.ndarray:
    gx, gy = np.meshgrid((np.arange(w) + 0.5) * step, (np.arange(h) + 0.5) * step)
    return np.column_stack([gx.ravel(), gy.ravel()])


def _barycentric(tri: Triangulation, h: int, w: int, step: int
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Per cell centre of an (h, w) grid of `step` px cells its triangle's vertices (n, 3) and
    clipped barycentric weights (n, 3)."""
    simplex = tri.locate_grid(h, w, step)
    missing = simplex < 0
    cells = _cell_centres(h, w, step)
    if missing.any():  # outside the hull (the frame's margins): nearest triangle
        simplex[missing] = tri.nearest(cells[missing])
    bary = np.clip(tri.barycentric(simplex, cells), 0.0, None)
    bary /= bary.sum(axis=1, keepdims=True)
    return tri.simplices[simplex], bary


def _person_cells(mask: np.ndarray | None, hc: int, wc: int, step: int) -> np.ndarray:
    """Coarse cells holding any of the person (grown by one cell); all cells without a mask."""
    if mask is None:
        return np.ones(hc * wc, dtype=bool)
    m = np.zeros((hc * step, wc * step), dtype=bool)
    m[: mask.shape[0], : mask.shape[1]] = np.asarray(mask) > 0
    cells: np.ndarray = np.asarray(m.reshape(hc, step, wc, step).any(axis=(1, 3)))
    grown = cells.copy()
    grown[1:] |= cells[:-1]
    grown[:-1] |= cells[1:]
    grown[:, 1:] |= grown[:, :-1].copy()
    grown[:, :-1] |= grown[:, 1:].copy()
    return grown.ravel()


def _identity_grid(h: int, w: int, device: torch.device) -> torch.Tensor:
    ys = (torch.arange(h, dtype=torch.float64) + 0.5) / h * 2.0 - 1.0
    xs = (torch.arange(w, dtype=torch.float64) + 0.5) / w * 2.0 - 1.0
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([gx, gy], dim=-1)[None].to(device=device, dtype=torch.float32)


def sample(source: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    """Warp a (1, C, H, W) source with a (B, h, w, 2) grid -> (B, C, h, w)."""
    src = source.expand(grid.shape[0], -1, -1, -1)
    return F.grid_sample(src, grid, mode="bilinear", padding_mode="border", align_corners=False)
