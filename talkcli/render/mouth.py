"""Mouth interior compositing: cavity, teeth and tongue painted into the opened lips.

The interior is the deformed inner-lip band (LIPS_INNER_UPPER over LIPS_INNER_LOWER, corner 78
to corner 308). Everything is evaluated on one small crop per batch, in the band's local
coordinates (see masks.py): the cavity darkens away from the lips; the upper teeth hang from a
line fixed to the SKULL (a similarity fitted per frame to nose and inner-eye-corner points, so
the jaw does not move them); the lower teeth and the tongue rise from the lower lip (the jaw).

A portrait whose mouth is already open keeps its own interior: each pixel of the deformed
opening samples the neutral opening, the upper half anchored to the upper lip and the lower
half to the lower lip by distance (teeth do not stretch), the middle row stretched and darkened
when the mouth opens wider than in the portrait; its lower teeth sink behind the lower lip as
the jaw opens (a band of teeth on the lower lip reads as the lip to a landmarker and to a person).

The painted cavity is darkest far from the lips (depth) and in a narrow gap, reddish only at
the upper lip's rim; the lower teeth are a thin, shadowed row, the tongue a muted, soft-topped
hump for wide openings (painted also behind a slightly parted portrait's own interior, which
shows none). Lips that were parted in the portrait and are pressed together get a painted
seam where they meet (the half-resolution warp would otherwise drag a pixel or two of the
portrait's teeth along it).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from talkcli.face import regions
from talkcli.motion.latent import index
from talkcli.render.masks import (
    apply_similarity,
    band_frame,
    band_pixels,
    crop_grid,
    points_bbox,
    similarity_2d,
    smooth_table,
    soft_step,
    take_frames,
)
from talkcli.render.shading import band_region, eye_white, luminance, median_colour, skin_colour
from talkcli.render.triangulate import delaunay

INNER_CORNERS = (78, 308)
UPPER = regions.LIPS_INNER_UPPER
LOWER = regions.LIPS_INNER_LOWER
# Points that move with the skull, not the jaw or lips: nose bridge/tip/base, inner eye corners.
SKULL = (168, 6, 197, 195, 5, 4, 1, 133, 362, 98, 327)

UPPER_TOOTH = 0.14       # visible upper-incisor length below the neutral upper lip, x mouth width
LOWER_TOOTH = 0.06       # lower-incisor height above the lower lip, x mouth width
LOWER_SHADOW = 0.5       # darkening of the jaw's part of an open portrait's mouth, fully open
ANCHOR = 0.42           # share of a portrait's open mouth that moves with each lip
# ... the upper lip's share where the portrait shows its upper teeth: down to their edges
# (teeth are fixed to the skull; a fixed share cut the sample's upper teeth to their tips,
# the rest darkened into the cavity, as soon as the mouth opened wider than the portrait's)
ANCHOR_UP_MAX = 1.0
TEETH_ROW = 0.5         # a row of the opening is teeth where this share of it is teeth-bright
LIP_OVERLAP_BINS = 7    # the upper teeth start within the top 7/20 of the mesh's opening
LOWER_SINK = 1.0         # share of the jaw's anchored part hidden behind the lower lip, open
LOWER_SINK_AT = 0.6      # extra opening (x the portrait's own) at which it is hidden
OPEN_PORTRAIT = 0.07     # neutral inner gap above which the portrait is open, x width
OWN_TONGUE_GAP = 0.2     # ... below which its opening shows no tongue (one is painted)
DEPTH_DARK = 0.55        # darkening of the cavity's back (far from the lips)
DEPTH_DARK_OPEN = 0.35   # ... behind an open portrait's own interior (it has its own depth;
                         # darker, the landmarker reads the opening narrower)
NARROW_DARK = 0.45       # darkening of a narrow opening's cavity (little light gets in) ...
NARROW_GAP = (0.08, 0.2)  # ... fading out between these local openings, x mouth width
CAVITY_LUM = 0.5         # cavity brightness, x the cheek's
TONGUE_LUM = 0.75        # tongue brightness, x the cheek's
TEETH_MIN = 1.1          # teeth at least this bright, x the cheek's (+0.08)
SEAM_WIDTH = 0.014        # half-width of the pressed lips' seam, x mouth width (+1 px)
SEAM_MIN_GAP = 3.0        # px of neutral lip gap from which a pressed seam is painted
SEAM_SQUEEZE = 0.0       # extra seam half-width per px the portrait's opening was squeezed
TOOTH_STEP = (math.pi / 2) / 4.6   # angular width of one tooth on the dental arch
# The painted interior is blurred by this (px + x mouth width px): photographed mouths are soft
# inside (depth, shadow, the camera's focus); hard painted edges read as a sticker
PAINT_BLUR = (0.3, 0.004)
# An open portrait closed: the lips within this share of the squeeze (neutral gap - gap, px) of
# the line where they meet are re-sampled from the portrait's lips (see _squeezed_lips)
SQUEEZE_REACH = 0.6
# A wide-open portrait (neutral opening over WIDE_OPEN x its lower lip's thickness: a shout)
# closed: the exact map reaches WIDE_REACH x the squeeze further, and the lips' thickness
WIDE_OPEN = 2.0
WIDE_REACH = 0.4
EXACT_TILE = 8          # px tiles binning the triangles of that map (_exact_lips)
LIGHT_LIP = 1.1         # a wide-open lower lip lighter than this x the upper lip is rolled in
DARK_LIP = 0.85         # ... and what is darker than this x the lips' luminance is taken as lip
# A closed portrait opening: the contact shadow between its lips (a dark line a few px thick)
# would stay on each lip's inner edge as a drawn outline; the lip next to the opening is
# re-sampled from beyond it (see _lip_rims). Its extent is measured up to this (x width, + 1 px)
RIM_MAX = 0.06
RIM_LIGHT = 0.8         # ... as where the lip is this light again, x the lips' luminance


class MouthCompositor:
    """Paints the mouth interior over warped frames. Build once per portrait."""

    def __init__(self, base_image: torch.Tensor, base_points: torch.Tensor, interocular: float,
                 device: torch.device | str = "cpu") -> None:
        self.device = torch.device(device)
        self.base = base_image.to(self.device, torch.float32)
        self.height, self.width = int(self.base.shape[-2]), int(self.base.shape[-1])
        xy = torch.as_tensor(base_points, dtype=torch.float32, device=self.device)[:, :2]
        self.xy0 = xy
        self.interocular = float(interocular)
        self.frame0 = self._frame(xy[None])
        self.width0 = float(self.frame0.length[0])
        gap = (self.frame0.v_low - self.frame0.v_up)[0] * self.width0   # (N,) px
        self.gap0 = gap.clamp_min(0.0)
        self.open_portrait = bool(self.gap0.max() > max(3.0, OPEN_PORTRAIT * self.width0))
        self._measure_colours()
        # Neutral upper-lip line and the skull fit reference.
        self.upper0 = xy[list(UPPER)]                       # (K, 2)
        self.down0 = self.frame0.e2[0]                      # (2,)
        self.skull0 = xy[list(SKULL)]
        u_k = self.frame0.to_local(self.upper0[None])[0, :, 0]
        self.arch = (1.0 - 1.6 * u_k.square()).clamp_min(0.15)   # teeth arch up to the corners
        i = index
        self._ch = (i("jaw_open"), i("mouth_round"), i("mouth_wide"), i("lips_press"), i("smile"))
        self.rims = None if self.open_portrait else self._measure_rims()
        self.thick0 = self._lip_thickness(self.frame0, xy[None])[0]   # (2, N) neutral px
        self.wide_open = self.open_portrait and bool(
            self.gap0.max() > WIDE_OPEN * float(self.thick0[1].median()))
        self._init_lip_triangles()
        self.roll0 = self._measure_roll() if self.wide_open else None
        self.anchors = self._teeth_anchors()

    # ------------------------------------------------------------------ setup
    def _measure_roll(self) -> torch.Tensor:
        """(N,) neutral px per u: how far below the mesh's inner lower contour the portrait's
        lower lip proper begins. A wide-open mouth's lower contour often lies on the tongue tip
        or the lip's wet inner side, lighter than the lip; closing, that part rolls in behind
        the lips, so the closed lower lip starts where the colour is the upper lip's again
        (within LIGHT_LIP of its luminance), at most the lip's thickness down."""
        f0, w0 = self.frame0, self.width0
        n = f0.v_up.shape[1]
        u = torch.linspace(-0.5, 0.5, n, device=self.device)[:, None] * w0
        t_up, t_low = self.thick0[0], self.thick0[1]
        k = torch.linspace(0.2, 0.8, 7, device=self.device)[None, :]
        upper = self._sample_base(f0, u[None].expand(1, n, 7),
                                  (f0.v_up[0, :, None] * w0 - k * t_up[:, None])[None])
        ref = float(luminance(upper, 1)[0, n // 5: n - n // 5].median())
        reach = float(t_low.max()) + 2.0
        d = torch.arange(0.0, reach, 0.5, device=self.device)[None, :]
        lum = luminance(self._sample_base(f0, u[None].expand(1, n, d.shape[1]),
                                          (f0.v_low[0, :, None] * w0 + d)[None]), 1)[0]
        light = lum > LIGHT_LIP * ref
        run = torch.cumprod(light.float(), dim=1).sum(1) * 0.5
        return smooth_table(torch.minimum(run, t_low)[None])[0]

    def _init_lip_triangles(self) -> None:
        """A wide-open portrait: the Delaunay triangles of its neutral mesh points (what the
        warp deforms) around the lips, for the exact map of _exact_lips: lip_tri (T, 3),
        lip_src (T, 3, 2) px, lip_den0 (T,) twice their signed neutral area."""
        self.lip_tri = torch.zeros(0, 3, dtype=torch.long, device=self.device)
        self.lip_src = torch.zeros(0, 3, 2, device=self.device)
        self.lip_den0 = torch.zeros(0, device=self.device)
        if not self.wide_open:
            return
        pts = self.xy0.cpu().double().numpy()
        tri = delaunay(pts)
        lips = pts[list(regions.LIPS_OUTER)]
        pad_x = 0.15 * self.width0
        # (what the closing jaw lifts into the lips' reach comes from up to twice the gap below)
        pad_y = 2.0 * float(self.gap0.max()) + float(self.thick0.max()) + 0.1 * self.width0
        c = pts[tri].mean(1)
        keep = ((c[:, 0] > lips[:, 0].min() - pad_x) & (c[:, 0] < lips[:, 0].max() + pad_x)
                & (c[:, 1] > lips[:, 1].min() - pad_y) & (c[:, 1] < lips[:, 1].max() + pad_y))
        t = torch.as_tensor(tri[keep], dtype=torch.long, device=self.device)
        src = self.xy0[t]
        e1, e2 = src[:, 1] - src[:, 0], src[:, 2] - src[:, 0]
        self.lip_tri, self.lip_src = t, src
        self.lip_den0 = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]

    @staticmethod
    def _frame(xy: torch.Tensor):  # noqa: ANN205 - BandFrame
        return band_frame(xy[:, INNER_CORNERS[0]], xy[:, INNER_CORNERS[1]],
                          xy[:, list(UPPER)], xy[:, list(LOWER)])

    def _measure_colours(self) -> None:
        img, xy = self.base, self.xy0
        skin = skin_colour(img, xy, self.interocular)
        self.skin = skin
        lips = None
        got = band_region(img, xy, regions.MOUTH_CORNERS, regions.LIPS_OUTER_UPPER,
                          regions.LIPS_OUTER_LOWER)
        inner = band_region(img, xy, INNER_CORNERS, UPPER, LOWER, margin=6.0)
        if got is not None:
            (x0, y0, h, w), pixels, inside = got
            ring = inside > 1.0
            if inner is not None:
                (ix0, iy0, ih, iw), _, ins = inner
                full = torch.full((self.height, self.width), -1.0, device=self.device)
                full[iy0:iy0 + ih, ix0:ix0 + iw] = ins
                ring = ring & (full[y0:y0 + h, x0:x0 + w] < -1.0)
            lips = median_colour(pixels, ring.float())
        if lips is None:
            lips = skin * torch.tensor([0.85, 0.6, 0.6], device=self.device)
        bright = float(luminance(skin).clamp(0.15, 0.9))
        white = eye_white(img, xy)
        if white is None or luminance(white) < luminance(skin) * 0.9:
            white = (0.55 * skin + 0.45 * bright) * 1.25
        # Teeth: a little darker and warmer than the eye whites, never glowing over the skin,
        # never duller than it (people's teeth read brighter than the cheek in most light).
        teeth = white * torch.tensor([0.97, 0.94, 0.86], device=self.device)
        skin_lum = float(luminance(skin))
        top = min(1.0, 1.45 * skin_lum + 0.25)
        lum = float(luminance(teeth))
        floor = min(TEETH_MIN * skin_lum + 0.08, top)
        if lum > top:
            teeth = teeth * (top / lum)
        elif lum < floor:
            teeth = teeth * (floor / max(lum, 1e-3))
        self.teeth = teeth.clamp(0.0, 1.0)
        # The cavity: dark red-brown, lit from the front (a fraction of the skin's brightness,
        # never a black hole); the tongue a muted lip colour.
        deep = torch.tensor([0.52, 0.24, 0.2], device=self.device)
        deep = deep * (CAVITY_LUM * skin_lum / float(luminance(deep)))
        self.cavity = (0.15 * lips * CAVITY_LUM + 0.85 * deep).clamp(0.0, 1.0)
        self.tongue = (lips * torch.tensor([0.9, 0.62, 0.6], device=self.device))
        # muted: a tongue in the mouth's shade is less saturated than the lips in the light
        self.tongue = 0.7 * self.tongue + 0.3 * luminance(self.tongue)
        self.tongue = (self.tongue * (TONGUE_LUM * skin_lum / max(float(luminance(self.tongue)),
                                                                   1e-3))).clamp(0, 1)
        self.lips = lips
        self.cavity_lip = (0.3 * lips * torch.tensor([0.9, 0.55, 0.55], device=self.device)
                           + 0.7 * self.cavity).clamp(0.0, 1.0)
        # a black-and-white (or sepia, or painted in few hues) portrait: the palette takes
        # the portrait's own saturation
        sat = float((skin.max() - skin.min()) / skin.max().clamp_min(1e-3))
        keep = min(1.0, sat / 0.25)
        for name in ("teeth", "cavity", "tongue", "cavity_lip"):
            c = getattr(self, name)
            grey = luminance(c) * skin / max(float(luminance(skin)), 1e-3)
            setattr(self, name, (grey + keep * (c - grey)).clamp(0.0, 1.0))
        self.own_teeth = False
        if self.open_portrait and inner is not None:
            (x0, y0, h, w), pixels, inside = inner
            # Teeth showing in the portrait: the brighter part of the gap is lighter than skin.
            sel = pixels.reshape(3, -1)[:, (inside > 1.0).reshape(-1)]
            if sel.shape[1] >= 8:
                bright = float(torch.quantile(luminance(sel), 0.8))
                self.own_teeth = bright > 0.95 * float(luminance(skin))
            sel = pixels.reshape(3, -1)[:, (inside > 1.0).reshape(-1)]
            if sel.shape[1] > 4:
                sel_lum = luminance(sel)
                dark = sel[:, sel_lum <= torch.quantile(sel_lum, 0.2)]
                measured = dark.median(dim=1).values
                if float(luminance(measured)) < 0.6 * float(luminance(self.cavity)) + 0.05:
                    self.cavity = measured

    def _teeth_anchors(self) -> tuple[float, float]:
        """Shares of an open portrait's opening that move with the upper and the lower lip:
        ANCHOR each, but the upper lip takes its teeth down to their edge: the rows below the
        upper lip (middle half of the mouth) that are mostly teeth-bright (lighter than 0.8
        x the skin, less saturated than it), from the top."""
        if not (self.open_portrait and self.own_teeth):
            return ANCHOR, ANCHOR
        xy = self.xy0
        box = points_bbox(torch.cat((xy[list(UPPER)], xy[list(LOWER)]))[None], 2.0,
                          self.height, self.width)
        if box is None:
            return ANCHOR, ANCHOR
        x0, y0, h, w = box
        xs, ys = crop_grid(x0, y0, h, w, self.device)
        px = band_pixels(self.frame0, xs, ys)
        assert px.up_v is not None and px.low_v is not None
        up, low = px.up_v[0], px.low_v[0]
        gap = up + low
        inside = (up > 0.0) & (low > 0.0) & (px.u[0].abs() < 0.25) & (gap > 2.0)
        if int(inside.sum()) < 16:
            return ANCHOR, ANCHOR
        crop = self.base[:, y0:y0 + h, x0:x0 + w]
        lum = luminance(crop)
        sat = (crop.amax(0) - crop.amin(0)) / crop.amax(0).clamp_min(1e-3)
        skin = self.skin
        skin_sat = float((skin.max() - skin.min()) / skin.max().clamp_min(1e-3))
        teeth = (lum > 0.8 * float(luminance(skin))) & (sat < max(0.15, skin_sat))
        depth = (up / gap.clamp_min(1e-3))[inside]                 # 0 at the upper lip
        bins = torch.clamp((depth * 20).long(), 0, 19)
        count = torch.bincount(bins, minlength=20).float()
        hits = torch.bincount(bins, weights=teeth[inside].float(), minlength=20)
        share = hits / count.clamp_min(1.0)
        rows = ((share >= TEETH_ROW) & (count > 0)).tolist()
        # (the mesh's upper inner contour often lies on the lip a little above the teeth)
        start = next((k for k in range(LIP_OVERLAP_BINS) if rows[k]), None)
        if start is None:
            return ANCHOR, ANCHOR
        end = start
        while end < 20 and rows[end]:
            end += 1
        upper = min(ANCHOR_UP_MAX, max(ANCHOR, end / 20.0))
        return upper, min(ANCHOR, 1.0 - upper)

    def _measure_rims(self) -> torch.Tensor:
        """(2, 2, N) px, per u of the band's table, for the upper lip (upward from the neutral
        inner contour) and the lower one (downward): how far the contact shadow reaches (the
        distance at which the lip is RIM_LIGHT of the lips' luminance again; 0 where it
        already is), and the span re-sampled over it (2 reach + 2, within the lip)."""
        f0, w0 = self.frame0, self.width0
        n = f0.v_up.shape[1]
        reach = RIM_MAX * w0 + 1.0
        d = torch.linspace(0.0, 2.0 * reach, 2 * int(4 * reach) + 1, device=self.device)
        u = torch.linspace(-0.5, 0.5, n, device=self.device)[:, None] * w0      # (N, 1)
        body = float(luminance(self.lips))   # the lips' median, off their inner edge
        rims = []
        for v0, sign in ((f0.v_up[0], -1.0), (f0.v_low[0], 1.0)):
            vv = v0[:, None] * w0 + sign * d[None, :]                             # (N, D)
            lum = luminance(self._sample_base(f0, u[None].expand(1, n, len(d)), vv[None]), 1)[0]
            dark = lum < RIM_LIGHT * body
            # the contact shadow: the dark run that starts at the contour (within its first px)
            start = dark[:, d < 1.5].any(1)
            run = torch.cumprod((dark | (d < 1.0)[None]).float(), dim=1)
            rims.append((run.sum(1) * float(d[1] - d[0]) * start).clamp(max=reach))
        rim = smooth_table(torch.stack(rims))
        # the re-sampled edge stays on the lip: at most the lip's thickness (outer contour)
        xy = self.xy0[None]
        thick = torch.cat(((f0.v_up - f0.table(xy[:, list(regions.LIPS_OUTER_UPPER)])),
                           (f0.table(xy[:, list(regions.LIPS_OUTER_LOWER)]) - f0.v_low))) * w0
        span = torch.minimum(2.0 * rim + 2.0, thick - 1.0).clamp_min(0.0)
        return torch.stack((torch.minimum(rim, 0.5 * span), span))

    # ------------------------------------------------------------------ per batch
    def composite(self, frames: torch.Tensor, points: torch.Tensor,
                  latents: torch.Tensor | None = None) -> torch.Tensor:
        """frames (B, 3, H, W) 0..1 (modified in place and returned); points (B, 468, 3) px."""
        bsz = frames.shape[0]
        xy = points[..., :2].to(self.device, torch.float32)
        frame = self._frame(xy)
        scale = frame.length / self.width0                               # (B,)
        gap = (frame.v_low - frame.v_up) * frame.length[:, None]         # (B, N) px
        if self.open_portrait:
            active = (xy[:, list(UPPER + LOWER)] - self.xy0[list(UPPER + LOWER)]).abs()
            active = active.flatten(1).amax(1) > 1e-3
        else:
            active = (gap - self.gap0 * scale[:, None]).amax(1) > 1.0
            if float(self.gap0.max()) >= SEAM_MIN_GAP:
                # lips parted a little in the portrait (teeth in the seam) pressed together
                active = active | ((self.gap0 * scale[:, None] - gap).amax(1) > 1.5)
        if not bool(active.any()):
            return frames
        contour = torch.cat((xy[:, list(UPPER)], xy[:, list(LOWER)]), 1)
        if self.rims is not None:
            contour = torch.cat((contour, self._rim_outline(frame, scale)), 1)
        contour = contour[active]
        # (an open portrait: its lips near the meeting line are re-sampled, _squeezed_lips)
        margin = 2.0 + (SQUEEZE_REACH * float(self.gap0.max() * scale.max()) + 2.0
                        + (WIDE_REACH * float(self.gap0.max() * scale.max())
                           + float(self.thick0.max() * scale.max()) if self.wide_open else 0.0)
                        if self.open_portrait else 0.0)
        box = points_bbox(contour, margin, self.height, self.width)
        if box is None:
            return frames
        x0, y0, h, w = box
        xs, ys = crop_grid(x0, y0, h, w, self.device)
        px = band_pixels(frame, xs, ys)
        crop = frames[:, :, y0:y0 + h, x0:x0 + w]
        lat = self._latents(latents, bsz)
        if self.open_portrait:
            colour, alpha, dark = self._own_interior(frame, px, scale)
            wider = dark.flatten(1).amax(1) > 0
            if bool(wider.any()):
                # Wider than the portrait: its own interior stays at the lips, the new depth
                # in the middle is the synthetic mouth (with teeth if the portrait shows none);
                # painted on the frames that open that wide only
                idx = torch.nonzero(wider).view(-1)
                full = bool(wider.all())
                # (a portrait showing its upper teeth only: the jaw's teeth and the tongue
                # come into view below them, as the mouth opens wider than the portrait's)
                jaw_hidden = self.anchors[1] <= 0.0
                # (a slightly parted portrait has no tongue of its own in view to stretch)
                tongue = jaw_hidden or float(self.gap0.max()) < OWN_TONGUE_GAP * self.width0
                synth, _ = self._synthetic(
                    frame if full else take_frames(frame, idx),
                    px if full else take_frames(px, idx), xy[idx], lat[idx],
                    teeth=not self.own_teeth, tongue=tongue, depth=DEPTH_DARK_OPEN,
                    lower_teeth=not self.own_teeth or jaw_hidden)
                part = colour if full else colour.index_select(0, idx)
                part = part + dark.index_select(0, idx)[:, None] * (synth - part)
                colour = part if full else colour.index_copy(0, idx, part)
        else:
            colour, alpha = self._synthetic(frame, px, xy, lat)
        if self.open_portrait:
            colour, alpha = self._squeezed_lips(frame, px, scale, colour, alpha, xy, xs, ys)
        elif self.rims is not None:
            parted = (gap - self.gap0 * scale[:, None]).amax(1) > 1.0
            if bool(parted.any()):
                colour, alpha = self._lip_rims_of(parted, frame, px, scale, colour, alpha)
        if float(self.gap0.max()) >= SEAM_MIN_GAP:
            colour, alpha = self._seam(frame, px, scale, colour, alpha)
        alpha = alpha * active.view(-1, 1, 1).to(alpha.dtype)
        if not self.open_portrait:
            colour, alpha = _soften(colour, alpha, PAINT_BLUR[0] + PAINT_BLUR[1] * self.width0)
        crop.add_(alpha[:, None] * (colour - crop))
        return frames

    def _seam(self, frame, px, scale: torch.Tensor, colour: torch.Tensor,  # noqa: ANN001
              alpha: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """An open portrait's lips pressed together: where they meet, the warp (a half-resolution
        map, bilinear) still drags a pixel or two of the portrait's teeth along the line; paint
        the closed lips' seam there instead (lip colour, darkest on the line)."""
        length = frame.length.view(-1, 1, 1)
        gap = px.lookup(frame.v_low - frame.v_up) * length                 # px, now
        g0 = px.lookup(self.gap0.expand(frame.length.shape[0], -1)) * (length / self.width0)
        mid = px.lookup(0.5 * (frame.v_up + frame.v_low))
        dist = (px.v - mid).abs() * length - 0.5 * gap.clamp_min(0.0)
        # a wide-open portrait closed: the warp's half-resolution inverse leaves more of its teeth
        # along the line, the more it was squeezed
        half = SEAM_WIDTH * length + 1.0 + SEAM_SQUEEZE * (g0 - gap).clamp_min(0.0)
        closed = (1.0 - gap / 3.0).clamp(0.0, 1.0) * (g0 / SEAM_MIN_GAP).clamp(0.0, 1.0)
        along = soft_step((0.5 - px.u.abs()) * length + 1.0, 2.0)
        a_s = soft_step(half - dist, 1.5) * closed * along
        if not bool((a_s > 0).any()):
            return colour, alpha
        shade = 0.6 + 0.4 * (dist.clamp_min(0.0) / half).clamp(0.0, 1.0).sqrt()
        seam = self.lips.view(1, 3, 1, 1) * shade[:, None]
        colour = colour * alpha[:, None] * (1.0 - a_s[:, None]) + seam * a_s[:, None]
        alpha = alpha + a_s * (1.0 - alpha)
        colour = colour / alpha.clamp_min(1e-6)[:, None]
        return colour, alpha

    def _lip_thickness(self, frame, xy: torch.Tensor) -> torch.Tensor:  # noqa: ANN001
        """(B, 2, N) px per u of the band's table: the upper and the lower lip's thickness
        (inner to outer contour, along the band's normal), at least 1 px."""
        up = frame.v_up - frame.table(xy[:, list(regions.LIPS_OUTER_UPPER)])
        low = frame.table(xy[:, list(regions.LIPS_OUTER_LOWER)]) - frame.v_low
        return (torch.stack((up, low), 1) * frame.length[:, None, None]).clamp_min(1.0)

    def _squeezed_lips(self, frame, px, scale: torch.Tensor, colour: torch.Tensor,  # noqa: ANN001
                       alpha: torch.Tensor, xy: torch.Tensor, xs: torch.Tensor, ys: torch.Tensor
                       ) -> tuple[torch.Tensor, torch.Tensor]:
        """An open portrait closing: the lips next to the line where they meet, sampled from the
        portrait's lips. The dense map's inverse cannot start its exact walk inside the collapsed
        opening, so there it stays smooth across it: the pixels just above and below the line
        sample the portrait's teeth and tongue (a shout closed showed its tongue as a third lip,
        and a landmarker read the mouth open). Each such pixel takes the portrait's lip at its
        distance from the lip's inner edge instead (near the line the lips move as a whole).
        A wide-open portrait (its opening well over its lips' thickness: a shout) is squeezed
        much further than that smooth inverse reaches: there the lips and the skin around them
        take the mesh's exact map (_exact_lips), and the lower lip's rolled-in part is skipped
        (_measure_roll)."""
        f0 = self.frame0
        bsz = frame.length.shape[0]
        length = frame.length.view(-1, 1, 1)
        inv = (1.0 / scale).view(-1, 1, 1)
        gap = px.lookup(frame.v_low - frame.v_up) * length
        squeeze = (px.lookup(self.gap0.expand(bsz, -1)) * (length / self.width0) - gap)
        below = px.low_v < 0.0                       # under the lower lip's inner edge
        dist = torch.where(below, -px.low_v, -px.up_v)
        # (the smooth inverse spreads over about the opening's squeeze, corners included)
        squeeze = squeeze.flatten(1).amax(1).clamp_min(0.0).view(-1, 1, 1)
        reach = SQUEEZE_REACH * squeeze
        t_now = torch.zeros_like(dist)
        if self.wide_open:
            thick = self._lip_thickness(frame, xy)
            t_now = torch.where(below, px.lookup(thick[:, 1]), px.lookup(thick[:, 0]))
            reach = reach + WIDE_REACH * squeeze + t_now
        a_l = (soft_step(reach - dist, 2.0) * (dist > -0.5) * soft_step(reach - 1.0, 1.0)
               * soft_step((0.5 - px.u.abs()) * length, 2.0))
        if not bool((a_l > 0).any()):
            return colour, alpha
        up0 = px.lookup(f0.v_up.expand(bsz, -1)) * self.width0
        low0 = px.lookup(f0.v_low.expand(bsz, -1)) * self.width0
        vv = torch.where(below, low0 + dist * inv, up0 - dist * inv)
        lip_band = torch.ones_like(below)
        if self.wide_open:
            o, e1, e2 = f0.origin[0], f0.e1[0], f0.e2[0]
            uu = px.u * self.width0
            seed = torch.stack((o[0] + uu * e1[0] + vv * e2[0],
                                o[1] + uu * e1[1] + vv * e2[1]), 1)
            q, found = self._exact_lips(xy, xs, ys, a_l > 0, seed)
            q = torch.where(found[:, None], q, seed)
            # the lower lip's rolled-in part out of sight, all of it once closed, taken up
            # over the lip and the skin below it
            closed = (squeeze / px.lookup(self.gap0.expand(bsz, -1)).clamp_min(1.0)).clamp(0, 1)
            assert self.roll0 is not None
            roll = (px.lookup(self.roll0.expand(bsz, -1)) * closed
                    * (1.0 - dist / reach.clamp_min(1.0)).clamp(0.0, 1.0) * below)
            lips = self._sample_image(q + roll[:, None] * e2.view(1, 2, 1, 1))
            # (beyond the mesh, below the chin, the warp's own map is kept)
            lip_band = dist <= t_now + 1.0
            a_l = a_l * (found | lip_band)
        else:
            lips = self._sample_base(f0, px.u * self.width0, vv)
        # the mesh's inner contour can miss part of a wide opening (the shadowed cavity at a
        # corner): what is much darker than the lips there is interior, shown as lip
        lum, lip_lum = luminance(lips, 1), float(luminance(self.lips))
        dark = ((DARK_LIP * lip_lum - lum) / (0.5 * DARK_LIP * lip_lum)).clamp(0.0, 1.0)
        dark = dark * lip_band
        lips = lips + dark[:, None] * (self.lips.view(1, 3, 1, 1) - lips)
        return _under(colour, alpha, lips, a_l)

    def _exact_lips(self, xy: torch.Tensor, xs: torch.Tensor, ys: torch.Tensor,
                    want: torch.Tensor, seed: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The portrait's pixel under the mesh's own piecewise-affine map around the lips (the
        warp's map, made exact), at the crop pixels `want` (B, h, w): (B, 2, h, w) neutral px
        and (B, h, w) found (a deformed triangle holds the pixel; collapsed triangles, the
        closed opening, hold none). Each pixel is tested against the triangles whose deformed
        box (over the batch) meets its EXACT_TILE px tile; where deformed triangles overlap
        (a fold) the one whose neutral place is nearest `seed` (B, 2, h, w) is taken."""
        bsz, h, w = want.shape
        q = torch.zeros(bsz, 2, h * w, device=self.device)
        found = torch.zeros(bsz, h * w, dtype=torch.bool, device=self.device)
        cells = torch.nonzero(want.any(0).view(-1)).view(-1)
        if cells.numel() == 0 or self.lip_tri.numel() == 0:
            return q.view(bsz, 2, h, w), found.view(bsz, h, w)
        px_x = xs.expand(1, h, w).reshape(-1)[cells]
        px_y = ys.expand(1, h, w).reshape(-1)[cells]
        d = xy[:, self.lip_tri]                                            # (B, T, 3, 2)
        lo = d.amin(dim=(0, 2)) - 0.5                                      # (T, 2)
        hi = d.amax(dim=(0, 2)) + 0.5
        x0, y0 = float(xs.min()) - 0.5, float(ys.min()) - 0.5
        ntx = w // EXACT_TILE + 1
        tile = ((px_y - y0) // EXACT_TILE).long() * ntx + ((px_x - x0) // EXACT_TILE).long()
        used, tile_of = torch.unique(tile, return_inverse=True)
        tx0 = x0 + (used % ntx).float() * EXACT_TILE
        ty0 = y0 + (used // ntx).float() * EXACT_TILE
        meet = ((lo[None, :, 0] < tx0[:, None] + EXACT_TILE) & (hi[None, :, 0] > tx0[:, None])
                & (lo[None, :, 1] < ty0[:, None] + EXACT_TILE) & (hi[None, :, 1] > ty0[:, None]))
        k = max(int(meet.sum(1).max()), 1)
        has, cand = meet.to(torch.uint8).topk(k, dim=1)                    # (tiles, K)
        cand_p, has_p = cand[tile_of], has[tile_of].bool()                 # (P, K)
        e1, e2 = d[:, :, 1] - d[:, :, 0], d[:, :, 2] - d[:, :, 0]
        den = e1[..., 0] * e2[..., 1] - e1[..., 1] * e2[..., 0]           # (B, T)
        ok = den * self.lip_den0.sign() > 0.05 * self.lip_den0.abs()
        inv = 1.0 / torch.where(ok, den, torch.ones_like(den))
        src = self.lip_src[cand_p]                                         # (P, K, 3, 2)
        seed_c = seed.reshape(bsz, 2, -1)[:, :, cells]                     # (B, 2, P)
        for i in range(bsz):
            d0, a1, a2 = d[i, cand_p, 0], e1[i, cand_p], e2[i, cand_p]      # (P, K, 2)
            rx, ry = px_x[:, None] - d0[..., 0], px_y[:, None] - d0[..., 1]
            iv = inv[i, cand_p]
            b1 = (rx * a2[..., 1] - ry * a2[..., 0]) * iv
            b2 = (a1[..., 0] * ry - a1[..., 1] * rx) * iv
            inside = ((b1 >= -1e-4) & (b2 >= -1e-4) & (b1 + b2 <= 1.0 + 1e-4)
                      & ok[i, cand_p] & has_p)
            at = (src[:, :, 0] + b1[..., None] * (src[:, :, 1] - src[:, :, 0])
                  + b2[..., None] * (src[:, :, 2] - src[:, :, 0]))           # (P, K, 2)
            near = (at - seed_c[i].t()[:, None]).square().sum(-1)
            t = torch.where(inside, near, torch.full_like(near, float("inf"))).argmin(1)
            q[i, :, cells] = at.gather(1, t[:, None, None].expand(-1, 1, 2))[:, 0].t()
            found[i, cells] = inside.any(1)
        return q.view(bsz, 2, h, w), found.view(bsz, h, w)

    def _rim_outline(self, frame, scale: torch.Tensor) -> torch.Tensor:  # noqa: ANN001
        """(B, 2N, 2) px: where the lips' re-sampled inner edges end (_lip_rims), above the
        upper contour and below the lower one, so that the crop covers them."""
        assert self.rims is not None
        span = self.rims[1] * (scale / frame.length)[:, None, None]              # (B, 2, N)
        n = span.shape[-1]
        u = torch.linspace(-0.5, 0.5, n, device=self.device).expand(frame.length.shape[0], n)
        v = torch.cat((frame.v_up - span[:, 0], frame.v_low + span[:, 1]), 1)
        return frame.to_image(torch.stack((torch.cat((u, u), 1), v), -1))

    def _lip_rims_of(self, idx_mask: torch.Tensor, frame, px, scale: torch.Tensor,  # noqa: ANN001
                     colour: torch.Tensor, alpha: torch.Tensor
                     ) -> tuple[torch.Tensor, torch.Tensor]:
        """_lip_rims on the frames whose lips part (the others keep their paint)."""
        if bool(idx_mask.all()):
            return self._lip_rims(frame, px, scale, colour, alpha)
        idx = torch.nonzero(idx_mask).view(-1)
        c, a = self._lip_rims(take_frames(frame, idx), take_frames(px, idx),
                              scale.index_select(0, idx), colour.index_select(0, idx),
                              alpha.index_select(0, idx))
        return colour.index_copy(0, idx, c), alpha.index_copy(0, idx, a)

    def _lip_rims(self, frame, px, scale: torch.Tensor, colour: torch.Tensor,  # noqa: ANN001
                  alpha: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """A closed portrait opening: each lip's edge next to the opening re-sampled from past
        the contact shadow. Within S px of a contour (R: that shadow's measured reach, S =
        2R + 2 within the lip, neutral px) the lip is sampled R + d (S - R) / S from the
        neutral contour, so the shadow is compressed out of sight and the lip's own texture
        runs up to the opening, as an open mouth's lit lip does (a closed mouth's dark line
        left on both lips read as an outline drawn round the opening)."""
        f0, w0, rims = self.frame0, self.width0, self.rims
        assert rims is not None
        bsz = frame.length.shape[0]
        inv = (1.0 / scale).view(-1, 1, 1)
        length = frame.length.view(-1, 1, 1)
        gap = px.lookup(frame.v_low - frame.v_up) * length
        g0 = px.lookup(self.gap0.expand(bsz, -1)) * (length / w0)
        # only as the lips part: pressed or at rest the contact shadow is what a person shows
        parted = ((gap - g0 - 1.0) / 3.0).clamp(0.0, 1.0)
        below = px.low_v < 0.0
        dist = torch.where(below, -px.low_v, -px.up_v) * inv                  # neutral px
        rim, reach = (torch.where(below, px.lookup(t[1:].expand(bsz, -1)),
                                  px.lookup(t[:1].expand(bsz, -1))) for t in rims)
        src = rim + dist * (reach - rim) / reach.clamp_min(1e-3)
        a_r = (soft_step(reach - dist, 1.0) * (dist > -0.5) * parted * (rim > 0.25)
               * soft_step((0.5 - px.u.abs()) * length, 2.0))
        if not bool((a_r > 0).any()):
            return colour, alpha
        up0 = px.lookup(f0.v_up.expand(bsz, -1)) * w0
        low0 = px.lookup(f0.v_low.expand(bsz, -1)) * w0
        vv = torch.where(below, low0 + src, up0 - src)
        lips = self._sample_base(f0, px.u * w0, vv)
        return _under(colour, alpha, lips, a_r)

    def _sample_image(self, q: torch.Tensor) -> torch.Tensor:
        """The portrait at image px q (B, 2, h, w) -> (B, 3, h, w)."""
        bsz, _, h, w = q.shape
        grid = torch.stack((q[:, 0] * (2.0 / self.width) - 1.0,
                            q[:, 1] * (2.0 / self.height) - 1.0), -1).reshape(1, bsz * h, w, 2)
        colour = F.grid_sample(self.base[None], grid, mode="bilinear", padding_mode="border",
                               align_corners=False)
        return colour.view(3, bsz, h, w).transpose(0, 1)

    def _sample_base(self, f0, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:  # noqa: ANN001
        """The portrait at neutral band coordinates (u, v px in frame0), (B, h, w) -> (B, 3, h, w);
        one sampling pass, frames stacked along the grid's rows."""
        o, e1, e2 = f0.origin[0], f0.e1[0], f0.e2[0]
        gx = (o[0] + u * e1[0] + v * e2[0]) * (2.0 / self.width) - 1.0
        gy = (o[1] + u * e1[1] + v * e2[1]) * (2.0 / self.height) - 1.0
        bsz, h, w = gx.shape
        grid = torch.stack((gx, gy), -1).view(1, bsz * h, w, 2)
        colour = F.grid_sample(self.base[None], grid, mode="bilinear", padding_mode="border",
                               align_corners=False)
        return colour.view(3, bsz, h, w).transpose(0, 1)

    def _latents(self, latents: torch.Tensor | None, bsz: int) -> torch.Tensor:
        if latents is None:
            return torch.zeros(bsz, len(self._ch), device=self.device)
        lat = torch.as_tensor(latents, device=self.device, dtype=torch.float32)
        return lat[:, list(self._ch)]

    def _synthetic(self, frame, px, xy: torch.Tensor, lat: torch.Tensor,  # noqa: ANN001, ANN202
                   teeth: bool = True, tongue: bool = True, depth: float = DEPTH_DARK,
                   lower_teeth: bool | None = None):
        """The painted interior (colour, coverage): cavity, upper and lower teeth (the lower
        ones as `teeth` unless `lower_teeth` says), tongue."""
        lower_teeth = teeth if lower_teeth is None else lower_teeth
        length = frame.length.view(-1, 1, 1)
        s = length / self.width0
        # Closed portrait: the neutral lip-contact gap is not interior; shrink it away.
        # (+0.5 px: at neutral d_up + d_low = gap0, so one of du, dl is <= 0 and a_in == 0.)
        g0 = px.lookup(self.gap0.expand(frame.length.shape[0], -1)) * s
        shrink = 0.5 * g0 + 0.5
        # Once clearly open the painted interior reaches the deformed inner-lip line, so the
        # stretched lip-contact pixels do not frame it like a drawn outline.
        excess = (px.up_v + px.low_v - g0).clamp_min(0.0)
        shrink = shrink * (1.0 - 0.75 * (excess / 5.0).clamp(0.0, 1.0))
        du = px.d_up - shrink
        dl = px.d_low - shrink
        u = px.u
        a_in = soft_step(du) * soft_step(dl) * soft_step((0.5 - u.abs()) * length)
        au = (2.0 * u).abs().clamp(max=1.0)
        near = torch.minimum(du, dl).clamp_min(0.0)
        big = 0.05 * length
        lip_shadow = 0.72 + 0.28 * (du / big).clamp(0.0, 1.0)

        # Cavity: dark red at the lips, darkest at the back and the corners.
        k_near = torch.exp(-du.clamp_min(0.0) / (0.35 * big + 0.7))   # the upper lip rim
        sh_c = 1.0 - 0.4 * au.pow(4)

        # Upper teeth: edge line fixed to the skull.
        round_, wide, smile = lat[:, 1], lat[:, 2], lat[:, 4]
        tooth = UPPER_TOOTH * (1.0 - 0.55 * round_ + 0.3 * wide + 0.2 * smile).clamp_min(0.2)
        sim = similarity_2d(self.skull0, xy[:, list(SKULL)])
        lip_line = apply_similarity(*sim, self.upper0)                         # (B, K, 2)
        a = sim[0]
        down = torch.stack((a[:, 0] * self.down0[0] - a[:, 1] * self.down0[1],
                            a[:, 1] * self.down0[0] + a[:, 0] * self.down0[1]), -1)
        drop = (tooth * self.width0)[:, None, None] * self.arch[None, :, None]
        edge_tab = frame.table(lip_line + drop * down[:, None, :])
        d_te = (px.lookup(edge_tab) - px.v) * length                          # + above the edge
        tooth_px = (tooth.view(-1, 1, 1) * length).clamp_min(1.0)
        soft = 0.012 * length + 0.8                     # incisal edge: soft, not a lip line
        a_ut = soft_step(d_te, soft) * (1.0 - au.pow(4)) * float(teeth)
        theta = torch.asin((2.0 * u * 0.985).clamp(-0.985, 0.985))
        tau = theta / TOOTH_STEP
        gap_px = (tau - torch.round(tau)).abs() * TOOTH_STEP * torch.cos(theta) * 0.5 * length
        t_edge = (1.0 - d_te / tooth_px).clamp(0.0, 1.0)
        sep_w = 0.006 * length + 0.7
        # the gaps between teeth: shaded lines that deepen toward the incisal edge
        seps = 1.0 - 0.28 * torch.exp(-(gap_px / sep_w).square()) * t_edge.sqrt()
        # slight tooth-to-tooth variation (no piano keys), darker toward the corners
        seps = seps * (1.0 + 0.035 * torch.sin(2.7 * torch.round(tau) + 0.9))
        recede = 1.0 - 0.9 * au.pow(2.5)   # the buccal corridor: teeth darken into the corners
        # the translucent incisal edge; the upper lip's shadow on the top (teeth half hidden
        # in it, not a grey bar framed by a rim)
        sh_ut = recede * seps * (1.0 - 0.15 * torch.exp(-d_te.clamp_min(0.0)
                                                         / (0.015 * length + 0.6)))
        sh_ut = sh_ut * (0.55 + 0.45 * (du / (0.06 * length + 0.5)).clamp(0.0, 1.0).sqrt())

        # Lower teeth: a thinner band on the lower lip (jaw), mostly hidden.
        lower = (LOWER_TOOTH * (1.0 + 0.6 * wide - 0.5 * round_)).view(-1, 1, 1) * length
        # ... that rises into view only as the jaw opens wide
        lower = lower * ((px.up_v + px.low_v - 0.08 * length) / (0.2 * length)).clamp(0.0, 1.0)
        # each tooth's own height (a worn, uneven row: no ruler-straight edge), and each
        # tooth's rounded top (the gaps between them dip)
        tau_l = torch.asin((2.0 * u * 0.985).clamp(-0.985, 0.985)) / (0.8 * TOOTH_STEP)
        uneven = 1.0 + 0.12 * torch.sin(3.1 * torch.round(tau_l) + 0.4)
        dip = 1.0 - 0.25 * (tau_l - torch.round(tau_l)).abs().mul(2.0).pow(3)
        # (canine to canine: they end inside the corners, behind the cheeks' shadow)
        d_lt = lower * uneven * dip * (1.0 - (2.0 * u / 0.9).square()).clamp_min(0.0) - dl
        # (the soft edge alone would lay a light line of teeth along every lower lip: the band
        # fades in over its first 1.5 px instead)
        a_lt = (soft_step(d_lt, 1.2) * (lower / 1.5).clamp(0.0, 1.0) * (1.0 - au.pow(4))
                * float(lower_teeth))
        # lit from above (the upper lip and teeth shade them a little), and the lower lip's
        # inner edge in front of their roots as a dark wet line (where the lip ends and the
        # teeth begin: without it the band reads as a second, paler lower lip)
        root = 0.7 + 0.3 * (dl / (0.006 * length + 0.7)).clamp(0.0, 1.0)
        sh_lt = 0.9 * recede * seps * root * (0.75 + 0.25 * (d_lt / 2.0).clamp(0.0, 1.0))

        # Tongue: a hump low in the cavity, rising with the opening; its front (low in the
        # image, nearer the viewer) lit, its back dark.
        gap_eff = du + dl
        t_h = (0.42 * gap_eff - 0.03 * length).clamp(min=0.0)
        t_h = torch.minimum(t_h, 0.18 * length)
        prof = (1.0 - (2.0 * u / 0.8).square()).clamp_min(0.0).sqrt()
        t_top = t_h * prof
        d_t = t_top - dl
        # (its top a soft, shaded curve: a hard edge reads as a red band pasted across)
        a_t = soft_step(d_t, 0.03 * length + 1.5) * (t_top / 1.5).clamp(0.0, 1.0) * float(tongue)
        # lit toward its tip and the viewer, falling into the mouth's shadow at its back
        sh_t = 0.45 + 0.45 * (d_t / (0.7 * t_top + 1.0)).clamp(0.0, 1.0).sqrt()
        sh_t = sh_t * (1.0 - 0.6 * au.square())

        w_ut = a_ut
        rest = 1.0 - a_ut
        w_lt = rest * a_lt
        rest = rest * (1.0 - a_lt)
        w_t = rest * a_t
        w_c = rest * (1.0 - a_t)
        # depth: the back of the mouth, far from every lip, is darkest
        w_c = w_c * sh_c * (1.0 - depth * (1.0 - torch.exp(-near / (0.08 * length))))
        # a narrow gap lets little light in: its cavity darker, lit as the lips part
        w_c = w_c * (1.0 - NARROW_DARK * (1.0 - ((gap_eff / length - NARROW_GAP[0])
                                                 / (NARROW_GAP[1] - NARROW_GAP[0])).clamp(0, 1)))
        # teeth in shadow fade into the warm cavity colour, not to grey (a grey bar inside a
        # dark rim reads as a sticker)
        sh_ut = sh_ut.clamp(0.0, 1.0)
        sh_lt = sh_lt.clamp(0.0, 1.0)
        teeth_shade = w_ut * (1.0 - sh_ut) + w_lt * (1.0 - sh_lt)
        weights = torch.stack((w_c * (1.0 - k_near), w_c * k_near + 0.8 * teeth_shade,
                               w_t * sh_t, w_lt * sh_lt, w_ut * sh_ut), -1)
        # the lips' own shadow falls on the cavity fully, on the teeth (further forward) less
        teeth_lip = 1.0 - 0.5 * (1.0 - lip_shadow)
        weights = weights * torch.stack((lip_shadow, lip_shadow, lip_shadow, teeth_lip,
                                         teeth_lip), -1)
        palette = torch.stack((self.cavity, self.cavity_lip, self.tongue, self.teeth,
                               self.teeth), 0)                                   # (5, 3)
        colour = (weights @ palette).permute(0, 3, 1, 2)
        return colour.clamp_(0.0, 1.0), a_in

    def _own_interior(self, frame, px, scale: torch.Tensor):  # noqa: ANN001, ANN202
        """Sample the portrait's own open mouth into the deformed opening."""
        f0 = self.frame0
        bsz = frame.length.shape[0]
        inv = (1.0 / scale).view(-1, 1, 1)
        h0 = px.lookup(self.gap0.expand(bsz, -1))                    # neutral gap px at u
        up0 = px.lookup(f0.v_up.expand(bsz, -1)) * self.width0       # neutral upper lip v px
        a = px.up_v * inv                                          # neutral px below upper lip
        b = px.low_v * inv                                         # neutral px above lower lip
        gap = a + b
        # Each lip carries its share of the neutral opening with it (teeth do not stretch;
        # self.anchors); the middle of the neutral opening stretches (or squeezes) over what
        # is left. Closing past their sum, both shrink in proportion.
        share_up, share_low = self.anchors
        fit = (gap / (share_up + share_low)).clamp_max(h0)
        anchor, anchor_low = share_up * fit, share_low * fit
        # As the jaw opens the lower teeth sink behind the lower lip (the lip rolls up over
        # them): the jaw's anchored part shows what was `sink` higher, and ends `sink` lower.
        opened = ((gap - h0) / (LOWER_SINK_AT * h0 + 1.0)).clamp(0.0, 1.0)
        sink = LOWER_SINK * anchor_low * opened
        a_low = anchor_low - sink
        mid = (h0 - anchor - anchor_low) / (gap - anchor - a_low).clamp_min(1e-3)
        y = torch.where(a <= anchor, a, torch.where(b <= a_low, h0 - b - sink,
                                                     anchor + (a - anchor) * mid))
        y = torch.minimum(torch.maximum(y, torch.zeros_like(y)), h0)
        # Wider than the portrait: the stretched middle is the throat, dark and deep.
        # (the sunk lower teeth leave the cavity, not a stretched band of teeth, at the lip)
        # (with nothing of the portrait's moving with the lower lip, the cavity reaches it)
        deep = (a - anchor if share_low <= 0.0
                else torch.minimum(a - anchor, b - a_low + 2.0 * sink)).clamp_min(0.0)
        extra = ((gap - h0) / (0.05 * self.width0)).clamp(0.0, 1.0)
        dark = extra * (1.0 - torch.exp(-deep / (0.03 * self.width0 + 0.5)))
        u = px.u * self.width0
        vv = up0 + y
        o, e1, e2 = f0.origin[0], f0.e1[0], f0.e2[0]
        sx = o[0] + u * e1[0] + vv * e2[0]
        sy = o[1] + u * e1[1] + vv * e2[1]
        gx = sx * (2.0 / self.width) - 1.0
        gy = sy * (2.0 / self.height) - 1.0
        # One sampling pass over the (shared) portrait: frames stacked along the grid's rows.
        h, w = gx.shape[-2:]
        grid = torch.stack((gx, gy), -1).view(1, bsz * h, w, 2)
        colour = F.grid_sample(self.base[None], grid, mode="bilinear", padding_mode="border",
                               align_corners=False)
        colour = colour.view(3, bsz, h, w).transpose(0, 1)
        # The jaw's part (lower teeth, tongue) falls into the upper jaw's shadow as it opens.
        low_part = soft_step(a_low + 1.5 - b, 3.0)
        shadow = 1.0 - LOWER_SHADOW * ((gap - h0) / (0.15 * self.width0)).clamp(0.0, 1.0) * low_part
        colour = colour * shadow[:, None]
        return colour, px.opening(), dark


def _under(colour: torch.Tensor, alpha: torch.Tensor, layer: torch.Tensor, a: torch.Tensor
           ) -> tuple[torch.Tensor, torch.Tensor]:
    """The paint (colour, alpha) over a layer (B, 3, h, w) of coverage `a` (B, h, w): the
    layer shows where the paint does not cover."""
    a = a * (1.0 - alpha)
    out_a = alpha + a
    colour = (colour * alpha[:, None] + layer * a[:, None]) / out_a.clamp_min(1e-6)[:, None]
    return colour, out_a


def _soften(colour: torch.Tensor, alpha: torch.Tensor, sigma: float
            ) -> tuple[torch.Tensor, torch.Tensor]:
    """Gaussian blur (sigma px) of a premultiplied paint layer: colour (B, 3, h, w), alpha
    (B, h, w). Its edge softens into the lips as much as its inside."""
    r = int(math.ceil(2.5 * sigma))
    if sigma <= 0.0 or r < 1:
        return colour, alpha
    x = torch.arange(-r, r + 1, dtype=colour.dtype, device=colour.device)
    k = torch.exp(-0.5 * (x / sigma) ** 2)
    k = k / k.sum()
    layer = torch.cat((colour * alpha[:, None], alpha[:, None]), 1)     # (B, 4, h, w)
    c = layer.shape[1]
    layer = F.pad(layer, (r, r, r, r), mode="replicate")
    layer = F.conv2d(layer, k.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    layer = F.conv2d(layer, k.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)
    a = layer[:, 3]
    return layer[:, :3] / a.clamp_min(1e-4)[:, None], a
