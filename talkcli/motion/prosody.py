"""Prosodic events per video frame: pitch accents (F0 + loudness peaks) and F0 rises."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from talkcli.audio.features import FrameFeatures
from talkcli.signal1d import gaussian_filter1d, maximum_filter1d, median_filter


@dataclass(frozen=True)
class Accent:
    frame: int
    strength: float  # 0-1
    rise: float  # F0 rise into the accent, semitones


def activity(ff: FrameFeatures) -> np.ndarray:
    """Smooth 0-1 speech activity envelope (calmer head in pauses)."""
    sig = 0.35 * ff.fps
    env = gaussian_filter1d(ff.vad.astype(np.float64), sig, mode="nearest")
    loud = gaussian_filter1d(ff.loudness.astype(np.float64), sig, mode="nearest")
    return np.clip(env * (0.6 + 0.4 * np.clip(loud, 0, 1)), 0, 1)


def semitones(ff: FrameFeatures) -> np.ndarray:
    """F0 in semitones relative to the clip median, 0 where unvoiced (octave jumps removed)."""
    f0 = ff.f0.astype(np.float64)
    voiced = f0 > 0
    if voiced.sum() < 3:
        return np.zeros_like(f0)
    st = np.where(voiced, 12 * np.log2(np.maximum(f0, 1.0) / np.median(f0[voiced])), 0.0)
    st = np.where(np.abs(st) > 9, 0.0, st)  # octave errors
    return median_filter(st, size=3)


def accents(ff: FrameFeatures) -> list[Accent]:
    """Pitch accents: local maxima of loudness x F0 prominence, at most ~3 per second."""
    n = ff.f0.shape[0]
    if n < 3:
        return []
    st = semitones(ff)
    base = gaussian_filter1d(st, ff.fps * 0.6, mode="nearest")
    prom = np.clip((st - base) / 3.0, 0, 1) * (ff.f0 > 0)
    loud = gaussian_filter1d(ff.loudness.astype(np.float64), 1.0, mode="nearest")
    score = gaussian_filter1d(0.5 * prom + 0.5 * np.clip(loud, 0, 1) ** 2, 1.0) * (ff.vad > 0.5)
    win = max(3, int(ff.fps * 0.33)) | 1
    peaks = (score == maximum_filter1d(score, size=win)) & (score > 0.3)
    out = []
    lag = max(1, int(0.15 * ff.fps))
    for kk in np.flatnonzero(peaks):
        k = int(kk)
        rise = float(st[k] - st[max(0, k - lag)]) if st[k] != 0 else 0.0
        out.append(Accent(k, float(min(1.0, score[k])), rise))
    return out
