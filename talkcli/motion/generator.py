"""MotionGenerator: audio (+ optional transcript) + preset -> per-frame motion latents.

Two phases, as a streaming generator needs:
1. `analyse`: whole-clip analysis up front — acoustic features (block-wise, bounded
   memory), timed phones, the lip track, prosodic accents, and every seeded random
   schedule (head noise, nods, blinks, gaze fixations, brow raises).
2. per chunk: evaluate the schedules for the frame range and advance the stateful head
   filters. `generate` is one chunk covering the whole clip, so a chunked run equals the
   one-pass run exactly.

Lips depend only on the audio and transcript (never on the seed); the seed, together
with a digest of the clip, drives the head, blinks, gaze and brows: the same clip with
the same seed is identical, another seed or another clip gives other motion.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from talkcli.audio import features as F
from talkcli.audio.phones import Phone, recognise
from talkcli.config import Preset, load_preset
from talkcli.motion import blinks as B
from talkcli.motion import expression as E
from talkcli.motion import gaze as G
from talkcli.motion.head import HeadModel, nod_track
from talkcli.motion.latent import CHANNELS, MotionTrack, index
from talkcli.motion.lips import LipTrack, lip_track
from talkcli.motion.prosody import Accent, accents, activity
from talkcli.timing import DEFAULT_FPS, SAMPLE_RATE, frame_count

_STREAM_TAGS = {"head": 1, "nods": 2, "blinks": 3, "gaze": 4, "brows": 5}


def audio_fingerprint(audio: np.ndarray) -> int:
    """A cheap deterministic 32-bit digest of the clip (its length and first minute)."""
    head = np.ascontiguousarray(audio[: 60 * SAMPLE_RATE], dtype=np.float32)
    return zlib.crc32(head.tobytes(), int(audio.shape[0]) & 0xFFFFFFFF)


@dataclass
class Analysis:
    """Everything computed up front for one clip."""

    fps: float
    frames: int
    features: F.Features
    frame_features: F.FrameFeatures
    phones: list[Phone]
    lips: LipTrack
    lip_frames: dict[str, np.ndarray]
    accents: list[Accent]
    activity: np.ndarray
    blinks: list[B.Blink]
    fixations: list[G.Fixation]
    brows: list[E.BrowRaise]
    head: HeadModel


class MotionGenerator:
    """Load once, generate many: `generate(audio)` or chunk by chunk with `stream(audio)`."""

    def __init__(self, preset: Preset | None = None, fps: float = DEFAULT_FPS,
                 seed: int = 0) -> None:
        self.preset = preset if preset is not None else load_preset(None)
        self.fps = float(fps)
        self.seed = int(seed)
        self.style = E.style(self.preset)

    # -- phase 1 -------------------------------------------------------------------
    def _rng(self, tag: str, fingerprint: int) -> np.random.Generator:
        # independent streams per component (changing one never shifts another), and per
        # clip, so two clips rendered with the same seed do not share one head path
        return np.random.default_rng([self.seed & 0xFFFFFFFF, _STREAM_TAGS[tag], fingerprint])

    def analyse(self, audio: np.ndarray, transcript: str | None = None) -> Analysis:
        audio = np.asarray(audio, dtype=np.float32).reshape(-1)
        frames = frame_count(audio.shape[0] / SAMPLE_RATE, self.fps)
        feats = F.analyse(audio)
        ff = F.frame_features(feats, self.fps, frames)
        phones = recognise(audio, transcript, feats.rms_db)
        lips = lip_track(phones, feats, self.preset.lips.intensity)
        lip_frames = lips.sample(self.fps, frames)
        acc = accents(ff)
        act = activity(ff)
        p, s = self.preset, self.style

        fp = audio_fingerprint(audio)
        head_rng = self._rng("head", fp)
        noise = head_rng.standard_normal((frames, 6))
        breath_hz, breath_phase = head_rng.uniform(0.2, 0.3), head_rng.uniform(0, 2 * np.pi)
        nods = nod_track(acc, frames, self.fps, self._rng("nods", fp))
        head = HeadModel(
            self.fps, noise, act, nods, gain=p.head.intensity * s.head_gain, idle=p.head.idle,
            offsets=np.array([p.head.yaw, p.head.pitch + s.head_pitch, p.head.roll]),
            scale=1.0 / p.head.distance, breath_hz=float(breath_hz),
            breath_phase=float(breath_phase),
        )
        blinks = B.schedule(self._rng("blinks", fp), ff.vad, self.fps,
                            p.blink.rate_per_min * s.blink_gain)
        fixations = G.schedule(self._rng("gaze", fp), ff.vad, self.fps, p.gaze.yaw, p.gaze.pitch,
                               p.gaze.saccades, p.gaze.look_away)
        brows = E.brow_schedule(self._rng("brows", fp), acc, self.fps, p.expression.intensity)
        return Analysis(self.fps, frames, feats, ff, phones, lips, lip_frames, acc, act,
                        blinks, fixations, brows, head)

    # -- phase 2 -------------------------------------------------------------------
    def _chunk(self, an: Analysis, f0: int, f1: int) -> np.ndarray:
        n = f1 - f0
        out = np.zeros((n, len(CHANNELS)), np.float32)
        s = self.style
        hp = an.head.step(f0, f1)
        for j, name in enumerate(("head_yaw", "head_pitch", "head_roll", "head_scale")):
            out[:, index(name)] = hp[:, j]
        for name, arr in an.lip_frames.items():
            out[:, index(name)] = arr[f0:f1]
        blink = B.evaluate(an.blinks, self.fps, f0, f1)
        out[:, index("blink_left")] = blink
        out[:, index("blink_right")] = blink
        gy, gp = G.evaluate(an.fixations, self.fps, f0, f1)
        out[:, index("gaze_yaw")] = gy
        out[:, index("gaze_pitch")] = gp
        act = an.activity[f0:f1]
        brow = E.brow_evaluate(an.brows, self.fps, f0, f1)
        for name, arr in E.emotion_channels(s, act, brow).items():
            out[:, index(name)] = arr
        return out

    def stream(self, audio: np.ndarray, transcript: str | None = None,
               chunk_frames: int = 64) -> Iterator[np.ndarray]:
        """Yield (T_i, C) float32 chunks; concatenated they equal `generate(...).values`."""
        if chunk_frames < 1:
            raise ValueError("chunk_frames must be >= 1")
        an = self.analyse(audio, transcript)
        yield from self.stream_analysis(an, chunk_frames)

    def stream_incremental(self, audio: np.ndarray, transcript: str | None = None,
                           chunk_frames: int = 64) -> Iterator[np.ndarray]:
        """Chunks as the audio is analysed, so the first arrives after about a second of
        audio whatever the clip's length (`motion.online`, the model `stream` uses).
        With a transcript the forced alignment needs the whole clip: whole-clip path."""
        if transcript and transcript.strip():
            yield from self.stream(audio, transcript, chunk_frames)
            return
        from talkcli.motion.online import online_chunks

        yield from online_chunks(audio, self.preset, self.fps, self.seed, chunk_frames,
                                 fingerprint=audio_fingerprint(np.asarray(audio, np.float32)))

    def stream_analysis(self, an: Analysis, chunk_frames: int = 64) -> Iterator[np.ndarray]:
        for f0 in range(0, an.frames, chunk_frames):
            yield self._chunk(an, f0, min(an.frames, f0 + chunk_frames))

    def generate(self, audio: np.ndarray, transcript: str | None = None) -> MotionTrack:
        an = self.analyse(audio, transcript)
        return self.generate_from(an)

    def generate_from(self, an: Analysis) -> MotionTrack:
        values = self._chunk(an, 0, an.frames)
        return MotionTrack(fps=self.fps, values=values, channels=CHANNELS)
