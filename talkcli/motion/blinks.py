"""Blinks: a seeded schedule (rate from the preset, more likely at pause onsets) and the
per-frame eyelid closure it implies. Both eyes blink together."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from talkcli.motion.schedule import pause_onsets, smoothstep

REST_FACTOR = 0.68  # blink rate at rest relative to the talking rate (26 -> ~17.7)
MIN_GAP_S = 0.7


@dataclass(frozen=True)
class Blink:
    start: float  # seconds
    duration: float  # seconds, full close-open cycle
    depth: float  # 0-1


def schedule(rng: np.random.Generator, vad: np.ndarray, fps: float,
             rate_per_min: float) -> list[Blink]:
    """Blink events for the clip: a gamma renewal process nudged to pause onsets."""
    frames = vad.shape[0]
    duration = frames / fps
    if rate_per_min <= 0:
        return []
    talk = np.convolve(vad, np.ones(int(fps * 2) | 1) / (int(fps * 2) | 1), mode="same")
    onsets = [k / fps for k, _ in pause_onsets(vad, fps)]
    times: list[float] = []
    t = float(rng.uniform(0.2, 60.0 / rate_per_min))
    while t < duration:
        times.append(t)
        k = min(frames - 1, int(t * fps))
        rate = rate_per_min * (REST_FACTOR + (1 - REST_FACTOR) * float(talk[k]))
        mean = 60.0 / max(rate, 1e-3)
        t += max(MIN_GAP_S, float(rng.gamma(3.0, mean / 3.0)))
    # pull blinks that fall near a pause onset onto it (people blink as they stop talking)
    moved: list[float] = []
    oi = 0
    for t in times:
        u = float(rng.uniform())
        while oi < len(onsets) and onsets[oi] < t - 0.8:
            oi += 1
        if oi < len(onsets) and abs(onsets[oi] - t) < 0.8 and u < 0.7:
            t = onsets[oi] + 0.06 + 0.1 * u
        if not moved or t - moved[-1] >= MIN_GAP_S:
            moved.append(t)
    blinks = []
    for t in moved:
        d = float(np.clip(rng.lognormal(np.log(0.16), 0.25), 0.10, 0.40))
        depth = 1.0 if rng.uniform() < 0.85 else float(rng.uniform(0.75, 0.95))
        if t + d <= duration + 0.2:
            blinks.append(Blink(t, d, depth))
    return blinks


def _shape(x: np.ndarray) -> np.ndarray:
    """Closure over one blink, x in [0, 1]: fast close (30 %), short hold, slower open."""
    close = smoothstep(x / 0.3)
    opening = 1.0 - smoothstep((x - 0.4) / 0.6)
    return np.where(x < 0.3, close, np.where(x < 0.4, 1.0, opening)) * ((x >= 0) & (x <= 1))


def evaluate(blinks: list[Blink], fps: float, f0: int, f1: int) -> np.ndarray:
    """Eyelid closure (0-1) for frames f0..f1-1: the most closed state seen within the frame."""
    out = np.zeros(f1 - f0, np.float64)
    if not blinks:
        return out.astype(np.float32)
    starts = np.array([b.start for b in blinks])
    t0, t1 = f0 / fps, f1 / fps
    lo = int(np.searchsorted(starts, t0 - 0.5, side="left"))
    hi = int(np.searchsorted(starts, t1 + 0.1, side="right"))
    sub = np.linspace(-0.5, 0.5, 5) / fps
    t = (np.arange(f0, f1) / fps)[:, None] + sub[None, :]
    for b in blinks[lo:hi]:
        v = _shape((t - b.start) / b.duration).max(axis=1) * b.depth
        out = np.maximum(out, v)
    return out.astype(np.float32)
