"""Filling unknown pixels from the known ones around them, without copying any structure.

One tool for two jobs: the background plate (the person area filled in from the background
around it, renderer.py) and the frame margin where the framing reaches beyond the portrait
(framing.py). A membrane (harmonic) fill takes the colour of the known pixels right at the
boundary and varies smoothly away from it: what is past an image edge reads as that edge,
softly extended, and can never contain a mirrored eye or face the way reflection padding does.
The margin uses a blurred edge extension (each edge line's own colours carried outward, more
blurred the farther out), which keeps a dark suit dark where a membrane fill would fade it to
the mean of all the edges.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

# torch and OpenCV are imported where the membrane fill runs (the renderer's set-up): the
# margin fill is also framing's, and `talkcli inspect` plans the framing without them
# (importing torch took 1.0-1.5 s of the command's 2.4).

_NEIGHBOURS = [[0.0, 0.25, 0.0], [0.25, 0.0, 0.25], [0.0, 0.25, 0.0]]
RELAX_ITERS = 40        # Jacobi relaxation steps per pyramid level ...
FINE_ITERS = 10         # ... but on levels over FINE_SIDE px, where the upsampled coarser
FINE_SIDE = 128         # solution leaves only fine error, which Jacobi removes fast (this
                        # halved the background plate's cost at 512²: a first-frame delay)
GRAIN_SCALE = 1.0       # the margin's grain: this times the edge's own fine-detail std
EDGE_BLUR = 1.0         # margin blur radius per px of distance from the image edge


def membrane_fill(img: torch.Tensor, weight: torch.Tensor, iters: int = RELAX_ITERS
                  ) -> torch.Tensor:
    """(1, C, H, W) image premultiplied by a 0/1-ish weight -> the weight-0 area filled by a
    harmonic interpolation of the known values: solved on the 2x coarser level first (known
    = area means), upsampled, then relaxed by Jacobi steps with the known pixels held."""
    import torch
    import torch.nn.functional as F

    from talkcli.render.remap import cv2 as _cv2

    h, w = img.shape[-2:]
    fixed = weight > 0.98
    value = img / weight.clamp_min(1e-6)
    if not bool(fixed.any()):
        return value
    if min(h, w) <= 8 or bool(fixed.all()):
        # coarsest level: start from the mean of what is known
        mean = (value * fixed).sum((-2, -1), keepdim=True) / fixed.sum((-2, -1), keepdim=True)
        guess = mean.expand_as(value)
    else:
        ci = F.avg_pool2d(img, 2, ceil_mode=True)
        cw = F.avg_pool2d(weight, 2, ceil_mode=True)
        coarse = membrane_fill(ci, cw, iters)
        guess = F.interpolate(coarse, size=(h, w), mode="bilinear", align_corners=False)
    keep = fixed.float()
    cur = value * keep + guess * (1.0 - keep)
    if min(h, w) > FINE_SIDE:
        iters = min(iters, FINE_ITERS)
    if img.device.type == "cpu" and _cv2 is not None and img.shape[0] == 1 \
            and img.shape[1] <= 4:
        return _relax_cv(cur, value, fixed, iters)
    kernel = torch.tensor(_NEIGHBOURS, dtype=img.dtype, device=img.device)
    kernel = kernel.expand(img.shape[1], 1, 3, 3).contiguous()
    for _ in range(iters):
        avg = F.conv2d(F.pad(cur, (1, 1, 1, 1), mode="replicate"), kernel,
                       groups=img.shape[1])
        cur = value * keep + avg * (1.0 - keep)
    return cur


def _relax_cv(cur: torch.Tensor, value: torch.Tensor, fixed: torch.Tensor, iters: int
              ) -> torch.Tensor:
    """The Jacobi steps of `membrane_fill` with OpenCV's 3x3 filter (channels-last), several
    times faster than torch's grouped conv2d on a core: the background plate is part of the
    time to the first frame. Same steps: the mean of the four neighbours (the border
    replicated), the known pixels held."""
    import torch

    from talkcli.render.remap import cv2 as _cv2

    c = cur.shape[1]

    def planes(t: torch.Tensor) -> np.ndarray:
        arr: np.ndarray = t[0].permute(1, 2, 0).contiguous().numpy()
        return arr[..., 0].copy() if c == 1 else arr

    now, known = planes(cur), planes(value)
    hold = fixed[0].amax(0).numpy()                     # (H, W): held in every channel
    if c > 1:
        hold = hold[..., None]
    kernel = np.array(_NEIGHBOURS, np.float32)
    avg = np.empty_like(now)
    for _ in range(iters):
        _cv2.filter2D(now, -1, kernel, dst=avg, borderType=_cv2.BORDER_REPLICATE)
        np.copyto(avg, known, where=hold)
        now, avg = avg, now
    out = torch.from_numpy(now)
    return (out[None, None] if c == 1 else out.permute(2, 0, 1)[None]).contiguous()


def extend_edges(image: np.ndarray, rect: tuple[int, int, int, int], grain: bool = True,
                 seed: int = 0) -> np.ndarray:
    """(H, W, C) or (H, W) float image that is real only inside `rect` (c0, r0, c1, r1:
    columns c0..c1-1, rows r0..r1-1) -> the rest filled as a blurred continuation of the
    nearest edge: a margin pixel at distance t from the rectangle takes the colour around its
    nearest edge pixel, blurred over EDGE_BLUR * t (a dark suit continues dark, a wall as the
    wall), plus (with `grain`) fine grain as strong as the edge's own (a noise-free band next
    to a photo's texture reads as pasted on). Nothing is reflected, so no feature near the
    edge can reappear beyond it. Pixels inside `rect` are returned unchanged."""
    squeeze = image.ndim == 2
    arr = np.ascontiguousarray(image[..., None] if squeeze else image, dtype=np.float32)
    h, w = arr.shape[:2]
    c0, r0, c1, r1 = max(0, rect[0]), max(0, rect[1]), min(w, rect[2]), min(h, rect[3])
    if (c0, r0, c1, r1) == (0, 0, w, h):
        return image
    if c1 <= c0 or r1 <= r0:
        out = np.full_like(arr, 0.5)
    else:
        out = _blurred_extension(arr, c0, r0, c1, r1)
        amount = _edge_grain(arr, c0, r0, c1, r1) * GRAIN_SCALE if grain else 0.0
        if amount > 0.0:
            rng = np.random.default_rng(seed)
            out = out + amount * rng.standard_normal((h, w, 1)).astype(np.float32)
        out[r0:r1, c0:c1] = arr[r0:r1, c0:c1]
    return out[..., 0] if squeeze else out


def _blurred_extension(arr: np.ndarray, c0: int, r0: int, c1: int, r1: int) -> np.ndarray:
    """Every pixel outside the rectangle: the image's outermost line on its side (the top,
    bottom, left or right edge), blurred along that line by EDGE_BLUR x the distance from
    the rectangle and read where the pixel projects onto it. Only the edge line is used, not
    what lies inside it (a 2-D blur would pull hair or a face just inside the edge out into
    the margin as a ghost); in the corners the two edges' values are blended by direction."""
    h, w = arr.shape[:2]
    content = arr[r0:r1, c0:c1]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32) + 0.5
    dx = np.maximum(np.maximum(c0 - xs, xs - c1), 0.0)     # px outside, horizontally
    dy = np.maximum(np.maximum(r0 - ys, ys - r1), 0.0)
    sigma = EDGE_BLUR * np.hypot(dx, dy)
    u = np.clip(xs - c0, 0.5, c1 - c0 - 0.5)               # position along a top/bottom line
    v = np.clip(ys - r0, 0.5, r1 - r0 - 0.5)               # ... along a left/right line
    band = min(2, content.shape[0], content.shape[1])
    top, bottom = content[:band].mean(0), content[-band:].mean(0)       # (Wc, C)
    left, right = content[:, :band].mean(1), content[:, -band:].mean(1)  # (Hc, C)
    horiz = np.where((ys < r0)[..., None], _line_at(top, u, sigma), _line_at(bottom, u, sigma))
    vert = np.where((xs < c0)[..., None], _line_at(left, v, sigma), _line_at(right, v, sigma))
    wh = (dy / np.maximum(dx + dy, 1e-6))[..., None]
    return (wh * horiz + (1.0 - wh) * vert).astype(np.float32)


def _line_at(line: np.ndarray, pos: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """(N, C) line read at positions `pos` (px, pixel centres at k + 0.5) after a blur of about
    `sigma` px: an area-mean pyramid of the line (level L ~ 2^L px), linear between levels."""
    levels = [line.astype(np.float64)]
    while levels[-1].shape[0] > 1 and len(levels) < 16:
        prev = levels[-1]
        if prev.shape[0] % 2:
            prev = np.concatenate([prev, prev[-1:]])
        levels.append(0.5 * (prev[0::2] + prev[1::2]))
    level = np.clip(np.log2(np.maximum(sigma, 1.0)), 0.0, len(levels) - 1)
    lo = np.floor(level).astype(int)
    frac = (level - lo)[..., None]
    out = np.zeros(pos.shape + (line.shape[1],))
    for k, lv in enumerate(levels):
        near = (lo == k) | (np.minimum(lo + 1, len(levels) - 1) == k)
        if not near.any():
            continue
        # pixel centres of level k sit at (j + 0.5) * 2^k in line px
        centres = (np.arange(lv.shape[0]) + 0.5) * 2.0**k
        p = pos[near]
        vals = np.stack([np.interp(p, centres, lv[:, c]) for c in range(lv.shape[1])], -1)
        wk = np.where((lo == k)[near], 1.0 - frac[near][:, 0], 0.0)
        wk = wk + np.where((np.minimum(lo + 1, len(levels) - 1) == k)[near] & (lo != k)[near],
                           frac[near][:, 0], 0.0)
        out[near] += wk[:, None] * vals
    return out


def _edge_grain(arr: np.ndarray, c0: int, r0: int, c1: int, r1: int, band: int = 6) -> float:
    """Robust std of the fine detail (pixel minus its 3x3 mean) in a band of content along
    its cut edges: how grainy the photo is where the fill starts."""
    h, w = arr.shape[:2]
    grey = arr[r0:r1, c0:c1].mean(axis=2)
    detail = np.abs(grey - _box3(grey))
    strips = []
    if c0 > 0:
        strips.append(detail[:, :band])
    if r0 > 0:
        strips.append(detail[:band, :])
    if c1 < w:
        strips.append(detail[:, -band:])
    if r1 < h:
        strips.append(detail[-band:, :])
    vals = np.concatenate([s.ravel() for s in strips]) if strips else np.zeros(0)
    return float(1.4826 * np.median(vals)) if vals.size >= 16 else 0.0


def _box3(image: np.ndarray) -> np.ndarray:
    """The 3x3 mean with the border replicated (scipy.ndimage.uniform_filter(image, 3,
    mode="nearest")), in the image's float dtype."""
    pad = np.pad(image.astype(np.float64), 1, mode="edge")
    h, w = image.shape
    total = np.zeros((h, w))
    for i in range(3):
        for j in range(3):
            total += pad[i:i + h, j:j + w]
    out: np.ndarray = (total / 9.0).astype(image.dtype)
    return out
