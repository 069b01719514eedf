"""Eye compositing: irises that move with gaze inside lids that blink.

At init each eye's iris+pupil disc is cut out of the portrait as a sprite (soft circular alpha)
and painted out of `clean_base` with a shaded sclera colour, only inside the eye opening. The
renderer warps `clean_base`; per frame the sprite is pasted back at the iris centre (kept at its
place relative to the deformed eye corners, plus the gaze offset), clipped by the DEFORMED
eye-opening band (mesh EYE_* contours), so a closing lid hides the iris instead of smearing it.
With neutral latents and points the result is the portrait again.

A spectacle rim near an eye (a thin dark line spanning it) is cut out the same way: filled with
skin in `clean_base` and pasted back per frame, moved with the eye corners, so that a blink's
warp (which pulls the lid skin down) does not bend it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from talkcli.face import regions
from talkcli.motion.latent import index
from talkcli.render.masks import (
    BandFrame,
    band_frame,
    band_pixels,
    crop_grid,
    points_bbox,
    smooth_table,
    soft_step,
)
from talkcli.render.remap import cv2 as _cv2
from talkcli.render.shading import luminance, skin_colour

EYEBALL = 0.5            # eyeball radius, x eye width (corner to corner)
MIN_IRIS_PX = 4.0        # below this iris radius the eye is left alone
SHADOW = 0.28            # upper-lid shadow strength on a half-closed eye
LASH_WIDTH = 0.035       # closed lash line half-width, x eye width (corner to corner)
LID_DARKEN = 0.16        # the closed lid's skin is this much darker at the lash line ...
LID_TINT = (1.0, 0.95, 0.94)   # ... and a little pinker (the thin lid skin shows blood)
LID_PAINT_FROM = (0.3, 0.9)   # the lid skin is painted from this closure, full at this one
LID_FEATHER = 0.5        # the lid's top blends into the warped skin over this x its height
LID_BINS = 10            # lid-skin colour measured in this many strips across the eye
LID_QUANTILE = 0.4       # ... as this quantile of each strip's pixels
LID_BAND = 0.7           # ... over this x the opening above the lashes
LASH_ALPHA = 0.85        # the lash line's opacity at its middle (a drawn line is opaque)
LASH_TAPER = 0.5         # ... and its width at the corners, x its width at the middle
LASH_FRINGE = 1.8        # below the margin the lashes fade this many times more slowly
CORNER_CLAMP = 0.2       # near the canthi (radius x eye width) nothing is lighter than the lid
MIN_OPENING_PX = 2.0     # an eye opening under this (px) is left alone
LID_LIFT = 0.5           # the shut lid's brightness: this share towards the under-eye skin
LID_LIFT_MAX = 1.5       # ... whose brightness ratio to the lid band is capped at this
LID_LIFT_FROM = 1.2      # ... and counts only beyond this ratio
GRAIN_SIGMA = 1.5        # the lid skin's grain: the portrait minus its blur at this sigma (px)
GRAIN_CLIP = 2.5         # ... clipped at this x its median size on the lid band (no edges)
GRAIN_LIGHT = 0.0        # ... and at this share of that on its light side
GRAIN_NO_LINES = True   # ... less its lines along the lid (a crease: stripes on the shut lid)
RIM_DARK = 0.4           # a spectacle rim: pixels darker than this x the skin's luminance ...
RIM_MEAN = 0.3           # ... in a thin line this dark on average ...
RIM_SPAN = 0.8           # ... spanning at least this x the eye width ...
RIM_THICK = 0.2          # ... at most this x the eye width thick on average
RIM_REACH = (0.45, 0.6, 0.35)   # where a rim is looked for: x eye width beyond the corners,
# above the upper lid, below the lower lid (where a blink's warp moves the skin)
RIM_CUT = 0.3            # ... cut out up to this x eye width beside the eye, faded out beyond
RIM_EDGE = 3             # ... with its soft edge and shadow: the pixels this near (px)
RIM_ANCHOR = (0.5, 1.0)  # the layer moves with the mesh points this far (x eye width) beside
# the eye, where a blink's warp no longer reaches, and with the eye corners ...
RIM_SIGMA = 0.35         # ... their displacement interpolated with Gaussians this wide (x width)
RIM_FILL_ITERS = 300     # harmonic fill of the skin behind the rim (Jacobi steps)


@dataclass
class _Eye:
    name: str
    corners: tuple[int, int]          # image-left corner, image-right corner (mesh indices)
    upper: tuple[int, ...]            # mesh contour from corner A to corner B
    lower: tuple[int, ...]
    blink: int                        # latent channel
    enabled: bool = False
    centre_uv: torch.Tensor | None = None   # iris centre in the neutral band frame (normalised)
    radius: float = 0.0               # iris radius px (neutral)
    width0: float = 1.0               # neutral corner distance px
    angle0: float = 0.0               # neutral corner-axis angle (rad)
    sprite: torch.Tensor | None = None      # (1, 4, S, S): RGB + alpha of the iris disc
    sprite_origin: torch.Tensor | None = None  # (2,) px of the sprite's top-left corner
    opening0: float = 0.0
    centre0: torch.Tensor | None = None      # (2,) neutral iris centre px
    lash: torch.Tensor | None = None         # (3,) colour of the upper lid margin
    lid: torch.Tensor | None = None          # (3,) colour of the upper-lid skin
    lid_ok: bool = False              # the closing lid is drawn (any eye with an opening)
    v_up0: torch.Tensor | None = None        # (1, N) neutral upper contour, band table
    lid_table: torch.Tensor | None = None    # (3, N) upper-lid skin colour along the eye
    grain: float = 0.0                # the lid skin band's own detail amplitude (0..1 units)
    frame0: BandFrame | None = None            # neutral BandFrame (the lid texture's source)
    tex_band: tuple[float, float] = (0.0, 1.0)   # lid skin band: px above the lid, height
    tex_lines: torch.Tensor | None = None    # (3, K) the band's detail along the lid, by height
    rim: torch.Tensor | None = None          # (1, 4, h, w) premultiplied spectacle rim layer
    rim_origin: tuple[int, int] = (0, 0)     # px of its top-left corner
    rim_anchors: torch.Tensor | None = None  # (K,) mesh points the rim layer moves with
    corners0: torch.Tensor | None = None     # (K, 2) their neutral px


class EyeCompositor:
    """Build once per portrait; `clean_base` is what the renderer warps."""

    def __init__(self, base_image: torch.Tensor, base_points: torch.Tensor,
                 iris_left: torch.Tensor, iris_right: torch.Tensor, eye_left: torch.Tensor,
                 eye_right: torch.Tensor, device: torch.device | str = "cpu",
                 interocular: float | None = None) -> None:
        self.device = torch.device(device)
        self.base = base_image.to(self.device, torch.float32)
        self.height, self.width = int(self.base.shape[-2]), int(self.base.shape[-1])
        xy = torch.as_tensor(base_points, dtype=torch.float32, device=self.device)[:, :2]
        self.xy0 = xy
        if interocular is None:
            interocular = float((xy[list(regions.EYE_LEFT)].mean(0)
                                 - xy[list(regions.EYE_RIGHT)].mean(0)).norm())
        self.interocular = float(interocular)
        self.eyes = [
            _Eye("right", (33, 133), regions.EYE_RIGHT_UPPER, regions.EYE_RIGHT_LOWER,
                 index("blink_right")),
            _Eye("left", (362, 263), tuple(reversed(regions.EYE_LEFT_UPPER)),
                 tuple(reversed(regions.EYE_LEFT_LOWER)), index("blink_left")),
        ]
        irises = {"right": iris_right, "left": iris_left}
        self.clean_base = self.base.clone()
        self._detail_img: torch.Tensor | None = None
        self._skin = skin_colour(self.base, xy, self.interocular)
        for eye in self.eyes:
            self._prepare_rim(eye)
        # the portrait without its spectacle rims: what the lid's skin is measured on
        self._bare = self.clean_base.clone()
        for eye in self.eyes:
            iris = torch.as_tensor(irises[eye.name], dtype=torch.float32, device=self.device)
            self._prepare(eye, iris[:, :2])
        self._gaze = (index("gaze_yaw"), index("gaze_pitch"))

    # ------------------------------------------------------------------ setup
    def _band(self, eye: _Eye, xy: torch.Tensor):  # noqa: ANN202 - BandFrame
        return band_frame(xy[:, eye.corners[0]], xy[:, eye.corners[1]],
                          xy[:, list(eye.upper)], xy[:, list(eye.lower)])

    def _prepare(self, eye: _Eye, iris: torch.Tensor) -> None:
        frame = self._band(eye, self.xy0[None])
        width = float(frame.length[0])
        opening = float(((frame.v_low - frame.v_up)[0] * width).max())
        centre = iris[0]
        radius = float((iris[1:] - centre).norm(dim=-1).mean())
        radius = min(max(radius, 0.12 * width), 0.42 * width)
        eye.width0, eye.radius, eye.opening0 = width, radius, opening
        eye.angle0 = math.atan2(float(frame.e1[0, 1]), float(frame.e1[0, 0]))
        eye.centre_uv = frame.to_local(centre.view(1, 1, 2))[0, 0]
        eye.centre0 = centre.clone()
        if opening >= MIN_OPENING_PX:
            self._prepare_lid(eye, frame)
        if radius < MIN_IRIS_PX or opening < max(2.0, 0.1 * width):
            return          # too small, or closed in the portrait: leave this eye alone
        if not bool(eye.centre_uv[0].abs() < 0.5):
            return
        eye.enabled = True
        # Paint radius generously (landmark radii run small); the sprite carries a bit of sclera.
        r_paint = radius * 1.1 + 1.0
        box = points_bbox(torch.cat((self.xy0[list(eye.upper)], self.xy0[list(eye.lower)],
                                     (centre + r_paint + 3)[None], (centre - r_paint - 3)[None])),
                          2.0, self.height, self.width)
        if box is None:
            eye.enabled = False
            return
        x0, y0, h, w = box
        xs, ys = crop_grid(x0, y0, h, w, self.device)
        px = band_pixels(frame, xs, ys)
        dist = ((xs - centre[0]).square() + (ys - centre[1]).square()).sqrt()[0]
        inner = px.opening(1.0)[0]          # > 0 only where the clip below is 1
        m = (r_paint + 0.5 - dist).clamp(0.0, 1.0) * inner
        pixels = self.clean_base[:, y0:y0 + h, x0:x0 + w]      # (without a rim)
        fill = self._sclera(eye, px, pixels, dist, r_paint, inner)
        self.clean_base[:, y0:y0 + h, x0:x0 + w] = pixels + m * (fill - pixels)
        # Sprite: a square crop around the iris, alpha = disc of radius r_paint + 1.
        half = int(math.ceil(r_paint + 3))
        cx, cy = int(round(float(centre[0]))), int(round(float(centre[1])))
        sx0, sy0 = cx - half, cy - half
        size = 2 * half + 1
        sprite = torch.zeros(4, size, size, device=self.device)
        ix0, iy0 = max(sx0, 0), max(sy0, 0)
        ix1, iy1 = min(sx0 + size, self.width), min(sy0 + size, self.height)
        sprite[:3, iy0 - sy0:iy1 - sy0, ix0 - sx0:ix1 - sx0] = self.base[:, iy0:iy1, ix0:ix1]
        gx, gy = crop_grid(sx0, sy0, size, size, self.device)
        d = ((gx - centre[0]).square() + (gy - centre[1]).square()).sqrt()[0]
        sprite[3] = (r_paint + 1.5 - d).clamp(0.0, 1.0)
        # The part of the disc hidden under the lids in the portrait is lid, not iris: it must
        # not travel with the gaze. Fill it by extending the visible iris along each column.
        shown = band_pixels(frame, gx, gy).opening()[0]
        sprite[:3] = _extend_columns(sprite[:3], shown, sprite[3] > 0)
        # Premultiply so bilinear sampling does not bleed outside colours into the edge.
        sprite[:3] *= sprite[3:]
        eye.sprite = sprite[None]
        eye.sprite_origin = torch.tensor([float(sx0), float(sy0)], device=self.device)
        eye.radius = r_paint

    def _prepare_rim(self, eye: _Eye) -> None:
        """A spectacle frame's rim near the eye (a thin dark line spanning the eye, outside its
        opening) belongs to the head, not to the lid: the blink's warp would bend it down with
        the lid skin. It is cut out as a layer (pasted back per frame, anchored to the eye
        corners, which a blink does not move) and the skin behind it filled in `clean_base`."""
        up, lo = self.xy0[list(eye.upper)], self.xy0[list(eye.lower)]
        width = float((up[0] - up[-1]).norm())
        if width < 8.0:
            return
        side, above, below = (r * width for r in RIM_REACH)
        box = points_bbox(torch.stack((torch.stack((up[:, 0].min() - side, up[:, 1].min() - above)),
                                       torch.stack((up[:, 0].max() + side,
                                                    lo[:, 1].max() + below))))[None],
                          0.0, self.height, self.width)
        if box is None:
            return
        x0, y0, h, w = box
        crop = self.base[:, y0:y0 + h, x0:x0 + w]
        lum = luminance(crop).cpu().numpy()
        ref = float(luminance(self._skin))
        outline = torch.cat((up, lo.flip(0))) - torch.tensor([x0, y0], device=self.device)
        opening = _polygon_mask(outline.cpu().numpy(), h, w)
        opening = dilate(opening, max(2, int(0.1 * width)))
        dark = (lum < RIM_DARK * ref) & ~opening
        n, lab = _cv2.connectedComponents(dark.astype(np.uint8), connectivity=4)
        rim = np.zeros_like(dark)
        for k in range(1, n):
            part = lab == k
            cols = np.nonzero(part.any(0))[0]
            span = cols[-1] - cols[0] + 1
            if (span >= RIM_SPAN * width and part.sum() <= RIM_THICK * width * span
                    and lum[part].mean() <= RIM_MEAN * ref):
                rim |= part
        if not rim.any():
            return
        # the rim's soft edge and shadow go with it (so the skin filled in behind it is
        # anchored on clean skin), pasted back with a 1.5-px fringe
        cut = dilate(rim, RIM_EDGE)
        fringe = _cv2.distanceTransform((~cut).astype(np.uint8), _cv2.DIST_L2,
                                        _cv2.DIST_MASK_PRECISE)
        alpha = np.clip(1.0 - fringe / 1.5, 0.0, 1.0)
        # Beside the eye the layer fades out over the rim left in place (the warp and the layer
        # move a little differently there under head motion: a cut end would show as a step)
        gx = np.arange(w) + x0 + 0.5
        beyond = np.maximum(float(up[:, 0].min()) - gx, gx - float(up[:, 0].max())) / width
        fade = np.clip((RIM_REACH[0] - beyond) / (RIM_REACH[0] - RIM_CUT), 0.0, 1.0)[None, :]
        cut &= fade >= 1.0
        alpha = torch.from_numpy(alpha * fade).float().to(self.device)
        hole = torch.from_numpy(cut).to(self.device)
        self.clean_base[:, y0:y0 + h, x0:x0 + w] = _fill_hole(crop, hole, RIM_FILL_ITERS)
        eye.rim = (torch.cat((crop * alpha, alpha[None])))[None].contiguous()
        eye.rim_origin = (x0, y0)
        # Anchors: the corners and the mesh points at the eye's height beside it, past where
        # a blink moves the skin (the layer then moves as the warp does at its ends)
        xs = self.xy0[:, 0]
        beyond = torch.maximum(up[:, 0].min() - xs, xs - up[:, 0].max())
        near = ((beyond >= RIM_ANCHOR[0] * width) & (beyond <= RIM_ANCHOR[1] * width)
                & (self.xy0[:, 1] >= up[:, 1].min() - 0.1 * width)
                & (self.xy0[:, 1] <= lo[:, 1].max() + 0.1 * width))
        idx = torch.cat((torch.tensor(eye.corners, device=self.device),
                         torch.nonzero(near).view(-1)))
        eye.rim_anchors = idx
        eye.corners0 = self.xy0[idx].clone()

    def _prepare_lid(self, eye: _Eye, frame) -> None:  # noqa: ANN001 - BandFrame
        """The closing lid's colours: the lash colour (darkest pixels along the upper lid
        margin) and the upper-lid skin's colour in LID_BINS strips across the eye, measured
        on the skin between the lashes and the brow (as high as the eye is open)."""
        opening = eye.opening0
        reach = max(3.0, 1.1 * opening) + 3.0
        pts = torch.cat((self.xy0[list(eye.upper)], self.xy0[list(eye.lower)]))
        lo, hi = pts.amin(0), pts.amax(0)
        down = torch.tensor([0.0, reach], device=self.device)
        box = points_bbox(torch.stack((lo - down, hi + down))[None], 2.0, self.height,
                          self.width)
        if box is None:
            return
        x0, y0, h, w = box
        xs, ys = crop_grid(x0, y0, h, w, self.device)
        px = band_pixels(frame, xs, ys)
        assert px.up_v is not None  # band_pixels sets it
        pixels = self._bare[:, y0:y0 + h, x0:x0 + w].reshape(3, -1)
        u = px.u[0].reshape(-1)
        above = -px.up_v[0].reshape(-1)                   # px above the upper contour
        margin = (above > -1.5) & (above < 2.5) & (u.abs() < 0.4)
        sel = pixels[:, margin]
        if sel.shape[1] >= 4:
            lum = luminance(sel)
            eye.lash = sel[:, lum <= torch.quantile(lum, 0.25)].median(dim=1).values
        else:
            eye.lash = self._skin * 0.35
        # skin above the lashes (which are ~ a tenth of the eye width thick, more on drawings)
        a0 = max(2.0, 0.12 * eye.width0, 0.3 * opening)
        skin = (above > a0) & (above < a0 + max(3.0, LID_BAND * opening)) & (u.abs() < 0.5)
        sel = pixels[:, skin]
        eye.lid = sel.median(dim=1).values if sel.shape[1] >= 4 else self._skin
        eye.lid = torch.maximum(eye.lid, eye.lash)
        n = frame.v_up.shape[1]
        # a little below the median: the lid must not come out lighter than its skin
        eye.lid_table = self._strip_table(pixels, skin, u, LID_QUANTILE, eye.lid, n)
        eye.lid_table = eye.lid_table * self._lid_lift(eye, pixels, skin, px, u)
        # The closed lid carries this same band's fine grain (a flat colour reads as pasted on,
        # on a painting's craquelure or a photo's grain), but not its shapes: a crease or a
        # glasses frame copied onto the lid reads as an open eye. So only the detail, clipped
        # at GRAIN_CLIP x its typical size here.
        detail = self._detail()[:, y0:y0 + h, x0:x0 + w].reshape(3, -1)[:, skin]
        eye.grain = float(detail.abs().median()) * GRAIN_CLIP if detail.numel() else 0.0
        eye.tex_band = (a0, max(3.0, LID_BAND * opening))
        eye.frame0 = frame
        eye.v_up0 = frame.v_up.clone()
        eye.tex_lines = self._band_lines(eye) if GRAIN_NO_LINES else None
        eye.lid_ok = True

    def _lid_lift(self, eye: _Eye, pixels: torch.Tensor, skin: torch.Tensor, px,  # noqa: ANN001
                  u: torch.Tensor) -> float:
        """How much lighter the closed lid is than the skin it was measured on. Shut, the
        upper lid bulges over the eyeball and faces the light as the lower lid does, while
        the skin measured above the open eye lies back in the socket's shadow: a lid painted
        in that shadow is a dark almond (an eye still open, to a viewer and the landmarker).
        So the lid takes LID_LIFT of the way (in log brightness) towards the skin under the
        eye where that is lighter, never darker."""
        assert px.low_v is not None
        below = -px.low_v[0].reshape(-1)
        band = max(3.0, LID_BAND * eye.opening0)
        under = (below > 2.0) & (below < 2.0 + band) & (u.abs() < 0.4)
        if int(under.sum()) < 4 or int(skin.sum()) < 4:
            return 1.0
        ratio = float(luminance(pixels[:, under].median(dim=1).values)
                      / luminance(pixels[:, skin].median(dim=1).values).clamp_min(1e-3))
        # (a little lighter under the eye is ordinary top light: only a shadowed socket lifts)
        return min(max(ratio / LID_LIFT_FROM, 1.0), LID_LIFT_MAX) ** LID_LIFT

    def _detail(self) -> torch.Tensor:
        """(3, H, W) the portrait minus its Gaussian blur (sigma GRAIN_SIGMA px), once."""
        if self._detail_img is None:
            r = int(math.ceil(3 * GRAIN_SIGMA))
            k = torch.exp(-0.5 * (torch.arange(-r, r + 1, device=self.device) / GRAIN_SIGMA)
                          .square())
            k = (k / k.sum()).view(1, 1, 1, -1).expand(3, 1, 1, -1)
            img = F.pad(self._bare[None], (r, r, r, r), mode="replicate")
            blur = F.conv2d(F.conv2d(img, k, groups=3), k.transpose(-1, -2), groups=3)
            self._detail_img = self._bare - blur[0]
        return self._detail_img

    def _strip_table(self, pixels: torch.Tensor, skin: torch.Tensor, u: torch.Tensor, q: float,
                     fallback: torch.Tensor, n: int) -> torch.Tensor:
        """(3, n) quantile `q` of the `skin` pixels' colour in LID_BINS strips across the eye,
        interpolated onto the band table's u grid."""
        cols = []
        for k in range(LID_BINS):
            lo_u, hi_u = -0.5 + k / LID_BINS, -0.5 + (k + 1) / LID_BINS
            part = pixels[:, skin & (u >= lo_u - 0.05) & (u < hi_u + 0.05)]
            cols.append(part.quantile(q, dim=1) if part.shape[1] >= 3 else fallback)
        centres = torch.linspace(-0.5 + 0.5 / LID_BINS, 0.5 - 0.5 / LID_BINS, LID_BINS,
                                 device=self.device)
        table = torch.stack(cols, 1)                      # (3, LID_BINS)
        # a strip that caught something else (a glasses frame, a shadow) must not show as a
        # patch of its own: each strip takes the median of itself and its neighbours
        padded = torch.cat((table[:, :1], table, table[:, -1:]), 1)
        table = padded.unfold(1, 3, 1).median(dim=-1).values
        grid = torch.linspace(-0.5, 0.5, n, device=self.device)
        pos = ((grid - centres[0]) / (centres[1] - centres[0])).clamp(0, LID_BINS - 1)
        i0 = pos.floor().long().clamp(max=LID_BINS - 2)
        t = pos - i0
        return smooth_table(table[:, i0] * (1 - t) + table[:, i0 + 1] * t)

    def _sclera(self, eye: _Eye, px, pixels: torch.Tensor, dist: torch.Tensor,  # noqa: ANN001
                r_paint: float, inner: torch.Tensor) -> torch.Tensor:
        """Shaded eye-white fill (3, h, w) for the crop."""
        ok = (inner > 0.5) & (dist > r_paint + 1.5)
        sel = pixels.reshape(3, -1)[:, ok.reshape(-1)]
        white = None
        if sel.shape[1] >= 6:
            lum = luminance(sel)
            bright = sel[:, (lum >= torch.quantile(lum, 0.5)) & (lum <= torch.quantile(lum, 0.9))]
            cand = bright.median(dim=1).values
            if luminance(cand) > 0.75 * luminance(self._skin):
                white = cand
        if white is None:
            skin = self._skin
            white = (0.35 * skin + 0.65 * float(luminance(skin).clamp(0.3, 0.9)) * 1.15)
        white = white.clamp(0.0, 1.0)
        opening = max(eye.opening0, 1.0)
        top = torch.exp(-px.d_up[0].clamp_min(0.0) / (0.3 * opening))
        corner = (2.0 * px.u[0]).abs().clamp(max=1.0).pow(3)
        shade = 1.0 - 0.25 * top - 0.2 * corner
        fill = white.view(3, 1, 1) * shade
        return fill * _row_gain(pixels, fill, ok, dist <= r_paint + 0.5)


    # ------------------------------------------------------------------ per batch
    def composite(self, frames: torch.Tensor, points: torch.Tensor,
                  latents: torch.Tensor | None = None) -> torch.Tensor:
        """frames (B, 3, H, W) 0..1 (modified in place and returned); points (B, 468, 3) px;
        latents (B, C) in CHANNELS order."""
        bsz = frames.shape[0]
        xy = points[..., :2].to(self.device, torch.float32)
        if latents is None:
            lat = torch.zeros(bsz, max(self._gaze) + 1, device=self.device)
        else:
            lat = torch.as_tensor(latents, device=self.device, dtype=torch.float32)
        for eye in self.eyes:
            if eye.enabled:
                self._composite_eye(eye, frames, xy, lat)
            if eye.lid_ok:
                self._composite_lid(eye, frames, xy)
        for eye in self.eyes:
            if eye.rim is not None:
                self._composite_rim(eye, frames, xy)
        return frames

    def _composite_rim(self, eye: _Eye, frames: torch.Tensor, xy: torch.Tensor) -> None:
        """Paste the spectacle rim back, moved as the eye corners and the skin beside the eye
        move (the head's motion, not the lid's)."""
        assert eye.rim is not None and eye.corners0 is not None and eye.rim_anchors is not None
        # the anchors' displacement, interpolated smoothly between them (Gaussian weights)
        src0 = eye.corners0                                             # (K, 2)
        cur = xy[:, eye.rim_anchors]                                    # (B, K, 2)
        disp = cur - src0
        _, _, rh, rw = eye.rim.shape
        rx0, ry0 = eye.rim_origin
        lo_d, hi_d = disp.amin(1), disp.amax(1)                         # (B, 2)
        box = points_bbox(torch.stack((torch.tensor([rx0, ry0], device=self.device) + lo_d,
                                       torch.tensor([rx0 + rw, ry0 + rh], device=self.device)
                                       + hi_d), 1), 1.0, self.height, self.width)
        if box is None:
            return
        x0, y0, h, w = box
        xs, ys = crop_grid(x0, y0, h, w, self.device)
        sig2 = 2.0 * (RIM_SIGMA * eye.width0) ** 2
        dx = xs[..., None] - cur[:, None, None, :, 0]                   # (B, h, w, K)
        dy = ys[..., None] - cur[:, None, None, :, 1]
        wgt = torch.exp(-(dx.square() + dy.square() - (dx.square() + dy.square()).amin(
            -1, keepdim=True)) / sig2)
        wgt = wgt / wgt.sum(-1, keepdim=True)
        px_ = xs - (wgt * disp[:, None, None, :, 0]).sum(-1)
        py_ = ys - (wgt * disp[:, None, None, :, 1]).sum(-1)
        bsz = frames.shape[0]
        grid = torch.stack(((px_ - rx0) * (2.0 / rw) - 1.0, (py_ - ry0) * (2.0 / rh) - 1.0), -1)
        layer = F.grid_sample(eye.rim, grid.view(1, bsz * h, w, 2), mode="bilinear",
                              padding_mode="zeros", align_corners=False)
        layer = layer.view(4, bsz, h, w).transpose(0, 1)
        crop = frames[:, :, y0:y0 + h, x0:x0 + w]
        crop.mul_(1.0 - layer[:, 3:]).add_(layer[:, :3])

    def _composite_lid(self, eye: _Eye, frames: torch.Tensor, xy: torch.Tensor) -> None:
        """The upper lid's skin over what it has come down across (how far the deformed upper
        contour is below its neutral place, in the eye's own frame), shaded darker and pinker
        towards one lash line at its edge. Replaces whatever the warp squeezed there (lashes
        dragged along, slivers of sclera), so a closed eye is lid skin down to one line."""
        assert eye.v_up0 is not None and eye.lid_table is not None and eye.lash is not None
        frame = self._band(eye, xy)
        cover = self._lid_cover(eye, frame)
        if not bool((cover > 0.0).any()):
            return
        sel = cover.amax(1) > 0.0
        top = (1.0 + LID_FEATHER) * float(cover.amax()) + 4.0
        pts = torch.cat((xy[sel][:, list(eye.upper)], xy[sel][:, list(eye.lower)]), 1)
        # (wide enough for the corner clamp's falloff: a cut-off one shows the crop's edge)
        box = points_bbox(pts, 2.0 + self._corner_radius(eye), self.height, self.width)
        if box is None:
            return
        x0, y0, h, w = box
        y_top = max(y0 - int(math.ceil(top)), 0)
        h, y0 = h + (y0 - y_top), y_top
        crop = frames[:, :, y0:y0 + h, x0:x0 + w]
        if bool(sel.all()):
            self._paint_lid(eye, crop, xy, frame, cover, (x0, y0, h, w))
            return
        # only the frames whose lid has come down (a blink spans a few frames of a batch)
        idx = torch.nonzero(sel).view(-1)
        part = crop.index_select(0, idx)
        sub = self._band(eye, xy[idx])
        self._paint_lid(eye, part, xy[idx], sub, self._lid_cover(eye, sub), (x0, y0, h, w))
        crop.index_copy_(0, idx, part)

    @staticmethod
    def _lid_cover(eye: _Eye, frame) -> torch.Tensor:  # noqa: ANN001 - BandFrame
        """(B, N) px the upper contour has come down from its neutral place."""
        assert eye.v_up0 is not None
        cover = ((frame.v_up - eye.v_up0) * frame.length[:, None]).clamp_min(0.0)
        return (cover - 0.5).clamp_min(0.0)      # landmark/projection noise is no blink

    def _paint_lid(self, eye: _Eye, crop: torch.Tensor, xy: torch.Tensor, frame,  # noqa: ANN001
                   cover: torch.Tensor, box: tuple[int, int, int, int]) -> None:
        """Paint the lid into `crop` (B, 3, h, w), the frames' box (x0, y0, h, w)."""
        assert eye.lash is not None
        x0, y0, h, w = box
        length = frame.length[:, None]
        # The lash line is the upper lid's margin, the deformed upper contour: when the lids
        # cross (a full blink comes past the lower lid), the upper lid is in front.
        edge = frame.v_up
        xs, ys = crop_grid(x0, y0, h, w, self.device)
        px = band_pixels(frame, xs, ys)
        lc = px.length
        d = (px.lookup(edge) - px.v) * lc                    # px above the lash line
        c = px.lookup(cover)                                 # px of lid come down here
        feather = LID_FEATHER * c + 1.0
        along = soft_step((0.5 - px.u.abs()) * lc)
        # 1 from just below the lash line up to the lid's top (where its margin was), fading
        # into the warped skin above it (a half-covered top let the stretched skin show
        # through inside the eye: a light seam)
        a = (soft_step(d + 1.0) * ((c + feather - d) / feather).clamp(0.0, 1.0)
             * along * (c / 0.75).clamp(max=1.0))
        # where the lids touch or cross, whatever the warp squeezed between them near the
        # corners (a sliver of sclera) is lid too, however little the lid came down there
        closure = (cover.amax(1) / (0.8 * eye.opening0 * frame.length / eye.width0)).clamp(
            0.0, 1.0).view(-1, 1, 1)                # this frame's blink, 0 open .. 1 shut
        shut = px.lookup(soft_step((frame.v_up - frame.v_low) * length + 1.5)) * closure
        # a half-closed lid is the warped lid itself: painted skin there showed as a pale
        # crescent above the lash line and a hard wedge at its ends (the paint comes in only
        # as the lids meet)
        t = ((closure - LID_PAINT_FROM[0]) / (LID_PAINT_FROM[1] - LID_PAINT_FROM[0])).clamp(
            0.0, 1.0)
        a = a * (t * t * (3.0 - 2.0 * t))
        # (a few px at the line only: a full-height hard-edged patch reads as pasted on)
        a = torch.maximum(a, shut * soft_step(d + 1.0) * ((4.0 - d) / 2.0).clamp(0.0, 1.0)
                          * along)
        s = (d / c.clamp_min(1.0)).clamp(0.0, 1.0)           # 0 at the lash line, 1 at the top
        k = (1.0 - s).pow(4)       # darker near the lash line only (a wide dark band
        # reads as an eye still open to the landmarker and to a viewer)
        tint = torch.tensor(LID_TINT, device=self.device).view(1, 3, 1, 1)
        shade = 1.0 - LID_DARKEN * k[:, None]
        colour = self._lid_texture(eye, px, d)
        colour = colour * shade * (1.0 + (tint - 1.0) * k[:, None])
        before = crop.clone()
        crop.add_(a[:, None] * (colour - crop))
        # one lash line at the lid's edge, as thick as the lid has come down allows: tapering
        # toward the corners, the lashes hanging down as a softer fringe below the margin
        taper = 1.0 - (1.0 - LASH_TAPER) * (2.0 * px.u).square().clamp(max=1.0)
        half = (LASH_WIDTH * lc + 0.4) * taper
        x = d - 0.3 * half
        x = torch.where(x < 0.0, x / LASH_FRINGE, x)
        line = (-(x / half).square()).exp() * along * (c / (2.0 * half)).clamp(max=1.0)
        line = line * (LASH_ALPHA + (1.0 - LASH_ALPHA) * (1.0 - taper) / (1.0 - LASH_TAPER))
        crop.add_(line[:, None] * (eye.lash.view(1, 3, 1, 1) - crop))
        self._clamp_corners(eye, crop, before, xy, xs, ys, colour, closure)

    def _grain_at(self, eye: _Eye, u: torch.Tensor, v_up: torch.Tensor, t: torch.Tensor
                  ) -> torch.Tensor:
        """(B, 3, h, w) the lid band's clipped fine detail at (u along the eye, t px above
        the lid skin band's bottom), the neutral upper contour being at v_up there."""
        assert eye.frame0 is not None
        f0 = eye.frame0
        bsz, h, w = u.shape
        a0, _ = eye.tex_band
        v = v_up - (a0 + t) / eye.width0
        x = f0.origin[0, 0] + (u * f0.e1[0, 0] + v * f0.e2[0, 0]) * eye.width0
        y = f0.origin[0, 1] + (u * f0.e1[0, 1] + v * f0.e2[0, 1]) * eye.width0
        grid = torch.stack((x * (2.0 / self.width) - 1.0, y * (2.0 / self.height) - 1.0), -1)
        tex = F.grid_sample(self._detail()[None], grid.view(1, bsz * h, w, 2), mode="bilinear",
                            padding_mode="border", align_corners=False)
        # (its light specks clipped harder: a speck lighter than the lid reads as a seam)
        return tex.view(3, bsz, h, w).transpose(0, 1).clamp(-eye.grain, GRAIN_LIGHT * eye.grain)

    def _band_lines(self, eye: _Eye) -> torch.Tensor:
        """(3, K) the lid band's clipped detail averaged along the eye (|u| < 0.4) at K
        heights over the band: what in it runs along the lid."""
        assert eye.v_up0 is not None
        _, band = eye.tex_band
        k = max(4, int(math.ceil(band)) + 1)
        n = eye.v_up0.shape[1]
        u = torch.linspace(-0.4, 0.4, 33, device=self.device)
        pos = (u + 0.5) * (n - 1)
        i0 = pos.floor().long().clamp(max=n - 2)
        v_up = eye.v_up0[0, i0] + (pos - i0) * (eye.v_up0[0, i0 + 1] - eye.v_up0[0, i0])
        t = torch.linspace(0.0, band, k, device=self.device)
        grain = self._grain_at(eye, u.view(1, 1, -1).expand(1, k, -1),
                               v_up.view(1, 1, -1).expand(1, k, -1),
                               t.view(1, -1, 1).expand(1, -1, 33))
        return grain[0].mean(-1)

    def _lid_texture(self, eye: _Eye, px, d: torch.Tensor) -> torch.Tensor:  # noqa: ANN001
        """(B, 3, h, w) the closed lid's skin: the portrait's own lid skin band (between the
        lashes and the brow, as measured in _prepare_lid) laid down from the lash line, folded
        back and forth across the band's height, at the same place along the eye, and scaled
        to the lid colour."""
        assert eye.lid_table is not None and eye.v_up0 is not None
        bsz = px.u.shape[0]
        _, band = eye.tex_band
        t = (d * (eye.width0 / px.length)).clamp_min(0.0).remainder(2.0 * band)
        t = torch.where(t > band, 2.0 * band - t, t)         # fold: no seam where it repeats
        u = px.u.clamp(-0.5, 0.5)
        tex = self._grain_at(eye, u, px.lookup(eye.v_up0.expand(bsz, -1)), t)
        if eye.tex_lines is not None:
            # less the band's lines along the lid (a crease, a rim's shadow): folded down
            # onto the shut lid they are stripes parallel to the lash line, a lid margin
            k = eye.tex_lines.shape[1]
            pos = (t / band * (k - 1)).clamp(0.0, k - 1.0)
            i0 = pos.floor().long().clamp(max=k - 2)
            fr = (pos - i0)[:, None]
            lines = eye.tex_lines[:, i0].transpose(0, 1)             # (B, 3, h, w)
            lines = lines + fr * (eye.tex_lines[:, i0 + 1].transpose(0, 1) - lines)
            tex = (tex - lines + eye.tex_lines.median(dim=1).values.view(1, 3, 1, 1)).clamp(
                max=GRAIN_LIGHT * eye.grain)
        flat = torch.stack([px.lookup(eye.lid_table[i:i + 1].expand(bsz, -1))
                            for i in range(3)], 1)
        return flat + tex

    @staticmethod
    def _corner_radius(eye: _Eye) -> float:
        return max(2.5, CORNER_CLAMP * eye.width0)

    def _clamp_corners(self, eye: _Eye, crop: torch.Tensor, before: torch.Tensor,
                       xy: torch.Tensor, xs: torch.Tensor, ys: torch.Tensor, colour: torch.Tensor,
                       closure: torch.Tensor) -> None:
        """A shut eye's canthi: the warp squeezes what is left of the corner sclera (and the
        caruncle's highlight) into specks at the ends of the lash line, and flat lid paint is
        lighter than a shadowed corner. Near each corner keep the darkest of the warped pixel,
        the painted one and the lid's skin: no pale speck, the corner's own shadow kept."""
        radius = self._corner_radius(eye)
        near = torch.zeros_like(crop[:, 0])
        for k in eye.corners:
            cx, cy = xy[:, k, 0].view(-1, 1, 1), xy[:, k, 1].view(-1, 1, 1)
            dist2 = (xs - cx).square() + (ys - cy).square()
            # compact (nothing changes beyond the radius), full over its inner part: a drawn
            # eye's white reaches past the mesh's corner point (a white end at the lash line)
            q = dist2 / radius ** 2
            near = torch.maximum(near, (1.0 - q.square()).clamp_min(0.0).square())
        # only as the lids meet (a half-open eye's corners are its own, and the wider reach
        # must stay inside what a closing lid may paint)
        shut = ((closure - 0.75) / 0.25).clamp(0.0, 1.0)
        w = (near * shut)[:, None]
        target = torch.minimum(torch.minimum(before, crop), colour)
        crop.add_(w * (target - crop))

    def _composite_eye(self, eye: _Eye, frames: torch.Tensor, xy: torch.Tensor,
                       lat: torch.Tensor) -> None:
        frame = self._band(eye, xy)
        opening = ((frame.v_low - frame.v_up) * frame.length[:, None]).amax(1)
        length = frame.length                                         # (B,)
        scale = length / eye.width0
        live = opening > 0.5
        if not bool(live.any()):
            return
        sel = live
        box = points_bbox(torch.cat((xy[sel][:, list(eye.upper)], xy[sel][:, list(eye.lower)]),
                                    1), 2.0, self.height, self.width)
        if box is None:
            return
        x0, y0, h, w = box
        # a live eye (see _prepare_eye) has every optional field set
        assert eye.centre_uv is not None and eye.centre0 is not None
        assert eye.sprite is not None and eye.sprite_origin is not None
        # Iris centre: same place relative to the corners, plus gaze on the eyeball.
        cu = eye.centre_uv
        yaw = torch.deg2rad(lat[:, self._gaze[0]])
        pitch = torch.deg2rad(lat[:, self._gaze[1]])
        ball = EYEBALL
        r_n = eye.radius / eye.width0
        du = ball * torch.sin(yaw)
        lim = (0.5 - 0.75 * r_n - cu[0].abs()).clamp_min(0.0) + 0.5 * r_n
        du = torch.maximum(torch.minimum(du, lim), -lim)
        # Vertical room: a narrow (squinting) eye shows little iris, so it barely moves.
        room = 0.55 * r_n * min(1.0, eye.opening0 / (2.0 * eye.radius))
        dv = (-ball * torch.sin(pitch)).clamp(-room, room)
        c_uv = torch.stack((cu[0] + du, cu[1] + dv), -1)[:, None, :]
        centre = frame.to_image(c_uv)[:, 0]                           # (B, 2)
        xs, ys = crop_grid(x0, y0, h, w, self.device)
        px = band_pixels(frame, xs, ys)
        # Sprite coordinates: undo the frame's rotation and scale about the new centre.
        ang = torch.atan2(frame.e1[:, 1], frame.e1[:, 0]) - eye.angle0
        cos = (torch.cos(ang) / scale).view(-1, 1, 1)
        sin = (torch.sin(ang) / scale).view(-1, 1, 1)
        dx = xs - centre[:, 0].view(-1, 1, 1)
        dy = ys - centre[:, 1].view(-1, 1, 1)
        c0 = eye.centre0
        qx = c0[0] + cos * dx + sin * dy
        qy = c0[1] - sin * dx + cos * dy
        size = eye.sprite.shape[-1]
        so = eye.sprite_origin
        bsz = frames.shape[0]
        grid = torch.stack(((qx - so[0]) * (2.0 / size) - 1.0,
                            (qy - so[1]) * (2.0 / size) - 1.0), -1).view(1, bsz * h, w, 2)
        spr = F.grid_sample(eye.sprite, grid, mode="bilinear", padding_mode="zeros",
                            align_corners=False).view(4, bsz, h, w).transpose(0, 1)
        clip = px.opening() * live.view(-1, 1, 1).float()
        a = spr[:, 3] * clip                                           # (B, h, w)
        crop = frames[:, :, y0:y0 + h, x0:x0 + w]
        # Premultiplied sprite: out = crop * (1 - a) + rgb * clip.
        crop.mul_((1.0 - a)[:, None]).add_(spr[:, :3] * clip[:, None])
        # Upper-lid shadow as the lid comes down.
        blink = lat[:, eye.blink].clamp(0.0, 1.0) if lat.shape[1] > eye.blink else None
        if blink is not None and bool((blink > 0.02).any()):
            fall = torch.exp(-px.d_up.clamp_min(0.0) / (0.25 * eye.opening0 * scale.view(-1, 1, 1)
                                                        + 0.5))
            shade = 1.0 - SHADOW * blink.view(-1, 1, 1) * fall * clip
            crop.mul_(shade[:, None])


def _row_gain(pixels: torch.Tensor, fill: torch.Tensor, ok: torch.Tensor, hole: torch.Tensor
              ) -> torch.Tensor:
    """Per-row brightness match of the parametric sclera fill to the real sclera on either side
    of the iris (linear across the hole); (3, h, w) gains, 1 where nothing is known."""
    ratio = (pixels / fill.clamp_min(1e-3)).clamp(0.6, 1.4).cpu().numpy()
    ok_np, hole_np = ok.cpu().numpy(), hole.cpu().numpy()
    gain = np.ones_like(ratio)
    for y in range(ratio.shape[1]):
        cols = np.nonzero(hole_np[y])[0]
        good = np.nonzero(ok_np[y])[0]
        if len(cols) == 0 or len(good) == 0:
            continue
        left, right = good[good < cols[0]], good[good > cols[-1]]
        pts, vals = [], []
        if len(left):
            pts.append(left[-2:].mean())
            vals.append(ratio[:, y, left[-2:]].mean(1))
        if len(right):
            pts.append(right[:2].mean())
            vals.append(ratio[:, y, right[:2]].mean(1))
        if not pts:
            continue
        for c in range(3):
            gain[c, y] = np.interp(np.arange(ratio.shape[2]), pts, [v[c] for v in vals])
    return torch.from_numpy(gain).to(pixels.device)


def _polygon_mask(points: np.ndarray, h: int, w: int) -> np.ndarray:
    """(h, w) bool: inside the polygon (px)."""
    from PIL import Image, ImageDraw

    img = Image.new("L", (w, h), 0)
    ImageDraw.Draw(img).polygon([tuple(map(float, p)) for p in points], fill=1, outline=1)
    return np.asarray(img, dtype=bool)


def _fill_hole(img: torch.Tensor, hole: torch.Tensor, iters: int) -> torch.Tensor:
    """(3, h, w) `img` with the `hole` pixels replaced by a smooth (harmonic) fill from the
    pixels around them."""
    out = img.clone()
    keep = (~hole).float()[None]
    out = out * keep + (out * keep).sum((1, 2), keepdim=True) / keep.sum().clamp_min(1.0) * (
        1.0 - keep)
    for _ in range(iters):
        avg = F.avg_pool2d(F.pad(out[None], (1, 1, 1, 1), mode="replicate"), 3, 1)[0]
        out = img * keep + avg * (1.0 - keep)
    return out


def _extend_columns(rgb: torch.Tensor, shown: torch.Tensor, disc: torch.Tensor) -> torch.Tensor:
    """Replace pixels of the disc that the portrait does not show (shown == 0) with the nearest
    fully shown pixel of the same column (above or below)."""
    out = rgb.cpu().numpy().copy()
    vis = (shown >= 0.999).cpu().numpy()
    hidden = ((shown <= 0.0) & disc).cpu().numpy()
    for x in range(out.shape[2]):
        rows = np.nonzero(vis[:, x])[0]
        if len(rows) == 0:
            continue
        for y in np.nonzero(hidden[:, x])[0]:
            src = rows[0] if y < rows[0] else rows[-1] if y > rows[-1] else None
            if src is not None:
                out[:, y, x] = out[:, src, x]
    return torch.from_numpy(out).to(rgb.device)


def dilate(mask: np.ndarray, iterations: int) -> np.ndarray:
    """scipy.ndimage.binary_dilation(mask, iterations=...) with its default cross (OpenCV:
    importing scipy.ndimage was 0.1-0.2 s of the time to the first frame)."""
    cross = _cv2.getStructuringElement(_cv2.MORPH_CROSS, (3, 3))
    out: np.ndarray = _cv2.dilate(mask.astype(np.uint8), cross, iterations=iterations) > 0
    return out
