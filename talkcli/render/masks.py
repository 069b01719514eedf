"""Soft masks for lip- and lid-shaped regions on small crops, batched in torch.

A mouth opening and an eye opening are both a *band*: an upper and a lower contour that run
from one corner to the other. Instead of rasterising a general polygon (an edge loop per pixel),
each frame gets a local frame (origin between the corners, u along the corner axis, v across
it, both in units of the corner distance L) and the two contours become 1-D tables v_up(u),
v_low(u) sampled at N points; each pixel then costs a gather and a few element-wise ops.

Pixel convention: pixel (row i, column j) has its centre at (x, y) = (j + 0.5, i + 0.5), the
continuous convention of grid_sample(align_corners=False) and of Pillow's transforms.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch

TABLE_SIZE = 48


@dataclass
class BandFrame:
    """Per-frame local frames of one band (B frames)."""

    origin: torch.Tensor   # (B, 2) px, midpoint of the corners
    e1: torch.Tensor       # (B, 2) unit vector corner A -> corner B (image-rightwards)
    e2: torch.Tensor       # (B, 2) unit normal, image-downwards
    length: torch.Tensor   # (B,) px corner distance
    v_up: torch.Tensor     # (B, N) upper contour, v / L at u = linspace(-0.5, 0.5, N)
    v_low: torch.Tensor    # (B, N) lower contour

    def to_local(self, xy: torch.Tensor) -> torch.Tensor:
        """(B, K, 2) px -> (B, K, 2) normalised (u, v)."""
        d = xy - self.origin[:, None, :]
        u = (d * self.e1[:, None, :]).sum(-1)
        v = (d * self.e2[:, None, :]).sum(-1)
        return torch.stack((u, v), -1) / self.length[:, None, None]

    def to_image(self, uv: torch.Tensor) -> torch.Tensor:
        """(B, K, 2) normalised (u, v) -> (B, K, 2) px."""
        s = uv * self.length[:, None, None]
        return (self.origin[:, None, :] + s[..., :1] * self.e1[:, None, :]
                + s[..., 1:] * self.e2[:, None, :])

    def table(self, contour: torch.Tensor, size: int = TABLE_SIZE) -> torch.Tensor:
        """Resample a (B, K, 2) px contour running corner A -> corner B as v(u) on the grid."""
        return contour_table(self.to_local(contour), size)


def band_frame(corner_a: torch.Tensor, corner_b: torch.Tensor, upper: torch.Tensor,
               lower: torch.Tensor, size: int = TABLE_SIZE) -> BandFrame:
    """corner_a/corner_b (B, 2) px; upper/lower (B, K, 2) px contours from A to B."""
    axis = corner_b - corner_a
    length = axis.norm(dim=-1).clamp_min(1e-3)
    e1 = axis / length[:, None]
    e2 = torch.stack((-e1[:, 1], e1[:, 0]), -1)
    origin = 0.5 * (corner_a + corner_b)
    frame = BandFrame(origin, e1, e2, length, upper.new_zeros(()), upper.new_zeros(()))
    frame.v_up = frame.table(upper, size)
    frame.v_low = frame.table(lower, size)
    return frame


def contour_table(uv: torch.Tensor, size: int = TABLE_SIZE) -> torch.Tensor:
    """(B, K, 2) local (u, v) -> (B, size) v sampled at u = linspace(-0.5, 0.5, size).

    u is forced monotone (landmark noise near the corners can fold it); outside the contour's
    u range the end values are held.
    """
    u = torch.cummax(uv[..., 0], dim=1).values.contiguous()
    v = uv[..., 1]
    k = u.shape[1]
    grid = torch.linspace(-0.5, 0.5, size, device=uv.device, dtype=uv.dtype)
    grid = grid.expand(u.shape[0], size).contiguous()
    hi = torch.searchsorted(u, grid).clamp(1, k - 1)
    lo = hi - 1
    u0, u1 = u.gather(1, lo), u.gather(1, hi)
    v0, v1 = v.gather(1, lo), v.gather(1, hi)
    t = ((grid - u0) / (u1 - u0).clamp_min(1e-6)).clamp(0.0, 1.0)
    return smooth_table(v0 + t * (v1 - v0))


def smooth_table(table: torch.Tensor) -> torch.Tensor:
    """Round the polygon's kinks: a 5-tap binomial filter along u (ends held)."""
    kernel = table.new_tensor([1.0, 4.0, 6.0, 4.0, 1.0]).div_(16.0).view(1, 1, 5)
    padded = torch.nn.functional.pad(table[:, None], (2, 2), mode="replicate")
    return torch.nn.functional.conv1d(padded, kernel)[:, 0]


@dataclass
class BandPixels:
    """Per-pixel band coordinates over one crop, all (B, h, w), in px unless noted."""

    u: torch.Tensor        # normalised along the corner axis (-0.5..0.5 between the corners)
    v: torch.Tensor        # normalised across
    d_up: torch.Tensor     # px below the upper contour (negative above it), perpendicular
    d_low: torch.Tensor    # px above the lower contour, perpendicular
    index: torch.Tensor    # (B, h*w) long table index of each pixel (for extra tables)
    frac: torch.Tensor     # (B, h*w) interpolation weight toward index + 1
    length: torch.Tensor   # (B, 1, 1) px corner distance
    up_v: torch.Tensor | None = None    # d_up measured along the band's normal (not slope-fixed)
    low_v: torch.Tensor | None = None

    def opening(self, shrink: float | torch.Tensor = 0.0) -> torch.Tensor:
        """Anti-aliased inside-mask of the band (B, h, w), optionally shrunk by px; zero beyond
        the corners."""
        along = soft_step((0.5 - self.u.abs()) * self.length - shrink)
        return soft_step(self.d_up - shrink) * soft_step(self.d_low - shrink) * along

    def lookup(self, table: torch.Tensor) -> torch.Tensor:
        """Any (B, N) table on the band's u grid, read at every pixel -> (B, h, w)."""
        a = table.gather(1, self.index)
        b = table.gather(1, self.index + 1)
        return (a + self.frac * (b - a)).view_as(self.u)


def take_frames(obj: Any, idx: torch.Tensor) -> Any:
    """A BandFrame or BandPixels of the frames `idx` only (each tensor's first dimension)."""
    values = {}
    for f in dataclasses.fields(obj):
        v = getattr(obj, f.name)
        values[f.name] = (v.index_select(0, idx) if isinstance(v, torch.Tensor) and v.dim() > 0
                          else v)
    return type(obj)(**values)


def crop_grid(x0: int, y0: int, h: int, w: int, device: torch.device,
              dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixel-centre coordinates of a crop: xs (1, 1, w), ys (1, h, 1)."""
    xs = torch.arange(w, device=device, dtype=dtype).add_(x0 + 0.5).view(1, 1, w)
    ys = torch.arange(h, device=device, dtype=dtype).add_(y0 + 0.5).view(1, h, 1)
    return xs, ys


def band_pixels(frame: BandFrame, xs: torch.Tensor, ys: torch.Tensor) -> BandPixels:
    """Evaluate the band's local coordinates at every pixel of a crop grid."""
    bsz = frame.origin.shape[0]
    inv = 1.0 / frame.length
    ox = frame.origin[:, 0].view(-1, 1, 1)
    oy = frame.origin[:, 1].view(-1, 1, 1)
    dx = xs - ox                                   # (B, 1, w)
    dy = ys - oy                                   # (B, h, 1)
    c1x = (frame.e1[:, 0] * inv).view(-1, 1, 1)
    c1y = (frame.e1[:, 1] * inv).view(-1, 1, 1)
    c2x = (frame.e2[:, 0] * inv).view(-1, 1, 1)
    c2y = (frame.e2[:, 1] * inv).view(-1, 1, 1)
    u = dx * c1x + dy * c1y                        # (B, h, w)
    v = dx * c2x + dy * c2y
    n = frame.v_up.shape[1]
    pos = ((u + 0.5) * (n - 1)).clamp_(0.0, n - 1.0001).view(bsz, -1)
    index = pos.long()
    frac = pos - index
    length = frame.length.view(-1, 1, 1)
    px = BandPixels(u, v, u, u, index, frac, length)
    # Vertical distances, turned into (approximately) perpendicular ones by the contour slope,
    # so steep stretches near the corners get the same soft edge as the flat middle.
    px.up_v = (v - px.lookup(frame.v_up)) * length
    px.low_v = (px.lookup(frame.v_low) - v) * length
    px.d_up = px.up_v * px.lookup(_slope_factor(frame.v_up))
    px.d_low = px.low_v * px.lookup(_slope_factor(frame.v_low))
    return px


def _slope_factor(table: torch.Tensor) -> torch.Tensor:
    """1 / sqrt(1 + (dv/du)^2) per table entry (B, N)."""
    n = table.shape[1]
    slope = torch.gradient(table, spacing=1.0 / (n - 1), dim=1)[0]
    return torch.rsqrt(1.0 + slope.square())


def soft_step(x: torch.Tensor, width: float = 1.0) -> torch.Tensor:
    """0 below -width/2, 1 above +width/2, linear between (anti-aliased edge)."""
    return (x / width + 0.5).clamp_(0.0, 1.0)


def points_bbox(points: torch.Tensor, margin: float, height: int, width: int
                ) -> tuple[int, int, int, int] | None:
    """Integer crop (x0, y0, h, w) covering (B, K, 2) px points of all frames plus a margin,
    clipped to the image; None when empty."""
    lo = points.reshape(-1, 2).amin(0) - margin
    hi = points.reshape(-1, 2).amax(0) + margin
    x0 = max(int(torch.floor(lo[0]).item()), 0)
    y0 = max(int(torch.floor(lo[1]).item()), 0)
    x1 = min(int(torch.ceil(hi[0]).item()), width)
    y1 = min(int(torch.ceil(hi[1]).item()), height)
    if x1 <= x0 or y1 <= y0:
        return None
    return x0, y0, y1 - y0, x1 - x0


def similarity_2d(src: torch.Tensor, dst: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor,
                                                                 torch.Tensor]:
    """Least-squares 2-D similarity per frame: src (K, 2) or (B, K, 2) -> dst (B, K, 2).

    Returns (a, src_mean, dst_mean) with a (B, 2) the complex factor (scale*cos, scale*sin):
    p -> a * (p - src_mean) + dst_mean in complex arithmetic.
    """
    if src.dim() == 2:
        src = src.expand_as(dst)
    ms, md = src.mean(1, keepdim=True), dst.mean(1, keepdim=True)
    s, d = src - ms, dst - md
    den = (s * s).sum((1, 2)).clamp_min(1e-9)
    re = (s[..., 0] * d[..., 0] + s[..., 1] * d[..., 1]).sum(1) / den
    im = (s[..., 0] * d[..., 1] - s[..., 1] * d[..., 0]).sum(1) / den
    return torch.stack((re, im), -1), ms[:, 0], md[:, 0]


def apply_similarity(a: torch.Tensor, ms: torch.Tensor, md: torch.Tensor,
                     pts: torch.Tensor) -> torch.Tensor:
    """Apply `similarity_2d`'s result to (K, 2) or (B, K, 2) points -> (B, K, 2)."""
    p = pts - ms[:, None, :]
    re, im = a[:, None, 0], a[:, None, 1]
    x = re * p[..., 0] - im * p[..., 1]
    y = im * p[..., 0] + re * p[..., 1]
    return torch.stack((x, y), -1) + md[:, None, :]
