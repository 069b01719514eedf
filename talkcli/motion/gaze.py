"""Gaze: fixations on the preset's main direction with small saccades every 1-3 s and an
occasional look-away at long pauses. Values are relative to the camera, so the eyes stay
on the camera while the head moves."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from talkcli.motion.schedule import pause_onsets, smoothstep

SACCADE_S = 0.045


@dataclass(frozen=True)
class Fixation:
    start: float
    yaw: float
    pitch: float


def schedule(rng: np.random.Generator, vad: np.ndarray, fps: float, main_yaw: float,
             main_pitch: float, saccades: float, look_away: float) -> list[Fixation]:
    duration = vad.shape[0] / fps
    fix: list[Fixation] = [Fixation(0.0, main_yaw, main_pitch)]
    t = float(rng.uniform(0.5, 2.0))
    while t < duration:
        dy, dp = rng.normal(0.0, 0.7, size=2) * saccades
        r = float(np.hypot(dy, dp))
        if r > 2.0 * max(saccades, 1e-6):
            dy, dp = dy / r * 2.0 * saccades, dp / r * 2.0 * saccades
        fix.append(Fixation(t, main_yaw + float(dy), main_pitch + float(dp) * 0.7))
        t += float(np.clip(rng.gamma(4.0, 0.45), 0.8, 3.5))
    # look-aways while "thinking" in longer pauses
    events = []
    for k, n in pause_onsets(vad, fps, min_pause_s=0.6):
        if rng.uniform() < look_away:
            side = 1.0 if rng.uniform() < 0.5 else -1.0
            away = Fixation(k / fps + 0.1, main_yaw + side * float(rng.uniform(6, 12)),
                            main_pitch + float(rng.uniform(-3, 6)))
            back_t = k / fps + 0.1 + min(n / fps - 0.1, float(rng.uniform(0.5, 1.5)))
            events.append((away, back_t))
    for away, back_t in events:
        fix = [f for f in fix if not (away.start <= f.start < back_t)]
        fix.append(away)
        fix.append(Fixation(back_t, main_yaw, main_pitch))
    fix.sort(key=lambda f: f.start)
    return fix


def evaluate(fix: list[Fixation], fps: float, f0: int, f1: int) -> tuple[np.ndarray, np.ndarray]:
    """(gaze_yaw, gaze_pitch) for frames f0..f1-1; saccades take about 45 ms."""
    t = np.arange(f0, f1) / fps
    starts = np.array([f.start for f in fix])
    yaw = np.array([f.yaw for f in fix])
    pitch = np.array([f.pitch for f in fix])
    i = np.clip(np.searchsorted(starts, t, side="right") - 1, 0, len(fix) - 1)
    prev = np.maximum(i - 1, 0)
    w = smoothstep((t - starts[i]) / SACCADE_S)
    gy = yaw[prev] + (yaw[i] - yaw[prev]) * w
    gp = pitch[prev] + (pitch[i] - pitch[prev]) * w
    return gy.astype(np.float32), gp.astype(np.float32)
