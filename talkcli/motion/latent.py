"""The motion latent contract (DESIGN §4): a (T, C) float32 array with named channels.

Every stage agrees on CHANNELS and its order; code indexes by name through `index()`
rather than by magic numbers. More channels may be appended, never reordered.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

CHANNELS: tuple[str, ...] = (
    "head_yaw",     # degrees, + = face turns towards image right
    "head_pitch",   # degrees, + = chin up
    "head_roll",    # degrees, + = clockwise in the image
    "head_scale",   # 1 = as in portrait; > 1 closer
    "jaw_open",     # 0-1, 1 = widest natural speaking opening
    "mouth_round",  # 0-1, rounding/protrusion (o, u, w)
    "mouth_wide",   # 0-1, lip-corner stretch (ee)
    "lips_press",   # 0-1, lips pressed closed (p, b, m)
    "blink_left",   # 0 open - 1 closed, subject's left eye
    "blink_right",  # 0 open - 1 closed, subject's right eye
    "gaze_yaw",     # degrees relative to camera, + = towards image right
    "gaze_pitch",   # degrees relative to camera, + = up
    "brow_raise",   # 0-1
    "smile",        # 0-1
    "brow_frown",   # 0-1, brows drawn together and down (anger, concentration)
    "eye_squint",   # -1..1, + narrows the eye aperture (smile, anger), - widens (surprise)
    "brow_inner",   # 0-1, inner brow ends raised (sadness, worry)
    "mouth_frown",  # 0-1, mouth corners pulled down (sadness)
    "lip_tuck",     # 0-1, lower lip drawn up under the upper teeth (f, v)
)

# The value of each channel that leaves the portrait unchanged.
NEUTRAL: dict[str, float] = {name: 0.0 for name in CHANNELS} | {"head_scale": 1.0}


def index(name: str) -> int:
    return CHANNELS.index(name)


def neutral(frames: int) -> np.ndarray:
    """(frames, C) latents that reproduce the portrait as it is."""
    row = np.array([NEUTRAL[c] for c in CHANNELS], dtype=np.float32)
    return np.tile(row, (frames, 1))


@dataclass(frozen=True)
class MotionTrack:
    """Per-frame motion latents plus their frame rate."""

    fps: float
    values: np.ndarray  # (T, C) float32, columns in `channels` order
    channels: tuple[str, ...] = CHANNELS

    @property
    def frames(self) -> int:
        return int(self.values.shape[0])

    def channel(self, name: str) -> np.ndarray:
        return self.values[:, self.channels.index(name)]

    def save(self, path: Path) -> None:
        np.savez(path, fps=np.float32(self.fps), channels=np.array(self.channels),
                 values=self.values.astype(np.float32))
