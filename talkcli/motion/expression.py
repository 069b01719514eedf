"""Emotion offsets and speech-driven expression (brow raises on F0 rises)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from talkcli.config import Preset
from talkcli.motion.latent import index, neutral
from talkcli.motion.prosody import Accent
from talkcli.motion.schedule import smoothstep


@dataclass(frozen=True)
class EmotionStyle:
    smile: float = 0.0
    brow_raise: float = 0.0
    brow_frown: float = 0.0
    eye_squint: float = 0.0
    brow_inner: float = 0.0
    mouth_frown: float = 0.0
    head_pitch: float = 0.0  # degrees
    head_gain: float = 1.0  # multiplies head motion
    blink_gain: float = 1.0


# Calibrated on one actor's acted emotions (MEAD M030, bench/emotion_offsets.py): at
# intensity 1 the re-measured render moves the mouth corners / brows about as far as his.
EMOTIONS: dict[str, EmotionStyle] = {
    "neutral": EmotionStyle(),
    "happy": EmotionStyle(smile=0.9, brow_raise=0.05, eye_squint=0.2, head_pitch=1.5,
                          head_gain=1.15, blink_gain=1.05),
    "sad": EmotionStyle(mouth_frown=0.9, brow_inner=0.9, brow_frown=0.1, eye_squint=0.25,
                        head_pitch=-4.0, head_gain=0.7, blink_gain=0.9),
    # anger's glare (AU5, upper lids up) under the lowered brows (AU4)
    "angry": EmotionStyle(brow_frown=1.0, eye_squint=-0.3, head_pitch=-1.5, head_gain=1.1),
    "surprised": EmotionStyle(brow_raise=1.0, eye_squint=-0.8, head_pitch=2.0,
                              head_gain=1.1, blink_gain=0.8),
    "calm": EmotionStyle(smile=0.15, eye_squint=0.1, head_gain=0.75, blink_gain=0.85),
}


def emotion_channels(s: EmotionStyle, activity: np.ndarray,
                     speech_brows: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Per-frame values of the face channels an emotion drives, speech's brow raises added.
    A talking speaker (activity 1) smiles a little less than one in a pause."""
    act = np.asarray(activity, dtype=np.float32)
    brows = np.zeros_like(act) if speech_brows is None else speech_brows
    # (not modulated by the jaw: a smile that follows every syllable flickers)
    smile = s.smile * (1.1 - 0.2 * act)
    return {
        "brow_raise": np.clip(s.brow_raise + brows, 0, 1),
        "smile": np.clip(smile, 0, 1),
        "brow_frown": np.clip(s.brow_frown * (0.9 + 0.2 * act), 0, 1),
        "eye_squint": np.clip(np.full_like(act, s.eye_squint), -1, 1),
        "brow_inner": np.clip(np.full_like(act, s.brow_inner), 0, 1),
        "mouth_frown": np.clip(np.full_like(act, s.mouth_frown), 0, 1),
    }


def style(preset: Preset) -> EmotionStyle:
    """The emotion offsets scaled by emotion.intensity (gains interpolate from 1)."""
    return scaled_style(preset.emotion.name, preset.emotion.intensity)


def still_latents(name: str, intensity: float, frames: int = 1) -> np.ndarray:
    """(frames, C) latents of a silent, still face showing one emotion: neutral head, closed
    mouth and open eyes; the emotion's face channels as the generator sets them in a pause."""
    s = scaled_style(name, intensity)
    out = neutral(frames)
    zeros = np.zeros(frames, np.float32)
    for ch, arr in emotion_channels(s, zeros).items():
        out[:, index(ch)] = arr
    return out


def scaled_style(name: str, k: float) -> EmotionStyle:
    s = EMOTIONS.get(name, EmotionStyle())
    return EmotionStyle(
        smile=s.smile * k, brow_raise=s.brow_raise * k, brow_frown=s.brow_frown * k,
        eye_squint=s.eye_squint * k, brow_inner=s.brow_inner * k,
        mouth_frown=s.mouth_frown * k, head_pitch=s.head_pitch * k,
        head_gain=1.0 + (s.head_gain - 1.0) * k, blink_gain=1.0 + (s.blink_gain - 1.0) * k,
    )


# brow_raise 1 lifts the brows as far as a surprised face (geometry.BROW_RAISE_CM); the
# raises that accent speech are half of that at their largest
SPEECH_BROW_SCALE = 0.5


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
            out.append(BrowRaise(t, float(h),
                                 SPEECH_BROW_SCALE * float(amp) * min(intensity, 1.5)))
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
