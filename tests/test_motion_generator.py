"""MotionGenerator: the DESIGN §4 contract, determinism, seeds, chunking, silence."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from talkcli.audio.io import load_audio
from talkcli.config import load_preset
from talkcli.motion.generator import MotionGenerator
from talkcli.motion.io import REQUIRED_CHANNELS
from talkcli.motion.latent import CHANNELS, MotionTrack, index
from talkcli.timing import SAMPLE_RATE, frame_count

LIPS = ["jaw_open", "mouth_round", "mouth_wide", "lips_press"]
STOCHASTIC = ["head_yaw", "head_pitch", "head_roll", "blink_left", "gaze_yaw"]


@pytest.fixture(scope="session")
def speech(sample_speech_path: Path) -> np.ndarray:
    """The first 6 s of the embedded sample (keeps the suite fast)."""
    return load_audio(sample_speech_path)[: 6 * SAMPLE_RATE]


@pytest.fixture(scope="session")
def natural_track(speech: np.ndarray) -> MotionTrack:
    return MotionGenerator(load_preset("natural"), fps=25, seed=0).generate(speech)


def test_contract(natural_track: MotionTrack, speech: np.ndarray) -> None:
    v = natural_track.values
    assert v.dtype == np.float32 and v.ndim == 2
    assert v.shape == (frame_count(speech.shape[0] / SAMPLE_RATE, 25), len(CHANNELS))
    assert natural_track.channels == CHANNELS
    assert set(REQUIRED_CHANNELS) <= set(CHANNELS)
    assert np.isfinite(v).all()
    for name in LIPS + ["blink_left", "blink_right", "brow_raise", "smile", "brow_frown"]:
        col = natural_track.channel(name)
        assert col.min() >= 0.0 and col.max() <= 1.0, name
    assert np.abs(v[:, :3]).max() < 30
    assert natural_track.channel("head_scale").min() > 0.9


def test_speech_moves_everything(natural_track: MotionTrack) -> None:
    jaw = natural_track.channel("jaw_open")
    assert jaw.max() > 0.5 and (jaw < 0.05).any()
    assert natural_track.channel("lips_press").max() > 0.8  # "my name", "maybe"...
    assert natural_track.channel("mouth_round").max() > 0.3
    assert natural_track.channel("mouth_wide").max() > 0.3
    assert natural_track.channel("head_yaw").std() > 0.5
    assert natural_track.channel("blink_left").max() > 0.9
    np.testing.assert_array_equal(natural_track.channel("blink_left"),
                                  natural_track.channel("blink_right"))
    # smooth head: no jitter (frame-to-frame change small and not noisy)
    d = np.abs(np.diff(natural_track.values[:, :3], axis=0))
    assert d.max() < 3.0


@pytest.mark.parametrize("seconds, fps", [(1.0, 25), (1.001, 25), (0.99, 30), (2.5, 24),
                                          (0.05, 25), (3.3, 60)])
def test_frame_count(seconds: float, fps: float) -> None:
    audio = np.zeros(int(round(seconds * SAMPLE_RATE)), np.float32)
    track = MotionGenerator(fps=fps, seed=1).generate(audio)
    assert track.frames == frame_count(audio.shape[0] / SAMPLE_RATE, fps)
    assert track.fps == fps


def test_same_seed_identical(speech: np.ndarray, natural_track: MotionTrack) -> None:
    again = MotionGenerator(load_preset("natural"), fps=25, seed=0).generate(speech)
    np.testing.assert_array_equal(again.values, natural_track.values)


def test_other_seed(speech: np.ndarray, natural_track: MotionTrack) -> None:
    other = MotionGenerator(load_preset("natural"), fps=25, seed=7).generate(speech)
    for name in LIPS:
        np.testing.assert_array_equal(other.channel(name), natural_track.channel(name))
    for name in STOCHASTIC:
        assert not np.array_equal(other.channel(name), natural_track.channel(name)), name


@pytest.mark.parametrize("chunk", [1, 7, 64, 1000])
def test_chunked_equals_one_pass(speech: np.ndarray, natural_track: MotionTrack,
                                 chunk: int) -> None:
    gen = MotionGenerator(load_preset("natural"), fps=25, seed=0)
    chunks = list(gen.stream(speech, chunk_frames=chunk))
    assert all(c.dtype == np.float32 and c.shape[1] == len(CHANNELS) for c in chunks)
    assert all(c.shape[0] <= chunk for c in chunks)
    np.testing.assert_array_equal(np.concatenate(chunks), natural_track.values)


def test_generator_reusable(speech: np.ndarray) -> None:
    gen = MotionGenerator(fps=25, seed=3)
    a = gen.generate(speech[: 2 * SAMPLE_RATE]).values
    gen.generate(speech)
    np.testing.assert_array_equal(gen.generate(speech[: 2 * SAMPLE_RATE]).values, a)


@pytest.fixture(scope="session")
def silence_track() -> MotionTrack:
    return MotionGenerator(fps=25, seed=0).generate(np.zeros(12 * SAMPLE_RATE, np.float32))


def test_silence_mouth_closed_and_still(silence_track: MotionTrack) -> None:
    for name in LIPS:
        assert np.all(silence_track.channel(name) == 0.0), name


def test_silence_breathes_and_blinks(silence_track: MotionTrack) -> None:
    b = silence_track.channel("blink_left")
    onsets = int(((b[1:] > 0.5) & (b[:-1] <= 0.5)).sum())
    assert 1 <= onsets <= 8  # ~17/min at rest over 12 s
    yaw = silence_track.channel("head_yaw")
    assert 0.1 < yaw.std() < 4.0  # slow idle sway


def test_silence_with_noise_floor() -> None:
    rng = np.random.default_rng(0)
    audio = (rng.standard_normal(4 * SAMPLE_RATE) * 1e-3).astype(np.float32)
    track = MotionGenerator(fps=25, seed=0).generate(audio)
    assert track.channel("jaw_open").max() < 0.05


def test_transcript_improves_closures(speech: np.ndarray, sample_transcript: str) -> None:
    # the first 6 s of the sample say "Hello! My name is Eileen. Before every mission"
    text = "Hello! My name is Eileen. Before every mission"
    track = MotionGenerator(fps=25, seed=0).generate(speech, transcript=text)
    press = track.channel("lips_press")
    assert press.max() > 0.9
    # transcript text does not change the stochastic channels
    plain = MotionGenerator(fps=25, seed=0).generate(speech)
    np.testing.assert_array_equal(track.channel("blink_left"), plain.channel("blink_left"))


def test_preset_controls(speech: np.ndarray) -> None:
    short = speech[: 3 * SAMPLE_RATE]
    base = MotionGenerator(load_preset("natural"), seed=0).generate(short)
    still = MotionGenerator(load_preset("natural", ["head.intensity=0", "head.yaw=10",
                                                    "head.distance=2"]), seed=0).generate(short)
    assert np.allclose(still.channel("head_yaw"), 10.0)
    assert np.allclose(still.channel("head_scale"), 0.5)
    happy = MotionGenerator(load_preset("happy"), seed=0).generate(short)
    assert happy.channel("smile").mean() > base.channel("smile").mean() + 0.2
    away = MotionGenerator(load_preset("looking_away"), seed=0).generate(short)
    assert away.channel("gaze_yaw").mean() < -8
    mute = MotionGenerator(load_preset("natural", ["lips.intensity=0"]), seed=0).generate(short)
    assert mute.channel("jaw_open").max() == 0.0
    noblink = MotionGenerator(load_preset("natural", ["blink.rate_per_min=0"]),
                              seed=0).generate(short)
    assert noblink.channel("blink_left").max() == 0.0
    angry = MotionGenerator(load_preset("natural", ["emotion.name=angry",
                                                    "emotion.intensity=1"])).generate(short)
    assert angry.channel("brow_frown").mean() > 0.5
    assert index("eye_squint") == CHANNELS.index("eye_squint")


def test_long_monotone_falls_back_to_acoustic() -> None:
    """Singing / other languages: a sustained voiced vowel still opens the mouth."""
    t = np.arange(3 * SAMPLE_RATE) / SAMPLE_RATE
    env = 0.5 + 0.5 * np.sin(2 * np.pi * 2.0 * t) ** 2
    x = sum(np.sin(2 * np.pi * 180 * k * t) / k for k in range(1, 8))
    audio = (0.2 * env * x).astype(np.float32)
    track = MotionGenerator(fps=25, seed=0).generate(audio)
    jaw = track.channel("jaw_open")
    assert jaw.max() > 0.2
    assert jaw.std() > 0.02


@pytest.mark.parametrize("emotion", ["neutral", "happy", "sad", "angry", "surprised", "calm"])
def test_emotions_in_range(speech: np.ndarray, emotion: str) -> None:
    preset = load_preset("natural", [f"emotion.name={emotion}", "emotion.intensity=1"])
    v = MotionGenerator(preset, seed=0).generate(speech[: 2 * SAMPLE_RATE]).values
    assert np.isfinite(v).all()
    for name in ("smile", "brow_raise", "brow_frown"):
        assert v[:, index(name)].min() >= 0 and v[:, index(name)].max() <= 1
    assert -1 <= v[:, index("eye_squint")].min() <= v[:, index("eye_squint")].max() <= 1


def test_different_clips_get_different_head_paths() -> None:
    rng = np.random.default_rng(0)
    a = (rng.standard_normal(3 * SAMPLE_RATE) * 1e-4).astype(np.float32)
    b = a.copy()
    b[0] += 1e-3
    ya = MotionGenerator(seed=0).generate(a).channel("head_yaw")
    yb = MotionGenerator(seed=0).generate(b).channel("head_yaw")
    assert not np.array_equal(ya, yb)
