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

Each frame is warped span by span of the moving box (row bands cut to where the person can
move, warp.Box.spans), and each span is laid over the plate and rounded to uint8 at once
(the layer and plate are held in 0..255, so the sum rounds straight into the output); only
the face, where the compositors paint, is also kept as float, and rounded again after them.
The map is upsampled as two planes (x, y), the identity added on the fine grid.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch

if TYPE_CHECKING:
    from talkcli.render.warp import Box

cv2: Any   # OpenCV's stubs reject its own scalar and dst= forms used here
try:
    import cv2
except ImportError:  # pragma: no cover - opencv-python-headless is a dependency
    cv2 = None

_TO_U8 = (255.0, 255.0, 255.0, 255.0)
_FROM_U8 = (1.0 / 255.0,) * 4


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
        # Colour in 0..255: the sum over the plate is rounded straight into uint8 (one pass
        # less than a separate quantisation)
        self.layer = np.ascontiguousarray(layer[0].permute(1, 2, 0).numpy() * np.float32(255))
        self.layer[..., 3] = 1.0 - layer[0, 3].numpy()
        self.plate = np.ascontiguousarray(plate.permute(1, 2, 0).numpy() * np.float32(255))
        # the identity on the fine grid, offset so that OpenCV's upsampling of it gives each
        # pixel its own position (src = (dst + 0.5) / step - 0.5): added to the small fine
        # map instead of to the full-resolution one
        hf, wf = -(-height // step), -(-width // step)
        off = step / 2.0 - 0.5
        xs, ys = np.meshgrid(np.arange(wf, dtype=np.float32) * step + off,
                             np.arange(hf, dtype=np.float32) * step + off)
        self.identity = (xs, ys)                                  # two (hf, wf) planes
        # scratch, reused every frame (fresh ~4 MB arrays cost page faults each time): the
        # map as two planes (x, y), fine and full resolution
        self._fine = np.empty((2, hf, wf), np.float32)
        self._map = np.empty((2, height + step, width + step), np.float32)
        self._warped = np.empty((height, width, 4), np.float32)
        self._clear = np.empty((height, width), np.float32)
        self._clear3 = np.empty((height, width, 3), np.float32)
        self._colour = np.empty((height, width, 3), np.float32)

    def warp(self, frames: np.ndarray, out: np.ndarray, back: torch.Tensor, box: Box,
             inner: tuple[int, int, int, int], still: np.ndarray) -> None:
        """The box of frames (n, H, W, 3) float and of out (n, H, W, 3) uint8 becomes the
        warped layer over the plate; back (n, 2, h, w) px, the fine backward displacement
        of the box's cells. Span by span of the box (`box.spans`; the rest of the box is
        the still portrait, `still` (H, W, 3) uint8): warped, laid over the plate and
        rounded into `out` while the span is in cache; only the part inside `inner` (y0,
        y1, x0, x1 px: where the compositors paint) is kept as float in `frames`, to be
        rounded again after them."""
        y0, y1, x0, x1 = box.y0, box.y1, box.x0, box.x1
        _, _, h, w = back.shape
        step = self.step
        fy, fx = y0 // step, x0 // step   # the box starts on a coarse cell, so on a fine one
        disp = back.numpy()                                            # (n, 2, h, w)
        fine = self._fine[:, :h, :w]
        ident = [plane[fy:fy + h, fx:fx + w] for plane in self.identity]
        up_all = self._map[:, :h * step, :w * step]
        spans = box.spans or ((y0, y1, x0, x1),)
        rest = _complement(box, spans)
        for k in range(frames.shape[0]):
            for c in (0, 1):
                cv2.add(disp[k, c], ident[c], dst=fine[c])
                cv2.resize(fine[c], (w * step, h * step), dst=up_all[c],
                           interpolation=cv2.INTER_LINEAR)
            _unclamp_identity(up_all, step)
            for sy0, sy1, sx0, sx1 in spans:
                rows, cols = slice(sy0 - y0, sy1 - y0), slice(sx0 - x0, sx1 - x0)
                colour, shade = self._span(up_all[0, rows, cols], up_all[1, rows, cols],
                                           sy0, sy1, sx0, sx1)
                cv2.add(colour, shade, dst=out[k, sy0:sy1, sx0:sx1], dtype=cv2.CV_8U)
                iy0, iy1 = max(sy0, inner[0]), min(sy1, inner[1])
                ix0, ix1 = max(sx0, inner[2]), min(sx1, inner[3])
                if iy1 > iy0 and ix1 > ix0:
                    part = (slice(iy0 - sy0, iy1 - sy0), slice(ix0 - sx0, ix1 - sx0))
                    dst = frames[k, iy0:iy1, ix0:ix1]
                    cv2.add(colour[part], shade[part], dst=dst)
                    cv2.multiply(dst, _FROM_U8, dst=dst)
            for ry0, ry1, rx0, rx1 in rest:
                out[k, ry0:ry1, rx0:rx1] = still[ry0:ry1, rx0:rx1]

    def _span(self, up_x: np.ndarray, up_y: np.ndarray, y0: int, y1: int, x0: int, x1: int
              ) -> tuple[np.ndarray, np.ndarray]:
        """The layer sampled at (up_x, up_y) (the span's pixels' source positions) and the plate's
        part showing through it: two float (h, w, 3) views of scratch memory in 0..255,
        whose sum is the frame."""
        hb, wb = y1 - y0, x1 - x0
        warped, clear = self._warped[:hb, :wb], self._clear[:hb, :wb]
        clear3, colour = self._clear3[:hb, :wb], self._colour[:hb, :wb]
        cv2.remap(self.layer, up_x, up_y, cv2.INTER_LINEAR, dst=warped,
                  borderMode=cv2.BORDER_REPLICATE)
        # colour + (1 - alpha) * plate, in OpenCV's passes (torch is slow on channels-last
        # views; these beat one mixChannels)
        cv2.extractChannel(warped, 3, dst=clear)
        cv2.merge((clear, clear, clear), dst=clear3)
        cv2.multiply(self.plate[y0:y1, x0:x1], clear3, dst=clear3)
        cv2.cvtColor(warped, cv2.COLOR_BGRA2BGR, dst=colour)
        return colour, clear3

    @staticmethod
    def quantise(frames: np.ndarray, out: np.ndarray) -> None:
        """(n, h, w, 3) float 0..1 -> `out` (n, h, w, 3) uint8, rounded and saturated."""
        for k in range(frames.shape[0]):
            out[k] = cv2.multiply(frames[k], _TO_U8, dtype=cv2.CV_8U)


def _complement(box: Box, spans: tuple[tuple[int, int, int, int], ...]
                ) -> list[tuple[int, int, int, int]]:
    """The rectangles of the box outside its spans (which are row bands of it)."""
    rest = []
    row = box.y0
    for y0, y1, x0, x1 in spans:
        if y0 > row:
            rest.append((row, y0, box.x0, box.x1))
        rest += [(y0, y1, box.x0, x0), (y0, y1, x1, box.x1)]
        row = y1
    if box.y1 > row:
        rest.append((row, box.y1, box.x0, box.x1))
    return [r for r in rest if r[1] > r[0] and r[3] > r[2]]


def _unclamp_identity(up: np.ndarray, step: int) -> None:
    """OpenCV's upsampling holds the first and last samples over the outermost pixels (as
    the displacement must be held), which holds the identity too: there it is off by
    step/2 - 1/2 px, outward; put those pixels' positions back (the outer rows and
    columns only). `up`: the map's x and y planes (2, h, w)."""
    off = step / 2.0 - 0.5
    for j in range(int(off + 0.5)):   # the pixels before the first sample's centre
        up[0, :, j] -= off - j
        up[0, :, -1 - j] += off - j
        up[1, j, :] -= off - j
        up[1, -1 - j, :] += off - j
