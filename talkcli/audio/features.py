"""Per-frame acoustic features: RMS energy, F0 and voicing, spectral balance, voice activity.

Analysis runs on a fixed 100 Hz grid (10 ms hop, the same grid as pocketsphinx) and is
computed block by block so an hour of audio needs only a few MB of feature memory.
`frame_features` summarises the 100 Hz grid per video frame.

Voice activity (`Features.vad`) is decided in `talkcli.audio.vad` from a neural speech
probability, the absolute level and hysteresis; it has an incremental form with < 100 ms
of look-ahead (`vad.VoiceActivity`), as do the clip's floor and loud levels
(`vad.LevelTracker`), for a streaming analysis.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from talkcli.audio.vad import DIGITAL_SILENCE_DB, decide, floor_and_threshold, speech_prob_on_grid
from talkcli.timing import SAMPLE_RATE

HOP = 160  # samples: 10 ms
RATE = SAMPLE_RATE / HOP  # 100 analysis frames per second
WIN = 400  # 25 ms window for energy and spectra
F0_WIN = 640  # 40 ms window for pitch
F0_MIN, F0_MAX = 65.0, 500.0
NFFT = 1024
BLOCK_FRAMES = 3000  # analysis frames per block (30 s)
EPS = 1e-10


@dataclass(frozen=True)
class Features:
    """Acoustic features on the 100 Hz analysis grid (frame k centred at k * 10 ms)."""

    rms: np.ndarray  # linear RMS
    rms_db: np.ndarray  # dBFS
    f0: np.ndarray  # Hz, 0 where unvoiced
    voicing: np.ndarray  # 0-1 periodicity (normalised autocorrelation peak)
    hf_db: np.ndarray  # high band (> 3 kHz) minus low band (< 1 kHz) energy, dB
    low_frac: np.ndarray  # fraction of energy below 500 Hz (nasal murmur is high)
    centroid: np.ndarray  # spectral centroid, Hz
    vad: np.ndarray  # bool voice activity
    floor_db: float  # noise floor estimate (dBFS)
    peak_db: float  # loud speech level (95th percentile over active frames)
    speech_prob: np.ndarray | None = None  # 0-1 neural speech probability (None: no model)
    threshold_db: float = -60.0  # the level cue's threshold (stands out of the floor)

    @property
    def frames(self) -> int:
        return int(self.rms.shape[0])


def n_analysis_frames(n_samples: int) -> int:
    return int(n_samples // HOP) + 1


def _frames(audio: np.ndarray, k0: int, k1: int, win: int) -> np.ndarray:
    """(k1-k0, win) frames centred on k*HOP, zero padded at the ends."""
    half = win // 2
    a0, a1 = k0 * HOP - half, (k1 - 1) * HOP - half + win
    seg = np.zeros(a1 - a0, np.float32)
    s0, s1 = max(a0, 0), min(a1, audio.shape[0])
    if s1 > s0:
        seg[s0 - a0 : s1 - a0] = audio[s0:s1]
    view = np.lib.stride_tricks.sliding_window_view(seg, win)[::HOP]
    return view[: k1 - k0]


def _block(audio: np.ndarray, k0: int, k1: int) -> tuple[np.ndarray, ...]:
    fr = _frames(audio, k0, k1, WIN).astype(np.float64)
    rms = np.sqrt(np.mean(fr * fr, axis=1) + EPS * EPS)
    spec = np.abs(np.fft.rfft(fr * np.hanning(WIN), n=NFFT // 2, axis=1)) ** 2
    freqs = np.fft.rfftfreq(NFFT // 2, 1.0 / SAMPLE_RATE)
    tot = spec.sum(axis=1) + EPS
    low = spec[:, freqs < 1000].sum(axis=1) + EPS
    high = spec[:, freqs > 3000].sum(axis=1) + EPS
    low500 = spec[:, freqs < 500].sum(axis=1)
    centroid = (spec * freqs).sum(axis=1) / tot
    hf_db = 10 * np.log10(high / low)
    low_frac = low500 / tot

    # pitch: McLeod's normalised square difference function on a 40 ms window
    pf = _frames(audio, k0, k1, F0_WIN).astype(np.float64)
    pf = pf - pf.mean(axis=1, keepdims=True)
    ps = np.fft.rfft(pf, n=2 * NFFT, axis=1)
    ac = np.fft.irfft(np.abs(ps) ** 2, axis=1)[:, :F0_WIN]
    lag_lo, lag_hi = int(SAMPLE_RATE / F0_MAX), int(SAMPLE_RATE / F0_MIN)
    cs = np.concatenate([np.zeros((pf.shape[0], 1)), np.cumsum(pf * pf, axis=1)], axis=1)
    tau = np.arange(lag_lo, lag_hi)
    m = cs[:, F0_WIN - tau] + cs[:, F0_WIN : F0_WIN + 1] - cs[:, tau]
    r = 2.0 * ac[:, lag_lo:lag_hi] / (m + EPS)
    # the first local maximum close to the highest one (avoids sub-octave errors)
    top = r.max(axis=1, keepdims=True)
    local = np.zeros_like(r, dtype=bool)
    local[:, 1:-1] = (r[:, 1:-1] > r[:, :-2]) & (r[:, 1:-1] >= r[:, 2:])
    cand = local & (r >= 0.9 * top)
    best = np.where(cand.any(axis=1), np.argmax(cand, axis=1), np.argmax(r, axis=1))
    peak = r[np.arange(r.shape[0]), best]
    # parabolic interpolation of the peak
    i = np.clip(best, 1, r.shape[1] - 2)
    y0, y1, y2 = r[np.arange(len(i)), i - 1], r[np.arange(len(i)), i], r[np.arange(len(i)), i + 1]
    den = y0 - 2 * y1 + y2
    shift = np.where(np.abs(den) > 1e-9, 0.5 * (y0 - y2) / np.where(den == 0, 1, den), 0.0)
    lag = lag_lo + i + np.clip(shift, -1, 1)
    f0 = SAMPLE_RATE / lag
    return rms, hf_db, low_frac, centroid, np.clip(peak, 0.0, 1.0), f0


def analyse(audio: np.ndarray) -> Features:
    """Compute the 100 Hz features of a 16 kHz mono clip (block by block)."""
    audio = np.asarray(audio, dtype=np.float32)
    n = n_analysis_frames(audio.shape[0])
    parts: list[tuple[np.ndarray, ...]] = []
    for k0 in range(0, n, BLOCK_FRAMES):
        parts.append(_block(audio, k0, min(n, k0 + BLOCK_FRAMES)))
    cols = [np.concatenate(c) for c in zip(*parts, strict=True)]
    rms, hf_db, low_frac, centroid, clarity, f0 = cols
    rms_db = 20 * np.log10(rms + 1e-7)

    floor_db, thr = _floor_and_threshold(rms_db, clarity)
    # the level cue measures the floor on the frames that carry any signal, so digital
    # silence (an inserted gap, zero padding) does not make every noisy pause "loud"
    sound = rms_db > DIGITAL_SILENCE_DB
    cue_thr = _floor_and_threshold(rms_db[sound], clarity[sound])[1] if sound.any() else thr
    prob = speech_prob_on_grid(audio, n)
    vad = decide(prob, rms_db, cue_thr)
    active = rms_db[vad]
    peak_db = float(np.percentile(active, 95)) if active.size \
        else float(np.percentile(rms_db, 99))

    # pitch and periodicity where there is voice, or where the level stands clearly out of
    # the clip's floor (this keeps them on sung notes and tones, which are no speech)
    gate = vad | (rms_db > thr)
    voiced = (clarity > 0.55) & gate
    f0 = np.where(voiced, f0, 0.0)
    voicing = np.where(gate, clarity, 0.0)
    return Features(
        rms=rms.astype(np.float32), rms_db=rms_db.astype(np.float32),
        f0=f0.astype(np.float32), voicing=voicing.astype(np.float32),
        hf_db=hf_db.astype(np.float32), low_frac=low_frac.astype(np.float32),
        centroid=centroid.astype(np.float32), vad=vad, floor_db=floor_db, peak_db=peak_db,
        speech_prob=None if prob is None else prob.astype(np.float32), threshold_db=cue_thr,
    )


def _floor_and_threshold(rms_db: np.ndarray, clarity: np.ndarray) -> tuple[float, float]:
    """The clip's noise floor and the level that stands clearly out of it (dBFS).

    Whole-clip percentiles; `vad.LevelTracker` is their running form (the same values at
    the end of a clip, estimates from the audio so far before it).
    """
    return floor_and_threshold(float(np.percentile(rms_db, 10)),
                               float(np.percentile(rms_db, 99)), float(np.median(clarity)))


@dataclass(frozen=True)
class FrameFeatures:
    """Features per video frame (averages over each frame's 1/fps window)."""

    fps: float
    rms: np.ndarray
    loudness: np.ndarray  # 0-1: rms_db mapped between noise floor and loud speech
    f0: np.ndarray  # Hz, 0 if unvoiced
    voiced: np.ndarray  # 0-1 fraction of voiced analysis frames
    hf_db: np.ndarray
    vad: np.ndarray  # 0-1 fraction of active analysis frames


def frame_features(feats: Features, fps: float, frames: int) -> FrameFeatures:
    """Average the 100 Hz features over each video frame's window."""
    edges = np.round(np.arange(frames + 1) * (RATE / fps)).astype(np.int64)
    edges = np.clip(edges, 0, feats.frames)

    def mean(x: np.ndarray) -> np.ndarray:
        c = np.concatenate([[0.0], np.cumsum(x, dtype=np.float64)])
        cnt = np.maximum(edges[1:] - edges[:-1], 1)
        lo = np.minimum(edges[:-1], feats.frames - 1)
        out = (c[edges[1:]] - c[edges[:-1]]) / cnt
        return np.where(edges[1:] > edges[:-1], out, x[lo]).astype(np.float32)

    loud = np.clip((feats.rms_db - feats.floor_db) / max(feats.peak_db - feats.floor_db, 6.0),
                   0, 1.2)
    voiced = (feats.f0 > 0).astype(np.float32)
    f0sum = mean(feats.f0)
    vfrac = mean(voiced)
    f0 = np.where(vfrac > 0, f0sum / np.maximum(vfrac, 1e-6), 0.0).astype(np.float32)
    return FrameFeatures(
        fps=fps, rms=mean(feats.rms), loudness=mean(loud), f0=f0, voiced=vfrac,
        hf_db=mean(feats.hf_db), vad=mean(feats.vad.astype(np.float32)),
    )
