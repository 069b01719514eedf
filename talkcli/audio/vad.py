"""Voice activity on the 100 Hz analysis grid, computable incrementally.

Cues, combined in `VoiceActivity` (a frame is active if the first two or the third say so):
- a neural speech probability (Silero VAD, shipped in its wheel; `talkcli.audio.silero`):
  spectral shape and its change over time, which is what separates speech from pink,
  brown, babble-free café noise, music beds and hum at any level or SNR;
- an absolute level gate: nothing below ABS_FLOOR_DB (digital silence, dither) is speech,
  whatever the model says;
- level relative to the clip: a frame standing 10 dB out of the clip's noise floor (the
  old rule; on clean recordings it finds what it always found, and it is the fallback
  when silero-vad is not installed); its floor is measured on the frames that carry any
  signal, so inserted digital silence does not make the noise in every pause "loud";
- hysteresis (on at ON, off below OFF) and gaps of at most MAX_GAP frames bridged, so a
  phrase is one stretch and the mouth does not go still in a stop closure.

Streaming: every part has a running form with bounded look-ahead. The neural model is
causal (a frame takes the last 32 ms chunk completed within its own 10 ms hop), hysteresis
is causal, and bridging gaps needs LOOKAHEAD_FRAMES frames (90 ms) of look-ahead:
LOOKAHEAD_S = 100 ms in all. `VoiceActivity.push(prob, rms_db, threshold_db)` returns the
decisions that are final; `decide` (the whole-clip function) is the same object fed in one
block, so chunked and one-pass runs give identical decisions. The level cue's threshold
and the clip-level statistics used elsewhere (noise floor, loud level) are whole-clip
percentiles; their running form is
`LevelTracker`, whose estimates at the end of a clip equal the whole-clip values within
its 0.1 dB bins (a stream uses the estimates so far, which is equal within noise once a
few seconds are in; the neural cue does not depend on them).
"""

from __future__ import annotations

import numpy as np

from talkcli.audio import silero

HOP = 160  # samples per analysis frame (10 ms at 16 kHz)
ON, OFF = 0.5, 0.35  # speech probability hysteresis
ABS_FLOOR_DB = -100.0  # dBFS: below it is silence whatever the model says (dither ~-101)
DIGITAL_SILENCE_DB = -120.0  # frames below this carry no signal at all (zeros read -140)
MAX_GAP = 14  # inactive gaps of up to 140 ms between active frames are bridged
HANGOVER = 5  # frames held active after speech (causal part of the bridging)
LOOKAHEAD_FRAMES = MAX_GAP - HANGOVER  # 9: the look-ahead part of the bridging
LOOKAHEAD_S = (LOOKAHEAD_FRAMES + 1) / 100.0  # 100 ms (the last frame's own 10 ms hop)


def speech_prob_on_grid(audio: np.ndarray, frames: int) -> np.ndarray | None:
    """The model's speech probability at each 100 Hz frame, or None when silero-vad is not
    installed. Frame k takes the last 32 ms chunk completed by the end of its 10 ms hop
    (sample 160 k + 160), so a stream knows it as soon as it knows the frame."""
    if not silero.available():
        return None
    p = silero.speech_probability(audio)
    if p.size == 0:
        return np.zeros(frames, np.float32)
    idx = np.clip((np.arange(frames) + 1) * HOP // silero.CHUNK - 1, 0, p.size - 1)
    return p[idx]


class VoiceActivity:
    """Incremental voice-activity decision on the 100 Hz grid.

    Feed blocks of per-frame cues with `push`; each call returns the decisions for the
    frames that no later input can change (all but the last LOOKAHEAD_FRAMES pushed),
    `flush` returns the rest at the end of the clip.

    Gaps of up to MAX_GAP frames between active frames (stop closures, short breaths) are
    bridged as the old whole-clip closing did, with only LOOKAHEAD_FRAMES of look-ahead:
    the first HANGOVER frames of a gap are held active (causal hangover; a longer gap
    then turns out to be a pause, which only starts 50 ms late), the last ones are
    bridged when the next active frame is already in sight.
    """

    def __init__(self) -> None:
        self._on = False  # hysteresis state
        self._prev = -(10**9)  # index of the last raw-active frame already emitted
        self._raw: list[bool] = []  # raw decisions not yet emitted
        self._start = 0  # frame index of self._raw[0]

    def _raw_decision(self, p: float | None, db: float, thr: float) -> bool:
        loud = db > thr  # stands clearly out of the clip's floor
        if p is None:  # without the model: the level cue alone
            return bool(loud)
        self._on = p >= ON or (self._on and p >= OFF)
        return bool((self._on and db > ABS_FLOOR_DB) or loud)

    def _emit(self) -> bool:
        k = self._start
        raw = self._raw.pop(0)
        self._start += 1
        if raw:
            self._prev = k
            return True
        d1 = k - self._prev
        nxt = next((j + 1 for j, r in enumerate(self._raw[:LOOKAHEAD_FRAMES]) if r), None)
        return d1 <= HANGOVER or (nxt is not None and d1 + nxt <= MAX_GAP + 1)

    def push(self, prob: np.ndarray | None, rms_db: np.ndarray,
             threshold_db: float | np.ndarray) -> np.ndarray:
        """prob: speech probability per frame (None without the model); threshold_db: the
        level cue's threshold (`LevelTracker.threshold_db`; one value or one per frame)."""
        thr = np.broadcast_to(np.asarray(threshold_db, np.float64), rms_db.shape)
        out: list[bool] = []
        for k in range(rms_db.shape[0]):
            p = None if prob is None else float(prob[k])
            self._raw.append(self._raw_decision(p, float(rms_db[k]), float(thr[k])))
            if len(self._raw) > LOOKAHEAD_FRAMES:
                out.append(self._emit())
        return np.array(out, dtype=bool)

    def flush(self) -> np.ndarray:
        out = [self._emit() for _ in range(len(self._raw))]
        return np.array(out, dtype=bool)


def decide(prob: np.ndarray | None, rms_db: np.ndarray, threshold_db: float) -> np.ndarray:
    """Whole-clip voice activity: `VoiceActivity` fed with the whole clip at once."""
    va = VoiceActivity()
    return np.concatenate([va.push(prob, rms_db, threshold_db), va.flush()])


class LevelTracker:
    """Running percentiles of the frame levels seen so far (0.1 dB histogram bins).

    `floor_db` (the noise floor), `peak_db` (95th percentile over active frames) and
    `threshold_db` (the level cue's threshold) are what `features.analyse` computes on
    the whole clip; read at any time they are the estimates from the audio so far, and at
    the end of the clip they equal the whole-clip values within a bin.
    """

    LO, HI, STEP = -160.0, 20.0, 0.1

    def __init__(self) -> None:
        n = int(round((self.HI - self.LO) / self.STEP))
        self._all = np.zeros(n, np.int64)
        self._sound = np.zeros(n, np.int64)  # frames above DIGITAL_SILENCE_DB
        self._active = np.zeros(n, np.int64)
        self._clarity = np.zeros(101, np.int64)  # of the sound frames
        self._clarity_all = np.zeros(101, np.int64)

    def _bins(self, db: np.ndarray) -> np.ndarray:
        i = np.floor((np.asarray(db, np.float64) - self.LO) / self.STEP).astype(np.int64)
        return np.clip(i, 0, self._all.shape[0] - 1)

    def push(self, rms_db: np.ndarray, clarity: np.ndarray, vad: np.ndarray) -> None:
        b = self._bins(rms_db)
        m = self._all.shape[0]
        sound = np.asarray(rms_db) > DIGITAL_SILENCE_DB
        self._all += np.bincount(b, minlength=m)
        self._sound += np.bincount(b[sound], minlength=m)
        self._active += np.bincount(b[np.asarray(vad, bool)], minlength=m)
        c = np.clip(np.round(np.asarray(clarity) * 100).astype(np.int64), 0, 100)
        self._clarity += np.bincount(c[sound], minlength=101)
        self._clarity_all += np.bincount(c, minlength=101)

    @staticmethod
    def _quantile(hist: np.ndarray, q: float) -> float | None:
        total = int(hist.sum())
        if total == 0:
            return None
        k = int(np.searchsorted(np.cumsum(hist), q * (total - 1) + 1))
        return float(min(k, hist.shape[0] - 1))

    def _db(self, hist: np.ndarray, q: float) -> float | None:
        k = self._quantile(hist, q)
        return None if k is None else self.LO + (k + 0.5) * self.STEP

    def _levels(self, hist: np.ndarray, clarity: np.ndarray) -> tuple[float, float] | None:
        p10, p99, c = self._db(hist, 0.10), self._db(hist, 0.99), self._quantile(clarity, 0.5)
        if p10 is None or p99 is None or c is None:
            return None
        return floor_and_threshold(p10, p99, c / 100.0)

    @property
    def floor_db(self) -> float:
        v = self._levels(self._all, self._clarity_all)
        return self.LO if v is None else v[0]

    @property
    def loud_db(self) -> float:
        v = self._db(self._all, 0.99)
        return self.LO if v is None else v

    @property
    def peak_db(self) -> float:
        v = self._db(self._active, 0.95)
        return self.loud_db if v is None else v

    @property
    def threshold_db(self) -> float:
        """The level cue's threshold (`Features.threshold_db`): from the frames with sound."""
        v = self._levels(self._sound, self._clarity)
        return -60.0 if v is None else v[1]


def floor_and_threshold(p10_db: float, p99_db: float, clarity_median: float
                        ) -> tuple[float, float]:
    """The clip's noise floor and the level that stands clearly out of it (dBFS) from the
    10th / 99th percentile frame levels and the median periodicity."""
    # the quietest tenth is the noise floor, unless the clip never pauses (singing, music)
    floor_db = p10_db
    if p99_db - p10_db < 25.0 and clarity_median > 0.6:
        floor_db = p99_db - 25.0
    return floor_db, max(floor_db + 10.0, p99_db - 40.0, -60.0)
