"""OnlineMotion: motion latents made as the audio arrives, with a bounded look-ahead.

The one motion model behind `talkcli stream` and offline `render` (which pushes its audio
in blocks, so its first frames are ready after about a second of audio whatever the
clip's length). Audio (16 kHz mono) is pushed in pieces of any size; `take(n)` returns the
latents of the next n video frames once the audio up to LOOKAHEAD_S past their end is in.

What is computed how:
- acoustic features: per 10 ms frame as samples arrive (the same per-frame analysis as
  `audio.features.analyse`), kept for the last HISTORY_S seconds only (memory is flat);
- clip-level statistics become running ones over that history: the noise floor (10th
  percentile), the loud level (99th), the speech peak (95th of active frames) and the
  voice-activity threshold derived from them as `analyse` derives it;
- phones: `audio.phones.PhoneStream`, pocketsphinx decoding each utterance as it
  arrives, fed and read every LABEL_STEP of the stream whatever the pieces pushed; a label
  is fixed once it is LOOKAHEAD_S old, so a frame is the same whenever it is taken;
- lips: `motion.lips.lip_track` on a window of CONTEXT_S of past audio plus the
  look-ahead, with the running statistics; its filters (σ 30-50 ms smoothing, the 40 ms
  lead, closure cues) see at most LOOKAHEAD_S of future, the documented bound;
- head, blinks, gaze, brows, breathing: causal versions of the whole-clip schedules
  (same constants and shapes): a renewal process for blinks nudged to pause onsets as
  they happen, saccades every 1-3 s and a look-away once a pause has lasted 0.5 s,
  nods and brow raises on pitch accents as they are detected, the head noise filters of
  `HeadModel` advanced frame by frame with an activity envelope smoothed causally.
Silence (or no audio, zeros pushed) gives the idle face: mouth closed, breathing, blinks,
slow sway. Results are deterministic for a given seed and the same pushes.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from talkcli.audio import features as F
from talkcli.audio.phones import Phone, PhoneStream
from talkcli.config import Preset, load_preset
from talkcli.motion import blinks as B
from talkcli.motion import expression as E
from talkcli.motion import gaze as G
from talkcli.motion.head import HeadModel
from talkcli.motion.latent import CHANNELS, index
from talkcli.motion.lips import LIP_CHANNELS, lip_track
from talkcli.motion.prosody import accents
from talkcli.signal1d import maximum_filter1d, minimum_filter1d
from talkcli.timing import DEFAULT_FPS, SAMPLE_RATE, frame_count

LABEL_STEP = 4 * F.HOP  # samples: the recogniser is fed and read every 40 ms of the stream
LOOKAHEAD_S = 0.10  # future audio a frame may depend on (coarticulation, phone stability)
# a label is fixed once it is LOOKAHEAD_S old (later reads of the partial path would make a
# frame depend on when it is taken: frame by frame against blockwise, jaw r 0.90 -> 0.97)
LABEL_FIX = int(round(LOOKAHEAD_S * F.RATE))
CONTEXT_S = 1.5  # past audio the lip window sees (the 1 s recogniser-collapse check)
HISTORY_S = 20.0  # running statistics (floor, levels) and the feature ring cover this
PRIOR_FRAMES = 200  # a quiet prior (-70 dBFS) stands in for missing history at the start
ACTIVITY_TAU_S = 0.35
TALK_TAU_S = 1.0
LOOK_AWAY_AFTER_S = 0.5
HOP = F.HOP
RATE = F.RATE
_MARGIN = F.F0_WIN // 2  # samples either side of a frame centre its analysis needs
_TAGS = {"head": 1, "nods": 2, "blinks": 3, "gaze": 4, "brows": 5}
_COLS = ("rms", "hf_db", "low_frac", "centroid", "clarity", "f0")


def raw_features(audio: np.ndarray, k0: int, k1: int) -> tuple[np.ndarray, ...]:
    """Per-frame features (rms, hf_db, low_frac, centroid, clarity, f0) of analysis frames
    k0..k1-1 of `audio`: the frame-local part of `features.analyse`, before any
    clip-level threshold (the one place that reaches into the features module)."""
    return F._block(audio, k0, k1)  # noqa: SLF001


def close_open(mask: np.ndarray, close: int = 15, open_: int = 5) -> np.ndarray:
    """Fill gaps < close frames, then drop blips < open_ frames (as `analyse` does)."""
    m = maximum_filter1d(mask.astype(np.uint8), size=close)
    m = minimum_filter1d(m, size=close)
    m = minimum_filter1d(m, size=open_)
    return maximum_filter1d(m, size=open_).astype(bool)


@dataclass
class RunningLevels:
    """Noise floor, loud level, speech peak and VAD threshold from the recent history."""

    floor_db: float
    loud_db: float
    peak_db: float
    thr_db: float

    @classmethod
    def estimate(cls, rms_db: np.ndarray, clarity: np.ndarray) -> RunningLevels:
        short = max(0, PRIOR_FRAMES - rms_db.shape[0])
        db = np.concatenate([np.full(short, -70.0), rms_db]) if short else rms_db
        loud = float(np.percentile(db, 99))
        floor = float(np.percentile(db, 10))
        if loud - floor < 25.0 and clarity.size and float(np.median(clarity)) > 0.6:
            floor = loud - 25.0  # never pauses (singing, music)
        thr = max(floor + 10.0, loud - 40.0, -60.0)
        active = db[db > thr]
        peak = float(np.percentile(active, 95)) if active.size else loud
        return cls(floor, loud, peak, thr)


@dataclass
class _Causal:
    """State of the causal event processes (blinks, gaze, nods, brows, activity)."""

    activity: float = 0.0
    talk: float = 0.0
    active: bool = False
    silent_frames: int = 0
    looked_away: bool = False
    away_until: float | None = None
    next_blink: float = 0.0
    next_saccade: float = 0.0
    last_accent: int = -(10**9)
    last_brow: float = -10.0
    blinks: list[B.Blink] = field(default_factory=list)
    fixations: list[G.Fixation] = field(default_factory=list)
    nods: list[tuple[int, np.ndarray]] = field(default_factory=list)
    brows: list[E.BrowRaise] = field(default_factory=list)


class OnlineMotion:
    """Push audio, take latents: `push(samples)`, `available()`, `take(n)`, `end()`."""

    def __init__(self, preset: Preset | None = None, fps: float = DEFAULT_FPS, seed: int = 0,
                 fingerprint: int = 0, lookahead_s: float = LOOKAHEAD_S) -> None:
        self.preset = preset if preset is not None else load_preset(None)
        self.fps = float(fps)
        self.lookahead_s = float(lookahead_s)
        self.style = E.style(self.preset)
        self._rngs = {tag: np.random.default_rng([int(seed) & 0xFFFFFFFF, t, fingerprint])
                      for tag, t in _TAGS.items()}
        self._phones = PhoneStream()
        self._audio = np.zeros(0, np.float32)  # samples from _audio_start on
        self._audio_start = 0
        self.samples = 0  # pushed so far
        self.ended = False
        self._ring_start = 0  # absolute analysis frame of the feature ring's first entry
        self._feat = {c: np.zeros(0, np.float64) for c in _COLS}
        self._labels = np.zeros(0, dtype=object)  # phone labels from _ring_start on
        self._labels_fixed = 0  # absolute analysis frame up to which labels are fixed
        self._labels_end = 0  # absolute analysis frame up to which labels are read (final)
        self._pending = np.zeros(0, np.float32)  # samples not yet fed to the recogniser
        self._fed = 0  # samples fed to the recogniser
        self.analysed = 0  # analysis frames computed
        self.frame = 0  # next video frame to take
        self._state = self._initial_state()
        self._head = self._head_model()

    # -- setup ---------------------------------------------------------------------
    def _initial_state(self) -> _Causal:
        p = self.preset
        st = _Causal()
        rate = p.blink.rate_per_min * self.style.blink_gain
        st.next_blink = (float(self._rngs["blinks"].uniform(0.2, 60.0 / rate)) if rate > 0
                         else math.inf)
        st.fixations = [G.Fixation(0.0, p.gaze.yaw, p.gaze.pitch)]
        st.next_saccade = float(self._rngs["gaze"].uniform(0.5, 2.0))
        return st

    def _head_model(self) -> HeadModel:
        p, s = self.preset, self.style
        rng = self._rngs["head"]
        breath_hz, breath_phase = rng.uniform(0.2, 0.3), rng.uniform(0, 2 * np.pi)
        empty = np.zeros((0, 3))
        return HeadModel(
            self.fps, np.zeros((0, 6)), np.zeros(0), empty, gain=p.head.intensity * s.head_gain,
            idle=p.head.idle, offsets=np.array([p.head.yaw, p.head.pitch + s.head_pitch,
                                                p.head.roll]),
            scale=1.0 / p.head.distance, breath_hz=float(breath_hz),
            breath_phase=float(breath_phase))

    # -- audio in ------------------------------------------------------------------
    def push(self, audio: np.ndarray) -> None:
        """Append 16 kHz mono float samples (any length)."""
        if self.ended:
            raise RuntimeError("push after end()")
        audio = np.asarray(audio, dtype=np.float32).reshape(-1)
        if audio.size == 0:
            return
        self._audio = np.concatenate([self._audio, audio])
        self.samples += int(audio.shape[0])
        self._pending = np.concatenate([self._pending, audio])
        # the recogniser is fed and read at fixed LABEL_STEP steps of the stream, whatever
        # the pieces pushed, and a label once read stays: a frame is computed the same
        # whenever it is taken (its labels are those read as the audio reached them)
        while self._pending.shape[0] >= LABEL_STEP:
            piece, self._pending = self._pending[:LABEL_STEP], self._pending[LABEL_STEP:]
            self._fed += LABEL_STEP
            upto = max(0, (self._fed - _MARGIN) // HOP + 1)
            self._analyse(upto)
            start, labels = self._phones.push(piece, pause=self._in_pause(upto))
            self._store_labels(start, labels)
        self._analyse(self._computable())

    def end(self) -> None:
        """No more audio: the remaining frames are computed with silence after it."""
        if self.ended:
            return
        self.ended = True
        self._fed += int(self._pending.shape[0])
        start, labels = self._phones.push(self._pending, pause=True)
        self._store_labels(start, labels)
        self._pending = np.zeros(0, np.float32)
        start, labels = self._phones.push(np.zeros(0, np.float32), pause=True)
        self._store_labels(start, labels)
        self._analyse(F.n_analysis_frames(self.samples))

    def total_frames(self) -> int:
        """Frames of everything pushed (meaningful once ended)."""
        return frame_count(self.samples / SAMPLE_RATE, self.fps)

    def _computable(self) -> int:
        return max(0, (self.samples - _MARGIN) // HOP + 1)

    def _in_pause(self, upto: int) -> bool:
        """The 300 ms before analysis frame `upto` are below the voice threshold (from the
        features up to there only, however far the analysis has gone)."""
        hi = upto - self._ring_start
        db = self._feat["rms"][max(0, hi - 30):hi]
        if db.size < 30:
            return False
        lv = self._levels(hi)
        return bool((20 * np.log10(db + 1e-7) < lv.thr_db).all())

    def _store_labels(self, start: int, labels: list[str]) -> None:
        """Labels from absolute frame `start`; those already read are kept (final)."""
        if not labels:
            return
        end = start + len(labels)
        need = end - self._ring_start - self._labels.shape[0]
        if need > 0:
            self._labels = np.concatenate([self._labels, np.full(need, "sil", dtype=object)])
        lo = max(start, self._ring_start, self._labels_fixed)
        if end > lo:
            self._labels[lo - self._ring_start:end - self._ring_start] = labels[lo - start:]
        self._labels_end = max(self._labels_end, end)
        self._labels_fixed = max(self._labels_fixed, end - LABEL_FIX)

    def _ready(self) -> int:
        """Analysis frames a window may reach: analysed, with their labels read."""
        return self.analysed if self.ended else min(self.analysed, self._labels_end)

    def _analyse(self, upto: int) -> None:
        """Features of analysis frames analysed..upto-1 (zero padded past the audio)."""
        if upto <= self.analysed:
            return
        base = self._audio_start // HOP
        cols = raw_features(self._audio, self.analysed - base, upto - base)
        for name, col in zip(_COLS, cols, strict=True):
            self._feat[name] = np.concatenate([self._feat[name], col.astype(np.float64)])
        self.analysed = upto
        # keep the samples the next frames' windows reach back to
        keep = max(0, (upto - 4) * HOP - _MARGIN - HOP)
        keep = (keep // HOP) * HOP
        if keep > self._audio_start:
            self._audio = self._audio[keep - self._audio_start:]
            self._audio_start = keep

    # -- latents out ---------------------------------------------------------------
    def available(self) -> int:
        """Video frames `take` can produce now."""
        if self.ended:
            return max(0, self.total_frames() - self.frame)
        # frame f (at f / fps) is ready once the audio reaches LOOKAHEAD_S past it (and two
        # analysis frames more, for the interpolation and the window's edge)
        t_ok = (self._ready() - 2) / RATE - self.lookahead_s
        if t_ok < 0:
            return 0
        return max(0, int(math.floor(t_ok * self.fps + 1e-9)) + 1 - self.frame)

    def samples_needed(self, frame: int) -> int:
        """Samples that must have been pushed before video frame `frame` is ready."""
        k = int(math.ceil((frame / self.fps + self.lookahead_s) * RATE - 1e-9)) + 2
        return max((k - 1) * HOP + _MARGIN, -(-k * HOP // LABEL_STEP) * LABEL_STEP)

    def take(self, n: int) -> np.ndarray:
        """(n, C) float32 latents for the next n frames; frames past the audio are idle."""
        if n <= 0:
            return np.zeros((0, len(CHANNELS)), np.float32)
        f0, f1 = self.frame, self.frame + n
        if not self.ended and n > self.available():
            raise ValueError(f"only {self.available()} frames are ready, asked for {n}")
        k_end = int(math.ceil(f1 * RATE / self.fps)) + 2
        if k_end > self.analysed:  # past the end of the audio: silence
            self._pad_silence(k_end)
        out = self._frames(f0, f1)
        self.frame = f1
        self._trim()
        return out

    def _pad_silence(self, k_end: int) -> None:
        n = k_end - self.analysed
        for name in _COLS:
            fill = 1e-10 if name == "rms" else 0.0
            self._feat[name] = np.concatenate([self._feat[name], np.full(n, fill)])
        self.analysed = k_end

    def _levels(self, hi: int | None = None) -> RunningLevels:
        rms = self._feat["rms"][:hi]
        return RunningLevels.estimate(20 * np.log10(rms + 1e-7), self._feat["clarity"][:hi])

    def _window(self, f0: int) -> tuple[int, int, F.Features, list[Phone]]:
        """The analysis window for frames from f0: (first video frame, first analysis
        frame, Features with running levels, phones relative to the window)."""
        fw0 = max(0, f0 - int(math.ceil(CONTEXT_S * self.fps)))
        kw0 = max(self._ring_start, int(round(fw0 * RATE / self.fps)))
        fw0 = int(math.ceil(kw0 * self.fps / RATE - 1e-9))
        kw0 = int(round(fw0 * RATE / self.fps))
        lo, hi = kw0 - self._ring_start, self._ready() - self._ring_start
        c = {name: arr[lo:hi] for name, arr in self._feat.items()}
        lv = self._levels()
        rms_db = 20 * np.log10(c["rms"] + 1e-7)
        above = rms_db > lv.thr_db
        feats = F.Features(
            rms=c["rms"].astype(np.float32), rms_db=rms_db.astype(np.float32),
            f0=np.where(above & (c["clarity"] > 0.55), c["f0"], 0.0).astype(np.float32),
            voicing=np.where(above, c["clarity"], 0.0).astype(np.float32),
            hf_db=c["hf_db"].astype(np.float32), low_frac=c["low_frac"].astype(np.float32),
            centroid=c["centroid"].astype(np.float32), vad=close_open(above),
            floor_db=lv.floor_db, peak_db=lv.peak_db,
        )
        labels = self._labels[lo:hi]
        if labels.shape[0] < hi - lo:
            labels = np.concatenate([labels, np.full(hi - lo - labels.shape[0], "sil",
                                                     dtype=object)])
        return fw0, kw0, feats, _runs_to_phones(labels)

    def _frames(self, f0: int, f1: int) -> np.ndarray:
        fw0, kw0, feats, phones = self._window(f0)
        lips = lip_track(phones, feats, self.preset.lips.intensity)
        k = np.arange(f0, f1, dtype=np.float64) * (RATE / self.fps) - kw0
        grid = np.arange(feats.frames, dtype=np.float64)
        nfw = int(math.floor(feats.frames * self.fps / RATE))
        ff = F.frame_features(feats, self.fps, max(nfw, f1 - fw0))
        self._detect_accents(ff, fw0, f1)
        j = np.arange(f0, f1) - fw0
        act, blink, gy, gp, nods = self._events(ff.vad[j], ff.loudness[j], f0, f1)

        out = np.zeros((f1 - f0, len(CHANNELS)), np.float32)
        noise = self._rngs["head"].standard_normal((f1 - f0, 6))
        hp = self._head.advance(noise, 0.2 + 0.8 * act, nods, f0)
        for c, name in enumerate(("head_yaw", "head_pitch", "head_roll", "head_scale")):
            out[:, index(name)] = hp[:, c]
        jaw = np.interp(k, grid, lips.jaw_open)
        for name in LIP_CHANNELS:
            out[:, index(name)] = np.interp(k, grid, getattr(lips, name))
        out[:, index("blink_left")] = blink
        out[:, index("blink_right")] = blink
        out[:, index("gaze_yaw")] = gy
        out[:, index("gaze_pitch")] = gp
        s = self.style
        brow = E.brow_evaluate(self._state.brows, self.fps, f0, f1)
        out[:, index("brow_raise")] = np.clip(s.brow_raise + brow, 0, 1)
        smile = s.smile * (1.1 - 0.2 * act) * (1.0 - 0.25 * jaw)
        out[:, index("smile")] = np.clip(smile, 0, 1)
        out[:, index("brow_frown")] = np.clip(s.brow_frown * (0.9 + 0.2 * act), 0, 1)
        out[:, index("eye_squint")] = np.clip(s.eye_squint, -1, 1)
        return out

    # -- causal events -------------------------------------------------------------
    def _detect_accents(self, ff: F.FrameFeatures, fw0: int, f1: int) -> None:
        """New pitch accents in the window (a few frames behind its end, where the peak
        picking is settled) start a nod and maybe a brow raise."""
        st = self._state
        settled = ff.f0.shape[0] - 4
        fresh = [a for a in accents(ff) if a.frame < settled and fw0 + a.frame > st.last_accent
                 + max(3, int(self.fps * 0.33) // 2) and fw0 + a.frame >= f1 - 8]
        if not fresh:
            return
        nod_rng = self._rngs["nods"]
        for a in fresh:
            s0 = fw0 + a.frame - int(0.12 * self.fps)
            amp = a.strength * np.array([nod_rng.normal(0, 1.2), -nod_rng.uniform(0.8, 2.2),
                                         nod_rng.normal(0, 0.6)])
            st.nods.append((s0, amp))
            st.last_accent = fw0 + a.frame
        moved = [type(a)(fw0 + a.frame, a.strength, a.rise) for a in fresh]
        for r in E.brow_schedule(self._rngs["brows"], moved, self.fps,
                                 self.preset.expression.intensity):
            if r.start - st.last_brow > 1.2:
                st.brows.append(r)
                st.last_brow = r.start

    def _events(self, vad: np.ndarray, loud: np.ndarray, f0: int,
                f1: int) -> tuple[np.ndarray, ...]:
        st, fps = self._state, self.fps
        a_act = math.exp(-1.0 / (ACTIVITY_TAU_S * fps))
        a_talk = math.exp(-1.0 / (TALK_TAU_S * fps))
        act = np.zeros(f1 - f0)
        for j, i in enumerate(range(f0, f1)):
            t = i / fps
            target = float(vad[j]) * (0.6 + 0.4 * min(max(float(loud[j]), 0.0), 1.0))
            st.activity = a_act * st.activity + (1 - a_act) * target
            st.talk = a_talk * st.talk + (1 - a_talk) * float(vad[j])
            act[j] = st.activity
            active = bool(vad[j] > 0.5)
            onset_of_pause = st.active and not active
            st.silent_frames = 0 if active else st.silent_frames + 1
            if active:
                st.looked_away = False
            st.active = active
            self._blink_step(t, onset_of_pause)
            self._gaze_step(t, active)
        act = np.clip(act, 0, 1)
        blink = B.evaluate(st.blinks, fps, f0, f1)
        gy, gp = G.evaluate(st.fixations, fps, f0, f1)
        nods = self._nods(f0, f1)
        # forget what can no longer affect a frame
        st.blinks = [b for b in st.blinks if b.start + b.duration > f1 / fps - 1.0]
        st.fixations = st.fixations[-3:]
        st.brows = [r for r in st.brows if r.start + r.hold + 1.0 > f1 / fps - 1.5]
        return act, blink, gy, gp, nods

    def _blink_step(self, t: float, onset_of_pause: bool) -> None:
        st, rng = self._state, self._rngs["blinks"]
        if onset_of_pause and st.next_blink - t < 0.8:
            u = float(rng.uniform())
            if u < 0.7:  # people blink as they stop talking
                st.next_blink = max(t + 0.06 + 0.1 * u,
                                    (st.blinks[-1].start + B.MIN_GAP_S) if st.blinks else 0.0)
        if t < st.next_blink:
            return
        d = float(np.clip(rng.lognormal(np.log(0.16), 0.25), 0.10, 0.40))
        depth = 1.0 if rng.uniform() < 0.85 else float(rng.uniform(0.75, 0.95))
        st.blinks.append(B.Blink(t, d, depth))
        base = self.preset.blink.rate_per_min * self.style.blink_gain
        rate = base * (B.REST_FACTOR + (1 - B.REST_FACTOR) * st.talk)
        st.next_blink = t + max(B.MIN_GAP_S, float(rng.gamma(3.0, 60.0 / max(rate, 1e-3) / 3.0)))

    def _gaze_step(self, t: float, active: bool) -> None:
        st, rng, p = self._state, self._rngs["gaze"], self.preset.gaze
        if st.away_until is not None:
            if t >= st.away_until or active:
                st.fixations.append(G.Fixation(t, p.yaw, p.pitch))
                st.away_until = None
                st.next_saccade = t + float(np.clip(rng.gamma(4.0, 0.45), 0.8, 3.5))
            return
        if (not st.looked_away and st.silent_frames >= LOOK_AWAY_AFTER_S * self.fps):
            st.looked_away = True
            if rng.uniform() < p.look_away:
                side = 1.0 if rng.uniform() < 0.5 else -1.0
                st.fixations.append(G.Fixation(t, p.yaw + side * float(rng.uniform(6, 12)),
                                               p.pitch + float(rng.uniform(-3, 6))))
                st.away_until = t + float(rng.uniform(0.5, 1.5))
                return
        if t >= st.next_saccade:
            dy, dp = rng.normal(0.0, 0.7, size=2) * p.saccades
            r = float(np.hypot(dy, dp))
            if r > 2.0 * max(p.saccades, 1e-6):
                dy, dp = dy / r * 2.0 * p.saccades, dp / r * 2.0 * p.saccades
            st.fixations.append(G.Fixation(t, p.yaw + float(dy), p.pitch + float(dp) * 0.7))
            st.next_saccade = t + float(np.clip(rng.gamma(4.0, 0.45), 0.8, 3.5))

    def _nods(self, f0: int, f1: int) -> np.ndarray:
        st = self._state
        span = int(1.2 * self.fps)
        tt = np.arange(span) / self.fps
        shape = np.sin(np.pi * np.clip(tt / 0.5, 0, 1)) ** 2
        out = np.zeros((f1 - f0, 3))
        for s0, amp in st.nods:
            lo, hi = max(f0, s0), min(f1, s0 + span)
            if hi > lo:
                out[lo - f0:hi - f0] += shape[lo - s0:hi - s0, None] * amp[None, :]
        st.nods = [(s0, amp) for s0, amp in st.nods if s0 + span > f1]
        return out

    def _trim(self) -> None:
        """Drop features older than the history and the next window's context."""
        keep_from = min(self.analysed - int(HISTORY_S * RATE),
                        int(round(self.frame * RATE / self.fps)) - int(2 * CONTEXT_S * RATE))
        drop = keep_from - self._ring_start
        if drop <= 0:
            return
        for name in _COLS:
            self._feat[name] = self._feat[name][drop:]
        self._labels = self._labels[drop:]
        self._ring_start += drop


def _runs_to_phones(labels: np.ndarray) -> list[Phone]:
    """Timed phones (seconds from the window start) from one label per 10 ms."""
    out: list[Phone] = []
    n = labels.shape[0]
    k = 0
    while k < n:
        j = k + 1
        while j < n and labels[j] == labels[k]:
            j += 1
        out.append(Phone(str(labels[k]), k / RATE, j / RATE))
        k = j
    return out


def online_chunks(audio: np.ndarray, preset: Preset | None = None, fps: float = DEFAULT_FPS,
                  seed: int = 0, chunk_frames: int = 32, fingerprint: int = 0,
                  ) -> Iterator[np.ndarray]:
    """Offline use of the online model: push a whole clip block by block and yield
    (≤ chunk_frames, C) latents as soon as they are ready; frame_count(duration) in all."""
    audio = np.asarray(audio, dtype=np.float32).reshape(-1)
    motion = OnlineMotion(preset, fps=fps, seed=seed, fingerprint=fingerprint)
    total = frame_count(audio.shape[0] / SAMPLE_RATE, fps)
    block = int(math.ceil(chunk_frames * SAMPLE_RATE / fps))
    pos = 0
    while motion.frame < total:
        if pos < audio.shape[0]:
            motion.push(audio[pos:pos + block])
            pos += block
        if pos >= audio.shape[0]:
            motion.end()
        while motion.frame < total:
            n = min(motion.available(), chunk_frames, total - motion.frame)
            if n < chunk_frames and not motion.ended:
                break
            if n <= 0:
                break
            yield motion.take(n)
