"""Blink, gaze and head schedules: statistics against the human ranges of DESIGN §6."""

from __future__ import annotations

import numpy as np
import pytest

from talkcli.motion import blinks as B
from talkcli.motion import gaze as G
from talkcli.motion.head import HeadModel, _lowpass
from talkcli.motion.schedule import pause_onsets

FPS = 25.0


def _vad(minutes: float = 5.0) -> np.ndarray:
    """Talk 4 s, pause 1 s, repeated."""
    n = int(minutes * 60 * FPS)
    t = np.arange(n) / FPS
    return ((t % 5.0) < 4.0).astype(np.float32)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_blink_statistics(seed: int) -> None:
    vad = _vad()
    blinks = B.schedule(np.random.default_rng(seed), vad, FPS, 26.0)
    rate = len(blinks) / 5.0
    assert 17 <= rate <= 30
    d = np.array([b.duration for b in blinks])
    assert d.min() >= 0.1 and d.max() <= 0.4 and 0.13 <= np.median(d) <= 0.22
    gaps = np.diff([b.start for b in blinks])
    assert gaps.min() >= B.MIN_GAP_S - 1e-9
    onsets = np.array([k / FPS for k, _ in pause_onsets(vad, FPS)])
    near = [np.any((b.start - onsets >= 0) & (b.start - onsets < 0.3)) for b in blinks]
    assert np.mean(near) > 0.15  # chance would be 0.3 s / 5 s = 0.06


def test_blink_shape_fast_close_slow_open() -> None:
    x = np.linspace(0, 1, 101)
    s = B._shape(x)
    assert s[0] == 0 and s[35] == 1.0 and s[-1] == 0
    assert np.argmax(s > 0.5) < 100 - np.argmax(s[::-1] > 0.5) - 40  # open takes longer


def test_blink_evaluate_chunked() -> None:
    blinks = B.schedule(np.random.default_rng(0), _vad(1.0), FPS, 26.0)
    full = B.evaluate(blinks, FPS, 0, 1500)
    parts = np.concatenate([B.evaluate(blinks, FPS, a, min(1500, a + 37))
                            for a in range(0, 1500, 37)])
    np.testing.assert_array_equal(full, parts)
    assert full.max() == 1.0


def test_gaze_fixations_and_saccades() -> None:
    fix = G.schedule(np.random.default_rng(0), _vad(2.0), FPS, 5.0, -2.0, 1.0, 0.0)
    starts = np.array([f.start for f in fix])
    assert 0.8 <= np.median(np.diff(starts)) <= 3.0
    yaw, pitch = G.evaluate(fix, FPS, 0, int(120 * FPS))
    assert abs(np.median(yaw) - 5.0) < 1.0 and abs(np.median(pitch) + 2.0) < 1.0
    steps = np.hypot(np.diff(yaw), np.diff(pitch))
    assert steps.max() < 4.5  # small saccades only
    # held between saccades: most frames do not move
    assert np.mean(steps < 1e-6) > 0.8


def test_look_away_in_pauses() -> None:
    fix = G.schedule(np.random.default_rng(0), _vad(2.0), FPS, 0.0, 0.0, 1.0, 1.0)
    assert max(abs(f.yaw) for f in fix) >= 6.0


def test_head_filters_unit_variance_and_chunking() -> None:
    b, a = _lowpass(0.36, FPS)
    n = 20000
    rng = np.random.default_rng(0)
    noise = rng.standard_normal((n, 6))
    act = np.ones(n)
    model = HeadModel(FPS, noise, act, np.zeros((n, 3)), 1.0, 1.0, np.zeros(3), 1.0)
    full = model.step(0, n)
    model2 = HeadModel(FPS, noise, act, np.zeros((n, 3)), 1.0, 1.0, np.zeros(3), 1.0)
    parts = np.concatenate([model2.step(i, min(n, i + 100)) for i in range(0, n, 100)])
    np.testing.assert_array_equal(full, parts)
    assert b.shape == (1,) and a.shape == (3,)
    # talking: yaw/pitch/roll std in the human range, smooth frame-to-frame motion
    std = full[:, :3].std(axis=0)
    assert np.all(std > 2.0) and np.all(std < 9.0)
    step = np.sqrt((np.diff(full[:, :3], axis=0) ** 2).sum(axis=1)).mean()
    assert 0.4 < step < 1.3
    # pauses: calmer
    quiet = HeadModel(FPS, noise, np.zeros(n), np.zeros((n, 3)), 1.0, 1.0, np.zeros(3), 1.0)
    assert quiet.step(0, n)[:, 0].std() < 0.6 * std[0]
