"""Audio input: formats, rates, channels, bit depths -> 16 kHz mono float32; bad inputs."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from talkcli.audio.io import iter_audio, load_audio, probe_duration
from talkcli.errors import InvalidInputError
from talkcli.timing import SAMPLE_RATE
from talkcli.video.ffmpeg_bin import ffmpeg_exe


def _tone(sr: int, seconds: float = 1.0, channels: int = 1) -> np.ndarray:
    t = np.arange(int(sr * seconds)) / sr
    x = 0.5 * np.sin(2 * np.pi * 220 * t)
    return np.stack([x] * channels, axis=1) if channels > 1 else x


def _ffmpeg(*args: str) -> None:
    subprocess.run([ffmpeg_exe(), "-nostdin", "-v", "error", "-y", *args], check=True,
                   capture_output=True)


@pytest.fixture(scope="module")
def wav44(tmp_path_factory: pytest.TempPathFactory) -> Path:
    p = tmp_path_factory.mktemp("audio") / "tone44.wav"
    sf.write(p, _tone(44100, 1.0, 2), 44100, subtype="PCM_16")
    return p


def _check(x: np.ndarray, seconds: float = 1.0, tol: float = 0.06) -> None:
    assert x.dtype == np.float32 and x.ndim == 1
    assert abs(x.shape[0] / SAMPLE_RATE - seconds) < tol
    assert 0.3 < float(np.abs(x).max()) <= 1.0


def test_wav_16k_mono(tmp_path: Path) -> None:
    p = tmp_path / "a.wav"
    sf.write(p, _tone(16000), 16000)
    x = load_audio(p)
    _check(x)
    assert x.shape[0] == 16000


def test_stereo_44k(wav44: Path) -> None:
    _check(load_audio(wav44))
    assert abs(probe_duration(wav44) - 1.0) < 1e-6


def test_8bit_and_float(tmp_path: Path) -> None:
    p8 = tmp_path / "u8.wav"
    sf.write(p8, _tone(8000), 8000, subtype="PCM_U8")
    _check(load_audio(p8))
    pf = tmp_path / "f.wav"
    sf.write(pf, _tone(22050, 1.0, 3).astype(np.float32), 22050, subtype="FLOAT")
    _check(load_audio(pf))


def test_flac_ogg(tmp_path: Path) -> None:
    for ext in ("flac", "ogg"):
        p = tmp_path / f"a.{ext}"
        sf.write(p, _tone(48000, 1.0, 2), 48000)
        _check(load_audio(p))


@pytest.mark.parametrize("ext, codec", [("mp3", "libmp3lame"), ("m4a", "aac"),
                                        ("opus", "libopus")])
def test_compressed_via_ffmpeg(tmp_path: Path, wav44: Path, ext: str, codec: str) -> None:
    out = tmp_path / f"a.{ext}"
    try:
        _ffmpeg("-i", str(wav44), "-c:a", codec, str(out))
    except subprocess.CalledProcessError:
        pytest.skip(f"this ffmpeg cannot encode {codec}")
    _check(load_audio(out), tol=0.1)
    assert abs(probe_duration(out) - 1.0) < 0.1


def test_video_audio_track(tmp_path: Path, wav44: Path) -> None:
    out = tmp_path / "v.mp4"
    _ffmpeg("-f", "lavfi", "-i", "color=c=black:s=64x64:d=1", "-i", str(wav44),
            "-shortest", "-c:v", "mpeg4", "-c:a", "aac", str(out))
    _check(load_audio(out), tol=0.15)


def test_blocks_bounded(wav44: Path) -> None:
    blocks = list(iter_audio(wav44, block_seconds=0.25))
    assert len(blocks) >= 3
    assert max(b.shape[0] for b in blocks) <= 0.3 * SAMPLE_RATE
    assert np.allclose(np.concatenate(blocks), load_audio(wav44), atol=1e-6)


def test_silence_is_valid(tmp_path: Path) -> None:
    p = tmp_path / "s.wav"
    sf.write(p, np.zeros(8000), 16000)
    x = load_audio(p)
    assert x.shape[0] == 8000 and not x.any()


# -- bad inputs: every one is InvalidInputError (exit 3) ---------------------------------

def test_missing(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="not found"):
        load_audio(tmp_path / "nope.wav")


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="directory"):
        load_audio(tmp_path)


def test_empty_file(tmp_path: Path) -> None:
    p = tmp_path / "e.wav"
    p.write_bytes(b"")
    with pytest.raises(InvalidInputError, match="empty"):
        load_audio(p)


def test_text_renamed(tmp_path: Path) -> None:
    p = tmp_path / "t.wav"
    p.write_text("this is not audio at all\n" * 20)
    with pytest.raises(InvalidInputError):
        load_audio(p)


def test_truncated_header(tmp_path: Path, wav44: Path) -> None:
    p = tmp_path / "trunc.wav"
    p.write_bytes(wav44.read_bytes()[:30])
    with pytest.raises(InvalidInputError):
        load_audio(p)


def test_zero_length_wav(tmp_path: Path) -> None:
    p = tmp_path / "zero.wav"
    sf.write(p, np.zeros(0), 16000)
    with pytest.raises(InvalidInputError, match="zero length|no samples"):
        load_audio(p)


def test_truncated_data_still_reads(tmp_path: Path, wav44: Path) -> None:
    """A WAV cut mid-data keeps what is there (as players do)."""
    p = tmp_path / "half.wav"
    data = wav44.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    x = load_audio(p)
    assert 0.3 < x.shape[0] / SAMPLE_RATE < 0.7


def test_video_without_audio(tmp_path: Path) -> None:
    out = tmp_path / "silent.mp4"
    _ffmpeg("-f", "lavfi", "-i", "color=c=black:s=64x64:d=1", "-c:v", "mpeg4", str(out))
    with pytest.raises(InvalidInputError, match="no audio stream"):
        load_audio(out)


def test_corrupt_mp3(tmp_path: Path) -> None:
    p = tmp_path / "bad.mp3"
    p.write_bytes(b"ID3" + bytes(range(256)) * 8)
    with pytest.raises(InvalidInputError):
        load_audio(p)
