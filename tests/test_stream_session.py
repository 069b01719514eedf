"""The streaming engine's Python API: idle frames on the clock before any audio, queued
audio played out in order, the mouth measured open by the landmarker during speech."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from talkcli.audio.io import load_audio
from talkcli.face.analyze import measure_face
from talkcli.stream import Frame, Session
from talkcli.timing import SAMPLE_RATE, frame_count

SIZE = 128


@pytest.fixture(scope="module")
def speech(sample_speech_path: Path) -> np.ndarray:
    return load_audio(sample_speech_path)[: 3 * SAMPLE_RATE]


def _gap(image: np.ndarray) -> float:
    m = measure_face(image)
    assert m is not None
    return float(m.mouth_gap)


def test_whole_file_fast_mode(sample_portrait_path: Path, speech: np.ndarray) -> None:
    s = Session(sample_portrait_path, size=SIZE, realtime=False)
    s.push(speech, SAMPLE_RATE)
    s.end()
    frames = list(s.frames())
    assert len(frames) == frame_count(speech.shape[0] / SAMPLE_RATE, 25)
    assert [f.index for f in frames] == list(range(len(frames)))
    assert frames[0].image.shape == (SIZE, SIZE, 3) and frames[0].image.dtype == np.uint8
    audio = np.concatenate([f.audio for f in frames])
    np.testing.assert_allclose(audio[: speech.shape[0]], speech, atol=1e-6)
    gaps = np.array([_gap(f.image) for f in frames[::3]])
    assert gaps.max() - gaps.min() > 0.08  # the mouth really opens and closes


def test_clock_idles_then_speaks_then_ends(sample_portrait_path: Path,
                                           speech: np.ndarray) -> None:
    s = Session(sample_portrait_path, size=SIZE, realtime=True)
    out: list[Frame] = []
    pushed = threading.Event()

    def on_frame(frame: Frame) -> None:
        out.append(frame)
        if len(out) == 15 and not pushed.is_set():
            pushed.set()
            s.push((speech[: SAMPLE_RATE] * 32767).astype(np.int16), SAMPLE_RATE)
            # a second rate: resampled on the way in, played after the first piece
            s.push(speech[SAMPLE_RATE: 2 * SAMPLE_RATE][::2].copy(), SAMPLE_RATE // 2)
            s.end()

    t0 = time.monotonic()
    s.start(on_frame)
    s.join(timeout=60)
    elapsed = time.monotonic() - t0
    assert not any(f.speech for f in out[:15])  # idle before any audio
    first_speech = next(i for i, f in enumerate(out) if f.speech)
    assert 15 <= first_speech <= 15 + 6  # starts within the look-ahead (+ a frame or two)
    n_speech = sum(f.speech for f in out)
    assert abs(n_speech - 50) <= 2  # 2 s at 25 fps, in order, then the stream ends
    assert out[-1].speech  # ends right after the queued audio
    assert elapsed > (len(out) - 1) / 25 * 0.9  # paced by the wall clock
    idle = np.array([_gap(f.image) for f in out[:12:3]])
    assert idle.std() < 0.01  # mouth at rest while idle
    st = s.stats.to_dict()
    assert st["frames"] == len(out) and st["latency_ms"]["p50"] is not None


def test_close_stops_an_open_stream(sample_portrait_path: Path) -> None:
    s = Session(sample_portrait_path, size=64, realtime=True)
    it = s.frames()
    first = [next(it) for _ in range(3)]
    s.close()
    rest = list(it)
    assert len(first) == 3 and len(rest) <= 1
