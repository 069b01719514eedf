"""The shadow of a lowered brow (AU4): brows drawn down over the eyes shade the skin between
them and the upper lids.

The warp alone moves the brows' pixels, but on faint or thin brows (the sample portrait, many
paintings) a moved brow barely changes the picture, and the landmarker (like a viewer) reads a
frown mostly from the darker fold under the brow. So the `brow_frown` channel also darkens a
soft band between the deformed brow and the deformed upper lid, three eighths of the way down
from the brow (on the upper lid's skin, where a lowered brow's overhang throws its shadow),
fading out before the lashes and beyond the eye's corners. Nothing changes at
`brow_frown` 0 (a neutral frame is the portrait).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from talkcli.face import regions
from talkcli.motion.latent import index
from talkcli.render.masks import band_frame, band_pixels, crop_grid, points_bbox

SHADOW = 0.35         # darkening at the band's centre at brow_frown 1
# the band's centre: this far from the brow toward the lid. Measured on Mona Lisa (no drawn
# brows, where the landmarker reads the frown from this shade alone), angry's brow share of
# the actor at 0.25/0.3/0.35/0.375/0.4/0.45: 0.52/0.61/0.68/0.75/0.70/0.46 (the sample's
# 0.89 -> 0.85); nearer the lashes the landmarker takes the shade for the lid itself
CENTRE = 0.375
HALF = 0.2            # its Gaussian half-width, x the brow-to-lid distance
REACH = 0.15          # it fades out this far (x eye width) beyond the eye's corners


@dataclass(frozen=True)
class _Side:
    corners: tuple[int, int]      # eye corners, image-left then image-right (mesh indices)
    brow: tuple[int, ...]         # the brow's upper row, image-left to image-right
    lid: tuple[int, ...]          # the upper lid, image-left to image-right


# (the subject's right eye is on the image left)
SIDES = (
    _Side((33, 133), (70, 63, 105, 66, 107), regions.EYE_RIGHT_UPPER),
    _Side((362, 263), (336, 296, 334, 293, 300), tuple(reversed(regions.EYE_LEFT_UPPER))),
)


class BrowShade:
    """Per portrait (its size); `composite` shades frames in place from the deformed mesh."""

    def __init__(self, height: int, width: int, device: torch.device | str = "cpu") -> None:
        self.height, self.width = height, width
        self.device = torch.device(device)
        self._frown = index("brow_frown")

    def composite(self, frames: torch.Tensor, points: torch.Tensor,
                  latents: torch.Tensor) -> torch.Tensor:
        """frames (B, 3, H, W) 0..1, modified in place; points (B, 468, 2|3) px; latents
        (B, C)."""
        frown = latents[:, self._frown].to(self.device, torch.float32).clamp(0.0, 1.0)
        if not bool((frown > 1e-3).any()):
            return frames
        xy = points[..., :2].to(self.device, torch.float32)
        for side in SIDES:
            self._shade(frames, xy, frown, side)
        return frames

    def _shade(self, frames: torch.Tensor, xy: torch.Tensor, frown: torch.Tensor,
               side: _Side) -> None:
        frame = band_frame(xy[:, side.corners[0]], xy[:, side.corners[1]],
                           xy[:, list(side.brow)], xy[:, list(side.lid)])
        reach = REACH * frame.length.amax()
        pts = torch.cat((xy[:, list(side.brow)], xy[:, list(side.lid)]), 1)
        box = points_bbox(pts, float(reach) + 2.0, self.height, self.width)
        if box is None:
            return
        x0, y0, h, w = box
        xs, ys = crop_grid(x0, y0, h, w, self.device)
        px = band_pixels(frame, xs, ys)
        gap = (px.d_up + px.d_low).clamp_min(1.0)             # brow-to-lid distance, px
        t = px.d_up / gap                                      # 0 at the brow, 1 at the lid
        band = torch.exp(-((t - CENTRE) / HALF).square())
        band = band * (1.0 - t).clamp(0.0, 0.3) / 0.3          # none on the lashes
        band = band * (t + 0.3).clamp(0.0, 0.3) / 0.3          # fades out above the brow
        beyond = (px.u.abs() - 0.5).clamp_min(0.0) * px.length  # px past the eye's corners
        along = (1.0 - beyond / (REACH * px.length)).clamp(0.0, 1.0)
        shade = 1.0 - SHADOW * frown.view(-1, 1, 1) * band * along
        frames[:, :, y0:y0 + h, x0:x0 + w].mul_(shade[:, None])
