"""Colour measurements of a portrait that the mouth and eye compositors share (run once, at init).

All colours are float32 RGB tensors of shape (3,) in 0..1 on the image's device.
"""

from __future__ import annotations

import torch

from talkcli.face import regions
from talkcli.render.masks import band_frame, band_pixels, crop_grid, points_bbox

LUMA = (0.299, 0.587, 0.114)


def luminance(rgb: torch.Tensor, dim: int = 0) -> torch.Tensor:
    w = torch.tensor(LUMA, device=rgb.device, dtype=rgb.dtype)
    shape = [1] * rgb.dim()
    shape[dim] = 3
    return (rgb * w.view(shape)).sum(dim)


def band_region(image: torch.Tensor, xy: torch.Tensor, corners: tuple[int, int],
                upper: tuple[int, ...], lower: tuple[int, ...], margin: float = 2.0
                ) -> tuple[tuple[int, int, int, int], torch.Tensor, torch.Tensor] | None:
    """Pixels of one band region of the neutral mesh: (crop, pixels (3, h, w), inside-distance
    (h, w) px = min(d_up, d_low))."""
    h_img, w_img = image.shape[-2:]
    up = xy[list(upper)][None]
    low = xy[list(lower)][None]
    frame = band_frame(xy[corners[0]][None], xy[corners[1]][None], up, low)
    box = points_bbox(torch.cat((up, low), 1), margin, h_img, w_img)
    if box is None:
        return None
    x0, y0, h, w = box
    xs, ys = crop_grid(x0, y0, h, w, image.device)
    px = band_pixels(frame, xs, ys)
    inside = torch.minimum(px.d_up, px.d_low)[0]
    inside = torch.where(px.u[0].abs() < 0.5, inside, inside.new_tensor(-1.0))
    return box, image[:, y0:y0 + h, x0:x0 + w], inside


def median_colour(pixels: torch.Tensor, weight: torch.Tensor) -> torch.Tensor | None:
    """Per-channel median of (3, ...) pixels where weight > 0; None when there are none."""
    sel = pixels.reshape(3, -1)[:, weight.reshape(-1) > 0]
    if sel.shape[1] == 0:
        return None
    return sel.median(dim=1).values


def patch_median(image: torch.Tensor, centre: torch.Tensor, radius: float) -> torch.Tensor:
    h_img, w_img = image.shape[-2:]
    r = max(int(radius), 1)
    cx = int(centre[0].clamp(0, w_img - 1))
    cy = int(centre[1].clamp(0, h_img - 1))
    patch = image[:, max(cy - r, 0):cy + r + 1, max(cx - r, 0):cx + r + 1]
    return patch.reshape(3, -1).median(dim=1).values


def skin_colour(image: torch.Tensor, xy: torch.Tensor, interocular: float) -> torch.Tensor:
    """Median of two cheek patches (mesh 50 and 280)."""
    r = 0.06 * interocular
    a = patch_median(image, xy[50], r)
    b = patch_median(image, xy[280], r)
    return 0.5 * (a + b)


def eye_white(image: torch.Tensor, xy: torch.Tensor, exclude: list[tuple[torch.Tensor, float]]
              | None = None, min_pixels: int = 6) -> torch.Tensor | None:
    """The sclera colour: bright pixels inside both eye openings, away from the irises
    (`exclude` = [(centre (2,), radius px)]). None when no plausible sclera is visible."""
    samples = []
    for corners, upper, lower in (
        ((33, 133), regions.EYE_RIGHT_UPPER, regions.EYE_RIGHT_LOWER),
        ((263, 362), regions.EYE_LEFT_UPPER, regions.EYE_LEFT_LOWER),
    ):
        got = band_region(image, xy, corners, upper, lower)
        if got is None:
            continue
        (x0, y0, h, w), pixels, inside = got
        ok = inside > 1.0
        if exclude:
            xs, ys = crop_grid(x0, y0, h, w, image.device)
            for centre, radius in exclude:
                dist = ((xs[0] - centre[0]) ** 2 + (ys[0] - centre[1]) ** 2).sqrt()
                ok = ok & (dist > radius + 1.5)
        samples.append(pixels.reshape(3, -1)[:, ok.reshape(-1)])
    if not samples:
        return None
    sel = torch.cat(samples, 1)
    if sel.shape[1] < min_pixels:
        return None
    lum = luminance(sel)
    keep = lum >= torch.quantile(lum, 0.6)
    colour = sel[:, keep].median(dim=1).values
    return colour
