"""Dense backward map from moved control points, and the grid_sample warp.

At init: a Delaunay triangulation of the NEUTRAL control points; for every cell of a
half-resolution grid its triangle's three vertices and barycentric weights; a full-resolution
triangle-id image of the neutral triangulation. Per frame:
1. the forward displacement field D(p) = sum_i w_i d_i is one `embedding_bag` (frames are the
   embedding dimension);
2. chord-Newton steps q <- q - (I + J)^-1 (q + D(q) - p) (grid_sample on D and, once, on its
   Jacobian) invert it to a fraction of a pixel everywhere (backward_disp_newton);
3. inside the crease boxes (lips, eye openings) the inverse is made exact by walking the
   piecewise-affine map: q <- A_t^-1 p with t the neutral triangle holding q, accepted when
   the new q lies in the triangle used, so lips and lids part and close with sharp edges;
4. the half-resolution backward displacement is upsampled bilinearly and added to the
   identity grid. With zero displacements the map is exactly the identity.

Pixel convention: pixel (row i, column j) has its centre at (x, y) = (j + 0.5, i + 0.5), the
convention of grid_sample(align_corners=False).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from scipy.spatial import Delaunay

FIELD_STEP = 2       # forward field / backward map resolution: 1 / FIELD_STEP
INVERT_ITERS = 6
WALK_ITERS = 3

DAMP = 0.6
NEWTON_ITERS = 3
FIXED_POINT_ITERS = 2
NEWTON_MIN_DET = 0.3
NEWTON_MAX_GAIN = 3.0


class DenseMap:
    """Control-point displacements -> full-resolution sampling grid (B, H, W, 2)."""

    def __init__(self, points2d: np.ndarray, width: int, height: int, device: torch.device,
                 step: int = FIELD_STEP,
                 walk_boxes: list[tuple[float, float, float, float]] | None = None,
                 crease_points: list[int] | None = None) -> None:
        self.width, self.height, self.device = width, height, device
        self.h, self.w = -(-height // step), -(-width // step)
        self.step_x, self.step_y = width / self.w, height / self.h
        tri = Delaunay(np.asarray(points2d, dtype=np.float64))
        self.triangles = tri.simplices
        ys = (np.arange(self.h) + 0.5) * self.step_y
        xs = (np.arange(self.w) + 0.5) * self.step_x
        gx, gy = np.meshgrid(xs, ys)
        cells = np.column_stack([gx.ravel(), gy.ravel()])
        simplex = tri.find_simplex(cells)
        missing = simplex < 0
        if missing.any():  # outside the hull: nearest triangle by centroid (should not happen)
            cents = tri.points[tri.simplices].mean(axis=1)
            near = np.argmin(((cells[missing, None] - cents[None]) ** 2).sum(-1), axis=1)
            simplex[missing] = near
        trans = tri.transform[simplex]
        bary2 = np.einsum("nij,nj->ni", trans[:, :2], cells - trans[:, 2])
        bary = np.column_stack([bary2, 1.0 - bary2.sum(axis=1)])
        bary = np.clip(bary, 0.0, None)
        bary /= bary.sum(axis=1, keepdims=True)
        verts = tri.simplices[simplex]
        self.indices = torch.as_tensor(verts.ravel(), dtype=torch.int64, device=device)
        self.weights = torch.as_tensor(bary.ravel(), dtype=torch.float32, device=device)
        self.offsets = torch.arange(0, 3 * len(cells), 3, dtype=torch.int64, device=device)
        # identity grids (normalized coords): low-res cell centres, full-res pixel centres
        self.low_grid = _identity_grid(self.h, self.w, device)
        self.full_grid = _identity_grid(height, width, device)
        self.to_norm = torch.tensor([2.0 / width, 2.0 / height], device=device)
        # for the exact (walking) inversion
        pts = np.asarray(points2d, dtype=np.float64)
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
        self.lut_w, self.lut_h = width, height
        lx, ly = np.meshgrid(np.arange(width) + 0.5, np.arange(height) + 0.5)
        lut = tri.find_simplex(np.column_stack([lx.ravel(), ly.ravel()]))
        if (lut < 0).any():
            lut[lut < 0] = simplex[0] if len(simplex) else 0
        self.lut = torch.as_tensor(lut, dtype=torch.int64, device=device)
        self.cell_px = torch.as_tensor(cells, dtype=torch.float32, device=device)
        # The exact walk only where the map has creases (lips, lids): elsewhere the field is
        # smooth and the fixed point is already exact to a fraction of a pixel.
        inside = np.zeros(len(cells), dtype=bool)
        for x0, y0, x1, y1 in walk_boxes or []:
            inside |= ((cells[:, 0] >= x0) & (cells[:, 0] <= x1)
                       & (cells[:, 1] >= y0) & (cells[:, 1] <= y1))
        self.walk_idx = torch.as_tensor(np.nonzero(inside)[0], dtype=torch.int64, device=device)

    def forward_field(self, disp: torch.Tensor) -> torch.Tensor:
        """(B, N, 2) px displacements -> (B, 2, h, w) normalized forward displacement."""
        b, n, _ = disp.shape
        table = (disp * self.to_norm).permute(1, 0, 2).reshape(n, b * 2)
        field = F.embedding_bag(self.indices, table, self.offsets, mode="sum",
                                per_sample_weights=self.weights)
        return field.view(self.h, self.w, b, 2).permute(2, 3, 0, 1).contiguous()

    def backward_disp(self, disp: torch.Tensor, iters: int = WALK_ITERS) -> torch.Tensor:
        """(B, N, 2) px -> (B, 2, h, w) normalized backward displacement q - p.

        The forward map is piecewise affine over the neutral triangulation, so its inverse is
        found exactly by walking: start from the chord-Newton inverse; then repeatedly take the
        triangle t that contains q (a lookup image) and set q = A_t^-1 (p) with A_t that triangle's
        deformed->neutral affine. A collapsed triangle (lips pressed, lids shut) is never
        entered, so no smeared seam; where triangles fold the walk settles on one layer."""
        b = disp.shape[0]
        start = self._robust_start(disp)
        if self.walk_idx.numel() == 0:
            return start
        q_all = start.permute(0, 2, 3, 1).reshape(b, -1, 2)   # normalized q - p
        px = self.cell_px[self.walk_idx]                       # (P, 2) output px of cells
        q = px[None] + q_all[:, self.walk_idx] / self.to_norm
        final = q.clone()
        coeff, flipped = self._backward_affines(disp)          # (B*T, 6), (B*T,)
        avoid = flipped & self.tri_free.repeat(b)
        tri_count = self.tri_src.shape[0]
        base = (torch.arange(b, device=self.device) * tri_count)[:, None]
        p_x, p_y = px[None, :, 0], px[None, :, 1]
        t = self._lookup(q)
        for _ in range(iters):
            c = coeff[(t + base).view(-1)].view(b, -1, 6)
            q = torch.stack((c[..., 0] * p_x + c[..., 1] * p_y + c[..., 2],
                             c[..., 3] * p_x + c[..., 4] * p_y + c[..., 5]), -1)
            t_new = self._lookup(q)
            # q lies in the triangle used (and that is no small fold off the creases)
            ok = ((t_new == t) & ~avoid[(t + base).view(-1)].view(b, -1)).unsqueeze(-1)
            final = torch.where(ok, q, final)
            t = t_new
        q_all[:, self.walk_idx] = (final - px[None]) * self.to_norm
        return q_all.view(b, self.h, self.w, 2).permute(0, 3, 1, 2)

    def _lookup(self, q: torch.Tensor) -> torch.Tensor:
        ix = q[..., 0].floor().clamp_(0, self.lut_w - 1).long()
        iy = q[..., 1].floor().clamp_(0, self.lut_h - 1).long()
        return self.lut[iy * self.lut_w + ix]

    def _backward_affines(self, disp: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per frame and triangle, the affine taking deformed (output) px to neutral px, and
        whether the triangle has turned over."""
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
        coeff = torch.stack((m00, m01, c0, m10, m11, c1), -1).view(b * self.tri_src.shape[0], 6)
        return coeff, flipped

    def backward_disp_fixed_point(self, disp: torch.Tensor, iters: int = INVERT_ITERS,
                                  fwd: torch.Tensor | None = None) -> torch.Tensor:
        """(B, N, 2) px -> (B, 2, h, w) normalized backward displacement q - p."""
        fwd = self.forward_field(disp) if fwd is None else fwd
        b = fwd.shape[0]
        base = self.low_grid.expand(b, -1, -1, -1)
        back = fwd.neg()  # q0 = p - D(p)
        for _ in range(iters):
            q = base + back.permute(0, 2, 3, 1)
            d_at_q = F.grid_sample(fwd, q, mode="bilinear", padding_mode="border",
                                   align_corners=False)
            # damped: q += a (p - f(q)); converges for local stretch J in (0, 2 / a)
            back = back.mul_(1.0 - DAMP).sub_(d_at_q, alpha=DAMP)
        return back

    def _robust_start(self, disp: torch.Tensor) -> torch.Tensor:
        """Per cell the better (smaller residual |q + D(q) - p|) of the chord-Newton inverse
        and the damped fixed point: Newton is exact to a fraction of a pixel over smooth
        compression, the fixed point safer next to the small folds beside the nose."""
        fwd = self.forward_field(disp)
        newton = self.backward_disp_newton(disp, NEWTON_ITERS, fwd=fwd)
        fixed = self.backward_disp_fixed_point(disp, FIXED_POINT_ITERS, fwd=fwd)
        base = self.low_grid.expand(fwd.shape[0], -1, -1, -1)

        def residual(back: torch.Tensor) -> torch.Tensor:
            d = F.grid_sample(fwd, base + back.permute(0, 2, 3, 1), mode="bilinear",
                              padding_mode="border", align_corners=False)
            d = d.add_(back).div_(self.to_norm[None, :, None, None])
            return (d[:, :1] * d[:, :1]).add_(d[:, 1:] * d[:, 1:])    # squared, px

        return torch.where(residual(newton) <= residual(fixed), newton, fixed)

    def backward_disp_newton(self, disp: torch.Tensor, iters: int = NEWTON_ITERS,
                             fwd: torch.Tensor | None = None) -> torch.Tensor:
        """(B, N, 2) px -> (B, 2, h, w) normalized backward displacement q - p, by chord
        (frozen-Jacobian Newton) steps on q + D(q) = p: the field and its central-difference
        Jacobian are sampled at q0 = p - D(p) once, (I + J)^-1 is kept, and later steps sample
        only D. Within a fraction of a pixel in three steps where the damped fixed point needs
        tens (under head turns the far cheek compresses and the fixed point crawls there; its
        error showed as a seam at the edge of the exactly inverted crease boxes). Where the
        map folds (det <= NEWTON_MIN_DET) the step is the damped fixed point's."""
        fwd = self.forward_field(disp) if fwd is None else fwd
        b = fwd.shape[0]
        pad = F.pad(fwd, (1, 1, 1, 1), mode="replicate")
        both = fwd.new_empty((b, 6, self.h, self.w))           # D, dD/dx, dD/dy
        both[:, :2] = fwd
        # d/dx and d/dy in normalized units (a cell is 2/w by 2/h)
        torch.sub(pad[..., 1:-1, 2:], pad[..., 1:-1, :-2], out=both[:, 2:4]).mul_(0.25 * self.w)
        torch.sub(pad[..., 2:, 1:-1], pad[..., :-2, 1:-1], out=both[:, 4:6]).mul_(0.25 * self.h)
        del pad
        base = self.low_grid.expand(b, -1, -1, -1)
        back = -fwd                                            # q0 - p = -D(p), (B, 2, h, w)
        inv: tuple[torch.Tensor, ...] = ()
        for it in range(iters):
            src = both if it == 0 else fwd
            s = F.grid_sample(src, base + back.permute(0, 2, 3, 1), mode="bilinear",
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
            sx, sy = inv[0] * rx + inv[1] * ry, inv[2] * rx + inv[3] * ry
            # near a fold (I + J nearly singular) a full step overshoots: never more than
            # NEWTON_MAX_GAIN times the residual
            ratio = (NEWTON_MAX_GAIN**2 * (rx * rx + ry * ry)
                     / (sx * sx + sy * sy).clamp_min(1e-20)).clamp_max_(1.0).sqrt_()
            back = back - torch.stack((sx * ratio, sy * ratio), 1)
        return back

    def grid(self, back: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
        """(B, 2, h, w) low-res backward displacement -> (B, H, W, 2) sampling grid."""
        up = F.interpolate(back, size=(self.height, self.width), mode="bilinear",
                           align_corners=False)
        res = torch.add(self.full_grid, up.permute(0, 2, 3, 1), out=out)
        return res


def _identity_grid(h: int, w: int, device: torch.device) -> torch.Tensor:
    ys = (torch.arange(h, dtype=torch.float64) + 0.5) / h * 2.0 - 1.0
    xs = (torch.arange(w, dtype=torch.float64) + 0.5) / w * 2.0 - 1.0
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([gx, gy], dim=-1)[None].to(device=device, dtype=torch.float32)


def sample(source: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    """Warp a (1, C, H, W) source with a (B, H, W, 2) grid -> (B, C, H, W)."""
    src = source.expand(grid.shape[0], -1, -1, -1)
    return F.grid_sample(src, grid, mode="bilinear", padding_mode="border", align_corners=False)
