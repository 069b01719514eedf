"""The lip model's shape channels (issue #8): f/v tuck the lower lip, tongue consonants between
vowels keep part of the vowels' opening, silence leaves every lip channel at rest."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from talkcli.audio.io import load_audio
from talkcli.motion.generator import MotionGenerator
from talkcli.motion.latent import index
from talkcli.motion.lips import LIP_CHANNELS, _carry_vowels


def test_carry_keeps_vowel_opening_through_tongue_consonants() -> None:
    labels = np.array(["aa"] * 10 + ["t"] * 4 + ["aa"] * 10 + ["p"] * 4 + ["aa"] * 10,
                      dtype=object)
    vowel = labels == "aa"
    opening = np.where(vowel, 0.6, 0.1)
    opening = np.where(labels == "p", 0.0, opening)
    out = _carry_vowels(opening, labels, vowel, 0.6, 0.05)
    assert out[11] > 0.3                      # t between two open vowels: jaw stays open
    assert np.all(out[24:28] == 0.0)           # p: the lips close, no carry-over
    assert np.array_equal(out[vowel], opening[vowel])


@pytest.fixture(scope="module")
def with_transcript(sample_speech_path: Path, sample_transcript: str):  # noqa: ANN201
    audio = load_audio(sample_speech_path)
    return MotionGenerator(fps=25, seed=0).generate(audio, sample_transcript)


def test_fv_tucks_the_lower_lip(with_transcript) -> None:  # noqa: ANN001
    """'practise, prepare ... before every ... beautiful': f/v in the transcript."""
    tuck = with_transcript.values[:, index("lip_tuck")]
    assert tuck.max() > 0.6
    assert (tuck > 0.3).mean() < 0.15           # a brief gesture, not a held pose
    jaw = with_transcript.values[:, index("jaw_open")]
    assert float(np.median(jaw[tuck > 0.6])) < float(np.median(jaw[jaw > 0.05]))


def test_silence_rests_every_lip_channel() -> None:
    track = MotionGenerator(fps=25, seed=0).generate(np.zeros(16000 * 2, np.float32))
    for name in LIP_CHANNELS:
        assert np.abs(track.values[:, index(name)]).max() < 1e-3, name


def _tone(levels: list[float], seconds: float, hz: float = 700.0) -> np.ndarray:
    t = np.arange(int(seconds * 16000)) / 16000
    return np.concatenate([a * np.sin(2 * np.pi * hz * t) for a in levels]).astype(np.float32)


def test_a_loud_vowel_opens_no_wider_than_a_quiet_one() -> None:
    """People's opening follows the phones, not the level: the same vowel at +16 dB opens a
    little less (loud_sub), never closes."""
    from dataclasses import replace

    from talkcli.audio.features import analyse
    from talkcli.audio.phones import Phone
    from talkcli.motion.lips import lip_track

    audio = np.concatenate([np.zeros(3200, np.float32), _tone([0.05, 0.3], 0.4),
                            np.zeros(3200, np.float32)])
    feats = analyse(audio)
    vad = np.zeros(feats.frames, bool)
    vad[20:100] = True     # (a tone is no speech to the voice-activity detector)
    lips = lip_track([Phone("sil", 0.0, 0.2), Phone("aa", 0.2, 1.0), Phone("sil", 1.0, 1.2)],
                     replace(feats, vad=vad))
    quiet = float(lips.jaw_open[35:50].mean())   # 0.35-0.5 s (led by 40 ms)
    loud = float(lips.jaw_open[75:90].mean())    # 0.75-0.9 s
    assert quiet > 0.3
    assert 0.75 * quiet < loud <= quiet


def test_a_brief_closure_cue_presses_the_lips(monkeypatch) -> None:  # noqa: ANN001
    """A nasal murmur or stop gap of one 10 ms frame still closes the lips (cue_widen)."""
    from talkcli.audio.features import analyse
    from talkcli.audio.phones import Phone
    from talkcli.motion import lips as L

    audio = _tone([0.2], 0.8)
    feats = analyse(audio)
    cue = np.zeros(feats.frames)
    cue[40] = 0.8
    monkeypatch.setattr(L, "closure_cues", lambda f: cue)
    track = L.lip_track([Phone("n", 0.0, 0.8)], feats)
    assert track.lips_press.max() > 0.5


def test_small_vowels_open_relatively_more_than_the_table() -> None:
    """The opening's range is compressed (open_power < 1): a close vowel (ih) keeps a larger
    share of an open one's (aa) opening than the same model with a linear range gives it, as
    people's lips part on most syllables and seldom open wide; the order is kept."""
    from dataclasses import replace

    from talkcli.audio.features import analyse
    from talkcli.audio.phones import Phone
    from talkcli.motion.lips import LIP_PARAMS, lip_track

    audio = np.concatenate([np.zeros(3200, np.float32), _tone([0.1], 1.2),
                            np.zeros(3200, np.float32)])
    feats = analyse(audio)
    vad = np.zeros(feats.frames, bool)
    vad[20:140] = True
    feats = replace(feats, vad=vad)
    phones = [Phone("sil", 0.0, 0.2), Phone("ih", 0.2, 0.8), Phone("aa", 0.8, 1.4),
              Phone("sil", 1.4, 1.6)]

    def ratio(params) -> float:  # noqa: ANN001
        jaw = lip_track(phones, feats, 1.0, params).jaw_open
        small = float(jaw[40:70].mean())    # 0.4-0.7 s (led by 40 ms)
        wide = float(jaw[100:130].mean())   # 1.0-1.3 s
        assert 0.0 < small < wide
        return small / wide

    assert LIP_PARAMS.open_power < 1.0
    linear = replace(LIP_PARAMS, open_power=1.0, open_scale=1.0)
    assert ratio(LIP_PARAMS) > ratio(linear) + 0.04
