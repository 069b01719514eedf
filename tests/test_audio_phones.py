"""Acoustic features and pocketsphinx phones."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from talkcli.audio.features import RATE, analyse, frame_features
from talkcli.audio.io import load_audio
from talkcli.audio.phones import allphone, recognise, transcript_words
from talkcli.timing import SAMPLE_RATE


@pytest.fixture(scope="module")
def speech(sample_speech_path: Path) -> np.ndarray:
    return load_audio(sample_speech_path)[: 4 * SAMPLE_RATE]


def test_features_shapes_and_values(speech: np.ndarray) -> None:
    f = analyse(speech)
    n = speech.shape[0] // 160 + 1
    assert f.frames == n and f.vad.dtype == bool
    assert 0.3 < f.vad.mean() < 1.0  # speech with pauses
    voiced_f0 = f.f0[f.f0 > 0]
    assert voiced_f0.size > 50 and 60 < np.median(voiced_f0) < 300
    ff = frame_features(f, 25.0, 100)
    for arr in (ff.rms, ff.loudness, ff.f0, ff.voiced, ff.vad, ff.hf_db):
        assert arr.shape == (100,) and np.isfinite(arr).all()


def test_features_pitch_of_a_tone() -> None:
    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
    x = (0.3 * np.sin(2 * np.pi * 150 * t)).astype(np.float32)
    f = analyse(x)
    assert abs(np.median(f.f0[10:-10]) - 150) < 3
    assert f.vad[10:-10].all()


def test_features_silence() -> None:
    f = analyse(np.zeros(SAMPLE_RATE, np.float32))
    assert not f.vad.any() and not f.f0.any()
    assert f.frames == int(RATE) + 1


def test_allphone(speech: np.ndarray) -> None:
    phones = allphone(speech)
    names = [p.phone for p in phones]
    assert phones[0].start == 0.0 and abs(phones[-1].end - 4.0) < 1e-6
    pairs = zip(phones[:-1], phones[1:], strict=True)
    assert all(a.end == pytest.approx(b.start) for a, b in pairs)
    assert {"m"} & set(names) and "sil" in names


def test_decoding_does_not_depend_on_history(speech: np.ndarray) -> None:
    """pocketsphinx's live CMN carries state between utterances unless reset."""
    first = allphone(speech[: 2 * SAMPLE_RATE])
    aligned = recognise(speech[: 2 * SAMPLE_RATE], "Hello my name")
    loud = np.clip(speech[2 * SAMPLE_RATE :] * 8.0, -1, 1)
    allphone(loud)
    recognise(loud, "is Eileen")
    assert allphone(speech[: 2 * SAMPLE_RATE]) == first
    assert recognise(speech[: 2 * SAMPLE_RATE], "Hello my name") == aligned


def test_alignment(speech: np.ndarray) -> None:
    phones = recognise(speech, "Hello! My name is Eileen.")
    names = [p.phone for p in phones]
    # "hello my name": hh ah l ow / m ay / n ey m
    seq = [n for n in names if n != "sil"]
    assert seq[:4] == ["hh", "ah", "l", "ow"] and "m" in seq[4:6]


def test_segmented_decoding_long_input(monkeypatch: pytest.MonkeyPatch,
                                       speech: np.ndarray) -> None:
    from talkcli.audio import phones as P

    monkeypatch.setattr(P, "MAX_SEGMENT_S", 1.5)
    monkeypatch.setattr(P, "MIN_SEGMENT_S", 0.5)
    out = P.allphone(speech, analyse(speech).rms_db)
    assert abs(out[-1].end - 4.0) < 1e-6
    assert sum(p.phone != "sil" for p in out) > 10


def test_transcript_words() -> None:
    assert transcript_words("Hello, World! It's 3 o’clock.") == [
        "hello", "world", "it's", "3", "o'clock"]


def test_recognise_silence() -> None:
    out = recognise(np.zeros(SAMPLE_RATE, np.float32))
    assert [p.phone for p in out] == ["sil"]
