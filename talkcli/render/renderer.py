"""Renderer: motion latents -> uint8 video frames of the portrait (DESIGN §2, render/).

Per chunk of frames (one torch code path for CPU and CUDA):
1. deform the control points in 3D from the latents (geometry.Deformer);
2. turn their 2-D displacements into a dense backward map (warp.DenseMap);
3. grid_sample the person layer (premultiplied colour + alpha, irises painted out) and lay it
   over a still background plate (the person area filled in from around it), so the background
   and the frame border never move and no streaks are dragged out of the head's outline;
4. paint the mouth interior and the eyes (mouth.MouthCompositor, eyes.EyeCompositor), and
   shade under lowered brows (brows.BrowShade);
5. quantise to uint8 into a preallocated buffer; one transfer to the host.

With neutral latents every displacement is zero, the map is the identity grid and the
premultiplied layer plus plate add back up to the portrait exactly.
"""

from __future__ import annotations

import ctypes
import functools
import math
import sys
from typing import Any

import numpy as np
import torch

from talkcli.face.rig import FaceRig
from talkcli.motion.latent import CHANNELS
from talkcli.render.brows import BrowShade
from talkcli.render.eyes import EyeCompositor
from talkcli.render.fill import membrane_fill
from talkcli.render.framing import frame_rig
from talkcli.render.geometry import (
    MESH_N,
    Deformer,
    build_geometry,
    crease_boxes,
    crease_points,
    pose_angles,
)
from talkcli.render.mouth import MouthCompositor
from talkcli.render.remap import CpuWarp
from talkcli.render.remap import available as cpu_remap_available
from talkcli.render.warp import Box, DenseMap, sample

# Frames per full-resolution pass: 16 at 512² (the compositors' many small ops cost per call:
# 4 frames a pass made them 2.7 instead of 1.7 ms a frame), fewer at larger sizes so that
# the float frames of a pass stay under ~50 MB.
SUB_BATCH_PIXELS = 16 * 512 * 512


@functools.cache
def _raise_mmap_threshold() -> None:
    """glibc: keep ~16 MB per-sub-batch temporaries on the heap instead of mmap/munmap
    each time (DESIGN §1: re-mapping halved throughput)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 32 * 1024 * 1024)   # M_MMAP_THRESHOLD
        libc.mallopt(-1, 256 * 1024 * 1024)  # M_TRIM_THRESHOLD
    except (OSError, AttributeError):
        pass


class Renderer:
    """Build once per portrait; `render` turns (B, C) latents into (B, H, W, 3) uint8."""

    def __init__(self, rig: FaceRig, size: int = 512, framing: str = "face",
                 device: torch.device | str = "cpu", max_batch: int = 64, *,
                 distance: float = 1.0) -> None:
        """`distance`: the camera's distance (preset head.distance; > 1 = farther), a change
        of framing (render/framing.py). Latents stay absolute: a head_scale of 1/distance is
        the head at that distance, and only head_scale * distance - 1 (speech leaning in
        and out) is rendered as head motion."""
        _raise_mmap_threshold()
        self.device = torch.device(device)
        self.max_batch = max(1, int(max_batch))
        framed = frame_rig(rig, size, framing, distance)
        self.framed = framed
        self.distance = float(distance)
        # what the user should know about the framing (a tight portrait, a filled margin)
        self.framing_notes: tuple[str, ...] = framed.plan.notes if framed.plan else ()
        width, height = framed.size
        self.output_size: tuple[int, int] = (width, height)
        dev = self.device
        f32: dict[str, Any] = {"dtype": torch.float32, "device": dev}

        base = torch.as_tensor(framed.image, **f32).permute(2, 0, 1).contiguous()
        mesh = torch.as_tensor(framed.points, **f32)
        self.eyes = EyeCompositor(
            base, mesh, torch.as_tensor(framed.iris_left, **f32),
            torch.as_tensor(framed.iris_right, **f32), torch.as_tensor(framed.eye_left, **f32),
            torch.as_tensor(framed.eye_right, **f32), dev, interocular=framed.interocular)
        self.mouth = MouthCompositor(base, mesh, framed.interocular, dev)
        self.brows = BrowShade(height, width, dev)
        source = self.eyes.clean_base.to(**f32)

        mask = torch.as_tensor(framed.person_mask, **f32)[None]
        self.plate = _background_plate(base, mask)                     # (3, H, W)
        fg = source - (1.0 - mask) * self.plate                       # premultiplied person
        self.layer = torch.cat([fg, mask], 0)[None].contiguous()     # (1, 4, H, W)

        geo = build_geometry(framed.points, rig.pose, framed.scale, width, height,
                             framed.interocular, framed.face_height)
        self.geometry = geo
        self.deformer = Deformer(geo, dev, distance=self.distance)
        self.pose0 = pose_angles(rig.pose)
        self.map = DenseMap(geo.points[:, :2], width, height, dev,
                            walk_boxes=crease_boxes(framed.points, framed.interocular),
                            crease_points=crease_points(), person_mask=framed.person_mask)
        # CPU: OpenCV samples and quantises (render/remap.py); CUDA: torch's grid_sample
        self._cpu = (CpuWarp(self.layer, self.plate, self.map.step)
                     if dev.type == "cpu" and cpu_remap_available() else None)
        self._init_buffers(source, framed.interocular)

    def _init_buffers(self, still: torch.Tensor, interocular: float) -> None:
        """Per-chunk buffers, allocated once. Outside a chunk's moving box every frame is the
        still portrait: the uint8 output keeps it there (only the box is written, and what an
        earlier, larger box wrote is put back), so that part costs nothing per frame."""
        width, height = self.output_size
        dev = self.device
        self._still_u8 = _quantise(still[None].clone())[0].permute(1, 2, 0).to(torch.uint8)
        self._out = self._still_u8.expand(self.max_batch, -1, -1, -1).contiguous()
        self._dirty: Box | None = None       # the part of _out that may differ from the still
        self._sub = max(1, min(self.max_batch, SUB_BATCH_PIXELS // (width * height)))
        sub = self._sub
        # float frames (S, 3, H, W); on the CPU path a view of channels-last memory, of
        # which the warp writes (and the compositors see) only the face: calloc'd, so the
        # rest never becomes resident
        if self._cpu is not None:
            self._frames_hwc = torch.from_numpy(np.zeros((sub, height, width, 3), np.float32))
            self._frames = self._frames_hwc.permute(0, 3, 1, 2)
        else:
            self._frames = still.expand(sub, -1, -1, -1).contiguous()
        self._grid = torch.empty(0 if self._cpu is not None else sub * height * width * 2,
                                 dtype=torch.float32, device=dev)
        # the compositors paint inside the face (mouth crop, eye crops with their lashes)
        self._face_margin = 8.0 + 0.25 * float(interocular)

    @property
    def control_points(self) -> np.ndarray:
        return self.geometry.points

    @torch.inference_mode()
    def deform(self, latents: np.ndarray | torch.Tensor) -> torch.Tensor:
        """(B, C) latents -> (B, N, 3) deformed control points in output px."""
        lat = torch.as_tensor(np.asarray(latents, dtype=np.float32), device=self.device)
        return self.deformer.deform(lat, self.pose0)

    @torch.inference_mode()
    def render(self, latents: np.ndarray) -> np.ndarray:
        """(B, C) float32 latents in CHANNELS order -> (B, H, W, 3) uint8 frames."""
        lat = np.asarray(latents, dtype=np.float32)
        if lat.ndim != 2 or lat.shape[1] < len(CHANNELS):
            raise ValueError(f"latents must be (B, {len(CHANNELS)}), got {lat.shape}")
        width, height = self.output_size
        if lat.shape[0] == 0:
            return np.zeros((0, height, width, 3), dtype=np.uint8)
        chunks = [self._render_chunk(lat[i:i + self.max_batch])
                  for i in range(0, lat.shape[0], self.max_batch)]
        return chunks[0] if len(chunks) == 1 else np.concatenate(chunks)

    def _render_chunk(self, lat_np: np.ndarray) -> np.ndarray:
        b = lat_np.shape[0]
        lat = torch.as_tensor(lat_np, device=self.device)
        pts = self.deformer.deform(lat, self.pose0)                   # (B, N, 3)
        disp = pts[..., :2] - self.deformer.points[:, :2]
        mesh = pts[:, :MESH_N]
        face = self._face_box(mesh)
        box = self.map.moving_box(disp, face)
        out = self._out
        self._restore_outside(box)
        if box is not None:
            back = self.map.backward_disp(disp, box)                  # (B, 2, h, w) px
            inner = _pixel_rect(face, box)
            for s in range(0, b, self._sub):
                e = min(b, s + self._sub)
                self._render_box(box, inner, back[s:e], mesh[s:e], lat[s:e], out[s:e])
        host = out[:b].to("cpu")
        arr = host.numpy()
        return arr.copy() if self.device.type == "cpu" else arr

    def _render_box(self, box: Box, inner: tuple[int, int, int, int], back: torch.Tensor,
                    mesh: torch.Tensor, lat: torch.Tensor, out: torch.Tensor) -> None:
        """Warp, composite and quantise the moving box of a few frames into `out`. On the
        CPU the warp rounds the box into `out` itself and keeps only the face (`inner`, where
        the compositors paint) as float frames, rounded again after them."""
        n = back.shape[0]
        y0, y1, x0, x1 = box.y0, box.y1, box.x0, box.x1
        frames = self._frames[:n]
        if self._cpu is not None:
            self._cpu.warp(self._frames_hwc[:n].numpy(), out.numpy(), back, box, inner,
                           self._still_u8.numpy())
        else:
            self._warp_torch(box, back, frames)
        frames = self.mouth.composite(frames, mesh, lat)
        frames = self.eyes.composite(frames, mesh, lat)
        frames = self.brows.composite(frames, mesh, lat)
        if self._cpu is not None:
            iy0, iy1, ix0, ix1 = inner
            self._cpu.quantise(self._frames_hwc[:n, iy0:iy1, ix0:ix1].numpy(),
                               out[:, iy0:iy1, ix0:ix1].numpy())
        else:
            out[:, y0:y1, x0:x1].copy_(
                _quantise(frames[:, :, y0:y1, x0:x1]).permute(0, 2, 3, 1))

    def _warp_torch(self, box: Box, back: torch.Tensor, frames: torch.Tensor) -> None:
        """grid_sample of the layer over the still plate, into the box of `frames`."""
        n = back.shape[0]
        (hb, wb), (y0, y1, x0, x1) = box.shape, (box.y0, box.y1, box.x0, box.x1)
        grid = self.map.grid(back, box, out=self._grid[: n * hb * wb * 2].view(n, hb, wb, 2))
        warped = sample(self.layer, grid)                             # (n, 4, hb, wb)
        inside = frames[:, :, y0:y1, x0:x1]
        # over the still plate: colour + (1 - alpha) * plate
        inside.copy_(warped[:, :3]).addcmul_(warped[:, 3:4].neg_().add_(1.0),
                                            self.plate[None, :, y0:y1, x0:x1])

    def _face_box(self, mesh: torch.Tensor) -> tuple[float, float, float, float]:
        """Output px box of the face mesh (neutral and deformed) plus the compositors' reach."""
        xy = torch.cat((mesh[..., :2].reshape(-1, 2), self.deformer.points[:MESH_N, :2]))
        lo, hi = xy.amin(0).tolist(), xy.amax(0).tolist()
        m = self._face_margin
        return lo[0] - m, lo[1] - m, hi[0] + m, hi[1] + m

    def _restore_outside(self, box: Box | None) -> None:
        """Put the still portrait back into the part of the output buffer that an earlier box
        wrote and `box` does not cover (up to four strips)."""
        dirty, self._dirty = self._dirty, box
        if dirty is None or (box is not None and box.contains(dirty)):
            return
        still, out = self._still_u8, self._out
        if box is None:
            strips = [(dirty.y0, dirty.y1, dirty.x0, dirty.x1)]
        else:
            ty0, ty1 = max(dirty.y0, box.y0), min(dirty.y1, box.y1)
            strips = [(dirty.y0, min(dirty.y1, box.y0), dirty.x0, dirty.x1),
                      (max(dirty.y0, box.y1), dirty.y1, dirty.x0, dirty.x1),
                      (ty0, ty1, dirty.x0, min(dirty.x1, box.x0)),
                      (ty0, ty1, max(dirty.x0, box.x1), dirty.x1)]
        for y0, y1, x0, x1 in strips:
            if y1 > y0 and x1 > x0:
                out[:, y0:y1, x0:x1] = still[y0:y1, x0:x1]


def _pixel_rect(rect: tuple[float, float, float, float], box: Box) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) float px -> (y0, y1, x0, x1) whole px, grown to whole pixels and cut
    to the box."""
    return (max(box.y0, math.floor(rect[1])), min(box.y1, math.ceil(rect[3])),
            max(box.x0, math.floor(rect[0])), min(box.x1, math.ceil(rect[2])))


def _quantise(frames: torch.Tensor) -> torch.Tensor:
    """0..1 float (in place) -> 0..255 rounded floats, ready for a uint8 copy."""
    return frames.mul_(255.0).add_(0.5).clamp_(0.0, 255.0)


def _background_plate(image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The background with the person area filled in from around it, for what the moving head
    uncovers: a membrane (harmonic) fill solved coarse to fine (pyramid diffusion), so it takes
    the brightness of the background right at the person's outline and has no seam there.
    Equal to the image wherever the mask is 0 (the premultiplied person layer is 0 there: a
    residual would travel with the head as a halo)."""
    hole = (mask > 0.0).float()
    known = 1.0 - hole
    filled = membrane_fill(image[None] * known[None], known[None])[0]
    return image * known + filled * hole
