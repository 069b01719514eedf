"""Emotion offsets and speech-driven expression (brow raises on F0 rises)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from talkcli.config import Preset
from talkcli.motion.prosody import Accent
from talkcli.motion.schedule import smoothstep


@dataclass(frozen=True)
class EmotionStyle:
    smile: float = 0.0
    brow_raise: float = 0.0
    brow_frown: float = 0.0
    eye_squint: float = 0.0
    head_pitch: float = 0.0  # degrees
    head_gain: float = 1.0  # multiplies head motion
    blink_gain: float = 1.0


EMOTIONS: dict[str, EmotionStyle] = {
    "neutral": EmotionStyle(),
    "happy": EmotionStyle(smile=0.75, brow_raise=0.12, eye_squint=0.35, head_pitch=1.5,
                          head_gain=1.15, blink_gain=1.05),
    "sad": EmotionStyle(smile=0.0, brow_raise=0.3, brow_frown=0.25, eye_squint=0.2,
                        head_pitch=-4.0, head_gain=0.7, blink_gain=0.9),
    "angry": EmotionStyle(brow_frown=0.85, eye_squint=0.45, head_pitch=-1.5, head_gain=1.1),
    "surprised": EmotionStyle(brow_raise=0.75, eye_squint=-0.6, head_pitch=2.0,
                              head_gain=1.1, blink_gain=0.8),
    "calm": EmotionStyle(smile=0.15, eye_squint=0.1, head_gain=0.75, blink_gain=0.85),
}


def style(preset: Preset) -> EmotionStyle:
    """The emotion offsets scaled by emotion.intensity (gains interpolate from 1)."""
    s = EMOTIONS.get(preset.emotion.name, EmotionStyle())
    k = preset.emotion.intensity
    return EmotionStyle(
        smile=s.smile * k, brow_raise=s.brow_raise * k, brow_frown=s.brow_frown * k,
        eye_squint=s.eye_squint * k, head_pitch=s.head_pitch * k,
        head_gain=1.0 + (s.head_gain - 1.0) * k, blink_gain=1.0 + (s.blink_gain - 1.0) * k,
    )


@dataclass(frozen=True)
class BrowRaise:
    start: float
    hold: float
    amp: float


def brow_schedule(rng: np.random.Generator, accents: list[Accent], fps: float,
                  intensity: float) -> list[BrowRaise]:
    """Brow raises on some F0 rises (more with a stronger rise and accent)."""
    out: list[BrowRaise] = []
    last = -10.0
    for a in accents:
        u, h, amp = rng.uniform(), rng.uniform(0.15, 0.45), rng.uniform(0.3, 0.7)
        t = a.frame / fps - 0.12
        p = np.clip(0.15 + 0.12 * a.rise, 0, 0.7) * a.strength * min(intensity, 1.5)
        if a.rise > 1.0 and u < p and t - last > 1.2:
            out.append(BrowRaise(t, float(h), float(amp) * min(intensity, 1.5)))
            last = t
    return out


def brow_evaluate(raises: list[BrowRaise], fps: float, f0: int, f1: int) -> np.ndarray:
    t = np.arange(f0, f1) / fps
    out = np.zeros(f1 - f0)
    starts = np.array([r.start for r in raises])
    lo = int(np.searchsorted(starts, f0 / fps - 1.2, side="left"))
    hi = int(np.searchsorted(starts, f1 / fps + 0.1, side="right"))
    for r in raises[lo:hi]:
        up = smoothstep((t - r.start) / 0.15)
        down = 1 - smoothstep((t - r.start - 0.15 - r.hold) / 0.35)
        out = np.maximum(out, r.amp * up * down)
    return out.astype(np.float32)
