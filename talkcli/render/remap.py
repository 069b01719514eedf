"""The CPU path of the warp: OpenCV's remap instead of torch's grid_sample (issue #9).

On one CPU core `F.grid_sample` of the 4-channel person layer at 512² took 5.4 ms a frame,
building its full-resolution normalized grid 1.9 ms and the float -> uint8 quantisation of
the permuted frames 1.5 ms: 8.8 of the 18.6 ms a frame cost. OpenCV does the same bilinear
sampling with SIMD (1.3 ms), the upsampling of the fine map (0.4 ms) and the rounding,
saturating conversion (0.5 ms). The frames are kept channels-last (H, W, 3), as OpenCV wants
them; the compositors see a (B, 3, H, W) view of the same memory.

Same maths as the torch path: bilinear, border replicated (grid_sample's padding "border"),
pixel centres at integers in OpenCV's convention (x = j + 0.5 px in ours), so with a zero
displacement every pixel is sampled exactly at its centre and neutral motion gives the
portrait exactly. OpenCV quantises sampling positions to 1/32 px (its fixed-point tables),
invisible at 8 bits. CUDA keeps the torch path.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

cv2: Any   # OpenCV's stubs reject its own scalar and dst= forms used here
try:
    import cv2
except ImportError:  # pragma: no cover - opencv-python-headless is a dependency
    cv2 = None

_TO_U8 = (255.0, 255.0, 255.0, 255.0)


def available() -> bool:
    return cv2 is not None


class CpuWarp:
    """Warp the premultiplied person layer over the still plate, frame by frame, into
    channels-last float frames; quantise them into uint8 frames."""

    def __init__(self, layer: torch.Tensor, plate: torch.Tensor, step: int) -> None:
        """layer (1, 4, H, W) premultiplied colour + alpha; plate (3, H, W); `step`: the
        fine map's cell size in px."""
        assert cv2 is not None
        cv2.setNumThreads(1)   # the render thread has one core; x264 has the other
        _, _, height, width = layer.shape
        self.step = step
        # (H, W, 4): premultiplied colour and 1 - alpha, the plate's weight (one pass
        # less per frame than sampling alpha)
        self.layer = np.ascontiguousarray(layer[0].permute(1, 2, 0).numpy())
        self.layer[..., 3] = 1.0 - self.layer[..., 3]
        self.plate = np.ascontiguousarray(plate.permute(1, 2, 0).numpy())    # (H, W, 3)
        # the identity on the fine grid, offset so that OpenCV's upsampling of it gives each
        # pixel its own position (src = (dst + 0.5) / step - 0.5): added to the small fine
        # map instead of to the full-resolution one
        hf, wf = -(-height // step), -(-width // step)
        off = step / 2.0 - 0.5
        xs, ys = np.meshgrid(np.arange(wf, dtype=np.float32) * step + off,
                             np.arange(hf, dtype=np.float32) * step + off)
        self.identity = torch.from_numpy(np.stack([xs, ys], axis=-1))        # (hf, wf, 2)
        self._fine = torch.empty(0)
        # scratch, reused every frame (fresh ~4 MB arrays cost page faults each time)
        self._map = np.empty((height + step, width + step, 2), np.float32)
        self._warped = np.empty((height, width, 4), np.float32)
        self._clear = np.empty((height, width), np.float32)
        self._clear3 = np.empty((height, width, 3), np.float32)
        self._colour = np.empty((height, width, 3), np.float32)

    def warp(self, frames: np.ndarray, back: torch.Tensor, y0: int, y1: int, x0: int,
             x1: int) -> None:
        """frames (n, H, W, 3) float: their box [y0:y1, x0:x1] becomes the warped layer over
        the plate; back (n, 2, h, w) px, the fine backward displacement of the box's cells."""
        hb, wb = y1 - y0, x1 - x0
        n, _, h, w = back.shape
        step = self.step
        fy, fx = y0 // step, x0 // step   # the box starts on a coarse cell, so on a fine one
        if self._fine.numel() < n * h * w * 2:
            self._fine = torch.empty(n * h * w * 2)
        fine_t = self._fine[: n * h * w * 2].view(n, h, w, 2)
        torch.add(back.permute(0, 2, 3, 1), self.identity[fy:fy + h, fx:fx + w], out=fine_t)
        fine = fine_t.numpy()                                                # (n, h, w, 2)
        plate = self.plate[y0:y1, x0:x1]
        up_all = self._map[:h * step, :w * step]
        up = up_all[:hb, :wb]
        warped, clear = self._warped[:hb, :wb], self._clear[:hb, :wb]
        clear3, colour = self._clear3[:hb, :wb], self._colour[:hb, :wb]
        for k in range(frames.shape[0]):
            cv2.resize(fine[k], (w * step, h * step), dst=up_all,
                       interpolation=cv2.INTER_LINEAR)
            _unclamp_identity(up_all, step)
            cv2.remap(self.layer, up, None, cv2.INTER_LINEAR, dst=warped,
                      borderMode=cv2.BORDER_REPLICATE)
            # colour + (1 - alpha) * plate, in OpenCV's passes (torch is slow on
            # channels-last views; these beat one mixChannels)
            cv2.extractChannel(warped, 3, dst=clear)
            cv2.merge((clear, clear, clear), dst=clear3)
            cv2.multiply(plate, clear3, dst=clear3)
            cv2.cvtColor(warped, cv2.COLOR_BGRA2BGR, dst=colour)
            cv2.add(colour, clear3, dst=frames[k, y0:y1, x0:x1])

    @staticmethod
    def quantise(frames: np.ndarray, out: np.ndarray) -> None:
        """(n, h, w, 3) float 0..1 -> `out` (n, h, w, 3) uint8, rounded and saturated."""
        for k in range(frames.shape[0]):
            out[k] = cv2.multiply(frames[k], _TO_U8, dtype=cv2.CV_8U)


def _unclamp_identity(up: np.ndarray, step: int) -> None:
    """OpenCV's upsampling holds the first and last samples over the outermost pixels (as
    the displacement must be held), which holds the identity too: there it is off by
    step/2 - 1/2 px, outward; put those pixels' positions back (the outer rows and
    columns only)."""
    off = step / 2.0 - 0.5
    for j in range(int(off + 0.5)):   # the pixels before the first sample's centre
        up[:, j, 0] -= off - j
        up[:, -1 - j, 0] += off - j
        up[j, :, 1] -= off - j
        up[-1 - j, :, 1] += off - j
