"""Head pose from prosody: smooth seeded noise whose amplitude follows speech activity,
plus nods and small turns on pitch accents; slow idle sway in silence.

The noise is white noise (drawn for the whole clip up front) through second-order
low-pass filters whose state is carried from chunk to chunk, so a chunked run equals the
one-pass run exactly. Everything else is an up-front per-frame schedule.
"""

from __future__ import annotations

import numpy as np

from talkcli.motion.prosody import Accent

# per-axis scale (degrees) of the speech-driven and the idle component
SPEECH_STD = np.array([6.6, 5.6, 5.8])  # yaw, pitch, roll (before the soft limit)
IDLE_STD = np.array([2.2, 1.6, 1.6])
TAU_SPEECH_S = 0.36
TAU_IDLE_S = 1.4
# Soft limits (degrees) of the generated motion: Gaussian noise with these stds reaches
# 3 sigma now and then (a 16 degree roll), which real speakers almost never do.
SOFT_LIMIT = np.array([12.0, 9.0, 7.0])


def lfilter(b: np.ndarray, a: np.ndarray, x: np.ndarray, axis: int = 0,
            zi: np.ndarray | None = None) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """scipy.signal.lfilter along axis 0 (transposed direct form II, a[0] == 1), with the
    same state convention: importing scipy.signal cost ~1 s of every render's start-up,
    for two second-order filters over a few frames at a time."""
    assert axis == 0 and a[0] == 1.0
    order = max(len(a), len(b)) - 1
    bb = np.zeros(order + 1)
    aa = np.zeros(order + 1)
    bb[:len(b)], aa[:len(a)] = b, a
    x = np.asarray(x, dtype=np.float64)
    z = np.zeros((order,) + x.shape[1:]) if zi is None else np.array(zi, dtype=np.float64)
    y = np.empty_like(x)
    for n in range(x.shape[0]):
        yn = bb[0] * x[n] + z[0]
        for k in range(order - 1):
            z[k] = bb[k + 1] * x[n] - aa[k + 1] * yn + z[k + 1]
        z[order - 1] = bb[order] * x[n] - aa[order] * yn
        y[n] = yn
    return y if zi is None else (y, z)


def _lowpass(tau_s: float, fps: float) -> tuple[np.ndarray, np.ndarray]:
    """Two cascaded one-pole low-passes, normalised to unit output variance."""
    a = float(np.exp(-1.0 / (tau_s * fps)))
    b = np.array([(1 - a) ** 2])
    den = np.array([1.0, -2 * a, a * a])
    imp = np.zeros(int(20 * tau_s * fps) + 50)
    imp[0] = 1.0
    h = np.asarray(lfilter(b, den, imp))
    return b / np.sqrt(np.sum(h * h)), den


def nod_track(accents: list[Accent], frames: int, fps: float,
              rng: np.random.Generator) -> np.ndarray:
    """(frames, 3) degrees: a nod (chin down, back up) and a small turn per accent."""
    out = np.zeros((frames, 3))
    if not accents:
        return out
    span = int(1.2 * fps)
    tt = np.arange(span) / fps
    # chin dips over ~0.45 s; the shape starts a little before the accent
    shape = np.sin(np.pi * np.clip(tt / 0.5, 0, 1)) ** 2
    for a in accents:
        s0 = a.frame - int(0.12 * fps)
        amp = a.strength * np.array([rng.normal(0, 1.2), -rng.uniform(0.8, 2.2),
                                     rng.normal(0, 0.6)])
        lo, hi = max(0, s0), min(frames, s0 + span)
        if hi > lo:
            out[lo:hi] += shape[lo - s0 : hi - s0, None] * amp[None, :]
    return out


class HeadModel:
    """Stateful per-chunk head pose; call `step` on consecutive frame ranges."""

    def __init__(self, fps: float, noise: np.ndarray, activity: np.ndarray, nods: np.ndarray,
                 gain: float, idle: float, offsets: np.ndarray, scale: float,
                 breath_hz: float = 0.25, breath_phase: float = 0.0) -> None:
        self.fps = fps
        self.noise = noise  # (T, 6): speech band yaw/pitch/roll, idle band yaw/pitch/roll
        self.activity = activity
        self.nods = nods
        self.gain = gain
        self.idle = idle
        self.offsets = offsets
        self.scale = scale
        self.breath_hz = breath_hz
        self.breath_phase = breath_phase
        self.bs, self.as_ = _lowpass(TAU_SPEECH_S, fps)
        self.bi, self.ai = _lowpass(TAU_IDLE_S, fps)
        self.zs = np.zeros((2, 3))
        self.zi = np.zeros((2, 3))
        # activity-dependent amplitude is applied before the filter so it changes smoothly
        self.env = 0.2 + 0.8 * activity

    def step(self, f0: int, f1: int) -> np.ndarray:
        """(f1-f0, 4): head_yaw, head_pitch, head_roll, head_scale."""
        if f0 == 0:  # a new pass over the clip starts from rest
            self.zs = np.zeros((2, 3))
            self.zi = np.zeros((2, 3))
        return self.advance(self.noise[f0:f1], self.env[f0:f1], self.nods[f0:f1], f0)

    def advance(self, noise: np.ndarray, env: np.ndarray, nods: np.ndarray,
                f0: int) -> np.ndarray:
        """The next len(noise) frames (starting at frame f0) from explicit per-frame inputs:
        (T, 6) white noise, (T,) amplitude envelope 0.2-1, (T, 3) nod degrees. The online
        generator feeds these as they become known; `step` slices the clip's arrays."""
        f1 = f0 + noise.shape[0]
        ws = noise[:, :3] * env[:, None]
        wi = noise[:, 3:]
        ys, self.zs = lfilter(self.bs, self.as_, ws, axis=0, zi=self.zs)
        yi, self.zi = lfilter(self.bi, self.ai, wi, axis=0, zi=self.zi)
        rot = (ys * SPEECH_STD + yi * IDLE_STD * self.idle + nods) * self.gain
        # breathing: a slow, small chin lift and lean (visible mostly when still)
        breath = np.sin(2 * np.pi * self.breath_hz * np.arange(f0, f1) / self.fps
                        + self.breath_phase)
        rot[:, 1] += 0.35 * self.idle * self.gain * breath
        rot = SOFT_LIMIT * np.tanh(rot / SOFT_LIMIT) + self.offsets[None, :]
        scale = np.full((f1 - f0, 1), self.scale) * (
            1.0 + 0.006 * self.gain * yi[:, :1] + 0.002 * self.idle * self.gain * breath[:, None])
        return np.concatenate([rot, scale], axis=1).astype(np.float32)
