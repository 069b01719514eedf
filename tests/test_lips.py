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
